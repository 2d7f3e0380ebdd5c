import Crypto
import Foundation
import Synchronization

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
    /// Picks up new key versions (a rotation done elsewhere).
    func refresh() throws
}

extension KeyProvider {
    public func refresh() throws {}
}

public enum KeyProviderError: Error, Hashable, Sendable {
    case unknownKeyVersion(Int)
    case malformedKeyring(String)
}

/// KEKs in a local file, one line per key: `kek <version> <base64 32 bytes>` and
/// `fingerprint <base64 32 bytes>`. Created with fresh random keys (mode 0600) if absent.
/// Data keys are wrapped with AES-256-GCM under the KEK, bound to the card token.
///
/// Rotation: ``rotate(path:)`` appends a new KEK version; every process re-reads the file on
/// ``refresh()`` (the rewrap job calls it each round) and when asked for a version it does not
/// know, so new cards move to the new KEK while old ones still open until they are rewrapped.
public final class FileKeyring: KeyProvider {
    private struct Keys {
        var keks: [Int: SymmetricKey]
        var current: Int
    }

    public let path: String
    public let fingerprintKey: SymmetricKey
    private let keys: Mutex<Keys>

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
        let (keks, fingerprint) = try Self.read(path)
        self.path = path
        self.fingerprintKey = fingerprint
        self.keys = Mutex(Keys(keks: keks, current: keks.keys.max()!))
    }

    private static func read(_ path: String) throws -> (keks: [Int: SymmetricKey], fingerprint: SymmetricKey) {
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
        guard !keks.isEmpty, let fingerprint else { throw KeyProviderError.malformedKeyring("\(path) lacks a kek or fingerprint key") }
        return (keks, fingerprint)
    }

    /// Adds a new KEK version to the keyring file (kept 0600) and returns it. Old versions stay
    /// until every card is rewrapped; removing one is a manual step after `payrail vault rewrap`.
    @discardableResult
    public static func rotate(path: String) throws -> Int {
        let (keks, _) = try read(path)
        let version = keks.keys.max()! + 1
        let kek = SymmetricKey(size: .bits256).withUnsafeBytes { Data($0).base64EncodedString() }
        let text = try String(contentsOfFile: path, encoding: .utf8)
        let updated = text + (text.hasSuffix("\n") ? "" : "\n") + "kek \(version) \(kek)\n"
        let temporary = path + ".new"
        guard FileManager.default.createFile(atPath: temporary, contents: Data(updated.utf8), attributes: [.posixPermissions: 0o600]) else {
            throw KeyProviderError.malformedKeyring("cannot write \(temporary)")
        }
        guard rename(temporary, path) == 0 else { throw KeyProviderError.malformedKeyring("cannot replace \(path)") }
        return version
    }

    public var currentVersion: Int { keys.withLock { $0.current } }

    /// Re-reads the file: new KEK versions become known and the newest wraps new cards.
    public func refresh() throws {
        let (keks, _) = try Self.read(path)
        keys.withLock { $0 = Keys(keks: keks, current: keks.keys.max()!) }
    }

    public func wrap(dataKey: SymmetricKey, associatedData: [UInt8]) throws -> (version: Int, wrapped: [UInt8]) {
        let (version, kek) = keys.withLock { ($0.current, $0.keks[$0.current]) }
        guard let kek else { throw KeyProviderError.unknownKeyVersion(version) }
        let sealed = try dataKey.withUnsafeBytes { try AES.GCM.seal(Array($0), using: kek, authenticating: associatedData) }
        guard let combined = sealed.combined else { throw KeyProviderError.malformedKeyring("nonce size") }
        return (version, Array(combined))
    }

    public func unwrap(_ wrapped: [UInt8], version: Int, associatedData: [UInt8]) throws -> SymmetricKey {
        var kek = keys.withLock { $0.keks[version] }
        if kek == nil {
            // Another process may have rotated: look at the file once more.
            try refresh()
            kek = keys.withLock { $0.keks[version] }
        }
        guard let kek else { throw KeyProviderError.unknownKeyVersion(version) }
        let box = try AES.GCM.SealedBox(combined: wrapped)
        return SymmetricKey(data: try AES.GCM.open(box, using: kek, authenticating: associatedData))
    }
}
