import GRPCCore
import Synchronization
import Testing
import PayrailCluster
import PayrailCore
import PayrailDomain
import PayrailProtos
import PayrailRuntime
import PayrailSimulators
import PayrailStore

/// A clock the test moves: the core's billing, dunning and leases run on it.
final class SimulatedClock: Sendable {
    private let ms: Atomic<Int64>
    init(startMs: Int64 = UnixClock.nowMs()) { ms = Atomic(startMs) }
    var nowMs: Int64 { ms.load(ordering: .relaxed) }
    func advance(days: Int64 = 0, ms extra: Int64 = 0) { ms.add(days * BillingCalendar.dayMs + extra, ordering: .relaxed) }
    func set(_ value: Int64) { ms.store(value, ordering: .relaxed) }
}

/// Subscriptions through the edge on a simulated clock: trials, renewals on schedule, dunning
/// of a failing card to cancellation, cancellation at period end and immediately.
@Suite struct SubscriptionTests {
    private static func configure(_ clock: SimulatedClock) -> @Sendable (inout LocalCluster.Options) -> Void {
        { options in
            options.now = { clock.nowMs }
            // The test runs the billing itself.
            options.billingInterval = .seconds(3_600)
        }
    }

    private static func token(_ client: EdgeClient, _ number: String) async throws -> String {
        try await client.tokens.createCardToken(.with { $0.card = .with { $0.number = number; $0.expMonth = 12; $0.expYear = 2034; $0.cvc = "123" } },
                                                metadata: client.metadata).token
    }

    private static func plan(_ client: EdgeClient, trialDays: UInt32) async throws -> Payrail_V1_Plan {
        try await client.subscriptions.createPlan(.with {
            $0.name = "Pro"; $0.amount = .with { $0.amountMinor = 1_000; $0.currency = "USD" }
            $0.intervalUnit = .month; $0.intervalCount = 1; $0.trialDays = trialDays
        }, metadata: client.metadata)
    }

    private static func invoices(_ client: EdgeClient, _ id: String) async throws -> [Payrail_V1_Invoice] {
        try await client.subscriptions.listInvoices(.with { $0.subscriptionID = id }, metadata: client.metadata).invoices
    }

    @Test(arguments: ClusterStore.available)
    func aTrialThenRenewalsOnScheduleThenCancelAtPeriodEnd(_ store: ClusterStore) async throws {
        let clock = SimulatedClock()
        try await withCluster(store: store, configure: Self.configure(clock)) { cluster, client, _, _ in
            let plan = try await Self.plan(client, trialDays: 7)
            let card = try await Self.token(client, TestCards.visaSuccess)
            let start = clock.nowMs
            let subscription = try await client.subscriptions.createSubscription(.with {
                $0.idempotencyKey = "sub-1"; $0.planID = plan.id; $0.cardToken = card
            }, metadata: client.metadata)
            #expect(subscription.status == .trialing && subscription.currentPeriodEndUnixMs == start + 7 * BillingCalendar.dayMs)
            let replay = try await client.subscriptions.createSubscription(.with { $0.idempotencyKey = "sub-1"; $0.planID = plan.id; $0.cardToken = card },
                                                                           metadata: client.metadata)
            #expect(replay.id == subscription.id)
            #expect(try await cluster.core.subscriptions.round() == .init(), "nothing is due in the trial")
            #expect(try await Self.invoices(client, subscription.id).isEmpty)

            clock.advance(days: 7)
            #expect(try await cluster.core.subscriptions.round() == .init(renewed: 1, paid: 1))
            var current = try await client.subscriptions.getSubscription(.with { $0.subscriptionID = subscription.id }, metadata: client.metadata)
            let trialEnd = start + 7 * BillingCalendar.dayMs
            #expect(current.status == .active && current.currentPeriodStartUnixMs == trialEnd)
            #expect(current.currentPeriodEndUnixMs == BillingCalendar.adding(months: 1, to: trialEnd, anchorDay: BillingCalendar.dayOfMonth(start)))
            var invoices = try await Self.invoices(client, subscription.id)
            #expect(invoices.count == 1 && invoices[0].status == .paid && invoices[0].attempts == 1)
            let payment = try await client.payments.getPayment(.with { $0.paymentID = invoices[0].paymentID }, metadata: client.metadata)
            #expect(payment.status == .succeeded && payment.amount.amountMinor == 1_000 && payment.metadata["invoice"] == invoices[0].id)

            clock.set(current.currentPeriodEndUnixMs)
            #expect(try await cluster.core.subscriptions.round() == .init(renewed: 1, paid: 1))
            #expect(try await cluster.core.subscriptions.round() == .init(), "a second run the same day bills nothing")
            invoices = try await Self.invoices(client, subscription.id)
            #expect(invoices.count == 2 && invoices.allSatisfy { $0.status == .paid })

            current = try await client.subscriptions.cancelSubscription(.with { $0.subscriptionID = subscription.id; $0.atPeriodEnd = true },
                                                                         metadata: client.metadata)
            #expect(current.status == .active && current.cancelAtPeriodEnd)
            clock.set(current.currentPeriodEndUnixMs)
            #expect(try await cluster.core.subscriptions.round() == .init(ended: 1))
            current = try await client.subscriptions.getSubscription(.with { $0.subscriptionID = subscription.id }, metadata: client.metadata)
            #expect(current.status == .canceled && current.canceledAtUnixMs == clock.nowMs)
            #expect(try await Self.invoices(client, subscription.id).count == 2, "no invoice after the end")
            let ids = Set([subscription.id] + invoices.map(\.id))
            #expect(try await outboxEventTypes(cluster, about: ids) == ["subscription.created", "invoice.paid", "invoice.paid", "subscription.canceled"])
            #expect(try await cluster.core.ledger.verify().isValid)
        }
    }

