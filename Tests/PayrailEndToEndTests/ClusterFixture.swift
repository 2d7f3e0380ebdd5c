import Foundation
import GRPCCore
import Logging
import PostgresNIO
import Testing
import PayrailCluster
import PayrailCore
import PayrailDomain
import PayrailEdge
import PayrailProtos
import PayrailRuntime
import PayrailSimulators
import PayrailStore

/// Which store a cluster runs on. PostgreSQL needs PAYRAIL_TEST_POSTGRES_URL (scripts/test
/// starts a server and sets it); locally without it only SQLite runs, in CI its absence fails.
enum ClusterStore: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case sqlite, postgres
    var testDescription: String { rawValue }

    static var available: [ClusterStore] {
        let environment = ProcessInfo.processInfo.environment
        return environment["PAYRAIL_TEST_POSTGRES_URL"] != nil || environment["CI"] != nil ? allCases : [.sqlite]
    }
}

/// Creates an empty PostgreSQL database for one test and drops it afterwards.
func withPostgresDatabase(_ body: (PostgresStore.Location) async throws -> Void) async throws {
    guard let url = ProcessInfo.processInfo.environment["PAYRAIL_TEST_POSTGRES_URL"], let base = PostgresStore.Location(url: url) else {
        Issue.record("PAYRAIL_TEST_POSTGRES_URL is not set: run scripts/test, which starts PostgreSQL")
        return
    }
    let name = "e2e_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased()
    func admin(_ sql: String) async throws {
        let connection = try await PostgresConnection.connect(
            configuration: .init(host: base.host, port: base.port, username: base.username, password: base.password,
                                 database: base.database, tls: .disable),
            id: 1, logger: Logger(label: "payrail.test.admin"))
        do { try await connection.query(PostgresQuery(unsafeSQL: sql), logger: Logger(label: "payrail.test.admin")) } catch {
            try? await connection.close()
            throw error
        }
        try await connection.close()
    }
    try await admin("CREATE DATABASE \(name)")
    var location = base
    location.database = name
    do { try await body(location) } catch {
        try? await admin("DROP DATABASE IF EXISTS \(name) WITH (FORCE)")
        throw error
    }
    try await admin("DROP DATABASE IF EXISTS \(name) WITH (FORCE)")
}

/// Starts a whole cluster (core + edge over loopback TLS, on SQLite in a temporary folder or on
/// a fresh PostgreSQL database) for one test, and stops it afterwards whatever happens.
func withCluster(edges: Int = 1, store: ClusterStore = .sqlite, payments: PaymentService.Configuration = .init(),
                 webhooks: WebhookDispatcher.Configuration = .init(), metricsPort: Int? = nil,
                 rateLimits: EdgeRateLimiter.Configuration = .init(), regions: [String] = ["local"],
                 postgresLocation: PostgresStore.Location? = nil,
                 configure: @Sendable (inout LocalCluster.Options) -> Void = { _ in },
                 _ body: (LocalCluster, EdgeClient, CardNetworkSimulator, String) async throws -> Void) async throws {
    if let postgresLocation {
        try await runCluster(edges: edges, postgres: postgresLocation, payments: payments, webhooks: webhooks, metricsPort: metricsPort,
                             rateLimits: rateLimits, regions: regions, configure: configure, body)
    } else if store == .postgres {
        try await withPostgresDatabase { location in
            try await runCluster(edges: edges, postgres: location, payments: payments, webhooks: webhooks, metricsPort: metricsPort,
                                 rateLimits: rateLimits, regions: regions, configure: configure, body)
        }
    } else {
        try await runCluster(edges: edges, postgres: nil, payments: payments, webhooks: webhooks, metricsPort: metricsPort,
                             rateLimits: rateLimits, regions: regions, configure: configure, body)
    }
}

