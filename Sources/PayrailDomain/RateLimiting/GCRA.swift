/// A rate limit as the generic cell rate algorithm sees it: a sustained rate and a burst. A
/// client idle long enough may send `burst` requests at once; after that, one per
/// `1/rate` seconds. Equivalent to a token bucket of size `burst` refilled at `rate`, with one
/// number of state per key (the theoretical arrival time) instead of two.
public struct RateLimit: Hashable, Sendable {
    /// Requests per second, sustained.
    public let perSecond: Int
    /// Requests allowed at once after an idle period (the bucket size).
    public let burst: Int

    public init(perSecond: Int, burst: Int) {
        precondition(perSecond >= 1 && burst >= 1, "a rate limit allows at least one request")
        self.perSecond = perSecond
        self.burst = burst
    }

    /// Nanoseconds between requests at the sustained rate.
    var emissionIntervalNs: Int64 { 1_000_000_000 / Int64(perSecond) }
    /// How far ahead of now the theoretical arrival time may run: the burst allowance.
    var toleranceNs: Int64 { emissionIntervalNs * Int64(burst - 1) }
}

/// GCRA for one key, as a pure step: given the stored theoretical arrival time (TAT) and now,
/// either allows the request and returns the new TAT, or refuses it and says how long to wait.
public enum GCRA {
    public enum Decision: Equatable, Sendable {
        case allowed(newTAT: Int64)
        /// Refused; the same request is allowed after `retryAfterNs`.
        case limited(retryAfterNs: Int64)
    }

    public static func decide(tat storedTAT: Int64?, nowNs: Int64, limit: RateLimit) -> Decision {
        let tat = max(storedTAT ?? nowNs, nowNs)
        let allowAt = tat - limit.toleranceNs
        if nowNs < allowAt { return .limited(retryAfterNs: allowAt - nowNs) }
        let newTAT = tat + limit.emissionIntervalNs
        assert(newTAT - nowNs <= limit.toleranceNs + limit.emissionIntervalNs, "GCRA never runs ahead by more than the burst")
        return .allowed(newTAT: newTAT)
    }
}
