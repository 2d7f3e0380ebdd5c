import Crypto
import Metrics
import PayrailDomain
import Synchronization

/// The edge's idempotency layer, in front of the core's durable record (which stays the
/// authority: the same key sent through two edges at once still charges once, because the
/// core serializes it).
///
/// - **Fingerprint**: a keyed HMAC-SHA256 of the request (the key is random per process, so the
///   cache never holds anything from which a card number could be recovered). The same key with
///   a different request is refused here with `idempotency_key_reused`, as the core would.
/// - **Replay**: finished responses are kept for `retention`, bounded to `maxEntries` (oldest
///   first out), and answered without a round trip.
/// - **Coalescing**: a duplicate arriving while the first is in flight waits for the first's
///   result instead of sending a second request.
///
/// Only final answers are kept (not a payment still `processing`, nor errors): those retries
/// must reach the core, which resumes or answers them.
public final class EdgeIdempotencyCache: Sendable {
    /// One merchant's idempotency key for one operation.
    public struct Key: Hashable, Sendable {
        let merchantID: String
        let livemode: Bool
        let operation: String
        let idempotencyKey: String
        public init(merchantID: String, livemode: Bool, operation: String, idempotencyKey: String) {
            self.merchantID = merchantID
            self.livemode = livemode
            self.operation = operation
            self.idempotencyKey = idempotencyKey
        }
    }

    private enum Slot {
        case inFlight(fingerprint: [UInt8], Task<[UInt8], any Error>)
        case done(fingerprint: [UInt8], response: [UInt8], expiresAtMs: Int64)
    }

    private struct State {
        var slots: [Key: Slot] = [:]
        /// Finished keys in the order they finished, for eviction.
        var order: [Key] = []
        var orderHead = 0
    }

    private final class Shard: Sendable {
        let state = Mutex(State())
    }

    private static let shardCount = 16
    private let shards: [Shard]
    private let retention: Atomic<Int64>
    private let maxEntriesPerShard: Int
    private let fingerprintKey = SymmetricKey(size: .bits256)
    private let now: @Sendable () -> Int64
    private let replayCount = Atomic<Int>(0)
    private let coalescedCount = Atomic<Int>(0)
    private let replays = Counter(label: "payrail_edge_idempotency_hits_total", dimensions: [("kind", "replay")])
    private let coalesced = Counter(label: "payrail_edge_idempotency_hits_total", dimensions: [("kind", "coalesced")])

    public init(retentionMs: Int64 = 10 * 60_000, maxEntries: Int = 100_000, now: @escaping @Sendable () -> Int64) {
        precondition(retentionMs >= 0 && maxEntries >= Self.shardCount, "cache bounds")
        self.retention = Atomic(retentionMs)
        self.maxEntriesPerShard = maxEntries / Self.shardCount
        self.now = now
        shards = (0..<Self.shardCount).map { _ in Shard() }
    }

    /// Changes how long new answers are kept (a configuration reload).
    public func setRetention(ms: Int64) {
        precondition(ms >= 0, "retention cannot be negative")
        retention.store(ms, ordering: .relaxed)
    }

    /// The request's fingerprint: HMAC over the operation and the request's deterministic bytes.
    public func fingerprint(operation: String, request: [UInt8]) -> [UInt8] {
        var mac = HMAC<SHA256>(key: fingerprintKey)
        mac.update(data: Array(operation.utf8))
        mac.update(data: [0])
        mac.update(data: request)
        return Array(mac.finalize())
    }

    /// Answers from the cache, joins an identical request in flight, or runs `send` (and keeps
    /// its answer when `keep` says it is final). Returns the serialized response.
    public func run(_ key: Key, fingerprint: [UInt8], keep: @escaping @Sendable ([UInt8]) -> Bool,
             send: @escaping @Sendable () async throws -> [UInt8]) async throws -> [UInt8] {
        let shard = shards[Int(UInt(bitPattern: key.hashValue) % UInt(Self.shardCount))]
        let nowMs = now()
        enum Step { case replay([UInt8]), join(Task<[UInt8], any Error>), reused, lead(Task<[UInt8], any Error>) }
        let step = shard.state.withLock { state -> Step in
            switch state.slots[key] {
            case .done(let stored, let response, let expiresAtMs) where expiresAtMs > nowMs:
                return stored == fingerprint ? .replay(response) : .reused
            case .inFlight(let stored, let task):
                return stored == fingerprint ? .join(task) : .reused
            default:
                let task = Task { try await send() }
                state.slots[key] = .inFlight(fingerprint: fingerprint, task)
                return .lead(task)
            }
        }
        switch step {
        case .replay(let response):
            replays.increment()
            replayCount.add(1, ordering: .relaxed)
            return response
        case .reused:
            throw PayrailError(.idempotencyKeyReused,
                               "idempotency key was already used for a different request; use a new key for a new request",
                               field: "idempotency_key")
        case .join(let task):
            coalesced.increment()
            coalescedCount.add(1, ordering: .relaxed)
            return try await task.value
        case .lead(let task):
            let result = await task.result
            shard.state.withLock { state in
                if case .success(let response) = result, keep(response) {
                    state.slots[key] = .done(fingerprint: fingerprint, response: response, expiresAtMs: now() + retention.load(ordering: .relaxed))
                    state.order.append(key)
                    evict(&state)
                } else {
                    state.slots[key] = nil
                }
            }
            return try result.get()
        }
    }

    /// Drops expired answers, then the oldest ones beyond the bound.
    private func evict(_ state: inout State) {
        let nowMs = now()
        while state.orderHead < state.order.count {
            let oldest = state.order[state.orderHead]
            guard case .done(_, _, let expiresAtMs) = state.slots[oldest] else {
                state.orderHead += 1 // replaced by a newer attempt meanwhile
                continue
            }
            guard expiresAtMs <= nowMs || state.order.count - state.orderHead > maxEntriesPerShard else { break }
            state.slots[oldest] = nil
            state.orderHead += 1
        }
        if state.orderHead > 1_024 && state.orderHead * 2 > state.order.count {
            state.order.removeFirst(state.orderHead)
            state.orderHead = 0
        }
    }

    /// Answers served from the cache and duplicates that joined a request in flight.
    public var statistics: (replays: Int, coalesced: Int) {
        (replayCount.load(ordering: .relaxed), coalescedCount.load(ordering: .relaxed))
    }

    /// Finished answers held, for tests of the bound.
    var entries: Int { shards.reduce(0) { $0 + $1.state.withLock { $0.slots.count } } }
}
