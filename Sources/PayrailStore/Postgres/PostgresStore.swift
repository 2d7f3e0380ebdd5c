import Logging
import NIOCore
import PayrailDomain
import PostgresNIO
import Synchronization

/// The production store on PostgreSQL (postgres-nio): a connection pool, row locks
/// (`FOR UPDATE`) where the payment service reads what it is about to change, and group
/// commit: concurrent writes join shared transactions (several lanes, each batch on its own
/// connection, each writer in a savepoint so it fails alone), with one balance update per
/// account per batch just before the commit. Nobody is answered before their batch commits.
/// Durability and failover come from PostgreSQL's own synchronous replication (Patroni),
/// never from this code.
public final class PostgresStore: GroupCommittingStore {
    /// Where the server is, parsed from `postgres://user[:password]@host[:port]/database`.
    public struct Location: Sendable, Hashable {
        public var host: String
        public var port: Int
        public var username: String
        public var password: String?
        public var database: String

        public init(host: String, port: Int = 5432, username: String, password: String? = nil, database: String) {
            self.host = host
            self.port = port
            self.username = username
            self.password = password
            self.database = database
        }

        public init?(url: String) {
            guard url.hasPrefix("postgres://") || url.hasPrefix("postgresql://") else { return nil }
            let rest = url.drop(while: { $0 != "/" }).dropFirst(2)
            guard let at = rest.lastIndex(of: "@"), let slash = rest[at...].firstIndex(of: "/") else { return nil }
            let credentials = rest[..<at].split(separator: ":", maxSplits: 1)
            let hostPort = rest[rest.index(after: at)..<slash].split(separator: ":", maxSplits: 1)
            let database = rest[rest.index(after: slash)...].prefix { $0 != "?" }
            guard let user = credentials.first, let host = hostPort.first, !database.isEmpty else { return nil }
            self.init(host: String(host), port: hostPort.count == 2 ? Int(hostPort[1]) ?? 5432 : 5432, username: String(user),
                      password: credentials.count == 2 ? String(credentials[1]) : nil, database: String(database))
        }
    }

    let client: PostgresClient
    private let run: Task<Void, Never>
    private let logger: Logger
    private let lanes: [GroupCommitLane<PostgresBatches>]
    private let nextLane = AtomicCounter()

    private init(client: PostgresClient, run: Task<Void, Never>, logger: Logger, writeLanes: Int, batchMembersMax: Int) {
        self.client = client
        self.run = run
        self.logger = logger
        self.lanes = (0..<max(1, writeLanes)).map { _ in
            GroupCommitLane(database: PostgresBatches(client: client, logger: logger), membersMax: max(1, batchMembersMax))
        }
    }

    /// Transactions committed and writers served so far, over all lanes.
    public var groupCommitStatistics: GroupCommitStatistics {
        lanes.map(\.statistics).reduce(GroupCommitStatistics(commits: 0, writes: 0), +)
    }

    /// Moves up to `limit` rows of the balance journal (where versions before group commit
    /// kept balance changes) into `account_balances` in one statement: one update per account,
    /// rows locked with SKIP LOCKED so several core nodes can run it at once. Returns how many
    /// rows it moved; `open` runs it until the journal is empty.
    @discardableResult
    public func rollUpBalances(limit: Int = 5_000) async throws -> Int {
        do {
            let rows = try await client.withConnection { connection in
                try await connection.query("""
                    WITH moved AS (
                        DELETE FROM balance_journal WHERE seq IN (
                            SELECT seq FROM balance_journal ORDER BY seq LIMIT \(limit) FOR UPDATE SKIP LOCKED)
                        RETURNING account, currency, delta_minor, entry_count
                    ), summed AS (
                        SELECT account, currency, SUM(delta_minor)::BIGINT AS delta, SUM(entry_count)::BIGINT AS entries, COUNT(*) AS journal_rows
                        FROM moved GROUP BY account, currency
                    ), applied AS (
                        INSERT INTO account_balances (account, currency, balance_minor, entry_count)
                        SELECT account, currency, delta, entries FROM summed ORDER BY account
                        ON CONFLICT (account) DO UPDATE SET balance_minor = account_balances.balance_minor + excluded.balance_minor,
                                                            entry_count = account_balances.entry_count + excluded.entry_count
                        RETURNING 1
                    )
                    SELECT COALESCE(SUM(journal_rows), 0)::BIGINT FROM summed
                    """, logger: logger).collect()
            }
            return Int(try rows.first?.decode(Int64.self) ?? 0)
        } catch {
            throw PostgresTransaction.translate(error)
        }
    }

