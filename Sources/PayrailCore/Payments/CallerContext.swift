import PayrailDomain

/// Who is asking, as authenticated by an edge.
public struct CallerContext: Sendable, Hashable {
    public var merchantID: String
    public var livemode: Bool
    /// The region of the edge the call came through (routing may depend on it); empty when
    /// the call did not come through an edge.
    public var region: String
    public init(merchantID: String, livemode: Bool, region: String = "") {
        self.merchantID = merchantID
        self.livemode = livemode
        self.region = region
    }
}

/// The answer to an idempotent request: the resource as this call left it, or the stored
/// bytes of the first call's answer when this is a retry.
public enum IdempotentOutcome<Resource: Sendable>: Sendable {
    case current(Resource)
    case replayed([UInt8])
}

/// Serializes responses so a retry can be answered byte for byte. The gRPC adapter
/// provides it (protobuf); the service stores the bytes in the same transaction as the
/// change they describe.
public protocol ResponseSnapshotCodec: Sendable {
    func snapshot(_ payment: Payment) -> [UInt8]
    func snapshot(_ refund: Refund) -> [UInt8]
    func snapshot(_ dispute: Dispute) -> [UInt8]
    func snapshot(_ payout: Payout) -> [UInt8]
    func snapshot(_ subscription: Subscription) -> [UInt8]
    func snapshot(_ invoice: Invoice) -> [UInt8]
}
