import Logging
import NIOCore
import PayrailDomain
import PostgresNIO
import Synchronization

/// One group-commit batch on PostgreSQL: a pooled connection inside BEGIN ... COMMIT that the
/// batch's writers take turns on, each in a savepoint. Their balance changes are kept here and
/// applied once per account, in account order, just before COMMIT: a merchant account credited
/// by every payment is locked once per batch and only for the commit, so it does not serialize
/// the payments.
final class PostgresBatchSession: GroupCommitSession {
    /// A write sent without waiting for its answer (see ``send(_:expectingOneRow:)``).
    private struct SentWrite {
        let result: EventLoopFuture<PostgresQueryResult>
        /// Set when the write must touch exactly one row, else it is a conflict with this message.
        let expectingOneRow: String?
    }

    let connection: PostgresConnection
    private let logger: Logger
    let balances = BatchBalanceChanges()
    /// The current writer's writes in flight, in the order they were sent.
    private let sent = Mutex<[SentWrite]>([])

    init(connection: PostgresConnection, logger: Logger) {
        self.connection = connection
        self.logger = logger
    }

    func memberTransaction() -> any StoreTransaction {
        PostgresTransaction(connection: connection, logger: logger, locking: true, batch: self)
    }

    /// Sends a write whose result the writer does not need to go on, without waiting: the
    /// connection runs statements in order, so the writer's next read sees it, and releasing
    /// the savepoint first waits for all of them and fails with the first one's error. A
    /// writer's statements thus follow each other on the connection's event loop instead of
    /// each waiting for the writer's task to be scheduled again.
    func send(_ query: PostgresQuery, expectingOneRow: String? = nil) {
        let result: EventLoopFuture<PostgresQueryResult> = connection.query(query, logger: logger)
        sent.withLock { $0.append(SentWrite(result: result, expectingOneRow: expectingOneRow)) }
    }

    /// Waits for the writes sent so far and throws the first failure among them.
    func settleSentWrites() async throws {
        let writes = sent.withLock { sent in
            defer { sent.removeAll(keepingCapacity: true) }
            return sent
        }
        for write in writes {
            let result: PostgresQueryResult
            do {
                result = try await write.result.get()
            } catch {
                throw PostgresTransaction.translate(error)
            }
            if let message = write.expectingOneRow, result.rows.count != 1 { throw StoreError.conflict(message) }
        }
    }

    func savepoint() async throws {
        balances.resetMember()
        // Sent with the writer's first statement: if it fails the transaction is aborted, so
        // every later statement fails and the release reports it.
        send("SAVEPOINT writer")
    }

    func releaseSavepoint() async throws {
        // Every write checked before the release: a failed row-count check must still find
        // the savepoint to roll back to. The release itself runs before the next writer's
        // statements; should it fail, the transaction is aborted and the commit reports it.
        try await settleSentWrites()
        send("RELEASE SAVEPOINT writer")
        balances.keepMember()
    }

    func rollbackToSavepoint() async {
        balances.resetMember()
        // Whatever was sent runs before the rollback (statements run in order); their
        // outcomes no longer matter.
        sent.withLock { $0.removeAll(keepingCapacity: true) }
        _ = try? await connection.query("ROLLBACK TO SAVEPOINT writer", logger: logger)
        _ = try? await connection.query("RELEASE SAVEPOINT writer", logger: logger)
    }

    func commit() async throws {
        try await settleSentWrites()
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
