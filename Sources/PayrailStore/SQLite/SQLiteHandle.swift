import NIOCore
import SQLiteNIO
import Synchronization
import VaporCSQLite

/// One SQLite connection driven synchronously, with its prepared statements cached.
///
/// Why not `SQLiteConnection`: sqlite-nio runs every statement as its own thread-pool job and
/// parses it anew each time; a payment runs about twenty statements, so the hand-offs and the
/// parsing cost more than the statements themselves. Here a statement is prepared once per
/// connection (by its SQL text) and run on the caller's thread: point statements on the page
/// cache take microseconds, so they never leave the caller, and the one call that waits for
/// the disk (the writer's COMMIT, an fsync) is the store's to move off the caller's thread.
///
/// Not thread-safe by itself (opened in SQLite's multi-thread mode): its owner gives one
/// caller at a time exclusive use of it (``AsyncGate``), which is what `@unchecked Sendable`
/// relies on.
final class SQLiteHandle: @unchecked Sendable {
    private var db: OpaquePointer?
    private var statements: [String: CachedStatement] = [:]
    /// Distinct statements kept prepared; the store's SQL is a fixed set far below this, and
    /// a flood of one-off texts (variable-length IN lists) only resets the cache.
    private static let statementsMax = 512

    private final class CachedStatement {
        let handle: OpaquePointer
        let columns: SQLiteColumnNames
        init(handle: OpaquePointer, columns: SQLiteColumnNames) {
            self.handle = handle
            self.columns = columns
        }
    }

    /// Opens (creating if needed) the file at `path`. Failures carry SQLite's message.
    init(path: String) throws {
        var handle: OpaquePointer?
        let flags = SQLITE_OPEN_CREATE | SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_URI | SQLITE_OPEN_EXRESCODE
        let status = Self.openLock.withLock { _ in
            sqlite_nio_sqlite3_initialize()
            return sqlite_nio_sqlite3_open_v2(path, &handle, flags, nil)
        }
        guard status == SQLITE_OK, let handle else {
            let message = handle.flatMap { sqlite_nio_sqlite3_errmsg($0) }.map { String(cString: $0) } ?? "status \(status)"
            if let handle { sqlite_nio_sqlite3_close_v2(handle) }
            throw StoreError.database("cannot open SQLite database: \(message)")
        }
        self.db = handle
    }

    /// sqlite3_initialize and the first open touch process-wide configuration; serialize opens.
    private static let openLock = Mutex(())

    deinit { close() }

    /// Finalizes every statement and closes the connection; later calls fail.
    func close() {
        for statement in statements.values { sqlite_nio_sqlite3_finalize(statement.handle) }
        statements.removeAll()
        if let db { sqlite_nio_sqlite3_close_v2(db) }
        db = nil
    }

    /// Runs one statement with `binds` (`?` placeholders in order) and returns its rows.
    @discardableResult
    func query(_ sql: String, _ binds: [SQLiteData] = []) throws -> [SQLiteResultRow] {
        let statement = try prepared(sql)
        defer {
            sqlite_nio_sqlite3_reset(statement.handle)
            sqlite_nio_sqlite3_clear_bindings(statement.handle)
        }
        try bind(binds, to: statement.handle)
        var rows: [SQLiteResultRow] = []
        while true {
            let status = sqlite_nio_sqlite3_step(statement.handle)
            if status == SQLITE_DONE { return rows }
            guard status == SQLITE_ROW else { throw error(status) }
            rows.append(try row(of: statement))
        }
    }

    /// Runs SQL text that may hold several statements and no parameters (migrations, pragmas),
    /// without caching it.
    func execute(_ sql: String) throws {
        guard let db else { throw StoreError.database("SQLite connection is closed") }
        var message: UnsafeMutablePointer<CChar>?
        let status = sqlite_nio_sqlite3_exec(db, sql, nil, nil, &message)
        if status != SQLITE_OK {
            let text = message.map { String(cString: $0) } ?? "status \(status)"
            sqlite_nio_sqlite3_free(message)
            throw StoreError.database(text)
        }
    }

    private func prepared(_ sql: String) throws -> CachedStatement {
        if let cached = statements[sql] { return cached }
        guard let db else { throw StoreError.database("SQLite connection is closed") }
        var handle: OpaquePointer?
        let status = sqlite_nio_sqlite3_prepare_v3(db, sql, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &handle, nil)
        guard status == SQLITE_OK, let handle else { throw error(status) }
        let count = sqlite_nio_sqlite3_column_count(handle)
        var names: [String] = []
        names.reserveCapacity(Int(count))
        for index in 0..<count {
            names.append(sqlite_nio_sqlite3_column_name(handle, index).map { String(cString: $0) } ?? "")
        }
        if statements.count >= Self.statementsMax {
            for statement in statements.values { sqlite_nio_sqlite3_finalize(statement.handle) }
            statements.removeAll(keepingCapacity: true)
        }
        let statement = CachedStatement(handle: handle, columns: SQLiteColumnNames(names))
        statements[sql] = statement
        return statement
    }

