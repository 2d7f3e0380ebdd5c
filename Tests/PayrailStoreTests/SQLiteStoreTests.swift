import Foundation
import PayrailDomain
import PayrailStore
import SQLiteNIO
import Testing

/// What is particular to the embedded store's connection handling.
@Suite struct SQLiteStoreTests {
    /// Thousands of commits while readers keep reading: the WAL must restart from its beginning
    /// now and then, so its file stays near the automatic checkpoint's size. (Checkpoints taken
    /// only beside a busy writer never let it restart: it grew to gigabytes under load.)
    @Test func theWALStaysBoundedUnderContinuousWritesAndReads() async throws {
        let path = StoreFixture.temporarySQLitePath("wal")
        defer { StoreFixture.removeSQLiteFiles(at: path) }
        let store = try await SQLiteStore.open(path: path)
        let merchant = LedgerAccount.merchantAvailable("acct_wal", livemode: false, .usd)
        let processor = LedgerAccount.processorReceivable("cardsim", livemode: false, .usd)
        let commits = 3_000
        try await withThrowingTaskGroup(of: Void.self) { group in
            let done = Atomic(false)
            for _ in 0..<2 {
                group.addTask {
                    while !done.value {
                        _ = try await store.read { try await $0.accountBalances(keyPrefix: "merchant:acct_wal:") }
                    }
                }
            }
            group.addTask {
                defer { done.value = true }
                for index in 0..<commits {
                    let transaction = try LedgerTransaction(id: "ltx_\(index)", kind: .capture, resourceID: "pay_\(index)",
                                                            entries: [.debit(processor, 100), .credit(merchant, 100)], createdAtMs: Int64(index))
                    try await store.write { try await $0.appendLedgerTransaction(transaction) }
                }
            }
            try await group.waitForAll()
        }
        let walBytes = (try FileManager.default.attributesOfItem(atPath: path + "-wal")[.size] as? NSNumber)?.intValue ?? 0
        #expect(walBytes < 16 << 20, "the WAL file grew to \(walBytes) bytes over \(commits) commits")
        let balances = try await store.read { try await $0.accountBalances(keyPrefix: "merchant:acct_wal:") }
        #expect(balances[merchant.key] == -Int64(commits) * 100, "credits are negative")
        var stored = 0
        try await store.read { try await $0.forEachLedgerTransaction { _ in stored += 1 } }
        #expect(stored == commits)
        try await store.close()
    }

    /// The partial indexes (payments in flight; cards saved for a customer) serve the queries
    /// that need them: SQLite uses a partial index only when the query's terms imply its
    /// condition, so a query rewritten without them would scan the table.
    @Test func theReconciliationAndErasureQueriesUseTheirPartialIndexes() async throws {
        let path = StoreFixture.temporarySQLitePath("plan")
        defer { StoreFixture.removeSQLiteFiles(at: path) }
        let store = try await SQLiteStore.open(path: path)
        try await store.close()
        let connection = try await SQLiteConnection.open(storage: .file(path: path))
        func plan(_ sql: String, _ binds: [SQLiteData] = []) async throws -> String {
            do {
                return try await connection.query("EXPLAIN QUERY PLAN " + sql, binds).compactMap { $0.column("detail")?.string }.joined(separator: "; ")
            } catch {
                try? await connection.close()
                throw error
            }
        }
        _ = try await plan("SELECT 1") // the connection works before the vault is attached
        _ = try await connection.query("ATTACH DATABASE ? AS vault", [.text(SQLiteStore.vaultPath(for: path))])
        let sweep = try await plan("""
            SELECT * FROM payments WHERE status = ? AND status IN ('processing', 'requires_action')
            AND updated_at_ms < ? AND processor_reference IS NULL ORDER BY updated_at_ms, id LIMIT ?
            """, [.text("processing"), .integer(5), .integer(10)])
        #expect(sweep.contains("payments_in_flight"), "\(sweep)")
        let erase = try await plan("""
            UPDATE vault.cards SET wrapped_data_key = X'', erased_at_ms = ?
            WHERE merchant_id = ? AND customer_ref = ? AND erased_at_ms IS NULL RETURNING token
            """, [.integer(1), .text("acct_1"), .text("cus_1")])
        #expect(erase.contains("cards_by_customer"), "\(erase)")
        try await connection.close()
    }
}

/// A flag shared between test tasks.
private final class Atomic: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: Bool
    init(_ value: Bool) { stored = value }
    var value: Bool {
        get { lock.withLock { stored } }
        set { lock.withLock { stored = newValue } }
    }
}
