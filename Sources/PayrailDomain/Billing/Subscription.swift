/// What a merchant sells on a schedule: an amount per interval, optionally after a free trial.
public struct Plan: Hashable, Sendable {
    public let id: String
    public let merchantID: String
    public let livemode: Bool
    public let name: String
    public let amount: Money
    public let interval: BillingInterval
    public let trialDays: Int
    public let createdAtMs: Int64

    public init(id: String, merchantID: String, livemode: Bool, name: String, amount: Money, interval: BillingInterval, trialDays: Int,
                createdAtMs: Int64) {
        precondition(amount.amountMinor > 0, "plan \(id): amount must be positive")
        precondition((0...730).contains(trialDays), "plan \(id): trial of 0 to 730 days")
        self.id = id
        self.merchantID = merchantID
        self.livemode = livemode
        self.name = name
        self.amount = amount
        self.interval = interval
        self.trialDays = trialDays
        self.createdAtMs = createdAtMs
    }
}

public enum SubscriptionStatus: String, Hashable, Sendable, CaseIterable {
    /// In the free trial; the first invoice comes at its end.
    case trialing
    /// Paid up for the current period.
    case active
    /// The latest invoice's payment failed; dunning retries it.
    case pastDue = "past_due"
    /// Ended: by the merchant (now or at the period's end) or after dunning gave up. Terminal.
    case canceled
}

/// When a failed invoice is charged again: after 1, 3 and 5 days (a growing backoff, as
/// Stripe's smart retries spread them), then the subscription is canceled and the invoice
/// marked uncollectible.
public struct DunningPolicy: Hashable, Sendable {
    /// Waits after the 1st, 2nd, ... failed attempt.
    public var retryDelaysMs: [Int64]

    public init(retryDelaysMs: [Int64] = [1, 3, 5].map { $0 * BillingCalendar.dayMs }) {
        precondition(retryDelaysMs.allSatisfy { $0 > 0 }, "retry delays must be positive")
        self.retryDelaysMs = retryDelaysMs
    }

    /// When to try again after `failedAttempts` failures, or nil when dunning is over.
    public func nextAttempt(afterFailedAttempts failedAttempts: Int, at nowMs: Int64) -> Int64? {
        precondition(failedAttempts >= 1, "after a failure")
        return failedAttempts <= retryDelaysMs.count ? nowMs + retryDelaysMs[failedAttempts - 1] : nil
    }
}

/// A customer's subscription to a plan, charged off-session on a saved card token.
public struct Subscription: Hashable, Sendable {
    public let id: String
    public let merchantID: String
    public let livemode: Bool
    public let planID: String
    /// The vaulted card every invoice is charged to.
    public let cardToken: String
    public let createdAtMs: Int64
    /// The day of the month periods renew on (the day the first period started).
    public let anchorDay: Int64
    public private(set) var status: SubscriptionStatus
    public private(set) var currentPeriodStartMs: Int64
    public private(set) var currentPeriodEndMs: Int64
    public private(set) var cancelAtPeriodEnd: Bool
    public private(set) var canceledAtMs: Int64?
    public private(set) var updatedAtMs: Int64
    public private(set) var version: Int64

    public init(id: String, merchantID: String, livemode: Bool, planID: String, cardToken: String, createdAtMs: Int64, anchorDay: Int64,
                status: SubscriptionStatus, currentPeriodStartMs: Int64, currentPeriodEndMs: Int64, cancelAtPeriodEnd: Bool = false,
                canceledAtMs: Int64? = nil, updatedAtMs: Int64? = nil, version: Int64 = 1) {
        self.id = id
        self.merchantID = merchantID
        self.livemode = livemode
        self.planID = planID
        self.cardToken = cardToken
        self.createdAtMs = createdAtMs
        self.anchorDay = anchorDay
        self.status = status
        self.currentPeriodStartMs = currentPeriodStartMs
        self.currentPeriodEndMs = currentPeriodEndMs
        self.cancelAtPeriodEnd = cancelAtPeriodEnd
        self.canceledAtMs = canceledAtMs
        self.updatedAtMs = updatedAtMs ?? createdAtMs
        self.version = version
        checkInvariants()
    }

    /// A new subscription: in its trial, or starting its first period now (its first invoice is due at once).
    public static func start(id: String, merchantID: String, livemode: Bool, plan: Plan, cardToken: String, nowMs: Int64) -> Subscription {
        let anchorDay = BillingCalendar.dayOfMonth(nowMs)
        if plan.trialDays > 0 {
            return Subscription(id: id, merchantID: merchantID, livemode: livemode, planID: plan.id, cardToken: cardToken, createdAtMs: nowMs,
                                anchorDay: anchorDay, status: .trialing, currentPeriodStartMs: nowMs,
                                currentPeriodEndMs: nowMs + Int64(plan.trialDays) * BillingCalendar.dayMs)
        }
        // The first period is billed at once: it "ends" now, so the billing run opens it.
        return Subscription(id: id, merchantID: merchantID, livemode: livemode, planID: plan.id, cardToken: cardToken, createdAtMs: nowMs,
                            anchorDay: anchorDay, status: .active, currentPeriodStartMs: nowMs, currentPeriodEndMs: nowMs)
    }

    /// Whether the billing run has work now: the period ended (renew, or end it as asked).
    public func isDue(at nowMs: Int64) -> Bool {
        status != .canceled && status != .pastDue && nowMs >= currentPeriodEndMs
    }

