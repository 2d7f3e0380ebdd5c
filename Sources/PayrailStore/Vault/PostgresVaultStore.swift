import Logging
import NIOCore
import PayrailDomain
import PostgresNIO

/// The vault on PostgreSQL: tables in the `vault` schema, owned by the vault's own role and
/// reached through a pool of its own with that role's credentials. The payments role has no
/// privilege on the schema (``provision(admin:vaultRole:password:)`` revokes it), so only the
/// vault code path, holding the vault credentials, can read a sealed PAN or its wrapped key.
/// Regional read replicas are the server's streaming standbys (``openReplica(_:)``).
public final class PostgresVaultStore: VaultStore {
    /// The role vault tables belong to unless told otherwise.
    public static let defaultRole = "payrail_vault"

    private let client: PostgresClient
    private let run: Task<Void, Never>
    private let logger: Logger

    /// Cards stored concurrently share one INSERT and one commit (a payment waits for its
    /// card's commit before the processor sees it; one WAL flush per card was a payment's).
    private let cardInserts: Coalescer<VaultedCardRecord>

    private init(client: PostgresClient, run: Task<Void, Never>, logger: Logger) {
        self.client = client
        self.run = run
        self.logger = logger
        self.cardInserts = Coalescer(batchMax: 64) { cards in
            try await Self.insert(cards, client: client, logger: logger)
        } runOne: { card in
            try await Self.insert([card], client: client, logger: logger)
        }
    }

    /// Connects with the vault's credentials and brings the `vault` schema up to date (the
    /// schema must exist and belong to that role: see ``provision(admin:vaultRole:password:)``).
    public static func open(_ location: PostgresStore.Location, maximumConnections: Int = 8, connections: PostgresConnectionPolicy = .keptOpen,
                            logger: Logger = Logger(label: "payrail.vault.postgres")) async throws -> PostgresVaultStore {
        let store = connect(location, maximumConnections: maximumConnections, connections: connections, logger: logger)
        do { try await store.migrate() } catch {
            try? await store.close()
            throw error
        }
        return store
    }

    /// Connects to a streaming standby of the vault's database (a region's read replica): reads
    /// only, no migrations.
    public static func openReplica(_ location: PostgresStore.Location, maximumConnections: Int = 8,
                                   connections: PostgresConnectionPolicy = .keptOpen,
                                   logger: Logger = Logger(label: "payrail.vault.postgres.replica")) async throws -> PostgresVaultStore {
        connect(location, maximumConnections: maximumConnections, connections: connections, logger: logger)
    }

    private static func connect(_ location: PostgresStore.Location, maximumConnections: Int, connections: PostgresConnectionPolicy,
                                logger: Logger) -> PostgresVaultStore {
        var configuration = PostgresClient.Configuration(host: location.host, port: location.port, username: location.username,
                                                         password: location.password, database: location.database, tls: .disable)
        connections.configure(&configuration.options, maximumConnections: maximumConnections)
        let client = PostgresClient(configuration: configuration, backgroundLogger: logger)
        return PostgresVaultStore(client: client, run: Task { await client.run() }, logger: logger)
    }

    /// Prepares a database for the vault, as an administrator (a superuser or the database
    /// owner with CREATEROLE): creates the vault role if it does not exist (with `password`, if
    /// given), creates the `vault` schema owned by it, and takes every privilege on it away
    /// from everyone else. Safe to run again. Returns where the vault connects.
    @discardableResult
    public static func provision(admin: PostgresStore.Location, vaultRole: String = defaultRole, password: String? = nil,
                                 logger: Logger = Logger(label: "payrail.vault.provision")) async throws -> PostgresStore.Location {
        guard vaultRole.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" }), !vaultRole.isEmpty else {
            throw StoreError.database("vault role name must be letters, digits and _")
        }
        let connection = try await PostgresConnection.connect(
            configuration: .init(host: admin.host, port: admin.port, username: admin.username, password: admin.password,
                                 database: admin.database, tls: .disable), id: 1, logger: logger)
        do {
            let passwordClause = password.map { " PASSWORD '\($0.replacingOccurrences(of: "'", with: "''"))'" } ?? ""
            // Roles are cluster-wide: another database's provisioning may create it concurrently.
            try await connection.query(PostgresQuery(unsafeSQL: """
                DO $$ BEGIN
                  CREATE ROLE \(vaultRole) LOGIN\(passwordClause);
                EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
                END $$
                """), logger: logger)
            if !passwordClause.isEmpty {
                try await connection.query(PostgresQuery(unsafeSQL: "ALTER ROLE \(vaultRole) LOGIN\(passwordClause)"), logger: logger)
            }
            let database = "\"" + admin.database.replacingOccurrences(of: "\"", with: "\"\"") + "\""
            try await connection.query(PostgresQuery(unsafeSQL: "GRANT CONNECT ON DATABASE \(database) TO \(vaultRole)"), logger: logger)
            try await connection.query(PostgresQuery(unsafeSQL: "CREATE SCHEMA IF NOT EXISTS vault AUTHORIZATION \(vaultRole)"), logger: logger)
            try await connection.query(PostgresQuery(unsafeSQL: "ALTER SCHEMA vault OWNER TO \(vaultRole)"), logger: logger)
            try await connection.query("REVOKE ALL ON SCHEMA vault FROM PUBLIC", logger: logger)
        } catch {
            try? await connection.close()
            throw PostgresVaultStore.translate(error)
        }
        try await connection.close()
        var location = admin
        location.username = vaultRole
        location.password = password
        return location
    }

