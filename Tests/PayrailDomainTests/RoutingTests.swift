import PayrailDomain
import PropertyBased
import Testing

/// Routing rules, the retry policy's backoff, and failover on the payment aggregate.
@Suite struct RoutingTests {
    private let table = RoutingTable(routes: [
        .init(id: "amex", brands: [.amex], connectors: ["acquirer-a"]),
        .init(id: "europe", currencies: [.eur], connectors: ["acquirer-b", "acquirer-a"]),
        .init(id: "india", regions: ["ap-south"], connectors: ["acquirer-b"]),
        .init(id: "default", connectors: ["acquirer-a", "acquirer-b"]),
    ])

    private func input(_ currency: Currency = .usd, region: String = "us-east", brand: CardBrand = .visa) -> RoutingTable.RoutingInput {
        .init(method: "card", currency: currency, region: region, brand: brand)
    }

    @Test func theFirstMatchingRouteWins() {
        #expect(table.route(for: input(brand: .amex))?.id == "amex")
        #expect(table.route(for: input(.eur, brand: .amex))?.id == "amex", "rules are ordered: amex before europe")
        #expect(table.route(for: input(.eur))?.connectors == ["acquirer-b", "acquirer-a"])
        #expect(table.route(for: input(region: "ap-south"))?.id == "india")
        #expect(table.route(for: input())?.connectors == ["acquirer-a", "acquirer-b"])
        #expect(table.connectorNames == ["acquirer-a", "acquirer-b"])
    }

    @Test func aRouteWithoutAFallbackLeavesSomePaymentsUnrouted() {
        let narrow = RoutingTable(routes: [.init(id: "usd", currencies: [.usd], connectors: ["acquirer-a"])])
        #expect(narrow.route(for: input(.eur)) == nil)
    }

    /// The backoff ceiling doubles from the base up to the maximum and never beyond; the jittered
    /// wait is within [0, ceiling].
    @Test func backoffGrowsExponentiallyWithinTheCap() async {
        await propertyCheck(count: 300, input: Gen.int(in: 0...500), Gen.int(in: 0...5_000), Gen.int(in: 1...40), Gen.uint64()) {
            base, extra, retry, seed in
            let policy = ConnectorRetryPolicy(attemptsPerConnector: 3, backoffBaseMs: base, backoffMaxMs: base + extra)
            let ceiling = policy.backoffCeilingMs(retry: retry)
            #expect(ceiling <= base + extra)
            if retry > 1 { #expect(ceiling >= policy.backoffCeilingMs(retry: retry - 1)) }
            var random = SeededRandom(seed: seed)
            let wait = policy.backoffMs(retry: retry, using: &random)
            #expect(wait >= 0 && wait <= ceiling)
        }
        let policy = ConnectorRetryPolicy(attemptsPerConnector: 3, backoffBaseMs: 20, backoffMaxMs: 250)
        #expect((1...6).map(policy.backoffCeilingMs) == [20, 40, 80, 160, 250, 250])
    }

    @Test func failoverMovesAProcessingPaymentToTheNextProcessorOnce() throws {
        var payment = makePayment()
        try payment.apply(.rerouted(to: "acquirer-b"), at: 2)
        #expect(payment.status == .processing && payment.connector == "acquirer-b" && payment.connectorsTried == ["cardsim"])
        #expect(throws: PayrailError.self) { try payment.validate(.rerouted(to: "cardsim")) }
        try payment.apply(.authorized(processorReference: "auth_b"), at: 3)
        #expect(throws: PayrailError.self, "only before a processor accepted it") { try payment.validate(.rerouted(to: "acquirer-c")) }
    }
}

/// SplitMix64, for reproducible jitter in tests.
struct SeededRandom: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
