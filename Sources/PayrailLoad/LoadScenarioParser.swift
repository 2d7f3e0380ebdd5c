import Yams

/// Reads a scenario from YAML:
///
/// ```yaml
/// name: card-payments
/// mode: open            # or closed
/// rate: 2000            # open loop: requests per second
/// concurrency: 64       # closed loop: in flight; open loop: most in flight
/// duration_seconds: 60
/// operations_max: 100000  # optional: stop after this many operations
/// warmup_seconds: 5
/// connections: 8
/// targets:              # or region_map: 127.0.0.1:50051
///   - address: 127.0.0.1:50051
///     weight: 1
/// ca: .payrail/tls/ca.pem
/// operations: {create_auto_capture: 70, create_then_capture: 10, refund: 5, get: 13, idempotent_retry: 2}
/// currencies: {USD: 60, EUR: 25, JPY: 10, KWD: 5}
/// cards: {approve: 90, decline: 7, three_ds: 3}
/// amount_minor: [100, 50000]
/// ```
public enum LoadScenarioParser {
    public static func parse(_ text: String) throws -> LoadScenario {
        let loaded: Any?
        do { loaded = try Yams.load(yaml: text) } catch { throw LoadScenarioError.unreadable("not valid YAML: \(error)") }
        guard let root = loaded as? [String: Any] else { throw LoadScenarioError.unreadable("the top level must be a mapping") }
        let known: Set = ["name", "mode", "rate", "concurrency", "duration_seconds", "warmup_seconds", "operations_max", "connections", "targets",
                          "region_map", "ca", "operations", "currencies", "cards", "amount_minor", "echo_payload_bytes", "seed"]
        if let unknown = root.keys.sorted().first(where: { !known.contains($0) }) { throw LoadScenarioError.invalid(unknown, "unknown field") }
        var scenario = LoadScenario()
        if let name = root["name"] { scenario.name = try string(name, "name") }
        let rate = try root["rate"].map { try int($0, "rate") }
        switch try root["mode"].map({ try string($0, "mode") }) ?? (rate == nil ? "closed" : "open") {
        case "open":
            guard let rate else { throw LoadScenarioError.invalid("rate", "open mode needs a rate (requests per second)") }
            scenario.mode = .open(ratePerSecond: rate)
        case "closed": scenario.mode = .closed
        default: throw LoadScenarioError.invalid("mode", "open or closed")
        }
        if let value = root["concurrency"] { scenario.concurrency = try int(value, "concurrency") }
        if let value = root["duration_seconds"] { scenario.durationSeconds = try int(value, "duration_seconds") }
        if let value = root["warmup_seconds"] { scenario.warmupSeconds = try int(value, "warmup_seconds") }
        if let value = root["operations_max"] { scenario.maxOperations = try int(value, "operations_max") }
        if let value = root["connections"] { scenario.connections = try int(value, "connections") }
        if let value = root["ca"] { scenario.caPath = try string(value, "ca") }
        if let value = root["seed"] { scenario.seed = UInt64(max(0, try int(value, "seed"))) }
        if let value = root["echo_payload_bytes"] { scenario.echoPayloadBytes = try int(value, "echo_payload_bytes") }
        if let value = root["region_map"] { scenario.regionMap = try target(try string(value, "region_map"), weight: 1, "region_map") }
        if let value = root["targets"] {
            guard let list = value as? [Any] else { throw LoadScenarioError.invalid("targets", "a list of {address, weight}") }
            scenario.targets = try list.enumerated().map { index, item throws in
                let field = "targets[\(index)]"
                if let address = item as? String { return try target(address, weight: 1, field) }
                guard let entry = item as? [String: Any], let address = entry["address"] else { throw LoadScenarioError.invalid(field, "needs an address") }
                return try target(try string(address, field + ".address"), weight: try entry["weight"].map { try int($0, field + ".weight") } ?? 1, field)
            }
        }
        if let value = root["operations"] {
            scenario.operations = try weights(value, "operations") { name throws in
                guard let operation = LoadScenario.Operation(rawValue: name) else {
                    throw LoadScenarioError.invalid("operations.\(name)", "unknown; one of \(LoadScenario.Operation.allCases.map(\.rawValue).joined(separator: ", "))")
                }
                return operation
            }
        }
        if let value = root["currencies"] { scenario.currencies = try weights(value, "currencies") { $0 } }
        if let value = root["cards"] {
            scenario.cards = try weights(value, "cards") { name throws in
                guard let outcome = LoadScenario.CardOutcome(rawValue: name) else {
                    throw LoadScenarioError.invalid("cards.\(name)", "unknown; one of \(LoadScenario.CardOutcome.allCases.map(\.rawValue).joined(separator: ", "))")
                }
                return outcome
            }
        }
        if let value = root["amount_minor"] {
            guard let pair = value as? [Any], pair.count == 2 else { throw LoadScenarioError.invalid("amount_minor", "[lowest, highest]") }
            let low = Int64(try int(pair[0], "amount_minor")), high = Int64(try int(pair[1], "amount_minor"))
            guard low <= high else { throw LoadScenarioError.invalid("amount_minor", "lowest must not exceed highest") }
            scenario.amountMinor = low...high
        }
        try scenario.validate(requireTargets: false)
        return scenario
    }

    /// `host:port`.
    public static func target(_ address: String, weight: Int, _ field: String) throws -> LoadScenario.Target {
        let parts = address.split(separator: ":")
        guard parts.count == 2, let port = Int(parts[1]), !parts[0].isEmpty else { throw LoadScenarioError.invalid(field, "address must be host:port") }
        return LoadScenario.Target(host: String(parts[0]), port: port, weight: weight)
    }

    private static func string(_ value: Any, _ field: String) throws -> String {
        if let text = value as? String { return text }
        throw LoadScenarioError.invalid(field, "must be text")
    }

    private static func int(_ value: Any, _ field: String) throws -> Int {
        if let number = value as? Int { return number }
        throw LoadScenarioError.invalid(field, "must be a whole number")
    }

    private static func weights<Key>(_ value: Any, _ field: String, _ key: (String) throws -> Key) throws -> [(Key, Int)] {
        guard let mapping = value as? [String: Any] else { throw LoadScenarioError.invalid(field, "a mapping of name: weight") }
        return try mapping.keys.sorted().map { name throws in (try key(name), try int(mapping[name]!, "\(field).\(name)")) }
    }
}
