import Synchronization

/// One database transaction shared by several writers (group commit). Each writer's work
/// runs inside its own savepoint, so a failing writer rolls back alone; the batch commits
/// once, with one fsync, and only then are its writers answered.
final class CommitBatch: Sendable {
    private struct State {
        var outcome: Result<Void, any Error>?
        var waiters: [CheckedContinuation<Void, any Error>] = []
        var members = 0
    }

    private let state = Mutex(State())

    /// Writers whose work is in this batch.
    var members: Int { state.withLock { $0.members } }
    func join() { state.withLock { $0.members += 1 } }

    /// Suspends until the batch has committed (or throws the commit's error).
    func waitForCommit() async throws {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            let outcome = state.withLock { state -> Result<Void, any Error>? in
                if state.outcome == nil { state.waiters.append(continuation) }
                return state.outcome
            }
            if let outcome { continuation.resume(with: outcome) }
        }
    }

    func finish(_ outcome: Result<Void, any Error>) {
        let waiters = state.withLock { state -> [CheckedContinuation<Void, any Error>] in
            precondition(state.outcome == nil, "a batch finishes once")
            state.outcome = outcome
            defer { state.waiters = [] }
            return state.waiters
        }
        for waiter in waiters { waiter.resume(with: outcome) }
    }
}
