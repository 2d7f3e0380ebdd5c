import Synchronization

/// A database transaction that several writers share, seen by ``GroupCommitLane``.
protocol GroupCommitSession: Sendable {
    /// The operations one writer's body runs, inside its savepoint.
    func memberTransaction() -> any StoreTransaction
    func savepoint() async throws
    func releaseSavepoint() async throws
    /// Undoes the current writer's work only; the batch stays usable.
    func rollbackToSavepoint() async
    /// Commits the shared transaction, after any work done once per batch (balance updates).
    func commit() async throws
    func rollback() async
}

/// How a database opens the shared transactions of a ``GroupCommitLane``.
protocol GroupCommitDatabase: Sendable {
    associatedtype Session: GroupCommitSession
    /// Whether the next batch may begin while the previous one commits (PostgreSQL: each batch
    /// has its own connection); SQLite's single writer connection must finish its commit first.
    var overlapsCommits: Bool { get }
    /// Begins a transaction and runs `body` with it; the session stays usable until `body`
    /// returns, and `body` returns only after the batch has committed or rolled back.
    func withNewSession<T: Sendable>(_ body: (Session) async throws -> T) async throws -> T
    func translate(_ error: any Error) -> any Error
}

/// Group commit: writers that queue up while a transaction is open join it, each in its own
/// savepoint (a failing writer rolls back alone), and the last one in line commits for all of
/// them at once; nobody is answered before that commit is durable. Writers run one at a time
/// inside a lane; a store runs several lanes to overlap them.
final class GroupCommitLane<Database: GroupCommitDatabase>: Sendable {
    private struct Open: Sendable {
        let session: Database.Session
        let batch: CommitBatch
    }

    private let database: Database
    private let gate = AsyncGate()
    /// The batch being filled; touched only by the holder of `gate`.
    private let open = Mutex<Open?>(nil)
    /// Most writers in one batch: bounds how long the first of them waits for the commit.
    let membersMax: Int
    private let commits = Atomic<Int>(0)
    private let writes = Atomic<Int>(0)

    init(database: Database, membersMax: Int) {
        precondition(membersMax >= 1, "a batch holds at least one writer")
        self.database = database
        self.membersMax = membersMax
    }

    /// Transactions committed and writers served so far: their ratio is the group-commit gain.
    var statistics: GroupCommitStatistics {
        GroupCommitStatistics(commits: commits.load(ordering: .relaxed), writes: writes.load(ordering: .relaxed))
    }

    func write<T: Sendable>(_ body: (any StoreTransaction) async throws -> T) async throws -> T {
        await gate.acquire()
        if let current = open.withLock({ $0 }) {
            return try await join(current, body)
        }
        var joined = false
        do {
            return try await database.withNewSession { session in
                let current = Open(session: session, batch: CommitBatch())
                open.withLock { $0 = current }
                joined = true
                return try await join(current, body)
            }
        } catch {
            if !joined { gate.release() }
            throw database.translate(error)
        }
    }

    /// Waits for the lane, commits a batch left open (its writers are answered), then runs
    /// `body` with nobody else in the lane: for closing the database under it.
    func drain(then body: () -> Void) async {
        await gate.acquire()
        defer { gate.release() }
        if let current = open.withLock({ $0 }) {
            open.withLock { $0 = nil }
            current.batch.finish(await commit(current))
        }
        body()
    }

    /// Runs `body` in its own savepoint of the open batch, then either hands the lane to the
    /// next writer (who will commit) or commits. Releases the gate exactly once. Returns only
    /// after the batch is resolved, so the session outlives every writer using it.
    private func join<T: Sendable>(_ current: Open, _ body: (any StoreTransaction) async throws -> T) async throws -> T {
        let result: Result<T, any Error>
        do {
            try await current.session.savepoint()
            let value = try await body(current.session.memberTransaction())
            try await current.session.releaseSavepoint()
            result = .success(value)
        } catch {
            await current.session.rollbackToSavepoint()
            result = .failure(database.translate(error))
        }
        current.batch.join()
        writes.add(1, ordering: .relaxed)

        if gate.hasWaiters && current.batch.members < membersMax {
            // Someone is queued: they join this transaction; the last in line commits.
            gate.release()
            let committed: Result<Void, any Error>
            do {
                try await current.batch.waitForCommit()
                committed = .success(())
            } catch {
                committed = .failure(error)
            }
            let value = try result.get()
            try committed.get()
            return value
        }

        // Last in line: commit for the whole batch, then answer everyone.
        open.withLock { $0 = nil }
        if database.overlapsCommits { gate.release() }
        let outcome = await commit(current)
        if !database.overlapsCommits { gate.release() }
        current.batch.finish(outcome)
        let value = try result.get()
        try outcome.get()
        return value
    }
}

extension GroupCommitLane {
    /// Commits the batch's transaction (rolling back if the commit fails) and counts it.
    private func commit(_ current: Open) async -> Result<Void, any Error> {
        do {
            try await current.session.commit()
            commits.add(1, ordering: .relaxed)
            return .success(())
        } catch {
            // An unanswered COMMIT may still have committed: callers see an error, and their
            // idempotency keys resolve the unknown outcome on retry.
            await current.session.rollback()
            return .failure(database.translate(error))
        }
    }
}

/// How well group commit is batching: `writes / commits` writers per transaction.
public struct GroupCommitStatistics: Sendable, CustomStringConvertible {
    public var commits: Int
    public var writes: Int

    public var description: String { "\(writes) writes in \(commits) commits" }

    static func + (lhs: Self, rhs: Self) -> Self { Self(commits: lhs.commits + rhs.commits, writes: lhs.writes + rhs.writes) }
}

/// A store whose writes are group-committed.
public protocol GroupCommittingStore: PaymentStore {
    var groupCommitStatistics: GroupCommitStatistics { get }
}
