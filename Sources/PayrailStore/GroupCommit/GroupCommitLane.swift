import PayrailDomain
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
    /// Writers (numbered in the order their bodies ran, from 0) whose writes the session
    /// sent only after their bodies ended and that failed: after a successful commit, their
    /// answer is this error instead of success.
    func failedWriters() -> [Int: any Error]
}

extension GroupCommitSession {
    func failedWriters() -> [Int: any Error] { [:] }
}

/// How a database opens the shared transactions of a ``GroupCommitLane``.
protocol GroupCommitDatabase: Sendable {
    associatedtype Session: GroupCommitSession
    /// Whether the next batch may begin while the previous one commits (PostgreSQL: each batch
    /// has its own connection); SQLite's single writer connection must finish its commit first.
    var overlapsCommits: Bool { get }
    /// Runs `body` with a new transaction (which the session may begin only when it first
    /// needs the server); the session stays usable until `body` returns, and `body` returns
    /// only after the batch has committed or rolled back.
    func withNewSession<T: Sendable>(_ body: (Session) async throws -> T) async throws -> T
    func translate(_ error: any Error) -> any Error
}

/// Group commit: writers that queue up while a batch is being written join it, each in its own
/// savepoint (a failing writer rolls back alone), and the batch commits once for all of them;
/// nobody is answered before that commit is durable.
///
/// One writer at a time holds the lane (the combiner) and runs the bodies of everyone queued
/// behind it, back to back on its own task, then commits: a batch of N writers costs one task
/// hand-off, not N (on a loaded machine each hand-off waits for a thread while the lane idles).
/// The lane then passes to the first writer still queued. A store runs several lanes to
/// overlap them; where the database allows it (PostgreSQL), the next batch starts while the
/// previous one commits.
final class GroupCommitLane<Database: GroupCommitDatabase>: Sendable {
    private struct Queue {
        var combining = false
        var tickets: [Ticket] = []
        var head = 0

        mutating func compact() {
            if head == tickets.count {
                tickets.removeAll(keepingCapacity: true)
                head = 0
            } else if head >= 1_024 {
                tickets.removeFirst(head)
                head = 0
            }
        }
    }

    private let database: Database
    private let queue = Mutex(Queue())
    /// Most writers in one batch: bounds how long the first of them waits for the commit.
    let membersMax: Int
    private let commits = Atomic<Int>(0)
    private let writes = Atomic<Int>(0)
    /// Nanoseconds a holder spent writing bodies, and committing, summed over batches.
    private let bodyNanoseconds = Atomic<Int>(0)
    private let commitNanoseconds = Atomic<Int>(0)

    init(database: Database, membersMax: Int) {
        precondition(membersMax >= 1, "a batch holds at least one writer")
        self.database = database
        self.membersMax = membersMax
    }

    /// Transactions committed and writers served so far: their ratio is the group-commit gain.
    var statistics: GroupCommitStatistics {
        GroupCommitStatistics(commits: commits.load(ordering: .relaxed), writes: writes.load(ordering: .relaxed),
                              bodyNanoseconds: bodyNanoseconds.load(ordering: .relaxed),
                              commitNanoseconds: commitNanoseconds.load(ordering: .relaxed))
    }

    func write<T: Sendable>(_ body: (any StoreTransaction) async throws -> T) async throws -> T {
        try await withoutActuallyEscaping(body) { body in
            let result = ResultBox<T>()
            let ticket = Ticket { session in
                do {
                    try await session.savepoint()
                    let value = try await body(session.memberTransaction())
                    try await session.releaseSavepoint()
                    result.value = .success(value)
                } catch {
                    await session.rollbackToSavepoint()
                    result.value = .failure(self.database.translate(error))
                }
            } fail: { error in
                // A writer's own failure is its answer; otherwise the batch's.
                if case .failure = result.value {} else { result.value = .failure(error) }
            }
            var holdsLane = enqueue(ticket)
            if !holdsLane { holdsLane = await ticket.wait() == .combine }
            if holdsLane {
                // Its own task: the batch runs for every writer in it, so one caller's
                // cancellation must not reach the others' bodies or the commit.
                await Task { await self.combine() }.value
            }
            guard let value = result.value else { preconditionFailure("a writer is answered only after its batch") }
            return try value.get()
        }
    }

    /// Waits for the lane, then runs `body` with nobody else in it (every batch before it has
    /// committed): for closing the database under it.
    func drain(then body: () -> Void) async {
        let ticket = Ticket(run: nil, fail: nil)
        if !enqueue(ticket) {
            let turn = await ticket.wait()
            precondition(turn == .combine, "a drain is only ever handed the lane")
        }
        queue.withLock { queue in
            precondition(queue.tickets[queue.head] === ticket, "the lane's holder is first in line")
            queue.head += 1
            queue.compact()
        }
        body()
        handOff()
    }

    /// Queues `ticket`; true if its writer now holds the lane (nobody did).
    private func enqueue(_ ticket: Ticket) -> Bool {
        queue.withLock { queue in
            queue.tickets.append(ticket)
            if queue.combining { return false }
            precondition(queue.tickets.count - queue.head == 1, "a queue with writers always has a holder")
            queue.combining = true
            return true
        }
    }

    /// Passes the lane to the first writer in line, or leaves it free.
    private func handOff() {
        let next = queue.withLock { queue -> Ticket? in
            if queue.head < queue.tickets.count { return queue.tickets[queue.head] }
            queue.combining = false
            return nil
        }
        next?.signal(.combine)
    }

