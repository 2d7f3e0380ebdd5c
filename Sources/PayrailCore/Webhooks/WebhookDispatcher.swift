import AsyncHTTPClient
import Logging
import Metrics
import NIOCore
import NIOHTTP1
import PayrailDomain
import PayrailSDK
import PayrailStore
import ServiceLifecycle
import Synchronization

/// Delivers the transactional outbox to merchants' webhook endpoints.
///
/// Two steps, each its own store transaction: **fan-out** turns each new outbox event into one
/// delivery per subscribed endpoint (events locked `FOR UPDATE SKIP LOCKED` on PostgreSQL, so
/// several dispatchers share the work); **delivery** leases due deliveries (a lease with an
/// expiry: a dispatcher that dies mid-delivery loses it and another retries), POSTs the signed
/// event, and records the attempt, fenced by the lease so a late dispatcher cannot overwrite its
/// successor. Failures are retried with exponential backoff and full jitter for the retry
/// period; an endpoint failing for that whole period is disabled and a
/// `webhook_endpoint.disabled` event announces it. Delivery is at least once: receivers
/// deduplicate by event id (the `Payrail-Event-Id` header and the body's `id`).
public final class WebhookDispatcher: Service {
    public struct Configuration: Sendable {
        public var retry = WebhookRetryPolicy()
        /// Pause between rounds when there was nothing to do.
        public var pollInterval: Duration = .milliseconds(200)
        /// How long a dispatcher holds a delivery; must exceed the request timeout.
        public var leaseMs: Int64 = 30_000
        public var requestTimeoutMs: Int64 = 10_000
        /// Deliveries leased per round (sent concurrently).
        public var batchSize = 32
        public init() {}
    }

    /// Counts since start, for tests and the metrics below.
    public struct Statistics: Sendable, Equatable {
        public var delivered = 0
        public var failedAttempts = 0
        public var lostLeases = 0
    }

    private let store: any PaymentStore
    private let renderer: WebhookEventRenderer
    private let configuration: Configuration
    private let ids: IdentifierGenerator
    private let now: @Sendable () -> Int64
    private let logger: Logger
    private let stopping = Atomic<Bool>(false)
    private let counts = Mutex(Statistics())
    private let deliveredCounter = Counter(label: "payrail_webhook_deliveries_total", dimensions: [("result", "delivered")])
    private let failedCounter = Counter(label: "payrail_webhook_deliveries_total", dimensions: [("result", "failed_attempt")])
    private let queueDepth = Gauge(label: "payrail_webhook_queue_depth")
    private let oldestAge = Gauge(label: "payrail_webhook_oldest_undelivered_seconds")

    public init(store: any PaymentStore, configuration: Configuration = Configuration(), renderer: WebhookEventRenderer = WebhookEventRenderer(),
                ids: IdentifierGenerator = .system, now: @escaping @Sendable () -> Int64, logger: Logger = Logger(label: "payrail.webhooks")) {
        precondition(configuration.leaseMs > configuration.requestTimeoutMs, "the lease must outlast a request")
        self.store = store
        self.renderer = renderer
        self.configuration = configuration
        self.ids = ids
        self.now = now
        self.logger = logger
    }

    public var statistics: Statistics { counts.withLock { $0 } }