    private func migrate() async throws {
        do {
            try await client.withTransaction(logger: logger) { connection in
                try await connection.query("SELECT pg_advisory_xact_lock(7277246)", logger: logger)
                try await connection.query("""
                    CREATE TABLE IF NOT EXISTS vault.schema_migrations (version INTEGER PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())
                    """, logger: logger)
                var current = 0
                for try await version in try await connection.query("SELECT COALESCE(MAX(version), 0) FROM vault.schema_migrations",
                                                                    logger: logger).decode(Int.self) {
                    current = version
                }
                for (index, migration) in Self.migrations.enumerated() where index + 1 > current {
                    for statement in PostgresSchema.statements(of: migration) {
                        try await connection.query(PostgresQuery(unsafeSQL: statement), logger: logger)
                    }
                    try await connection.query("INSERT INTO vault.schema_migrations (version) VALUES (\(index + 1))", logger: logger)
                }
            }
        } catch {
            throw Self.translate(error)
        }
    }

    static let migrations = [
        """
        CREATE TABLE vault.cards (
            token TEXT PRIMARY KEY,
            merchant_id TEXT NOT NULL,
            brand TEXT NOT NULL,
            last4 TEXT NOT NULL CHECK (length(last4) = 4),
            exp_month INTEGER NOT NULL,
            exp_year INTEGER NOT NULL,
            fingerprint TEXT NOT NULL,
            country TEXT NOT NULL,
            sealed_pan BYTEA NOT NULL,
            wrapped_data_key BYTEA NOT NULL,
            key_version INTEGER NOT NULL,
            created_at_ms BIGINT NOT NULL,
            customer_ref TEXT,
            erased_at_ms BIGINT
        );
        CREATE INDEX cards_by_key_version ON vault.cards (key_version);
        CREATE INDEX cards_by_customer ON vault.cards (merchant_id, customer_ref);
        CREATE TABLE vault.access_log (
            id BIGSERIAL PRIMARY KEY,
            token TEXT NOT NULL,
            merchant_id TEXT NOT NULL,
            actor TEXT NOT NULL,
            purpose TEXT NOT NULL,
            at_ms BIGINT NOT NULL
        );
        CREATE INDEX access_log_by_token ON vault.access_log (token, id);
        CREATE FUNCTION vault.access_log_is_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION 'vault.access_log is append-only';
        END;
        $$;
        CREATE TRIGGER access_log_append_only BEFORE UPDATE OR DELETE ON vault.access_log
            FOR EACH ROW EXECUTE FUNCTION vault.access_log_is_append_only();
        CREATE TRIGGER access_log_no_truncate BEFORE TRUNCATE ON vault.access_log
            FOR EACH STATEMENT EXECUTE FUNCTION vault.access_log_is_append_only();
        """,
        // 2: only cards saved for a customer are found by customer (to erase them); a card
        // vaulted for one payment has none and needs no index entry.
        """
        DROP INDEX IF EXISTS vault.cards_by_customer;
        CREATE INDEX cards_by_customer ON vault.cards (merchant_id, customer_ref) WHERE customer_ref IS NOT NULL;
        """,
    ]

    static func translate(_ error: any Error) -> any Error { PostgresTransaction.translate(error) }

    @discardableResult
    private func query(_ query: PostgresQuery) async throws -> [PostgresRandomAccessRow] {
        do {
            return try await client.withConnection { connection in
                try await PreparedStatements.rows(query, on: connection, logger: logger)
            }
        } catch {
            throw Self.translate(error)
        }
    }

    public func insertCard(_ card: VaultedCardRecord) async throws {
        try await cardInserts.submit(card)
    }

    /// One statement (and, outside a transaction, one commit) for `cards`; a token already
    /// stored stays as it is. The cards travel as column arrays, so the text is the same for
    /// any number of cards: prepared once per connection, never built or parsed per batch.
    private static func insert(_ cards: [VaultedCardRecord], client: PostgresClient, logger: Logger) async throws {
        var bindings = PostgresBindings(capacity: 13)
        bindings.append(cards.map(\.summary.token))
        bindings.append(cards.map(\.merchantID))
        bindings.append(cards.map(\.summary.brand.rawValue))
        bindings.append(cards.map(\.summary.last4))
        bindings.append(cards.map { Int64($0.summary.expMonth) })
        bindings.append(cards.map { Int64($0.summary.expYear) })
        bindings.append(cards.map(\.summary.fingerprint))
        bindings.append(cards.map(\.summary.country))
        bindings.append(cards.map { PostgresWrite.byteaText(ByteBuffer(bytes: $0.sealedPAN)) })
        bindings.append(cards.map { PostgresWrite.byteaText(ByteBuffer(bytes: $0.wrappedDataKey)) })
        bindings.append(cards.map { Int64($0.keyVersion) })
        bindings.append(cards.map(\.createdAtMs))
        bindings.append(TextArray(cards.map(\.customerRef)))
        do {
            _ = try await client.withConnection { connection in
                try await PreparedStatements.rows(PostgresQuery(unsafeSQL: insertSQL, binds: bindings), on: connection, logger: logger)
            }
        } catch {
            throw translate(error)
        }
    }

