import Logging
import NIOCore
import PayrailDomain
import PostgresNIO
import Synchronization

/// One group-commit batch on PostgreSQL: a pooled connection inside BEGIN ... COMMIT that the
/// batch's writers take turns on. Their balance changes are kept here and applied once per
/// account, in account order, just before COMMIT: a merchant account credited by every payment
/// is locked once per batch and only for the commit, so it does not serialize the payments.
///
/// A writer's writes are held here and sent as calls of `payrail_batch_writes` (schema
/// migrations 20 and 21): postgres-nio runs one statement per round trip, and on a payment's
/// path the round trips (a savepoint, each write, the release) were most of the time and CPU of
/// both the core and the server. Each writer's writes in a call are a subtransaction of their
/// own, so a writer whose writes all go in one call (the usual case: reads first, then writes)
/// needs no savepoint; a writer that reads after writing, or awaits a write of its own, takes
/// one first, so that everything it wrote rolls back together. A writer that ends with writes
/// held leaves them to the batch: they go with every other ended writer's before the batch's
/// next statement or its COMMIT, and a failure among them becomes that writer's answer
/// (``failedWriters()``), its balance changes dropped.
///
/// BEGIN waits for the first statement a writer needs the server for. A batch that never
/// needed it (writers that only write: a payment's claim and its finish) is sent whole at its
/// commit as one `payrail_batch_commit` call in autocommit, the writes, the balance update
/// and the commit in one round trip (schema migration 22).
final class PostgresBatchSession: GroupCommitSession {
    /// Writes not sent yet, flattened for `payrail_batch_writes`.
    private struct HeldWrites {
        var statements: [String] = []
        var arguments: [String?] = []
        /// Where each statement's arguments end in `arguments` (1-based, inclusive).
        var argumentEnds: [Int32] = []
        /// Per statement: nil, or the conflict message if it does not touch exactly one row.
        var oneRow: [String?] = []
        /// Where each writer's statements end in `statements` (1-based, inclusive), and which
        /// writer of the batch they belong to.
        var writerEnds: [Int32] = []
        var writers: [Int] = []

        var isEmpty: Bool { statements.isEmpty }

        mutating func append(_ other: HeldWrites) {
            let argumentBase = Int32(arguments.count)
            let statementBase = Int32(statements.count)
            statements += other.statements
            arguments += other.arguments
            argumentEnds += other.argumentEnds.map { $0 + argumentBase }
            oneRow += other.oneRow
            writerEnds += other.writerEnds.map { $0 + statementBase }
            writers += other.writers
        }
    }

    private struct State {
        /// The running writer's writes.
        var member = HeldWrites()
        /// Whether the running writer holds a savepoint (it sent writes before a read, or
        /// awaited one).
        var savepoint = false
        /// The running writer's number in the batch (0 for the first).
        var writer = -1
        /// Writes of writers that ended, sent with the next statement or before COMMIT.
        var ended = HeldWrites()
        /// Ended writers whose writes failed: their answer instead of success.
        var failures: [Int: StoreError] = [:]
        /// Set if held writes may not have reached the server: the batch must not commit.
        var broken: (any Error)?
        /// Whether BEGIN has been sent: some writer needed the server before the commit.
        var begun = false

        /// The running writer's held writes as one writer's part of a call, or nil if none.
        mutating func takeMember() -> HeldWrites? {
            guard !member.isEmpty else { return nil }
            var taken = HeldWrites()
            swap(&taken, &member)
            taken.writerEnds = [Int32(taken.statements.count)]
            taken.writers = [writer]
            return taken
        }
    }

    let connection: PostgresConnection
    private let logger: Logger
    let balances = BatchBalanceChanges()
    private let state = Mutex(State())

    init(connection: PostgresConnection, logger: Logger) {
        self.connection = connection
        self.logger = logger
    }

    func memberTransaction() -> any StoreTransaction {
        PostgresTransaction(connection: connection, logger: logger, locking: true, batch: self)
    }

    /// Holds a write until the writer's writes are sent. `expectingOneRow`: the write must
    /// touch exactly one row, else the writer fails with a conflict with this message.
    func send(_ write: PostgresWrite, expectingOneRow: String? = nil) {
        state.withLock { state in
            state.member.statements.append(write.sql)
            state.member.arguments += write.arguments
            state.member.argumentEnds.append(Int32(state.member.arguments.count))
            state.member.oneRow.append(expectingOneRow)
        }
    }

