import PayrailDomain
import PayrailStore

/// Re-checks the ledger's invariants over every transaction: each balances per currency
/// (checked again as it is decoded), ids are unique, and the whole ledger sums to zero per
/// currency. `payrail ledger verify` runs it.
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
            do {
                try await tx.forEachLedgerTransaction { transaction in
                    report.transactions += 1
                    report.entries += transaction.entries.count
                    if !seen.insert(transaction.id).inserted { report.problems.append("duplicate transaction id \(transaction.id)") }
                    for entry in transaction.entries {
                        let (sum, overflow) = report.totalsByCurrency[entry.account.currency.code, default: 0].addingReportingOverflow(entry.amountMinor)
                        if overflow { report.problems.append("overflow summing \(entry.account.currency.code)") }
                        report.totalsByCurrency[entry.account.currency.code] = sum
                    }
                }
            } catch let error as StoreError {
                report.problems.append("\(error)")
            }
            for (currency, total) in report.totalsByCurrency where total != 0 {
                report.problems.append("\(currency) entries sum to \(total), not zero")
            }
            return report
        }
    }
}
