/// What the rest of the system may know about a card: never the number or the CVC.
public struct CardSummary: Hashable, Sendable {
    public var token: String
    public var brand: CardBrand
    public var last4: String
    public var expMonth: Int
    public var expYear: Int
    /// Keyed HMAC of the PAN, hex: stable per card across tokens and merchants.
    public var fingerprint: String
    public var country: String

    public init(token: String, brand: CardBrand, last4: String, expMonth: Int, expYear: Int, fingerprint: String, country: String) {
        self.token = token
        self.brand = brand
        self.last4 = last4
        self.expMonth = expMonth
        self.expYear = expYear
        self.fingerprint = fingerprint
        self.country = country
    }
}

/// A card payment: the aggregate whose amounts and status only ever change through
/// ``apply(_:at:)``, which enforces the state machine and re-checks every invariant.
public struct Payment: Hashable, Sendable {
    public let id: String
    public let merchantID: String
    public let livemode: Bool
    public let amount: Money
    public let captureMethod: CaptureMethod
    /// What it was paid with (card, wallet, bank debit, BNPL plan).
    public let method: PaymentMethodDetails
    /// The card or network token, for card-based methods.
    public var card: CardSummary? { method.card }
    /// The processor handling the payment: the route's first choice, then whichever it failed
    /// over to (only while `processing`, before any processor accepted it).
    public private(set) var connector: String
    /// Processors tried before `connector` and given up on after a reversal, oldest first.
    public private(set) var connectorsTried: [String]
    public let description: String
    public let metadata: [String: String]
    public let createdAtMs: Int64
    /// Set when the payment settles to the merchant in another currency than it was made in.
    public let settlement: SettlementTerms?

    public private(set) var status: PaymentStatus
    /// Authorized and not yet captured or released.
    public private(set) var amountCapturableMinor: Int64
    public private(set) var amountCapturedMinor: Int64
    public private(set) var amountRefundedMinor: Int64
    /// Refunds accepted but not yet settled or failed.
    public private(set) var amountRefundPendingMinor: Int64
    public private(set) var failure: Failure?
    public private(set) var challenge: ThreeDSChallenge?
    public private(set) var processorReference: String?
    public private(set) var updatedAtMs: Int64
    /// The fraud check's verdict, made before the payment reached a processor.
    public let risk: RiskDecision?
    /// The buyer signals the merchant sent (kept to rebuild the velocity counters).
    public let riskContext: RiskContext?
    /// Incremented on every change; stores use it for optimistic concurrency.
    public private(set) var version: Int64

    /// A new payment paid with `method` (any method, cards included).
    public init(id: String, merchantID: String, livemode: Bool, amount: Money, captureMethod: CaptureMethod,
                method: PaymentMethodDetails, connector: String, description: String, metadata: [String: String], createdAtMs: Int64,
                settlement: SettlementTerms? = nil, risk: RiskDecision? = nil, riskContext: RiskContext? = nil) {
        self.init(id: id, merchantID: merchantID, livemode: livemode, amount: amount, captureMethod: captureMethod,
                  card: method.card ?? .none, connector: connector, description: description, metadata: metadata, createdAtMs: createdAtMs,
                  settlement: settlement, risk: risk, riskContext: riskContext, method: method)
    }

    /// A new payment, about to be sent to the processor.
    public init(id: String, merchantID: String, livemode: Bool, amount: Money, captureMethod: CaptureMethod,
                card: CardSummary, connector: String, description: String, metadata: [String: String], createdAtMs: Int64,
                settlement: SettlementTerms? = nil, risk: RiskDecision? = nil, riskContext: RiskContext? = nil,
                method: PaymentMethodDetails? = nil) {
        precondition(amount.amountMinor > 0, "payment amount must be positive")
        self.init(id: id, merchantID: merchantID, livemode: livemode, amount: amount, captureMethod: captureMethod,
                  card: card, connector: connector, description: description, metadata: metadata, createdAtMs: createdAtMs,
                  settlement: settlement, status: .processing, amountCapturableMinor: 0, amountCapturedMinor: 0, amountRefundedMinor: 0,
                  amountRefundPendingMinor: 0, failure: nil, challenge: nil, processorReference: nil,
                  updatedAtMs: createdAtMs, version: 1, risk: risk, riskContext: riskContext, method: method)
    }

