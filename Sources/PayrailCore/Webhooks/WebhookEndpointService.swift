import PayrailDomain
import PayrailStore

/// Merchants' webhook endpoints: create (the signing secret is returned once), list, update,
/// delete, rotate the secret with an overlap window, and resend an event.
public struct WebhookEndpointService: Sendable {
    /// Event types an endpoint may subscribe to (or `*` for all).
    public static let knownEventTypes: Set<String> = [
        DomainEvent.EventType.paymentRequiresAction, .paymentRequiresCapture, .paymentRequiresReview, .paymentSucceeded, .paymentFailed, .paymentCanceled,
        .refundSucceeded, .refundFailed, .disputeCreated, .disputeUpdated, .disputeClosed, .payoutCreated, .payoutPaid, .payoutFailed,
        .subscriptionCreated, .subscriptionCanceled, .invoicePaid, .invoicePaymentFailed, .webhookEndpointDisabled,
    ].reduce(into: []) { $0.insert($1.rawValue) }

    /// Longest overlap in which a rotated-out secret still signs.
    public static let rotationOverlapMaxMs: Int64 = 7 * 24 * 3_600_000

    let store: any PaymentStore
    let ids: IdentifierGenerator
    let now: @Sendable () -> Int64

    public init(store: any PaymentStore, ids: IdentifierGenerator = .system, now: @escaping @Sendable () -> Int64) {
        self.store = store
        self.ids = ids
        self.now = now
    }

    /// Creates an enabled endpoint; the result carries its signing secret, shown only now.
    public func create(merchantID: String, livemode: Bool, url: String, eventTypes: [String], description: String = "") async throws
        -> (endpoint: WebhookEndpoint, secret: String) {
        try Self.validate(url: url)
        let types = try Self.validate(eventTypes: eventTypes)
        guard description.utf8.count <= 500 else { throw PayrailError(.invalidRequest, "description is longer than 500 bytes", field: "description") }
        let nowMs = now()
        let secret = Self.newSecret()
        let endpoint = WebhookEndpoint(id: ids.make("we"), merchantID: merchantID, livemode: livemode, url: url, eventTypes: types,
                                       description: description, status: .enabled,
                                       secrets: [WebhookEndpoint.Secret(value: secret, createdAtMs: nowMs)],
                                       createdAtMs: nowMs, updatedAtMs: nowMs)
        try await store.write { try await $0.insertWebhookEndpoint(endpoint) }
        return (endpoint, secret)
    }

    public func list(merchantID: String) async throws -> [WebhookEndpoint] {
        try await store.read { try await $0.webhookEndpoints(merchantID: merchantID) }
    }

    public func get(merchantID: String, id: String) async throws -> WebhookEndpoint {
        guard let endpoint = try await store.read({ try await $0.webhookEndpoint(id: id, merchantID: merchantID) }) else {
            throw PayrailError(.resourceMissing, "no such webhook endpoint", field: "id")
        }
        return endpoint
    }

    /// Changes the URL, event types, description or enabled state (nil leaves a field as is).
    /// Re-enabling an endpoint that Payrail disabled clears its failure history.
    public func update(merchantID: String, id: String, url: String? = nil, eventTypes: [String]? = nil, description: String? = nil,
                       enabled: Bool? = nil) async throws -> WebhookEndpoint {
        if let url { try Self.validate(url: url) }
        let types = try eventTypes.map(Self.validate(eventTypes:))
        return try await store.write { tx in
            guard var endpoint = try await tx.webhookEndpoint(id: id, merchantID: merchantID) else {
                throw PayrailError(.resourceMissing, "no such webhook endpoint", field: "id")
            }
            if let url { endpoint.url = url }
            if let types { endpoint.eventTypes = types }
            if let description { endpoint.description = description }
            if let enabled {
                endpoint.status = enabled ? .enabled : .disabled
                endpoint.disabledReason = enabled ? nil : "disabled by the merchant"
                if enabled { endpoint.failingSinceMs = nil }
            }
            endpoint.updatedAtMs = now()
            try await tx.updateWebhookEndpoint(endpoint)
            return endpoint
        }
    }

    public func delete(merchantID: String, id: String) async throws {
        guard try await store.write({ try await $0.deleteWebhookEndpoint(id: id, merchantID: merchantID) }) else {
            throw PayrailError(.resourceMissing, "no such webhook endpoint", field: "id")
        }
    }

