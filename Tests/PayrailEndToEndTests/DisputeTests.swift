import Foundation
import GRPCCore
import Testing
import PayrailCluster
import PayrailCore
import PayrailDomain
import PayrailProtos
import PayrailRuntime
import PayrailSimulators
import PayrailStore

/// Chargebacks from the simulated network through the core to the merchant's API: the state
/// sequence, the ledger (funds and fee withdrawn, reinstated on a win), the outbox events, and
/// refunds refused on a disputed payment.
@Suite struct DisputeTests {
    private static func waitForDispute(_ client: EdgeClient, paymentID: String) async throws -> Payrail_V1_Dispute {
        for _ in 0..<400 {
            let page = try await client.disputes.listDisputes(.with { $0.paymentID = paymentID }, metadata: client.metadata)
            if let dispute = page.disputes.first { return dispute }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw PayrailError(.internalError, "no dispute arrived for \(paymentID)")
    }

    private static func waitForStatus(_ client: EdgeClient, _ id: String, _ status: Payrail_V1_DisputeStatus) async throws -> Payrail_V1_Dispute {
        for _ in 0..<400 {
            let dispute = try await client.disputes.getDispute(.with { $0.disputeID = id }, metadata: client.metadata)
            if dispute.status == status { return dispute }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw PayrailError(.internalError, "dispute \(id) never reached \(status)")
    }

    private static func available(_ client: EdgeClient) async throws -> Int64 {
        try await client.balances.getBalance(.init(), metadata: client.metadata).balances.first { $0.currency == "USD" }?.availableMinor ?? 0
    }

    /// The network decides 2 s after the evidence (not the default 200 ms): the test reads the
    /// dispute under review and resubmits the same evidence before the decision, even on a
    /// loaded CI machine where one round trip took longer than 200 ms.
    private static func slowDecision(_ options: inout LocalCluster.Options) {
        var network = CardNetworkSimulator.Configuration(latencyMinMs: 1, latencyMaxMs: 3, tailPerMille: 0, tailMultiplier: 1, timeoutMs: 300)
        network.disputeDecisionMs = 2_000
        options.connector = CardNetworkSimulator(configuration: network)
    }

    @Test(arguments: ClusterStore.available)
    func aLostDisputeKeepsTheFundsAndTheFeeWithdrawn(_ store: ClusterStore) async throws {
        try await withCluster(store: store, configure: Self.slowDecision) { cluster, client, _, _ in
            let payment = try await client.payments.createPayment(createRequest(key: "dispute-lost", amount: 10_000, card: TestCards.disputed),
                                                                  metadata: client.metadata)
            #expect(payment.status == .succeeded)
            let dispute = try await Self.waitForDispute(client, paymentID: payment.id)
            #expect(dispute.status == .needsResponse && dispute.amount.amountMinor == 10_000 && dispute.fee.amountMinor == 1_500)
            #expect(dispute.reason == "fraudulent" && dispute.evidenceDueAtUnixMs > payment.createdAtUnixMs)
            #expect(try await Self.available(client) == -1_500, "10,000 captured, 10,000 withdrawn, 1,500 fee")
            #expect(try await ledgerTrail(cluster, of: payment.id).kinds == ["authorization", "capture", "dispute_opened"])

            let refused = await rpcFailure {
                _ = try await client.refunds.createRefund(.with { $0.idempotencyKey = "dispute-lost-r"; $0.paymentID = payment.id }, metadata: client.metadata)
            }
            #expect(refused?.0 == .failedPrecondition && refused?.1 == "payment_disputed")

            let submitted = try await client.disputes.submitDisputeEvidence(.with { $0.disputeID = dispute.id; $0.evidence = "signed delivery note" },
                                                                           metadata: client.metadata)
            #expect(submitted.status == .underReview && submitted.evidence == "signed delivery note")
            let again = try await client.disputes.submitDisputeEvidence(.with { $0.disputeID = dispute.id; $0.evidence = "signed delivery note" },
                                                                       metadata: client.metadata)
            // The network may have decided already (its answer comes a moment later).
            #expect((again.status == .underReview || again.status == .lost) && again.evidence == "signed delivery note",
                    "the same evidence again is a no-op")
            let lost = try await Self.waitForStatus(client, dispute.id, .lost)
            #expect(lost.evidence == "signed delivery note")
            #expect(try await Self.available(client) == -1_500)
            #expect(try await ledgerTrail(cluster, of: payment.id).kinds == ["authorization", "capture", "dispute_opened"], "losing posts nothing")
            #expect(try await outboxEventTypes(cluster, about: [dispute.id]) == ["dispute.created", "dispute.updated", "dispute.closed"])
            let acceptedLate = try await client.disputes.acceptDispute(.with { $0.disputeID = dispute.id }, metadata: client.metadata)
            #expect(acceptedLate.status == .lost, "accepting a lost dispute changes nothing")
            #expect(try await outboxEventTypes(cluster, about: [dispute.id]).count == 3)
            #expect(try await cluster.core.ledger.verify().isValid)
        }
    }

    @Test(arguments: ClusterStore.available)
    func aWonDisputeReinstatesTheFundsButNotTheFee(_ store: ClusterStore) async throws {
        try await withCluster(store: store) { cluster, client, _, _ in
            let payment = try await client.payments.createPayment(createRequest(key: "dispute-won", amount: 10_000, card: TestCards.disputed),
                                                                  metadata: client.metadata)
            let dispute = try await Self.waitForDispute(client, paymentID: payment.id)
            _ = try await client.disputes.submitDisputeEvidence(
                .with { $0.disputeID = dispute.id; $0.evidence = "\(TestCards.winningEvidence): tracking 1Z999" }, metadata: client.metadata)
            let won = try await Self.waitForStatus(client, dispute.id, .won)
            #expect(won.amount.amountMinor == 10_000)
            #expect(try await Self.available(client) == 8_500)
            #expect(try await ledgerTrail(cluster, of: payment.id).kinds == ["authorization", "capture", "dispute_opened", "dispute_won"])
            // Funds won back may be refunded again.
            let refund = try await client.refunds.createRefund(.with { $0.idempotencyKey = "dispute-won-r"; $0.paymentID = payment.id; $0.amountMinor = 1_000 },
                                                               metadata: client.metadata)
            #expect(refund.status == .succeeded)
            let accept = await rpcFailure {
                _ = try await client.disputes.acceptDispute(.with { $0.disputeID = dispute.id }, metadata: client.metadata)
            }
            #expect(accept?.0 == .failedPrecondition && accept?.1 == "dispute_unexpected_state", "a won dispute cannot be conceded")
            #expect(try await cluster.core.ledger.verify().isValid)
        }
    }

    @Test func acceptingIsFinalAndARepeatedNotificationChangesNothing() async throws {
        try await withCluster { cluster, client, network, merchantID in
            let payment = try await client.payments.createPayment(createRequest(key: "dispute-accept", amount: 8_000), metadata: client.metadata)
            let caller = CallerContext(merchantID: merchantID, livemode: false)
            let reference = try #require(try await cluster.core.payments.payment(caller, id: payment.id).processorReference)
            // A partial chargeback opened by the cardholder's bank.
            #expect(network.openDispute(processorReference: reference, amountMinor: 3_000, reason: "product_not_received") != nil)
            let dispute = try await Self.waitForDispute(client, paymentID: payment.id)
            #expect(dispute.amount.amountMinor == 3_000 && dispute.reason == "product_not_received")
            #expect(try await Self.available(client) == 8_000 - 3_000 - 1_500)

            let accepted = try await client.disputes.acceptDispute(.with { $0.disputeID = dispute.id }, metadata: client.metadata)
            #expect(accepted.status == .lost)
            let tooLate = await rpcFailure {
                _ = try await client.disputes.submitDisputeEvidence(.with { $0.disputeID = dispute.id; $0.evidence = "x" }, metadata: client.metadata)
            }
            #expect(tooLate?.0 == .failedPrecondition && tooLate?.1 == "dispute_unexpected_state")

            // The network repeats itself: the same opening and a closing for a closed dispute.
            let stored = try #require(try await cluster.store.read { try await $0.dispute(id: dispute.id, merchantID: merchantID) })
            let notice = DisputeNotice(networkDisputeID: stored.networkDisputeID, paymentID: payment.id, merchantID: merchantID,
                                       processorReference: reference, amount: Money(amountMinor: 3_000, currency: .usd),
                                       reason: "product_not_received", evidenceDueAtMs: stored.evidenceDueAtMs)
            try await cluster.core.disputes.handle(ConnectorNotification(id: "ntf_again", event: .disputeOpened(notice)), from: network.name)
            try await cluster.core.disputes.handle(ConnectorNotification(id: "ntf_close", event: .disputeClosed(networkDisputeID: stored.networkDisputeID, won: true)),
                                                   from: network.name)
            let disputes = try await client.disputes.listDisputes(.with { $0.paymentID = payment.id }, metadata: client.metadata).disputes
            #expect(disputes.count == 1 && disputes[0].status == .lost)
            #expect(try await ledgerTrail(cluster, of: payment.id).kinds == ["authorization", "capture", "dispute_opened"])
            #expect(try await cluster.core.ledger.verify().isValid)
        }
    }

    @Test func badDisputeRequestsAreTypedErrors() async throws {
        try await withCluster { _, client, _, _ in
            let missing = await rpcFailure { _ = try await client.disputes.getDispute(.with { $0.disputeID = "dp_nope" }, metadata: client.metadata) }
            #expect(missing?.0 == .notFound && missing?.1 == "resource_missing")
            let badID = await rpcFailure { _ = try await client.disputes.getDispute(.with { $0.disputeID = "pay_x" }, metadata: client.metadata) }
            #expect(badID?.0 == .invalidArgument)
            let empty = await rpcFailure {
                _ = try await client.disputes.submitDisputeEvidence(.with { $0.disputeID = "dp_x"; $0.evidence = "" }, metadata: client.metadata)
            }
            #expect(empty?.0 == .invalidArgument && empty?.1 == "missing_field")
            let big = await rpcFailure { _ = try await client.disputes.listDisputes(.with { $0.limit = 1_000 }, metadata: client.metadata) }
            #expect(big?.0 == .invalidArgument)
        }
    }

    /// A payment presented in EUR and settled in USD: the chargeback takes back the merchant's
    /// converted share (and the platform's markup) at the payment's rate, the fee is in USD, and
    /// winning gives the same share back.
    @Test(arguments: ClusterStore.available)
    func aDisputeOnAnFXPaymentIsPostedInTheSettlementCurrency(_ store: ClusterStore) async throws {
        try await withCluster(store: store) { cluster, _, _, _ in
            let merchant = try await cluster.core.apiKeys.createMerchant(name: "US shop", settlementCurrency: .usd)
            let client = try EdgeClient(port: cluster.edgePorts[0], caPath: cluster.pki.caCertificatePath, apiKey: merchant.apiKey)
            defer { Task { await client.close() } }
            let now = UnixClock.nowMs()
            try await cluster.store.write {
                try await $0.insertFXRate(try FXRate(from: .eur, to: .usd, rateScaled: 110_000_000, source: "test", validFromMs: now - 1_000,
                                                     validUntilMs: now + 3_600_000))
            }
            func usd() async throws -> (available: Int64, eur: Int64) {
                let balance = try await client.balances.getBalance(.init(), metadata: client.metadata)
                return (balance.balances.first { $0.currency == "USD" }?.availableMinor ?? 0,
                        balance.balances.first { $0.currency == "EUR" }?.availableMinor ?? 0)
            }
            let payment = try await client.payments.createPayment(createRequest(key: "fx-dispute", amount: 10_000, currency: "EUR", card: TestCards.disputed),
                                                                  metadata: client.metadata)
            #expect(payment.settlement.currency == "USD")
            // 10,000 EUR cents at 1.10 less the 1% markup (the dispute may already have arrived).
            let settled: Int64 = 10_890
            let dispute = try await Self.waitForDispute(client, paymentID: payment.id)
            #expect(dispute.amount.currency == "EUR" && dispute.fee.currency == "USD" && dispute.fee.amountMinor == 1_500)
            let afterOpening = try await usd()
            #expect(afterOpening.available == -1_500 && afterOpening.eur == 0, "the merchant's share and the fee, all in USD")
            _ = try await client.disputes.submitDisputeEvidence(.with { $0.disputeID = dispute.id; $0.evidence = TestCards.winningEvidence },
                                                                metadata: client.metadata)
            _ = try await Self.waitForStatus(client, dispute.id, .won)
            #expect(try await usd().available == settled - 1_500)
            #expect(try await cluster.core.ledger.verify().isValid)
        }
    }
}