    /// Connects (the pool runs in the background until ``close()``) and migrates the schema.
    /// - Parameters:
    ///   - writeLanes: group-commit batches filled at once, each on its own connection (keep
    ///     it below `maximumConnections`, which reads share). Two: with a writer's writes in one
    ///     round trip, more lanes mostly made smaller batches, each paying BEGIN, the balance
    ///     update and COMMIT (docs/performance.md: 2 lanes against 4, +4 % and +15 %).
    ///   - batchMembersMax: most writers per batch, bounding the first one's wait.
    ///   - connections: all open from the start (servers) or opened on demand (tests, tools).
    public static func open(_ location: Location, maximumConnections: Int = 16, writeLanes: Int = 2, batchMembersMax: Int = 64,
                            connections: PostgresConnectionPolicy = .keptOpen,
                            logger: Logger = Logger(label: "payrail.store.postgres")) async throws -> PostgresStore {
        try await open(location, maximumConnections: maximumConnections, writeLanes: writeLanes, batchMembersMax: batchMembersMax,
                       connections: connections, migrating: true, logger: logger)
    }

    /// Connects to a read-only streaming standby (a region's replica): no migrations, reads
    /// only (the server refuses writes). Reads lag the primary by the replication delay.
    public static func openReplica(_ location: Location, maximumConnections: Int = 8, connections: PostgresConnectionPolicy = .keptOpen,
                                   logger: Logger = Logger(label: "payrail.store.postgres.replica")) async throws -> PostgresStore {
        try await open(location, maximumConnections: maximumConnections, writeLanes: 1, batchMembersMax: 1, connections: connections,
                       migrating: false, logger: logger)
    }

    private static func open(_ location: Location, maximumConnections: Int, writeLanes: Int, batchMembersMax: Int,
                             connections: PostgresConnectionPolicy, migrating: Bool, logger: Logger) async throws -> PostgresStore {
        var configuration = PostgresClient.Configuration(host: location.host, port: location.port, username: location.username,
                                                         password: location.password, database: location.database, tls: .disable)
        connections.configure(&configuration.options, maximumConnections: maximumConnections)
        let client = PostgresClient(configuration: configuration, backgroundLogger: logger)
        let run = Task { await client.run() }
        let store = PostgresStore(client: client, run: run, logger: logger,
                                  writeLanes: min(writeLanes, max(1, maximumConnections - 2)), batchMembersMax: batchMembersMax)
        do {
            if migrating {
                try await store.migrate()
                while try await store.rollUpBalances() > 0 {}
            }
        } catch {
            try? await store.close()
            throw error
        }
        return store
    }

    private func migrate() async throws {
        try await client.withTransaction(logger: logger) { connection in
            try await connection.query("SELECT pg_advisory_xact_lock(7277245)", logger: logger)
            try await connection.query("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())",
                                       logger: logger)
            var current = 0
            for try await version in try await connection.query("SELECT COALESCE(MAX(version), 0) FROM schema_migrations", logger: logger).decode(Int.self) {
                current = version
            }
            for (index, migration) in PostgresSchema.migrations.enumerated() where index + 1 > current {
                for statement in PostgresSchema.statements(of: migration) {
                    try await connection.query(PostgresQuery(unsafeSQL: statement), logger: logger)
                }
                try await connection.query("INSERT INTO schema_migrations (version) VALUES (\(index + 1))", logger: logger)
            }
        }
    }

    public func write<T: Sendable>(_ body: (any StoreTransaction) async throws -> T) async throws -> T {
        try await lanes[nextLane.next() % lanes.count].write(body)
    }

    public func read<T: Sendable>(_ body: (any StoreTransaction) async throws -> T) async throws -> T {
        do {
            return try await client.withTransaction(logger: logger) { connection in
                try await connection.query("SET TRANSACTION READ ONLY, ISOLATION LEVEL REPEATABLE READ", logger: logger)
                return try await body(PostgresTransaction(connection: connection, logger: logger, locking: false))
            }
        } catch {
            throw PostgresTransaction.translate(error)
        }
    }

    public func close() async throws {
        run.cancel()
        await run.value
    }
}

extension PostgresSchema {
    /// Splits a migration into statements at lines ending in `;`, except inside `$$` bodies.
    static func statements(of migration: String) -> [String] {
        var statements: [String] = []
        var current = ""
        var insideDollarQuote = false
        for line in migration.split(separator: "\n", omittingEmptySubsequences: false) {
            current += line + "\n"
            if line.components(separatedBy: "$$").count % 2 == 0 { insideDollarQuote.toggle() }
            if !insideDollarQuote, line.hasSuffix(";") {
                statements.append(String(current.drop(while: \.isWhitespace)))
                current = ""
            }
        }
        if !current.allSatisfy(\.isWhitespace) { statements.append(current) }
        return statements
    }
}
