import Logging
import PayrailStore
import ServiceLifecycle
import Synchronization

/// Key rotation's second half: moves cards wrapped under an older KEK to the current one, in
/// small batches, each card by a conditional update (two rewrappers never fight: the second
/// finds the version moved). Both versions open cards during the move. Re-reads the key
/// provider each round, so a rotation done by `payrail vault rotate-key` is picked up.
public final class VaultRewrapper: Service, Sendable {
    private let store: any VaultStore
    private let vault: CardVault
    private let interval: Duration
    private let batchSize: Int
    private let logger: Logger
    private let moved = Atomic<Int>(0)

    public init(store: any VaultStore, vault: CardVault, interval: Duration = .seconds(5), batchSize: Int = 200,
                logger: Logger = Logger(label: "payrail.vault")) {
        self.store = store
        self.vault = vault
        self.interval = interval
        self.batchSize = batchSize
        self.logger = logger
    }

    /// Cards rewrapped by this instance since start.
    public var rewrapped: Int { moved.load(ordering: .relaxed) }

    /// One batch: returns how many cards moved (0: nothing left under an old key).
    @discardableResult
    public func round() async throws -> Int {
        try vault.refreshKeys()
        let current = vault.currentKeyVersion
        let cards = try await store.cards(wrappedBelow: current, limit: batchSize)
        guard !cards.isEmpty else { return 0 }
        var updates: [(token: String, wrapped: [UInt8], version: Int, from: Int)] = []
        for card in cards {
            if let (version, wrapped) = try vault.rewrapped(card) {
                updates.append((card.summary.token, wrapped, version, card.keyVersion))
            }
        }
        var done = 0
        for update in updates where try await store.rewrapCard(token: update.token, wrappedDataKey: update.wrapped,
                                                               keyVersion: update.version, fromVersion: update.from) {
            done += 1
            // Counted as each card moves, not at the end of the round: another rewrapper that
            // finds nothing left must already see this one's count.
            moved.add(1, ordering: .relaxed)
        }
        logger.info("vault cards rewrapped", metadata: ["count": "\(done)", "to_version": "\(current)"])
        return done
    }

    /// Rounds until nothing is left under an old key (the `payrail vault rewrap` command).
    public func runToCompletion() async throws -> Int {
        var total = 0
        while true {
            let done = try await round()
            if done == 0 { return total }
            total += done
        }
    }

    public func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                do {
                    while try await self.round() == self.batchSize {}
                } catch {
                    self.logger.warning("vault rewrap round failed", metadata: ["error_type": "\(type(of: error))"])
                }
                try? await Task.sleep(for: self.interval)
            }
        }
    }
}
