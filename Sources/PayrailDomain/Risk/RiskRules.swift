/// What the risk engine does with a payment, weakest first: the strongest action of any rule
/// or threshold wins.
public enum RiskAction: String, Sendable, CaseIterable, Comparable {
    case allow
    /// Authorized, then held until a person approves (captured) or rejects (voided) it.
    case review
    /// The cardholder must pass 3-D Secure before the authorization.
    case requireThreeDS = "require_3ds"
    /// Declined before any processor sees it (`fraud_suspected`).
    case block

    var severity: Int {
        switch self {
        case .allow: 0
        case .review: 1
        case .requireThreeDS: 2
        case .block: 3
        }
    }

    public static func < (a: RiskAction, b: RiskAction) -> Bool { a.severity < b.severity }
}

/// One rule of the rules file: all conditions must hold; then `action`, with `reason` recorded
/// on the payment.
public struct RiskRule: Sendable, Equatable {
    public struct Condition: Sendable, Equatable {
        public enum Comparison: String, Sendable, CaseIterable {
            case greaterThan = ">", atLeast = ">=", lessThan = "<", atMost = "<=", equal = "==", notEqual = "!="
        }
        public let signal: RiskSignals.Name
        public let comparison: Comparison
        public let value: Double

        public init(signal: RiskSignals.Name, comparison: Comparison, value: Double) {
            self.signal = signal
            self.comparison = comparison
            self.value = value
        }

        public func holds(_ signals: RiskSignals) -> Bool {
            let actual = signals[signal]
            switch comparison {
            case .greaterThan: return actual > value
            case .atLeast: return actual >= value
            case .lessThan: return actual < value
            case .atMost: return actual <= value
            case .equal: return actual == value
            case .notEqual: return actual != value
            }
        }
    }

    public let id: String
    public let conditions: [Condition]
    public let action: RiskAction
    /// Machine-readable, e.g. `card_testing_ip`.
    public let reason: String

    public init(id: String, conditions: [Condition], action: RiskAction, reason: String) {
        precondition(!conditions.isEmpty, "a rule has at least one condition")
        self.id = id
        self.conditions = conditions
        self.action = action
        self.reason = reason
    }

    public func fires(_ signals: RiskSignals) -> Bool { conditions.allSatisfy { $0.holds(signals) } }
}

/// Score thresholds: a score at or above one triggers its action.
public struct RiskThresholds: Sendable, Equatable {
    public var review: Double
    public var requireThreeDS: Double
    public var block: Double

    public init(review: Double, requireThreeDS: Double, block: Double) {
        precondition(0 <= review && review <= 1 && 0 <= requireThreeDS && requireThreeDS <= 1 && 0 <= block && block <= 1,
                     "thresholds are probabilities")
        self.review = review
        self.requireThreeDS = requireThreeDS
        self.block = block
    }
}

/// The rules file, parsed: rules in order and the score thresholds.
public struct RiskPolicy: Sendable, Equatable {
    public let rules: [RiskRule]
    public let thresholds: RiskThresholds

    public init(rules: [RiskRule], thresholds: RiskThresholds) {
        self.rules = rules
        self.thresholds = thresholds
    }
}
