import Metrics
import PayrailDomain
import Synchronization

/// Requests by method and gRPC status, and their latency, for the edge's `/metrics`. The
/// metric handles are made once per method (and status) and then reused, so a request costs a
/// dictionary lookup, not a registry lookup.
final class EdgeRequestMetrics: Sendable {
    private struct Handles {
        var counters: [String: Counter] = [:]
        var timers: [String: Timer] = [:]
    }

    private let handles = Mutex(Handles())

    func record(method: String, code: String, since started: ContinuousClock.Instant) {
        let nanoseconds = (ContinuousClock.now - started).wholeNanoseconds
        let (counter, timer) = handles.withLock { handles -> (Counter, Timer) in
            let key = method + "|" + code
            let counter = handles.counters[key] ?? {
                let made = Counter(label: "payrail_edge_requests_total", dimensions: [("method", method), ("code", code)])
                handles.counters[key] = made
                return made
            }()
            let timer = handles.timers[method] ?? {
                let made = Timer(label: "payrail_edge_request_duration_seconds", dimensions: [("method", method)], preferredDisplayUnit: .seconds)
                handles.timers[method] = made
                return made
            }()
            return (counter, timer)
        }
        counter.increment()
        timer.recordNanoseconds(nanoseconds)
    }
}