private func runCluster(edges: Int, postgres: PostgresStore.Location?, payments: PaymentService.Configuration,
                        webhooks: WebhookDispatcher.Configuration, metricsPort: Int?, rateLimits: EdgeRateLimiter.Configuration,
                        regions: [String], configure: @Sendable (inout LocalCluster.Options) -> Void,
                        _ body: (LocalCluster, EdgeClient, CardNetworkSimulator, String) async throws -> Void) async throws {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("payrail-e2e-\(UUID().uuidString)").path
    defer { try? FileManager.default.removeItem(atPath: directory) }
    let network = CardNetworkSimulator(configuration: .init(latencyMinMs: 1, latencyMaxMs: 3, tailPerMille: 0, tailMultiplier: 1, timeoutMs: 300))
    var options = LocalCluster.Options(dataDirectory: directory)
    options.edgeCount = edges
    options.connector = network
    options.postgres = postgres
    // Suites run their clusters at once against one test server: kept-open pools (24
    // connections a cluster) would exhaust its connection slots. The spawned `payrail core`
    // processes (CoreKillTests) run the kept-open pools.
    options.postgresConnections = .onDemand
    options.payments = payments
    options.webhooks = webhooks
    options.metricsPort = metricsPort
    options.rateLimits = rateLimits
    options.regions = regions
    configure(&options)
    let cluster = try await LocalCluster.start(options)
    do {
        let merchant = try await cluster.core.apiKeys.createMerchant(name: "Test Merchant")
        let client = try EdgeClient(port: cluster.edgePorts[0], caPath: cluster.pki.caCertificatePath, apiKey: merchant.apiKey)
        do {
            try await body(cluster, client, network, merchant.merchantID)
        } catch {
            await client.close()
            throw error
        }
        await client.close()
    } catch {
        try await cluster.shutdown()
        throw error
    }
    try await cluster.shutdown()
}

func createRequest(key: String, amount: Int64 = 10_000, currency: String = "USD", card: String = TestCards.visaSuccess,
                   capture: Payrail_V1_CaptureMethod = .automatic) -> Payrail_V1_CreatePaymentRequest {
    .with {
        $0.idempotencyKey = key
        $0.amount = .with { $0.amountMinor = amount; $0.currency = currency }
        $0.captureMethod = capture
        $0.card = .with { $0.number = card; $0.expMonth = 12; $0.expYear = 2034; $0.cvc = card.count == 15 ? "1234" : "123" }
        $0.metadata = ["order": key]
    }
}

/// The typed error of a failed call: (gRPC code, Payrail reason).
func rpcFailure(_ body: () async throws -> Void) async -> (RPCError.Code, String)? {
    do {
        try await body()
        return nil
    } catch let error as RPCError {
        return (error.code, RPCErrorMapping.payrailError(error).code.reason)
    } catch {
        return (.unknown, "\(type(of: error))")
    }
}

/// Polls `condition` every 20 ms until it holds or `timeout` passes; returns whether it held.
func eventually(timeout: Duration = .seconds(10), _ condition: () async throws -> Bool) async rethrows -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if try await condition() { return true }
        try? await Task.sleep(for: .milliseconds(20))
    }
    return try await condition()
}

/// Runs one statement on `location` as its user; returns the first column of the first row
/// as an integer, if there is one.
@discardableResult
func adminQuery(_ location: PostgresStore.Location, _ sql: String) async throws -> Int64? {
    let logger = Logger(label: "payrail.test.sql")
    let connection = try await PostgresConnection.connect(
        configuration: .init(host: location.host, port: location.port, username: location.username, password: location.password,
                             database: location.database, tls: .disable), id: 1, logger: logger)
    do {
        var first: Int64?
        for try await row in try await connection.query(PostgresQuery(unsafeSQL: sql), logger: logger) where first == nil {
            first = try? row.decode(Int64.self)
        }
        try await connection.close()
        return first
    } catch {
        try? await connection.close()
        throw error
    }
}

/// The SQLSTATE the server answers `sql` with as `location`'s user, nil if it succeeds.
func sqlState(_ location: PostgresStore.Location, _ sql: String) async throws -> String? {
    do {
        try await adminQuery(location, sql)
        return nil
    } catch let error as PSQLError {
        return error.serverInfo?[.sqlState]
    }
}

/// The outbox event types about `resourceIDs`, in commit order.
func outboxEventTypes(_ cluster: LocalCluster, about resourceIDs: Set<String>) async throws -> [String] {
    try await cluster.store.read { try await $0.outboxEvents(afterSequence: 0, limit: 1_000) }
        .filter { resourceIDs.contains($0.event.resourceID) }.map(\.event.type.rawValue)
}

/// A resource's ledger transactions by kind, in commit order, and the processors their entries touch.
func ledgerTrail(_ cluster: LocalCluster, of resourceID: String) async throws -> (kinds: [String], processors: Set<String>) {
    let transactions = try await cluster.store.read { try await $0.ledgerTransactions(resourceID: resourceID) }
    return (transactions.map(\.kind.rawValue),
            Set(transactions.flatMap(\.entries).map(\.account).filter { $0.kind.scope == "processor" }.map(\.owner)))
}

/// A loopback port for a server process a test starts: below Linux's ephemeral range
/// (32768-60999), where the suite's own outgoing connections take their ports, and free to
/// bind when chosen.
enum TestPorts {
    static func unused() -> Int {
        while true {
            let port = Int.random(in: 20_000...30_999)
            if canBind(port) { return port }
        }
    }

    private static func canBind(_ port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
        }
    }
}
