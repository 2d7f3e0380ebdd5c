import GRPCCore
import GRPCNIOTransportHTTP2
import Logging
import PayrailDomain
import PayrailRuntime
import PayrailSimulators
import PayrailStore
import ServiceLifecycle

/// A core (ledger region) node: the internal gRPC API over mutual TLS in front of the
/// payment service, the vault and the store, and the webhook dispatcher.
public struct CoreNode: Sendable {
    public struct Configuration: Sendable {
        public var host = "127.0.0.1"
        /// 0 picks a free port; read it back from ``CoreNode/listeningPort()``.
        public var port = 0
        public var certificatePath: String
        public var keyPath: String
        public var caPath: String
        /// The processors to run and how payments are routed between them.
        public var routing = RoutingConfiguration.default
        /// The job that settles payments whose processor outcome is unknown.
        public var reconciler = PaymentReconciler.Configuration()
        /// How often standard payouts are batched to the bank and arrivals checked.
        public var payoutJob = PayoutJob.Configuration()
        /// How often the billing run renews and charges subscriptions, and its dunning retries.
        public var billingInterval: Duration = .seconds(5)
        public var dunning = DunningPolicy()
        public var payments = PaymentService.Configuration()
        public var webhooks = WebhookDispatcher.Configuration()
        /// The regions whose edges this core serves (the traffic control plane's regions).
        public var traffic = TrafficControlPlane.Configuration(regions: ["local"])
        /// Calls one edge's PaymentCalls stream may have running at once; a further call is
        /// answered `core_overloaded` (UNAVAILABLE, safe to retry) instead of queueing.
        public var pipedCallsInFlightMax = 1_024

        public init(certificatePath: String, keyPath: String, caPath: String) {
            self.certificatePath = certificatePath
            self.keyPath = keyPath
            self.caPath = caPath
        }

        public init(pki: DevPKI) {
            self.init(certificatePath: pki.certificatePath(.core), keyPath: pki.privateKeyPath(.core), caPath: pki.caCertificatePath)
        }
    }

    public let server: GRPCServer<HTTP2ServerTransport.Posix>
    public let payments: PaymentService
    public let apiKeys: APIKeyService
    public let health: HealthService
    public let ledger: LedgerVerifier
    public let webhookEndpoints: WebhookEndpointService
    /// Delivers the outbox to merchants' endpoints; run it beside ``server`` (any number of
    /// core nodes may run one on PostgreSQL).
    public let webhooks: WebhookDispatcher
    /// The live region weights and the edges watching them.
    public let traffic: TrafficControlPlane

    /// The long-running parts: the gRPC server, the webhook dispatcher and the traffic control
    /// plane (stopped first, which ends the edges' watches so the server can drain).
    public var services: [any Service] {
        [GRPCServerService(server: server), webhooks, vaultRewrapper, reconciler, notifications, payoutJob, billingJob, traffic]
    }
    /// Plans, subscriptions and invoices, and the billing run that renews and charges them.
    public let subscriptions: SubscriptionService
    public let billingJob: BillingJob
    /// Payouts to the merchants' banks and cards, and the job that sends and settles them.
    public let payouts: PayoutService
    public let payoutJob: PayoutJob
    /// Chargebacks from the networks and the merchant's answers.
    public let disputes: DisputeService
    /// Brings the processors' own reports (chargebacks) in.
    public let notifications: ConnectorNotificationPoller
    /// Settles payments left `processing` by asking their processor.
    public let reconciler: PaymentReconciler
    /// Moves vaulted cards to the current key-encryption key after a rotation.
    public let vaultRewrapper: VaultRewrapper

