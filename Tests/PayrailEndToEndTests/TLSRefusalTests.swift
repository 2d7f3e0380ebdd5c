import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import PayrailCluster
import PayrailProtos
import PayrailRuntime
import Testing

/// Transport security: the edge refuses plaintext and clients that do not trust its CA; the
/// core refuses any client without a certificate from the internal CA (mutual TLS).
@Suite struct TLSRefusalTests {
    /// Whether a health check over `security` to `port` fails (within `timeout`), and how.
    private func refusal(port: Int, _ security: HTTP2ClientTransport.Posix.TransportSecurity,
                         timeout: Duration = .seconds(5)) async throws -> (refused: Bool, error: String) {
        let transport = try HTTP2ClientTransport.Posix(target: .ipv4(address: "127.0.0.1", port: port), transportSecurity: security)
        let grpc = GRPCClient(transport: transport)
        let run = Task { try await grpc.runConnections() }
        var options = CallOptions.defaults
        options.timeout = timeout
        let outcome: (Bool, String)
        do {
            _ = try await Grpc_Health_V1_Health.Client(wrapping: grpc).check(.init(), options: options)
            outcome = (false, "")
        } catch {
            outcome = (true, "\(error)")
        }
        grpc.beginGracefulShutdown()
        _ = await run.result
        return outcome
    }

    private func refused(port: Int, _ security: HTTP2ClientTransport.Posix.TransportSecurity) async throws -> Bool {
        try await refusal(port: port, security).refused
    }

    @Test func plaintextUntrustedAndCertificatelessClientsAreRefused() async throws {
        let otherDirectory = FileManager.default.temporaryDirectory.appendingPathComponent("payrail-other-ca-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: otherDirectory) }
        let other = try DevPKI(directory: otherDirectory).ensure()
        try await withCluster { cluster, _, _, _ in
            let pki = cluster.pki
            let edge = cluster.edgePorts[0], core = cluster.corePort
            // The right settings work, so a refusal below is the security and not a broken setup.
            // (A generous deadline: on a loaded test machine a first TLS handshake can be slow.)
            let trusted = try await refusal(port: edge, TransportSecurityFactory.publicClient(caPath: pki.caCertificatePath),
                                            timeout: .seconds(30))
            let internalClient = try await refusal(port: core, TransportSecurityFactory.internalClient(
                certificatePath: pki.certificatePath(.edge), keyPath: pki.privateKeyPath(.edge), caPath: pki.caCertificatePath),
                                                   timeout: .seconds(30))
            #expect(!trusted.refused, "the edge with its CA: \(trusted.error)")
            #expect(!internalClient.refused, "the core with an internal certificate: \(internalClient.error)")

            let plaintextEdge = try await refused(port: edge, .plaintext)
            let untrustingClient = try await refused(port: edge, TransportSecurityFactory.publicClient(caPath: other.caCertificatePath))
            let plaintextCore = try await refused(port: core, .plaintext)
            let noClientCertificate = try await refused(port: core, TransportSecurityFactory.publicClient(caPath: pki.caCertificatePath))
            let foreignClientCertificate = try await refused(port: core, TransportSecurityFactory.internalClient(
                certificatePath: other.certificatePath(.edge), keyPath: other.privateKeyPath(.edge), caPath: pki.caCertificatePath))
            #expect(plaintextEdge, "plaintext to the edge")
            #expect(untrustingClient, "a client that does not trust the edge's CA")
            #expect(plaintextCore, "plaintext to the core")
            #expect(noClientCertificate, "TLS to the core without a client certificate")
            #expect(foreignClientCertificate, "a client certificate from another CA")
        }
    }

    /// What `openssl s_client` negotiates with the edge: (handshake succeeded, output).
    private func handshake(port: Int, caPath: String, _ extra: [String]) async throws -> (Bool, String) {
        let text = try await ChildProcess.run("/usr/bin/env", ["openssl", "s_client", "-connect", "127.0.0.1:\(port)", "-CAfile", caPath,
                                                                "-alpn", "h2", "-brief"] + extra).output
        return (text.contains("Protocol version"), text)
    }

    /// Merchants get TLS 1.3 when they offer it, TLS 1.2 still works, older versions are refused.
    @Test func edgePrefersTLS13AndRefusesOlderThan12() async throws {
        try await withCluster { cluster, _, _, _ in
            let ca = cluster.pki.caCertificatePath, port = cluster.edgePorts[0]
            let best = try await handshake(port: port, caPath: ca, [])
            #expect(best.0 && best.1.contains("Protocol version: TLSv1.3"), "\(best.1)")
            let tls12 = try await handshake(port: port, caPath: ca, ["-tls1_2"])
            #expect(tls12.0 && tls12.1.contains("Protocol version: TLSv1.2"), "\(tls12.1)")
            // SECLEVEL=0 lets this client offer TLS 1.1 at all; the edge must still say no.
            let tls11 = try await handshake(port: port, caPath: ca, ["-tls1_1", "-cipher", "DEFAULT@SECLEVEL=0"])
            #expect(!tls11.0, "\(tls11.1)")
        }
    }
}
