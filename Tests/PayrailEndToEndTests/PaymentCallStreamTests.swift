import GRPCCore
import GRPCNIOTransportHTTP2
import GRPCProtobuf
import Logging
import PayrailCluster
import PayrailDomain
@testable import PayrailEdge
import PayrailProtos
import PayrailRuntime
import PayrailSimulators
import ServiceLifecycle
import Synchronization
import Testing

/// The edge's `PaymentCalls` stream to the core: the same answers and errors as the unary
/// calls, deadlines kept by the edge, a broken stream failing its calls as a broken unary call
/// does and opened again, and a core without the method served unary.
@Suite struct PaymentCallStreamTests {
    /// Payments through a streaming edge and through a unary-only edge at the same core: the
    /// payments are equal in shape, and a core error reaches the merchant identically (code,
    /// message, reason, status details) either way.
    @Test func streamedCallsAnswerAsUnaryCallsDo() async throws {
        try await withCluster { cluster, _, _, _ in
            let merchant = try await cluster.core.apiKeys.createMerchant(name: "Streams")
            let client = try EdgeClient(port: cluster.edgePorts[0], caPath: cluster.pki.caCertificatePath, apiKey: merchant.apiKey)
            let gateway = cluster.edges[0].gateway
            #expect(await eventually { gateway.pipes.allSatisfy(\.isReady) }, "the edge's streams to the core become ready")
            let before = gateway.pipedPaymentCalls

            var configuration = EdgeNode.Configuration(pki: cluster.pki, corePort: cluster.corePort)
            configuration.edgeID = "unary-1"
            configuration.pipedPaymentCalls = false
            let unaryEdge = try EdgeNode(configuration: configuration)
            #expect(unaryEdge.gateway.pipes.isEmpty)
            let group = ServiceGroup(configuration: .init(services: unaryEdge.services.map { .init(service: $0) }, logger: .init(label: "test")))
            let running = Task { try await group.run() }
            defer { running.cancel() }
            let unary = try EdgeClient(port: try await unaryEdge.listeningPort(), caPath: cluster.pki.caCertificatePath, apiKey: merchant.apiKey)

            for (name, edge) in [("streamed", client), ("unary", unary)] {
                let paid = try await edge.payments.createPayment(createRequest(key: "\(name)-1"), metadata: edge.metadata)
                #expect(paid.status == .succeeded, "\(name)")
                let read = try await edge.payments.getPayment(.with { $0.paymentID = paid.id }, metadata: edge.metadata)
                #expect(read == paid, "\(name): a read returns what the create answered")
                let held = try await edge.payments.createPayment(createRequest(key: "\(name)-2", capture: .manual), metadata: edge.metadata)
                let captured = try await edge.payments.capturePayment(.with { $0.paymentID = held.id; $0.idempotencyKey = "\(name)-c" },
                                                                      metadata: edge.metadata)
                #expect(held.status == .requiresCapture && captured.status == .succeeded, "\(name)")
            }
            #expect(gateway.pipedPaymentCalls - before == 4, "every payment call of the streaming edge went on its streams")

            // The same core refusals, through either edge.
            let missing = "pay_" + String(repeating: "0", count: 26)
            for call in [
                { (edge: EdgeClient) in _ = try await edge.payments.getPayment(.with { $0.paymentID = missing }, metadata: edge.metadata) },
                { (edge: EdgeClient) in
                    let paid = try await edge.payments.createPayment(createRequest(key: UUIDKey.next()), metadata: edge.metadata)
                    _ = try await edge.payments.capturePayment(.with { $0.paymentID = paid.id; $0.idempotencyKey = UUIDKey.next() }, metadata: edge.metadata)
                },
            ] {
                let streamed = try #require(await refusal { try await call(client) })
                let direct = try #require(await refusal { try await call(unary) })
                #expect(streamed.code == direct.code && streamed.message == direct.message)
                for key in [RPCErrorMapping.reasonKey, RPCErrorMapping.fieldKey, RPCErrorMapping.declineCodeKey] {
                    #expect(Array(streamed.metadata[stringValues: key]) == Array(direct.metadata[stringValues: key]), "\(key)")
                }
                #expect(Array(streamed.metadata[binaryValues: RPCErrorMapping.statusDetailsKey])
                        == Array(direct.metadata[binaryValues: RPCErrorMapping.statusDetailsKey]))
                #expect(!RPCErrorMapping.payrailError(streamed).code.reason.isEmpty && streamed.code != .unavailable)
            }
            await unary.close()
            await client.close()
            await group.triggerGracefulShutdown()
            _ = await running.result
        }
    }

    /// A stream over the core's in-flight limit: the calls beyond it are refused at once with
    /// `core_overloaded` (UNAVAILABLE: nothing was written, retry with the same key) instead
    /// of queueing, the admitted ones finish, and a refused call retried later succeeds once.
    @Test func callsBeyondAStreamsLimitAreRefusedAsOverloaded() async throws {
        let slowNetwork = CardNetworkSimulator(configuration: .init(latencyMinMs: 600, latencyMaxMs: 600, tailPerMille: 0, tailMultiplier: 1,
                                                                    timeoutMs: 5_000))
        try await withCluster(configure: { options in
            options.pipedCallsInFlightMax = 2
            options.connector = slowNetwork
        }) { cluster, client, _, _ in
            let gateway = cluster.edges[0].gateway
            #expect(await eventually { gateway.pipes.allSatisfy(\.isReady) }, "the edge's streams to the core become ready")
            let streams = gateway.pipes.count
            let total = 4 * streams
            // Every stream gets four calls while its first two wait 600 ms on the network.
            let outcomes = await withTaskGroup(of: (String, RPCError?).self) { group in
                for index in 0..<total {
                    group.addTask {
                        let key = "overload-\(index)"
                        do {
                            _ = try await client.payments.createPayment(createRequest(key: key), metadata: client.metadata)
                            return (key, nil)
                        } catch {
                            return (key, error as? RPCError ?? RPCError(code: .unknown, message: "\(error)"))
                        }
                    }
                }
                return await group.reduce(into: [(String, RPCError?)]()) { $0.append($1) }
            }
            let refused = outcomes.compactMap { key, error in error.map { (key, $0) } }
            #expect(outcomes.count - refused.count <= 2 * streams, "no stream ran more than two calls at once")
            #expect(!refused.isEmpty, "calls beyond the limit were refused")
            for (key, error) in refused {
                #expect(error.code == .unavailable, "\(key): \(error)")
                #expect(Array(error.metadata[stringValues: RPCErrorMapping.reasonKey]) == ["core_overloaded"], "\(key)")
            }
            // Nothing of a refused call was written: its retry is the first (and only) payment.
            let (key, _) = try #require(refused.first)
            let retried = try await client.payments.createPayment(createRequest(key: key), metadata: client.metadata)
            #expect(retried.status == .succeeded)
            let again = try await client.payments.createPayment(createRequest(key: key), metadata: client.metadata)
            #expect(again.id == retried.id)
        }
    }

    /// A core that accepts calls and never answers: the edge gives up at the call's deadline.
    @Test func anUnansweredCallEndsAtItsDeadline() async throws {
        try await withFakeCore(FakePaymentCalls { calls, writer in
            try await writer.write(Payrail_Internal_V1_PipedResult())  // ready
            for try await _ in calls {}
        }) { pipe in
            #expect(await eventually { pipe.isReady })
            let started = ContinuousClock.now
            await #expect(throws: RPCError.self) {
                do {
                    _ = try await pipe.send(.getPayment(.init()), timeout: .milliseconds(150))
                } catch let error as RPCError {
                    #expect(error.code == .deadlineExceeded)
                    throw error
                }
            }
            #expect(ContinuousClock.now - started >= .milliseconds(150))
            #expect(pipe.callsSent == 1)
        }
    }

    /// A stream that breaks with a call on it: the call fails UNAVAILABLE without a Payrail
    /// reason (the edge then fails over or tells the merchant to retry with the same key), and
    /// the edge opens a new stream that carries the next call.
    @Test func aBrokenStreamFailsItsCallsAndIsOpenedAgain() async throws {
        let streams = Counter()
        try await withFakeCore(FakePaymentCalls { calls, writer in
            let stream = streams.next()
            try await writer.write(Payrail_Internal_V1_PipedResult())
            for try await call in calls {
                if stream == 1 { throw RPCError(code: .internalError, message: "stream reset") }
                var answer = Payrail_Internal_V1_PipedResult()
                answer.id = call.id
                answer.payment = .with { $0.id = "pay_answered" }
                try await writer.write(answer)
            }
        }) { pipe in
            #expect(await eventually { pipe.isReady })
            do {
                _ = try await pipe.send(.getPayment(.init()), timeout: .seconds(10))
                Issue.record("a call on a broken stream succeeded")
            } catch let error as RPCError {
                #expect(error.code == .unavailable)
                #expect(error.metadata[stringValues: RPCErrorMapping.reasonKey].first(where: { _ in true }) == nil)
            }
            #expect(await eventually { pipe.streamsReady == 2 && pipe.isReady }, "a new stream is opened")
            let answer = try #require(try await pipe.send(.getPayment(.init()), timeout: .seconds(10)))
            #expect(answer.payment.id == "pay_answered")
        }
    }

    /// A core that does not serve `PaymentCalls` (an older version): every call takes the
    /// unary path (`send` returns nil without sending), and the edge asks again later.
    @Test func aCoreWithoutTheStreamIsCalledUnary() async throws {
        try await withFakeCore(nil, unimplementedRetry: .milliseconds(50)) { pipe in
            #expect(await eventually { pipe.streamsRefused >= 2 }, "the core is asked again after UNIMPLEMENTED")
            let answer = try await pipe.send(.getPayment(.init()), timeout: .seconds(1))
            #expect(answer == nil)
            #expect(pipe.callsSent == 0 && !pipe.isReady)
        }
    }

    // MARK: Fixtures

    private func refusal(_ body: () async throws -> Void) async -> RPCError? {
        do {
            try await body()
            return nil
        } catch {
            return error as? RPCError
        }
    }

    /// A plaintext server answering only `PaymentCalls` (with `service`; none: UNIMPLEMENTED),
    /// and a pipe to it, running; both stopped after `body`.
    private func withFakeCore(_ service: FakePaymentCalls?, unimplementedRetry: Duration = .seconds(30),
                              _ body: (CoreCallPipe) async throws -> Void) async throws {
        let server = GRPCServer(transport: HTTP2ServerTransport.Posix(address: .ipv4(host: "127.0.0.1", port: 0), transportSecurity: .plaintext),
                                services: service.map { [$0] } ?? [])
        let serving = Task { try await server.serve() }
        defer { serving.cancel() }
        let port = try #require(try await server.listeningAddress?.ipv4?.port)
        let client = GRPCClient(transport: try HTTP2ClientTransport.Posix(target: .ipv4(address: "127.0.0.1", port: port), transportSecurity: .plaintext))
        let connections = Task { try await client.runConnections() }
        defer { connections.cancel() }
        let pipe = CoreCallPipe(client: Payrail_Internal_V1_Core.Client(wrapping: client), logger: Logger(label: "test"),
                                unimplementedRetry: unimplementedRetry)
        let running = Task { try await pipe.run() }
        do {
            try await body(pipe)
        } catch {
            running.cancel()
            throw error
        }
        running.cancel()
        _ = await running.result
        client.beginGracefulShutdown()
        _ = await connections.result
        server.beginGracefulShutdown()
        _ = await serving.result
    }
}

