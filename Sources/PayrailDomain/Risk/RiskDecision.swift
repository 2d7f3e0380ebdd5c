/// The risk engine's answer for one payment: what to do, the model's score, and why.
public struct RiskDecision: Sendable, Equatable, Hashable {
    public let action: RiskAction
    public let score: Double
    /// Reasons of the rules that fired, then of the threshold or list that applied, in order.
    public let reasons: [String]
    public let modelVersion: String

    public init(action: RiskAction, score: Double, reasons: [String], modelVersion: String) {
        self.action = action
        self.score = score
        self.reasons = reasons
        self.modelVersion = modelVersion
    }
}

/// Per-merchant lists the merchant manages through the API.
public struct RiskListMatch: Sendable, Equatable {
    /// An entry of the blocklist matched (e.g. "device").
    public var blocked: [String] = []
    /// An entry of the allowlist matched.
    public var allowed: [String] = []
    public init(blocked: [String] = [], allowed: [String] = []) {
        self.blocked = blocked
        self.allowed = allowed
    }
}

/// Rules + model + lists → decision. Pure: the core gathers the signals and list matches.
public enum RiskEngine {
    /// A blocklist match blocks; otherwise an allowlist match allows (rules and score are still
    /// recorded); otherwise the strongest of the rules that fire and the score thresholds.
    public static func decide(_ signals: RiskSignals, policy: RiskPolicy, model: RiskModel, lists: RiskListMatch = RiskListMatch()) -> RiskDecision {
        // Six decimals are plenty for a probability, and keep long digit runs out of logs and
        // stored text (where a PAN scanner would rightly object to 16 random digits).
        let score = (model.score(signals) * 1_000_000).rounded() / 1_000_000
        var action = RiskAction.allow
        var reasons: [String] = []
        for rule in policy.rules where rule.fires(signals) {
            reasons.append(rule.reason)
            action = max(action, rule.action)
        }
        let thresholds = policy.thresholds
        if score >= thresholds.block {
            reasons.append("model_score_block")
            action = max(action, .block)
        } else if score >= thresholds.requireThreeDS {
            reasons.append("model_score_3ds")
            action = max(action, .requireThreeDS)
        } else if score >= thresholds.review {
            reasons.append("model_score_review")
            action = max(action, .review)
        }
        if !lists.blocked.isEmpty {
            reasons.append(contentsOf: lists.blocked.map { "blocklisted_\($0)" })
            action = .block
        } else if !lists.allowed.isEmpty {
            reasons.append(contentsOf: lists.allowed.map { "allowlisted_\($0)" })
            action = .allow
        }
        return RiskDecision(action: action, score: score, reasons: reasons, modelVersion: model.version)
    }
}
