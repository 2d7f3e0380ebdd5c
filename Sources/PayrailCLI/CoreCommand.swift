import ArgumentParser
import Foundation
import Logging
import PayrailCore
import PayrailDomain
import PayrailEdge
import PayrailRuntime
import PayrailStore
import ServiceLifecycle
import UnixSignals

/// A standalone core node on the embedded store, for running edges as separate processes.
struct CoreCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "core", abstract: "Run a core (ledger region) node.")

    @Option(help: "Folder for the database, keyring and dev certificates.") var dataDir = ".payrail"
    @Option(help: "Listen port (mutual TLS).") var port = 50061
    @Option(help: "Listen address.") var host = "127.0.0.1"
    @Option(help: "PostgreSQL URL (postgres://user@host:port/db); default: the embedded SQLite file in --data-dir.")
    var postgres: String?
    @OptionGroup var vault: VaultLocationOptions
    @Option(help: "How long a request owns its idempotency key before a retry may take over a crashed request (ms).")
    var idempotencyLeaseMs: Int64 = 30_000
    @Option(help: "Port for Prometheus metrics (GET /metrics on --host); 0 turns the endpoint off.") var metricsPort = 9464
    @Option(help: "Comma-separated regions whose edges this core serves (the traffic control plane's regions).")
    var regions = "local"
    @Option(help: "Fraud rules file (YAML, docs/fraud.md); reloaded on SIGHUP. Default: the shipped rules.")
    var riskRules: String?
    @Option(help: "Processors and routing file (YAML, docs/connectors.md). Default: acquirer-a and acquirer-b, simulated.")
    var routing: String?
    @Option(help: "How long a payment stays `processing` before the reconciliation job asks its processor (ms).")
    var reconcileAfterMs: Int64 = 60_000

    func run() async throws {
        let logger = Logger(label: "payrail.core")
        if metricsPort != 0 { PayrailMetrics.bootstrap() }
        let pki = try DevPKI(directory: dataDir + "/tls").ensure()
        let store = try await openStore(dataDir: dataDir, postgres: postgres, connections: .keptOpen, logger: logger)
        let vaultStore = try await openVaultStore(beside: store, postgres: postgres, vault, logger: logger)
        var configuration = CoreNode.Configuration(pki: pki)
        configuration.host = host
        configuration.port = port
        configuration.payments.idempotencyLeaseMs = idempotencyLeaseMs
        if let routing {
            do {
                configuration.routing = try RoutingConfiguration.parse(String(contentsOfFile: routing, encoding: .utf8))
            } catch {
                throw ValidationError("\(routing): \(error)")
            }
        }
        configuration.reconciler.stalledAfterMs = reconcileAfterMs
        let regionNames = regions.split(separator: ",").map { String($0.trimmingCharacters(in: .whitespaces)) }
        guard !regionNames.isEmpty, regionNames.allSatisfy(TrafficPlan.isValidName) else {
            throw ValidationError("--regions must be comma-separated names of a-z, 0-9 and '-'")
        }
        configuration.traffic = TrafficControlPlane.Configuration(regions: regionNames)
        let core = CoreNode(configuration: configuration, store: store, vaultStore: vaultStore, keys: try FileKeyring(path: dataDir + "/keyring"), logger: logger)
        try await core.prepare()
        var rulesReloader: RiskRulesReloader?
        if let riskRules {
            do { rulesReloader = try RiskRulesReloader(path: riskRules, risk: core.payments.risk) } catch {
                throw ValidationError("\(error)")
            }
            print("fraud rules from \(riskRules) (kill -HUP to reload)")
        }
        let reloading = Task {
            guard let rulesReloader else { return }
            for await _ in await UnixSignalsSequence(trapping: .sighup) {
                do {
                    try rulesReloader.reload()
                    print("fraud rules reloaded from \(rulesReloader.path)")
                } catch {
                    print("fraud rules refused, the previous ones stay in force: \(error)")
                }
                fflush(nil)
            }
        }
        defer { reloading.cancel() }
        print("core listening on \(host):\(port) (mutual TLS, CA \(pki.caCertificatePath))")
        var services = core.services
        if metricsPort != 0 {
            services.append(try await MetricsServer.bind(host: host, port: metricsPort))
            print("metrics on http://\(host):\(metricsPort)/metrics")
        }
        let group = ServiceGroup(configuration: .init(services: services.map { .init(service: $0) },
                                                      gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
        if let grouped = store as? any GroupCommittingStore {
            // How well writes shared commits over this run (writes per commit is the gain).
            print("store group commit: \(grouped.groupCommitStatistics)")
        }
        try await vaultStore.close()
        try await store.close()
    }
}

/// Where a PostgreSQL deployment's vault is: its own credentials and the region's replica.
struct VaultLocationOptions: ParsableArguments {
    @Option(help: ArgumentHelp("The vault's PostgreSQL URL with the vault role's credentials (see `payrail vault provision`).",
                               discussion: "Default with --postgres: provision the vault schema and role through --postgres and connect as that role."))
    var vaultPostgres: String?
    @Option(help: "This region's read replica of the vault (a streaming standby's URL): card reads go there first.")
    var vaultReplica: String?
}

/// The vault beside `store`: the attached file on SQLite; the `vault` schema with its own
/// credentials (and the region's replica) on PostgreSQL.
func openVaultStore(beside store: any PaymentStore, postgres: String?, _ options: VaultLocationOptions, logger: Logger) async throws -> any VaultStore {
    func location(_ url: String?, _ flag: String) throws -> PostgresStore.Location? {
        guard let url else { return nil }
        guard let location = PostgresStore.Location(url: url) else {
            throw ValidationError("\(flag) must look like postgres://user[:password]@host[:port]/database")
        }
        return location
    }
    do {
        let locations = VaultStores.Locations(primary: try location(options.vaultPostgres, "--vault-postgres"),
                                              replica: try location(options.vaultReplica, "--vault-replica"))
        if postgres == nil, locations.primary != nil || locations.replica != nil {
            throw ValidationError("--vault-postgres and --vault-replica need --postgres (the embedded store keeps the vault in its own file)")
        }
        return try await VaultStores.open(beside: store, postgres: try location(postgres, "--postgres"), locations, logger: logger)
    } catch {
        try? await store.close()
        throw error
    }
}

/// A standalone edge that forwards to a core: from an edge-config file (`--config` and
/// `--edge-id`, reloaded on SIGHUP) or from flags.
struct EdgeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "edge", abstract: "Run an edge gateway.")

    @Option(help: "Edge configuration file (edge-config/*.yaml); the other options are then ignored.") var config: String?
    @Option(help: "With --config: which edge of the file this process is.") var edgeID: String?
    @Option(help: "Folder holding the dev certificates (tls/).") var dataDir = ".payrail"
    @Option(help: "Listen port (TLS).") var port = 50051
    @Option(help: "Listen address.") var host = "127.0.0.1"
    @Option(help: "Core port.") var corePort = 50061
    @Option(help: "Core address.") var coreHost = "127.0.0.1"
    @Option(help: "Edge id.") var id = "edge-1"
    @Option(help: "Region.") var region = "local"
    @Option(help: "Port for Prometheus metrics (GET /metrics on 127.0.0.1); 0: off.") var metricsPort = 0
    @Flag(help: "Send payment calls to the core as unary calls, not over one PaymentCalls stream per connection (also with --config; for comparisons).")
    var unaryCoreCalls = false

    func run() async throws {
        let logger = Logger(label: "payrail.edge")
        if metricsPort != 0 { PayrailMetrics.bootstrap() }
        var configuration: EdgeNode.Configuration
        var reloader: EdgeConfigReloader?
        if let config {
            guard let edgeID else { throw ValidationError("--config needs --edge-id") }
            let file: EdgeConfig
            do { file = try EdgeConfigParser.load(path: config) } catch let error as EdgeConfigError { throw ValidationError("\(error)") }
            guard let fromFile = EdgeNode.Configuration(config: file, edgeID: edgeID) else {
                throw ValidationError("\(config) has no edge \"\(edgeID)\"")
            }
            configuration = fromFile
            configuration.pipedPaymentCalls = !unaryCoreCalls
            let edge = try EdgeNode(configuration: configuration, logger: logger)
            reloader = EdgeConfigReloader(path: config, edgeID: edgeID, initial: file) { next in
                edge.gateway.apply(rateLimits: next.rateLimits, idempotencyRetentionMs: next.idempotencyRetentionMs)
            }
            try await serve(edge, configuration, reloader: reloader, logger: logger)
            return
        }
        let pki = try DevPKI(directory: dataDir + "/tls").ensure()
        configuration = EdgeNode.Configuration(pki: pki, corePort: corePort)
        configuration.host = host
        configuration.port = port
        configuration.coreHost = coreHost
        configuration.edgeID = id
        configuration.region = region
        configuration.pipedPaymentCalls = !unaryCoreCalls
        try await serve(try EdgeNode(configuration: configuration, logger: logger), configuration, reloader: nil, logger: logger)
    }

    private func serve(_ edge: EdgeNode, _ configuration: EdgeNode.Configuration, reloader: EdgeConfigReloader?, logger: Logger) async throws {
        print("edge \(configuration.edgeID) (\(configuration.region)) listening on \(configuration.host):\(configuration.port) (TLS), "
              + "core \(configuration.coreHost):\(configuration.corePort)")
        var services = edge.services
        if metricsPort != 0 {
            services.append(try await MetricsServer.bind(host: "127.0.0.1", port: metricsPort))
            print("metrics on http://127.0.0.1:\(metricsPort)/metrics")
        }
        var groupConfiguration = ServiceGroupConfiguration(services: services.map { .init(service: $0) },
                                                           gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
        // SIGTERM drains: GOAWAY, calls in flight finish; after the drain timeout they are cancelled.
        groupConfiguration.maximumGracefulShutdownDuration = configuration.drainTimeout
        let group = ServiceGroup(configuration: groupConfiguration)
        let reloading = Task {
            guard let reloader else { return }
            for await _ in await UnixSignalsSequence(trapping: .sighup) {
                do {
                    let needsRestart = try reloader.reload()
                    print("configuration reloaded from \(reloader.path)"
                          + (needsRestart.isEmpty ? "" : "; needs a restart to apply: \(needsRestart.joined(separator: ", "))"))
                } catch {
                    print("configuration refused, the previous one stays in force: \(error)")
                }
                fflush(nil)
            }
        }
        defer { reloading.cancel() }
        try await group.run()
    }
}

