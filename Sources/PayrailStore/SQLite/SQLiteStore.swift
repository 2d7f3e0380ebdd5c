import Synchronization
import Logging
import NIOCore
import NIOPosix
import PayrailDomain
import SQLiteNIO

/// The embedded single-node store: one SQLite file in WAL mode with `synchronous=FULL`, so a
/// commit is on disk before it is acknowledged. Writes go through one connection (SQLite has
/// one writer) with group commit: writers that queue up while a transaction is open join it,
/// each in its own savepoint (a failing writer rolls back alone), and the last one in line
/// commits for all of them with one fsync; nobody is answered before that commit. Reads use
/// their own connections and never wait for writers.
///
/// Statements run on the caller's thread against cached prepared statements (``SQLiteHandle``):
/// they work on the page cache and take microseconds. The calls that wait for the disk, COMMIT
/// (the fsync) and opening, run on the store's own thread pool, never on the caller's.
public final class SQLiteStore: GroupCommittingStore {
    private let writer: SQLiteHandle
    private let lane: GroupCommitLane<SQLiteWriter>
    /// Most writers in one batch: bounds how long the first of them waits for the commit.
    public var batchMembersMax: Int { lane.membersMax }

    /// Transactions committed and writers served so far: their ratio is the group-commit gain.
    public var groupCommitStatistics: GroupCommitStatistics { lane.statistics }
    private let readers: [SQLiteHandle]
    private let readerGates: [AsyncGate]
    private let nextReader = AtomicCounter()
    private let threadPool: NIOThreadPool

    private init(writer: SQLiteHandle, readers: [SQLiteHandle], threadPool: NIOThreadPool, batchMembersMax: Int) {
        self.lane = GroupCommitLane(database: SQLiteWriter(connection: writer, threadPool: threadPool), membersMax: batchMembersMax)
        self.writer = writer
        self.readers = readers
        self.readerGates = readers.map { _ in AsyncGate() }
        self.threadPool = threadPool
    }

    /// The vault's file for the payments file at `path`: `payrail.sqlite` -> `payrail.vault.sqlite`.
    public static func vaultPath(for path: String) -> String {
        path.hasSuffix(".sqlite") ? String(path.dropLast(".sqlite".count)) + ".vault.sqlite" : path + ".vault"
    }

    /// Opens (creating if needed) the database at `path` and the vault's file beside it
    /// (``vaultPath(for:)``, attached as schema `vault`), and brings both schemas up to date.
    public static func open(path: String, readerCount: Int = 2, batchMembersMax: Int = 64,
                            logger: Logger = Logger(label: "payrail.store.sqlite")) async throws -> SQLiteStore {
        // The writer's commits (fsync and SQLite's automatic WAL checkpoint, every 1,000 pages:
        // run between two of its transactions, it lets the WAL restart from its beginning).
        let threadPool = NIOThreadPool(numberOfThreads: 1)
        threadPool.start()
        do {
            let (writer, readers) = try await threadPool.runIfActive {
                try openConnections(path: path, readerCount: max(1, readerCount))
            }
            return SQLiteStore(writer: writer, readers: readers, threadPool: threadPool, batchMembersMax: max(1, batchMembersMax))
        } catch {
            // A failed open or migration is an error for the caller, with nothing left open.
            try? await threadPool.shutdownGracefully()
            throw error
        }
    }

    /// Per connection: the sub-journals of the writers' savepoints stay in memory (not a temp
    /// file per savepoint), and page caches (the writer's holds the hot index pages; at most
    /// 20 + 2 x 5 MiB in all, reached within the first minutes of load).
    private static let writerPragmas = ["PRAGMA temp_store=MEMORY", "PRAGMA cache_size=-16384", "PRAGMA vault.cache_size=-4096"]
    private static let readerPragmas = ["PRAGMA temp_store=MEMORY", "PRAGMA cache_size=-4096", "PRAGMA vault.cache_size=-1024"]

