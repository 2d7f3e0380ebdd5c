/// The port every card processor implements: the payment service calls these and nothing
/// else, so a simulated network and a real acquirer are interchangeable. Every call carries
/// a processor-side idempotency key: repeating a call with the same key returns the first
/// outcome and never authorizes, captures or refunds twice.
public protocol CardConnector: Sendable {
    /// Stable name recorded on payments and ledger accounts, e.g. "cardsim".
    var name: String { get }

    func authorize(_ request: AuthorizationRequest) async throws(ConnectorError) -> AuthorizationOutcome
    func completeChallenge(reference: ChallengeReference, otp: String, idempotencyKey: String) async throws(ConnectorError) -> ChallengeOutcome
    func capture(processorReference: String, amount: Money, idempotencyKey: String) async throws(ConnectorError) -> ProcessorOutcome
    func void(processorReference: String, idempotencyKey: String) async throws(ConnectorError) -> ProcessorOutcome
    func refund(processorReference: String, amount: Money, idempotencyKey: String) async throws(ConnectorError) -> ProcessorOutcome
    /// What the processor did with the authorization sent under `idempotencyKey`: asked after a
    /// timeout (is the outcome known there?) and by the reconciliation job.
    func authorizationStatus(idempotencyKey: String) async throws(ConnectorError) -> AuthorizationStatus
    /// A timeout reversal (ISO 8583 0400 in the card world): whatever the authorization sent under
    /// `idempotencyKey` did is undone, and if that authorization reaches the processor later it
    /// is refused. Sent before giving up on a processor, so failing over never leaves a second
    /// authorization behind.
    func reverseAuthorization(idempotencyKey: String) async throws(ConnectorError) -> ProcessorOutcome

    /// Sends the merchant's evidence for a chargeback; the network decides later (a notification).
    func submitDisputeEvidence(networkDisputeID: String, evidence: String, idempotencyKey: String) async throws(ConnectorError) -> ProcessorOutcome
    /// The merchant concedes the chargeback.
    func acceptDispute(networkDisputeID: String, idempotencyKey: String) async throws(ConnectorError) -> ProcessorOutcome
    /// What the processor reported on its own (its webhooks), oldest first, until acknowledged:
    /// delivered at least once, so handling must be idempotent.
    func pendingNotifications(limit: Int) async throws(ConnectorError) -> [ConnectorNotification]
    func acknowledgeNotifications(ids: [String]) async throws(ConnectorError)
}

/// Something a processor tells us without being asked: a chargeback opened or decided, a bank
/// debit settled or returned.
public struct ConnectorNotification: Hashable, Sendable {
    public enum Event: Hashable, Sendable {
        case disputeOpened(DisputeNotice)
        case disputeClosed(networkDisputeID: String, won: Bool)
        /// A bank debit settled: the funds arrived.
        case debitSettled(paymentID: String, merchantID: String, processorReference: String)
        /// The buyer finished on a redirect provider's page (approved or canceled): the payment
        /// can be completed.
        case redirectCompleted(paymentID: String, merchantID: String, reference: String)
        /// A bank debit was returned with the bank's code (`insufficient_funds`, `account_closed`).
        case debitReturned(paymentID: String, merchantID: String, processorReference: String, code: String)
    }
    /// The processor's id for the notification (acknowledged by it).
    public let id: String
    public let event: Event
    public init(id: String, event: Event) {
        self.id = id
        self.event = event
    }
}

/// A chargeback as the network reports it.
public struct DisputeNotice: Hashable, Sendable {
    public var networkDisputeID: String
    /// Our payment id, which we sent with the authorization (the merchant reference).
    public var paymentID: String
    public var merchantID: String
    public var processorReference: String
    public var amount: Money
    public var reason: String
    public var evidenceDueAtMs: Int64
    public init(networkDisputeID: String, paymentID: String, merchantID: String, processorReference: String, amount: Money,
                reason: String, evidenceDueAtMs: Int64) {
        self.networkDisputeID = networkDisputeID
        self.paymentID = paymentID
        self.merchantID = merchantID
        self.processorReference = processorReference
        self.amount = amount
        self.reason = reason
        self.evidenceDueAtMs = evidenceDueAtMs
    }
}

/// The processor's answer to a status query.
public enum AuthorizationStatus: Hashable, Sendable {
    /// The processor has no authorization under that key: it never arrived (or was reversed
    /// before it did).
    case notReceived
    /// The processor handled it; `captured` says whether funds were captured with it (a sale).
    case completed(AuthorizationOutcome, captured: Bool)
    /// Reversed: any authorization under the key was released.
    case reversed
}

