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
/// A writer's writes are held here and sent together, as one call of `payrail_writes` (schema
/// migration 20), when the writer ends or reads: postgres-nio runs one statement per round
/// trip, and on a payment's path the round trips (a savepoint, each write, the release) were
/// most of the time and CPU of both the core and the server. The call is a subtransaction of
/// its own, so a writer whose writes all go in one call (the usual case: reads first, then
/// writes) needs no savepoint; a writer that reads after writing, or awaits a write of its
/// own, takes one first, so that everything it wrote rolls back together.
final class PostgresBatchSession: GroupCommitSession {
    /// The current writer's writes not sent yet, flattened for `payrail_writes`.
    private struct PendingWrites {
        var statements: [String] = []
        var arguments: [String?] = []
        /// Where each statement's arguments end in `arguments` (1-based, inclusive).
        var argumentEnds: [Int32] = []
        /// Per statement: nil, or the conflict message if it does not touch exactly one row.
        var oneRow: [String?] = []
        /// Whether this writer holds a savepoint (it sent writes before a read, or awaited one).
        var savepoint = false
    }

    let connection: PostgresConnection
    private let logger: Logger
    let balances = BatchBalanceChanges()
    private let pending = Mutex(PendingWrites())

    init(connection: PostgresConnection, logger: Logger) {
        self.connection = connection
        self.logger = logger
    }

    func memberTransaction() -> any StoreTransaction {
        PostgresTransaction(connection: connection, logger: logger, locking: true, batch: self)
    }

    /// Holds a write until the writer ends or reads. `expectingOneRow`: the write must touch
    /// exactly one row, else the writer fails with a conflict with this message.
    func send(_ write: PostgresWrite, expectingOneRow: String? = nil) {
        pending.withLock { pending in
            pending.statements.append(write.sql)
            pending.arguments += write.arguments
            pending.argumentEnds.append(Int32(pending.arguments.count))
            pending.oneRow.append(expectingOneRow)
        }
    }

    /// Before a statement the writer waits for: its held writes must run first (the
    /// statement may read them), and if anything of the writer reaches the server before its
    /// last call (held writes now, or this statement writes), a savepoint makes it all roll
    /// back together. A plain read with nothing held needs neither.
    func prepareForStatement(writing: Bool) async throws {
        let (needsSavepoint, holdsWrites) = pending.withLock { pending -> (Bool, Bool) in
            let holdsWrites = !pending.statements.isEmpty
            guard writing || holdsWrites else { return (false, false) }
            defer { pending.savepoint = true }
            return (!pending.savepoint, holdsWrites)
        }
        if needsSavepoint { try await connection.query("SAVEPOINT writer", logger: logger) }
        if holdsWrites { try await flush() }
    }

    /// Sends the held writes in one round trip: all of them apply, or none and the first
    /// failure is thrown (a conflict for a failed row-count check or unique violation).
    private func flush() async throws {
        let writes = pending.withLock { pending -> PendingWrites? in
            guard !pending.statements.isEmpty else { return nil }
            var taken = PendingWrites()
            swap(&taken, &pending)
            pending.savepoint = taken.savepoint
            return taken
        }
        guard let writes else { return }
        var bindings = PostgresBindings(capacity: 4)
        bindings.append(writes.statements)
        bindings.append(TextArray(writes.arguments))
        bindings.append(writes.argumentEnds)
        bindings.append(TextArray(writes.oneRow))
        let rows = try await PreparedStatements.rows(PostgresQuery(unsafeSQL: Self.writesCall, binds: bindings), on: connection, logger: logger)
        guard let row = rows.first, let failure = try row[0].decode(String?.self) else { return }
        throw Self.error(fromFailure: failure)
    }

    static let writesCall = "SELECT payrail_writes($1, $2, $3, $4)"

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
        pending.withLock { $0 = PendingWrites() }
    }

    func releaseSavepoint() async throws {
        try await flush()
        let held = pending.withLock { pending -> Bool in
            defer { pending.savepoint = false }
            return pending.savepoint
        }
        if held { try await connection.query("RELEASE SAVEPOINT writer", logger: logger) }
        balances.keepMember()
    }

    func rollbackToSavepoint() async {
        balances.resetMember()
        // Writes still held never reached the server; a failed call undid itself.
        let held = pending.withLock { pending -> Bool in
            defer { pending = PendingWrites() }
            return pending.savepoint
        }
        guard held else { return }
        _ = try? await connection.query("ROLLBACK TO SAVEPOINT writer", logger: logger)
        _ = try? await connection.query("RELEASE SAVEPOINT writer", logger: logger)
    }

    func commit() async throws {
        try await flush()
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
        _ = try? await connection.query("ROLLBACK", logger: logger)
    }
}

/// PostgreSQL as a group-commit database: each batch leases its own pooled connection, so the
/// next batch fills while the previous one commits.
struct PostgresBatches: GroupCommitDatabase {
    let client: PostgresClient
    let logger: Logger

    var overlapsCommits: Bool { true }

    func withNewSession<T: Sendable>(_ body: (PostgresBatchSession) async throws -> T) async throws -> T {
        try await client.withConnection { connection in
            try await connection.query("BEGIN", logger: logger)
            return try await body(PostgresBatchSession(connection: connection, logger: logger))
        }
    }

    func translate(_ error: any Error) -> any Error { PostgresTransaction.translate(error) }
}
