import PayrailDomain
import PayrailProtos
import SwiftProtobuf

/// The JSON body merchants receive for an event: `{"id", "object": "event", "type", "created",
/// "livemode", "data": {"object": ...}}`, the object being the resource as the API returns it
/// at the time of the event (protobuf JSON mapping, proto field names). Built without
/// Foundation's JSON; the event's id and type are our own ASCII identifiers.
public struct WebhookEventRenderer: Sendable {
    public init() {}

    public func body(_ event: DomainEvent) throws -> [UInt8] {
        var options = JSONEncodingOptions()
        options.preserveProtoFieldNames = true
        let object: String
        if event.type.rawValue.hasPrefix("payment.") {
            object = try Payrail_V1_Payment(serializedBytes: event.payload).jsonString(options: options)
        } else if event.type.rawValue.hasPrefix("refund.") {
            object = try Payrail_V1_Refund(serializedBytes: event.payload).jsonString(options: options)
        } else if event.type.rawValue.hasPrefix("subscription.") {
            object = try Payrail_V1_Subscription(serializedBytes: event.payload).jsonString(options: options)
        } else if event.type.rawValue.hasPrefix("invoice.") {
            object = try Payrail_V1_Invoice(serializedBytes: event.payload).jsonString(options: options)
        } else if event.type.rawValue.hasPrefix("payout.") {
            object = try Payrail_V1_Payout(serializedBytes: event.payload).jsonString(options: options)
        } else if event.type.rawValue.hasPrefix("dispute.") {
            object = try Payrail_V1_Dispute(serializedBytes: event.payload).jsonString(options: options)
        } else {
            // Platform events (webhook_endpoint.*) carry their JSON object already.
            object = String(decoding: event.payload, as: UTF8.self)
        }
        let text = #"{"id":"\#(event.id)","object":"event","type":"\#(event.type.rawValue)","created":\#(event.createdAtMs / 1000),"#
            + #""livemode":\#(event.livemode),"data":{"object":\#(object)}}"#
        return Array(text.utf8)
    }
}
