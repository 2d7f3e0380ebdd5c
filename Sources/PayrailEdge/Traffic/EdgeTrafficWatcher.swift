import GRPCCore
import GRPCNIOTransportHTTP2
import Logging
import PayrailProtos
import ServiceLifecycle
import Synchronization

/// Keeps an edge in step with the core's traffic control plane: holds a `WatchTraffic` stream
/// (registering the edge's public address), keeps the latest region map for the Discovery API,
/// and drains or restores the edge when its region is drained or restored. Reconnects with
/// backoff, trying each core in turn; while it cannot reach any, the last map stays in force.
public final class EdgeTrafficWatcher: Service, Sendable {
    private let cores: [Payrail_Internal_V1_TrafficControl.Client<HTTP2ClientTransport.Posix>]
    private let edgeID: String
    private let region: String
    private let address: @Sendable () async throws -> String
    private let onMap: @Sendable (Payrail_V1_RegionMap) -> Void
    private let latest = Mutex<Payrail_V1_RegionMap?>(nil)
    private let receivedSinceBackoff = Atomic<Bool>(false)
    private let logger: Logger

    init(cores: [GRPCClient<HTTP2ClientTransport.Posix>], edgeID: String, region: String,
         address: @escaping @Sendable () async throws -> String, logger: Logger,
         onMap: @escaping @Sendable (Payrail_V1_RegionMap) -> Void) {
        self.cores = cores.map { Payrail_Internal_V1_TrafficControl.Client(wrapping: $0) }
        self.edgeID = edgeID
        self.region = region
        self.address = address
        self.onMap = onMap
        self.logger = logger
    }

    /// The newest region map received; nil until the first arrives.
    public var regionMap: Payrail_V1_RegionMap? { latest.withLock { $0 } }

    public func run() async throws {
        let request = Payrail_Internal_V1_WatchTrafficRequest.with {
            $0.edgeID = edgeID
            $0.region = region
        }
        await cancelWhenGracefulShutdown {
            var backoff: Duration = .milliseconds(100)
            var attempt = 0
            while !Task.isCancelled {
                var request = request
                do {
                    request.address = try await self.address()
                    try await self.cores[attempt % self.cores.count].watchTraffic(request) { response in
                        for try await map in response.messages { self.receive(map) }
                    }
                } catch {
                    if Task.isCancelled { break }
                    self.logger.debug("traffic watch ended", metadata: ["error": "\(error)"])
                }
                attempt += 1
                if self.receivedSinceBackoff.exchange(false, ordering: .relaxed) { backoff = .milliseconds(100) }
                try? await Task.sleep(for: backoff)
                backoff = min(backoff * 2, .seconds(2))
            }
        }
    }

    private func receive(_ map: Payrail_V1_RegionMap) {
        receivedSinceBackoff.store(true, ordering: .relaxed)
        let accepted = latest.withLock { latest in
            // Equal versions still carry news: the set of edges may have changed.
            guard (latest?.version ?? 0) <= map.version else { return false }
            latest = map
            return true
        }
        if accepted { onMap(map) }
    }
}
