import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import Logging
import PayrailCore
import PayrailDomain
import PayrailProtos
import PayrailEdge
import PayrailRuntime
import PayrailSimulators
import PayrailStore
import ServiceLifecycle

/// A whole Payrail on this machine: one core node on the embedded SQLite store (or a given
/// PostgreSQL database) and one or more edges, all over loopback with real TLS. `payrail dev` runs one; the end-to-end
/// tests start and stop their own.
public final class LocalCluster: Sendable {
    public struct Options: Sendable {
        public var dataDirectory: String
        /// Edges per region.
        public var edgeCount = 1
        /// One set of edges per region; the core's control plane splits traffic among them.
        public var regions = ["local"]
        public var edgeBasePort = 0
        public var corePort = 0
        /// The processors and routes (simulated acquirers by default).
        public var routing = RoutingConfiguration.default
        /// Connectors to use instead of the simulators `routing` describes (tests hold on to
        /// them to inject faults); they must carry the names `routing` routes to.
        public var connectors: [any CardConnector]?
        /// One connector for every payment: replaces `routing` with a single route to it.
        public var connector: (any CardConnector)?
        public var reconciler = PaymentReconciler.Configuration()
        /// The bank and push-to-card rails for payouts (a simulator by default).
        public var payoutRail: (any PayoutRail)?
        public var payoutJob = PayoutJob.Configuration()
        public var billingInterval: Duration = .seconds(5)
        public var dunning = DunningPolicy()
        /// The core's clock (tests drive subscriptions with a simulated one).
        public var now: @Sendable () -> Int64 = UnixClock.nowMs
        /// Use this PostgreSQL database instead of the embedded SQLite file.
        public var postgres: PostgresStore.Location?
        /// The vault's own PostgreSQL credentials and the region's replica (PostgreSQL only);
        /// by default the `vault` schema and role are provisioned through ``postgres``.
        public var vault = VaultStores.Locations()
        /// How the PostgreSQL pools hold their connections: kept open, as a core's are; tests
        /// that run many clusters against one server open them on demand.
        public var postgresConnections = PostgresConnectionPolicy.keptOpen
        public var payments = PaymentService.Configuration()
        /// The core's limit of calls in flight per edge stream (CoreNode.Configuration).
        public var pipedCallsInFlightMax = 1_024
        public var webhooks = WebhookDispatcher.Configuration()
        /// Rate-limit tiers of every edge.
        public var rateLimits = EdgeRateLimiter.Configuration()
        /// Serve Prometheus metrics on this port (0: any free port); nil: no metrics endpoint.
        public var metricsPort: Int?
        public init(dataDirectory: String) { self.dataDirectory = dataDirectory }
    }

    public let pki: DevPKI
    public let store: any PaymentStore
    /// Vaulted cards, apart from payments.
    public let vaultStore: any VaultStore
    public let core: CoreNode
    public let corePort: Int
    public let edges: [EdgeNode]
    public let edgePorts: [Int]
    /// The region of each edge in ``edges``.
    public var edgeRegions: [String] { edges.map { $0.gateway.region } }
    /// Where `GET /metrics` answers, if ``Options/metricsPort`` was set.
    public let metricsPort: Int?
    private let groups: [ServiceGroup]
    private let runs: [Task<Void, any Error>]

    private init(pki: DevPKI, store: any PaymentStore, vaultStore: any VaultStore, core: CoreNode, corePort: Int, edges: [EdgeNode], edgePorts: [Int],
                 metricsPort: Int?, groups: [ServiceGroup], runs: [Task<Void, any Error>]) {
        self.metricsPort = metricsPort
        self.pki = pki
        self.store = store
        self.vaultStore = vaultStore
        self.core = core
        self.corePort = corePort
        self.edges = edges
        self.edgePorts = edgePorts
        self.groups = groups
        self.runs = runs
    }

