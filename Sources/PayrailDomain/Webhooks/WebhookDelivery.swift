/// One event on its way to one endpoint: retried until the endpoint answers 2xx or the retry
/// period ends. Each try is a ``WebhookAttempt``.
public struct WebhookDelivery: Hashable, Sendable {
    public enum Status: String, Sendable {
        /// Waiting for its next attempt at `nextAttemptAtMs`.
        case pending
        /// The endpoint answered 2xx.
        case delivered
        /// Retried for the whole period without success (or the endpoint was disabled).
        case failed
    }

    public let id: String
    public let eventID: String
    public let endpointID: String
    public let merchantID: String
    public var status: Status
    /// Attempts made so far.
    public var attempts: Int
    public var nextAttemptAtMs: Int64
    /// A dispatcher holds the delivery until then (a lease: another dispatcher takes it over
    /// only after it expires, so two never send the same attempt at once).
    public var leasedUntilMs: Int64
    public let createdAtMs: Int64
    public var updatedAtMs: Int64

    public init(id: String, eventID: String, endpointID: String, merchantID: String, status: Status, attempts: Int,
                nextAttemptAtMs: Int64, leasedUntilMs: Int64, createdAtMs: Int64, updatedAtMs: Int64) {
        self.id = id
        self.eventID = eventID
        self.endpointID = endpointID
        self.merchantID = merchantID
        self.status = status
        self.attempts = attempts
        self.nextAttemptAtMs = nextAttemptAtMs
        self.leasedUntilMs = leasedUntilMs
        self.createdAtMs = createdAtMs
        self.updatedAtMs = updatedAtMs
    }

    /// Applies the result of an attempt made at `nowMs`: delivered, retried later, or failed
    /// for good once `policy` gives up.
    public mutating func record(succeeded: Bool, atMs nowMs: Int64, policy: WebhookRetryPolicy, random: inout some RandomNumberGenerator) {
        precondition(status == .pending, "only pending deliveries are attempted")
        attempts += 1
        updatedAtMs = nowMs
        leasedUntilMs = nowMs
        if succeeded {
            status = .delivered
        } else if let next = policy.nextAttemptAtMs(afterAttempt: attempts, firstAttemptAtMs: createdAtMs, nowMs: nowMs, random: &random) {
            nextAttemptAtMs = next
        } else {
            status = .failed
        }
    }
}

/// What one HTTP attempt of a delivery got back, kept in the delivery log.
public struct WebhookAttempt: Hashable, Sendable {
    public let deliveryID: String
    public let attemptedAtMs: Int64
    /// The HTTP status, or nil when there was no answer (refused, timed out).
    public let httpStatus: Int?
    public let latencyMs: Int64
    /// The transport error, if any.
    public let error: String?
    /// The start of the response body (at most ``WebhookAttempt/excerptLimit`` bytes).
    public let responseExcerpt: String
    /// When the delivery is tried next after this attempt (nil: delivered, or given up).
    public var retryAtMs: Int64?

    public static let excerptLimit = 512

    public init(deliveryID: String, attemptedAtMs: Int64, httpStatus: Int?, latencyMs: Int64, error: String?, responseExcerpt: String,
                retryAtMs: Int64? = nil) {
        self.deliveryID = deliveryID
        self.attemptedAtMs = attemptedAtMs
        self.httpStatus = httpStatus
        self.latencyMs = latencyMs
        self.error = error
        self.responseExcerpt = String(decoding: Array(responseExcerpt.utf8.prefix(Self.excerptLimit)), as: UTF8.self)
        self.retryAtMs = retryAtMs
    }

    /// A 2xx answer is a delivery; anything else (or none) is retried.
    public var succeeded: Bool { httpStatus.map { (200..<300).contains($0) } ?? false }
}
