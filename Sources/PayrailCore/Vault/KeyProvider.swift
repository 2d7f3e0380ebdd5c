import Crypto
import Foundation

/// Where key-encryption keys (KEKs) live. The vault never sees a KEK: it hands a data key to
/// `wrap` and gets back opaque bytes. A file keyring serves dev and tests; an HSM, a cloud
/// KMS or HashiCorp Vault's transit engine implement the same three calls.
public protocol KeyProvider: Sendable {
    /// The KEK version new cards are wrapped under.
    var currentVersion: Int { get }
    func wrap(dataKey: SymmetricKey, associatedData: [UInt8]) throws -> (version: Int, wrapped: [UInt8])
    func unwrap(_ wrapped: [UInt8], version: Int, associatedData: [UInt8]) throws -> SymmetricKey
    /// The platform key for card fingerprints (HMAC-SHA256 of the PAN).
    var fingerprintKey: SymmetricKey { get }
}

public enum KeyProviderError: Error, Hashable, Sendable {
    case unknownKeyVersion(Int)
    case malformedKeyring(String)
}

/// KEKs in a local file, one line per key: `kek <version> <base64 32 bytes>` and
/// `fingerprint <base64 32 bytes>`. Created with fresh random keys (mode 0600) if absent.
/// Data keys are wrapped with AES-256-GCM under the KEK, bound to the card token.
public struct FileKeyring: KeyProvider {
    private let keks: [Int: SymmetricKey]
    public let currentVersion: Int
    public let fingerprintKey: SymmetricKey

    public init(path: String) throws {
        let fileManager = FileManager.default
        if !fileManager.fileExists(atPath: path) {
            let kek = SymmetricKey(size: .bits256).withUnsafeBytes { Data($0).base64EncodedString() }
            let fingerprint = SymmetricKey(size: .bits256).withUnsafeBytes { Data($0).base64EncodedString() }
            let text = "# Payrail dev keyring: key-encryption keys and the card fingerprint key. Keep secret.\nkek 1 \(kek)\nfingerprint \(fingerprint)\n"
            let directory = (path as NSString).deletingLastPathComponent
            if !directory.isEmpty { try fileManager.createDirectory(atPath: directory, withIntermediateDirectories: true) }
            guard fileManager.createFile(atPath: path, contents: Data(text.utf8), attributes: [.posixPermissions: 0o600]) else {
                throw KeyProviderError.malformedKeyring("cannot create \(path)")
            }
        }
        let text = try String(contentsOfFile: path, encoding: .utf8)
        var keks: [Int: SymmetricKey] = [:]
        var fingerprint: SymmetricKey?
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            let parts = line.split(separator: " ")
            if parts.count == 3, parts[0] == "kek", let version = Int(parts[1]), let bytes = Data(base64Encoded: String(parts[2])), bytes.count == 32 {
                keks[version] = SymmetricKey(data: bytes)
            } else if parts.count == 2, parts[0] == "fingerprint", let bytes = Data(base64Encoded: String(parts[1])), bytes.count == 32 {
                fingerprint = SymmetricKey(data: bytes)
            } else {
                throw KeyProviderError.malformedKeyring("unreadable line in \(path)")
            }
        }
        guard let current = keks.keys.max(), let fingerprint else { throw KeyProviderError.malformedKeyring("\(path) lacks a kek or fingerprint key") }
        self.keks = keks
        self.currentVersion = current
        self.fingerprintKey = fingerprint
    }

    public func wrap(dataKey: SymmetricKey, associatedData: [UInt8]) throws -> (version: Int, wrapped: [UInt8]) {
        guard let kek = keks[currentVersion] else { throw KeyProviderError.unknownKeyVersion(currentVersion) }
        let sealed = try dataKey.withUnsafeBytes { try AES.GCM.seal(Array($0), using: kek, authenticating: associatedData) }
        guard let combined = sealed.combined else { throw KeyProviderError.malformedKeyring("nonce size") }
        return (currentVersion, Array(combined))
    }

    public func unwrap(_ wrapped: [UInt8], version: Int, associatedData: [UInt8]) throws -> SymmetricKey {
        guard let kek = keks[version] else { throw KeyProviderError.unknownKeyVersion(version) }
        let box = try AES.GCM.SealedBox(combined: wrapped)
        return SymmetricKey(data: try AES.GCM.open(box, using: kek, authenticating: associatedData))
    }
}
