import Foundation
import GRPCCore
import PayrailCluster
@testable import PayrailEdge
import PayrailLoad
import PayrailProtos
import PayrailRuntime
import PayrailSimulators
import ServiceLifecycle
import Testing

/// The null core (`payrail echo --null-core`, the machinery's ceiling in docs/performance.md)
/// behind a real edge: payments go through the edge's whole path (TLS, API key, validation,
/// idempotency cache, the mutual-TLS `PaymentCalls` stream) and come back shaped like real ones.
@Suite struct NullCoreTests {
    @Test(.timeLimit(.minutes(2)))
    func aRealEdgeForwardsPaymentsToTheNullCore() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("payrail-null-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let pki = try DevPKI(directory: directory).ensure()
        let core = NullCoreServer.make(host: "127.0.0.1", port: 0, certificatePath: pki.certificatePath(.core),
                                       keyPath: pki.privateKeyPath(.core), caPath: pki.caCertificatePath)
        let serving = Task { try await core.serve() }
        defer { serving.cancel() }
        let corePort = try #require(try await core.listeningAddress?.ipv4?.port)

        let edge = try EdgeNode(configuration: EdgeNode.Configuration(pki: pki, corePort: corePort))
        let group = ServiceGroup(configuration: .init(services: edge.services.map { .init(service: $0) }, logger: .init(label: "test")))
        let running = Task { try await group.run() }
        defer { running.cancel() }
        let apiKey = "sk_test_" + String(repeating: "a", count: APIKeyFormat.idLength) + String(repeating: "b", count: APIKeyFormat.secretLength)
        let client = try EdgeClient(port: try await edge.listeningPort(), caPath: pki.caCertificatePath, apiKey: apiKey)

        // The null core serves payments on the stream only (no unary CreatePayment). The whole
        // suite runs in parallel on two cores, so the stream gets a generous time to open.
        try #require(await eventually(timeout: .seconds(60)) { edge.gateway.pipes.allSatisfy(\.isReady) },
                     "the edge's streams to the null core become ready")
        let before = edge.gateway.pipedPaymentCalls
        let paid = try await client.payments.createPayment(createRequest(key: "null-1", amount: 4_321, currency: "EUR"), metadata: client.metadata)
        #expect(paid.status == .succeeded && paid.id.hasPrefix("pay_null"))
        #expect(paid.amount.amountMinor == 4_321 && paid.amount.currency == "EUR" && paid.amountCapturedMinor == 4_321)
        #expect(paid.card.last4 == String(TestCards.visaSuccess.suffix(4)) && paid.risk.action == "allow")

        // The edge's idempotency cache answers the retry; the null core would have made a new id.
        let retried = try await client.payments.createPayment(createRequest(key: "null-1", amount: 4_321, currency: "EUR"), metadata: client.metadata)
        #expect(retried.id == paid.id)
        let other = try await client.payments.createPayment(createRequest(key: "null-2"), metadata: client.metadata)
        #expect(other.id != paid.id)
        #expect(edge.gateway.pipedPaymentCalls - before == 2, "both new payments went on the stream; the retry stayed at the edge")

        // Nothing but CreatePayment is served: a read is refused, not answered with made-up data.
        await #expect(throws: RPCError.self) {
            _ = try await client.payments.getPayment(.with { $0.paymentID = paid.id }, metadata: client.metadata)
        }

        await client.close()
        await group.triggerGracefulShutdown()
        _ = await running.result
        core.beginGracefulShutdown()
        _ = await serving.result
    }
}