    /// Rebuilds a payment read back from a store; checks the invariants (asserted on write
    /// and on read, so corruption is caught where it is found).
    public init(id: String, merchantID: String, livemode: Bool, amount: Money, captureMethod: CaptureMethod,
                card: CardSummary, connector: String, description: String, metadata: [String: String], createdAtMs: Int64,
                settlement: SettlementTerms? = nil, status: PaymentStatus, amountCapturableMinor: Int64, amountCapturedMinor: Int64, amountRefundedMinor: Int64,
                amountRefundPendingMinor: Int64, failure: Failure?, challenge: ThreeDSChallenge?, processorReference: String?,
                updatedAtMs: Int64, version: Int64, risk: RiskDecision? = nil, riskContext: RiskContext? = nil,
                connectorsTried: [String] = [], method: PaymentMethodDetails? = nil) {
        self.id = id
        self.merchantID = merchantID
        self.livemode = livemode
        self.amount = amount
        self.captureMethod = captureMethod
        self.method = method ?? .card(card)
        self.connector = connector
        self.connectorsTried = connectorsTried
        self.description = description
        self.metadata = metadata
        self.createdAtMs = createdAtMs
        self.settlement = settlement
        self.status = status
        self.amountCapturableMinor = amountCapturableMinor
        self.amountCapturedMinor = amountCapturedMinor
        self.amountRefundedMinor = amountRefundedMinor
        self.amountRefundPendingMinor = amountRefundPendingMinor
        self.failure = failure
        self.challenge = challenge
        self.processorReference = processorReference
        self.updatedAtMs = updatedAtMs
        self.version = version
        self.risk = risk
        self.riskContext = riskContext
        checkInvariants()
    }

    /// What may still be refunded: captured, minus refunded, minus refunds in flight.
    public var amountRefundableMinor: Int64 { amountCapturedMinor - amountRefundedMinor - amountRefundPendingMinor }

    /// Checks that `event` is legal now, without changing anything. Business failures
    /// (wrong state, amount too large) are typed errors for the caller.
    public func validate(_ event: PaymentEvent) throws(PayrailError) {
        var copy = self
        try copy.apply(event, at: updatedAtMs)
    }