/// Serves `PaymentCalls` with a scripted behaviour.
private struct FakePaymentCalls: RegistrableRPCService {
    let behaviour: @Sendable (RPCAsyncSequence<Payrail_Internal_V1_PipedCall, any Error>, RPCWriter<Payrail_Internal_V1_PipedResult>) async throws -> Void

    init(_ behaviour: @escaping @Sendable (RPCAsyncSequence<Payrail_Internal_V1_PipedCall, any Error>,
                                          RPCWriter<Payrail_Internal_V1_PipedResult>) async throws -> Void) {
        self.behaviour = behaviour
    }

    func registerMethods<Transport: ServerTransport>(with router: inout RPCRouter<Transport>) {
        let behaviour = self.behaviour
        router.registerHandler(forMethod: Payrail_Internal_V1_Core.Method.PaymentCalls.descriptor,
                               deserializer: ProtobufDeserializer<Payrail_Internal_V1_PipedCall>(),
                               serializer: ProtobufSerializer<Payrail_Internal_V1_PipedResult>()) { request, _ in
            StreamingServerResponse { writer in
                try await behaviour(request.messages, writer)
                return [:]
            }
        }
    }
}

private final class Counter: Sendable {
    private let value = Mutex(0)
    func next() -> Int { value.withLock { $0 += 1; return $0 } }
}

private enum UUIDKey {
    static func next() -> String { "k-" + String(UInt64.random(in: 0...UInt64.max), radix: 36) }
}
