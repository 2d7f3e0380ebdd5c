import PayrailDomain
import Yams

/// Reads a fraud rules file (YAML): score thresholds and rules whose conditions compare a
/// signal with a number. A bad file is refused with the rule and the reason; the policy in force
/// stays (see ``RiskService/setPolicy(_:)``).
///
/// ```yaml
/// version: 1
/// thresholds: { review: 0.5, require_3ds: 0.8, block: 0.95 }
/// rules:
///   - id: card-testing-ip
///     when: ["ip_distinct_cards_1h >= 5"]     # all must hold
///     action: block                            # allow | review | require_3ds | block
///     reason: card_testing_ip
/// ```
public enum RiskPolicyParser {
    public struct Failure: Error, CustomStringConvertible, Equatable {
        public let reason: String
        public var description: String { "fraud rules refused: \(reason)" }
    }

    public static func parse(_ text: String) throws(Failure) -> RiskPolicy {
        let root: Any?
        do { root = try Yams.load(yaml: text) } catch { throw Failure(reason: "not YAML: \(error)") }
        guard let top = root as? [String: Any] else { throw Failure(reason: "the file must be a mapping") }
        for key in top.keys where !["version", "thresholds", "rules"].contains(key) { throw Failure(reason: "unknown key \"\(key)\"") }
        guard (top["version"] as? Int) == 1 else { throw Failure(reason: "version must be 1") }
        guard let thresholds = top["thresholds"] as? [String: Any] else { throw Failure(reason: "thresholds are required") }
        func probability(_ key: String) throws(Failure) -> Double {
            let value = (thresholds[key] as? Double) ?? (thresholds[key] as? Int).map(Double.init)
            guard let value, (0...1).contains(value) else { throw Failure(reason: "thresholds.\(key) must be a number from 0 to 1") }
            return value
        }
        let parsedThresholds = RiskThresholds(review: try probability("review"), requireThreeDS: try probability("require_3ds"),
                                              block: try probability("block"))
        guard parsedThresholds.review <= parsedThresholds.requireThreeDS, parsedThresholds.requireThreeDS <= parsedThresholds.block else {
            throw Failure(reason: "thresholds must rise: review <= require_3ds <= block")
        }
        var rules: [RiskRule] = []
        var ids = Set<String>()
        for (index, item) in ((top["rules"] as? [Any]) ?? []).enumerated() {
            guard let rule = item as? [String: Any] else { throw Failure(reason: "rule \(index + 1) must be a mapping") }
            guard let id = rule["id"] as? String, !id.isEmpty else { throw Failure(reason: "rule \(index + 1) needs an id") }
            guard ids.insert(id).inserted else { throw Failure(reason: "rule id \(id) is used twice") }
            for key in rule.keys where !["id", "when", "action", "reason"].contains(key) {
                throw Failure(reason: "rule \(id): unknown key \"\(key)\"")
            }
            guard let actionName = rule["action"] as? String, let action = RiskAction(rawValue: actionName) else {
                throw Failure(reason: "rule \(id): action must be one of \(RiskAction.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            guard let reason = rule["reason"] as? String, !reason.isEmpty, reason.utf8.allSatisfy({ $0 == 95 || ($0 >= 97 && $0 <= 122) || ($0 >= 48 && $0 <= 57) }) else {
                throw Failure(reason: "rule \(id): reason must be snake_case")
            }
            guard let when = rule["when"] as? [String], !when.isEmpty else {
                throw Failure(reason: "rule \(id): when must list at least one condition")
            }
            var conditions: [RiskRule.Condition] = []
            for text in when {
                let parts = text.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
                guard parts.count == 3 else { throw Failure(reason: "rule \(id): condition \"\(text)\" must be: signal operator number") }
                guard let signal = RiskSignals.Name(rawValue: parts[0]) else {
                    throw Failure(reason: "rule \(id): unknown signal \"\(parts[0])\" (known: \(RiskSignals.Name.allCases.map(\.rawValue).joined(separator: ", ")))")
                }
                guard let comparison = RiskRule.Condition.Comparison(rawValue: parts[1]) else {
                    throw Failure(reason: "rule \(id): unknown operator \"\(parts[1])\"")
                }
                guard let value = Double(parts[2]) else { throw Failure(reason: "rule \(id): \"\(parts[2])\" is not a number") }
                conditions.append(.init(signal: signal, comparison: comparison, value: value))
            }
            rules.append(RiskRule(id: id, conditions: conditions, action: action, reason: reason))
        }
        return RiskPolicy(rules: rules, thresholds: parsedThresholds)
    }

    /// The rules Payrail ships with (docs/fraud.md explains each).
    public static let defaultRules = """
        version: 1
        thresholds: { review: 0.5, require_3ds: 0.8, block: 0.95 }
        rules:
          - id: card-testing-ip
            when: ["ip_distinct_cards_1h >= 5"]
            action: block
            reason: card_testing_ip
          - id: card-testing-declines
            when: ["ip_declines_1h >= 3", "first_seen_card == 1"]
            action: block
            reason: card_testing_declines
          - id: device-many-cards
            when: ["device_distinct_cards_24h >= 4"]
            action: require_3ds
            reason: device_many_cards
          - id: email-many-cards
            when: ["email_distinct_cards_24h >= 3"]
            action: require_3ds
            reason: email_many_cards
          - id: large-new-card-abroad
            when: ["amount_ratio >= 5", "first_seen_card == 1", "ip_country_mismatch == 1"]
            action: require_3ds
            reason: large_amount_new_card_abroad
          - id: foreign-ip-and-billing
            when: ["ip_country_mismatch == 1", "billing_country_mismatch == 1"]
            action: review
            reason: ip_and_billing_country_mismatch
        """

    public static let defaultPolicy: RiskPolicy = {
        do { return try parse(defaultRules) } catch { preconditionFailure("the shipped fraud rules do not parse: \(error)") }
    }()
}
