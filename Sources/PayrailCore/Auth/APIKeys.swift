import Crypto
import PayrailDomain
import PayrailRuntime
import PayrailStore

/// Creates merchants and keys, and checks presented keys.
public struct APIKeyService: Sendable {
    private let store: any PaymentStore
    private let ids: IdentifierGenerator
    private let now: @Sendable () -> Int64

    public init(store: any PaymentStore, ids: IdentifierGenerator = .system, now: @escaping @Sendable () -> Int64) {
        self.store = store
        self.ids = ids
        self.now = now
    }

    /// Creates a merchant with one API key; the returned key is shown once and never stored.
    public func createMerchant(name: String, livemode: Bool = false, settlementCurrency: Currency? = nil) async throws -> (merchantID: String, apiKey: String) {
        let merchant = MerchantRecord(id: ids.make("acct"), name: name, createdAtMs: now(), settlementCurrency: settlementCurrency)
        try await store.write { tx in try await tx.insertMerchant(merchant) }
        let key = try await createKey(merchantID: merchant.id, livemode: livemode)
        return (merchant.id, key)
    }

    public func createKey(merchantID: String, livemode: Bool) async throws -> String {
        let idPart = String(ids.make("x").dropFirst(2))
        // 26 + 6 base32 characters: 160 random bits.
        let secretPart = String(ids.make("x").dropFirst(2)) + String(ids.make("x").dropFirst(2).prefix(APIKeyFormat.secretLength - 26))
        let presented = (livemode ? "sk_live_" : "sk_test_") + idPart + secretPart
        guard let parsed = APIKeyFormat.parse(presented) else { preconditionFailure("generated key does not parse") }
        let record = APIKeyRecord(id: parsed.keyID, merchantID: merchantID, secretSHA256: parsed.secretSHA256, livemode: livemode, createdAtMs: now())
        try await store.write { tx in try await tx.insertAPIKey(record) }
        return presented
    }

    /// The caller a key belongs to, or an `invalid_api_key` error that does not say which
    /// part was wrong.
    public func authenticate(keyID: String, secretSHA256: [UInt8]) async throws -> CallerContext {
        let refused = PayrailError(.authenticationFailed, "invalid API key")
        guard keyID.hasPrefix("key_"), keyID.utf8.count <= RequestLimits.identifierLengthMax, secretSHA256.count == 32 else { throw refused }
        guard let record = try await store.read({ try await $0.apiKey(id: keyID) }), record.revokedAtMs == nil,
              APIKeyFormat.constantTimeEqual(record.secretSHA256, secretSHA256) else { throw refused }
        return CallerContext(merchantID: record.merchantID, livemode: record.livemode)
    }
}
