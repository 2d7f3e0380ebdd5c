import GRPCCore
import PayrailCluster
import PayrailCore
import PayrailDomain
import PayrailProtos
import PayrailSimulators
import Testing

@Suite(.serialized) struct PaymentLifecycleTests {
    @Test(arguments: ClusterStore.available)
    func createCapturePartialRefundThenRefundTheRest(_ store: ClusterStore) async throws {
        try await withCluster(store: store) { cluster, client, _, merchantID in
            let created = try await client.payments.createPayment(createRequest(key: "life-1", amount: 10_000, capture: .manual), metadata: client.metadata)
            #expect(created.status == .requiresCapture)
            let held = try await client.balances.getBalance(.init(), metadata: client.metadata)
            #expect(held.balances.map { [$0.currency, "\($0.availableMinor)", "\($0.pendingMinor)"] } == [["USD", "0", "10000"]])
            #expect(created.amountCapturableMinor == 10_000)
            #expect(created.card.last4 == "4242" && created.card.brand == "visa" && !created.card.token.isEmpty)

            let captured = try await client.payments.capturePayment(.with {
                $0.idempotencyKey = "life-1-capture"
                $0.paymentID = created.id
                $0.amountMinor = 8_000
            }, metadata: client.metadata)
            #expect(captured.status == .succeeded && captured.amountCapturedMinor == 8_000)

            let partial = try await client.refunds.createRefund(.with {
                $0.idempotencyKey = "life-1-refund-1"
                $0.paymentID = created.id
                $0.amountMinor = 3_000
            }, metadata: client.metadata)
            #expect(partial.status == .succeeded && partial.amount.amountMinor == 3_000)
            let afterPartial = try await client.balances.getBalance(.init(), metadata: client.metadata)
            #expect(afterPartial.balances.first?.availableMinor == 5_000 && afterPartial.balances.first?.pendingMinor == 0)

            let rest = try await client.refunds.createRefund(.with {
                $0.idempotencyKey = "life-1-refund-2"
                $0.paymentID = created.id
            }, metadata: client.metadata)
            #expect(rest.status == .succeeded && rest.amount.amountMinor == 5_000)

            let failure = await rpcFailure {
                _ = try await client.refunds.createRefund(.with { $0.idempotencyKey = "life-1-refund-3"; $0.paymentID = created.id; $0.amountMinor = 1 },
                                                          metadata: client.metadata)
            }
            #expect(failure?.0 == .failedPrecondition && failure?.1 == "amount_exceeds_refundable")

            let final = try await client.payments.getPayment(.with { $0.paymentID = created.id }, metadata: client.metadata)
            #expect(final.amountRefundedMinor == 8_000)
            let refunds = try await client.refunds.listRefunds(.with { $0.paymentID = created.id }, metadata: client.metadata)
            #expect(refunds.refunds.count == 2)

            // Ledger: hold, capture, two refunds; everything balances and the merchant nets to zero.
            let caller = CallerContext(merchantID: merchantID, livemode: false)
            let transactions = try await cluster.core.payments.ledgerTransactions(caller, paymentID: created.id)
            #expect(transactions.map(\.kind) == [.authorization, .capture, .refund, .refund])
            var balances: [String: Int64] = [:]
            for entry in transactions.flatMap(\.entries) { balances[entry.account.key, default: 0] += entry.amountMinor }
            #expect(balances.values.allSatisfy { $0 == 0 })
            let report = try await cluster.core.ledger.verify()
            #expect(report.isValid && report.transactions == 4)

            // The outbox announced each change, committed with it, in order.
            let events = try await cluster.store.read { try await $0.outboxEvents(afterSequence: 0, limit: 100) }.map(\.event)
            #expect(events.map(\.type.rawValue) == ["payment.requires_capture", "payment.succeeded", "refund.succeeded", "refund.succeeded"])
            #expect(events.map(\.resourceID) == [created.id, created.id, partial.id, rest.id])
            #expect(try Payrail_V1_Payment(serializedBytes: events[1].payload).amountCapturedMinor == 8_000)
            #expect(try Payrail_V1_Refund(serializedBytes: events[3].payload).amount.amountMinor == 5_000)
            #expect(Set(events.map(\.id)).count == 4 && events.allSatisfy { $0.merchantID == merchantID })
        }
    }

