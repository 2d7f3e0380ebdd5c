/// The port to the bank and card rails that carry payouts out: batched bank transfers
/// (standard) and push-to-card (instant). Every instruction carries the payout's id as its
/// idempotency key: submitting a payout again returns its first acceptance and never pays twice.
public protocol PayoutRail: Sendable {
    var name: String { get }
    /// Sends standard payouts in one batch file; answers per payout id.
    func submitBatch(_ instructions: [BankPayoutInstruction]) async throws(ConnectorError) -> [String: PayoutAcceptance]
    /// Whether a card can receive funds instantly (the network's eligibility inquiry).
    func pushToCardEligible(_ card: CardNumber) async throws(ConnectorError) -> Bool
    /// Pushes an instant payout to a card.
    func pushToCard(_ card: CardNumber, amount: Money, payoutID: String) async throws(ConnectorError) -> PayoutAcceptance
    /// What became of a payout sent earlier.
    func payoutStatus(reference: String) async throws(ConnectorError) -> RailPayoutStatus
}

/// One standard payout in a batch file.
public struct BankPayoutInstruction: Hashable, Sendable {
    public var payoutID: String
    public var amount: Money
    public var routingNumber: String
    public var accountLast4: String
    public init(payoutID: String, amount: Money, routingNumber: String, accountLast4: String) {
        self.payoutID = payoutID
        self.amount = amount
        self.routingNumber = routingNumber
        self.accountLast4 = accountLast4
    }
}

public enum PayoutAcceptance: Hashable, Sendable {
    /// Taken; expected to arrive at `arrivalAtMs`.
    case accepted(reference: String, arrivalAtMs: Int64)
    /// Refused outright (`ineligible_card`, `invalid_account`).
    case refused(code: String)
}

public enum RailPayoutStatus: Hashable, Sendable {
    case inTransit
    case paid
    /// Returned, with the bank's return code (`account_closed`, `no_account`).
    case failed(code: String)
}