/// What is being charged, as the processor needs it. Card numbers, CVCs and account numbers
/// stay in memory for the duration of the call and print masked.
public enum PaymentInstrument: Sendable, CustomStringConvertible {
    case card(CardNumber, CardExpiry, CardSecurityCode?)
    /// A wallet's network token with its one-time cryptogram (no CVC, no 3-D Secure: the
    /// wallet authenticated the cardholder).
    case networkToken(CardNumber, CardExpiry, cryptogram: String, wallet: WalletType)
    case bankAccount(scheme: BankDebitScheme, identifier: String, bankCode: String, holderName: String)
    case installments(BNPLPlan)
    /// A redirect-and-approve wallet (PayPal style): the buyer approves on the provider's page
    /// and comes back to `returnURL`.
    case redirect(provider: String, returnURL: String)

    /// The card or network token, for card-based instruments.
    public var cardNumber: CardNumber? {
        switch self {
        case .card(let number, _, _), .networkToken(let number, _, _, _): number
        case .bankAccount, .installments, .redirect: nil
        }
    }

    public var description: String {
        switch self {
        case .card(let number, _, _): "card \(number)"
        case .networkToken(let number, _, _, let wallet): "\(wallet.rawValue) \(number)"
        case .bankAccount(let scheme, let identifier, _, _): "\(scheme.rawValue) ****\(identifier.suffix(4))"
        case .installments(let plan): "bnpl \(plan.provider) x\(plan.installments)"
        case .redirect(let provider, _): "redirect \(provider)"
        }
    }
}

/// What a connector needs to authorize (or, for bank debits, initiate) a payment.
public struct AuthorizationRequest: Sendable {
    public var idempotencyKey: String
    public var paymentID: String
    public var merchantID: String
    public var amount: Money
    public var instrument: PaymentInstrument
    /// Authorize and capture in one message (a "sale").
    public var capture: Bool
    /// Ask the issuer for a 3-D Secure challenge even if it would not require one (the fraud
    /// check's `require_3ds`).
    public var requestChallenge = false

    public init(idempotencyKey: String, paymentID: String, merchantID: String, amount: Money, instrument: PaymentInstrument, capture: Bool) {
        self.idempotencyKey = idempotencyKey
        self.paymentID = paymentID
        self.merchantID = merchantID
        self.amount = amount
        self.instrument = instrument
        self.capture = capture
    }

    /// A card authorization.
    public init(idempotencyKey: String, paymentID: String, merchantID: String, amount: Money, card: CardNumber,
                expiry: CardExpiry, securityCode: CardSecurityCode?, capture: Bool) {
        self.init(idempotencyKey: idempotencyKey, paymentID: paymentID, merchantID: merchantID, amount: amount,
                  instrument: .card(card, expiry, securityCode), capture: capture)
    }
}

/// Identifies a 3-D Secure challenge at the processor.
public struct ChallengeReference: Hashable, Sendable {
    public var challengeID: String
    public init(challengeID: String) { self.challengeID = challengeID }
}

public enum AuthorizationOutcome: Hashable, Sendable {
    case approved(processorReference: String)
    /// Accepted, outcome later (a bank debit): the processor notifies settlement or return.
    case pending(processorReference: String)
    case challengeRequired(ThreeDSChallenge)
    case declined(Failure)
}

public enum ChallengeOutcome: Hashable, Sendable {
    /// Authenticated; the authorization went through (or was declined) with it.
    case authenticated(AuthorizationOutcome)
    /// Wrong code; the cardholder may try again while attempts remain.
    case wrongCode
    /// The buyer has not finished on the provider's page yet: nothing changes.
    case pending
}

public enum ProcessorOutcome: Hashable, Sendable {
    case succeeded(processorReference: String)
    case failed(Failure)
}

/// A call that did not produce an answer. The two cases differ in what we know:
public enum ConnectorError: Error, Hashable, Sendable {
    /// Sent, and no answer in time: the processor may have acted. Repeat with the same
    /// idempotency key or query the status; never send it elsewhere before a reversal.
    case timeout
    /// Refused before any processing (connection refused, HTTP 503, rate limited): nothing
    /// happened, so a retry, here or at another processor, is safe.
    case unavailable
}
