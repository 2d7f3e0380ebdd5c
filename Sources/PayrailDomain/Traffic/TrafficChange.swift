/// One audited change of the traffic plan: who made it, when, why, what they asked for, and
/// the plan it produced. The log of changes is append-only; the newest is the live plan.
public struct TrafficChange: Hashable, Sendable {
    /// What the operator asked for.
    public enum Action: Hashable, Sendable, CustomStringConvertible {
        case initialize(regions: [String])
        case shift(from: String, to: String, percent: Int)
        case drain(region: String)
        case restore(region: String?)

        public var description: String {
            switch self {
            case .initialize(let regions): "initialize \(regions.joined(separator: ","))"
            case .shift(let from, let to, let percent): "shift \(percent)% \(from) -> \(to)"
            case .drain(let region): "drain \(region)"
            case .restore(let region): "restore \(region ?? "all")"
            }
        }
    }

    public let plan: TrafficPlan
    public let action: Action
    /// Who asked (an operator name, from the admin call).
    public let actor: String
    public let reason: String
    public let atMs: Int64

    public init(plan: TrafficPlan, action: Action, actor: String, reason: String, atMs: Int64) {
        self.plan = plan
        self.action = action
        self.actor = actor
        self.reason = reason
        self.atMs = atMs
    }

    /// Applies `action` to `plan` (the live one) and records who and why. Actor and reason are
    /// required: an unexplained change to where money flows is not accepted.
    public static func make(_ action: Action, on plan: TrafficPlan, actor: String, reason: String, atMs: Int64) throws -> TrafficChange {
        guard !actor.isEmpty, actor.utf8.count <= 128 else {
            throw PayrailError(.trafficChangeInvalid, "actor must be 1-128 bytes", field: "actor")
        }
        guard !reason.isEmpty, reason.utf8.count <= 1_000 else {
            throw PayrailError(.trafficChangeInvalid, "reason must be 1-1000 bytes", field: "reason")
        }
        let next: TrafficPlan
        switch action {
        case .initialize: throw PayrailError(.trafficChangeInvalid, "the plan is initialized by the core, not changed to")
        case .shift(let from, let to, let percent): next = try plan.shifting(from: from, to: to, percent: percent)
        case .drain(let region): next = try plan.draining(region)
        case .restore(let region): next = try plan.restoring(region)
        }
        return TrafficChange(plan: next, action: action, actor: actor, reason: reason, atMs: atMs)
    }
}

extension TrafficPlan {
    /// The plan as one line of text for storage: `name=weight/baseline/drained;...`.
    public var encoded: String {
        regions.map { "\($0.name)=\($0.weight)/\($0.baseline)/\($0.drained ? 1 : 0)" }.joined(separator: ";")
    }

    /// Reads ``encoded`` back; nil if it is malformed or breaks an invariant.
    public init?(version: Int64, encoded: String) {
        var regions: [Region] = []
        for part in encoded.split(separator: ";") {
            let pair = part.split(separator: "=", maxSplits: 1)
            guard pair.count == 2 else { return nil }
            let numbers = pair[1].split(separator: "/").compactMap { Int($0) }
            guard numbers.count == 3, numbers[2] == 0 || numbers[2] == 1 else { return nil }
            regions.append(Region(name: String(pair[0]), weight: numbers[0], baseline: numbers[1], drained: numbers[2] == 1))
        }
        guard let plan = try? TrafficPlan(version: version, regions: regions) else { return nil }
        self = plan
    }
}

extension TrafficChange.Action {
    /// The action as stored: `kind` plus its arguments.
    public var stored: (kind: String, arguments: String) {
        switch self {
        case .initialize(let regions): ("initialize", regions.joined(separator: ","))
        case .shift(let from, let to, let percent): ("shift", "\(from),\(to),\(percent)")
        case .drain(let region): ("drain", region)
        case .restore(let region): ("restore", region ?? "")
        }
    }

    public init?(kind: String, arguments: String) {
        let parts = arguments.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        switch kind {
        case "initialize": self = .initialize(regions: parts)
        case "shift":
            guard parts.count == 3, let percent = Int(parts[2]) else { return nil }
            self = .shift(from: parts[0], to: parts[1], percent: percent)
        case "drain": self = .drain(region: arguments)
        case "restore": self = .restore(region: arguments.isEmpty ? nil : arguments)
        default: return nil
        }
    }
}
