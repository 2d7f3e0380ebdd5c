import Crypto
import PayrailDomain
import PayrailStore

/// Tokenizes cards with envelope encryption: each PAN is sealed with AES-256-GCM under its
/// own random data key, with the token as associated data (a ciphertext cannot be moved to
/// another token); the data key is wrapped by the key provider's KEK. The CVC is never
/// stored. Only ``reveal(_:)`` gives the PAN back, for the connector call.
public struct CardVault: Sendable {
    private let keys: any KeyProvider
    private let ids: IdentifierGenerator

    public init(keys: any KeyProvider, ids: IdentifierGenerator) {
        self.keys = keys
        self.ids = ids
    }

    /// Keyed HMAC-SHA256 of the PAN, hex: the same card gives the same fingerprint.
    public func fingerprint(of number: CardNumber) -> String {
        fingerprint(ofAccount: number.revealDigits())
    }

    /// Keyed HMAC-SHA256 of any account identifier (a bank account, an IBAN, a VPA), hex.
    public func fingerprint(ofAccount identifier: String) -> String {
        let mac = HMAC<SHA256>.authenticationCode(for: Array(identifier.utf8), using: keys.fingerprintKey)
        // The first 16 bytes as 32 lowercase hex digits, written straight into the string's
        // storage: this runs twice per card payment, and a string per byte cost 17 allocations.
        return String(unsafeUninitializedCapacity: 2 * Self.fingerprintBytes) { digits in
            var count = 0
            for byte in mac.prefix(Self.fingerprintBytes) {
                digits[count] = Self.hexDigits[Int(byte >> 4)]
                digits[count + 1] = Self.hexDigits[Int(byte & 15)]
                count += 2
            }
            return count
        }
    }

    /// How much of the HMAC a fingerprint keeps (128 bits: collisions stay out of reach).
    private static let fingerprintBytes = 16
    private static let hexDigits: [UInt8] = Array("0123456789abcdef".utf8)

    /// Encrypts the card into a vault record under a new token (or `token`, to seal a card again
    /// for a payment that already holds one). Nothing is written here.
    public func seal(_ card: CardInput, merchantID: String, customerRef: String? = nil, token: String? = nil,
                     nowMs: Int64) throws -> VaultedCardRecord {
        let token = token ?? ids.make("tok")
        let associatedData = Array(token.utf8)
        let dataKey = SymmetricKey(size: .bits256)
        let sealed = try AES.GCM.seal(Array(card.number.revealDigits().utf8), using: dataKey, authenticating: associatedData)
        guard let combined = sealed.combined else { throw VaultError.encryptionFailed }
        let (version, wrapped) = try keys.wrap(dataKey: dataKey, associatedData: associatedData)
        let summary = CardSummary(token: token, brand: card.number.brand, last4: card.number.last4,
                                  expMonth: card.expiry.month, expYear: card.expiry.year,
                                  fingerprint: fingerprint(of: card.number), country: card.number.issuingCountry)
        return VaultedCardRecord(summary: summary, merchantID: merchantID, sealedPAN: Array(combined),
                                 wrappedDataKey: wrapped, keyVersion: version, createdAtMs: nowMs, customerRef: customerRef)
    }

    /// Decrypts a vaulted PAN. Fails if the ciphertext, the wrapped key or the token was
    /// tampered with.
    public func reveal(_ record: VaultedCardRecord) throws -> CardNumber {
        guard record.erasedAtMs == nil else { throw VaultError.erased }
        let associatedData = Array(record.summary.token.utf8)
        do {
            let dataKey = try keys.unwrap(record.wrappedDataKey, version: record.keyVersion, associatedData: associatedData)
            let digits = try AES.GCM.open(try AES.GCM.SealedBox(combined: record.sealedPAN), using: dataKey, authenticating: associatedData)
            return try CardNumber(String(decoding: digits, as: UTF8.self))
        } catch {
            throw VaultError.decryptionFailed
        }
    }

    /// The card's data key wrapped again under the current KEK (key rotation); the sealed PAN
    /// does not change. Nil if it already is, or the card was erased.
    public func rewrapped(_ record: VaultedCardRecord) throws -> (version: Int, wrapped: [UInt8])? {
        guard record.erasedAtMs == nil, record.keyVersion < keys.currentVersion else { return nil }
        let associatedData = Array(record.summary.token.utf8)
        let dataKey = try keys.unwrap(record.wrappedDataKey, version: record.keyVersion, associatedData: associatedData)
        return try keys.wrap(dataKey: dataKey, associatedData: associatedData)
    }

    /// The key provider's current KEK version (new cards are wrapped under it).
    public var currentKeyVersion: Int { keys.currentVersion }

    /// Re-reads the key provider (a rotation done by another process).
    public func refreshKeys() throws { try keys.refresh() }
}

public enum VaultError: Error, Hashable, Sendable {
    case encryptionFailed
    case decryptionFailed
    /// The card was erased (crypto-shredded): its PAN can never be read again.
    case erased
}

extension VaultError {
    /// The typed API error for a card that cannot be used.
    public var payrailError: PayrailError {
        switch self {
        case .erased: PayrailError(PayrailError.Code("card_erased", .failedPrecondition),
                                   "this card was erased at the cardholder's request and cannot be charged", field: "card_token")
        case .encryptionFailed, .decryptionFailed: PayrailError(.internalError, "internal error")
        }
    }
}
