import Crypto

/// API keys look like `sk_test_<26 id chars><32 secret chars>`. The id part finds the stored
/// record; only the SHA-256 of the secret is stored and compared (in constant time). Secrets
/// are 160 random bits, so a plain hash is enough: there is nothing to brute-force.
public enum APIKeyFormat {
    public static let idLength = 26
    public static let secretLength = 32

    /// Splits a presented key into (key id, SHA-256 of the secret, livemode), or nil when it
    /// is not shaped like one of our keys.
    public static func parse(_ presented: String) -> (keyID: String, secretSHA256: [UInt8], livemode: Bool)? {
        let livemode: Bool
        if presented.hasPrefix("sk_live_") { livemode = true } else if presented.hasPrefix("sk_test_") { livemode = false } else { return nil }
        let body = presented.utf8.dropFirst(8)
        guard body.count == idLength + secretLength,
              body.allSatisfy({ ($0 >= 0x61 && $0 <= 0x7A) || ($0 >= 0x32 && $0 <= 0x37) }) else { return nil }
        let keyID = "key_" + String(decoding: body.prefix(idLength), as: UTF8.self)
        let secret = Array(body.suffix(secretLength))
        return (keyID, Array(SHA256.hash(data: secret)), livemode)
    }

    /// Equal-length byte comparison whose time does not depend on where the bytes differ.
    public static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        var difference: UInt8 = 0
        for index in a.indices { difference |= a[index] ^ b[index] }
        return difference == 0
    }
}
