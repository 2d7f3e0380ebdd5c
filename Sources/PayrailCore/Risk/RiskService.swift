import Logging
import PayrailDomain
import PayrailStore
import Synchronization

/// The fraud check in the payment path: gathers signals (the request's buyer context, the card,
/// this node's velocity counters, the merchant's usual amount, its block and allow lists), asks
/// the pure ``RiskEngine``, and records each new payment so later ones see it. Counters live in
/// memory per core node, bounded, and are rebuilt from the last 24 h of payments on start
/// (docs/fraud.md describes the limits with several nodes).
public final class RiskService: Sendable {
    public struct Configuration: Sendable {
        public var policy = RiskPolicyParser.defaultPolicy
        public var model = RiskModel.trained
        public var ipCountries = IPCountryTable.shipped
        /// How long a merchant's lists are trusted before they are read again (other nodes
        /// may have changed them; this node's own changes apply at once).
        public var listsTTLMs: Int64 = 5_000
        public init() {}
    }

    /// A card for the check: its fingerprint and issuing country.
    public struct Card: Sendable {
        public let fingerprint: String
        public let country: String
        public init(fingerprint: String, country: String) {
            self.fingerprint = fingerprint
            self.country = country
        }
    }

    private struct Lists {
        var entries: Set<String> = []
        var loadedAtMs: Int64 = 0
    }

    private let store: any PaymentStore
    private let policyInForce: Mutex<RiskPolicy>
    private let model: RiskModel
    private let ipCountries: IPCountryTable
    private let listsTTLMs: Int64
    private let counters = VelocityCounters()
    private let usualAmounts = Mutex<[String: Double]>([:])
    private let lists = Mutex<[String: Lists]>([:])
    private let logger: Logger

    public init(store: any PaymentStore, configuration: Configuration = Configuration(), logger: Logger = Logger(label: "payrail.risk")) {
        self.store = store
        self.policyInForce = Mutex(configuration.policy)
        self.model = configuration.model
        self.ipCountries = configuration.ipCountries
        self.listsTTLMs = configuration.listsTTLMs
        self.logger = logger
    }

    public var policy: RiskPolicy { policyInForce.withLock { $0 } }

    /// Replaces the rules (a reloaded rules file); payments already decided keep their verdict.
    public func setPolicy(_ policy: RiskPolicy) {
        policyInForce.withLock { $0 = policy }
        logger.notice("fraud rules in force", metadata: ["rules": "\(policy.rules.count)"])
    }

    // MARK: Deciding

    /// The verdict for a payment about to be created.
    public func assess(merchantID: String, livemode: Bool, amount: Money, card: Card, context: RiskContext?, nowMs: Int64) async throws -> RiskDecision {
        let match = try await listMatch(merchantID: merchantID, card: card, context: context, nowMs: nowMs)
        let signals = signals(merchantID: merchantID, livemode: livemode, amount: amount, card: card, context: context, nowMs: nowMs)
        return RiskEngine.decide(signals, policy: policy, model: model, lists: match)
    }

    /// The signals for a payment, from the counters as they are now (before it is recorded).
    func signals(merchantID: String, livemode: Bool, amount: Money, card: Card, context: RiskContext?, nowMs: Int64) -> RiskSignals {
        var signals = RiskSignals()
        signals[.amountMinor] = Double(amount.amountMinor)
        let usual = usualAmounts.withLock { $0[Self.merchantKey(merchantID, livemode, amount.currency)] }
        signals[.amountRatio] = usual.map { Double(amount.amountMinor) / max($0, 1) } ?? 1
        let minuteAgo = nowMs - VelocityCounters.minute, hourAgo = nowMs - VelocityCounters.hour, dayAgo = nowMs - VelocityCounters.day
        let cardWindow = counters.window(Self.key("card", merchantID, card.fingerprint))
        signals[.cardCount1m] = Double(cardWindow.count(since: minuteAgo))
        signals[.cardCount1h] = Double(cardWindow.count(since: hourAgo))
        signals[.cardCount24h] = Double(cardWindow.count(since: dayAgo))
        signals[.firstSeenCard] = cardWindow.count(since: dayAgo) == 0 ? 1 : 0
        signals[.merchantCount1m] = Double(counters.window(Self.key("merchant", merchantID, livemode ? "live" : "test")).count(since: minuteAgo))
        if let ip = context?.clientIP {
            let window = counters.window(Self.key("ip", merchantID, ip))
            signals[.ipCount1m] = Double(window.count(since: minuteAgo))
            signals[.ipCount1h] = Double(window.count(since: hourAgo))
            signals[.ipDistinctCards1h] = Double(window.distinctCards(since: hourAgo))
            signals[.ipDeclines1h] = Double(window.declineCount(since: hourAgo))
            if let ipCountry = ipCountries.country(of: ip), !card.country.isEmpty, ipCountry != card.country {
                signals[.ipCountryMismatch] = 1
            }
        }
        if let device = context?.deviceID {
            let window = counters.window(Self.key("device", merchantID, device))
            signals[.deviceCount1h] = Double(window.count(since: hourAgo))
            signals[.deviceDistinctCards24h] = Double(window.distinctCards(since: dayAgo))
        }
        if let email = context?.emailHash {
            let window = counters.window(Self.key("email", merchantID, email))
            signals[.emailCount24h] = Double(window.count(since: dayAgo))
            signals[.emailDistinctCards24h] = Double(window.distinctCards(since: dayAgo))
        }
        if let billing = context?.billingCountry, !card.country.isEmpty, billing != card.country { signals[.billingCountryMismatch] = 1 }
        return signals
    }