    private static func openConnections(path: String, readerCount: Int) throws -> (SQLiteHandle, [SQLiteHandle]) {
        let vaultPath = vaultPath(for: path)
        let writer = try SQLiteHandle(path: path)
        do {
            try writer.query("ATTACH DATABASE ? AS vault", [.text(vaultPath)])
            for pragma in ["PRAGMA journal_mode=WAL", "PRAGMA vault.journal_mode=WAL", "PRAGMA synchronous=FULL", "PRAGMA vault.synchronous=FULL",
                           "PRAGMA foreign_keys=ON", "PRAGMA busy_timeout=10000",
                           // The WAL file shrinks back to this after it restarts.
                           "PRAGMA journal_size_limit=67108864", "PRAGMA vault.journal_size_limit=16777216"] + writerPragmas {
                try writer.execute(pragma)
            }
            try migrate(writer, table: "vault.schema_migrations", SQLiteSchema.vaultMigrations)
            try migrate(writer, table: "schema_migrations", SQLiteSchema.migrations)
        } catch {
            writer.close()
            throw error
        }
        var readers: [SQLiteHandle] = []
        do {
            for _ in 0..<readerCount {
                let reader = try SQLiteHandle(path: path)
                readers.append(reader)
                try reader.query("ATTACH DATABASE ? AS vault", [.text(vaultPath)])
                for pragma in ["PRAGMA busy_timeout=10000", "PRAGMA query_only=ON"] + readerPragmas { try reader.execute(pragma) }
            }
        } catch {
            for reader in readers { reader.close() }
            writer.close()
            throw error
        }
        return (writer, readers)
    }

    private static func migrate(_ connection: SQLiteHandle, table: String, _ migrations: [String]) throws {
        try connection.execute("CREATE TABLE IF NOT EXISTS \(table) (version INTEGER PRIMARY KEY, applied_at_ms INTEGER NOT NULL)")
        let applied = try connection.query("SELECT COALESCE(MAX(version), 0) AS v FROM \(table)")
        let current = applied.first?.column("v")?.integer ?? 0
        for (index, migration) in migrations.enumerated() where index + 1 > current {
            try connection.execute("BEGIN IMMEDIATE")
            do {
                for statement in SQLiteSchema.statements(of: migration) {
                    try connection.execute(statement)
                }
                try connection.query("INSERT INTO \(table) (version, applied_at_ms) VALUES (?, 0)", [.integer(index + 1)])
                try connection.execute("COMMIT")
            } catch {
                try? connection.execute("ROLLBACK")
                throw error
            }
        }
    }

    public func write<T: Sendable>(_ body: (any StoreTransaction) async throws -> T) async throws -> T {
        try await lane.write(body)
    }

    public func read<T: Sendable>(_ body: (any StoreTransaction) async throws -> T) async throws -> T {
        let index = nextReader.next() % readers.count
        let reader = readers[index]
        return try await readerGates[index].withExclusiveAccess {
            try reader.query("BEGIN DEFERRED")
            do {
                let result = try await body(SQLiteTransaction(connection: reader))
                try reader.query("COMMIT")
                return result
            } catch {
                _ = try? reader.query("ROLLBACK")
                throw SQLiteTransaction.translate(error)
            }
        }
    }

    /// The vault in its own attached file, written through the same group-commit writer.
    public var vault: any VaultStore { SQLiteVaultStore(store: self) }

    /// Runs a vault write in the group-commit lane (a transaction of its own or shared).
    func vaultWrite<T: Sendable>(_ body: (SQLiteTransaction) async throws -> T) async throws -> T {
        try await write { tx in try await body(Self.sqlite(tx)) }
    }

    func vaultRead<T: Sendable>(_ body: (SQLiteTransaction) async throws -> T) async throws -> T {
        try await read { tx in try await body(Self.sqlite(tx)) }
    }

    private static func sqlite(_ tx: any StoreTransaction) throws -> SQLiteTransaction {
        guard let tx = tx as? SQLiteTransaction else { throw StoreError.database("not a SQLite transaction") }
        return tx
    }

