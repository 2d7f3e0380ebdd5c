import GRPCCore
import GRPCNIOTransportHTTP2
import NIOCore
import Logging
import PayrailDomain
import PayrailRuntime
import ServiceLifecycle

/// Lets the gateway reach the watcher created after it.
private final class WatcherBox: @unchecked Sendable {
    // Written once in EdgeNode.init before the node is shared; read afterwards.
    var watcher: EdgeTrafficWatcher?
}

/// A regional edge: the public gRPC API over TLS, with mutual-TLS connections to the core.
public struct EdgeNode: Sendable {
    public struct Configuration: Sendable {
        public var edgeID = "edge-1"
        public var region = "local"
        public var host = "127.0.0.1"
        /// 0 picks a free port; read it back from ``EdgeNode/listeningPort()``.
        public var port = 0
        public var certificatePath: String
        public var keyPath: String
        public var caPath: String
        public var coreHost = "127.0.0.1"
        public var corePort: Int
        /// Further core nodes; calls are spread over all of them.
        public var moreCores: [EdgeConfig.Endpoint] = []
        /// host:port that clients should use (the region map); default: host and the bound port.
        public var advertisedAddress: String?
        /// HTTP/2 connections to the core (one gRPC client each).
        public var coreConnections = 2
        /// Whether payment calls to the core travel on one long-lived `PaymentCalls` stream per
        /// connection (falling back to unary calls while it is down) or always as unary calls.
        public var pipedPaymentCalls = true
        /// Deadline for each call to the core.
        public var upstreamTimeout: Duration = .seconds(30)
        /// Rate-limit tiers, enforced locally per merchant and per API key.
        public var rateLimits = EdgeRateLimiter.Configuration()
        /// How long the edge replays a finished idempotent answer without asking the core.
        public var idempotencyRetentionMs: Int64 = 10 * 60_000
        /// On shutdown, how long calls in flight may take before they are cancelled.
        public var drainTimeout: Duration = .seconds(30)

        public init(certificatePath: String, keyPath: String, caPath: String, corePort: Int) {
            self.certificatePath = certificatePath
            self.keyPath = keyPath
            self.caPath = caPath
            self.corePort = corePort
        }

        public init(pki: DevPKI, corePort: Int) {
            self.init(certificatePath: pki.certificatePath(.edge), keyPath: pki.privateKeyPath(.edge), caPath: pki.caCertificatePath,
                      corePort: corePort)
        }

        /// The edge `edgeID` of a configuration file; nil if the file has no such edge. The edge
        /// spreads its calls over every upstream endpoint.
        public init?(config: EdgeConfig, edgeID: String) {
            guard let (region, edge) = config.edge(id: edgeID), let core = config.upstream.endpoints.first else { return nil }
            self.init(certificatePath: edge.tls.certificate, keyPath: edge.tls.key, caPath: config.upstream.ca, corePort: core.port)
            self.moreCores = Array(config.upstream.endpoints.dropFirst())
            self.edgeID = edge.id
            self.region = region.name
            self.host = edge.listen.host
            self.port = edge.listen.port
            self.coreHost = core.host
            self.upstreamTimeout = .milliseconds(config.upstream.timeoutMs)
            self.rateLimits = config.rateLimits
            self.idempotencyRetentionMs = config.idempotencyRetentionMs
            self.drainTimeout = .milliseconds(config.drainTimeoutMs)
            self.advertisedAddress = edge.advertise
        }
    }

    /// The region's name for every public service, for the health service.
    static let publicServices = ["payrail.v1.Payments", "payrail.v1.Refunds", "payrail.v1.Disputes", "payrail.v1.Payouts", "payrail.v1.Subscriptions", "payrail.v1.Tokens", "payrail.v1.Balances",
                                 "payrail.v1.FXQuotes", "payrail.v1.WebhookEndpoints", "payrail.v1.Discovery",
                                 "payrail.v1.RiskLists"]

    public let server: GRPCServer<HTTP2ServerTransport.Posix>
    public let coreClients: [GRPCClient<HTTP2ClientTransport.Posix>]
    public let health: HealthService
    /// The public API handler (authentication, limits, idempotency, forwarding).
    public let gateway: EdgeGateway
    /// Follows the core's traffic plan: region map for Discovery, drain and restore.
    public let traffic: EdgeTrafficWatcher
    let connections: EdgeConnections

