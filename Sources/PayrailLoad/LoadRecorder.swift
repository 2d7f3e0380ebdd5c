import Histogram
import Synchronization

/// Collects what a run observed: an HdrHistogram of latencies (microseconds, 3 significant
/// digits) per operation after the warm-up, a one-second histogram for the timeline, errors by
/// operation, gRPC status and Payrail reason, and payment outcomes. Workers record into one
/// lock held for a few hundred nanoseconds per operation; the per-operation slots are arrays
/// indexed by operation, so recording allocates nothing.
final class LoadRecorder: Sendable {
    struct ErrorKey: Hashable, Sendable {
        var operation: LoadScenario.Operation
        var status: String
        var reason: String
    }

    /// One second of the run.
    struct Interval: Sendable {
        var second: Int
        var completed: Int
        var errors: Int
        var p50Us: UInt64
        var p90Us: UInt64
        var p99Us: UInt64
        var maxUs: UInt64
        var inFlight: Int
    }

    struct State {
        var histograms: [Histogram<UInt64>]
        var warmupCompleted = 0
        var completed = 0
        var failed = 0
        var interval: Histogram<UInt64>
        var intervalCompleted = 0
        var intervalErrors = 0
        var errors: [ErrorKey: Int] = [:]
        /// Final payment status (Payrail_V1_PaymentStatus raw value) counts per operation.
        var outcomes: [[Int]]
        var retriesSamePayment = 0
        var retriesMismatched = 0
        var timeline: [Interval] = []
    }

    static func newHistogram() -> Histogram<UInt64> {
        var histogram = Histogram<UInt64>(highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: .three)
        histogram.autoResize = true
        return histogram
    }

    static let statusSlots = 16
    private let state: Mutex<State>
    let inFlight = Atomic<Int>(0)

    init() {
        state = Mutex(State(histograms: LoadScenario.Operation.allCases.map { _ in Self.newHistogram() },
                            interval: Self.newHistogram(),
                            outcomes: LoadScenario.Operation.allCases.map { _ in Array(repeating: 0, count: Self.statusSlots) }))
    }

    func success(_ operation: LoadScenario.Operation, latencyUs: UInt64, measured: Bool, status: Int? = nil) {
        state.withLock { state in
            state.intervalCompleted += 1
            _ = state.interval.record(latencyUs)
            if measured {
                state.completed += 1
                _ = state.histograms[operation.index].record(latencyUs)
                if let status, status >= 0, status < Self.statusSlots { state.outcomes[operation.index][status] += 1 }
            } else {
                state.warmupCompleted += 1
            }
        }
    }

    func failure(_ operation: LoadScenario.Operation, status: String, reason: String, measured: Bool) {
        state.withLock { state in
            state.intervalErrors += 1
            if measured {
                state.failed += 1
                state.errors[ErrorKey(operation: operation, status: status, reason: reason), default: 0] += 1
            }
        }
    }

    func retry(samePayment: Bool) {
        state.withLock { state in
            if samePayment { state.retriesSamePayment += 1 } else { state.retriesMismatched += 1 }
        }
    }

    /// Ends the current second: its counts and percentiles join the timeline.
    @discardableResult
    func closeInterval(second: Int) -> Interval {
        let inFlight = inFlight.load(ordering: .relaxed)
        return state.withLock { state in
            let histogram = state.interval
            let sample = Interval(second: second, completed: state.intervalCompleted, errors: state.intervalErrors,
                                  p50Us: histogram.totalCount == 0 ? 0 : histogram.valueAtPercentile(50),
                                  p90Us: histogram.totalCount == 0 ? 0 : histogram.valueAtPercentile(90),
                                  p99Us: histogram.totalCount == 0 ? 0 : histogram.valueAtPercentile(99),
                                  maxUs: histogram.totalCount == 0 ? 0 : histogram.max, inFlight: inFlight)
            state.interval.reset()
            state.intervalCompleted = 0
            state.intervalErrors = 0
            state.timeline.append(sample)
            return sample
        }
    }

    var snapshot: State { state.withLock { $0 } }
}

extension LoadScenario.Operation {
    var index: Int {
        switch self {
        case .createAutoCapture: 0
        case .createThenCapture: 1
        case .refund: 2
        case .get: 3
        case .echo: 4
        case .idempotentRetry: 5
        }
    }
}