    public init(configuration: Configuration, store: any PaymentStore, vaultStore: any VaultStore, keys: any KeyProvider,
                connectors: [any CardConnector]? = nil, payoutRail: (any PayoutRail)? = nil, now: @escaping @Sendable () -> Int64 = UnixClock.nowMs,
                logger: Logger = Logger(label: "payrail.core")) {
        // Time-ordered: the store's indexes on ids then grow at their right edge.
        let ids = IdentifierGenerator.timeOrdered(clockMs: now)
        let vault = CardVault(keys: keys, ids: ids)
        // Without connectors from the caller, the simulated networks the routing file describes.
        let connectors = connectors ?? configuration.routing.connectors.map(CoreNode.simulator)
        let router = ConnectorRouter(connectors: connectors, table: configuration.routing.table, retry: configuration.routing.retry,
                                     logger: logger)
        payments = PaymentService(store: store, vaultStore: vaultStore, router: router, vault: vault, codec: ProtobufSnapshotCodec(), ids: ids,
                                  now: now, configuration: configuration.payments, logger: logger)
        reconciler = PaymentReconciler(payments: payments, configuration: configuration.reconciler, now: now, logger: logger)
        disputes = DisputeService(store: store, router: router, codec: ProtobufSnapshotCodec(), ids: ids, now: now, logger: logger)
        notifications = ConnectorNotificationPoller(router: router, disputes: disputes, payments: payments, logger: logger)
        payouts = PayoutService(store: store, vaultStore: vaultStore, vault: vault, rail: payoutRail ?? BankRailSimulator(),
                                codec: ProtobufSnapshotCodec(), ids: ids, now: now, logger: logger)
        payoutJob = PayoutJob(payouts: payouts, configuration: configuration.payoutJob, logger: logger)
        subscriptions = SubscriptionService(store: store, vaultStore: vaultStore, payments: payments, codec: ProtobufSnapshotCodec(), ids: ids,
                                            now: now, dunning: configuration.dunning, logger: logger)
        billingJob = BillingJob(subscriptions: subscriptions, interval: configuration.billingInterval, logger: logger)
        apiKeys = APIKeyService(store: store, ids: ids, now: now)
        health = HealthService()
        ledger = LedgerVerifier(store: store)
        webhookEndpoints = WebhookEndpointService(store: store, ids: ids, now: now)
        webhooks = WebhookDispatcher(store: store, configuration: configuration.webhooks, ids: ids, now: now, logger: logger)
        traffic = TrafficControlPlane(store: store, configuration: configuration.traffic, now: now, logger: logger)
        vaultRewrapper = VaultRewrapper(store: vaultStore, vault: vault, logger: logger)
        let transport = HTTP2ServerTransport.Posix(
            address: .ipv4(host: configuration.host, port: configuration.port),
            transportSecurity: TransportSecurityFactory.internalServer(
                certificatePath: configuration.certificatePath, keyPath: configuration.keyPath, caPath: configuration.caPath),
            config: ListenerConfig.internalServer())
        server = GRPCServer(transport: transport, services: [
            CoreGRPCService(payments: payments, apiKeys: apiKeys, webhookEndpoints: webhookEndpoints, disputes: disputes, payouts: payouts,
                            subscriptions: subscriptions, pipedCallsInFlightMax: configuration.pipedCallsInFlightMax, now: now, logger: logger),
            TrafficControlService(plane: traffic, logger: logger), health,
        ])
        health.setStatus(.serving)
        health.setStatus(.serving, forService: "payrail.internal.v1.Core")
        health.setStatus(.serving, forService: "payrail.internal.v1.TrafficControl")
    }

    /// A simulated card network as a routing file describes it.
    static func simulator(_ spec: RoutingConfiguration.ConnectorSpec) -> any CardConnector {
        let processor: any CardConnector
        switch spec.type {
        case "bank_debit_simulator": processor = BankDebitSimulator(name: spec.name)
        case "bnpl_simulator": processor = BNPLSimulator(name: spec.name, latencyMs: spec.network.latencyMinMs)
        case "redirect_wallet_simulator": processor = PayPalSimulator(name: spec.name, latencyMs: spec.network.latencyMinMs)
        default: return cardNetwork(spec)
        }
        // The card networks simulate their own faults; the others get them in front.
        let settings = spec.network
        guard settings.unavailablePerMille + settings.requestLossPerMille + settings.responseLossPerMille > 0 else { return processor }
        return FaultInjector(processor, rates: FaultInjector.Rates(unavailablePerMille: settings.unavailablePerMille,
                                                                   requestLossPerMille: settings.requestLossPerMille,
                                                                   responseLossPerMille: settings.responseLossPerMille,
                                                                   timeoutMs: settings.timeoutMs),
                             seed: UInt64.random(in: 1...UInt64.max))
    }

    static func cardNetwork(_ spec: RoutingConfiguration.ConnectorSpec) -> CardNetworkSimulator {
        var network = CardNetworkSimulator.Configuration(latencyMinMs: spec.network.latencyMinMs, latencyMaxMs: spec.network.latencyMaxMs,
                                                         tailPerMille: spec.network.tailPerMille, timeoutMs: spec.network.timeoutMs)
        network.unavailablePerMille = spec.network.unavailablePerMille
        network.requestLossPerMille = spec.network.requestLossPerMille
        network.responseLossPerMille = spec.network.responseLossPerMille
        return CardNetworkSimulator(name: spec.name, configuration: network, seed: UInt64.random(in: 1...UInt64.max))
    }

    /// Work before serving: rebuilds the fraud check's velocity counters from the last 24 hours
    /// of payments, so a restart does not forget a card-testing burst.
    public func prepare(now: Int64 = UnixClock.nowMs()) async throws {
        try await payments.risk.rebuild(nowMs: now)
    }

    /// The port the server listens on, once it is serving.
    public func listeningPort() async throws -> Int {
        guard let port = try await server.transport.listeningAddress.ipv4?.port else {
            throw PayrailError(.internalError, "core is not listening on IPv4")
        }
        return port
    }
}
