/// How fast a payout reaches the merchant, and what it costs.
public enum PayoutMethod: String, Hashable, Sendable, CaseIterable {
    /// Batched to the bank (ACH/SEPA style): in transit for a while, then paid or failed. Free.
    case standard
    /// Pushed to an eligible debit card in seconds, for a fee.
    case instant
}

public enum PayoutStatus: String, Hashable, Sendable, CaseIterable {
    /// Created, funds reserved; waiting for the next bank batch (standard only).
    case pending
    /// Sent to the bank or card network; not confirmed yet.
    case inTransit = "in_transit"
    /// Confirmed arrived. Terminal.
    case paid
    /// Returned by the bank; the funds went back to the merchant's balance. Terminal.
    case failed

    public var isTerminal: Bool { self == .paid || self == .failed }
}

/// Where a payout goes. Only what is needed to show and route it is kept: the bank account's
/// routing number and last four digits, or a vaulted card's token.
public enum PayoutDestination: Hashable, Sendable {
    case bankAccount(routingNumber: String, last4: String)
    case card(token: String, brand: CardBrand, last4: String)
}

/// Money leaving a merchant's available balance for their bank or card. The amount (and for
/// instant payouts the fee) is taken from the balance when the payout is created, so two
/// payouts can never spend the same funds; a failed payout gives the amount back.
public struct Payout: Hashable, Sendable {
    public let id: String
    public let merchantID: String
    public let livemode: Bool
    public let amount: Money
    public let fee: Money
    public let method: PayoutMethod
    public let destination: PayoutDestination
    public let createdAtMs: Int64
    public private(set) var status: PayoutStatus
    /// The bank's or network's reference once sent.
    public private(set) var bankReference: String?
    /// When the bank said it would arrive (in transit), or did (paid).
    public private(set) var arrivalAtMs: Int64?
    /// Why the bank returned it (`account_closed`, `no_account`, ...).
    public private(set) var failureCode: String?
    public private(set) var updatedAtMs: Int64
    public private(set) var version: Int64

    public init(id: String, merchantID: String, livemode: Bool, amount: Money, fee: Money, method: PayoutMethod,
                destination: PayoutDestination, createdAtMs: Int64, status: PayoutStatus = .pending, bankReference: String? = nil,
                arrivalAtMs: Int64? = nil, failureCode: String? = nil, updatedAtMs: Int64? = nil, version: Int64 = 1) {
        self.id = id
        self.merchantID = merchantID
        self.livemode = livemode
        self.amount = amount
        self.fee = fee
        self.method = method
        self.destination = destination
        self.createdAtMs = createdAtMs
        self.status = status
        self.bankReference = bankReference
        self.arrivalAtMs = arrivalAtMs
        self.failureCode = failureCode
        self.updatedAtMs = updatedAtMs ?? createdAtMs
        self.version = version
        checkInvariants()
    }

    /// Handed to the bank (in a batch) or the card network.
    public mutating func send(bankReference: String, arrivalAtMs: Int64, at nowMs: Int64) {
        precondition(status == .pending, "payout \(id) sent twice")
        status = .inTransit
        self.bankReference = bankReference
        self.arrivalAtMs = arrivalAtMs
        touch(nowMs)
    }

    public mutating func markPaid(at nowMs: Int64) {
        precondition(status == .inTransit, "payout \(id) paid from \(status)")
        status = .paid
        arrivalAtMs = nowMs
        touch(nowMs)
    }

    public mutating func markFailed(code: String, at nowMs: Int64) {
        precondition(status == .inTransit || status == .pending, "payout \(id) failed from \(status)")
        status = .failed
        failureCode = code
        touch(nowMs)
    }

    private mutating func touch(_ nowMs: Int64) {
        updatedAtMs = max(updatedAtMs, nowMs)
        version += 1
        checkInvariants()
    }

    public func checkInvariants() {
        precondition(amount.amountMinor > 0, "payout \(id): amount must be positive")
        precondition(fee.amountMinor >= 0 && fee.currency == amount.currency, "payout \(id): fee in the payout currency")
        precondition(method == .instant || fee.amountMinor == 0, "payout \(id): only instant payouts carry a fee")
        switch (method, destination) {
        case (.instant, .card), (.standard, .bankAccount): break
        default: preconditionFailure("payout \(id): \(method) payouts go to \(method == .instant ? "a card" : "a bank account")")
        }
        precondition((status == .failed) == (failureCode != nil), "payout \(id): failure code iff failed")
        precondition(status == .pending || bankReference != nil, "payout \(id): sent without a bank reference")
    }
}

/// Instant payouts: what they cost and which cards may receive them.
public enum InstantPayouts {
    /// 1 % of the amount, rounded up to the minor unit, at least 0.50 in the currency's major
    /// unit (50 minor units for 2-decimal currencies; 1 unit for JPY).
    public static func fee(for amount: Money) -> Money {
        let percent = (amount.amountMinor + 99) / 100
        var minimum: Int64 = 50
        switch amount.currency.exponent {
        case 0: minimum = 1
        case 3: minimum = 500
        default: break
        }
        return Money(amountMinor: max(percent, minimum), currency: amount.currency)
    }

    /// Debit card ranges that accept push-to-card payouts (Visa Direct / Mastercard Send style),
    /// by BIN. Credit cards and other brands cannot receive funds instantly.
    public static let eligibleDebitBINs: Set<String> = ["400005", "520082", "400010"]

    public static func isEligible(brand: CardBrand, bin: String) -> Bool {
        (brand == .visa || brand == .mastercard) && eligibleDebitBINs.contains(bin)
    }
}

/// A validated payout request.
public struct CreatePayoutCommand: Sendable {
    public enum Destination: Sendable, Hashable {
        /// The full account number travels only as far as the payout's creation: only its last
        /// four digits are stored.
        case bankAccount(routingNumber: String, accountNumber: String)
        case card(token: String)
    }

    public let idempotencyKey: String
    public let amount: Money
    public let method: PayoutMethod
    public let destination: Destination

    public init(idempotencyKey: String, amount: Money, method: PayoutMethod, destination: Destination) {
        self.idempotencyKey = idempotencyKey
        self.amount = amount
        self.method = method
        self.destination = destination
    }
}
