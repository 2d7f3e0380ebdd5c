import GRPCCore
import GRPCNIOTransportHTTP2
import Logging
import PayrailDomain
import PayrailRuntime
import ServiceLifecycle

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
        /// HTTP/2 connections to the core (one gRPC client each).
        public var coreConnections = 2
        /// Deadline for each call to the core.
        public var upstreamTimeout: Duration = .seconds(30)
        /// Rate-limit tiers, enforced locally per merchant and per API key.
        public var rateLimits = EdgeRateLimiter.Configuration()
        /// How long the edge replays a finished idempotent answer without asking the core.
        public var idempotencyRetentionMs: Int64 = 10 * 60_000

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
        /// forwards to the first upstream endpoint (several: a later issue).
        public init?(config: EdgeConfig, edgeID: String) {
            guard let (region, edge) = config.edge(id: edgeID), let core = config.upstream.endpoints.first else { return nil }
            self.init(certificatePath: edge.tls.certificate, keyPath: edge.tls.key, caPath: config.upstream.ca, corePort: core.port)
            self.edgeID = edge.id
            self.region = region.name
            self.host = edge.listen.host
            self.port = edge.listen.port
            self.coreHost = core.host
            self.upstreamTimeout = .milliseconds(config.upstream.timeoutMs)
            self.rateLimits = config.rateLimits
            self.idempotencyRetentionMs = config.idempotencyRetentionMs
        }
    }

    public let server: GRPCServer<HTTP2ServerTransport.Posix>
    public let coreClients: [GRPCClient<HTTP2ClientTransport.Posix>]
    public let health: HealthService
    /// The public API handler (authentication, limits, idempotency, forwarding).
    public let gateway: EdgeGateway

    public init(configuration: Configuration, now: @escaping @Sendable () -> Int64 = UnixClock.nowMs,
                logger: Logger = Logger(label: "payrail.edge")) throws {
        var clients: [GRPCClient<HTTP2ClientTransport.Posix>] = []
        for _ in 0..<max(1, configuration.coreConnections) {
            let transport = try HTTP2ClientTransport.Posix(
                target: .ipv4(address: configuration.coreHost, port: configuration.corePort),
                transportSecurity: TransportSecurityFactory.internalClient(
                    certificatePath: configuration.certificatePath, keyPath: configuration.keyPath, caPath: configuration.caPath),
                config: EdgeNode.clientConfig())
            clients.append(GRPCClient(transport: transport))
        }
        coreClients = clients
        gateway = EdgeGateway(edgeID: configuration.edgeID, region: configuration.region, cores: clients, now: now,
                                  upstreamTimeout: configuration.upstreamTimeout,
                                  rateLimiter: EdgeRateLimiter(configuration: configuration.rateLimits),
                                  idempotencyRetentionMs: configuration.idempotencyRetentionMs, logger: logger)
        health = HealthService()
        let transport = HTTP2ServerTransport.Posix(
            address: .ipv4(host: configuration.host, port: configuration.port),
            transportSecurity: TransportSecurityFactory.publicServer(certificatePath: configuration.certificatePath, keyPath: configuration.keyPath),
            config: EdgeNode.serverConfig())
        server = GRPCServer(transport: transport, services: [
            PaymentsService(gateway: gateway), RefundsService(gateway: gateway), TokensService(gateway: gateway),
            BalancesService(gateway: gateway), FXQuotesService(gateway: gateway), WebhookEndpointsService(gateway: gateway), health,
        ])
        health.setStatus(.serving)
        for name in ["payrail.v1.Payments", "payrail.v1.Refunds", "payrail.v1.Tokens", "payrail.v1.Balances", "payrail.v1.FXQuotes", "payrail.v1.WebhookEndpoints"] { health.setStatus(.serving, forService: name) }
    }

    private static func serverConfig() -> HTTP2ServerTransport.Posix.Config {
        var config = HTTP2ServerTransport.Posix.Config.defaults
        config.http2.maxConcurrentStreams = 1024
        // Hard cap; requests above `RequestLimits.messageBytesMax` get a typed error from the deserializer.
        config.rpc.maxRequestPayloadSize = 1 << 20
        return config
    }

    private static func clientConfig() -> HTTP2ClientTransport.Posix.Config {
        var config = HTTP2ClientTransport.Posix.Config.defaults
        config.http2.maxFrameSize = 1 << 16
        return config
    }

    /// The lifecycle services: core connections first (stopped last), then the server.
    public var services: [any Service] {
        coreClients.map { GRPCClientService(client: $0) as any Service } + [GRPCServerService(server: server)]
    }

    public func listeningPort() async throws -> Int {
        guard let port = try await server.transport.listeningAddress.ipv4?.port else {
            throw PayrailError(.internalError, "edge is not listening on IPv4")
        }
        return port
    }
}