/// `payrail edge-config validate FILE...`: checks edge configuration files.
struct EdgeConfigCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "edge-config", abstract: "Edge configuration files.",
                                                    subcommands: [Validate.self])

    struct Validate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Validate files; prints file:line:column: reason for each error.")
        @Argument(help: "Files to check.") var files: [String]

        func run() async throws {
            var failed = false
            for file in files {
                do {
                    let config = try EdgeConfigParser.load(path: file)
                    print("\(file): OK (\(config.regions.map { "\($0.name): \($0.edges.count) edges" }.joined(separator: ", ")))")
                } catch {
                    print("\(error)")
                    failed = true
                }
            }
            if failed { throw ExitCode(1) }
        }
    }
}

/// `payrail ledger verify`: re-checks every ledger invariant.
struct LedgerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "ledger", abstract: "Ledger tools.", subcommands: [Verify.self])

    struct Verify: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Verify that every ledger transaction balances.")
        @Option(help: "Folder holding payrail.sqlite.") var dataDir = ".payrail"
        @Option(help: "PostgreSQL URL instead of the SQLite file.") var postgres: String?

        func run() async throws {
            let store = try await openStore(dataDir: dataDir, postgres: postgres, logger: Logger(label: "payrail.ledger"))
            let report = try await LedgerVerifier(store: store).verify()
            try await store.close()
            print(report)
            if !report.isValid { throw ExitCode.failure }
        }
    }
}