    @Test(arguments: ClusterStore.available)
    func aFailingCardGoesThroughDunningToCancellation(_ store: ClusterStore) async throws {
        let clock = SimulatedClock()
        try await withCluster(store: store, configure: Self.configure(clock)) { cluster, client, _, _ in
            let plan = try await Self.plan(client, trialDays: 0)
            let card = try await Self.token(client, TestCards.insufficientFunds)
            let subscription = try await client.subscriptions.createSubscription(.with {
                $0.idempotencyKey = "sub-dun"; $0.planID = plan.id; $0.cardToken = card
            }, metadata: client.metadata)
            #expect(subscription.status == .pastDue, "the first invoice was charged at once and declined")
            var invoice = try #require(try await Self.invoices(client, subscription.id).first)
            #expect(invoice.status == .open && invoice.attempts == 1 && invoice.nextAttemptAtUnixMs == clock.nowMs + BillingCalendar.dayMs)
            var paymentIDs: Set<String> = [invoice.paymentID]

            for (days, attempts) in [(1, 2), (3, 3)] as [(Int64, UInt32)] {
                clock.advance(days: days - 1, ms: BillingCalendar.dayMs - 1)
                #expect(try await cluster.core.subscriptions.round() == .init(), "not due a millisecond early")
                clock.advance(ms: 1)
                #expect(try await cluster.core.subscriptions.round() == .init(failed: 1))
                invoice = try #require(try await Self.invoices(client, subscription.id).first)
                #expect(invoice.status == .open && invoice.attempts == attempts)
                paymentIDs.insert(invoice.paymentID)
            }
            clock.advance(days: 5)
            #expect(try await cluster.core.subscriptions.round() == .init(failed: 1))
            invoice = try #require(try await Self.invoices(client, subscription.id).first)
            #expect(invoice.status == .uncollectible && invoice.attempts == 4)
            paymentIDs.insert(invoice.paymentID)
            #expect(paymentIDs.count == 4, "each attempt is its own payment")
            for id in paymentIDs {
                let payment = try await client.payments.getPayment(.with { $0.paymentID = id }, metadata: client.metadata)
                #expect(payment.status == .failed && payment.failure.declineCode == "insufficient_funds")
            }
            let ended = try await client.subscriptions.getSubscription(.with { $0.subscriptionID = subscription.id }, metadata: client.metadata)
            #expect(ended.status == .canceled)
            clock.advance(days: 40)
            #expect(try await cluster.core.subscriptions.round() == .init(), "a canceled subscription is never billed again")
            #expect(try await outboxEventTypes(cluster, about: [subscription.id, invoice.id]) == [
                "subscription.created", "invoice.payment_failed", "invoice.payment_failed", "invoice.payment_failed", "invoice.payment_failed",
                "subscription.canceled",
            ])
            #expect(try await cluster.core.ledger.verify().isValid)
        }
    }

    @Test func immediateCancellationAndTypedErrors() async throws {
        let clock = SimulatedClock()
        try await withCluster(configure: Self.configure(clock)) { _, client, _, _ in
            let plan = try await Self.plan(client, trialDays: 0)
            let card = try await Self.token(client, TestCards.visaSuccess)
            let subscription = try await client.subscriptions.createSubscription(.with {
                $0.idempotencyKey = "sub-now"; $0.planID = plan.id; $0.cardToken = card
            }, metadata: client.metadata)
            #expect(subscription.status == .active, "the first invoice was paid at once")
            let canceled = try await client.subscriptions.cancelSubscription(.with { $0.subscriptionID = subscription.id }, metadata: client.metadata)
            #expect(canceled.status == .canceled)
            let again = await rpcFailure { _ = try await client.subscriptions.cancelSubscription(.with { $0.subscriptionID = subscription.id }, metadata: client.metadata) }
            #expect(again?.0 == .failedPrecondition && again?.1 == "subscription_canceled")
            let noPlan = await rpcFailure {
                _ = try await client.subscriptions.createSubscription(.with { $0.idempotencyKey = "sub-x"; $0.planID = "plan_nope"; $0.cardToken = card },
                                                                      metadata: client.metadata)
            }
            #expect(noPlan?.0 == .notFound)
            let reused = await rpcFailure {
                _ = try await client.subscriptions.createSubscription(.with { $0.idempotencyKey = "sub-now"; $0.planID = plan.id; $0.cardToken = "tok_other" },
                                                                      metadata: client.metadata)
            }
            #expect(reused?.0 == .notFound || reused?.1 == "idempotency_key_reused")
            let badPlan = await rpcFailure {
                _ = try await client.subscriptions.createPlan(.with { $0.name = "x"; $0.amount = .with { $0.amountMinor = 0; $0.currency = "USD" } },
                                                              metadata: client.metadata)
            }
            #expect(badPlan?.0 == .invalidArgument)
        }
    }
}