    /// A new signing secret (returned once); the old one keeps signing for `overlapMs`.
    public func rotateSecret(merchantID: String, id: String, overlapMs: Int64 = 24 * 3_600_000) async throws -> String {
        guard (0...Self.rotationOverlapMaxMs).contains(overlapMs) else {
            throw PayrailError(.invalidRequest, "overlap must be between 0 and 7 days", field: "overlap")
        }
        let secret = Self.newSecret()
        try await store.write { tx in
            guard var endpoint = try await tx.webhookEndpoint(id: id, merchantID: merchantID) else {
                throw PayrailError(.resourceMissing, "no such webhook endpoint", field: "id")
            }
            endpoint.rotateSecret(to: secret, overlapMs: overlapMs, atMs: now())
            try await tx.updateWebhookEndpoint(endpoint)
        }
        return secret
    }

    /// Sends `eventID` again to `endpointID` (whatever happened before): the delivery goes back
    /// to pending, due now, with its attempt log kept.
    public func resend(merchantID: String, eventID: String, endpointID: String) async throws -> WebhookDelivery {
        try await store.write { tx in
            guard let event = try await tx.outboxEvent(id: eventID), event.merchantID == merchantID else {
                throw PayrailError(.resourceMissing, "no such event", field: "event_id")
            }
            guard try await tx.webhookEndpoint(id: endpointID, merchantID: merchantID) != nil else {
                throw PayrailError(.resourceMissing, "no such webhook endpoint", field: "endpoint_id")
            }
            let nowMs = now()
            if var delivery = try await tx.webhookDeliveries(eventID: eventID).first(where: { $0.endpointID == endpointID }) {
                let held = delivery.leasedUntilMs
                guard held <= nowMs else {
                    throw PayrailError(.operationInProgress, "the event is being delivered to this endpoint right now; retry shortly")
                }
                delivery.status = .pending
                delivery.nextAttemptAtMs = nowMs
                delivery.updatedAtMs = nowMs
                guard try await tx.updateWebhookDelivery(delivery, heldUntilMs: held) else {
                    throw PayrailError(.operationInProgress, "the event is being delivered to this endpoint right now; retry shortly")
                }
                return delivery
            }
            let delivery = WebhookDelivery(id: ids.make("whd"), eventID: eventID, endpointID: endpointID, merchantID: merchantID,
                                           status: .pending, attempts: 0, nextAttemptAtMs: nowMs, leasedUntilMs: 0,
                                           createdAtMs: nowMs, updatedAtMs: nowMs)
            try await tx.insertWebhookDeliveries([delivery])
            return delivery
        }
    }

    /// The deliveries of an event and each one's attempts, for the delivery log.
    public func deliveryLog(merchantID: String, eventID: String) async throws -> [(delivery: WebhookDelivery, attempts: [WebhookAttempt])] {
        try await store.read { tx in
            var log: [(delivery: WebhookDelivery, attempts: [WebhookAttempt])] = []
            for delivery in try await tx.webhookDeliveries(eventID: eventID) where delivery.merchantID == merchantID {
                log.append((delivery, try await tx.webhookAttempts(deliveryID: delivery.id)))
            }
            return log
        }
    }

    static func validate(url: String) throws {
        let lower = url.lowercased()
        guard url.utf8.count <= 2_048, lower.hasPrefix("https://") || lower.hasPrefix("http://") else {
            throw PayrailError(.invalidRequest, "url must be an http(s) URL of at most 2048 bytes", field: "url")
        }
        let rest = url.drop { $0 != "/" }.dropFirst(2)
        let host = rest.prefix { $0 != "/" && $0 != ":" && $0 != "?" }
        guard !host.isEmpty, !url.contains(where: { $0 == " " || $0 == "\n" || $0 == "\r" }) else {
            throw PayrailError(.invalidRequest, "url has no host or contains whitespace", field: "url")
        }
    }

    static func validate(eventTypes: [String]) throws -> [String] {
        guard !eventTypes.isEmpty, eventTypes.count <= 32 else {
            throw PayrailError(.invalidRequest, "give between 1 and 32 event types (or \"*\")", field: "event_types")
        }
        for type in eventTypes where type != WebhookEndpoint.allEvents && !knownEventTypes.contains(type) {
            throw PayrailError(.invalidRequest, "unknown event type \"\(type.prefix(64))\"", field: "event_types")
        }
        return Array(Set(eventTypes)).sorted()
    }

    /// `whsec_` + 256 random bits in hex, from the system's cryptographic generator.
    static func newSecret() -> String {
        var generator = SystemRandomNumberGenerator()
        let digits = Array("0123456789abcdef")
        var secret = "whsec_"
        for _ in 0..<32 {
            let byte = UInt8.random(in: 0...255, using: &generator)
            secret.append(digits[Int(byte >> 4)])
            secret.append(digits[Int(byte & 0x0f)])
        }
        return secret
    }
}
