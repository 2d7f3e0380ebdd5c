import GRPCNIOTransportHTTP2

/// How a gRPC listener or client secures its connections, built from PEM files.
public enum TransportSecurityFactory {
    /// A merchant-facing listener: TLS 1.2+ with the server's certificate; clients are not
    /// asked for certificates (they authenticate with API keys).
    public static func publicServer(certificatePath: String, keyPath: String) -> HTTP2ServerTransport.Posix.TransportSecurity {
        .tls(certificateChain: [.file(path: certificatePath, format: .pem)], privateKey: .file(path: keyPath, format: .pem)) { config in
            config.requireALPN = false
        }
    }

    /// An internal listener: mutual TLS; only clients with a certificate from `caPath` connect.
    public static func internalServer(certificatePath: String, keyPath: String, caPath: String) -> HTTP2ServerTransport.Posix.TransportSecurity {
        .mTLS(certificateChain: [.file(path: certificatePath, format: .pem)], privateKey: .file(path: keyPath, format: .pem)) { config in
            config.trustRoots = .certificates([.file(path: caPath, format: .pem)])
            config.clientCertificateVerification = .noHostnameVerification
        }
    }

    /// A client of an internal listener: presents its own certificate, trusts only `caPath`.
    public static func internalClient(certificatePath: String, keyPath: String, caPath: String) -> HTTP2ClientTransport.Posix.TransportSecurity {
        .mTLS(certificateChain: [.file(path: certificatePath, format: .pem)], privateKey: .file(path: keyPath, format: .pem)) { config in
            config.trustRoots = .certificates([.file(path: caPath, format: .pem)])
            config.serverCertificateVerification = .fullVerification
        }
    }

    /// A merchant-side client (SDKs, the load tool, tests) that trusts `caPath`.
    public static func publicClient(caPath: String) -> HTTP2ClientTransport.Posix.TransportSecurity {
        .tls { config in
            config.trustRoots = .certificates([.file(path: caPath, format: .pem)])
            config.serverCertificateVerification = .fullVerification
        }
    }
}
