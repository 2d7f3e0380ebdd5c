import Metrics
import NIOCore
import Synchronization

/// The merchant connections an edge holds open: counted for `/metrics`
/// (`payrail_edge_active_connections`) and told to quiesce when the edge drains, so each gets
/// an HTTP/2 GOAWAY, finishes the calls it has in flight and closes, while the listener stays
/// up for health checks.
final class EdgeConnections: Sendable {
    private struct State {
        var open: [ObjectIdentifier: any Channel] = [:]
    }

    private let state = Mutex(State())
    private let gauge = Gauge(label: "payrail_edge_active_connections")

    var count: Int { state.withLock { $0.open.count } }

    /// Called by the transport for every accepted TCP connection.
    func accepted(_ channel: any Channel) -> EventLoopFuture<Void> {
        let id = ObjectIdentifier(channel)
        let count = state.withLock { state in
            state.open[id] = channel
            return state.open.count
        }
        gauge.record(count)
        channel.closeFuture.whenComplete { _ in
            let count = self.state.withLock { state in
                state.open[id] = nil
                return state.open.count
            }
            self.gauge.record(count)
        }
        return channel.eventLoop.makeSucceededVoidFuture()
    }

    /// Sends GOAWAY on every open connection (the gRPC connection handler answers the quiesce
    /// event with GOAWAY, a PING and a final GOAWAY, then closes once its streams finish).
    /// Returns how many connections were told.
    @discardableResult
    func quiesceAll() -> Int {
        let channels = state.withLock { Array($0.open.values) }
        for channel in channels {
            channel.eventLoop.execute { channel.pipeline.fireUserInboundEventTriggered(ChannelShouldQuiesceEvent()) }
        }
        return channels.count
    }
}
