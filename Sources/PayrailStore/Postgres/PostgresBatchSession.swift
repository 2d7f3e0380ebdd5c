import Logging
import PayrailDomain
import PostgresNIO
import Synchronization

/// One group-commit batch on PostgreSQL: a pooled connection inside BEGIN ... COMMIT that the
/// batch's writers take turns on, each in a savepoint. Their balance changes are kept here and
/// applied once per account, in account order, just before COMMIT: a merchant account credited
/// by every payment is locked once per batch and only for the commit, so it does not serialize
/// the payments.
final class PostgresBatchSession: GroupCommitSession {
    let connection: PostgresConnection
    private let logger: Logger
    let balances = BatchBalanceChanges()

    init(connection: PostgresConnection, logger: Logger) {
        self.connection = connection
        self.logger = logger
    }

    func memberTransaction() -> any StoreTransaction {
        PostgresTransaction(connection: connection, logger: logger, locking: true, batch: self)
    }

    func savepoint() async throws {
        balances.resetMember()
        try await connection.query("SAVEPOINT writer", logger: logger)
    }

    func releaseSavepoint() async throws {
        try await connection.query("RELEASE SAVEPOINT writer", logger: logger)
        balances.keepMember()
    }

    func rollbackToSavepoint() async {
        balances.resetMember()
        _ = try? await connection.query("ROLLBACK TO SAVEPOINT writer", logger: logger)
        _ = try? await connection.query("RELEASE SAVEPOINT writer", logger: logger)
    }

    func commit() async throws {
        let changes = balances.batch
        if !changes.isEmpty {
            try await connection.query(PostgresTransaction.balanceUpsert(changes), logger: logger)
        }
        try await connection.query("COMMIT", logger: logger)
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