    /// Runs rounds until graceful shutdown; the round in flight finishes first.
    public func run() async throws {
        let client = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: Self.httpConfiguration())
        await withGracefulShutdownHandler {
            while !stopping.load(ordering: .relaxed) && !Task.isCancelled {
                let worked: Int
                do {
                    worked = try await round(client: client)
                } catch {
                    logger.warning("webhook round failed", metadata: ["error": "\(error)"])
                    worked = 0
                }
                if worked == 0 && !stopping.load(ordering: .relaxed) { try? await Task.sleep(for: configuration.pollInterval) }
            }
        } onGracefulShutdown: {
            self.stopping.store(true, ordering: .relaxed)
        }
        try? await client.shutdown()
    }

    /// One round: fan out new events, deliver what is due, refresh the queue gauges. Returns how
    /// much it did (zero: idle).
    public func round(client: HTTPClient) async throws -> Int {
        let fannedOut = try await fanOut()
        let attempted = try await deliverDue(client: client)
        let queue = try await store.read { try await $0.webhookQueue() }
        queueDepth.record(queue.pending)
        oldestAge.record(queue.oldestCreatedAtMs.map { max(0, now() - $0) / 1000 } ?? 0)
        return fannedOut + attempted
    }

    static func httpConfiguration() -> HTTPClient.Configuration {
        var configuration = HTTPClient.Configuration(redirectConfiguration: .disallow)
        configuration.timeout = .init(connect: .seconds(5))
        return configuration
    }

    /// Turns outbox events into deliveries, one per endpoint that wants the event and existed
    /// when it happened.
    func fanOut() async throws -> Int {
        try await store.write { tx in
            let events = try await tx.outboxEventsAwaitingFanOut(limit: configuration.batchSize * 4)
            guard !events.isEmpty else { return 0 }
            let nowMs = now()
            var endpointsByMerchant: [String: [WebhookEndpoint]] = [:]
            var deliveries: [WebhookDelivery] = []
            for event in events {
                if endpointsByMerchant[event.merchantID] == nil {
                    endpointsByMerchant[event.merchantID] = try await tx.webhookEndpoints(merchantID: event.merchantID)
                }
                for endpoint in endpointsByMerchant[event.merchantID]!
                where endpoint.wants(event.type, livemode: event.livemode) && endpoint.createdAtMs <= event.createdAtMs {
                    deliveries.append(WebhookDelivery(id: ids.make("whd"), eventID: event.id, endpointID: endpoint.id,
                                                      merchantID: event.merchantID, status: .pending, attempts: 0,
                                                      nextAttemptAtMs: nowMs, leasedUntilMs: 0, createdAtMs: nowMs, updatedAtMs: nowMs))
                }
            }
            try await tx.insertWebhookDeliveries(deliveries)
            try await tx.markOutboxEventsFannedOut(ids: events.map(\.id), atMs: nowMs)
            return events.count
        }
    }

    /// Leases the due deliveries and attempts them concurrently.
    func deliverDue(client: HTTPClient) async throws -> Int {
        let nowMs = now()
        let heldUntil = nowMs + configuration.leaseMs
        let leased = try await store.write { tx in
            try await tx.leaseDueWebhookDeliveries(nowMs: nowMs, leaseUntilMs: heldUntil, limit: configuration.batchSize)
        }
        await withTaskGroup(of: Void.self) { group in
            for delivery in leased {
                group.addTask {
                    do {
                        try await self.attempt(delivery, heldUntil: heldUntil, client: client)
                    } catch {
                        // The lease expires and the delivery is retried; nothing is lost.
                        self.logger.warning("webhook attempt not recorded", metadata: ["delivery": "\(delivery.id)", "error": "\(error)"])
                    }
                }
            }
        }
        return leased.count
    }

    private func attempt(_ delivery: WebhookDelivery, heldUntil: Int64, client: HTTPClient) async throws {
        let (event, endpoint) = try await store.read { tx in
            (try await tx.outboxEvent(id: delivery.eventID), try await tx.webhookEndpoint(id: delivery.endpointID, merchantID: delivery.merchantID))
        }
        guard let event, let endpoint else { throw PayrailError(.internalError, "delivery without its event or endpoint") }
        let body = try renderer.body(event)
        let startedMs = now()
        var request = HTTPClientRequest(url: endpoint.url)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.headers.add(name: "User-Agent", value: "Payrail-Webhooks/1")
        request.headers.add(name: "Payrail-Event-Id", value: event.id)
        request.headers.add(name: WebhookSignature.headerName,
                            value: WebhookSignature.header(timestamp: startedMs / 1000, body: body, secrets: endpoint.signingSecrets(atMs: startedMs)))
        request.body = .bytes(ByteBuffer(bytes: body))

        var status: Int?
        var excerpt = ""
        var failure: String?
        do {
            let response = try await client.execute(request, timeout: .milliseconds(configuration.requestTimeoutMs), logger: logger)
            status = Int(response.status.code)
            var collected: [UInt8] = []
            for try await chunk in response.body where collected.count < WebhookAttempt.excerptLimit {
                collected += chunk.readableBytesView.prefix(WebhookAttempt.excerptLimit - collected.count)
            }
            excerpt = String(decoding: collected, as: UTF8.self)
        } catch {
            failure = String(describing: error).prefix(200).description
        }
        let finishedMs = now()
        var attempt = WebhookAttempt(deliveryID: delivery.id, attemptedAtMs: startedMs, httpStatus: status,
                                     latencyMs: finishedMs - startedMs, error: failure, responseExcerpt: excerpt)
        var updated = delivery
        var random = SystemRandomNumberGenerator()
        updated.record(succeeded: attempt.succeeded, atMs: finishedMs, policy: configuration.retry, random: &random)
        attempt.retryAtMs = updated.status == .pending ? updated.nextAttemptAtMs : nil
        let kept = try await store.write { tx -> Bool in
            try await tx.insertWebhookAttempt(attempt)
            guard try await tx.updateWebhookDelivery(updated, heldUntilMs: heldUntil) else { return false }
            try await trackEndpointHealth(tx, endpoint: endpoint, attempt: attempt, delivery: updated, nowMs: finishedMs)
            return true
        }
        counts.withLock { counts in
            if attempt.succeeded { counts.delivered += 1 } else { counts.failedAttempts += 1 }
            if !kept { counts.lostLeases += 1 }
        }
        (attempt.succeeded ? deliveredCounter : failedCounter).increment()
        logger.debug("webhook attempt", metadata: [
            "event": "\(event.id)", "endpoint": "\(endpoint.id)", "status": "\(status.map(String.init) ?? "none")",
            "attempt": "\(updated.attempts)", "next": "\(updated.status == .pending ? String(updated.nextAttemptAtMs) : updated.status.rawValue)",
        ])
    }

    /// Remembers since when an endpoint has been failing (the start of the first attempt that
    /// failed after its last success). The endpoint is disabled, and a
    /// `webhook_endpoint.disabled` event announces it, when it has been failing for the whole
    /// retry period: either a later attempt fails that long after, or a delivery gives up and
    /// the endpoint has not answered 2xx since that delivery's first attempt. A success clears
    /// the history.
    private func trackEndpointHealth(_ tx: any StoreTransaction, endpoint seen: WebhookEndpoint, attempt: WebhookAttempt,
                                     delivery: WebhookDelivery, nowMs: Int64) async throws {
        let period = configuration.retry.retryPeriodMs
        if attempt.succeeded && seen.failingSinceMs == nil { return }
        if !attempt.succeeded, let since = seen.failingSinceMs, nowMs - since < period, delivery.status != .failed { return }
        guard var endpoint = try await tx.webhookEndpoint(id: seen.id, merchantID: seen.merchantID) else { return }
        if attempt.succeeded {
            endpoint.failingSinceMs = nil
        } else if let since = endpoint.failingSinceMs {
            var failedThroughout = nowMs - since >= period
            if !failedThroughout && delivery.status == .failed,
               let first = try await tx.webhookAttempts(deliveryID: delivery.id).first {
                failedThroughout = since <= first.attemptedAtMs
            }
            guard failedThroughout, endpoint.status == .enabled else { return }
            endpoint.status = .disabled
            endpoint.disabledReason = "every delivery failed for the whole retry period (\(period / 1000) s)"
            let payload = #"{"id":"\#(endpoint.id)","object":"webhook_endpoint","status":"disabled","failing_since":\#(since / 1000)}"#
            try await tx.appendOutboxEvent(DomainEvent(id: ids.make("evt"), type: .webhookEndpointDisabled, merchantID: endpoint.merchantID,
                                                       livemode: endpoint.livemode, resourceID: endpoint.id, payload: Array(payload.utf8),
                                                       createdAtMs: nowMs))
            logger.warning("webhook endpoint disabled after failing for the whole retry period", metadata: ["endpoint": "\(endpoint.id)"])
        } else {
            endpoint.failingSinceMs = attempt.attemptedAtMs
        }
        endpoint.updatedAtMs = nowMs
        try await tx.updateWebhookEndpoint(endpoint)
    }
}
