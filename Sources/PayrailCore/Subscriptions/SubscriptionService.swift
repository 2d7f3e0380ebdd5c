import Logging
import PayrailDomain
import PayrailProtos
import PayrailRuntime
import PayrailStore

/// Recurring billing: plans, subscriptions, invoices on schedule, off-session charges on the
/// saved card token, dunning, cancellation.
///
/// The billing run (``round()``, driven by ``BillingJob`` on the injected clock) renews due
/// subscriptions (one transaction opens the next period's invoice and advances the period; the
/// unique (subscription, period start) makes a repeat open nothing) and charges due invoices
/// through the payment service, each attempt with its own idempotency key
/// (``Invoice/nextAttemptKey``): a crash between the charge and its recording repeats the same
/// payment. The payment itself posts the ledger entries; an invoice's outcome (paid, failed and
/// retried per the ``DunningPolicy``, or uncollectible and the subscription canceled) is written
/// with its event in one transaction.
public final class SubscriptionService: Sendable {
    private let store: any PaymentStore
    private let vaultStore: any VaultStore
    private let payments: PaymentService
    private let codec: any ResponseSnapshotCodec
    private let ids: IdentifierGenerator
    private let now: @Sendable () -> Int64
    private let dunning: DunningPolicy
    private let logger: Logger

    static let operation = "create_subscription"

    public init(store: any PaymentStore, vaultStore: any VaultStore, payments: PaymentService, codec: any ResponseSnapshotCodec,
                ids: IdentifierGenerator = .system, now: @escaping @Sendable () -> Int64, dunning: DunningPolicy = DunningPolicy(),
                logger: Logger = Logger(label: "payrail.core.subscriptions")) {
        self.store = store
        self.vaultStore = vaultStore
        self.payments = payments
        self.codec = codec
        self.ids = ids
        self.now = now
        self.dunning = dunning
        self.logger = logger
    }

    // MARK: Plans and subscriptions

    public func createPlan(_ caller: CallerContext, name: String, amount: Money, interval: BillingInterval, trialDays: Int) async throws -> Plan {
        let plan = Plan(id: ids.make("plan"), merchantID: caller.merchantID, livemode: caller.livemode, name: name, amount: amount,
                        interval: interval, trialDays: trialDays, createdAtMs: now())
        try await store.write { tx in try await tx.insertPlan(plan) }
        return plan
    }

    /// Starts a subscription; without a trial its first invoice is charged before this returns.
    /// A retry with the same key answers with the subscription as it is now.
    public func createSubscription(_ caller: CallerContext, idempotencyKey: String, planID: String, cardToken: String) async throws -> Subscription {
        var fingerprint = RequestFingerprint(operation: Self.operation)
        fingerprint.add(planID)
        fingerprint.add(cardToken)
        let fingerprintHex = fingerprint.finalize()
        guard let card = try await vaultStore.card(token: cardToken), card.merchantID == caller.merchantID else {
            throw PayrailError(.resourceMissing, "no such card token", field: "card_token")
        }
        guard card.erasedAtMs == nil else { throw VaultError.erased.payrailError }
        let (subscriptionID, created) = try await store.write { tx -> (String, Bool) in
            let nowMs = now()
            if let record = try await tx.idempotencyRecord(merchantID: caller.merchantID, key: idempotencyKey) {
                try record.requireSameRequest(operation: Self.operation, fingerprint: fingerprintHex)
                guard let id = record.resourceID else { throw PayrailError(.internalError, "subscription record without its subscription") }
                return (id, false)
            }
            guard let plan = try await tx.plan(id: planID, merchantID: caller.merchantID), plan.livemode == caller.livemode else {
                throw PayrailError(.resourceMissing, "no such plan", field: "plan_id")
            }
            let subscription = Subscription.start(id: ids.make("sub"), merchantID: caller.merchantID, livemode: caller.livemode, plan: plan,
                                                  cardToken: cardToken, nowMs: nowMs)
            try await tx.insertSubscription(subscription)
            try await announce(tx, .subscriptionCreated, payload: codec.snapshot(subscription), merchantID: subscription.merchantID,
                               livemode: subscription.livemode, resourceID: subscription.id, at: nowMs)
            try await tx.insertIdempotencyRecord(IdempotencyRecord(
                merchantID: caller.merchantID, key: idempotencyKey, operation: Self.operation, fingerprint: fingerprintHex, state: .completed,
                lockedUntilMs: nowMs, resourceID: subscription.id, response: codec.snapshot(subscription), createdAtMs: nowMs, updatedAtMs: nowMs))
            return (subscription.id, true)
        }
        if created { try await billIfDue(subscriptionID: subscriptionID, merchantID: caller.merchantID) }
        return try await subscription(caller, id: subscriptionID)
    }

