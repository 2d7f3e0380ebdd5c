import PayrailDomain
import PayrailSimulators
import Testing

/// A simulated network inside a long-running core must not grow with every payment: it keeps
/// a bounded window of keys, as a processor's idempotency window expires.
@Suite struct SimulatorMemoryTests {
    @Test func aCardNetworkRemembersABoundedWindowOfAuthorizations() async throws {
        var configuration = CardNetworkSimulator.Configuration.instant
        configuration.rememberedMax = 100
        let network = CardNetworkSimulator(name: "acquirer-a", configuration: configuration, seed: 7)
        func request(_ index: Int) throws -> AuthorizationRequest {
            AuthorizationRequest(idempotencyKey: "pay_\(index):authorize", paymentID: "pay_\(index)", merchantID: "m",
                                 amount: Money(amountMinor: 1_000, currency: .usd), card: try CardNumber(TestCards.visaSuccess),
                                 expiry: CardExpiry(storedMonth: 12, year: 2034), securityCode: nil, capture: false)
        }
        for index in 0..<1_000 {
            guard case .approved = try await network.authorize(request(index)) else {
                Issue.record("authorization \(index) was not approved"); return
            }
        }
        let remembered = network.activeAuthorizationCount()
        #expect(remembered >= 50 && remembered <= 100, "remembers between half and all of its window, not \(remembered)")
        // The latest are known (a retry replays them); the oldest are forgotten.
        guard case .completed(.approved, _) = try await network.authorizationStatus(idempotencyKey: "pay_999:authorize") else {
            Issue.record("the latest authorization is unknown"); return
        }
        guard case .approved = try await network.authorize(request(999)) else { Issue.record("a retry of the latest changed"); return }
        #expect(network.activeAuthorizationCount() == remembered, "a retry within the window creates nothing")
        guard case .notReceived = try await network.authorizationStatus(idempotencyKey: "pay_0:authorize") else {
            Issue.record("the oldest authorization is still remembered"); return
        }
    }
}
