/// Where a chargeback is. The network opens it and withdraws the funds; the merchant answers
/// with evidence or accepts; the network decides.
public enum DisputeStatus: String, Hashable, Sendable, CaseIterable {
    /// Opened by the network; the funds and the fee are withdrawn; the merchant may submit
    /// evidence until `evidenceDueAtMs`, or accept.
    case needsResponse = "needs_response"
    /// Evidence submitted; the network is deciding.
    case underReview = "under_review"
    /// Decided for the merchant: the disputed funds were reinstated (the fee stays).
    case won
    /// Decided for the cardholder, or accepted: final.
    case lost

    public var isClosed: Bool { self == .won || self == .lost }
}

/// A chargeback on a captured payment, as the network reported it. Changes only through
/// ``submitEvidence(_:at:)``, ``accept(at:)`` and ``close(won:at:)``, which enforce the
/// lifecycle.
public struct Dispute: Hashable, Sendable {
    public let id: String
    public let paymentID: String
    public let merchantID: String
    public let livemode: Bool
    /// The processor that holds the payment and reported the dispute.
    public let connector: String
    /// The network's id for the dispute (unique per connector): notifications name it.
    public let networkDisputeID: String
    /// The disputed amount, withdrawn from the merchant's balance when the dispute opened.
    public let amount: Money
    /// What the merchant pays for the dispute, won or lost: in the disputed currency, or in the
    /// merchant's settlement currency when the payment settled through FX.
    public let fee: Money
    /// The network's reason (`fraudulent`, `product_not_received`, ...).
    public let reason: String
    public let evidenceDueAtMs: Int64
    public let createdAtMs: Int64
    public private(set) var status: DisputeStatus
    /// What the merchant submitted (text, bounded by the API).
    public private(set) var evidence: String
    public private(set) var updatedAtMs: Int64
    public private(set) var version: Int64

    public init(id: String, paymentID: String, merchantID: String, livemode: Bool, connector: String, networkDisputeID: String,
                amount: Money, fee: Money, reason: String, evidenceDueAtMs: Int64, createdAtMs: Int64,
                status: DisputeStatus = .needsResponse, evidence: String = "", updatedAtMs: Int64? = nil, version: Int64 = 1) {
        self.id = id
        self.paymentID = paymentID
        self.merchantID = merchantID
        self.livemode = livemode
        self.connector = connector
        self.networkDisputeID = networkDisputeID
        self.amount = amount
        self.fee = fee
        self.reason = reason
        self.evidenceDueAtMs = evidenceDueAtMs
        self.createdAtMs = createdAtMs
        self.status = status
        self.evidence = evidence
        self.updatedAtMs = updatedAtMs ?? createdAtMs
        self.version = version
        checkInvariants()
    }

    /// Records the merchant's evidence; only while the dispute needs a response.
    public mutating func submitEvidence(_ text: String, at nowMs: Int64) throws(PayrailError) {
        guard status == .needsResponse else {
            throw PayrailError(.disputeUnexpectedState, "evidence can only be submitted while the dispute needs a response (status \(status.rawValue))")
        }
        guard nowMs <= evidenceDueAtMs else {
            throw PayrailError(.disputeUnexpectedState, "the evidence was due at \(evidenceDueAtMs) (unix ms)")
        }
        status = .underReview
        evidence = text
        touch(nowMs)
    }

    /// The merchant concedes: lost, final.
    public mutating func accept(at nowMs: Int64) throws(PayrailError) {
        guard status == .needsResponse else {
            throw PayrailError(.disputeUnexpectedState, "only a dispute that needs a response can be accepted (status \(status.rawValue))")
        }
        status = .lost
        touch(nowMs)
    }

    /// The network decided. A closed dispute stays closed (a repeated notification changes nothing).
    public mutating func close(won: Bool, at nowMs: Int64) throws(PayrailError) {
        guard !status.isClosed else {
            throw PayrailError(.disputeUnexpectedState, "the dispute is already \(status.rawValue)")
        }
        status = won ? .won : .lost
        touch(nowMs)
    }

    private mutating func touch(_ nowMs: Int64) {
        updatedAtMs = max(updatedAtMs, nowMs)
        version += 1
        checkInvariants()
    }

    public func checkInvariants() {
        precondition(amount.amountMinor > 0, "dispute \(id): amount must be positive")
        precondition(fee.amountMinor >= 0, "dispute \(id): negative fee")
        precondition(status != .underReview || !evidence.isEmpty, "dispute \(id): under review without evidence")
    }
}

/// What a dispute costs the merchant: 15 major units in the disputed currency (15.00 USD,
/// 15.000 KWD), 2,000 in currencies without minor units (JPY), as card networks charge a flat
/// fee per chargeback. Charged when the dispute opens and kept whatever the outcome.
public enum DisputeFees {
    public static func fee(for currency: Currency) -> Money {
        var minor: Int64 = currency.exponent == 0 ? 2_000 : 15
        for _ in 0..<currency.exponent { minor *= 10 }
        return Money(amountMinor: minor, currency: currency)
    }
}
