import GRPCCore
import GRPCNIOTransportHTTP2
import GRPCProtobuf
import PayrailProtos
import PayrailRuntime
import Synchronization

/// A measurement target, never a product: the core's internal API reduced to what an edge needs
/// for card payments (`AuthenticateAPIKey` and the `PaymentCalls` stream), answering every call
/// at once with a payment of the real answer's shape, with no fraud check, vault, processor or
/// store behind it. Put behind a real `payrail edge`, it measures what the architecture's
/// machinery costs by itself (merchant -> TLS edge -> mutual-TLS stream -> core and back):
/// the ceiling any real core with logic and a durable store stays below (`loadtest/run
/// --null-core`, docs/performance.md).
///
/// Every API key is accepted for one test-mode merchant; other methods are UNIMPLEMENTED
/// (the edge's traffic watcher retries them and the edge serves meanwhile).
public final class NullCoreService: RegistrableRPCService, Sendable {
    public static let merchantID = "mch_nullcore"
    /// A card fingerprint's length (32 hex digits), made once rather than per answer.
    private static let fingerprint = String(repeating: "f", count: 32)
    private let sequence = Atomic<UInt64>(0)

    public init() {}

    public func registerMethods<Transport: ServerTransport>(with router: inout RPCRouter<Transport>) {
        router.registerHandler(forMethod: Payrail_Internal_V1_Core.Method.AuthenticateAPIKey.descriptor,
                               deserializer: ProtobufDeserializer<Payrail_Internal_V1_AuthenticateAPIKeyRequest>(),
                               serializer: ProtobufSerializer<Payrail_Internal_V1_AuthenticateAPIKeyResponse>()) { request, _ in
            for try await _ in request.messages {}
            var response = Payrail_Internal_V1_AuthenticateAPIKeyResponse()
            response.merchantID = Self.merchantID
            response.livemode = false
            return StreamingServerResponse(single: ServerResponse(message: response))
        }
        router.registerHandler(forMethod: Payrail_Internal_V1_Core.Method.PaymentCalls.descriptor,
                               deserializer: ProtobufDeserializer<Payrail_Internal_V1_PipedCall>(),
                               serializer: ProtobufSerializer<Payrail_Internal_V1_PipedResult>()) { request, _ in
            StreamingServerResponse { writer in
                try await self.answer(request.messages, writer)
                return [:]
            }
        }
    }

    /// Answers as the real core's stream does (a ready message, then one answer per call,
    /// written in batches by one writer), minus the task per call: the answer is ready at once.
    private func answer(_ calls: RPCAsyncSequence<Payrail_Internal_V1_PipedCall, any Error>,
                        _ writer: RPCWriter<Payrail_Internal_V1_PipedResult>) async throws {
        let outbox = BatchingOutbox<Payrail_Internal_V1_PipedResult>()
        try await withThrowingDiscardingTaskGroup { group in
            group.addTask {
                while let results = await outbox.next() { try await writer.write(contentsOf: results) }
            }
            outbox.yield(Payrail_Internal_V1_PipedResult())  // id 0: ready
            defer { outbox.finish() }
            for try await call in calls where call.id != 0 {
                var result = Payrail_Internal_V1_PipedResult()
                result.id = call.id
                switch call.call {
                case .createPayment(let create): result.payment = payment(for: create.request)
                default:
                    var error = Payrail_Internal_V1_PipedError()
                    error.code = Int32(RPCError.Code.unimplemented.rawValue)
                    error.message = "the null core answers CreatePayment only"
                    result.error = error
                }
                outbox.yield(result)
            }
        }
    }

    /// A succeeded payment the size of a real one (card summary, risk, timestamps).
    private func payment(for request: Payrail_V1_CreatePaymentRequest) -> Payrail_V1_Payment {
        let n = sequence.add(1, ordering: .relaxed).newValue
        var payment = Payrail_V1_Payment()
        payment.id = "pay_null" + String(n, radix: 36)
        payment.status = .succeeded
        payment.amount = request.amount
        payment.amountCapturedMinor = request.amount.amountMinor
        payment.captureMethod = request.captureMethod
        payment.description_p = request.description_p
        payment.metadata = request.metadata
        payment.livemode = false
        payment.createdAtUnixMs = 1_764_000_000_000 + Int64(n)
        payment.updatedAtUnixMs = payment.createdAtUnixMs
        payment.connector = "acquirer-a"
        var card = Payrail_V1_CardSummary()
        card.token = "tok_null" + String(n, radix: 36)
        card.brand = "visa"
        card.last4 = String(request.card.number.suffix(4))
        card.expMonth = request.card.expMonth
        card.expYear = request.card.expYear
        card.fingerprint = Self.fingerprint
        card.country = "US"
        payment.card = card
        payment.paymentMethod.type = "card"
        var risk = Payrail_V1_RiskAssessment()
        risk.action = "allow"
        risk.score = 0.0123
        risk.modelVersion = "risk-lr-1"
        payment.risk = risk
        return payment
    }
}

public enum NullCoreServer {
    /// The null core on the core's mutual-TLS listener configuration.
    public static func make(host: String, port: Int, certificatePath: String, keyPath: String, caPath: String)
        -> GRPCServer<HTTP2ServerTransport.Posix> {
        let transport = HTTP2ServerTransport.Posix(
            address: .ipv4(host: host, port: port),
            transportSecurity: TransportSecurityFactory.internalServer(certificatePath: certificatePath, keyPath: keyPath, caPath: caPath),
            config: ListenerConfig.internalServer())
        return GRPCServer(transport: transport, services: [NullCoreService()])
    }
}
