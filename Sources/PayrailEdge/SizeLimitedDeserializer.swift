import GRPCCore
import GRPCProtobuf
import PayrailDomain
import PayrailRuntime
import SwiftProtobuf

/// Decodes a request only if it is within the edge's message size limit; a larger one is
/// refused with RESOURCE_EXHAUSTED and reason `message_too_large` before any parsing. (The
/// transport has a higher hard cap of its own, past which it resets the stream.)
struct SizeLimitedDeserializer<Message: SwiftProtobuf.Message>: MessageDeserializer {
    let limitBytes: Int

    init(limitBytes: Int = RequestLimits.messageBytesMax) { self.limitBytes = limitBytes }

    func deserialize<Bytes: GRPCContiguousBytes>(_ serializedMessageBytes: Bytes) throws -> Message {
        guard serializedMessageBytes.count <= limitBytes else {
            throw RPCErrorMapping.rpcError(PayrailError(.messageTooLarge, "request message exceeds \(limitBytes) bytes"))
        }
        return try ProtobufDeserializer<Message>().deserialize(serializedMessageBytes)
    }
}

extension RPCRouter {
    /// Registers a unary method with the size-limited deserializer.
    mutating func registerLimited<Input: SwiftProtobuf.Message, Output: SwiftProtobuf.Message>(
        _ descriptor: MethodDescriptor, _ input: Input.Type, _ output: Output.Type,
        _ handler: @escaping @Sendable (StreamingServerRequest<Input>, ServerContext) async throws -> StreamingServerResponse<Output>
    ) {
        registerHandler(forMethod: descriptor, deserializer: SizeLimitedDeserializer<Input>(),
                        serializer: ProtobufSerializer<Output>(), handler: handler)
    }
}
