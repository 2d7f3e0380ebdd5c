/// Where a refund is: accepted and sent to the processor, then settled or failed.
public enum RefundStatus: String, Hashable, Sendable, CaseIterable {
    case pending, succeeded, failed
}

/// A refund of part or all of a payment's captured amount.
public struct Refund: Hashable, Sendable {
    public let id: String
    public let paymentID: String
    public let merchantID: String
    public let amount: Money
    public let reason: String
    public let createdAtMs: Int64
    public private(set) var status: RefundStatus
    public private(set) var failure: Failure?
    public private(set) var processorReference: String?
    public private(set) var updatedAtMs: Int64

    public init(id: String, paymentID: String, merchantID: String, amount: Money, reason: String, createdAtMs: Int64,
                status: RefundStatus = .pending, failure: Failure? = nil, processorReference: String? = nil, updatedAtMs: Int64? = nil) {
        precondition(amount.amountMinor > 0, "refund amount must be positive")
        precondition((status == .failed) == (failure != nil), "refund failure iff failed")
        self.id = id
        self.paymentID = paymentID
        self.merchantID = merchantID
        self.amount = amount
        self.reason = reason
        self.createdAtMs = createdAtMs
        self.status = status
        self.failure = failure
        self.processorReference = processorReference
        self.updatedAtMs = updatedAtMs ?? createdAtMs
    }

    /// Settles a pending refund. Only a pending refund can settle or fail.
    public mutating func succeed(processorReference: String, at nowMs: Int64) {
        precondition(status == .pending, "refund \(id) settled twice")
        status = .succeeded
        self.processorReference = processorReference
        updatedAtMs = nowMs
    }

    public mutating func fail(_ failure: Failure, at nowMs: Int64) {
        precondition(status == .pending, "refund \(id) failed after settling")
        status = .failed
        self.failure = failure
        updatedAtMs = nowMs
    }
}