    /// Applies `event`: moves the state machine and the amounts, or throws a typed error and
    /// changes nothing.
    public mutating func apply(_ event: PaymentEvent, at nowMs: Int64) throws(PayrailError) {
        let remainingAfterFailure = (challenge?.attemptsRemaining ?? 1) - 1
        guard let next = PaymentStateMachine.next(status, event, attemptsRemainingAfterFailure: remainingAfterFailure) else {
            let allowed = PaymentStateMachine.allowedEventNames(in: status)
            throw PayrailError(.unexpectedState,
                "cannot \(event.name) a payment in status \(status.rawValue)" + (allowed.isEmpty ? "" : "; allowed: \(allowed.joined(separator: ", "))"))
        }
        var updated = self
        switch event {
        case .authorized(let reference):
            updated.processorReference = reference
            updated.amountCapturableMinor = amount.amountMinor
            updated.challenge = nil
        case .challengeRequired(let challenge):
            updated.challenge = challenge
        case .challengePassed:
            updated.challenge = nil
        case .challengeFailed:
            updated.challenge?.attemptsRemaining = remainingAfterFailure
            if next == .failed {
                updated.challenge = nil
                updated.failure = Failure(reason: "authentication_failed", declineCode: .authenticationFailed,
                                          message: "3-D Secure authentication failed")
            }
        case .declined(let failure):
            updated.failure = failure
            updated.challenge = nil
        case .debitInitiated where !method.settlesLater, .debitSettled where !method.settlesLater,
             .debitReturned where !method.settlesLater:
            throw PayrailError(.unexpectedState, "payment \(id) is not a bank debit")
        case .debitInitiated where processorReference != nil, .debitSettled where amountCapturableMinor == 0:
            throw PayrailError(.unexpectedState, "payment \(id): the debit is not pending")
        case .debitInitiated(let reference):
            // Accepted by the bank: the funds are pending until it settles or returns the debit.
            updated.processorReference = reference
            updated.amountCapturableMinor = amount.amountMinor
        case .debitSettled:
            updated.amountCapturedMinor = amountCapturableMinor
            updated.amountCapturableMinor = 0
        case .debitReturned(let failure):
            updated.failure = failure
            updated.amountCapturableMinor = 0
        case .challengeExpired:
            updated.challenge = nil
            updated.failure = Failure(reason: "authentication_failed", declineCode: .challengeExpired,
                                      message: "The 3-D Secure challenge was abandoned and expired.")
        case .rerouted(let next):
            guard next != connector, !connectorsTried.contains(next) else {
                throw PayrailError(.unexpectedState, "payment \(id) was already sent to \(next)")
            }
            updated.connectorsTried.append(connector)
            updated.connector = next
        case .captured(let amountMinor):
            guard amountMinor > 0 else {
                throw PayrailError(.invalidAmount, "capture amount must be positive", field: "amount_minor")
            }
            guard amountMinor <= amountCapturableMinor else {
                throw PayrailError(.amountExceedsCapturable,
                    "capture amount \(amountMinor) exceeds the capturable amount \(amountCapturableMinor)", field: "amount_minor")
            }
            updated.amountCapturedMinor = amountMinor
            updated.amountCapturableMinor = 0
        case .canceled:
            updated.amountCapturableMinor = 0
            updated.challenge = nil
        case .heldForReview, .reviewApproved:
            break
        case .refundRequested(let amountMinor):
            guard amountMinor > 0 else {
                throw PayrailError(.invalidAmount, "refund amount must be positive", field: "amount_minor")
            }
            guard amountMinor <= amountRefundableMinor else {
                throw PayrailError(.amountExceedsRefundable,
                    "refund amount \(amountMinor) exceeds the refundable amount \(amountRefundableMinor)", field: "amount_minor")
            }
            updated.amountRefundPendingMinor += amountMinor
        case .refundSucceeded(let amountMinor):
            guard amountMinor > 0 && amountMinor <= amountRefundPendingMinor else {
                throw PayrailError(.unexpectedState, "cannot settle a refund of \(amountMinor) that was not reserved")
            }
            updated.amountRefundPendingMinor -= amountMinor
            updated.amountRefundedMinor += amountMinor
        case .refundFailed(let amountMinor):
            guard amountMinor > 0 && amountMinor <= amountRefundPendingMinor else {
                throw PayrailError(.unexpectedState, "cannot fail a refund of \(amountMinor) that was not reserved")
            }
            updated.amountRefundPendingMinor -= amountMinor
        }
        updated.status = next
        updated.updatedAtMs = max(nowMs, updatedAtMs)
        updated.version += 1
        updated.checkInvariants()
        self = updated
    }

    /// The invariants every payment satisfies in every state. A violation is a bug, never a
    /// business outcome, so it stops the process rather than writing a wrong payment.
    public func checkInvariants() {
        let total = amount.amountMinor
        precondition(total > 0, "payment \(id): amount must be positive")
        precondition(amountCapturableMinor >= 0 && amountCapturedMinor >= 0 && amountRefundedMinor >= 0
                     && amountRefundPendingMinor >= 0, "payment \(id): negative amount field")
        precondition(amountCapturableMinor + amountCapturedMinor <= total, "payment \(id): captures exceed the authorization")
        precondition(amountRefundedMinor + amountRefundPendingMinor <= amountCapturedMinor, "payment \(id): refunds exceed the capture")
        switch status {
        case .processing:
            // A bank debit the bank accepted holds its funds pending while it settles.
            precondition(amountCapturedMinor == 0 && (amountCapturableMinor == 0
                         || (method.settlesLater && processorReference != nil && amountCapturableMinor == total)),
                         "payment \(id): processing holds funds")
        case .requiresAction, .failed, .canceled:
            precondition(amountCapturableMinor == 0 && amountCapturedMinor == 0, "payment \(id): \(status) holds funds")
        case .requiresCapture, .requiresReview:
            precondition(amountCapturableMinor == total && amountCapturedMinor == 0, "payment \(id): \(status) without a full hold")
        case .succeeded:
            precondition(amountCapturedMinor > 0 && amountCapturableMinor == 0, "payment \(id): succeeded without a capture")
        }
        precondition(status == .failed || failure == nil, "payment \(id): failure recorded on a \(status) payment")
        precondition(settlement.map { $0.currency != amount.currency } ?? true, "payment \(id): settles in its own currency through FX")
        precondition((status == .requiresAction) == (challenge != nil), "payment \(id): challenge iff requires_action")
        precondition(!connectorsTried.contains(connector) && Set(connectorsTried).count == connectorsTried.count,
                     "payment \(id): a processor tried twice")
    }
}