    private func bind(_ binds: [SQLiteData], to handle: OpaquePointer) throws {
        for (offset, value) in binds.enumerated() {
            let index = Int32(offset + 1)
            let status: Int32
            switch value {
            case .integer(let integer):
                status = sqlite_nio_sqlite3_bind_int64(handle, index, Int64(integer))
            case .text(let text):
                status = sqlite_nio_sqlite3_bind_text64(handle, index, text, UInt64(text.utf8.count), sqliteTransient, UInt8(SQLITE_UTF8))
            case .blob(let buffer):
                status = buffer.withUnsafeReadableBytes { bytes in
                    // A zero-length blob needs a non-null pointer, else SQLite stores NULL.
                    sqlite_nio_sqlite3_bind_blob64(handle, index, bytes.baseAddress ?? UnsafeRawPointer(bitPattern: 1), UInt64(bytes.count), sqliteTransient)
                }
            case .float(let double):
                status = sqlite_nio_sqlite3_bind_double(handle, index, double)
            case .null:
                status = sqlite_nio_sqlite3_bind_null(handle, index)
            }
            guard status == SQLITE_OK else { throw error(status) }
        }
    }

    private func row(of statement: CachedStatement) throws -> SQLiteResultRow {
        let handle = statement.handle
        let count = statement.columns.count
        var values: [SQLiteData] = []
        values.reserveCapacity(count)
        for index in 0..<Int32(count) {
            switch sqlite_nio_sqlite3_column_type(handle, index) {
            case SQLITE_INTEGER:
                values.append(.integer(Int(sqlite_nio_sqlite3_column_int64(handle, index))))
            case SQLITE_FLOAT:
                values.append(.float(sqlite_nio_sqlite3_column_double(handle, index)))
            case SQLITE_TEXT:
                let length = Int(sqlite_nio_sqlite3_column_bytes(handle, index))
                guard let text = sqlite_nio_sqlite3_column_text(handle, index) else {
                    throw StoreError.database("SQLite returned no text for a text column")
                }
                values.append(.text(String(decoding: UnsafeBufferPointer(start: text, count: length), as: UTF8.self)))
            case SQLITE_BLOB:
                let length = Int(sqlite_nio_sqlite3_column_bytes(handle, index))
                var buffer = ByteBufferAllocator().buffer(capacity: length)
                if let bytes = sqlite_nio_sqlite3_column_blob(handle, index) {
                    buffer.writeBytes(UnsafeRawBufferPointer(start: bytes, count: length))
                }
                values.append(.blob(buffer))
            default:
                values.append(.null)
            }
        }
        return SQLiteResultRow(names: statement.columns, values: values)
    }

    /// The connection's message for a failed call: the engine's text only, never row data. A
    /// unique or primary-key violation is a conflict, as on PostgreSQL (23505): the caller can
    /// resolve it by looking again.
    private func error(_ status: Int32) -> StoreError {
        let message = db.flatMap { sqlite_nio_sqlite3_errmsg($0) }.map { String(cString: $0) } ?? "SQLite status \(status)"
        let extended = db.map { sqlite_nio_sqlite3_extended_errcode($0) } ?? status
        if extended == 2067 || extended == 1555 {  // SQLITE_CONSTRAINT_UNIQUE, SQLITE_CONSTRAINT_PRIMARYKEY
            return StoreError.conflict(message)
        }
        return StoreError.database(message)
    }
}

/// SQLite's "copy the value now" destructor for bound text and blobs.
private let sqliteTransient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)

/// The column names of a prepared statement, shared by every row it returns.
final class SQLiteColumnNames: Sendable {
    let count: Int
    private let offsets: [String: Int]

    init(_ names: [String]) {
        count = names.count
        var offsets: [String: Int] = [:]
        for (offset, name) in names.enumerated() where offsets[name] == nil { offsets[name] = offset }
        self.offsets = offsets
    }

    func offset(of name: String) -> Int? { offsets[name] }
}

/// One result row: values by column name (the first column of that name).
struct SQLiteResultRow: Sendable {
    let names: SQLiteColumnNames
    let values: [SQLiteData]

    func column(_ name: String) -> SQLiteData? {
        names.offset(of: name).map { values[$0] }
    }
}