    @Test(arguments: ClusterStore.available)
    func retriedCreateReturnsTheSamePaymentAndPostsNothing(_ store: ClusterStore) async throws {
        try await withCluster(store: store) { cluster, client, network, _ in
            let request = createRequest(key: "retry-1")
            let first = try await client.payments.createPayment(request, metadata: client.metadata)
            let before = try await cluster.core.ledger.verify().entries
            let eventsBefore = try await cluster.store.read { try await $0.outboxEvents(afterSequence: 0, limit: 100) }.count
            let second = try await client.payments.createPayment(request, metadata: client.metadata)
            #expect(first == second)
            #expect(try await cluster.store.read { try await $0.outboxEvents(afterSequence: 0, limit: 100) }.count == eventsBefore)
            #expect(first.status == .succeeded)
            #expect(try await cluster.core.ledger.verify().entries == before)
            #expect(network.authorizationCount() == 1)

            var changed = request
            changed.amount.amountMinor += 1
            let failure = await rpcFailure { _ = try await client.payments.createPayment(changed, metadata: client.metadata) }
            #expect(failure?.0 == .failedPrecondition && failure?.1 == "idempotency_key_reused")
        }
    }

    @Test(arguments: ClusterStore.available)
    func concurrentDuplicatesChargeOnce(_ store: ClusterStore) async throws {
        try await withCluster(edges: 2, store: store) { cluster, client, network, _ in
            // Half of the duplicates go through a second edge: the core's record is the authority.
            let merchant = try await cluster.core.apiKeys.createMerchant(name: "Dupes")
            let first = try EdgeClient(port: cluster.edgePorts[0], caPath: cluster.pki.caCertificatePath, apiKey: merchant.apiKey)
            let second = try EdgeClient(port: cluster.edgePorts[1], caPath: cluster.pki.caCertificatePath, apiKey: merchant.apiKey)
            let request = createRequest(key: "dupe-1", amount: 4_200)
            let ids = try await withThrowingTaskGroup(of: String.self) { group in
                for index in 0..<12 {
                    let edge = index % 2 == 0 ? first : second
                    group.addTask { try await edge.payments.createPayment(request, metadata: edge.metadata).id }
                }
                return try await group.reduce(into: Set<String>()) { $0.insert($1) }
            }
            await first.close()
            await second.close()
            #expect(ids.count == 1)
            #expect(network.authorizationCount() == 1)
            let report = try await cluster.core.ledger.verify()
            #expect(report.isValid && report.transactions == 2) // one hold + one capture
        }
    }

    @Test func declinesAreResultsWithDeclineCodes() async throws {
        try await withCluster { _, client, _, _ in
            let cases: [(String, String)] = [
                (TestCards.genericDecline, "generic_decline"), (TestCards.insufficientFunds, "insufficient_funds"),
                (TestCards.expiredCard, "expired_card"), (TestCards.incorrectCVC, "incorrect_cvc"),
                (TestCards.processingError, "processing_error"),
            ]
            for (card, code) in cases {
                let payment = try await client.payments.createPayment(createRequest(key: "decline-\(code)", card: card), metadata: client.metadata)
                #expect(payment.status == .failed)
                #expect(payment.failure.declineCode == code)
                #expect(payment.failure.reason == (code == "processing_error" ? "processing_error" : "card_declined"))
            }
        }
    }

    @Test func threeDSecureChallenge() async throws {
        try await withCluster { _, client, _, _ in
            let payment = try await client.payments.createPayment(createRequest(key: "3ds-1", card: TestCards.threeDSRequired), metadata: client.metadata)
            #expect(payment.status == .requiresAction && payment.nextAction.type == "three_d_secure")
            let wrong = try await client.payments.confirmPayment(.with {
                $0.idempotencyKey = "3ds-1-a"; $0.paymentID = payment.id; $0.threeDsOtp = "000000"
            }, metadata: client.metadata)
            #expect(wrong.status == .requiresAction && wrong.nextAction.attemptsRemaining == 2)
            let right = try await client.payments.confirmPayment(.with {
                $0.idempotencyKey = "3ds-1-b"; $0.paymentID = payment.id; $0.threeDsOtp = TestCards.validOTP
            }, metadata: client.metadata)
            #expect(right.status == .succeeded && right.amountCapturedMinor == 10_000)
        }
    }

