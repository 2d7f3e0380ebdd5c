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
        var accepted = 0
        /// Told to go away and not closed yet.
        var goingAway: Set<ObjectIdentifier> = []
        var goAwaysSent = 0
    }

    private let state = Mutex(State())
    private let gauge = Gauge(label: "payrail_edge_active_connections")

    var count: Int { state.withLock { $0.open.count } }
    /// Connections accepted since start.
    var acceptedTotal: Int { state.withLock { $0.accepted } }
    /// Connections sent GOAWAY that are still finishing their calls.
    var goingAwayCount: Int { state.withLock { $0.goingAway.count } }
    /// Connections told to go away since start.
    var goAwaysSent: Int { state.withLock { $0.goAwaysSent } }

    /// Called by the transport for every accepted TCP connection.
    func accepted(_ channel: any Channel) -> EventLoopFuture<Void> {
        let id = ObjectIdentifier(channel)
        let count = state.withLock { state in
            state.open[id] = channel
            state.accepted += 1
            return state.open.count
        }
        gauge.record(count)
        channel.closeFuture.whenComplete { _ in
            let count = self.state.withLock { state in
                state.open[id] = nil
                state.goingAway.remove(id)
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
        let channels = state.withLock { state in
            state.goingAway.formUnion(state.open.keys)
            state.goAwaysSent += state.open.count
            return Array(state.open.values)
        }
        for channel in channels {
            channel.eventLoop.execute { channel.pipeline.fireUserInboundEventTriggered(ChannelShouldQuiesceEvent()) }
        }
        return channels.count
    }
}
