import PayrailDomain

/// Where vaulted cards and the detokenization log live: a store of their own, apart from
/// payments. On PostgreSQL it is the `vault` schema, owned by its own role and reached with
/// its own credentials, so the payments role cannot read a sealed PAN even by mistake; on the
/// embedded default it is a database file of its own beside the payments file. Every method
/// commits on its own before it returns.
public protocol VaultStore: Sendable {
    /// Stores a card. Storing the same token again does nothing (a resumed payment seals its
    /// card under the token it already claimed).
    func insertCard(_ card: VaultedCardRecord) async throws
    /// Stores a card inside a payments-store transaction when the vault can join it (the
    /// embedded store, whose vault file is attached to the same connection): one commit for
    /// the payment's claim and its card. False when the vault commits on its own (PostgreSQL:
    /// another schema, another role); the caller then uses ``insertCard(_:)``.
    func insertCard(_ card: VaultedCardRecord, joining transaction: any StoreTransaction) async throws -> Bool
    func card(token: String) async throws -> VaultedCardRecord?
    /// Cards wrapped under a KEK version older than `version` (and not erased), oldest first.
    func cards(wrappedBelow version: Int, limit: Int) async throws -> [VaultedCardRecord]
    /// Replaces a card's wrapped data key if it is still under `fromVersion`; false otherwise.
    func rewrapCard(token: String, wrappedDataKey: [UInt8], keyVersion: Int, fromVersion: Int) async throws -> Bool
    /// Crypto-shreds the merchant's cards of one customer: their wrapped data keys are
    /// destroyed. Returns how many cards were erased.
    func eraseCards(merchantID: String, customerRef: String, atMs: Int64) async throws -> Int
    /// Appends to the access log (append-only: the schema refuses updates and deletes).
    func appendAccess(_ access: VaultAccess) async throws
    /// Newest first.
    func accesses(token: String, limit: Int) async throws -> [VaultAccess]
    func close() async throws
}

/// A region's view of the vault: card reads go to the region's read replica (a streaming
/// standby of the vault's primary) and fall back to the primary when the replica does not
/// have the card yet (created moments ago in another region, still in replication flight);
/// every write goes to the primary. A token created in any region is usable in every region.
public final class RegionalVaultStore: VaultStore {
    public let primary: any VaultStore
    public let replica: any VaultStore
    private let replicaHits = AtomicCounter()
    private let primaryFallbacks = AtomicCounter()

    public init(primary: any VaultStore, replica: any VaultStore) {
        self.primary = primary
        self.replica = replica
    }

    /// Card reads answered by the replica, and those that had to ask the primary.
    public var statistics: (replicaHits: Int, primaryFallbacks: Int) { (replicaHits.current, primaryFallbacks.current) }

    public func card(token: String) async throws -> VaultedCardRecord? {
        // An unreachable replica must not stop payments: the primary answers instead.
        if let card = try? await replica.card(token: token) {
            _ = replicaHits.next()
            return card
        }
        _ = primaryFallbacks.next()
        return try await primary.card(token: token)
    }

    public func insertCard(_ card: VaultedCardRecord) async throws { try await primary.insertCard(card) }
    public func insertCard(_ card: VaultedCardRecord, joining transaction: any StoreTransaction) async throws -> Bool {
        try await primary.insertCard(card, joining: transaction)
    }
    public func cards(wrappedBelow version: Int, limit: Int) async throws -> [VaultedCardRecord] {
        try await primary.cards(wrappedBelow: version, limit: limit)
    }
    public func rewrapCard(token: String, wrappedDataKey: [UInt8], keyVersion: Int, fromVersion: Int) async throws -> Bool {
        try await primary.rewrapCard(token: token, wrappedDataKey: wrappedDataKey, keyVersion: keyVersion, fromVersion: fromVersion)
    }
    public func eraseCards(merchantID: String, customerRef: String, atMs: Int64) async throws -> Int {
        try await primary.eraseCards(merchantID: merchantID, customerRef: customerRef, atMs: atMs)
    }
    public func appendAccess(_ access: VaultAccess) async throws { try await primary.appendAccess(access) }
    public func accesses(token: String, limit: Int) async throws -> [VaultAccess] { try await primary.accesses(token: token, limit: limit) }

    public func close() async throws {
        try await replica.close()
        try await primary.close()
    }
}
