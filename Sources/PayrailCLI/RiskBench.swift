import ArgumentParser
import Foundation
import PayrailCore
import PayrailDomain
import PayrailStore

/// `payrail bench risk`: the latency of a full fraud decision as the payment path makes it
/// (lists from the cache, signals from the velocity counters, rules, model), on one task, with
/// counters preloaded with realistic traffic. Build with `-c release`.
struct RiskBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "risk", abstract: "Latency of one fraud decision (signals + rules + model).")

    @Option(help: "Decisions to time.") var iterations = 500_000
    @Option(help: "Payments preloaded into the velocity counters.") var preload = 200_000

    func run() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("payrail-risk-bench-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store = try await SQLiteStore.open(path: directory + "/bench.sqlite")
        let risk = RiskService(store: store)
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        // Traffic of the last hours: 50 merchants, 20,000 cards, 5,000 IPs and devices, 2,000 emails.
        for index in 0..<preload {
            let card = CardSummary(token: "tok_\(index)", brand: .visa, last4: "4242", expMonth: 12, expYear: 2034,
                                   fingerprint: "fp_\(index % 20_000)", country: "US")
            let payment = Payment(id: "pay_\(index)", merchantID: "acct_\(index % 50)", livemode: true,
                                  amount: Money(amountMinor: Int64(500 + index % 20_000), currency: .usd), captureMethod: .automatic,
                                  card: card, connector: "bench", description: "", metadata: [:],
                                  createdAtMs: now - Int64(preload - index) * 50,
                                  riskContext: RiskContext(clientIP: "10.0.\(index % 5_000 / 250).\(index % 250)", deviceID: "dev_\(index % 5_000)",
                                                           emailHash: String(repeating: "a", count: 60) + String(format: "%04d", index % 2_000)))
            risk.record(payment)
        }
        var latencies = [Int64](repeating: 0, count: iterations)
        var blocked = 0
        let clock = ContinuousClock()
        for index in 0..<iterations {
            let context = RiskContext(clientIP: "10.0.\(index % 5_000 / 250).\(index % 250)", deviceID: "dev_\(index % 5_000)",
                                      emailHash: nil, billingCountry: "US")
            let card = RiskService.Card(fingerprint: "fp_\(index % 20_000)", country: "US")
            let amount = Money(amountMinor: Int64(500 + index % 20_000), currency: .usd)
            let started = clock.now
            let decision = try await risk.assess(merchantID: "acct_\(index % 50)", livemode: true, amount: amount, card: card,
                                                 context: context, nowMs: now)
            latencies[index] = (clock.now - started).wholeNanoseconds
            if decision.action == .block { blocked += 1 }
        }
        try await store.close()
        latencies.sort()
        func percentile(_ p: Double) -> String {
            String(format: "%.2f µs", Double(latencies[min(latencies.count - 1, Int(Double(latencies.count) * p))]) / 1000)
        }
        let mean = Double(latencies.reduce(0, +)) / Double(latencies.count) / 1000
        print("""
            fraud decision (lists cached + signals from \(risk.counterKeys) counter keys + \(risk.policy.rules.count) rules + model), \
            \(iterations) decisions on one task:
              mean \(String(format: "%.2f µs", mean)), p50 \(percentile(0.5)), p90 \(percentile(0.9)), p99 \(percentile(0.99)), \
            p99.9 \(percentile(0.999)), max \(percentile(1.0))
              (\(blocked) of them blocked)
            """)
    }
}