    public static func start(_ options: Options, logger: Logger = Logger(label: "payrail")) async throws -> LocalCluster {
        try FileManager.default.createDirectory(atPath: options.dataDirectory, withIntermediateDirectories: true)
        // Before any component exists: they bind their counters when created.
        if options.metricsPort != nil { PayrailMetrics.bootstrap() }
        let pki = try DevPKI(directory: options.dataDirectory + "/tls").ensure()
        let store: any PaymentStore
        if let postgres = options.postgres {
            store = try await PostgresStore.open(postgres, connections: options.postgresConnections, logger: logger)
        } else {
            store = try await SQLiteStore.open(path: options.dataDirectory + "/payrail.sqlite")
        }
        let vaultStore: any VaultStore
        do {
            vaultStore = try await VaultStores.open(beside: store, postgres: options.postgres, options.vault,
                                                    connections: options.postgresConnections, logger: logger)
        } catch {
            try? await store.close()
            throw error
        }
        let keys = try FileKeyring(path: options.dataDirectory + "/keyring")
        var coreConfiguration = CoreNode.Configuration(pki: pki)
        coreConfiguration.port = options.corePort
        if let connector = options.connector {
            coreConfiguration.routing = RoutingConfiguration(connectors: [], table: .single(connector.name), retry: options.routing.retry)
        } else {
            coreConfiguration.routing = options.routing
        }
        coreConfiguration.reconciler = options.reconciler
        coreConfiguration.payoutJob = options.payoutJob
        coreConfiguration.billingInterval = options.billingInterval
        coreConfiguration.dunning = options.dunning
        coreConfiguration.payments = options.payments
        coreConfiguration.pipedCallsInFlightMax = options.pipedCallsInFlightMax
        coreConfiguration.webhooks = options.webhooks
        coreConfiguration.traffic = TrafficControlPlane.Configuration(regions: options.regions)
        let core = CoreNode(configuration: coreConfiguration, store: store, vaultStore: vaultStore, keys: keys,
                            connectors: options.connector.map { [$0] } ?? options.connectors, payoutRail: options.payoutRail, now: options.now, logger: logger)
        try await core.prepare()
        var groups: [ServiceGroup] = []
        var runs: [Task<Void, any Error>] = []
        func launch(_ services: [any Service]) {
            let group = ServiceGroup(configuration: .init(services: services.map { .init(service: $0) }, logger: logger))
            groups.append(group)
            runs.append(Task { try await group.run() })
        }
        var metrics: MetricsServer?
        if let port = options.metricsPort { metrics = try await MetricsServer.bind(host: "127.0.0.1", port: port) }
        launch(core.services + (metrics.map { [$0] } ?? []))
        let corePort = try await core.listeningPort()

        var edges: [EdgeNode] = []
        var edgePorts: [Int] = []
        for (regionIndex, region) in options.regions.enumerated() {
          for index in 0..<options.edgeCount {
            let number = regionIndex * options.edgeCount + index
            var configuration = EdgeNode.Configuration(pki: pki, corePort: corePort)
            configuration.edgeID = options.regions == ["local"] ? "edge-\(index + 1)" : "\(region)-\(index + 1)"
            configuration.region = region
            configuration.rateLimits = options.rateLimits
            configuration.port = options.edgeBasePort == 0 ? 0 : options.edgeBasePort + number
            let edge = try EdgeNode(configuration: configuration, logger: logger)
            launch(edge.services)
            edges.append(edge)
            edgePorts.append(try await edge.listeningPort())
          }
        }
        return LocalCluster(pki: pki, store: store, vaultStore: vaultStore, core: core, corePort: corePort, edges: edges, edgePorts: edgePorts,
                            metricsPort: metrics?.port, groups: groups, runs: runs)
    }

    /// Drains the edges, then the core, then closes the store.
    public func shutdown() async throws {
        for (group, run) in zip(groups, runs).reversed() {
            await group.triggerGracefulShutdown()
            _ = await run.result
        }
        try await vaultStore.close()
        try await store.close()
    }

    /// Waits until the cluster stops (Ctrl-C is handled by the caller).
    public func wait() async {
        for run in runs { _ = await run.result }
    }
}

/// A merchant-side client of an edge over TLS, authenticating with an API key: what an SDK
/// does. Used by the demo load, the CLI and the tests.
public final class EdgeClient: Sendable {
    public let grpc: GRPCClient<HTTP2ClientTransport.Posix>
    public let payments: Payrail_V1_Payments.Client<HTTP2ClientTransport.Posix>
    public let refunds: Payrail_V1_Refunds.Client<HTTP2ClientTransport.Posix>
    public let disputes: Payrail_V1_Disputes.Client<HTTP2ClientTransport.Posix>
    public let payouts: Payrail_V1_Payouts.Client<HTTP2ClientTransport.Posix>
    public let subscriptions: Payrail_V1_Subscriptions.Client<HTTP2ClientTransport.Posix>
    public let tokens: Payrail_V1_Tokens.Client<HTTP2ClientTransport.Posix>
    public let balances: Payrail_V1_Balances.Client<HTTP2ClientTransport.Posix>
    public let fx: Payrail_V1_FXQuotes.Client<HTTP2ClientTransport.Posix>
    public let webhooks: Payrail_V1_WebhookEndpoints.Client<HTTP2ClientTransport.Posix>
    public let discovery: Payrail_V1_Discovery.Client<HTTP2ClientTransport.Posix>
    public let riskLists: Payrail_V1_RiskLists.Client<HTTP2ClientTransport.Posix>
    public let metadata: Metadata
    private let run: Task<Void, any Error>

    public init(host: String = "127.0.0.1", port: Int, caPath: String, apiKey: String) throws {
        let transport = try HTTP2ClientTransport.Posix(
            target: .ipv4(address: host, port: port),
            transportSecurity: TransportSecurityFactory.publicClient(caPath: caPath))
        let grpc = GRPCClient(transport: transport)
        self.grpc = grpc
        payments = Payrail_V1_Payments.Client(wrapping: grpc)
        refunds = Payrail_V1_Refunds.Client(wrapping: grpc)
        disputes = Payrail_V1_Disputes.Client(wrapping: grpc)
        payouts = Payrail_V1_Payouts.Client(wrapping: grpc)
        subscriptions = Payrail_V1_Subscriptions.Client(wrapping: grpc)
        tokens = Payrail_V1_Tokens.Client(wrapping: grpc)
        balances = Payrail_V1_Balances.Client(wrapping: grpc)
        fx = Payrail_V1_FXQuotes.Client(wrapping: grpc)
        webhooks = Payrail_V1_WebhookEndpoints.Client(wrapping: grpc)
        discovery = Payrail_V1_Discovery.Client(wrapping: grpc)
        riskLists = Payrail_V1_RiskLists.Client(wrapping: grpc)
        metadata = ["authorization": "Bearer \(apiKey)"]
        run = Task { try await grpc.runConnections() }
    }

    public func close() async {
        grpc.beginGracefulShutdown()
        _ = await run.result
    }
}
