import Synchronization

/// Recent activity per key (card fingerprint, IP, device, email hash, merchant), kept in memory
/// by each core node for the fraud check's sliding windows (1 min, 1 h, 24 h). Bounded: at
/// most `eventsPerKey` events and `cardsPerKey` distinct cards per key, at most `keysPerShard`
/// keys per shard (the least recently used half is dropped when full), and nothing older than
/// 24 h survives a prune. Sharded so concurrent payments rarely meet on one lock.
final class VelocityCounters: Sendable {
    static let day: Int64 = 86_400_000
    static let hour: Int64 = 3_600_000
    static let minute: Int64 = 60_000

    struct Window {
        /// Event times, oldest first.
        var times: [Int64] = []
        /// Declined event times, oldest first.
        var declines: [Int64] = []
        /// Distinct cards: card hash and the last time seen.
        var cards: [(card: UInt64, atMs: Int64)] = []
        var lastMs: Int64 = 0

        func count(since: Int64) -> Int {
            var n = 0
            for time in times.reversed() { if time > since { n += 1 } else { break } }
            return n
        }
        func declineCount(since: Int64) -> Int {
            var n = 0
            for time in declines.reversed() { if time > since { n += 1 } else { break } }
            return n
        }
        func distinctCards(since: Int64) -> Int { cards.reduce(0) { $0 + ($1.atMs > since ? 1 : 0) } }
    }


    private final class Shard: Sendable {
        let windows = Mutex<[String: Window]>([:])
    }

    private let shards: [Shard]
    let eventsPerKey: Int
    let cardsPerKey: Int
    let keysPerShard: Int

    init(shards: Int = 16, eventsPerKey: Int = 256, cardsPerKey: Int = 64, keysPerShard: Int = 50_000) {
        self.shards = (0..<shards).map { _ in Shard() }
        self.eventsPerKey = eventsPerKey
        self.cardsPerKey = cardsPerKey
        self.keysPerShard = keysPerShard
    }

    private func shard(_ key: String) -> Shard {
        var hasher = Hasher()
        hasher.combine(key)
        return shards[Int(UInt(bitPattern: hasher.finalize()) % UInt(shards.count))]
    }

    /// The key's window as it is now (a copy; empty if unknown).
    func window(_ key: String) -> Window {
        shard(key).windows.withLock { $0[key] } ?? Window()
    }

    /// Records an event for `key` at `atMs` with this card (and whether it was declined).
    func record(_ key: String, card: UInt64, atMs: Int64, declined: Bool) {
        let eventsMax = eventsPerKey, cardsMax = cardsPerKey, keysMax = keysPerShard
        shard(key).windows.withLock { windows in
            if windows[key] == nil && windows.count >= keysMax {
                // Full: keep the most recently active half.
                let keep = windows.sorted { $0.value.lastMs > $1.value.lastMs }.prefix(keysMax / 2)
                windows = Dictionary(uniqueKeysWithValues: keep.map { ($0.key, $0.value) })
            }
            var window = windows[key] ?? Window()
            let cutoff = atMs - Self.day
            window.times.removeAll { $0 <= cutoff }
            window.declines.removeAll { $0 <= cutoff }
            window.cards.removeAll { $0.atMs <= cutoff }
            // Keep times ordered even if a late event arrives slightly out of order.
            let position = window.times.lastIndex { $0 <= atMs }.map { $0 + 1 } ?? 0
            window.times.insert(atMs, at: position)
            if window.times.count > eventsMax { window.times.removeFirst(window.times.count - eventsMax) }
            if declined {
                let at = window.declines.lastIndex { $0 <= atMs }.map { $0 + 1 } ?? 0
                window.declines.insert(atMs, at: at)
                if window.declines.count > eventsMax { window.declines.removeFirst(window.declines.count - eventsMax) }
            }
            if let index = window.cards.firstIndex(where: { $0.card == card }) {
                window.cards[index].atMs = max(window.cards[index].atMs, atMs)
            } else {
                window.cards.append((card, atMs))
                if window.cards.count > cardsMax {
                    window.cards.sort { $0.atMs > $1.atMs }
                    window.cards.removeLast(window.cards.count - cardsMax)
                }
            }
            window.lastMs = max(window.lastMs, atMs)
            windows[key] = window
        }
    }

    /// Marks the newest event of `key` at `atMs` as declined (the outcome arrives after the
    /// attempt was counted).
    func recordDecline(_ key: String, atMs: Int64) {
        shard(key).windows.withLock { windows in
            guard var window = windows[key] else { return }
            window.declines.append(atMs)
            if window.declines.count > eventsPerKey { window.declines.removeFirst() }
            windows[key] = window
        }
    }

    /// Keys held, over all shards (for metrics and tests).
    var keyCount: Int { shards.reduce(0) { total, shard in total + shard.windows.withLock { $0.count } } }
}
