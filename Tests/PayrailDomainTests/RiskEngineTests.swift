import Foundation
import PayrailDomain
import Testing

/// The risk engine's pure parts: the model reproduces the training script's scores, rules and
/// thresholds pick the strongest action, lists override, the IP table answers.
@Suite struct RiskEngineTests {
    /// Swift inference = the training script's scores on its held-out set, to 1e-6.
    @Test func modelMatchesTheTrainingScriptOnTheHeldOutSet() throws {
        let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/fraud-holdout.csv").path
        let lines = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n")
        let header = lines[0].split(separator: ",").map(String.init)
        #expect(Array(header.prefix(RiskModel.featureCount)) == RiskModel.featureNames, "feature order as trained")
        var worst = 0.0
        var checked = 0
        for line in lines.dropFirst() {
            let fields = line.split(separator: ",").map { Double($0)! }
            let features = Array(fields.prefix(RiskModel.featureCount))
            let expected = fields[fields.count - 1]
            worst = max(worst, abs(RiskModel.trained.score(features: features) - expected))
            checked += 1
        }
        #expect(checked >= 500)
        #expect(worst < 1e-6, "largest difference \(worst)")
    }

    /// Features computed from signals are what the script computes from the same counts.
    @Test func featuresFromSignals() {
        var signals = RiskSignals()
        signals[.amountMinor] = 2_000
        signals[.amountRatio] = 4
        signals[.ipDistinctCards1h] = 9
        signals[.ipCountryMismatch] = 1
        signals[.firstSeenCard] = 1
        let features = RiskModel.features(signals)
        #expect(features[0] == log1p(2_000.0) && features[1] == log(4.0) && features[3] == log1p(9.0))
        #expect(features[7] == 1 && features[9] == 1 && features[8] == 0)
    }

    /// A payment without buyer signals (most integrations, every test) on a new card, at up to
    /// 20 times the merchant's usual amount, is allowed by the shipped model.
    @Test func plainPaymentsAreAllowedByTheShippedModel() {
        for ratio in [0.01, 1.0, 5.0, 20.0] {
            for amount in [50.0, 10_000.0, 5_000_000.0] {
                var signals = RiskSignals()
                signals[.amountMinor] = amount
                signals[.amountRatio] = ratio
                signals[.firstSeenCard] = 1
                let score = RiskModel.trained.score(signals)
                #expect(score < 0.5, "ratio \(ratio), amount \(amount): \(score)")
            }
        }
    }

    private let policy = RiskPolicy(rules: [
        RiskRule(id: "card-testing", conditions: [.init(signal: .ipDistinctCards1h, comparison: .atLeast, value: 5)],
                 action: .block, reason: "card_testing_ip"),
        RiskRule(id: "big-new-card", conditions: [.init(signal: .amountRatio, comparison: .greaterThan, value: 5),
                                                  .init(signal: .firstSeenCard, comparison: .equal, value: 1)],
                 action: .requireThreeDS, reason: "large_amount_new_card"),
        RiskRule(id: "foreign", conditions: [.init(signal: .ipCountryMismatch, comparison: .equal, value: 1)],
                 action: .review, reason: "ip_country_mismatch"),
    ], thresholds: RiskThresholds(review: 0.5, requireThreeDS: 0.8, block: 0.95))

    /// A model that always scores `p`.
    private func constantModel(_ p: Double) -> RiskModel {
        RiskModel(version: "test", bias: log(p / (1 - p)), weights: Array(repeating: 0, count: RiskModel.featureCount),
                  means: Array(repeating: 0, count: RiskModel.featureCount), scales: Array(repeating: 1, count: RiskModel.featureCount))
    }

    @Test func strongestActionWinsAndEveryReasonIsKept() {
        var signals = RiskSignals()
        signals[.amountRatio] = 1
        #expect(RiskEngine.decide(signals, policy: policy, model: constantModel(0.1)).action == .allow)
        signals[.ipCountryMismatch] = 1
        let review = RiskEngine.decide(signals, policy: policy, model: constantModel(0.1))
        #expect(review.action == .review && review.reasons == ["ip_country_mismatch"])
        signals[.amountRatio] = 8
        signals[.firstSeenCard] = 1
        let challenge = RiskEngine.decide(signals, policy: policy, model: constantModel(0.1))
        #expect(challenge.action == .requireThreeDS && challenge.reasons == ["large_amount_new_card", "ip_country_mismatch"])
        signals[.ipDistinctCards1h] = 6
        #expect(RiskEngine.decide(signals, policy: policy, model: constantModel(0.1)).action == .block)
    }

    @Test func scoreThresholds() {
        let signals = RiskSignals()
        #expect(RiskEngine.decide(signals, policy: policy, model: constantModel(0.6)).action == .review)
        #expect(RiskEngine.decide(signals, policy: policy, model: constantModel(0.85)).action == .requireThreeDS)
        let block = RiskEngine.decide(signals, policy: policy, model: constantModel(0.97))
        #expect(block.action == .block && block.reasons == ["model_score_block"] && abs(block.score - 0.97) < 1e-12)
    }

    @Test func listsOverrideRulesAndScore() {
        var signals = RiskSignals()
        signals[.ipDistinctCards1h] = 50
        let allowed = RiskEngine.decide(signals, policy: policy, model: constantModel(0.99), lists: RiskListMatch(allowed: ["card"]))
        #expect(allowed.action == .allow && allowed.reasons.contains("allowlisted_card") && allowed.reasons.contains("card_testing_ip"))
        let blocked = RiskEngine.decide(RiskSignals(), policy: policy, model: constantModel(0.01),
                                        lists: RiskListMatch(blocked: ["device"], allowed: ["card"]))
        #expect(blocked.action == .block && blocked.reasons == ["blocklisted_device"], "a blocklist beats an allowlist")
    }

    @Test func ipCountryTable() {
        let table = IPCountryTable.shipped
        #expect(table.country(of: "192.0.2.10") == "US")
        #expect(table.country(of: "192.0.2.200") == "CA")
        #expect(table.country(of: "198.51.100.7") == "GB")
        #expect(table.country(of: "10.70.1.1") == "GB")
        #expect(table.country(of: "8.8.8.8") == nil)
        #expect(table.country(of: "256.1.1.1") == nil && table.country(of: "1.2.3") == nil && table.country(of: "::1") == nil)
    }
}
