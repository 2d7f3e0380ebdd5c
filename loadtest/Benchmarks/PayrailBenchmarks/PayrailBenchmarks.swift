// Micro-benchmarks of the request hot path, with allocation counts (ordo-one/benchmark).
// Run with scripts/benchmarks (never by the test command). Each benchmark does one unit of
// work per iteration, so the reported time and mallocs are per request.
import Benchmark
import Crypto
import Foundation
import PayrailCore
import PayrailDomain
import PayrailEdge
import PayrailProtos
import PayrailRuntime
import PayrailSDK
import PayrailStore
import SwiftProtobuf

let request = Payrail_V1_CreatePaymentRequest.with {
    $0.idempotencyKey = "order-7f3a9c21-attempt-1"
    $0.amount = .with { $0.amountMinor = 12_345; $0.currency = "USD" }
    $0.captureMethod = .automatic
    $0.card = .with { $0.number = "4242424242424242"; $0.expMonth = 12; $0.expYear = 2034; $0.cvc = "123" }
    $0.description_p = "order 7f3a9c21"
    $0.metadata = ["order_id": "7f3a9c21"]
    $0.riskContext = .with { $0.clientIp = "198.51.100.20"; $0.deviceID = "dev-1" }
}
let requestBytes: [UInt8] = try! request.serializedBytes()
let payment = Payment(id: "pay_01", merchantID: "acct_1", livemode: false, amount: Money(amountMinor: 12_345, currency: Currency(code: "USD")!),
                      captureMethod: .automatic,
                      card: CardSummary(token: "tok_1", brand: .visa, last4: "4242", expMonth: 12, expYear: 2034, fingerprint: "fp", country: "US"),
                      connector: "cardsim", description: "", metadata: [:], createdAtMs: 1)

let benchmarks: @Sendable () -> Void = {
    // A thousand requests per sample, so the clock's and the malloc counters' own cost
    // vanishes; `--scale` (scripts/benchmarks passes it) reports per request.
    let perRequest = Benchmark.Configuration(scalingFactor: .kilo)
    // Each benchmark runs its loop `scaledIterations` times per sample; set-up happens before
    // startMeasurement() so only the per-request work is timed and its mallocs counted.
    Benchmark.defaultConfiguration = .init(metrics: [.wallClock, .mallocCountTotal, .throughput], maxDuration: .seconds(2))

    Benchmark("protobuf decode CreatePaymentRequest", configuration: perRequest) { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(try Payrail_V1_CreatePaymentRequest(serializedBytes: requestBytes))
        }
    }

    Benchmark("protobuf encode CreatePaymentRequest", configuration: perRequest) { benchmark in
        for _ in benchmark.scaledIterations {
            let bytes: [UInt8] = try request.serializedBytes()
            blackHole(bytes)
        }
    }

    Benchmark("request validation (CreatePaymentRequest -> command)", configuration: perRequest) { benchmark in
        let today = CalendarMonth(year: 2026, month: 11)
        for _ in benchmark.scaledIterations {
            blackHole(try ProtoMapping.createPaymentCommand(request, today: today))
        }
    }

    Benchmark("rate limiter admit (GCRA, 1,000 merchants)", configuration: perRequest) { benchmark in
        let limiter = EdgeRateLimiter(configuration: .init(tiers: ["standard": .init(merchant: .init(perSecond: 1_000_000_000, burst: 1_000_000_000),
                                                                                   apiKey: .init(perSecond: 1_000_000_000, burst: 1_000_000_000))]))
        let merchants = (0..<1_000).map { "acct_\($0)" }
        let keys = (0..<1_000).map { "key_\($0)" }
        var index = 0
        for position in 0..<1_000 { try limiter.admit(merchantID: merchants[position], apiKeyID: keys[position]) }
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            index = (index &+ 1) % 1_000
            try limiter.admit(merchantID: merchants[index], apiKeyID: keys[index])
        }
    }

    Benchmark("idempotency cache replay (fingerprint + lookup)", configuration: perRequest) { benchmark in
        let cache = EdgeIdempotencyCache(now: { 1_000 })
        let key = EdgeIdempotencyCache.Key(merchantID: "acct_1", livemode: false, operation: "create_payment", idempotencyKey: "order-1")
        let fingerprint = cache.fingerprint(operation: "create_payment", request: requestBytes)
        _ = try await cache.run(key, fingerprint: fingerprint, keep: { _ in true }, send: { [1, 2, 3] })
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            let print = cache.fingerprint(operation: "create_payment", request: requestBytes)
            blackHole(try await cache.run(key, fingerprint: print, keep: { _ in true }, send: { [1, 2, 3] }))
        }
    }

    Benchmark("risk decision (signals + 6 rules + model)", configuration: perRequest) { benchmark in
        var signals = RiskSignals()
        signals[.amountRatio] = 1.4
        signals[.cardCount1h] = 2
        for _ in benchmark.scaledIterations {
            blackHole(RiskEngine.decide(signals, policy: RiskPolicyParser.defaultPolicy, model: .trained))
        }
    }

    Benchmark("webhook HMAC-SHA256 signature header (1 KiB body)", configuration: perRequest) { benchmark in
        let body = [UInt8](repeating: 0x61, count: 1024)
        for _ in benchmark.scaledIterations {
            blackHole(WebhookSignature.header(timestamp: 1_764_000_000, body: body, secrets: ["whsec_0123456789abcdef0123456789abcdef"]))
        }
    }

    Benchmark("ledger batch: capture postings + balance deltas (64 payments)") { benchmark in
        for _ in benchmark.scaledIterations {
            var deltas = BalanceDeltas()
            for index in 0..<64 {
                let transaction = PostingRules.capture(payment, authorizedMinor: 12_345, capturedMinor: 12_345,
                                                       transactionID: "ltx_\(index)", at: 1)
                deltas.add(transaction.entries)
            }
            blackHole(deltas.sorted)
        }
    }
}
