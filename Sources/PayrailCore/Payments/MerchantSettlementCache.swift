import PayrailDomain
import PayrailStore
import Synchronization

/// The settlement currency of each merchant seen, so a payment does not read the merchant's
/// row on every request. Merchant records never change once created (the store has no update
/// for them), so an entry never goes stale; unknown merchants are not cached. Bounded: past
/// `capacity` merchants it starts over.
final class MerchantSettlementCache: Sendable {
    private struct Entry: Sendable { let settlement: Currency? }
    private let entries = Mutex<[String: Entry]>([:])
    private let capacity: Int

    init(capacity: Int = 100_000) { self.capacity = capacity }

    /// The merchant's settlement currency (nil: paid in each payment's currency); nil entry
    /// when the merchant does not exist.
    func settlementCurrency(merchantID: String, store: any PaymentStore) async throws -> Currency?? {
        if let entry = entries.withLock({ $0[merchantID] }) { return .some(entry.settlement) }
        guard let merchant = try await store.read({ try await $0.merchant(id: merchantID) }) else { return .none }
        entries.withLock { entries in
            if entries.count >= capacity { entries.removeAll(keepingCapacity: true) }
            entries[merchantID] = Entry(settlement: merchant.settlementCurrency)
        }
        return .some(merchant.settlementCurrency)
    }
}