    private static let insertSQL = """
        INSERT INTO vault.cards (token, merchant_id, brand, last4, exp_month, exp_year, fingerprint, country,
            sealed_pan, wrapped_data_key, key_version, created_at_ms, customer_ref)
        SELECT c.token, c.merchant_id, c.brand, c.last4, c.exp_month, c.exp_year, c.fingerprint, c.country,
            c.sealed_pan::bytea, c.wrapped_data_key::bytea, c.key_version, c.created_at_ms, c.customer_ref
        FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::int8[], $6::int8[], $7::text[], $8::text[],
                    $9::text[], $10::text[], $11::int8[], $12::int8[], $13::text[])
            AS c (token, merchant_id, brand, last4, exp_month, exp_year, fingerprint, country,
                  sealed_pan, wrapped_data_key, key_version, created_at_ms, customer_ref)
        ON CONFLICT (token) DO NOTHING
        """

    /// The vault's own role and pool commit on their own: never inside a payments transaction.
    public func insertCard(_ card: VaultedCardRecord, joining transaction: any StoreTransaction) async throws -> Bool { false }

    public func card(token: String) async throws -> VaultedCardRecord? {
        try await query("SELECT * FROM vault.cards WHERE token = \(token)").first.map(Self.card)
    }

    private static func card(_ row: PostgresRandomAccessRow) throws -> VaultedCardRecord {
        guard let brand = CardBrand(rawValue: try row["brand"].decode(String.self)) else { throw StoreError.corrupt("vault card brand") }
        return VaultedCardRecord(
            summary: CardSummary(token: try row["token"].decode(String.self), brand: brand, last4: try row["last4"].decode(String.self),
                                 expMonth: try row["exp_month"].decode(Int.self), expYear: try row["exp_year"].decode(Int.self),
                                 fingerprint: try row["fingerprint"].decode(String.self), country: try row["country"].decode(String.self)),
            merchantID: try row["merchant_id"].decode(String.self),
            sealedPAN: Array(try row["sealed_pan"].decode(ByteBuffer.self).readableBytesView),
            wrappedDataKey: Array(try row["wrapped_data_key"].decode(ByteBuffer.self).readableBytesView),
            keyVersion: try row["key_version"].decode(Int.self), createdAtMs: try row["created_at_ms"].decode(Int64.self),
            customerRef: try row["customer_ref"].decode(String?.self), erasedAtMs: try row["erased_at_ms"].decode(Int64?.self))
    }

    public func cards(wrappedBelow version: Int, limit: Int) async throws -> [VaultedCardRecord] {
        try await query("""
            SELECT * FROM vault.cards WHERE key_version < \(version) AND erased_at_ms IS NULL
            ORDER BY key_version, created_at_ms LIMIT \(limit)
            """).map(Self.card)
    }

    public func rewrapCard(token: String, wrappedDataKey: [UInt8], keyVersion: Int, fromVersion: Int) async throws -> Bool {
        try await query("""
            UPDATE vault.cards SET wrapped_data_key = \(ByteBuffer(bytes: wrappedDataKey)), key_version = \(keyVersion)
            WHERE token = \(token) AND key_version = \(fromVersion) AND erased_at_ms IS NULL RETURNING token
            """).count == 1
    }

    public func eraseCards(merchantID: String, customerRef: String, atMs: Int64) async throws -> Int {
        // The data key goes; the ciphertext stays, unreadable by anyone, with the card's summary.
        try await query("""
            UPDATE vault.cards SET wrapped_data_key = ''::bytea, erased_at_ms = \(atMs)
            WHERE merchant_id = \(merchantID) AND customer_ref = \(customerRef) AND erased_at_ms IS NULL RETURNING token
            """).count
    }

    public func appendAccess(_ access: VaultAccess) async throws {
        try await query("""
            INSERT INTO vault.access_log (token, merchant_id, actor, purpose, at_ms)
            VALUES (\(access.token), \(access.merchantID), \(access.actor), \(access.purpose), \(access.atMs))
            """)
    }

    public func accesses(token: String, limit: Int) async throws -> [VaultAccess] {
        try await query("SELECT * FROM vault.access_log WHERE token = \(token) ORDER BY id DESC LIMIT \(limit)").map { row in
            VaultAccess(token: try row["token"].decode(String.self), merchantID: try row["merchant_id"].decode(String.self),
                        actor: try row["actor"].decode(String.self), purpose: try row["purpose"].decode(String.self),
                        atMs: try row["at_ms"].decode(Int64.self))
        }
    }

    public func close() async throws {
        run.cancel()
        await run.value
    }
}