    public init(configuration: Configuration, now: @escaping @Sendable () -> Int64 = UnixClock.nowMs,
                logger: Logger = Logger(label: "payrail.edge")) throws {
        var clients: [GRPCClient<HTTP2ClientTransport.Posix>] = []
        let cores = [EdgeConfig.Endpoint(host: configuration.coreHost, port: configuration.corePort)] + configuration.moreCores
        for index in 0..<max(1, configuration.coreConnections) * cores.count {
            let core = cores[index % cores.count]
            let transport = try HTTP2ClientTransport.Posix(
                target: .ipv4(address: core.host, port: core.port),
                transportSecurity: TransportSecurityFactory.internalClient(
                    certificatePath: configuration.certificatePath, keyPath: configuration.keyPath, caPath: configuration.caPath),
                config: EdgeNode.clientConfig())
            clients.append(GRPCClient(transport: transport))
        }
        coreClients = clients
        let connections = EdgeConnections()
        self.connections = connections
        let health = HealthService()
        self.health = health
        let watcherBox = WatcherBox()
        let gateway = EdgeGateway(edgeID: configuration.edgeID, region: configuration.region, cores: clients, now: now,
                                  upstreamTimeout: configuration.upstreamTimeout,
                                  rateLimiter: EdgeRateLimiter(configuration: configuration.rateLimits),
                                  idempotencyRetentionMs: configuration.idempotencyRetentionMs, logger: logger,
                                  regionMap: { watcherBox.watcher?.regionMap }, pipedPaymentCalls: configuration.pipedPaymentCalls)
        self.gateway = gateway
        let transport = HTTP2ServerTransport.Posix(
            address: .ipv4(host: configuration.host, port: configuration.port),
            transportSecurity: TransportSecurityFactory.publicServer(certificatePath: configuration.certificatePath, keyPath: configuration.keyPath),
            config: EdgeNode.serverConfig(connections: connections))
        let server = GRPCServer(transport: transport, services: [
            PaymentsService(gateway: gateway), RefundsService(gateway: gateway), DisputesService(gateway: gateway), PayoutsService(gateway: gateway), SubscriptionsService(gateway: gateway), TokensService(gateway: gateway),
            BalancesService(gateway: gateway), FXQuotesService(gateway: gateway), WebhookEndpointsService(gateway: gateway),
            DiscoveryService(gateway: gateway), RiskListsService(gateway: gateway), health,
        ])
        self.server = server
        Self.setHealth(health, serving: true)
        let edgeID = configuration.edgeID
        let region = configuration.region
        let advertised = configuration.advertisedAddress
        let host = configuration.host
        traffic = EdgeTrafficWatcher(cores: clients, edgeID: edgeID, region: region, address: {
            if let advertised { return advertised }
            guard let port = try await server.transport.listeningAddress.ipv4?.port else { throw PayrailError(.internalError, "not listening") }
            return "\(host):\(port)"
        }, logger: logger) { map in
            let drained = map.regions.first { $0.name == region }?.drained ?? false
            guard gateway.setDraining(drained) else { return }
            Self.setHealth(health, serving: !drained)
            if drained {
                let told = connections.quiesceAll()
                logger.notice("edge draining: region drained", metadata: ["edge": "\(edgeID)", "region": "\(region)",
                                                                          "version": "\(map.version)", "connections": "\(told)"])
            } else {
                logger.notice("edge serving again: region restored", metadata: ["edge": "\(edgeID)", "version": "\(map.version)"])
            }
        }
        watcherBox.watcher = traffic
    }

    /// Every public service and the whole server SERVING, or NOT_SERVING while draining.
    static func setHealth(_ health: HealthService, serving: Bool) {
        let status: HealthService.Status = serving ? .serving : .notServing
        health.setStatus(status)
        for name in publicServices { health.setStatus(status, forService: name) }
    }

    /// Drains by hand (as `SIGTERM` does before stopping): refuse new calls, report
    /// NOT_SERVING, GOAWAY on every connection. Returns how many connections were told.
    @discardableResult
    public func drain() -> Int {
        gateway.setDraining(true)
        Self.setHealth(health, serving: false)
        return connections.quiesceAll()
    }

    /// Open merchant connections.
    public var activeConnections: Int { connections.count }
    /// Connections sent GOAWAY by a drain that have not closed yet (calls still finishing).
    public var connectionsGoingAway: Int { connections.goingAwayCount }
    /// Connections sent GOAWAY by drains since start.
    public var goAwaysSent: Int { connections.goAwaysSent }
    /// Merchant connections accepted since start.
    public var acceptedConnections: Int { connections.acceptedTotal }

    private static func serverConfig(connections: EdgeConnections) -> HTTP2ServerTransport.Posix.Config {
        var config = ListenerConfig.publicServer()
        config.channelDebuggingCallbacks.onAcceptTCPConnection = { connections.accepted($0) }
        return config
    }

    private static func clientConfig() -> HTTP2ClientTransport.Posix.Config {
        var config = HTTP2ClientTransport.Posix.Config.defaults
        config.http2.maxFrameSize = 1 << 16
        return config
    }

    /// The lifecycle services: core connections first (stopped last), their payment call
    /// streams, the traffic watcher, then the server (stopped first: no new connections,
    /// GOAWAY, calls in flight finish).
    public var services: [any Service] {
        coreClients.map { GRPCClientService(client: $0) as any Service } + gateway.pipes.map { $0 as any Service }
            + [traffic, GRPCServerService(server: server)]
    }

    public func listeningPort() async throws -> Int {
        guard let port = try await server.transport.listeningAddress.ipv4?.port else {
            throw PayrailError(.internalError, "edge is not listening on IPv4")
        }
        return port
    }
}
