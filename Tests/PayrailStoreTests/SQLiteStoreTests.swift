import Foundation
import PayrailDomain
import PayrailStore
import Testing

/// What is particular to the embedded store's connection handling.
@Suite struct SQLiteStoreTests {
    /// Thousands of commits while readers keep reading: the WAL must restart from its beginning
    /// now and then, so its file stays near the automatic checkpoint's size. (Checkpoints taken
    /// only beside a busy writer never let it restart: it grew to gigabytes under load.)
    @Test func theWALStaysBoundedUnderContinuousWritesAndReads() async throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("payrail-wal-\(UUID().uuidString).sqlite").path
        defer {
            for file in [path, SQLiteStore.vaultPath(for: path)] {
                for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: file + suffix) }
            }
        }
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
