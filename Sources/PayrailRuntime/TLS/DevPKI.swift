import Crypto
import Foundation
import SwiftASN1
import X509

/// Certificates for development and tests: a private CA, and a certificate per role signed
/// by it. `payrail dev` creates them on first run in an ignored folder (`.payrail/tls`);
/// production deployments bring their own from a real PKI in the same file layout.
///
/// Layout of the folder: `ca.pem` (trust root), `<role>.pem` + `<role>-key.pem` for each of
/// `edge` (server for merchants, client for the core: mutual TLS) and `core` (server).
public struct DevPKI: Sendable {
    public let directory: String

    public init(directory: String) { self.directory = directory }

    public var caCertificatePath: String { directory + "/ca.pem" }
    public func certificatePath(_ role: Role) -> String { directory + "/\(role.rawValue).pem" }
    public func privateKeyPath(_ role: Role) -> String { directory + "/\(role.rawValue)-key.pem" }

    public enum Role: String, Sendable, CaseIterable {
        case edge, core, `operator`
    }

    /// Creates the CA and role certificates unless all files already exist.
    @discardableResult
    public func ensure() throws -> DevPKI {
        let fileManager = FileManager.default
        let needed = [caCertificatePath] + Role.allCases.flatMap { [certificatePath($0), privateKeyPath($0)] }
        if needed.allSatisfy({ fileManager.fileExists(atPath: $0) }) { return self }
        try fileManager.createDirectory(atPath: directory, withIntermediateDirectories: true,
                                        attributes: [.posixPermissions: 0o700])

        let now = Date()
        let caKey = Certificate.PrivateKey(P256.Signing.PrivateKey())
        let caName = try DistinguishedName {
            OrganizationName("Payrail Dev")
            CommonName("Payrail Dev Root CA")
        }
        let ca = try Certificate(
            version: .v3, serialNumber: .init(), publicKey: caKey.publicKey,
            notValidBefore: now.addingTimeInterval(-3600), notValidAfter: now.addingTimeInterval(60 * 60 * 24 * 825),
            issuer: caName, subject: caName, signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.isCertificateAuthority(maxPathLength: 0))
                Critical(KeyUsage(keyCertSign: true, cRLSign: true))
            },
            issuerPrivateKey: caKey)
        try write(try ca.serializeAsPEM().pemString, to: caCertificatePath, mode: 0o644)

        for role in Role.allCases {
            let key = Certificate.PrivateKey(P256.Signing.PrivateKey())
            let subject = try DistinguishedName {
                OrganizationName("Payrail Dev")
                CommonName("payrail-\(role.rawValue)")
            }
            let certificate = try Certificate(
                version: .v3, serialNumber: .init(), publicKey: key.publicKey,
                notValidBefore: now.addingTimeInterval(-3600), notValidAfter: now.addingTimeInterval(60 * 60 * 24 * 397),
                issuer: caName, subject: subject, signatureAlgorithm: .ecdsaWithSHA256,
                extensions: try Certificate.Extensions {
                    Critical(BasicConstraints.notCertificateAuthority)
                    Critical(KeyUsage(digitalSignature: true))
                    try ExtendedKeyUsage([.serverAuth, .clientAuth])
                    SubjectAlternativeNames([
                        .dnsName("localhost"),
                        .dnsName("payrail-\(role.rawValue)"),
                        .ipAddress(ASN1OctetString(contentBytes: [127, 0, 0, 1])),
                        .ipAddress(ASN1OctetString(contentBytes: [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1])),
                    ])
                },
                issuerPrivateKey: caKey)
            try write(try certificate.serializeAsPEM().pemString, to: certificatePath(role), mode: 0o644)
            try write(try key.serializeAsPEM().pemString, to: privateKeyPath(role), mode: 0o600)
        }
        return self
    }

    private func write(_ text: String, to path: String, mode: Int) throws {
        let fileManager = FileManager.default
        guard fileManager.createFile(atPath: path, contents: Data(text.utf8), attributes: [.posixPermissions: mode]) else {
            throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: path])
        }
    }
}
