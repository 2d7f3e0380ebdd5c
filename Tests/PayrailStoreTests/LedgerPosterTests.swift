import Foundation
import PayrailDomain
import PayrailStore
import Testing

/// Group commit on PostgreSQL: many postings per transaction, one balance update per account
/// per batch, a refused posting fails alone, and every acknowledged posting is durable.
@Suite struct LedgerPosterTests {
    @Test(.enabled(if: StoreKind.available.contains(.postgres)))
    func postingsShareTransactionsAndAFailingOneFailsAlone() async throws {
        try await StoreFixture.with(.postgres) { store, _ in
            let postgres = try #require(store as? PostgresStore)
            let poster = PostgresLedgerPoster(store: postgres)
            let hot = LedgerAccount.merchantAvailable("acct_hot", livemode: false, .usd)
            let receivable = LedgerAccount.processorReceivable("cardsim", livemode: false, .usd)
            func posting(_ id: String) throws -> LedgerTransaction {
                try LedgerTransaction(id: id, kind: .capture, resourceID: "pay_\(id)", entries: [.debit(receivable, 100), .credit(hot, 100)], createdAtMs: 1)
            }
            try await poster.post(try posting("ltx_dup"))
            let results = try await withThrowingTaskGroup(of: (String, Bool).self) { group in
                for index in 0..<300 {
                    let id = index == 150 ? "ltx_dup" : "ltx_\(index)"
                    let transaction = try posting(id)
                    group.addTask {
                        do {
                            try await poster.post(transaction)
                            return (id, true)
                        } catch {
                            return (id, false)
                        }
                    }
                }
                return try await group.reduce(into: [(String, Bool)]()) { $0.append($1) }
            }
            #expect(results.filter { !$0.1 }.map(\.0) == ["ltx_dup"])
            #expect(poster.batchesCommitted < 150, "postings were not batched: \(poster.batchesCommitted) batches")
            let balances = try await store.read { try await $0.accountBalances(keyPrefix: "merchant:acct_hot:") }
            #expect(balances[hot.key] == -100 * 300)  // 299 new + the first "ltx_dup"
            let count = try await store.read { tx in
                var n = 0
                try await tx.forEachLedgerTransaction { _ in n += 1 }
                return n
            }
            #expect(count == 300)
            await poster.shutdown()
        }
    }
}