    public func subscription(_ caller: CallerContext, id: String) async throws -> Subscription {
        guard let subscription = try await store.read({ try await $0.subscription(id: id, merchantID: caller.merchantID) }),
              subscription.livemode == caller.livemode else {
            throw PayrailError(.resourceMissing, "no such subscription", field: "subscription_id")
        }
        return subscription
    }

    public func invoices(_ caller: CallerContext, subscriptionID: String) async throws -> [Invoice] {
        _ = try await subscription(caller, id: subscriptionID)
        return try await store.read { try await $0.invoices(subscriptionID: subscriptionID) }
    }

    /// Ends the subscription now (open invoices are voided, nothing more is charged) or at the
    /// end of its current period (no invoice for the next one).
    public func cancel(_ caller: CallerContext, id: String, atPeriodEnd: Bool) async throws -> Subscription {
        try await store.write { tx in
            guard var subscription = try await tx.subscription(id: id, merchantID: caller.merchantID), subscription.livemode == caller.livemode else {
                throw PayrailError(.resourceMissing, "no such subscription", field: "subscription_id")
            }
            let nowMs = now()
            let expectedVersion = subscription.version
            try subscription.cancel(atPeriodEnd: atPeriodEnd, at: nowMs)
            try await tx.updateSubscription(subscription, expectedVersion: expectedVersion)
            if subscription.status == .canceled {
                try await voidOpenInvoices(tx, subscriptionID: id, at: nowMs)
                try await announce(tx, .subscriptionCanceled, payload: codec.snapshot(subscription), merchantID: subscription.merchantID,
                                   livemode: subscription.livemode, resourceID: subscription.id, at: nowMs)
            }
            return subscription
        }
    }

    // MARK: The billing run

    /// What one billing run did.
    public struct RoundResult: Sendable, Hashable {
        public var renewed = 0
        public var ended = 0
        public var paid = 0
        public var failed = 0
        public init(renewed: Int = 0, ended: Int = 0, paid: Int = 0, failed: Int = 0) {
            self.renewed = renewed
            self.ended = ended
            self.paid = paid
            self.failed = failed
        }
    }

    /// Renews the due subscriptions and charges the due invoices, as of the injected clock.
    @discardableResult
    public func round(limit: Int = 200) async throws -> RoundResult {
        var result = RoundResult()
        let nowMs = now()
        // One subscription's or invoice's trouble is logged and retried next run; it never stops
        // the others.
        for subscription in try await store.read({ try await $0.subscriptionsDue(atMs: nowMs, limit: limit) }) {
            do {
                switch try await renew(subscriptionID: subscription.id, merchantID: subscription.merchantID) {
                case .renewed: result.renewed += 1
                case .ended: result.ended += 1
                case .nothing: break
                }
            } catch {
                logger.warning("renewal failed", metadata: ["subscription": "\(subscription.id)", "error_type": "\(type(of: error))"])
            }
        }
        for invoice in try await store.read({ try await $0.invoicesDue(atMs: now(), limit: limit) }) {
            do {
                switch try await charge(invoiceID: invoice.id, merchantID: invoice.merchantID) {
                case .paid?: result.paid += 1
                case .failed?: result.failed += 1
                case nil: break
                }
            } catch {
                logger.warning("invoice charge failed", metadata: ["invoice": "\(invoice.id)", "error_type": "\(type(of: error))"])
            }
        }
        return result
    }

    private enum Renewal { case renewed, ended, nothing }
    private enum Charge { case paid, failed }

    private func billIfDue(subscriptionID: String, merchantID: String) async throws {
        guard case .renewed = try await renew(subscriptionID: subscriptionID, merchantID: merchantID) else { return }
        for invoice in try await store.read({ try await $0.invoices(subscriptionID: subscriptionID) }) where invoice.status == .open {
            _ = try await charge(invoiceID: invoice.id, merchantID: merchantID)
        }
    }

