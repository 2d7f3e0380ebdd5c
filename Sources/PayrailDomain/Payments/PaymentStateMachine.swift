/// Something that happens to a payment. Each event is legal only from certain states; the
/// table in ``PaymentStateMachine`` is the single source of truth for which.
public enum PaymentEvent: Hashable, Sendable {
    /// The processor approved the authorization.
    case authorized(processorReference: String)
    /// The issuer wants the cardholder to authenticate (3-D Secure).
    case challengeRequired(ThreeDSChallenge)
    /// The cardholder passed the challenge; the authorization is sent next.
    case challengePassed
    /// A wrong one-time code; the payment fails when no attempts remain.
    case challengeFailed
    /// The cardholder abandoned the challenge and it expired: the payment fails.
    case challengeExpired
    /// The processor or issuer refused the payment.
    case declined(Failure)
    /// The processor did not take the payment (unavailable, or timed out and reversed): it goes
    /// to the route's next processor. Only before any processor accepted it.
    case rerouted(to: String)
    /// The bank accepted a debit (ACH, SEPA, UPI): the payment stays `processing`, its funds
    /// pending, until the bank settles or returns it.
    case debitInitiated(processorReference: String)
    /// The bank settled the debit: the payment succeeds with the whole amount.
    case debitSettled
    /// The bank returned the debit (insufficient funds, account closed, ...): the payment fails.
    case debitReturned(Failure)
    /// Funds captured: `amountMinor` of the authorized amount; the rest is released.
    case captured(amountMinor: Int64)
    /// The payment was voided before capture.
    case canceled
    /// The fraud check holds the authorized payment for a person's decision.
    case heldForReview
    /// A person approved the held payment; it may be captured.
    case reviewApproved
    /// A refund was accepted for processing: its amount is reserved so that concurrent
    /// refunds can never exceed what was captured.
    case refundRequested(amountMinor: Int64)
    /// A reserved refund settled.
    case refundSucceeded(amountMinor: Int64)
    /// A reserved refund failed; the reservation is released.
    case refundFailed(amountMinor: Int64)

    /// A short name for logs and errors.
    public var name: String {
        switch self {
        case .authorized: "authorize"
        case .challengeRequired: "require_action"
        case .challengePassed: "pass_challenge"
        case .challengeFailed: "fail_challenge"
        case .challengeExpired: "expire_challenge"
        case .declined: "decline"
        case .rerouted: "reroute"
        case .debitInitiated: "initiate_debit"
        case .debitSettled: "settle_debit"
        case .debitReturned: "return_debit"
        case .captured: "capture"
        case .canceled: "cancel"
        case .heldForReview: "hold_for_review"
        case .reviewApproved: "approve_review"
        case .refundRequested: "request_refund"
        case .refundSucceeded: "settle_refund"
        case .refundFailed: "fail_refund"
        }
    }
}

/// A pending 3-D Secure challenge.
/// What the buyer must do before the payment can proceed: answer a 3-D Secure challenge, or
/// (redirect wallets such as PayPal) approve the payment on the provider's page at `redirectURL`.
public struct ThreeDSChallenge: Hashable, Sendable {
    public var challengeID: String
    public var attemptsRemaining: Int
    /// Set for a redirect-and-approve method; nil for 3-D Secure.
    public var redirectURL: String?
    public init(challengeID: String, attemptsRemaining: Int, redirectURL: String? = nil) {
        self.challengeID = challengeID
        self.attemptsRemaining = attemptsRemaining
        self.redirectURL = redirectURL
    }
}

/// The legal transitions of a payment, as a pure function of (state, event).
public enum PaymentStateMachine {
    /// The state after `event`, or nil when the event is illegal in `status`.
    /// `challengeFailed` and the refund events need the payment's amounts as well; this
    /// function answers for the status alone (see ``Payment/apply(_:at:)``).
    public static func next(_ status: PaymentStatus, _ event: PaymentEvent, attemptsRemainingAfterFailure: Int = 1) -> PaymentStatus? {
        switch (status, event) {
        case (.processing, .authorized): .requiresCapture
        case (.processing, .challengeRequired): .requiresAction
        case (.processing, .declined): .failed
        case (.processing, .rerouted): .processing
        case (.processing, .debitInitiated): .processing
        case (.processing, .debitSettled): .succeeded
        case (.processing, .debitReturned): .failed
        case (.requiresAction, .challengePassed): .processing
        case (.requiresAction, .challengeFailed): attemptsRemainingAfterFailure > 0 ? .requiresAction : .failed
        case (.requiresAction, .challengeExpired): .failed
        case (.requiresCapture, .captured): .succeeded
        case (.requiresCapture, .heldForReview): .requiresReview
        case (.requiresReview, .reviewApproved): .requiresCapture
        case (.requiresAction, .canceled), (.requiresCapture, .canceled), (.requiresReview, .canceled): .canceled
        case (.succeeded, .refundRequested), (.succeeded, .refundSucceeded), (.succeeded, .refundFailed): .succeeded
        default: nil
        }
    }

    /// The events a payment in `status` accepts, by name; used in error messages.
    public static func allowedEventNames(in status: PaymentStatus) -> [String] {
        let probes: [PaymentEvent] = [
            .authorized(processorReference: ""), .challengeRequired(ThreeDSChallenge(challengeID: "", attemptsRemaining: 1)),
            .challengePassed, .challengeFailed, .challengeExpired, .declined(.declined(.genericDecline, "")), .rerouted(to: ""), .debitInitiated(processorReference: ""), .debitSettled,
            .debitReturned(.declined(.genericDecline, "")), .captured(amountMinor: 1),
            .canceled, .heldForReview, .reviewApproved, .refundRequested(amountMinor: 1), .refundSucceeded(amountMinor: 1), .refundFailed(amountMinor: 1),
        ]
        return probes.filter { next(status, $0) != nil }.map(\.name)
    }
}
