import Synchronization

/// Runs items submitted concurrently in batches: while one batch runs, newcomers queue, and
/// the next batch takes them all (up to `batchMax`) in one go, e.g. one multi-row INSERT and
/// one commit for many callers instead of one each. Each caller is answered when its batch has
/// run. If a batch fails, its items are run one by one, so a bad item fails alone.
final class Coalescer<Item: Sendable>: Sendable {
    private struct Waiting {
        let item: Item
        let continuation: CheckedContinuation<Void, any Error>
    }

    private struct State {
        var queue: [Waiting] = []
        var running = false
    }

    private let state = Mutex(State())
    private let batchMax: Int
    private let runBatch: @Sendable ([Item]) async throws -> Void
    private let runOne: @Sendable (Item) async throws -> Void

    init(batchMax: Int, runBatch: @escaping @Sendable ([Item]) async throws -> Void, runOne: @escaping @Sendable (Item) async throws -> Void) {
        precondition(batchMax >= 1, "a batch holds at least one item")
        self.batchMax = batchMax
        self.runBatch = runBatch
        self.runOne = runOne
    }

    /// Returns once `item` has run (or throws its failure).
    func submit(_ item: Item) async throws {
        try await withCheckedThrowingContinuation { continuation in
            let leads = state.withLock { state -> Bool in
                state.queue.append(Waiting(item: item, continuation: continuation))
                guard !state.running else { return false }
                state.running = true
                return true
            }
            // A task of its own: the batches serve every queued caller, so no one caller's
            // cancellation may reach them.
            if leads { Task { await self.drain() } }
        }
    }

    private func drain() async {
        while true {
            let batch = state.withLock { state -> [Waiting] in
                let taken = Array(state.queue.prefix(batchMax))
                state.queue.removeFirst(taken.count)
                if taken.isEmpty { state.running = false }
                return taken
            }
            guard !batch.isEmpty else { return }
            do {
                try await runBatch(batch.map(\.item))
                for waiting in batch { waiting.continuation.resume() }
            } catch {
                guard batch.count > 1 else {
                    batch[0].continuation.resume(throwing: error)
                    continue
                }
                for waiting in batch {
                    do {
                        try await runOne(waiting.item)
                        waiting.continuation.resume()
                    } catch {
                        waiting.continuation.resume(throwing: error)
                    }
                }
            }
        }
    }
}
