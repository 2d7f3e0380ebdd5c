import Foundation
import PayrailCluster
import Testing

/// Python's grpcio, with stubs generated from Protos/ at test time, calls a running edge over
/// TLS: the protocol works for SDKs in other languages, not only for our own Swift code.
@Suite(.serialized) struct ExternalClientTests {
    @Test func pythonGRPCClientGetsTheSameAnswers() async throws {
        try await withCluster { cluster, _, _, _ in
            let merchant = try await cluster.core.apiKeys.createMerchant(name: "Python SDK")
            let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            var environment = ProcessInfo.processInfo.environment
            environment["PAYRAIL_API_KEY"] = merchant.apiKey
            let (status, text) = try await ChildProcess.run("/usr/bin/env", [
                "python3", root.appendingPathComponent("Tests/python/external_client_test.py").path,
                "--protos", root.appendingPathComponent("Protos").path,
                "--target", "localhost:\(cluster.edgePorts[0])",
                "--ca", cluster.pki.caCertificatePath,
            ], environment: environment)
            #expect(status == 0, "python client failed:\n\(text)")
            #expect(text.contains("external client: all checks passed"))
        }
    }
}
