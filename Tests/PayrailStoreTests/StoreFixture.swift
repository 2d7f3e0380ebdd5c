import Foundation
import Logging
import PayrailStore
import PostgresNIO
import SQLiteNIO
import Testing

/// The store implementations the contract tests run against. PostgreSQL needs a server:
/// `scripts/test` starts one and sets PAYRAIL_TEST_POSTGRES_URL. Without it the PostgreSQL
/// cases are left out locally, and fail in CI (where leaving them out would hide a broken setup).
enum StoreKind: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case sqlite, postgres

    var testDescription: String { rawValue }

    static var postgresURL: String? { ProcessInfo.processInfo.environment["PAYRAIL_TEST_POSTGRES_URL"] }

    static var available: [StoreKind] {
        postgresURL != nil || ProcessInfo.processInfo.environment["CI"] != nil ? allCases : [.sqlite]
    }
}

/// A fresh, empty store of `kind` for one test, plus a way to run raw SQL against it behind
/// the store's back (to play a buggy writer); removed afterwards.
struct StoreFixture {
    let store: any PaymentStore
    let raw: @Sendable (String) async throws -> Void
    let cleanUp: @Sendable () async throws -> Void

    static func with(_ kind: StoreKind, _ body: (any PaymentStore, @Sendable (String) async throws -> Void) async throws -> Void) async throws {
        let fixture = try await make(kind)
        do {
            try await body(fixture.store, fixture.raw)
        } catch {
            try? await fixture.cleanUp()
            throw error
        }
        try await fixture.cleanUp()
    }

    /// A fresh path for a SQLite store in the temporary folder.
    static func temporarySQLitePath(_ label: String) -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("payrail-\(label)-\(UUID().uuidString).sqlite").path
    }

    /// Removes a SQLite store's files: the database and the vault's, with their WAL and index.
    static func removeSQLiteFiles(at path: String) {
        for file in [path, SQLiteStore.vaultPath(for: path)] {
            for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: file + suffix) }
        }
    }

    static func make(_ kind: StoreKind) async throws -> StoreFixture {
        switch kind {
        case .sqlite:
            let path = temporarySQLitePath("store")
            let store = try await SQLiteStore.open(path: path)
            return StoreFixture(store: store, raw: { sql in
                let connection = try await SQLiteConnection.open(storage: .file(path: path))
                do {
                    _ = try await connection.query(sql)
                } catch {
                    try await connection.close()
                    throw error
                }
                try await connection.close()
            }, cleanUp: {
                try await store.close()
                removeSQLiteFiles(at: path)
            })
        case .postgres:
            let (location, drop) = try await newPostgresDatabase()
            // On demand: the suites run their cases at once, and eight connections each kept
            // open from the start would exhaust the test server's connection slots.
            let store = try await PostgresStore.open(location, maximumConnections: 8, connections: .onDemand)
            return StoreFixture(store: store, raw: { sql in
                try await admin(location) { try await $0.query(PostgresQuery(unsafeSQL: sql), logger: Logger(label: "test")) }
            }, cleanUp: {
                try await store.close()
                try await drop()
            })
        }
    }

    /// One connection (one server session) to a fresh database with the store's schema,
    /// for tests of the schema's own functions; the database is dropped afterwards.
    static func withPostgresSession(_ body: (PostgresConnection) async throws -> Void) async throws {
        try await withPostgresDatabase { location in
            try await PostgresStore.open(location, maximumConnections: 2, connections: .onDemand).close()
            try await admin(location, body)
        }
    }

    /// A fresh, empty database on the test server for `body` (which opens what it needs in it),
    /// dropped afterwards.
    static func withPostgresDatabase(_ body: (PostgresStore.Location) async throws -> Void) async throws {
        let (location, drop) = try await newPostgresDatabase()
        do {
            try await body(location)
        } catch {
            try? await drop()
            throw error
        }
        try await drop()
    }

    /// A new, empty database on the test server, and how to drop it.
    private static func newPostgresDatabase() async throws -> (PostgresStore.Location, @Sendable () async throws -> Void) {
        guard let url = StoreKind.postgresURL, let base = PostgresStore.Location(url: url) else {
            Issue.record("PAYRAIL_TEST_POSTGRES_URL is not set: run scripts/test, which starts PostgreSQL")
            throw CancellationError()
        }
        let database = "t_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased()
        try await admin(base) { try await $0.query(PostgresQuery(unsafeSQL: "CREATE DATABASE \(database)"), logger: Logger(label: "test")) }
        var location = base
        location.database = database
        return (location, {
            try await admin(base) {
                try await $0.query(PostgresQuery(unsafeSQL: "DROP DATABASE IF EXISTS \(database) WITH (FORCE)"), logger: Logger(label: "test"))
            }
        })
    }

    static func admin(_ location: PostgresStore.Location, _ body: (PostgresConnection) async throws -> Void) async throws {
        let connection = try await PostgresConnection.connect(
            configuration: .init(host: location.host, port: location.port, username: location.username, password: location.password,
                                 database: location.database, tls: .disable),
            id: 1, logger: Logger(label: "payrail.test.admin"))
        do {
            try await body(connection)
        } catch {
            try? await connection.close()
            throw error
        }
        try await connection.close()
    }
}
