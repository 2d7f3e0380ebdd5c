import PayrailDomain
import Yams

/// The processors a core runs and how payments are routed between them, read from a routing
/// file (YAML, `payrail core --routing FILE`) or the shipped default. A bad file is refused
/// with the place and the reason.
///
/// ```yaml
/// version: 1
/// connectors:
///   - name: acquirer-a                  # lowercase letters, digits, dashes
///     type: card_simulator              # the simulated card network (no outside network here)
///     latency_ms: { min: 2, max: 6, tail_per_mille: 10 }   # the tail: 5x slower
///     timeout_ms: 1000
///     faults_per_mille: { unavailable: 0, request_lost: 0, response_lost: 0 }
/// retry: { attempts_per_connector: 3, backoff_base_ms: 20, backoff_max_ms: 250 }
/// routes:                               # first match wins; the last must match everything
///   - id: europe
///     currencies: [EUR, GBP]            # also: methods, regions, brands
///     connectors: [acquirer-b, acquirer-a]
///   - id: default
///     connectors: [acquirer-a, acquirer-b]
/// ```
public struct RoutingConfiguration: Sendable {
    /// A processor to run. Only the simulated card network exists here; a real acquirer would
    /// be another `type` with its credentials.
    public struct ConnectorSpec: Sendable {
        public var name: String
        public var type: String
        public var network: CardNetworkSimulatorSettings
        /// The simulated processors: card networks, bank debit rails, a BNPL provider.
        public static let types = ["card_simulator", "bank_debit_simulator", "bnpl_simulator", "redirect_wallet_simulator"]
        public init(name: String, type: String = "card_simulator", network: CardNetworkSimulatorSettings = .init()) {
            self.name = name
            self.type = type
            self.network = network
        }
    }

    /// The simulator's knobs, as the file sets them.
    public struct CardNetworkSimulatorSettings: Sendable, Hashable {
        public var latencyMinMs = 2
        public var latencyMaxMs = 6
        /// Share of calls (per mille) that take five times longer: the network's slow tail.
        public var tailPerMille = 10
        public var timeoutMs = 1_000
        public var unavailablePerMille = 0
        public var requestLossPerMille = 0
        public var responseLossPerMille = 0
        public init() {}
    }

    public struct Failure: Error, CustomStringConvertible, Equatable {
        public let reason: String
        public var description: String { "routing configuration refused: \(reason)" }
    }

    public var connectors: [ConnectorSpec]
    public var table: RoutingTable
    public var retry: ConnectorRetryPolicy

    public init(connectors: [ConnectorSpec], table: RoutingTable, retry: ConnectorRetryPolicy) {
        self.connectors = connectors
        self.table = table
        self.retry = retry
    }

    /// Two independent acquirers for every card brand and the wallets; European currencies
    /// prefer acquirer-b, everything else acquirer-a, each failing over to the other. Bank
    /// debits go to the bank rails, BNPL plans to the BNPL provider.
    public static let defaultText = """
        version: 1
        connectors:
          - name: acquirer-a
            type: card_simulator
          - name: acquirer-b
            type: card_simulator
          - name: bank-debits
            type: bank_debit_simulator
          - name: paylater
            type: bnpl_simulator
          - name: paypal
            type: redirect_wallet_simulator
        retry: { attempts_per_connector: 3, backoff_base_ms: 20, backoff_max_ms: 250 }
        routes:
          - id: bank-debits
            methods: [ach_debit, sepa_debit, upi]
            connectors: [bank-debits]
          - id: bnpl
            methods: [bnpl]
            connectors: [paylater]
          - id: paypal
            methods: [paypal]
            connectors: [paypal]
          - id: europe
            methods: [card, apple_pay, google_pay]
            currencies: [EUR, GBP, CHF, SEK, NOK, DKK, PLN]
            connectors: [acquirer-b, acquirer-a]
          - id: default
            connectors: [acquirer-a, acquirer-b]
        """

    public static let `default`: RoutingConfiguration = {
        do { return try parse(defaultText) } catch { preconditionFailure("the shipped routing configuration does not parse: \(error)") }
    }()