    /// The next period begins: an invoice for it is opened by the caller.
    public mutating func renew(plan: Plan, at nowMs: Int64) -> (startMs: Int64, endMs: Int64) {
        precondition(isDue(at: nowMs) && !cancelAtPeriodEnd, "subscription \(id) renewed when not due")
        let start = currentPeriodEndMs
        let end = plan.interval.periodEnd(from: start, anchorDay: anchorDay)
        currentPeriodStartMs = start
        currentPeriodEndMs = end
        touch(nowMs)
        return (start, end)
    }

    public mutating func paid(at nowMs: Int64) {
        precondition(status != .canceled, "subscription \(id) paid after canceling")
        status = .active
        touch(nowMs)
    }

    public mutating func paymentFailed(at nowMs: Int64) {
        precondition(status != .canceled, "subscription \(id) failed after canceling")
        status = .pastDue
        touch(nowMs)
    }

    /// Ends it now, or at the end of the current period.
    public mutating func cancel(atPeriodEnd: Bool, at nowMs: Int64) throws(PayrailError) {
        guard status != .canceled else { throw PayrailError(.subscriptionCanceled, "the subscription is already canceled") }
        if atPeriodEnd {
            cancelAtPeriodEnd = true
        } else {
            status = .canceled
            canceledAtMs = nowMs
        }
        touch(nowMs)
    }

    private mutating func touch(_ nowMs: Int64) {
        updatedAtMs = max(updatedAtMs, nowMs)
        version += 1
        checkInvariants()
    }

    public func checkInvariants() {
        precondition(currentPeriodEndMs >= currentPeriodStartMs, "subscription \(id): period ends before it starts")
        precondition((status == .canceled) == (canceledAtMs != nil), "subscription \(id): canceled iff a cancel time")
        precondition((1...31).contains(anchorDay), "subscription \(id): anchor day")
    }
}

public enum InvoiceStatus: String, Hashable, Sendable, CaseIterable {
    /// Waiting for a successful charge (first attempt due, or dunning).
    case open
    case paid
    /// Dunning gave up. Terminal.
    case uncollectible
}

/// One period's bill of a subscription, charged off-session; failed charges are retried per the
/// dunning policy.
public struct Invoice: Hashable, Sendable {
    public let id: String
    public let subscriptionID: String
    public let merchantID: String
    public let livemode: Bool
    public let amount: Money
    public let periodStartMs: Int64
    public let periodEndMs: Int64
    public let createdAtMs: Int64
    public private(set) var status: InvoiceStatus
    /// Charge attempts made.
    public private(set) var attempts: Int
    /// When the next charge is due (nil once paid or uncollectible).
    public private(set) var nextAttemptAtMs: Int64?
    /// The payment that paid it, or the last failed one.
    public private(set) var paymentID: String?
    public private(set) var updatedAtMs: Int64
    public private(set) var version: Int64

    public init(id: String, subscriptionID: String, merchantID: String, livemode: Bool, amount: Money, periodStartMs: Int64, periodEndMs: Int64,
                createdAtMs: Int64, status: InvoiceStatus = .open, attempts: Int = 0, nextAttemptAtMs: Int64? = nil, paymentID: String? = nil,
                updatedAtMs: Int64? = nil, version: Int64 = 1) {
        self.id = id
        self.subscriptionID = subscriptionID
        self.merchantID = merchantID
        self.livemode = livemode
        self.amount = amount
        self.periodStartMs = periodStartMs
        self.periodEndMs = periodEndMs
        self.createdAtMs = createdAtMs
        self.status = status
        self.attempts = attempts
        self.nextAttemptAtMs = status == .open ? (nextAttemptAtMs ?? createdAtMs) : nil
        self.paymentID = paymentID
        self.updatedAtMs = updatedAtMs ?? createdAtMs
        self.version = version
        checkInvariants()
    }

    /// The idempotency key of charge attempt number `attempts + 1`: a crash between the charge
    /// and its recording repeats the same payment, never a second one.
    public var nextAttemptKey: String { "\(id):attempt:\(attempts + 1)" }

    public mutating func recordPaid(paymentID: String, at nowMs: Int64) {
        precondition(status == .open, "invoice \(id) paid twice")
        attempts += 1
        status = .paid
        nextAttemptAtMs = nil
        self.paymentID = paymentID
        touch(nowMs)
    }

    /// A failed charge: retried per `policy`, or uncollectible when it gives up. Returns whether
    /// dunning goes on.
    @discardableResult
    public mutating func recordFailed(paymentID: String?, policy: DunningPolicy, at nowMs: Int64) -> Bool {
        precondition(status == .open, "invoice \(id) failed when not open")
        attempts += 1
        self.paymentID = paymentID ?? self.paymentID
        if let next = policy.nextAttempt(afterFailedAttempts: attempts, at: nowMs) {
            nextAttemptAtMs = next
        } else {
            status = .uncollectible
            nextAttemptAtMs = nil
        }
        touch(nowMs)
        return status == .open
    }

    /// The subscription ended while this was open: no more attempts.
    public mutating func void(at nowMs: Int64) {
        guard status == .open else { return }
        status = .uncollectible
        nextAttemptAtMs = nil
        touch(nowMs)
    }

    private mutating func touch(_ nowMs: Int64) {
        updatedAtMs = max(updatedAtMs, nowMs)
        version += 1
        checkInvariants()
    }

    public func checkInvariants() {
        precondition(amount.amountMinor > 0, "invoice \(id): amount must be positive")
        precondition((status == .open) == (nextAttemptAtMs != nil), "invoice \(id): a next attempt iff open")
        precondition(status != .paid || paymentID != nil, "invoice \(id): paid without a payment")
        precondition(periodEndMs >= periodStartMs, "invoice \(id): period")
    }
}
