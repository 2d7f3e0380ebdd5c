import PayrailDomain

/// The net change per account of a set of ledger entries: what a store adds to each
/// account's stored balance, once per account, in account key order (the lock order).
public struct BalanceDeltas: Sendable {
    public struct Delta: Sendable {
        public let account: String
        public let currency: String
        public var amountMinor: Int64
        public var entryCount: Int
    }

    private var byAccount: [String: Delta] = [:]

    public init() {}

    public init(_ entries: some Sequence<LedgerEntry>) {
        add(entries)
    }

    public var isEmpty: Bool { byAccount.isEmpty }

    /// The deltas in account key order: the order in which a writer locks balance rows, so two
    /// batches updating the same accounts cannot deadlock.
    public var sorted: [Delta] { byAccount.values.sorted { $0.account < $1.account } }

    public mutating func add(_ entries: some Sequence<LedgerEntry>) {
        for entry in entries {
            byAccount[entry.account.key, default: Delta(account: entry.account.key, currency: entry.account.currency.code,
                                                        amountMinor: 0, entryCount: 0)].amountMinor += entry.amountMinor
            byAccount[entry.account.key]!.entryCount += 1
        }
    }

    public mutating func merge(_ other: BalanceDeltas) {
        for (account, delta) in other.byAccount {
            if var existing = byAccount[account] {
                existing.amountMinor += delta.amountMinor
                existing.entryCount += delta.entryCount
                byAccount[account] = existing
            } else {
                byAccount[account] = delta
            }
        }
    }

    /// Net change of each account whose key starts with `prefix`.
    func amounts(keyPrefix prefix: String) -> [String: Int64] {
        var amounts: [String: Int64] = [:]
        for (account, delta) in byAccount where account.hasPrefix(prefix) { amounts[account] = delta.amountMinor }
        return amounts
    }
}
