import Logging
import PostgresNIO
import Synchronization

/// Runs the store's statements as named prepared statements, parsed and planned once per
/// connection instead of on every execution.
///
/// postgres-nio sends an ad-hoc query as Parse, Describe, Bind, Execute and Sync, and the
/// server parses, analyses and plans it every time: on the payment path (about twenty
/// statements per payment) that was most of PostgreSQL's CPU and a large share of ours
/// (encoding the extra messages, decoding the descriptions). A prepared statement is Bind,
/// Execute and Sync against a description and plan both sides keep. The store's SQL texts are
/// a fixed, small set (their values are always bound); DML only (utility statements such as
/// SAVEPOINT gain nothing), and at most ``capacity`` distinct texts per process, beyond which
/// statements run ad hoc, since a connection keeps every statement it prepared.
///
/// Ordering: the first time a connection sees a statement, postgres-nio queues its execution
/// only once the preparation has been answered, behind whatever was queued meanwhile. Callers
/// therefore await ``rows(_:on:logger:)`` before sending anything else on that connection
/// (measured: writes once sent prepared without waiting let a failed writer's insert run after
/// its rollback, which the store contract tests caught). A batch's writes now travel together
/// in one prepared call (``PostgresBatchSession``), awaited like every other statement.
enum PreparedStatements {
    static let capacity = 512

    private static let names = Mutex<[String: String]>([:])

    /// The statement being executed: postgres-nio reads a prepared statement's name and SQL
    /// from its type, synchronously when the call starts (and again for an error's report).
    @TaskLocal fileprivate static var current: (name: String, sql: String)?

    /// The rows of `query`, prepared on `connection` the first time it runs there.
    static func rows(_ query: PostgresQuery, on connection: PostgresConnection, logger: Logger) async throws -> [PostgresRandomAccessRow] {
        guard let name = name(for: query.sql) else {
            return try await connection.query(query, logger: logger).collect().map { $0.makeRandomAccess() }
        }
        return try await $current.withValue((name, query.sql)) {
            var rows: [PostgresRandomAccessRow] = []
            for try await row in try await connection.execute(BoundStatement(bindings: query.binds), logger: logger) {
                rows.append(row.makeRandomAccess())
            }
            return rows
        }
    }

    /// A per-process name for `sql` (one text, one name), or nil to run it ad hoc.
    static func name(for sql: String) -> String? {
        if let name = names.withLock({ $0[sql] }) { return name }
        guard isDML(sql) else { return nil }
        return names.withLock { names in
            if let name = names[sql] { return name }
            guard names.count < capacity else { return nil }
            let name = "payrail_\(names.count)"
            names[sql] = name
            return name
        }
    }

    private static func isDML(_ sql: String) -> Bool {
        let head = head(of: sql)
        return ["SELECT", "INSERT", "UPDATE", "DELETE"].contains(head) || head.hasPrefix("WITH")
    }

    /// A statement's first six characters after leading blanks, upper-cased: enough to tell
    /// SELECT, INSERT, UPDATE, DELETE and WITH apart.
    static func head(of sql: String) -> String {
        sql.drop(while: { $0 == " " || $0 == "\n" }).prefix(6).uppercased()
    }
}

/// The statement in ``PreparedStatements/current``, with this execution's values.
private struct BoundStatement: PostgresPreparedStatement {
    typealias Row = PostgresRow

    static var name: String {
        guard let current = PreparedStatements.current else { preconditionFailure("a bound statement runs inside PreparedStatements.rows") }
        return current.name
    }

    static var sql: String {
        guard let current = PreparedStatements.current else { preconditionFailure("a bound statement runs inside PreparedStatements.rows") }
        return current.sql
    }

    let bindings: PostgresBindings

    func makeBindings() throws -> PostgresBindings { bindings }
    func decodeRow(_ row: PostgresRow) throws -> PostgresRow { row }
}