    // MARK: Recording

    /// Counts a created payment in every window it belongs to, and its amount in the
    /// merchant's usual amount.
    public func record(_ payment: Payment) {
        let card = Self.cardHash(payment.instrumentFingerprint)
        let at = payment.createdAtMs
        let declined = payment.status == .failed
        counters.record(Self.key("card", payment.merchantID, payment.instrumentFingerprint), card: card, atMs: at, declined: declined)
        counters.record(Self.key("merchant", payment.merchantID, payment.livemode ? "live" : "test"), card: card, atMs: at, declined: declined)
        if let ip = payment.riskContext?.clientIP { counters.record(Self.key("ip", payment.merchantID, ip), card: card, atMs: at, declined: declined) }
        if let device = payment.riskContext?.deviceID {
            counters.record(Self.key("device", payment.merchantID, device), card: card, atMs: at, declined: declined)
        }
        if let email = payment.riskContext?.emailHash {
            counters.record(Self.key("email", payment.merchantID, email), card: card, atMs: at, declined: declined)
        }
        let key = Self.merchantKey(payment.merchantID, payment.livemode, payment.amount.currency)
        let amount = Double(payment.amount.amountMinor)
        usualAmounts.withLock { usual in
            usual[key] = usual[key].map { 0.98 * $0 + 0.02 * amount } ?? amount
            if usual.count > 1_000_000 { usual.removeAll() }
        }
    }

    /// Counts a decline that happened after the payment was recorded (the processor's answer).
    public func recordDecline(_ payment: Payment, atMs: Int64) {
        if let ip = payment.riskContext?.clientIP { counters.recordDecline(Self.key("ip", payment.merchantID, ip), atMs: atMs) }
    }

    /// Rebuilds the counters from the payments of the last 24 hours (after a restart).
    public func rebuild(nowMs: Int64) async throws {
        var since = nowMs - VelocityCounters.day
        var total = 0
        while true {
            let page = try await store.read { try await $0.paymentsCreated(sinceMs: since, limit: 5_000) }
            for payment in page where payment.createdAtMs >= since {
                record(payment)
                // A decline whose processor answer came later is counted the same way.
                total += 1
            }
            guard page.count == 5_000, let last = page.last else { break }
            since = last.createdAtMs + 1
        }
        logger.info("fraud counters rebuilt", metadata: ["payments": "\(total)", "keys": "\(counters.keyCount)"])
    }

    public var counterKeys: Int { counters.keyCount }

    // MARK: Lists

    public func addListEntry(_ entry: RiskListEntry) async throws -> RiskListEntry {
        let inserted = try await store.write { try await $0.insertRiskListEntry(entry) }
        lists.withLock { $0[entry.merchantID] = nil }
        if !inserted {
            return try await store.read { try await $0.riskListEntries(merchantID: entry.merchantID) }
                .first { $0.list == entry.list && $0.kind == entry.kind && $0.value == entry.value } ?? entry
        }
        return entry
    }

    public func removeListEntry(merchantID: String, list: RiskListEntry.List, kind: RiskListEntry.Kind, value: String) async throws -> Bool {
        let removed = try await store.write { try await $0.deleteRiskListEntry(merchantID: merchantID, list: list, kind: kind, value: value) }
        lists.withLock { $0[merchantID] = nil }
        return removed
    }

    public func listEntries(merchantID: String) async throws -> [RiskListEntry] {
        try await store.read { try await $0.riskListEntries(merchantID: merchantID) }
    }

    private func listMatch(merchantID: String, card: Card, context: RiskContext?, nowMs: Int64) async throws -> RiskListMatch {
        var cached = lists.withLock { $0[merchantID] }
        if cached == nil || cached!.loadedAtMs + listsTTLMs < nowMs {
            let entries = try await store.read { try await $0.riskListEntries(merchantID: merchantID) }
            let loaded = Lists(entries: Set(entries.map { "\($0.list.rawValue)|\($0.kind.rawValue)|\($0.value)" }), loadedAtMs: nowMs)
            lists.withLock { all in
                if all.count > 100_000 { all.removeAll() }
                all[merchantID] = loaded
            }
            cached = loaded
        }
        guard let entries = cached?.entries, !entries.isEmpty else { return RiskListMatch() }
        var match = RiskListMatch()
        let values: [(RiskListEntry.Kind, String?)] = [(.card, card.fingerprint), (.ip, context?.clientIP), (.device, context?.deviceID),
                                                       (.email, context?.emailHash)]
        for (kind, value) in values {
            guard let value else { continue }
            if entries.contains("block|\(kind.rawValue)|\(value)") { match.blocked.append(kind.rawValue) }
            if entries.contains("allow|\(kind.rawValue)|\(value)") { match.allowed.append(kind.rawValue) }
        }
        return match
    }

    // MARK: Keys

    private static func key(_ dimension: String, _ merchantID: String, _ value: String) -> String { "\(dimension)|\(merchantID)|\(value)" }
    private static func merchantKey(_ merchantID: String, _ livemode: Bool, _ currency: Currency) -> String {
        "\(merchantID)|\(livemode)|\(currency.code)"
    }

    /// FNV-1a of the fingerprint: a stable small id for "distinct cards".
    static func cardHash(_ fingerprint: String) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in fingerprint.utf8 {
            hash ^= UInt64(byte)
            hash &*= 0x100_0000_01b3
        }
        return hash
    }
}
