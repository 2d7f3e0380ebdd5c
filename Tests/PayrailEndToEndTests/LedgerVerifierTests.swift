import Foundation
import PayrailCore
import PayrailDomain
import PayrailStore
import SQLiteNIO
import Testing

/// `payrail ledger verify` finds what the API can never write: an unbalanced transaction
/// slipped in behind the application's back.
@Suite struct LedgerVerifierTests {
    @Test func verifyReportsAnUnbalancedTransaction() async throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("payrail-verify-\(UUID().uuidString).sqlite").path
        defer { for file in [path, SQLiteStore.vaultPath(for: path)] { for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: file + suffix) } } }
        let store = try await SQLiteStore.open(path: path)
        let a = LedgerAccount.merchantAvailable("acct_1", livemode: false, .usd)
        let b = LedgerAccount.processorReceivable("cardsim", livemode: false, .usd)
        try await store.write { tx in
            try await tx.appendLedgerTransaction(try LedgerTransaction(id: "ltx_ok", kind: .capture, resourceID: "pay_1",
                                                                       entries: [.debit(b, 700), .credit(a, 700)], createdAtMs: 1))
        }
        let clean = try await LedgerVerifier(store: store).verify()
        #expect(clean.isValid && clean.transactions == 1 && clean.entries == 2)

        // A raw INSERT is not blocked by the append-only triggers, so simulate a buggy writer.
        let raw = try await SQLiteConnection.open(storage: .file(path: path))
        _ = try await raw.query("INSERT INTO ledger_transactions (id, kind, resource_id, created_at_ms) VALUES ('ltx_bad', 'capture', 'pay_2', 2)")
        _ = try await raw.query("INSERT INTO ledger_entries (transaction_id, account, currency, amount_minor) VALUES ('ltx_bad', ?, 'USD', 5)",
                                [.text(b.key)])
        try await raw.close()

        let report = try await LedgerVerifier(store: store).verify()
        #expect(!report.isValid)
        #expect(report.description.contains("FAILED"))
        try await store.close()
    }

    /// Balanced but wrong: a capture that releases a hold the payment never had.
    @Test func verifyReportsAHoldReleasedTwice() async throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("payrail-verify-\(UUID().uuidString).sqlite").path
        defer { for file in [path, SQLiteStore.vaultPath(for: path)] { for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: file + suffix) } } }
        let store = try await SQLiteStore.open(path: path)
        let pending = LedgerAccount.merchantPending("acct_1", livemode: false, .usd)
        let authorizations = LedgerAccount.processorAuthorizations("cardsim", livemode: false, .usd)
        func post(_ id: String, _ entries: [LedgerEntry]) async throws {
            let transaction = try LedgerTransaction(id: id, kind: .void, resourceID: "pay_1", entries: entries, createdAtMs: 1)
            try await store.write { try await $0.appendLedgerTransaction(transaction) }
        }
        try await post("ltx_hold", [.debit(authorizations, 900), .credit(pending, 900)])
        try await post("ltx_void", [.debit(pending, 900), .credit(authorizations, 900)])
        #expect(try await LedgerVerifier(store: store).verify().isValid)
        try await post("ltx_void_again", [.debit(pending, 900), .credit(authorizations, 900)])
        let report = try await LedgerVerifier(store: store).verify()
        #expect(!report.isValid)
        #expect(report.problems.contains { $0.contains("ltx_void_again") && $0.contains("pay_1") })
        #expect(report.problems.contains { $0.contains(pending.key) })
        try await store.close()
    }

    /// A stored balance tampered with behind the store's back no longer matches its entries.
    @Test func verifyReportsATamperedBalance() async throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("payrail-verify-\(UUID().uuidString).sqlite").path
        defer { for file in [path, SQLiteStore.vaultPath(for: path)] { for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: file + suffix) } } }
        let store = try await SQLiteStore.open(path: path)
        let a = LedgerAccount.merchantAvailable("acct_1", livemode: false, .usd)
        let b = LedgerAccount.processorReceivable("cardsim", livemode: false, .usd)
        for index in 0..<3 {
            let transaction = try LedgerTransaction(id: "ltx_\(index)", kind: .capture, resourceID: "pay_\(index)",
                                                    entries: [.debit(b, 250), .credit(a, 250)], createdAtMs: 1)
            try await store.write { try await $0.appendLedgerTransaction(transaction) }
        }
        #expect(try await store.read { try await $0.accountBalances(keyPrefix: "merchant:") } == [a.key: -750])
        #expect(try await LedgerVerifier(store: store).verify().isValid)
        let raw = try await SQLiteConnection.open(storage: .file(path: path))
        _ = try await raw.query("UPDATE account_balances SET balance_minor = balance_minor - 1 WHERE account = ?", [.text(a.key)])
        try await raw.close()
        let report = try await LedgerVerifier(store: store).verify()
        #expect(!report.isValid && report.problems.contains { $0.contains(a.key) && $0.contains("-751") })
        try await store.close()
    }

    /// An entry whose transaction does not exist (only a raw writer with foreign keys off can
    /// make one) is reported by id.
    @Test func verifyReportsAnOrphanEntry() async throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("payrail-verify-\(UUID().uuidString).sqlite").path
        defer { for file in [path, SQLiteStore.vaultPath(for: path)] { for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: file + suffix) } } }
        let store = try await SQLiteStore.open(path: path)
        let raw = try await SQLiteConnection.open(storage: .file(path: path))
        _ = try await raw.query("PRAGMA foreign_keys=OFF")
        _ = try await raw.query("INSERT INTO ledger_entries (transaction_id, account, currency, amount_minor) VALUES ('ltx_ghost', 'merchant:acct_1:test:available:USD', 'USD', 5)")
        try await raw.close()
        let report = try await LedgerVerifier(store: store).verify()
        #expect(!report.isValid && report.problems.contains { $0.contains("ltx_ghost") })
        try await store.close()
    }
}
