import PayrailDomain

/// The net change per account of a set of ledger entries: what a store adds to each
/// account's stored balance, once per account, in account key order (the lock order).
struct BalanceDeltas {
    struct Delta {
        let account: String
        let currency: String
        var amountMinor: Int64
        var entryCount: Int
    }

    let sorted: [Delta]

    init(_ entries: some Sequence<LedgerEntry>) {
        var byAccount: [String: Delta] = [:]
        for entry in entries {
            byAccount[entry.account.key, default: Delta(account: entry.account.key, currency: entry.account.currency.code,
                                                        amountMinor: 0, entryCount: 0)].amountMinor += entry.amountMinor
            byAccount[entry.account.key]!.entryCount += 1
        }
        sorted = byAccount.values.sorted { $0.account < $1.account }
    }
}