    /// Run by the lane's holder, first in line: writes the batch of writers from the head of
    /// the queue (up to ``membersMax``, stopping at a drain), commits it, answers them.
    private func combine() async {
        let batch = queue.withLock { queue -> [Ticket] in
            var batch: [Ticket] = []
            while queue.head < queue.tickets.count, batch.count < membersMax, queue.tickets[queue.head].writes {
                batch.append(queue.tickets[queue.head])
                queue.head += 1
            }
            queue.compact()
            return batch
        }
        precondition(!batch.isEmpty, "the lane's holder is a writer first in line")
        var handedOff = false
        let outcome: Result<[Int: any Error], any Error>
        do {
            outcome = try await database.withNewSession { session in
                let started = ContinuousClock.now
                for ticket in batch { await ticket.runBody(session) }
                let written = ContinuousClock.now
                bodyNanoseconds.add(Int((written - started).wholeNanoseconds), ordering: .relaxed)
                if database.overlapsCommits {
                    handOff()
                    handedOff = true
                }
                defer { commitNanoseconds.add(Int((ContinuousClock.now - written).wholeNanoseconds), ordering: .relaxed) }
                return await commit(session).map { session.failedWriters() }
            }
        } catch {
            outcome = .failure(database.translate(error))
        }
        if !handedOff { handOff() }
        writes.add(batch.count, ordering: .relaxed)
        for (writer, ticket) in batch.enumerated() {
            switch outcome {
            case .failure(let error): ticket.fail?(error)
            case .success(let failedWriters): if let error = failedWriters[writer] { ticket.fail?(database.translate(error)) }
            }
            ticket.signal(.done)
        }
    }
}

/// A writer's answer, written by the lane's holder before the writer is signalled.
private final class ResultBox<T>: @unchecked Sendable {
    var value: Result<T, any Error>?
}

extension GroupCommitLane {
    /// A place in a lane's queue: a writer's body (nil for a drain), and how its writer learns
    /// that it holds the lane or that its batch is done. Signalled exactly once.
    fileprivate final class Ticket: @unchecked Sendable {
        enum Turn: Sendable { case combine, done }

        private struct Signal {
            var turn: Turn?
            var continuation: CheckedContinuation<Turn, Never>?
        }

        /// Taken (and released) by the lane's holder, the only one to touch it, once run and
        /// before anyone is answered: the body it wraps must not outlive the writer's call.
        /// The writer is suspended meanwhile, so nothing else touches what the body captures.
        private var run: ((Database.Session) async -> Void)?
        let fail: ((any Error) -> Void)?
        let writes: Bool
        private let signalState = Mutex(Signal())

        init(run: ((Database.Session) async -> Void)?, fail: ((any Error) -> Void)?) {
            self.run = run
            self.fail = fail
            self.writes = run != nil
        }

        func runBody(_ session: Database.Session) async {
            guard let run else { return }
            self.run = nil
            await run(session)
        }

        func wait() async -> Turn {
            await withCheckedContinuation { (continuation: CheckedContinuation<Turn, Never>) in
                let ready = signalState.withLock { state -> Turn? in
                    if let turn = state.turn { return turn }
                    state.continuation = continuation
                    return nil
                }
                if let ready { continuation.resume(returning: ready) }
            }
        }

        func signal(_ turn: Turn) {
            let waiting = signalState.withLock { state -> CheckedContinuation<Turn, Never>? in
                if let continuation = state.continuation {
                    state.continuation = nil
                    return continuation
                }
                state.turn = turn
                return nil
            }
            waiting?.resume(returning: turn)
        }
    }
}

extension GroupCommitLane {
    /// Commits the batch's transaction (rolling back if the commit fails) and counts it.
    private func commit(_ session: Database.Session) async -> Result<Void, any Error> {
        do {
            try await session.commit()
            commits.add(1, ordering: .relaxed)
            return .success(())
        } catch {
            // An unanswered COMMIT may still have committed: callers see an error, and their
            // idempotency keys resolve the unknown outcome on retry.
            await session.rollback()
            return .failure(database.translate(error))
        }
    }
}

/// How well group commit is batching: `writes / commits` writers per transaction; and how long
/// the lanes' holders spent running the writers' bodies and committing (where a single-writer
/// database's lane is its serial section: their sum over the wall time is how busy it was).
public struct GroupCommitStatistics: Sendable, CustomStringConvertible {
    public var commits: Int
    public var writes: Int
    public var bodyNanoseconds: Int
    public var commitNanoseconds: Int

    public init(commits: Int, writes: Int, bodyNanoseconds: Int = 0, commitNanoseconds: Int = 0) {
        self.commits = commits
        self.writes = writes
        self.bodyNanoseconds = bodyNanoseconds
        self.commitNanoseconds = commitNanoseconds
    }

    public var description: String {
        "\(writes) writes in \(commits) commits; bodies \(bodyNanoseconds / 1_000_000) ms, commits \(commitNanoseconds / 1_000_000) ms"
    }

    static func + (lhs: Self, rhs: Self) -> Self {
        Self(commits: lhs.commits + rhs.commits, writes: lhs.writes + rhs.writes,
             bodyNanoseconds: lhs.bodyNanoseconds + rhs.bodyNanoseconds, commitNanoseconds: lhs.commitNanoseconds + rhs.commitNanoseconds)
    }
}

/// A store whose writes are group-committed.
public protocol GroupCommittingStore: PaymentStore {
    var groupCommitStatistics: GroupCommitStatistics { get }
}
