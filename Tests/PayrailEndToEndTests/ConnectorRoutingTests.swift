import Foundation
import GRPCCore
import Testing
import PayrailCluster
import PayrailCore
import PayrailDomain
import PayrailProtos
import PayrailSimulators
import PayrailStore

/// Routing, retries, failover and reconciliation through a real edge and core, with two
/// simulated acquirers the test can break: the payment's state, the processors' view (one
/// authorization at most), the ledger and the outbox.
@Suite struct ConnectorRoutingTests {
    /// Two acquirers as the shipped routing names them, fast, with a short timeout.
    private static func acquirers() -> (CardNetworkSimulator, CardNetworkSimulator) {
        let configuration = CardNetworkSimulator.Configuration(latencyMinMs: 1, latencyMaxMs: 2, tailPerMille: 0, tailMultiplier: 1, timeoutMs: 80)
        return (CardNetworkSimulator(name: "acquirer-a", configuration: configuration, seed: 1),
                CardNetworkSimulator(name: "acquirer-b", configuration: configuration, seed: 2))
    }

    private static func configure(_ a: CardNetworkSimulator, _ b: CardNetworkSimulator) -> @Sendable (inout LocalCluster.Options) -> Void {
        { options in
            options.connector = nil
            options.connectors = [a, b, BankDebitSimulator(), BNPLSimulator(), PayPalSimulator()]
            options.routing = .default
            options.routing.retry = ConnectorRetryPolicy(attemptsPerConnector: 3, backoffBaseMs: 1, backoffMaxMs: 4)
            // The test runs rounds itself: the background job looks at nothing younger than an hour.
            options.reconciler.stalledAfterMs = 3_600_000
            options.reconciler.interval = .seconds(3_600)
        }
    }

    @Test(arguments: ClusterStore.available)
    func acquirerATimesOutAndThePaymentSucceedsOnAcquirerBWithOneAuthorization(_ store: ClusterStore) async throws {
        let (a, b) = Self.acquirers()
        // Every attempt at acquirer-a is lost on the way in: the core times out each time.
        a.injectAuthorizationFaults([.requestLost, .requestLost, .requestLost])
        try await withCluster(store: store, configure: Self.configure(a, b)) { cluster, client, _, _ in
            let payment = try await client.payments.createPayment(createRequest(key: "failover-1", amount: 4_200), metadata: client.metadata)
            #expect(payment.status == .succeeded && payment.connector == "acquirer-b")
            #expect(a.callCount("authorize") == 3 && a.callCount("status") >= 3, "retried, asking the status after each timeout")
            #expect(a.callCount("reverse") == 1, "reversed before failing over")
            #expect(a.activeAuthorizationCount() == 0 && b.activeAuthorizationCount() == 1, "exactly one authorization exists")

            // The lost request reaching acquirer-a late is refused: it was reversed.
            let late = try await a.authorize(AuthorizationRequest(
                idempotencyKey: "\(payment.id):authorize", paymentID: payment.id, merchantID: "m", amount: Money(amountMinor: 4_200, currency: .usd),
                card: try CardNumber(TestCards.visaSuccess), expiry: CardExpiry(storedMonth: 12, year: 2034), securityCode: nil, capture: true))
            guard case .declined = late else { Issue.record("a late arrival after the reversal authorized: \(late)"); return }
            #expect(a.activeAuthorizationCount() == 0)

            let ledger = try await ledgerTrail(cluster, of: payment.id)
            #expect(ledger.kinds == ["authorization", "capture"] && ledger.processors == ["acquirer-b"])
            #expect(try await outboxEventTypes(cluster, about: [payment.id]) == ["payment.succeeded"])

            // Follow-ups go to the acquirer that holds the payment.
            let refund = try await client.refunds.createRefund(.with { $0.idempotencyKey = "failover-1-r"; $0.paymentID = payment.id; $0.amountMinor = 1_000 },
                                                               metadata: client.metadata)
            #expect(refund.status == .succeeded)
            let replay = try await client.payments.createPayment(createRequest(key: "failover-1", amount: 4_200), metadata: client.metadata)
            #expect(replay.id == payment.id && replay.connector == "acquirer-b" && b.activeAuthorizationCount() == 1)
            #expect(try await cluster.core.ledger.verify().isValid)
        }
    }

