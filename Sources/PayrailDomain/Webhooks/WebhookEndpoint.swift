/// A merchant's URL that receives signed event deliveries.
public struct WebhookEndpoint: Hashable, Sendable {
    public enum Status: String, Sendable {
        case enabled
        /// Turned off by the merchant, or by Payrail after failing for the whole retry period.
        case disabled
    }

    /// A signing secret. After a rotation the old secret keeps signing (beside the new one)
    /// until `expiresAtMs`, so a merchant can deploy the new one without losing deliveries.
    public struct Secret: Hashable, Sendable {
        public let value: String
        public let createdAtMs: Int64
        public var expiresAtMs: Int64?

        public init(value: String, createdAtMs: Int64, expiresAtMs: Int64? = nil) {
            self.value = value
            self.createdAtMs = createdAtMs
            self.expiresAtMs = expiresAtMs
        }

        public func isActive(atMs nowMs: Int64) -> Bool { expiresAtMs.map { nowMs < $0 } ?? true }
    }

    /// Event types an endpoint subscribes to: every type, or the listed ones.
    public static let allEvents = "*"

    public let id: String
    public let merchantID: String
    public let livemode: Bool
    public var url: String
    public var eventTypes: [String]
    public var description: String
    public var status: Status
    public var disabledReason: String?
    public var secrets: [Secret]
    /// Since when every attempt to this endpoint has failed (nil after a success): an endpoint
    /// failing for the whole retry period is disabled.
    public var failingSinceMs: Int64?
    public let createdAtMs: Int64
    public var updatedAtMs: Int64

    public init(id: String, merchantID: String, livemode: Bool, url: String, eventTypes: [String], description: String,
                status: Status, disabledReason: String? = nil, secrets: [Secret], failingSinceMs: Int64? = nil,
                createdAtMs: Int64, updatedAtMs: Int64) {
        self.id = id
        self.merchantID = merchantID
        self.livemode = livemode
        self.url = url
        self.eventTypes = eventTypes
        self.description = description
        self.status = status
        self.disabledReason = disabledReason
        self.secrets = secrets
        self.failingSinceMs = failingSinceMs
        self.createdAtMs = createdAtMs
        self.updatedAtMs = updatedAtMs
    }

    /// Whether an event of `type` in `livemode` goes to this endpoint.
    public func wants(_ type: DomainEvent.EventType, livemode eventLivemode: Bool) -> Bool {
        status == .enabled && livemode == eventLivemode
            && (eventTypes.contains(Self.allEvents) || eventTypes.contains(type.rawValue))
    }

    /// The secrets that sign a delivery made at `nowMs` (newest first).
    public func signingSecrets(atMs nowMs: Int64) -> [String] {
        secrets.filter { $0.isActive(atMs: nowMs) }.sorted { $0.createdAtMs > $1.createdAtMs }.map(\.value)
    }

    /// Adds `newSecret`; the current ones keep signing for `overlapMs` more.
    public mutating func rotateSecret(to newSecret: String, overlapMs: Int64, atMs nowMs: Int64) {
        precondition(overlapMs >= 0, "overlap cannot be negative")
        secrets = secrets.filter { $0.isActive(atMs: nowMs) }.map { secret in
            var ending = secret
            ending.expiresAtMs = min(secret.expiresAtMs ?? Int64.max, nowMs + overlapMs)
            return ending
        }
        secrets.append(Secret(value: newSecret, createdAtMs: nowMs))
        updatedAtMs = nowMs
    }
}
