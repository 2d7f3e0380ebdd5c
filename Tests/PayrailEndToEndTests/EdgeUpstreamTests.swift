import Foundation
import GRPCCore
import PayrailCluster
import PayrailDomain
@testable import PayrailEdge
import PayrailProtos
import PayrailRuntime
import ServiceLifecycle
import Testing

/// The edge's link to the core: deadlines shortened to the merchant's own, and calls that are
/// safe to repeat sent to the next core when one is unreachable.
@Suite struct EdgeUpstreamTests {
    @Test func grpcTimeoutHeaderParsing() {
        #expect(EdgeGateway.parseGRPCTimeout("250m") == .milliseconds(250))
        #expect(EdgeGateway.parseGRPCTimeout("3S") == .seconds(3))
        #expect(EdgeGateway.parseGRPCTimeout("2M") == .seconds(120))
        #expect(EdgeGateway.parseGRPCTimeout("1H") == .seconds(3600))
        #expect(EdgeGateway.parseGRPCTimeout("5000u") == .microseconds(5000))
        #expect(EdgeGateway.parseGRPCTimeout("7n") == .nanoseconds(7))
        #expect(EdgeGateway.parseGRPCTimeout("123456789S") == nil, "at most 8 digits")
        #expect(EdgeGateway.parseGRPCTimeout("10x") == nil)
        #expect(EdgeGateway.parseGRPCTimeout("S") == nil)
        #expect(EdgeGateway.parseGRPCTimeout("-1S") == nil)
    }

    /// A merchant's deadline shorter than the upstream timeout becomes the core call's deadline;
    /// a longer one (or none) leaves the configured timeout.
    @Test func upstreamDeadlineIsTheShorterOfBoth() async throws {
        try await withCluster { cluster, _, _, _ in
            let gateway = cluster.edges[0].gateway
            #expect(gateway.upstreamOptions(["grpc-timeout": "200m"]).timeout == .milliseconds(200))
            #expect(gateway.upstreamOptions(["grpc-timeout": "5H"]).timeout == .seconds(30))
            #expect(gateway.upstreamOptions([:]).timeout == .seconds(30))
        }
    }

    /// An edge whose first core endpoint is down still serves every call that is safe to
    /// repeat, through the second; each payment exists once.
    @Test func unreachableCoreFailsOverToTheNextForRepeatableCalls() async throws {
        try await withCluster { cluster, _, _, _ in
            let merchant = try await cluster.core.apiKeys.createMerchant(name: "Failover")
            // A port nobody listens on: bound and closed again.
            let dead = try await deadPort()
            var configuration = EdgeNode.Configuration(pki: cluster.pki, corePort: dead)
            configuration.edgeID = "failover-1"
            configuration.moreCores = [EdgeConfig.Endpoint(host: "127.0.0.1", port: cluster.corePort)]
            configuration.coreConnections = 1
            let edge = try EdgeNode(configuration: configuration)
            let group = ServiceGroup(configuration: .init(services: edge.services.map { .init(service: $0) }, logger: .init(label: "test")))
            let running = Task { try await group.run() }
            do {
                let client = try EdgeClient(port: try await edge.listeningPort(), caPath: cluster.pki.caCertificatePath, apiKey: merchant.apiKey)
                var ids: Set<String> = []
                for index in 0..<12 {
                    let payment = try await client.payments.createPayment(createRequest(key: "failover-\(index)"), metadata: client.metadata)
                    #expect(payment.status == .succeeded)
                    let read = try await client.payments.getPayment(.with { $0.paymentID = payment.id }, metadata: client.metadata)
                    #expect(read.id == payment.id)
                    ids.insert(payment.id)
                }
                #expect(ids.count == 12)
                await client.close()
            } catch {
                Issue.record("call failed despite a live second core: \(error)")
            }
            await group.triggerGracefulShutdown()
            _ = await running.result
        }
    }

    private func deadPort() async throws -> Int {
        let socket = Foundation.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(socket) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(socket, $0, length) } }
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(socket, $0, &length) } }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}
