/// One line of a ledger transaction: an amount debited (positive) or credited (negative).
public struct LedgerEntry: Hashable, Sendable {
    public let account: LedgerAccount
    public let amountMinor: Int64

    public init(account: LedgerAccount, amountMinor: Int64) {
        self.account = account
        self.amountMinor = amountMinor
    }

    public static func debit(_ account: LedgerAccount, _ amountMinor: Int64) -> LedgerEntry {
        LedgerEntry(account: account, amountMinor: amountMinor)
    }
    public static func credit(_ account: LedgerAccount, _ amountMinor: Int64) -> LedgerEntry {
        LedgerEntry(account: account, amountMinor: -amountMinor)
    }
}

/// Why a set of entries is not a valid ledger transaction.
public enum LedgerError: Error, Hashable, Sendable {
    case tooFewEntries
    case zeroEntry(account: String)
    case unbalanced(currency: String, sumMinor: Int64)
    case overflow
}

/// The kinds of flows that post to the ledger.
public enum LedgerTransactionKind: String, Hashable, Sendable, CaseIterable {
    case authorization, capture, void, refund, fee
    case disputeOpened = "dispute_opened"
    case disputeWon = "dispute_won"
    case payout
    case payoutPaid = "payout_paid"
    case payoutFailed = "payout_failed"
    case settlement
    case reserveHold = "reserve_hold"
    case reserveRelease = "reserve_release"
}

/// An immutable, balanced set of entries. Construction checks that every currency sums to
/// zero; a `LedgerTransaction` value that exists is balanced. Stores append these and never
/// change them; corrections are new, reversing transactions.
public struct LedgerTransaction: Hashable, Sendable {
    public let id: String
    public let kind: LedgerTransactionKind
    /// The payment the transaction belongs to, or the payout or settlement for flows without one.
    public let resourceID: String
    public let refundID: String?
    public let entries: [LedgerEntry]
    public let createdAtMs: Int64

    public init(id: String, kind: LedgerTransactionKind, resourceID: String, refundID: String? = nil,
                entries: [LedgerEntry], createdAtMs: Int64) throws(LedgerError) {
        try LedgerTransaction.checkBalanced(entries)
        self.id = id
        self.kind = kind
        self.resourceID = resourceID
        self.refundID = refundID
        self.entries = entries
        self.createdAtMs = createdAtMs
    }

    /// Every entry non-zero, at least two entries, and the sum per currency exactly zero
    /// (computed with overflow checks).
    public static func checkBalanced(_ entries: [LedgerEntry]) throws(LedgerError) {
        guard entries.count >= 2 else { throw .tooFewEntries }
        var sums: [Currency: Int64] = [:]
        for entry in entries {
            guard entry.amountMinor != 0 else { throw .zeroEntry(account: entry.account.key) }
            let (sum, overflow) = sums[entry.account.currency, default: 0].addingReportingOverflow(entry.amountMinor)
            guard !overflow else { throw .overflow }
            sums[entry.account.currency] = sum
        }
        for (currency, sum) in sums.sorted(by: { $0.key < $1.key }) where sum != 0 {
            throw .unbalanced(currency: currency.code, sumMinor: sum)
        }
    }
}
