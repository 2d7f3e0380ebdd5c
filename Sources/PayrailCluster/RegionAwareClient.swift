import GRPCCore
import GRPCNIOTransportHTTP2
import PayrailProtos
import PayrailRuntime
import Synchronization

/// What a merchant SDK does with the region map: picks a region by its live weight, an edge in
/// it, and on a refusal that is safe to retry (an edge draining or unreachable, the core
/// briefly unavailable) tries another edge, then another region, with the same request (and
/// so the same idempotency key). The map is refreshed from any edge's Discovery API in the
/// background and after failures; the highest version wins.
public final class RegionAwareClient: Sendable {
    public struct Configuration: Sendable {
        /// Edges to ask for the first region map, as host:port.
        public var seeds: [String]
        public var caPath: String
        public var apiKey: String
        public var refreshInterval: Duration = .seconds(1)
        /// Edges tried per call before giving up.
        public var maxAttempts = 8

        public init(seeds: [String], caPath: String, apiKey: String) {
            self.seeds = seeds
            self.caPath = caPath
            self.apiKey = apiKey
        }
    }

    /// Calls that succeeded, by the region of the edge that answered.
    public struct Statistics: Sendable, Equatable {
        public var byRegion: [String: Int] = [:]
        /// Attempts refused and sent elsewhere.
        public var failovers = 0
    }

    private struct State {
        var map: Payrail_V1_RegionMap?
        var clients: [String: EdgeClient] = [:]
        var statistics = Statistics()
        var closed = false
        var nextEdge = 0
    }

    private let configuration: Configuration
    private let state = Mutex(State())
    private let refresher = Mutex<Task<Void, Never>?>(nil)

    private init(configuration: Configuration) { self.configuration = configuration }

    /// Connects, loads the region map from a seed edge and keeps it fresh until ``close()``.
    public static func connect(_ configuration: Configuration) async throws -> RegionAwareClient {
        let client = RegionAwareClient(configuration: configuration)
        try await client.refresh()
        let task = Task { [weak client] in
            while !Task.isCancelled {
                try? await Task.sleep(for: configuration.refreshInterval)
                try? await client?.refresh()
            }
        }
        client.refresher.withLock { $0 = task }
        return client
    }

    public var regionMap: Payrail_V1_RegionMap? { state.withLock { $0.map } }
    public var statistics: Statistics { state.withLock { $0.statistics } }

    /// Asks the edges (those in the map, then the seeds) for the region map; keeps it if it is
    /// not older than the one held.
    public func refresh() async throws {
        let known = state.withLock { state in
            state.map?.regions.flatMap { region in region.edges.filter { !$0.draining && !region.drained }.map(\.address) } ?? []
        }
        var lastError: (any Error)?
        for address in known.shuffled() + configuration.seeds {
            do {
                let client = try edgeClient(address)
                let map = try await client.discovery.getRegionMap(Payrail_V1_GetRegionMapRequest(), metadata: client.metadata)
                state.withLock { state in
                    if (state.map?.version ?? 0) <= map.version { state.map = map }
                }
                return
            } catch {
                lastError = error
            }
        }
        throw lastError ?? RPCError(code: .unavailable, message: "no edge to ask for the region map")
    }

    /// Runs `call` on an edge chosen by the live weights; on a retryable refusal, on another
    /// edge. `idempotent`: the request carries an idempotency key (or only reads), so it may
    /// be resent even if an edge may have forwarded it; otherwise only refusals that prove it
    /// was not forwarded (edge draining, connection refused) are retried.
    public func call<Response: Sendable>(idempotent: Bool,
                                         _ call: (EdgeClient) async throws -> Response) async throws -> Response {
        var failedEdges: Set<String> = []
        var lastError: (any Error)?
        for attempt in 0..<configuration.maxAttempts {
            guard let (address, region) = choose(avoiding: failedEdges) else { break }
            do {
                let response = try await call(try edgeClient(address))
                state.withLock { $0.statistics.byRegion[region, default: 0] += 1 }
                return response
            } catch let error as RPCError where Self.isRetryable(error, idempotent: idempotent) {
                lastError = error
                failedEdges.insert(address)
                state.withLock { $0.statistics.failovers += 1 }
                // Learn about the drain or the outage before the next pick.
                try? await refresh()
                if attempt > 0 { try? await Task.sleep(for: .milliseconds(10 * attempt)) }
            }
        }
        throw lastError ?? RPCError(code: .unavailable, message: "no edge available in the region map")
    }

    /// Retryable: UNAVAILABLE (edge draining, unreachable, core briefly away). Resent only when
    /// idempotent, unless the refusal shows nothing was forwarded.
    static func isRetryable(_ error: RPCError, idempotent: Bool) -> Bool {
        guard error.code == .unavailable else { return false }
        if idempotent { return true }
        let reason = error.metadata[stringValues: RPCErrorMapping.reasonKey].first(where: { _ in true })
        return reason == "edge_draining" || reason == "region_map_unavailable" || reason == nil
            && error.message.hasPrefix("Could not establish a connection")
    }

    /// A region by weight (skipping regions whose edges all failed this call), then one of its
    /// serving edges round robin. Falls back to any serving edge not yet tried.
    private func choose(avoiding failed: Set<String>) -> (address: String, region: String)? {
        state.withLock { state in
            guard let map = state.map else { return nil }
            var avoidRegions = Set<String>()
            while true {
                let candidates = map.regions.filter { $0.weight > 0 && !$0.drained && !avoidRegions.contains($0.name) }
                let total = candidates.reduce(0) { $0 + Int($1.weight) }
                guard total > 0 else { break }
                var point = Int.random(in: 0..<total)
                var chosen = candidates[candidates.count - 1]
                for region in candidates {
                    if point < Int(region.weight) { chosen = region; break }
                    point -= Int(region.weight)
                }
                let edges = chosen.edges.filter { !$0.draining && !failed.contains($0.address) }
                if edges.isEmpty {
                    avoidRegions.insert(chosen.name)
                    continue
                }
                state.nextEdge &+= 1
                return (edges[state.nextEdge % edges.count].address, chosen.name)
            }
            for region in map.regions where !region.drained {
                if let edge = region.edges.first(where: { !$0.draining && !failed.contains($0.address) }) { return (edge.address, region.name) }
            }
            return nil
        }
    }

    private func edgeClient(_ address: String) throws -> EdgeClient {
        if let client = state.withLock({ $0.clients[address] }) { return client }
        guard let colon = address.lastIndex(of: ":"), let port = Int(address[address.index(after: colon)...]) else {
            throw RPCError(code: .invalidArgument, message: "edge address \(address) is not host:port")
        }
        let made = try EdgeClient(host: String(address[..<colon]), port: port, caPath: configuration.caPath, apiKey: configuration.apiKey)
        let (client, extra) = state.withLock { state -> (EdgeClient, EdgeClient?) in
            if let existing = state.clients[address] { return (existing, made) }
            state.clients[address] = made
            return (made, nil)
        }
        if let extra { Task { await extra.close() } }
        return client
    }

    public func close() async {
        refresher.withLock { $0?.cancel() }
        let clients = state.withLock { state in
            state.closed = true
            return Array(state.clients.values)
        }
        for client in clients { await client.close() }
    }
}
