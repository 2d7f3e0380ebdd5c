import Synchronization

/// A queue of messages for one stream writer, read a batch at a time: everything yielded since
/// the writer last looked comes out together, so the writer hands the whole batch to gRPC in
/// one `write(contentsOf:)` (one hop to the event loop and one flush) instead of one per
/// message. Under load, the messages of many concurrent calls share each wake-up of the writer.
///
/// Many producers, one consumer. Unbounded, like the `AsyncStream` it replaces: its producers
/// are calls already admitted (their number is bounded where they are admitted).
public final class BatchingOutbox<Element: Sendable>: Sendable {
    private struct State {
        var pending: [Element] = []
        var waiter: CheckedContinuation<[Element]?, Never>?
        var finished = false
    }

    private let state = Mutex(State())

    public init() {}

    /// Queues `element` for the writer; false (dropped) once the outbox is finished.
    @discardableResult
    public func yield(_ element: Element) -> Bool {
        let (accepted, wake) = state.withLock { state -> (Bool, (CheckedContinuation<[Element]?, Never>, [Element])?) in
            guard !state.finished else { return (false, nil) }
            state.pending.append(element)
            guard let waiter = state.waiter else { return (true, nil) }
            state.waiter = nil
            return (true, (waiter, Self.take(&state)))
        }
        if let (waiter, batch) = wake { waiter.resume(returning: batch) }
        return accepted
    }

    /// No more elements: the writer gets what is queued, then nil.
    public func finish() {
        let waiter = state.withLock { state -> CheckedContinuation<[Element]?, Never>? in
            state.finished = true
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume(returning: nil)
    }

    /// The next batch, in the order yielded, waiting for one if none is queued; nil once the
    /// outbox is finished and empty, or when the calling task is cancelled.
    public func next() async -> [Element]? {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<[Element]?, Never>) in
                let ready = state.withLock { state -> [Element]?? in
                    if !state.pending.isEmpty { return .some(Self.take(&state)) }
                    if state.finished || Task.isCancelled { return .some(nil) }
                    precondition(state.waiter == nil, "a BatchingOutbox has one reader")
                    state.waiter = continuation
                    return .none
                }
                if let ready { continuation.resume(returning: ready) }
            }
        } onCancel: {
            let waiter = state.withLock { state -> CheckedContinuation<[Element]?, Never>? in
                defer { state.waiter = nil }
                return state.waiter
            }
            waiter?.resume(returning: nil)
        }
    }

    private static func take(_ state: inout State) -> [Element] {
        var batch: [Element] = []
        swap(&batch, &state.pending)
        return batch
    }
}
