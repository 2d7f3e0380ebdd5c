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
/// their own connections and never wait for writers. All SQLite calls run on a thread pool,
/// never on an event loop.
public final class SQLiteStore: GroupCommittingStore {
    private let writer: SQLiteConnection
    private let lane: GroupCommitLane<SQLiteWriter>
    /// Most writers in one batch: bounds how long the first of them waits for the commit.
    public var batchMembersMax: Int { lane.membersMax }

    /// Transactions committed and writers served so far: their ratio is the group-commit gain.
    public var groupCommitStatistics: GroupCommitStatistics { lane.statistics }
    private let readers: [SQLiteConnection]
    private let readerGates: [AsyncGate]
    private let nextReader = AtomicCounter()
    private let threadPool: NIOThreadPool

    private init(writer: SQLiteConnection, readers: [SQLiteConnection], threadPool: NIOThreadPool, batchMembersMax: Int) {
        self.lane = GroupCommitLane(database: SQLiteWriter(connection: writer), membersMax: batchMembersMax)
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
        let threadPool = NIOThreadPool(numberOfThreads: 2)
        threadPool.start()
        let eventLoop = MultiThreadedEventLoopGroup.singleton.any()
        let vaultPath = vaultPath(for: path)
        let writer = try await SQLiteConnection.open(storage: .file(path: path), threadPool: threadPool, logger: logger, on: eventLoop)
        do {
            _ = try await writer.query("ATTACH DATABASE ? AS vault", [.text(vaultPath)])
            for pragma in ["PRAGMA journal_mode=WAL", "PRAGMA vault.journal_mode=WAL", "PRAGMA synchronous=FULL", "PRAGMA vault.synchronous=FULL",
                           "PRAGMA foreign_keys=ON", "PRAGMA busy_timeout=10000"] {
                _ = try await writer.query(pragma)
            }
            try await migrate(writer, table: "vault.schema_migrations", SQLiteSchema.vaultMigrations)
            try await migrate(writer, table: "schema_migrations", SQLiteSchema.migrations)
        } catch {
            // A failed migration is an error for the caller, with the connection closed.
            try? await writer.close()
            try? await threadPool.shutdownGracefully()
            throw error
        }
        var readers: [SQLiteConnection] = []
        for _ in 0..<max(1, readerCount) {
            let reader = try await SQLiteConnection.open(storage: .file(path: path), threadPool: threadPool, logger: logger, on: eventLoop)
            _ = try await reader.query("ATTACH DATABASE ? AS vault", [.text(vaultPath)])
            _ = try await reader.query("PRAGMA busy_timeout=10000")
            _ = try await reader.query("PRAGMA query_only=ON")
            readers.append(reader)
        }
        return SQLiteStore(writer: writer, readers: readers, threadPool: threadPool, batchMembersMax: max(1, batchMembersMax))
    }

    private static func migrate(_ connection: SQLiteConnection, table: String, _ migrations: [String]) async throws {
        _ = try await connection.query("CREATE TABLE IF NOT EXISTS \(table) (version INTEGER PRIMARY KEY, applied_at_ms INTEGER NOT NULL)")
        let applied = try await connection.query("SELECT COALESCE(MAX(version), 0) AS v FROM \(table)")
        let current = applied.first?.column("v")?.integer ?? 0
        for (index, migration) in migrations.enumerated() where index + 1 > current {
            _ = try await connection.query("BEGIN IMMEDIATE")
            do {
                for statement in SQLiteSchema.statements(of: migration) {
                    _ = try await connection.query(statement)
                }
                _ = try await connection.query("INSERT INTO \(table) (version, applied_at_ms) VALUES (?, 0)", [.integer(index + 1)])
                _ = try await connection.query("COMMIT")
            } catch {
                _ = try? await connection.query("ROLLBACK")
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
            _ = try await reader.query("BEGIN DEFERRED")
            do {
                let result = try await body(SQLiteTransaction(connection: reader))
                _ = try await reader.query("COMMIT")
                return result
            } catch {
                _ = try? await reader.query("ROLLBACK")
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

    public func close() async throws {
        for reader in readers { try await reader.close() }
        try await writer.close()
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
struct SQLiteWriter: GroupCommitDatabase, GroupCommitSession {
    let connection: SQLiteConnection

    var overlapsCommits: Bool { false }

    func withNewSession<T: Sendable>(_ body: (SQLiteWriter) async throws -> T) async throws -> T {
        _ = try await connection.query("BEGIN IMMEDIATE")
        return try await body(self)
    }

    func translate(_ error: any Error) -> any Error { SQLiteTransaction.translate(error) }

    func memberTransaction() -> any StoreTransaction { SQLiteTransaction(connection: connection) }
    func savepoint() async throws { _ = try await connection.query("SAVEPOINT writer") }
    func releaseSavepoint() async throws { _ = try await connection.query("RELEASE writer") }

    func rollbackToSavepoint() async {
        _ = try? await connection.query("ROLLBACK TO writer")
        _ = try? await connection.query("RELEASE writer")
    }

    func commit() async throws { _ = try await connection.query("COMMIT") }
    func rollback() async { _ = try? await connection.query("ROLLBACK") }
}

/// A lock-free round-robin counter.
final class AtomicCounter: Sendable {
    private let value = Synchronization.Atomic<Int>(0)
    func next() -> Int { value.add(1, ordering: .relaxed).oldValue & Int.max }
    var current: Int { value.load(ordering: .relaxed) }
}
