import PayrailDomain
import PayrailStore

/// Re-checks the ledger's invariants over every transaction: each balances per currency
/// (checked again as it is decoded), ids are unique, the whole ledger sums to zero per
/// currency, every stored account balance equals the sum of its entries, no payment's hold is
/// released beyond what it held, and no pending or
/// authorization account crosses to the wrong side. `payrail ledger verify` runs it and exits
/// non-zero on any violation; every violation names the ids involved.
public struct LedgerVerifier: Sendable {
    public struct Report: Sendable, CustomStringConvertible {
        public var transactions = 0
        public var entries = 0
        public var totalsByCurrency: [String: Int64] = [:]
        public var problems: [String] = []
        public var isValid: Bool { problems.isEmpty }

        public var description: String {
            var lines = ["ledger: \(transactions) transactions, \(entries) entries"]
            for (currency, total) in totalsByCurrency.sorted(by: { $0.key < $1.key }) {
                lines.append("  \(currency): sum of all entries = \(total)")
            }
            lines.append(problems.isEmpty ? "OK: every transaction balances in every currency" : "FAILED:")
            lines += problems.prefix(50).map { "  - \($0)" }
            return lines.joined(separator: "\n")
        }
    }

    private let store: any PaymentStore
    public init(store: any PaymentStore) { self.store = store }

    public func verify() async throws -> Report {
        try await store.read { tx in
            var report = Report()
            var seen = Set<String>()
            // Per payment, the sum of its entries on merchant pending accounts: the hold still
            // outstanding. Debits release it; more debits than credits release what was never held.
            var holdByPayment: [String: Int64] = [:]
            var accountSums: [LedgerAccount: Int64] = [:]
            do {
                try await tx.forEachLedgerTransaction { transaction in
                    report.transactions += 1
                    report.entries += transaction.entries.count
                    if !seen.insert(transaction.id).inserted { report.problems.append("duplicate transaction id \(transaction.id)") }
                    for entry in transaction.entries {
                        let (sum, overflow) = report.totalsByCurrency[entry.account.currency.code, default: 0].addingReportingOverflow(entry.amountMinor)
                        if overflow { report.problems.append("overflow summing \(entry.account.currency.code) at \(transaction.id)") }
                        report.totalsByCurrency[entry.account.currency.code] = sum
                        accountSums[entry.account, default: 0] &+= entry.amountMinor
                        if entry.account.kind == .merchantPending {
                            holdByPayment[transaction.resourceID, default: 0] &+= entry.amountMinor
                            if holdByPayment[transaction.resourceID]! > 0 {
                                report.problems.append("payment \(transaction.resourceID): \(transaction.id) releases more than the payment held")
                            }
                        }
                    }
                }
            } catch let error as StoreError {
                report.problems.append("\(error)")
            }
            for (currency, total) in report.totalsByCurrency.sorted(by: { $0.key < $1.key }) where total != 0 {
                report.problems.append("\(currency) entries sum to \(total), not zero")
            }
            for orphan in try await tx.orphanLedgerEntries(limit: 50) {
                report.problems.append("ledger entry \(orphan.entryID) references missing transaction \(orphan.transactionID)")
            }
            // Stored balances must equal the sum of each account's entries.
            let stored = try await tx.accountBalances(keyPrefix: "")
            for (account, sum) in accountSums where stored[account.key] != sum {
                report.problems.append("\(account.key): stored balance \(stored[account.key].map(String.init) ?? "missing") but entries sum to \(sum)")
            }
            let keysWithEntries = Set(accountSums.keys.map(\.key))
            for (key, balance) in stored where !keysWithEntries.contains(key) && balance != 0 {
                report.problems.append("\(key): stored balance \(balance) but the account has no entries")
            }
            for (account, sum) in accountSums.sorted(by: { $0.key < $1.key }) {
                if account.kind == .merchantPending && sum > 0 {
                    report.problems.append("\(account.key) is \(sum): released more than was ever held")
                }
                if account.kind == .processorAuthorizations && sum < 0 {
                    report.problems.append("\(account.key) is \(sum): more authorizations released than granted")
                }
            }
            return report
        }
    }
}