    @Test func transientErrorsAreRetriedWithBackoffOnTheSameAcquirer() async throws {
        let (a, b) = Self.acquirers()
        a.injectAuthorizationFaults([.unavailable, .unavailable])
        try await withCluster(configure: Self.configure(a, b)) { cluster, client, _, _ in
            let payment = try await client.payments.createPayment(createRequest(key: "transient-1"), metadata: client.metadata)
            #expect(payment.status == .succeeded && payment.connector == "acquirer-a")
            #expect(a.callCount("authorize") == 3 && a.callCount("reverse") == 0 && b.callCount("authorize") == 0,
                    "503s mean nothing happened: retry, no reversal, no failover")
            #expect(try await cluster.core.ledger.verify().isValid)
        }
    }

    @Test func bothAcquirersDownFailsThePaymentAsAProcessingError() async throws {
        let (a, b) = Self.acquirers()
        a.injectAuthorizationFaults(Array(repeating: .unavailable, count: 3))
        b.injectAuthorizationFaults(Array(repeating: .unavailable, count: 3))
        try await withCluster(configure: Self.configure(a, b)) { cluster, client, _, _ in
            let payment = try await client.payments.createPayment(createRequest(key: "down-1"), metadata: client.metadata)
            #expect(payment.status == .failed && payment.failure.reason == "processing_error" && payment.connector == "acquirer-b")
            #expect(a.activeAuthorizationCount() + b.activeAuthorizationCount() == 0)
            #expect(try await ledgerTrail(cluster, of: payment.id).kinds.isEmpty)
            #expect(try await outboxEventTypes(cluster, about: [payment.id]) == ["payment.failed"])
        }
    }

    @Test func europeanCurrenciesRouteToAcquirerBFirst() async throws {
        let (a, b) = Self.acquirers()
        try await withCluster(configure: Self.configure(a, b)) { _, client, _, _ in
            let euro = try await client.payments.createPayment(createRequest(key: "eur-1", currency: "EUR"), metadata: client.metadata)
            let dollar = try await client.payments.createPayment(createRequest(key: "usd-1", currency: "USD"), metadata: client.metadata)
            #expect(euro.connector == "acquirer-b" && dollar.connector == "acquirer-a")
            #expect(a.activeAuthorizationCount() == 1 && b.activeAuthorizationCount() == 1)
        }
    }

    /// The authorization went through, its answer was lost and the status API could not say
    /// (down): the payment stays `processing`; the reconciliation job later learns the approval
    /// and finishes it exactly as the request would have, and the merchant's retry replays it.
    @Test(arguments: ClusterStore.available)
    func aTimeoutAfterTheProcessorAcceptedIsReconciledToSucceeded(_ store: ClusterStore) async throws {
        let (a, b) = Self.acquirers()
        a.setStatusAvailable(false)
        try await withCluster(store: store, configure: Self.configure(a, b)) { cluster, client, _, _ in
            let request = createRequest(key: "unknown-1", amount: 5_500, card: TestCards.timeout)
            let first = try await client.payments.createPayment(request, metadata: client.metadata)
            #expect(first.status == .processing && first.connector == "acquirer-a")
            #expect(b.callCount("authorize") == 0, "an outcome that may exist is never sent to another acquirer")

            let reconciler = PaymentReconciler(payments: cluster.core.payments, configuration: {
                var configuration = PaymentReconciler.Configuration()
                configuration.stalledAfterMs = 0
                configuration.unknownRetryBaseMs = 0
                return configuration
            }())
            #expect(try await reconciler.round()[first.id] == .stillUnknown, "the processor still cannot say")
            #expect(try await client.payments.getPayment(.with { $0.paymentID = first.id }, metadata: client.metadata).status == .processing)

            a.setStatusAvailable(true)
            #expect(try await reconciler.round()[first.id] == .settled(.succeeded))
            let settled = try await client.payments.getPayment(.with { $0.paymentID = first.id }, metadata: client.metadata)
            #expect(settled.status == .succeeded && settled.amountCapturedMinor == 5_500)
            #expect(a.activeAuthorizationCount() == 1 && b.activeAuthorizationCount() == 0)
            #expect(try await ledgerTrail(cluster, of: first.id).kinds == ["authorization", "capture"])
            #expect(try await outboxEventTypes(cluster, about: [first.id]) == ["payment.succeeded"])
            #expect(try await reconciler.round()[first.id] == nil, "nothing left to reconcile")

            let retry = try await client.payments.createPayment(request, metadata: client.metadata)
            #expect(retry.id == first.id && retry.status == .succeeded && a.activeAuthorizationCount() == 1)
            #expect(try await cluster.core.ledger.verify().isValid)
        }
    }

    /// The request was lost and the status API was down during the call: unknown. Later the
    /// processor says it never received it; the job reverses it (a late copy can never land)
    /// and fails the payment.
    @Test(arguments: ClusterStore.available)
    func aPaymentTheProcessorNeverReceivedIsReversedAndFailed(_ store: ClusterStore) async throws {
        let (a, b) = Self.acquirers()
        a.injectAuthorizationFaults([.requestLost])
        a.setStatusAvailable(false)
        try await withCluster(store: store, configure: Self.configure(a, b)) { cluster, client, _, _ in
            let first = try await client.payments.createPayment(createRequest(key: "lost-1"), metadata: client.metadata)
            #expect(first.status == .processing && b.callCount("authorize") == 0)
            a.setStatusAvailable(true)
            let reconciler = PaymentReconciler(payments: cluster.core.payments, configuration: {
                var configuration = PaymentReconciler.Configuration()
                configuration.stalledAfterMs = 0
                configuration.unknownRetryBaseMs = 0
                return configuration
            }())
            #expect(try await reconciler.round()[first.id] == .settled(.failed))
            let failed = try await client.payments.getPayment(.with { $0.paymentID = first.id }, metadata: client.metadata)
            #expect(failed.status == .failed && failed.failure.reason == "processing_error")
            #expect(a.callCount("reverse") == 1 && a.activeAuthorizationCount() == 0)
            #expect(try await outboxEventTypes(cluster, about: [first.id]) == ["payment.failed"])
            #expect(try await ledgerTrail(cluster, of: first.id).kinds.isEmpty)
            #expect(try await cluster.core.ledger.verify().isValid)
        }
    }

    /// A payment that stays unknown is asked again after a growing wait, not every round, so a
    /// processor whose status API is down is not hammered and other payments are not crowded out.
    @Test func anUnknownOutcomeIsAskedAgainWithBackoff() async throws {
        let (a, b) = Self.acquirers()
        a.setStatusAvailable(false)
        try await withCluster(configure: Self.configure(a, b)) { cluster, client, _, _ in
            let first = try await client.payments.createPayment(createRequest(key: "backoff-1", card: TestCards.timeout), metadata: client.metadata)
            #expect(first.status == .processing)
            let reconciler = PaymentReconciler(payments: cluster.core.payments, configuration: {
                var configuration = PaymentReconciler.Configuration()
                configuration.stalledAfterMs = 0
                configuration.unknownRetryBaseMs = 60_000
                return configuration
            }())
            #expect(try await reconciler.round()[first.id] == .stillUnknown)
            let asked = a.callCount("status")
            a.setStatusAvailable(true)
            #expect(try await reconciler.round()[first.id] == nil, "waiting out its backoff")
            #expect(a.callCount("status") == asked, "the processor was not asked again")
            // Another node (or this one after the wait) settles it.
            let other = PaymentReconciler(payments: cluster.core.payments, configuration: {
                var configuration = PaymentReconciler.Configuration()
                configuration.stalledAfterMs = 0
                return configuration
            }())
            #expect(try await other.round()[first.id] == .settled(.succeeded))
        }
    }

    /// A payment whose processor this core no longer runs (removed from the routing file) is
    /// never sent to another one: it may hold an authorization there; the outcome is unknown.
    @Test func aPaymentAtARemovedProcessorIsNeverSentElsewhere() async {
        let (_, b) = Self.acquirers()
        let router = ConnectorRouter(connectors: [b], table: .single("acquirer-b"), retry: .immediate)
        let payment = makePaymentForRouting()
        #expect(router.remainingConnectors(for: payment, route: router.table.routes.first) == ["acquirer-a", "acquirer-b"])
        let request = AuthorizationRequest(idempotencyKey: "\(payment.id):authorize", paymentID: payment.id, merchantID: "m", amount: payment.amount,
                                           card: try! CardNumber(TestCards.visaSuccess), expiry: CardExpiry(storedMonth: 12, year: 2034),
                                           securityCode: nil, capture: true)
        let result = await router.authorize(request, candidates: router.remainingConnectors(for: payment, route: router.table.routes.first)) { _ in }
        #expect(result == .unknown(connector: "acquirer-a"))
        #expect(b.callCount("authorize") == 0)
    }

    private func makePaymentForRouting() -> Payment {
        Payment(id: "pay_removed", merchantID: "m", livemode: false, amount: Money(amountMinor: 1_000, currency: .usd), captureMethod: .automatic,
                card: CardSummary(token: "tok_x", brand: .visa, last4: "4242", expMonth: 12, expYear: 2034, fingerprint: "fp", country: "US"),
                connector: "acquirer-a", description: "", metadata: [:], createdAtMs: 1)
    }
}