    /// Before a statement the writer waits for: every held write must run first (the
    /// statement may read them), and if anything of this writer reaches the server before
    /// its end (held writes now, or this statement writes), a savepoint makes it all roll
    /// back together. A plain read with nothing held needs neither.
    func prepareForStatement(writing: Bool) async throws {
        try await beginIfNeeded()
        try await sendEndedWriters()
        let (needsSavepoint, holdsWrites) = state.withLock { state -> (Bool, Bool) in
            let holdsWrites = !state.member.isEmpty
            guard writing || holdsWrites else { return (false, false) }
            defer { state.savepoint = true }
            return (!state.savepoint, holdsWrites)
        }
        if needsSavepoint { try await connection.query("SAVEPOINT writer", logger: logger) }
        if holdsWrites { try await sendMember() }
    }

    /// Opens the batch's transaction before its first statement that is not the commit.
    private func beginIfNeeded() async throws {
        guard !state.withLock({ $0.begun }) else { return }
        try await connection.query("BEGIN", logger: logger)
        state.withLock { $0.begun = true }
    }

    /// Sends the running writer's held writes: all of them apply, or none and the first
    /// failure is thrown (a conflict for a failed row-count check or unique violation).
    private func sendMember() async throws {
        guard let writes = state.withLock({ $0.takeMember() }) else { return }
        if let failure = try await send(writes).first { throw failure.error }
    }

    /// Sends the ended writers' writes in one call, each writer's alone in its
    /// subtransaction, and settles their balance changes.
    private func sendEndedWriters() async throws {
        let writes = state.withLock { state -> HeldWrites? in
            guard !state.ended.isEmpty else { return nil }
            var taken = HeldWrites()
            swap(&taken, &state.ended)
            return taken
        }
        guard let writes else { return }
        let failures: [(writer: Int, error: StoreError)]
        do {
            failures = try await send(writes)
        } catch {
            // The writes' fate is unknown: their writers were told nothing yet, and the
            // batch must not commit without them.
            state.withLock { $0.broken = error }
            balances.settle(failed: Set(writes.writers))
            throw error
        }
        state.withLock { state in
            for failure in failures { state.failures[failure.writer] = failure.error }
        }
        balances.settle(failed: Set(failures.map(\.writer)))
    }

    /// One `payrail_batch_writes` call: the writers whose writes failed, with their errors.
    private func send(_ writes: HeldWrites) async throws -> [(writer: Int, error: StoreError)] {
        var bindings = PostgresBindings(capacity: 5)
        Self.bind(writes, into: &bindings)
        let rows = try await PreparedStatements.rows(PostgresQuery(unsafeSQL: Self.writesCall, binds: bindings), on: connection, logger: logger)
        return try Self.failures(rows, of: writes)
    }

    /// The five arrays `payrail_batch_writes` and `payrail_batch_commit` take first.
    private static func bind(_ writes: HeldWrites, into bindings: inout PostgresBindings) {
        bindings.append(writes.statements)
        bindings.append(TextArray(writes.arguments))
        bindings.append(writes.argumentEnds)
        bindings.append(TextArray(writes.oneRow))
        bindings.append(writes.writerEnds)
    }

    /// The calls' answer rows (writer number in the call, failure) as the batch's writers and errors.
    private static func failures(_ rows: [PostgresRandomAccessRow], of writes: HeldWrites) throws -> [(writer: Int, error: StoreError)] {
        try rows.map { row in
            let number = try row[0].decode(Int32.self)
            let failure = try row[1].decode(String.self)
            guard number >= 1, Int(number) <= writes.writers.count else { throw StoreError.corrupt("a batch call answered writer \(number)") }
            return (writes.writers[Int(number) - 1], error(fromFailure: failure))
        }
    }

    static let writesCall = "SELECT failed_writer, failure FROM payrail_batch_writes($1, $2, $3, $4, $5)"

    /// `payrail_writes`' answer "<statement> <SQLSTATE> <message>" as the store's error.
    static func error(fromFailure failure: String) -> StoreError {
        let parts = failure.split(separator: " ", maxSplits: 2, omittingEmptySubsequences: false)
        let code = parts.count > 1 ? String(parts[1]) : ""
        let message = parts.count > 2 ? String(parts[2]) : failure
        switch code {
        case "PR409": return .conflict(message)
        case "23505", "40001", "40P01": return .conflict("concurrent change (\(code))")
        default: return .database("\(code): \(message)")
        }
    }

    func savepoint() async throws {
        balances.resetMember()
        state.withLock { state in
            state.member = HeldWrites()
            state.savepoint = false
            state.writer += 1
        }
    }