    /// Opens the next period's invoice, or ends a subscription canceled at its period end.
    private func renew(subscriptionID: String, merchantID: String) async throws -> Renewal {
        try await store.write { tx -> Renewal in
            let nowMs = now()
            guard var subscription = try await tx.subscription(id: subscriptionID, merchantID: merchantID), subscription.isDue(at: nowMs) else {
                return .nothing
            }
            let expectedVersion = subscription.version
            if subscription.cancelAtPeriodEnd {
                try subscription.cancel(atPeriodEnd: false, at: nowMs)
                try await tx.updateSubscription(subscription, expectedVersion: expectedVersion)
                try await announce(tx, .subscriptionCanceled, payload: codec.snapshot(subscription), merchantID: merchantID,
                                   livemode: subscription.livemode, resourceID: subscription.id, at: nowMs)
                return .ended
            }
            guard let plan = try await tx.plan(id: subscription.planID, merchantID: merchantID) else { throw PayrailError(.internalError, "plan vanished") }
            let period = subscription.renew(plan: plan, at: nowMs)
            let invoice = Invoice(id: ids.make("in"), subscriptionID: subscription.id, merchantID: merchantID, livemode: subscription.livemode,
                                  amount: plan.amount, periodStartMs: period.startMs, periodEndMs: period.endMs, createdAtMs: nowMs)
            guard try await tx.insertInvoice(invoice) else { return .nothing }
            try await tx.updateSubscription(subscription, expectedVersion: expectedVersion)
            return .renewed
        }
    }

