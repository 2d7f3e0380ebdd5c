import PayrailDomain

/// The embedded default's vault: a SQLite file of its own (`payrail.vault.sqlite`), attached to
/// the store's connections as schema `vault`. Writes share the store's group-commit writer,
/// each in its own savepoint, so a card insert costs no commit of its own under load. It
/// lives and dies with its ``SQLiteStore``.
final class SQLiteVaultStore: VaultStore {
    private let store: SQLiteStore

    init(store: SQLiteStore) { self.store = store }

    func insertCard(_ card: VaultedCardRecord) async throws { try await store.vaultWrite { try await $0.insertVaultedCard(card) } }
    func insertCard(_ card: VaultedCardRecord, joining transaction: any StoreTransaction) async throws -> Bool {
        guard let transaction = transaction as? SQLiteTransaction else { return false }
        try await transaction.insertVaultedCard(card)
        return true
    }
    func card(token: String) async throws -> VaultedCardRecord? { try await store.vaultRead { try await $0.vaultedCard(token: token) } }
    func cards(wrappedBelow version: Int, limit: Int) async throws -> [VaultedCardRecord] {
        try await store.vaultRead { try await $0.vaultedCards(wrappedBelow: version, limit: limit) }
    }
    func rewrapCard(token: String, wrappedDataKey: [UInt8], keyVersion: Int, fromVersion: Int) async throws -> Bool {
        try await store.vaultWrite {
            try await $0.rewrapVaultedCard(token: token, wrappedDataKey: wrappedDataKey, keyVersion: keyVersion, fromVersion: fromVersion)
        }
    }
    func eraseCards(merchantID: String, customerRef: String, atMs: Int64) async throws -> Int {
        try await store.vaultWrite { try await $0.eraseVaultedCards(merchantID: merchantID, customerRef: customerRef, atMs: atMs) }
    }
    func appendAccess(_ access: VaultAccess) async throws { try await store.vaultWrite { try await $0.appendVaultAccess(access) } }
    func accesses(token: String, limit: Int) async throws -> [VaultAccess] {
        try await store.vaultRead { try await $0.vaultAccesses(token: token, limit: limit) }
    }
    /// The store owns the connections.
    func close() async throws {}
}