    /// The writer's body succeeded. Writes it still holds join the ended writers' and are
    /// sent with the next statement or before COMMIT: its answer waits for the commit anyway,
    /// and ``failedWriters()`` turns it into a failure if they do not apply. A writer holding
    /// a savepoint has already sent writes; the rest go now, and the savepoint is released.
    func releaseSavepoint() async throws {
        let savepoint = state.withLock { $0.savepoint }
        guard savepoint else {
            let writer = state.withLock { state -> Int? in
                guard let member = state.takeMember() else { return nil }
                state.ended.append(member)
                return state.writer
            }
            if let writer { balances.holdMember(as: writer) } else { balances.keepMember() }
            return
        }
        try await sendMember()
        state.withLock { $0.savepoint = false }
        try await connection.query("RELEASE SAVEPOINT writer", logger: logger)
        balances.keepMember()
    }

    func rollbackToSavepoint() async {
        balances.resetMember()
        // Writes still held never reached the server; a failed call undid itself.
        let held = state.withLock { state -> Bool in
            defer {
                state.member = HeldWrites()
                state.savepoint = false
            }
            return state.savepoint
        }
        guard held else { return }
        _ = try? await connection.query("ROLLBACK TO SAVEPOINT writer", logger: logger)
        _ = try? await connection.query("RELEASE SAVEPOINT writer", logger: logger)
    }

    func failedWriters() -> [Int: any Error] {
        state.withLock { $0.failures.mapValues { $0 } }
    }

    func commit() async throws {
        if let broken = state.withLock({ $0.broken }) { throw broken }
        guard state.withLock({ $0.begun }) else { return try await commitInOneStatement() }
        try await sendEndedWriters()
        let changes = balances.batch
        if !changes.isEmpty {
            _ = try await PreparedStatements.rows(PostgresTransaction.balanceUpsert(changes), on: connection, logger: logger)
        }
        // PostgreSQL answers COMMIT of an aborted transaction with ROLLBACK, not an error:
        // nobody may be told their write is durable then.
        let result: PostgresQueryResult = try await connection.query("COMMIT", logger: logger).get()
        guard result.metadata.command == "COMMIT" else {
            throw StoreError.database("the batch's transaction was rolled back (\(result.metadata.command))")
        }
    }

    func rollback() async {
        guard state.withLock({ $0.begun }) else { return }
        _ = try? await connection.query("ROLLBACK", logger: logger)
    }

    /// The batch whole, as one `payrail_batch_commit` call in autocommit: every ended
    /// writer's writes, each in its subtransaction, then the balance changes of those whose
    /// writes applied. Answered means durable; a failed call committed nothing.
    private func commitInOneStatement() async throws {
        let writes = state.withLock { state -> HeldWrites in
            var taken = HeldWrites()
            swap(&taken, &state.ended)
            return taken
        }
        let (settled, held) = balances.unsettled
        guard !writes.isEmpty || !settled.isEmpty else { return }
        // Each balance row tagged with its writer's number in the call (1-based), 0 if settled.
        var callNumbers: [Int: Int32] = [:]
        for (index, writer) in writes.writers.enumerated() { callNumbers[writer] = Int32(index + 1) }
        var writerNumbers: [Int32] = [], accounts: [String] = [], currencies: [String] = [], deltas: [Int64] = [], entries: [Int64] = []
        func add(_ changes: BalanceDeltas, as number: Int32) {
            for delta in changes.sorted {
                writerNumbers.append(number)
                accounts.append(delta.account)
                currencies.append(delta.currency)
                deltas.append(delta.amountMinor)
                entries.append(Int64(delta.entryCount))
            }
        }
        add(settled, as: 0)
        for (writer, changes) in held {
            guard let number = callNumbers[writer] else { preconditionFailure("a held writer's changes travel with its writes") }
            add(changes, as: number)
        }
        var bindings = PostgresBindings(capacity: 10)
        Self.bind(writes, into: &bindings)
        bindings.append(writerNumbers)
        bindings.append(accounts)
        bindings.append(currencies)
        bindings.append(deltas)
        bindings.append(entries)
        let rows = try await PreparedStatements.rows(PostgresQuery(unsafeSQL: Self.commitCall, binds: bindings), on: connection, logger: logger)
        let failures = try Self.failures(rows, of: writes)
        state.withLock { state in
            for failure in failures { state.failures[failure.writer] = failure.error }
        }
        balances.settle(failed: Set(failures.map(\.writer)))
    }

    static let commitCall = "SELECT failed_writer, failure FROM payrail_batch_commit($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
}

/// PostgreSQL as a group-commit database: each batch leases its own pooled connection, so the
/// next batch fills while the previous one commits.
struct PostgresBatches: GroupCommitDatabase {
    let client: PostgresClient
    let logger: Logger

    var overlapsCommits: Bool { true }

    func withNewSession<T: Sendable>(_ body: (PostgresBatchSession) async throws -> T) async throws -> T {
        try await client.withConnection { connection in
            try await body(PostgresBatchSession(connection: connection, logger: logger))
        }
    }

    func translate(_ error: any Error) -> any Error { PostgresTransaction.translate(error) }
}
