import GRPCCore
import PayrailCluster
import PayrailDomain
import PayrailProtos
import PayrailRuntime
import PayrailSimulators
import Synchronization

/// A short mixed load for `payrail dev`: approvals with automatic and manual capture,
/// declines, 3-D Secure, refunds, and idempotent retries, through the edge over TLS.
/// (The full load tool with open-loop arrival rates and HdrHistogram comes with issue 9.)
struct DemoLoad {
    /// Edges to start from (host:port); the client follows the region map they serve.
    let seeds: [String]
    let caPath: String
    let apiKey: String
    let payments: Int
    let concurrency: Int

    struct Summary: CustomStringConvertible, Sendable {
        var outcomes: [String: Int] = [:]
        var latenciesUs: [Int64] = []
        var retriesSamePayment = 0
        var retriesMismatched = 0
        var elapsedMs: Int64 = 0
        var byRegion: [String: Int] = [:]

        var description: String {
            let sorted = latenciesUs.sorted()
            func percentile(_ p: Double) -> String {
                guard !sorted.isEmpty else { return "-" }
                let index = min(sorted.count - 1, Int((Double(sorted.count) * p).rounded(.up)) - 1)
                return String(format: "%.2f ms", Double(sorted[max(0, index)]) / 1000)
            }
            var lines = ["Demo summary (\(latenciesUs.count) calls in \(elapsedMs) ms):"]
            for (outcome, count) in outcomes.sorted(by: { $0.key < $1.key }) {
                lines.append("  \(outcome.padding(toLength: 34, withPad: " ", startingAt: 0)) \(count)")
            }
            lines.append("  idempotent retries returning the same payment: \(retriesSamePayment) (mismatches: \(retriesMismatched))")
            if byRegion.count > 1 || byRegion.keys.first != "local" {
                lines.append("  calls by region (region-aware client): "
                             + byRegion.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))
            }
            lines.append("  latency per call: p50 \(percentile(0.5)), p99 \(percentile(0.99)), max \(percentile(1.0))")
            return lines.joined(separator: "\n")
        }
    }

    func run() async throws -> Summary {
        let client = try await RegionAwareClient.connect(.init(seeds: seeds, caPath: caPath, apiKey: apiKey))
        let summary = SummaryBox()
        let started = ContinuousClock.now
        let run = UInt64(UnixClock.nowMs())
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<concurrency {
                group.addTask {
                    while true {
                        let index = summary.nextIndex()
                        if index >= payments { return }
                        try await one(index, run: run, client: client, summary: summary)
                    }
                }
            }
            try await group.waitForAll()
        }
        await client.close()
        var result = summary.withLock { $0 }
        result.byRegion = client.statistics.byRegion
        result.elapsedMs = Int64((ContinuousClock.now - started).components.seconds * 1000)
            + (ContinuousClock.now - started).components.attoseconds / 1_000_000_000_000_000
        return result
    }

    private func timed<T>(_ summary: SummaryBox, _ body: () async throws -> T) async throws -> T {
        let start = ContinuousClock.now
        let result = try await body()
        let us = (ContinuousClock.now - start).wholeMicroseconds
        summary.withLock { $0.latenciesUs.append(us) }
        return result
    }

    private func statusName(_ status: Payrail_V1_PaymentStatus) -> String {
        ((try? ProtoMapping.domain(status)) ?? nil)?.rawValue ?? "unknown"
    }

    private func record(_ summary: SummaryBox, _ outcome: String) {
        summary.withLock { $0.outcomes[outcome, default: 0] += 1 }
    }

    private func one(_ index: Int, run: UInt64, client: RegionAwareClient, summary: SummaryBox) async throws {
        let slot = index % 100
        let card: String
        var manual = false
        switch slot {
        case 0..<5: card = TestCards.genericDecline
        case 5..<9: card = TestCards.insufficientFunds
        case 9..<11: card = TestCards.incorrectCVC
        case 11..<14: card = TestCards.threeDSRequired
        case 14..<29: card = TestCards.mastercardSuccess; manual = true
        case 29..<34: card = TestCards.amexSuccess
        case 34..<37: card = TestCards.generated(index)
        default: card = TestCards.visaSuccess
        }
        // A card tester tries many new cards from one address; everyone else has their own.
        let ip = (34..<37).contains(slot) ? "203.0.113.66" : "10.0.\((index / 250) % 256).\(index % 250)"
        let key = "demo-\(run)-\(index)"
        let request = Payrail_V1_CreatePaymentRequest.with {
            $0.idempotencyKey = key
            $0.amount = .with { $0.amountMinor = Int64(500 + (index * 37) % 20_000); $0.currency = ["USD", "EUR", "GBP", "JPY"][index % 4] }
            $0.captureMethod = manual ? .manual : .automatic
            $0.card = .with {
                $0.number = card
                $0.expMonth = 12
                $0.expYear = 2034
                $0.cvc = card == TestCards.amexSuccess ? "1234" : "123"
            }
            $0.description_p = "demo order \(index)"
            $0.riskContext = .with { $0.clientIp = ip }
            // A few of every hundred pay otherwise: a wallet, a bank debit, a BNPL plan.
            switch slot {
            case 37:
                $0.wallet = .with {
                    $0.type = index % 2 == 0 ? .applePay : .googlePay
                    $0.networkToken = TestCards.visaSuccess; $0.expMonth = 12; $0.expYear = 2034; $0.cryptogram = "AgAAAAAABk4DWZ4C28yUQAAAAAA="
                }
            case 38:
                $0.captureMethod = .automatic
                if index % 2 == 0 {
                    $0.amount.currency = "USD"
                    $0.bankDebit = .with { $0.scheme = .ach; $0.routingNumber = "110000000"; $0.accountNumber = index % 4 == 0 ? "000111110002" : "000123456789" }
                } else {
                    $0.amount.currency = "EUR"
                    $0.bankDebit = .with { $0.scheme = .sepa; $0.iban = "DE89370400440532013000" }
                }
            case 39:
                $0.captureMethod = .automatic
                $0.amount.currency = "USD"
                $0.bnpl = .with { $0.installments = 4 }
            default:
                break
            }
        }
        let method = [37: "wallet ", 38: "bank debit ", 39: "bnpl "][slot] ?? ""
        do {
            let payment = try await timed(summary) { try await client.call(idempotent: true) { try await $0.payments.createPayment(request, metadata: $0.metadata) } }
            record(summary, "create \(method)-> \(statusName(payment.status))" + (payment.status == .failed ? " (\(payment.failure.reason))" : ""))
            if index % 10 == 0 {
                // An idempotent retry, as a client would send after a lost response.
                let again = try await timed(summary) { try await client.call(idempotent: true) { try await $0.payments.createPayment(request, metadata: $0.metadata) } }
                summary.withLock {
                    if again.id == payment.id { $0.retriesSamePayment += 1 } else { $0.retriesMismatched += 1 }
                }
            }
            if payment.status == Payrail_V1_PaymentStatus.requiresCapture {
                let captured = try await timed(summary) {
                    try await client.call(idempotent: true) { edge in try await edge.payments.capturePayment(.with {
                        $0.idempotencyKey = key + "-capture"
                        $0.paymentID = payment.id
                        if index % 2 == 0 { $0.amountMinor = payment.amount.amountMinor / 2 }
                    }, metadata: edge.metadata) }
                }
                record(summary, "capture -> \(statusName(captured.status))")
            }
            if payment.status == Payrail_V1_PaymentStatus.succeeded && index % 7 == 0 {
                let refund = try await timed(summary) {
                    try await client.call(idempotent: true) { edge in try await edge.refunds.createRefund(.with {
                        $0.idempotencyKey = key + "-refund"
                        $0.paymentID = payment.id
                        $0.amountMinor = max(1, payment.amountCapturedMinor / 3)
                    }, metadata: edge.metadata) }
                }
                record(summary, "refund -> \(refund.status == .succeeded ? "succeeded" : refund.status == .failed ? "failed" : "pending")")
            }
        } catch let error as RPCError {
            record(summary, "error \(error.code) \(RPCErrorMapping.payrailError(error).code.reason)")
        }
    }
}

/// Shared, lock-protected demo results.
final class SummaryBox: Sendable {
    private let state = Mutex(DemoLoad.Summary())
    private let counter = Atomic<Int>(0)
    func nextIndex() -> Int { counter.add(1, ordering: .relaxed).oldValue }
    func withLock<T>(_ body: (inout DemoLoad.Summary) -> T) -> T { state.withLock { body(&$0) } }
}