    /// Charges an open, due invoice once (one attempt) and records the outcome.
    private func charge(invoiceID: String, merchantID: String) async throws -> Charge? {
        guard let invoice = try await store.read({ try await $0.invoice(id: invoiceID, merchantID: merchantID) }),
              invoice.status == .open, let due = invoice.nextAttemptAtMs, due <= now(),
              let subscription = try await store.read({ try await $0.subscription(id: invoice.subscriptionID, merchantID: merchantID) }) else {
            return nil
        }
        guard subscription.status != .canceled else {
            try await store.write { tx in try await voidOpenInvoices(tx, subscriptionID: subscription.id, at: now()) }
            return nil
        }
        let caller = CallerContext(merchantID: merchantID, livemode: invoice.livemode)
        let attemptKey = invoice.nextAttemptKey
        var paymentID: String?
        var status: PaymentStatus?
        do {
            let command = try CreatePaymentCommand(
                idempotencyKey: attemptKey, amountMinor: invoice.amount.amountMinor, currencyCode: invoice.amount.currency.code, hasAmount: true,
                captureMethod: .automatic, method: .token(subscription.cardToken), description: "invoice \(invoice.id)",
                metadata: ["invoice": invoice.id, "subscription": subscription.id])
            switch try await payments.createPayment(caller, command) {
            case .current(let payment):
                paymentID = payment.id
                status = payment.status
            case .replayed(let bytes):
                // The attempt ran before: what matters is where its payment is now, not the
                // answer it got then (a payment held for review may have been approved since).
                let id = try Payrail_V1_Payment(serializedBytes: bytes).id
                paymentID = id
                status = try await payments.payment(caller, id: id).status
            }
        } catch let error as PayrailError where error.code.category == .failedPrecondition || error.code.category == .notFound {
            // The card cannot be charged at all (erased, gone): a failed attempt like a decline.
            logger.notice("invoice charge refused", metadata: ["invoice": "\(invoice.id)", "reason": "\(error.code.reason)"])
        }
        switch status {
        case .processing?, .requiresReview?, .requiresCapture?:
            // Not settled yet (the processor did not answer, or the fraud check holds it for a
            // person): the next run looks again under the same key; no second charge meanwhile.
            return nil
        case .requiresAction?:
            // Off-session, nobody can answer 3-D Secure: the attempt fails, and its payment is
            // canceled so it can never be completed later on top of a retry.
            if let paymentID {
                _ = try? await payments.cancelPayment(caller, idempotencyKey: attemptKey + ":cancel", paymentID: paymentID,
                                                      reason: "authentication required off-session")
            }
        default:
            break
        }
        let succeeded = status == .succeeded
        let failedPaymentID = paymentID
        // What the write found: recorded now, already recorded (another run charged the same
        // attempt), or voided while the charge was in flight.
        enum Recording { case recorded, alreadyRecorded, voided }
        let recording = try await store.write { tx -> Recording in
            guard var invoice = try await tx.invoice(id: invoiceID, merchantID: merchantID) else { return .alreadyRecorded }
            guard invoice.status == .open, invoice.nextAttemptKey == attemptKey,
                  var subscription = try await tx.subscription(id: invoice.subscriptionID, merchantID: merchantID) else {
                // Uncollectible without this attempt counted: the subscription ended meanwhile.
                return invoice.status == .uncollectible && invoice.paymentID != paymentID ? .voided : .alreadyRecorded
            }
            let nowMs = now()
            let invoiceVersion = invoice.version
            let subscriptionVersion = subscription.version
            if succeeded, let paymentID {
                invoice.recordPaid(paymentID: paymentID, at: nowMs)
                if subscription.status != .canceled { subscription.paid(at: nowMs) }
                try await announce(tx, .invoicePaid, payload: codec.snapshot(invoice), merchantID: merchantID, livemode: invoice.livemode,
                                   resourceID: invoice.id, at: nowMs)
            } else {
                let retrying = invoice.recordFailed(paymentID: failedPaymentID, policy: dunning, at: nowMs)
                try await announce(tx, .invoicePaymentFailed, payload: codec.snapshot(invoice), merchantID: merchantID, livemode: invoice.livemode,
                                   resourceID: invoice.id, at: nowMs)
                if subscription.status != .canceled {
                    if retrying {
                        subscription.paymentFailed(at: nowMs)
                    } else {
                        // Dunning is over: the subscription ends.
                        try subscription.cancel(atPeriodEnd: false, at: nowMs)
                        try await announce(tx, .subscriptionCanceled, payload: codec.snapshot(subscription), merchantID: merchantID,
                                           livemode: subscription.livemode, resourceID: subscription.id, at: nowMs)
                    }
                }
            }
            try await tx.updateInvoice(invoice, expectedVersion: invoiceVersion)
            if subscription.version != subscriptionVersion { try await tx.updateSubscription(subscription, expectedVersion: subscriptionVersion) }
            return .recorded
        }
        switch recording {
        case .recorded:
            break
        case .alreadyRecorded:
            return nil
        case .voided:
            guard succeeded, let paymentID else { return nil }
            // The subscription was canceled (its invoice voided) while this charge was in flight:
            // the customer gets the money back. A refund that fails is logged, not fatal to the run.
            do {
                _ = try await payments.createRefund(caller, idempotencyKey: attemptKey + ":void-refund", paymentID: paymentID, amountMinor: nil,
                                                    reason: "subscription canceled")
                logger.notice("charge for a voided invoice refunded", metadata: ["invoice": "\(invoiceID)", "payment": "\(paymentID)"])
            } catch {
                logger.error("charge for a voided invoice not refunded", metadata: ["invoice": "\(invoiceID)", "payment": "\(paymentID)",
                                                                                    "error_type": "\(type(of: error))"])
            }
            return nil
        }
        logger.info("invoice charged", metadata: ["invoice": "\(invoiceID)", "paid": "\(succeeded)"])
        return succeeded ? .paid : .failed
    }

    private func voidOpenInvoices(_ tx: any StoreTransaction, subscriptionID: String, at nowMs: Int64) async throws {
        for invoice in try await tx.invoices(subscriptionID: subscriptionID) where invoice.status == .open {
            var voided = invoice
            voided.void(at: nowMs)
            try await tx.updateInvoice(voided, expectedVersion: invoice.version)
        }
    }

    private func announce(_ tx: any StoreTransaction, _ type: DomainEvent.EventType, payload: [UInt8], merchantID: String, livemode: Bool,
                          resourceID: String, at nowMs: Int64) async throws {
        try await tx.appendOutboxEvent(DomainEvent(id: ids.make("evt"), type: type, merchantID: merchantID, livemode: livemode,
                                                   resourceID: resourceID, payload: payload, createdAtMs: nowMs))
    }
}
