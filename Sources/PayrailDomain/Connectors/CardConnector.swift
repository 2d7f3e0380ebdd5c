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
}

/// What a connector needs to authorize a card. Holds the PAN and CVC only in memory, for
/// the duration of the call; both print masked.
public struct AuthorizationRequest: Sendable {
    public var idempotencyKey: String
    public var paymentID: String
    public var merchantID: String
    public var amount: Money
    public var card: CardNumber
    public var expiry: CardExpiry
    public var securityCode: CardSecurityCode?
    /// Authorize and capture in one message (a "sale").
    public var capture: Bool
    /// Ask the issuer for a 3-D Secure challenge even if it would not require one (the fraud
    /// check's `require_3ds`).
    public var requestChallenge = false

    public init(idempotencyKey: String, paymentID: String, merchantID: String, amount: Money, card: CardNumber,
                expiry: CardExpiry, securityCode: CardSecurityCode?, capture: Bool) {
        self.idempotencyKey = idempotencyKey
        self.paymentID = paymentID
        self.merchantID = merchantID
        self.amount = amount
        self.card = card
        self.expiry = expiry
        self.securityCode = securityCode
        self.capture = capture
    }
}

/// Identifies a 3-D Secure challenge at the processor.
public struct ChallengeReference: Hashable, Sendable {
    public var challengeID: String
    public init(challengeID: String) { self.challengeID = challengeID }
}

public enum AuthorizationOutcome: Hashable, Sendable {
    case approved(processorReference: String)
    case challengeRequired(ThreeDSChallenge)
    case declined(Failure)
}

public enum ChallengeOutcome: Hashable, Sendable {
    /// Authenticated; the authorization went through (or was declined) with it.
    case authenticated(AuthorizationOutcome)
    /// Wrong code; the cardholder may try again while attempts remain.
    case wrongCode
}

public enum ProcessorOutcome: Hashable, Sendable {
    case succeeded(processorReference: String)
    case failed(Failure)
}

/// The processor could not be reached or did not answer in time: the outcome is unknown,
/// and the call must be repeated with the same idempotency key (or its status queried).
public enum ConnectorError: Error, Hashable, Sendable {
    case timeout
    case unavailable
}
