import PayrailDomain
import Synchronization

/// Rate limits enforced locally at each edge, without a round trip: a GCRA state per merchant
/// and per API key, the limits from the merchant's tier. Keys are spread over shards, each
/// behind its own lock, so concurrent requests of different merchants do not contend.
/// Memory is bounded: a shard that grows past its share of `maxKeys` drops keys whose
/// bucket is full again (they would start from a fresh state anyway).
public final class EdgeRateLimiter: Sendable {
    /// Limits of one tier: per merchant (all its keys together) and per API key.
    public struct Tier: Hashable, Sendable {
        public var merchant: RateLimit
        public var apiKey: RateLimit

        public init(merchant: RateLimit, apiKey: RateLimit) {
            self.merchant = merchant
            self.apiKey = apiKey
        }
    }

    public struct Configuration: Sendable {
        public var tiers: [String: Tier]
        public var defaultTier: String
        /// Merchants on a tier other than the default.
        public var merchantTiers: [String: String]
        public var maxKeys: Int

        public init(tiers: [String: Tier] = Self.standardTiers, defaultTier: String = "standard",
                    merchantTiers: [String: String] = [:], maxKeys: Int = 200_000) {
            precondition(tiers[defaultTier] != nil, "the default tier must exist")
            self.tiers = tiers
            self.defaultTier = defaultTier
            self.merchantTiers = merchantTiers
            self.maxKeys = maxKeys
        }

        public static let standardTiers: [String: Tier] = [
            "standard": Tier(merchant: RateLimit(perSecond: 1_000, burst: 2_000), apiKey: RateLimit(perSecond: 1_000, burst: 2_000)),
            "high": Tier(merchant: RateLimit(perSecond: 20_000, burst: 40_000), apiKey: RateLimit(perSecond: 20_000, burst: 40_000)),
        ]

        func tier(merchantID: String) -> Tier {
            tiers[merchantTiers[merchantID] ?? defaultTier] ?? tiers[defaultTier]!
        }
    }

    /// One lock's worth of keys and their theoretical arrival times.
    private final class Shard: Sendable {
        let states = Mutex<[String: Int64]>([:])
    }

    private static let shardCount = 16
    private let shards: [Shard]
    private let configuration: Mutex<Configuration>
    private let nowNs: @Sendable () -> Int64

    public init(configuration: Configuration = Configuration(), nowNs: @escaping @Sendable () -> Int64 = EdgeRateLimiter.monotonicNs) {
        self.configuration = Mutex(configuration)
        self.nowNs = nowNs
        shards = (0..<Self.shardCount).map { _ in Shard() }
    }

    public static let monotonicNs: @Sendable () -> Int64 = {
        let origin = ContinuousClock.Instant.now
        return { (ContinuousClock.now - origin).wholeNanoseconds }
    }()

    /// Admits one request of `merchantID` with `apiKeyID`, or throws `rate_limited`
    /// (RESOURCE_EXHAUSTED) with the delay after which a retry is admitted. A request refused by
    /// one limit does not use up the other.
    public func admit(merchantID: String, apiKeyID: String) throws(PayrailError) {
        let (tier, maxKeys) = configuration.withLock { ($0.tier(merchantID: merchantID), $0.maxKeys) }
        let now = nowNs()
        let merchantKey = "m:" + merchantID, keyKey = "k:" + apiKeyID
        // Check both first, then take from both: refusing on the key must not charge the merchant.
        let keyDecision = peek(keyKey, now: now, limit: tier.apiKey)
        let merchantDecision = peek(merchantKey, now: now, limit: tier.merchant)
        if case .limited(let wait) = keyDecision { throw Self.limited(wait, scope: "API key") }
        if case .limited(let wait) = merchantDecision { throw Self.limited(wait, scope: "merchant") }
        // Commit; under a race another request may have taken the last slot meanwhile.
        if case .limited(let wait) = take(keyKey, now: now, limit: tier.apiKey, maxKeys: maxKeys) { throw Self.limited(wait, scope: "API key") }
        if case .limited(let wait) = take(merchantKey, now: now, limit: tier.merchant, maxKeys: maxKeys) {
            throw Self.limited(wait, scope: "merchant")
        }
    }

    private static func limited(_ waitNs: Int64, scope: String) -> PayrailError {
        let retryAfterMs = max(1, (waitNs + 999_999) / 1_000_000)
        return PayrailError(.rateLimited, "too many requests for this \(scope); retry after \(retryAfterMs) ms", retryAfterMs: retryAfterMs)
    }

    private func shard(_ key: String) -> Shard {
        shards[Int(UInt(bitPattern: key.hashValue) % UInt(Self.shardCount))]
    }

    private func peek(_ key: String, now: Int64, limit: RateLimit) -> GCRA.Decision {
        shard(key).states.withLock { GCRA.decide(tat: $0[key], nowNs: now, limit: limit) }
    }

    /// Replaces the tiers (a configuration reload); state per key is kept.
    public func update(_ newConfiguration: Configuration) {
        configuration.withLock { $0 = newConfiguration }
    }

    private func take(_ key: String, now: Int64, limit: RateLimit, maxKeys: Int) -> GCRA.Decision {
        let maxPerShard = max(1, maxKeys / Self.shardCount)
        return shard(key).states.withLock { states in
            let decision = GCRA.decide(tat: states[key], nowNs: now, limit: limit)
            if case .allowed(let tat) = decision {
                if states[key] == nil && states.count >= maxPerShard {
                    states = states.filter { $0.value > now } // idle keys are back to a full bucket
                }
                states[key] = tat
            }
            return decision
        }
    }

    /// Keys with state, for tests of the memory bound.
    var trackedKeys: Int { shards.reduce(0) { $0 + $1.states.withLock { $0.count } } }
}
