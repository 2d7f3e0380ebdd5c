import Foundation
import PayrailCore
import PayrailDomain
import PayrailStore
import Testing

/// The fraud rules file: the shipped one parses, bad files are refused with a reason, and a
/// reload applies a good file and keeps the rules in force when the new file is bad.
@Suite struct RiskRulesTests {
    @Test func shippedRulesParse() throws {
        let policy = try RiskPolicyParser.parse(RiskPolicyParser.defaultRules)
        #expect(policy.rules.count == 6 && policy.thresholds.block == 0.95)
    }

    @Test func badFilesAreRefusedWithTheReason() {
        let cases: [(String, String)] = [
            ("version: 2\nthresholds: {review: 0.5, require_3ds: 0.8, block: 0.9}", "version must be 1"),
            ("version: 1\nthresholds: {review: 0.9, require_3ds: 0.8, block: 0.95}", "thresholds must rise"),
            ("version: 1\nthresholds: {review: 0.5, require_3ds: 0.8, block: 1.5}", "thresholds.block"),
            ("version: 1\nthresholds: {review: 0.5, require_3ds: 0.8, block: 0.9}\nrules:\n  - id: a\n    when: [\"nope > 1\"]\n    action: block\n    reason: x",
             "unknown signal \"nope\""),
            ("version: 1\nthresholds: {review: 0.5, require_3ds: 0.8, block: 0.9}\nrules:\n  - id: a\n    when: [\"ip_count_1h > 1\"]\n    action: smite\n    reason: x",
             "action must be one of"),
            ("version: 1\nthresholds: {review: 0.5, require_3ds: 0.8, block: 0.9}\nrules:\n  - id: a\n    when: [\"ip_count_1h >> 1\"]\n    action: block\n    reason: x",
             "unknown operator"),
            ("version: 1\nthresholds: {review: 0.5, require_3ds: 0.8, block: 0.9}\nbogus: 1", "unknown key \"bogus\""),
        ]
        for (text, reason) in cases {
            do {
                _ = try RiskPolicyParser.parse(text)
                Issue.record("accepted: \(text)")
            } catch {
                #expect(error.reason.contains(reason), "\(error.reason)")
            }
        }
    }

    @Test func reloadAppliesAGoodFileAndKeepsTheRulesWhenTheNewOneIsBad() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("payrail-rules-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store = try await SQLiteStore.open(path: directory + "/s.sqlite")
        let risk = RiskService(store: store)
        let path = directory + "/rules.yaml"
        let strict = """
            version: 1
            thresholds: { review: 0.5, require_3ds: 0.8, block: 0.95 }
            rules:
              - id: big
                when: ["amount_minor > 5000"]
                action: block
                reason: too_big
            """
        try strict.write(toFile: path, atomically: true, encoding: .utf8)
        let reloader = try RiskRulesReloader(path: path, risk: risk)
        func decide(_ amount: Int64) async throws -> RiskAction {
            try await risk.assess(merchantID: "acct_1", livemode: false, amount: Money(amountMinor: amount, currency: .usd),
                                  card: .init(fingerprint: "fp", country: "US"), context: nil, nowMs: 1_000).action
        }
        #expect(try await decide(6_000) == .block)
        try strict.replacingOccurrences(of: "5000", with: "50000").write(toFile: path, atomically: true, encoding: .utf8)
        try reloader.reload()
        #expect(try await decide(6_000) == .allow, "the new rule applies without a restart")
        try "version: 1\nthresholds: nope".write(toFile: path, atomically: true, encoding: .utf8)
        #expect(throws: RiskPolicyParser.Failure.self) { try reloader.reload() }
        #expect(try await decide(60_000) == .block, "a bad file is refused; the rules in force stay")
        try await store.close()
    }
}
