import PayrailDomain

/// The net change per account of a set of ledger entries: what a store adds to each
/// account's stored balance, once per account, in account key order (the lock order).
struct BalanceDeltas: Sendable {
    struct Delta: Sendable {
        let account: String
        let currency: String
        var amountMinor: Int64
        var entryCount: Int
    }

    private var byAccount: [String: Delta] = [:]

    init() {}

    init(_ entries: some Sequence<LedgerEntry>) {
        add(entries)
    }

    var isEmpty: Bool { byAccount.isEmpty }

    /// The deltas in account key order: the order in which a writer locks balance rows, so two
    /// batches updating the same accounts cannot deadlock.
    var sorted: [Delta] { byAccount.values.sorted { $0.account < $1.account } }

    mutating func add(_ entries: some Sequence<LedgerEntry>) {
        for entry in entries {
            byAccount[entry.account.key, default: Delta(account: entry.account.key, currency: entry.account.currency.code,
                                                        amountMinor: 0, entryCount: 0)].amountMinor += entry.amountMinor
            byAccount[entry.account.key]!.entryCount += 1
        }
    }

    mutating func merge(_ other: BalanceDeltas) {
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
