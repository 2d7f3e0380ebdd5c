import PayrailDomain
import PayrailRuntime
import SwiftProtobuf

/// Protobuf snapshots of responses for idempotent replay.
public struct ProtobufSnapshotCodec: ResponseSnapshotCodec {
    public init() {}

    public func snapshot(_ payment: Payment) -> [UInt8] {
        // Serializing a fully-initialized proto3 message cannot fail.
        try! ProtoMapping.proto(payment).serializedBytes()
    }

    public func snapshot(_ refund: Refund) -> [UInt8] {
        try! ProtoMapping.proto(refund).serializedBytes()
    }

    public func snapshot(_ subscription: Subscription) -> [UInt8] {
        try! ProtoMapping.proto(subscription).serializedBytes()
    }

    public func snapshot(_ invoice: Invoice) -> [UInt8] {
        try! ProtoMapping.proto(invoice).serializedBytes()
    }

    public func snapshot(_ payout: Payout) -> [UInt8] {
        try! ProtoMapping.proto(payout).serializedBytes()
    }

    public func snapshot(_ dispute: Dispute) -> [UInt8] {
        try! ProtoMapping.proto(dispute).serializedBytes()
    }
}