    /// The cardholder never answers: the challenge expires and the payment fails (no hold was
    /// ever placed, so the ledger has nothing); wrong codes until none remain fail it too.
    @Test(arguments: ClusterStore.available)
    func anAbandonedChallengeExpiresAndWrongCodesFail(_ store: ClusterStore) async throws {
        var configuration = PaymentService.Configuration()
        configuration.challengeExpiryMs = 300
        try await withCluster(store: store, payments: configuration) { cluster, client, _, _ in
            let abandoned = try await client.payments.createPayment(createRequest(key: "3ds-abandon", card: TestCards.threeDSRequired), metadata: client.metadata)
            #expect(abandoned.status == .requiresAction)
            let wrong = try await client.payments.createPayment(createRequest(key: "3ds-wrong", card: TestCards.threeDSRequired), metadata: client.metadata)
            var last = wrong
            for attempt in 0..<TestCards.challengeAttempts {
                last = try await client.payments.confirmPayment(.with {
                    $0.idempotencyKey = "3ds-wrong-\(attempt)"; $0.paymentID = wrong.id; $0.threeDsOtp = "000000"
                }, metadata: client.metadata)
            }
            #expect(last.status == .failed && last.failure.declineCode == "authentication_failed")

            try await Task.sleep(for: .milliseconds(350))
            _ = try await PaymentReconciler(payments: cluster.core.payments).round()
            let expired = try await client.payments.getPayment(.with { $0.paymentID = abandoned.id }, metadata: client.metadata)
            #expect(expired.status == .failed && expired.failure.declineCode == "challenge_expired" && !expired.hasNextAction)
            let late = await rpcFailure {
                _ = try await client.payments.confirmPayment(.with {
                    $0.idempotencyKey = "3ds-abandon-late"; $0.paymentID = abandoned.id; $0.threeDsOtp = TestCards.validOTP
                }, metadata: client.metadata)
            }
            #expect(late?.0 == .failedPrecondition && late?.1 == "payment_unexpected_state")
            let events = try await cluster.store.read { try await $0.outboxEvents(afterSequence: 0, limit: 100) }
                .filter { $0.event.resourceID == abandoned.id }.map(\.event.type.rawValue)
            #expect(events == ["payment.requires_action", "payment.failed"])
            #expect(try await cluster.store.read { try await $0.ledgerTransactions(resourceID: abandoned.id) }.isEmpty)
        }
    }

    @Test(arguments: ClusterStore.available)
    func cancelReleasesTheHold(_ store: ClusterStore) async throws {
        try await withCluster(store: store) { cluster, client, _, _ in
            let payment = try await client.payments.createPayment(createRequest(key: "void-1", capture: .manual), metadata: client.metadata)
            let canceled = try await client.payments.cancelPayment(.with { $0.idempotencyKey = "void-1-c"; $0.paymentID = payment.id },
                                                                   metadata: client.metadata)
            #expect(canceled.status == .canceled)
            let failure = await rpcFailure {
                _ = try await client.payments.capturePayment(.with { $0.idempotencyKey = "void-1-cap"; $0.paymentID = payment.id }, metadata: client.metadata)
            }
            #expect(failure?.0 == .failedPrecondition && failure?.1 == "payment_unexpected_state")
            let report = try await cluster.core.ledger.verify()
            #expect(report.isValid && report.transactions == 2) // hold + void
        }
    }

    @Test(arguments: ClusterStore.available)
    func timeoutLeavesProcessingAndTheRetryResumesWithoutADoubleCharge(_ store: ClusterStore) async throws {
        try await withCluster(store: store) { _, client, network, _ in
            // The answer is lost but the processor's status API knows it: settled in the same call.
            let resolved = try await client.payments.createPayment(createRequest(key: "timeout-0", card: TestCards.timeout), metadata: client.metadata)
            #expect(resolved.status == .succeeded && network.authorizationCount() == 1)
            // The status API cannot say yet either: the outcome is unknown, the payment stays processing.
            let request = createRequest(key: "timeout-1", card: TestCards.unknownOutcome)
            let first = try await client.payments.createPayment(request, metadata: client.metadata)
            #expect(first.status == .processing)
            let second = try await client.payments.createPayment(request, metadata: client.metadata)
            #expect(second.id == first.id && second.status == .succeeded)
            #expect(network.authorizationCount() == 2)
        }
    }

    @Test func listPaginatesWithCursors() async throws {
        try await withCluster { _, client, _, _ in
            for index in 0..<5 {
                _ = try await client.payments.createPayment(createRequest(key: "list-\(index)"), metadata: client.metadata)
            }
            var seen: [String] = []
            var cursor = ""
            repeat {
                let page = try await client.payments.listPayments(.with { $0.limit = 2; $0.cursor = cursor }, metadata: client.metadata)
                #expect(page.payments.count <= 2)
                seen += page.payments.map(\.id)
                cursor = page.nextCursor
            } while !cursor.isEmpty
            #expect(seen.count == 5 && Set(seen).count == 5)
            let failure = await rpcFailure { _ = try await client.payments.listPayments(.with { $0.cursor = "garbage" }, metadata: client.metadata) }
            #expect(failure?.0 == .invalidArgument && failure?.1 == "invalid_cursor")
        }
    }
}
