/// When a failed webhook delivery is tried again: exponential backoff with full jitter
/// (a random delay between zero and `min(maximumDelay, initialDelay * 2^(attempt-1))`), so
/// endpoints recovering from an outage are not hit by every retry at once; no retries once
/// `retryPeriodMs` has passed since the first attempt (3 days by default, as merchants expect).
public struct WebhookRetryPolicy: Hashable, Sendable {
    public var initialDelayMs: Int64
    public var maximumDelayMs: Int64
    public var retryPeriodMs: Int64
    /// Full jitter (the default); without it every retry waits exactly the ceiling (tests).
    public var jitter: Bool

    public init(initialDelayMs: Int64 = 30_000, maximumDelayMs: Int64 = 3_600_000, retryPeriodMs: Int64 = 3 * 24 * 3_600_000,
                jitter: Bool = true) {
        precondition(initialDelayMs > 0 && maximumDelayMs >= initialDelayMs && retryPeriodMs > 0, "retry policy bounds")
        self.initialDelayMs = initialDelayMs
        self.maximumDelayMs = maximumDelayMs
        self.retryPeriodMs = retryPeriodMs
        self.jitter = jitter
    }

    /// The ceiling of the delay after failed attempt number `attempt` (1-based).
    public func delayCeilingMs(afterAttempt attempt: Int) -> Int64 {
        precondition(attempt >= 1, "attempts count from 1")
        let doublings = min(attempt - 1, 40)
        let (scaled, overflow) = initialDelayMs.multipliedReportingOverflow(by: Int64(1) << doublings)
        return overflow ? maximumDelayMs : min(maximumDelayMs, scaled)
    }

    /// When to try again after failed attempt `attempt`, or nil when the retry period is over.
    public func nextAttemptAtMs(afterAttempt attempt: Int, firstAttemptAtMs: Int64, nowMs: Int64,
                                random: inout some RandomNumberGenerator) -> Int64? {
        let deadline = firstAttemptAtMs + retryPeriodMs
        guard nowMs < deadline else { return nil }
        let ceiling = delayCeilingMs(afterAttempt: attempt)
        let delay = jitter ? Int64.random(in: 0...ceiling, using: &random) : ceiling
        return min(nowMs + delay, deadline)
    }
}
