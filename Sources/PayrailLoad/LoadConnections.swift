import GRPCCore
import GRPCNIOTransportHTTP2
import PayrailProtos
import PayrailRuntime

/// The run's HTTP/2 connections over TLS, each a gRPC client of one edge, spread over the
/// targets by weight (largest remainder, so 8 connections over weights 3:1 are 6 and 2).
final class LoadConnections: Sendable {
    struct Connection: Sendable {
        let target: LoadScenario.Target
        let client: GRPCClient<HTTP2ClientTransport.Posix>
        let payments: Payrail_V1_Payments.Client<HTTP2ClientTransport.Posix>
        let refunds: Payrail_V1_Refunds.Client<HTTP2ClientTransport.Posix>
        let echo: Payrail_Loadtest_V1_Echo.Client<HTTP2ClientTransport.Posix>
    }

    let all: [Connection]
    private let runs: [Task<Void, any Error>]

    init(targets: [LoadScenario.Target], count: Int, caPath: String) throws {
        var connections: [Connection] = []
        var runs: [Task<Void, any Error>] = []
        for target in Self.spread(targets, over: count) {
            var config = HTTP2ClientTransport.Posix.Config.defaults
            config.http2.maxFrameSize = 1 << 16
            let transport = try HTTP2ClientTransport.Posix(target: .ipv4(address: target.host, port: target.port),
                                                           transportSecurity: TransportSecurityFactory.publicClient(caPath: caPath),
                                                           config: config)
            let client = GRPCClient(transport: transport)
            runs.append(Task { try await client.runConnections() })
            connections.append(Connection(target: target, client: client, payments: .init(wrapping: client),
                                          refunds: .init(wrapping: client), echo: .init(wrapping: client)))
        }
        all = connections
        self.runs = runs
    }

    /// Which target each of `count` connections goes to.
    static func spread(_ targets: [LoadScenario.Target], over count: Int) -> [LoadScenario.Target] {
        let weighted = targets.filter { $0.weight > 0 }
        let total = weighted.reduce(0) { $0 + $1.weight }
        guard total > 0 else { return [] }
        var shares = weighted.map { ($0, $0.weight * count / total, ($0.weight * count) % total) }
        var assigned = shares.reduce(0) { $0 + $1.1 }
        for index in shares.indices.sorted(by: { shares[$0].2 > shares[$1].2 }) where assigned < count {
            shares[index].1 += 1
            assigned += 1
        }
        return shares.flatMap { Array(repeating: $0.0, count: $0.1) }
    }

    func close() async {
        for connection in all { connection.client.beginGracefulShutdown() }
        for run in runs { _ = await run.result }
    }

    /// The targets from an edge's region map: live regions by weight, each region's weight
    /// shared by its edges that are not draining.
    static func regionMapTargets(seed: LoadScenario.Target, caPath: String) async throws -> [LoadScenario.Target] {
        let transport = try HTTP2ClientTransport.Posix(target: .ipv4(address: seed.host, port: seed.port),
                                                       transportSecurity: TransportSecurityFactory.publicClient(caPath: caPath))
        return try await withGRPCClient(transport: transport) { client in
            let map = try await Payrail_V1_Discovery.Client(wrapping: client).getRegionMap(.init())
            var targets: [LoadScenario.Target] = []
            for region in map.regions where !region.drained && region.weight > 0 {
                let edges = region.edges.filter { !$0.draining }
                for edge in edges {
                    guard var target = try? LoadScenarioParser.target(edge.address, weight: 1, "region_map") else { continue }
                    target.weight = max(1, Int(region.weight) / max(1, edges.count))
                    targets.append(target)
                }
            }
            return targets
        }
    }
}