    /// Closes the connections once nobody uses them (each under its gate).
    public func close() async throws {
        for (reader, gate) in zip(readers, readerGates) {
            try await gate.withExclusiveAccess { reader.close() }
        }
        await lane.drain { writer.close() }
        try await threadPool.shutdownGracefully()
    }
}

extension SQLiteSchema {
    /// Splits a migration into statements: a statement ends with `;` at the end of a line
    /// (trigger bodies keep their inner `;` mid-line).
    static func statements(of migration: String) -> [String] {
        migration.components(separatedByLineEnding: ";")
    }
}

extension String {
    fileprivate func components(separatedByLineEnding terminator: Character) -> [String] {
        var statements: [String] = []
        var current = ""
        for line in split(separator: "\n", omittingEmptySubsequences: false) {
            current += line + "\n"
            if line.last == terminator {
                statements.append(current.trimmingWhitespace())
                current = ""
            }
        }
        let rest = current.trimmingWhitespace()
        if !rest.isEmpty { statements.append(rest) }
        return statements
    }

    fileprivate func trimmingWhitespace() -> String {
        var scalars = Substring(self)
        while let first = scalars.first, first.isWhitespace { scalars = scalars.dropFirst() }
        while let last = scalars.last, last.isWhitespace { scalars = scalars.dropLast() }
        return String(scalars)
    }
}

/// SQLite's one writer connection as a group-commit database: a batch is one `BEGIN IMMEDIATE`
/// transaction on it, and the next batch begins only after the commit.
struct SQLiteWriter: GroupCommitDatabase {
    let connection: SQLiteHandle
    let threadPool: NIOThreadPool

    var overlapsCommits: Bool { false }

    func withNewSession<T: Sendable>(_ body: (SQLiteBatchSession) async throws -> T) async throws -> T {
        try connection.query("BEGIN IMMEDIATE")
        return try await body(SQLiteBatchSession(connection: connection, threadPool: threadPool))
    }

    func translate(_ error: any Error) -> any Error { SQLiteTransaction.translate(error) }
}

/// One group-commit batch on the writer connection. The writers' balance changes are kept here
/// and applied once per account just before COMMIT (as on PostgreSQL): the merchant accounts
/// that every payment credits are written once per batch, not once per payment. The commit
/// (the fsync) runs on the store's thread pool; everything else on the lane holder's thread.
final class SQLiteBatchSession: GroupCommitSession {
    let connection: SQLiteHandle
    private let threadPool: NIOThreadPool
    let balances = BatchBalanceChanges()

    init(connection: SQLiteHandle, threadPool: NIOThreadPool) {
        self.connection = connection
        self.threadPool = threadPool
    }

    func memberTransaction() -> any StoreTransaction { SQLiteTransaction(connection: connection, batch: self) }

    func savepoint() async throws {
        balances.resetMember()
        try connection.query("SAVEPOINT writer")
    }

    func releaseSavepoint() async throws {
        try connection.query("RELEASE writer")
        balances.keepMember()
    }

    func rollbackToSavepoint() async {
        balances.resetMember()
        _ = try? connection.query("ROLLBACK TO writer")
        _ = try? connection.query("RELEASE writer")
    }

    func commit() async throws {
        for delta in balances.batch.sorted {
            try connection.query(SQLiteTransaction.balanceUpsert,
                                 [.text(delta.account), .text(delta.currency), .integer(Int(delta.amountMinor)), .integer(delta.entryCount)])
        }
        let connection = connection
        _ = try await threadPool.runIfActive { try connection.query("COMMIT") }
    }

    func rollback() async { _ = try? connection.query("ROLLBACK") }
}

/// A lock-free round-robin counter.
final class AtomicCounter: Sendable {
    private let value = Synchronization.Atomic<Int>(0)
    func next() -> Int { value.add(1, ordering: .relaxed).oldValue & Int.max }
    var current: Int { value.load(ordering: .relaxed) }
}