/// `payrail merchant create`: a merchant and its first API key.
struct MerchantCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "merchant", abstract: "Merchant administration.", subcommands: [Create.self])

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create a merchant and print its API key (shown once).")
        @Option(help: "Folder holding payrail.sqlite.") var dataDir = ".payrail"
        @Option(help: "Merchant name.") var name = "Merchant"
        @Flag(help: "Create a live-mode key.") var live = false
        @Option(help: "PostgreSQL URL instead of the SQLite file.") var postgres: String?
        @Option(help: "Currency the merchant is paid in (payments in other currencies settle through FX).") var settlementCurrency: String?

        func run() async throws {
            var settlement: Currency?
            if let code = settlementCurrency {
                guard let currency = Currency(code: code) else { throw ValidationError("--settlement-currency must be an ISO 4217 code") }
                settlement = currency
            }
            let store = try await openStore(dataDir: dataDir, postgres: postgres, logger: Logger(label: "payrail.merchant"))
            let created = try await APIKeyService(store: store, now: UnixClock.nowMs).createMerchant(name: name, livemode: live,
                                                                                                  settlementCurrency: settlement)
            try await store.close()
            print("merchant \(created.merchantID)\napi key  \(created.apiKey)")
        }
    }
}

/// The store a command works on: PostgreSQL when a URL is given, else the embedded SQLite file.
/// A server process keeps its PostgreSQL connections open (`.keptOpen`); a one-shot command
/// opens what it uses.
func openStore(dataDir: String, postgres: String?, connections: PostgresConnectionPolicy = .onDemand,
               logger: Logger) async throws -> any PaymentStore {
    if let postgres {
        guard let location = PostgresStore.Location(url: postgres) else {
            throw ValidationError("--postgres must look like postgres://user[:password]@host[:port]/database")
        }
        return try await PostgresStore.open(location, connections: connections, logger: logger)
    }
    try FileManager.default.createDirectory(atPath: dataDir, withIntermediateDirectories: true)
    return try await SQLiteStore.open(path: dataDir + "/payrail.sqlite")
}