    public static func parse(_ text: String) throws(Failure) -> RoutingConfiguration {
        let root: Any?
        do { root = try Yams.load(yaml: text) } catch { throw Failure(reason: "not YAML: \(error)") }
        guard let top = root as? [String: Any] else { throw Failure(reason: "the file must be a mapping") }
        try onlyKeys(top, ["version", "connectors", "retry", "routes"], in: "the file")
        guard (top["version"] as? Int) == 1 else { throw Failure(reason: "version must be 1") }

        guard let connectorItems = top["connectors"] as? [Any], !connectorItems.isEmpty else {
            throw Failure(reason: "connectors must list at least one connector")
        }
        var specs: [ConnectorSpec] = []
        for (index, item) in connectorItems.enumerated() {
            let place = "connectors[\(index)]"
            guard let map = item as? [String: Any] else { throw Failure(reason: "\(place) must be a mapping") }
            try onlyKeys(map, ["name", "type", "latency_ms", "timeout_ms", "faults_per_mille"], in: place)
            guard let name = map["name"] as? String, isConnectorName(name) else {
                throw Failure(reason: "\(place).name must be lowercase letters, digits and dashes (1 to 40)")
            }
            guard !specs.contains(where: { $0.name == name }) else { throw Failure(reason: "connector \(name) is listed twice") }
            guard let type = map["type"] as? String, ConnectorSpec.types.contains(type) else {
                throw Failure(reason: "connector \(name): type must be one of \(ConnectorSpec.types.joined(separator: ", ")) (the processors this build can reach)")
            }
            var settings = CardNetworkSimulatorSettings()
            if let latency = map["latency_ms"] {
                guard let latency = latency as? [String: Any] else { throw Failure(reason: "connector \(name): latency_ms must be a mapping") }
                try onlyKeys(latency, ["min", "max", "tail_per_mille"], in: "connector \(name) latency_ms")
                settings.latencyMinMs = try int(latency["min"], "connector \(name): latency_ms.min", 0...60_000) ?? settings.latencyMinMs
                settings.latencyMaxMs = try int(latency["max"], "connector \(name): latency_ms.max", 0...60_000) ?? settings.latencyMaxMs
                settings.tailPerMille = try int(latency["tail_per_mille"], "connector \(name): latency_ms.tail_per_mille", 0...1000) ?? settings.tailPerMille
                guard settings.latencyMinMs <= settings.latencyMaxMs else { throw Failure(reason: "connector \(name): latency_ms.min > max") }
            }
            settings.timeoutMs = try int(map["timeout_ms"], "connector \(name): timeout_ms", 1...60_000) ?? settings.timeoutMs
            if let faults = map["faults_per_mille"] {
                guard let faults = faults as? [String: Any] else { throw Failure(reason: "connector \(name): faults_per_mille must be a mapping") }
                try onlyKeys(faults, ["unavailable", "request_lost", "response_lost"], in: "connector \(name) faults_per_mille")
                settings.unavailablePerMille = try int(faults["unavailable"], "connector \(name): unavailable", 0...1000) ?? 0
                settings.requestLossPerMille = try int(faults["request_lost"], "connector \(name): request_lost", 0...1000) ?? 0
                settings.responseLossPerMille = try int(faults["response_lost"], "connector \(name): response_lost", 0...1000) ?? 0
                guard settings.unavailablePerMille + settings.requestLossPerMille + settings.responseLossPerMille <= 1000 else {
                    throw Failure(reason: "connector \(name): faults add up to more than 1000 per mille")
                }
            }
            specs.append(ConnectorSpec(name: name, type: type, network: settings))
        }

        var retry = ConnectorRetryPolicy()
        if let retryItem = top["retry"] {
            guard let map = retryItem as? [String: Any] else { throw Failure(reason: "retry must be a mapping") }
            try onlyKeys(map, ["attempts_per_connector", "backoff_base_ms", "backoff_max_ms"], in: "retry")
            let attempts = try int(map["attempts_per_connector"], "retry.attempts_per_connector", 1...10) ?? retry.attemptsPerConnector
            let base = try int(map["backoff_base_ms"], "retry.backoff_base_ms", 0...10_000) ?? retry.backoffBaseMs
            let maximum = try int(map["backoff_max_ms"], "retry.backoff_max_ms", 0...60_000) ?? retry.backoffMaxMs
            guard base <= maximum else { throw Failure(reason: "retry.backoff_base_ms must not exceed backoff_max_ms") }
            retry = ConnectorRetryPolicy(attemptsPerConnector: attempts, backoffBaseMs: base, backoffMaxMs: maximum)
        }

        guard let routeItems = top["routes"] as? [Any], !routeItems.isEmpty else { throw Failure(reason: "routes must list at least one route") }
        var routes: [RoutingTable.Route] = []
        for (index, item) in routeItems.enumerated() {
            guard let map = item as? [String: Any] else { throw Failure(reason: "routes[\(index)] must be a mapping") }
            guard let id = map["id"] as? String, !id.isEmpty else { throw Failure(reason: "routes[\(index)] needs an id") }
            guard !routes.contains(where: { $0.id == id }) else { throw Failure(reason: "route id \(id) is used twice") }
            try onlyKeys(map, ["id", "methods", "currencies", "regions", "brands", "connectors"], in: "route \(id)")
            let methods = try strings(map["methods"], "route \(id): methods")
            for method in methods where !PaymentMethodDetails.kinds.contains(method) {
                throw Failure(reason: "route \(id): unknown method \(method) (\(PaymentMethodDetails.kinds.joined(separator: ", ")))")
            }
            var currencies = Set<Currency>()
            for code in try strings(map["currencies"], "route \(id): currencies") {
                guard let currency = Currency(code: code) else { throw Failure(reason: "route \(id): unknown currency \(code)") }
                currencies.insert(currency)
            }
            var brands = Set<CardBrand>()
            for name in try strings(map["brands"], "route \(id): brands") {
                guard let brand = CardBrand(rawValue: name), brand != .unknown else { throw Failure(reason: "route \(id): unknown brand \(name)") }
                brands.insert(brand)
            }
            let regions = try strings(map["regions"], "route \(id): regions")
            let connectors = try strings(map["connectors"], "route \(id): connectors")
            guard !connectors.isEmpty else { throw Failure(reason: "route \(id): connectors must list at least one") }
            guard Set(connectors).count == connectors.count else { throw Failure(reason: "route \(id): a connector is listed twice") }
            for name in connectors where !specs.contains(where: { $0.name == name }) {
                throw Failure(reason: "route \(id): connector \(name) is not defined under connectors")
            }
            routes.append(RoutingTable.Route(id: id, methods: Set(methods), currencies: currencies, regions: Set(regions),
                                             brands: brands, connectors: connectors))
        }
        guard let last = routes.last, last.methods.isEmpty, last.currencies.isEmpty, last.regions.isEmpty, last.brands.isEmpty else {
            throw Failure(reason: "the last route must match every payment (no conditions), so none is left without a processor")
        }
        return RoutingConfiguration(connectors: specs, table: RoutingTable(routes: routes), retry: retry)
    }

    private static func isConnectorName(_ name: String) -> Bool {
        (1...40).contains(name.utf8.count)
            && name.utf8.allSatisfy { ($0 >= 97 && $0 <= 122) || ($0 >= 48 && $0 <= 57) || $0 == 45 }
    }

    private static func onlyKeys(_ map: [String: Any], _ allowed: Set<String>, in place: String) throws(Failure) {
        for key in map.keys.sorted() where !allowed.contains(key) { throw Failure(reason: "\(place): unknown key \"\(key)\"") }
    }

    private static func int(_ value: Any?, _ place: String, _ range: ClosedRange<Int>) throws(Failure) -> Int? {
        guard let value else { return nil }
        guard let number = value as? Int, range.contains(number) else {
            throw Failure(reason: "\(place) must be a whole number from \(range.lowerBound) to \(range.upperBound)")
        }
        return number
    }

    private static func strings(_ value: Any?, _ place: String) throws(Failure) -> [String] {
        guard let value else { return [] }
        guard let list = value as? [Any] else { throw Failure(reason: "\(place) must be a list") }
        return try list.map { item throws(Failure) -> String in
            guard let text = item as? String, !text.isEmpty else { throw Failure(reason: "\(place) must list names") }
            return text
        }
    }
}