/// `payrail fx set-rate`: publishes an exchange rate with a validity window.
struct FXCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "fx", abstract: "FX rates.", subcommands: [SetRate.self])

    struct SetRate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "set-rate", abstract: "Publish a rate valid from now for some hours.")
        @Option(help: "From currency (ISO 4217).") var from: String
        @Option(help: "To currency (ISO 4217).") var to: String
        @Option(help: "Units of --to per unit of --from, up to 8 decimals (e.g. 1.0834).") var rate: String
        @Option(help: "Hours the rate stays valid.") var hours: Int64 = 24
        @Option(help: "Where the rate comes from.") var source = "manual"
        @Option(help: "Folder holding payrail.sqlite.") var dataDir = ".payrail"
        @Option(help: "PostgreSQL URL instead of the SQLite file.") var postgres: String?

        func run() async throws {
            guard let fromCurrency = Currency(code: from), let toCurrency = Currency(code: to) else {
                throw ValidationError("--from and --to must be ISO 4217 codes")
            }
            let now = UnixClock.nowMs()
            let fxRate = try FXRate(from: fromCurrency, to: toCurrency, rateScaled: try FXRate.scaled(rate), source: source,
                                    validFromMs: now, validUntilMs: now + hours * 3_600_000)
            let store = try await openStore(dataDir: dataDir, postgres: postgres, logger: Logger(label: "payrail.fx"))
            try await store.write { try await $0.insertFXRate(fxRate) }
            try await store.close()
            print("\(from) -> \(to) at \(rate) (\(fxRate.rateScaled) / 10^8), valid \(hours) h, source \(source)")
        }
    }
}
