import Foundation
import GRPCCore
import PayrailCluster
import PayrailDomain
import PayrailRuntime
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// A real `payrail edge --config` process: its rate limits change on SIGHUP without a restart,
/// and a bad file sent with SIGHUP leaves the running configuration in force.
@Suite(.serialized) struct EdgeReloadProcessTests {
    @Test(.timeLimit(.minutes(2)))
    func sighupAppliesNewLimitsAndRefusesABadFile() async throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let binary = root.appendingPathComponent(".build/debug/payrail").path
        try #require(FileManager.default.isExecutableFile(atPath: binary), "build the payrail executable first (swift build --build-tests)")
        try await withCluster { cluster, _, _, _ in
            let merchant = try await cluster.core.apiKeys.createMerchant(name: "Reload")
            let tls = cluster.pki.caCertificatePath.replacingOccurrences(of: "/ca.pem", with: "")
            let port = TestPorts.unused()
            let path = FileManager.default.temporaryDirectory.appendingPathComponent("edge-reload-\(UUID().uuidString).yaml").path
            defer { try? FileManager.default.removeItem(atPath: path) }
            func write(perSecond: String, burst: Int) throws {
                try """
                version: 1
                regions:
                  - name: test
                    edges:
                      - id: test-1
                        listen: 127.0.0.1:\(port)
                        tls: { certificate: \(tls)/edge.pem, key: \(tls)/edge-key.pem }
                upstream:
                  endpoints: [127.0.0.1:\(cluster.corePort)]
                  ca: \(tls)/ca.pem
                rate_limits:
                  default_tier: t
                  tiers:
                    t:
                      merchant: { per_second: \(perSecond), burst: \(burst) }
                      api_key: { per_second: 1000, burst: 1000 }
                """.write(toFile: path, atomically: true, encoding: .utf8)
            }
            try write(perSecond: "1", burst: 2)
            let process = try ChildProcess.start(binary, ["edge", "--config", path, "--edge-id", "test-1"])
            defer { process.killIfRunning() }
            let client = try EdgeClient(port: port, caPath: cluster.pki.caCertificatePath, apiKey: merchant.apiKey)

            /// Calls sent at once and how many were refused as rate-limited.
            func burst(_ calls: Int) async -> Int {
                await withTaskGroup(of: Bool.self) { group in
                    for _ in 0..<calls {
                        group.addTask {
                            do {
                                _ = try await client.balances.getBalance(.init(), metadata: client.metadata)
                                return false
                            } catch let error as RPCError {
                                return RPCErrorMapping.payrailError(error).code.reason == "rate_limited"
                            } catch { return false }
                        }
                    }
                    return await group.reduce(0) { $0 + ($1 ? 1 : 0) }
                }
            }
            // Wait for the edge to serve (the first calls may fail to connect).
            let deadline = ContinuousClock.now + .seconds(60)
            while ContinuousClock.now < deadline {
                if (try? await client.balances.getBalance(.init(), metadata: client.metadata)) != nil { break }
                if let error = await rpcFailure({ _ = try await client.balances.getBalance(.init(), metadata: client.metadata) }),
                   error.1 == "rate_limited" { break }
                try await Task.sleep(for: .milliseconds(100))
            }
            #expect(await burst(10) >= 5, "a 1/s burst-2 limit refuses most of 10 calls at once")

            try write(perSecond: "10000", burst: 10_000)
            kill(process.pid, SIGHUP)
            var refused = 10
            for _ in 0..<50 where refused > 0 {
                try await Task.sleep(for: .milliseconds(100))
                refused = await burst(10)
            }
            #expect(refused == 0, "the new limits apply without a restart")

            try write(perSecond: "zero", burst: 1)
            kill(process.pid, SIGHUP)
            try await Task.sleep(for: .milliseconds(500))
            #expect(process.isRunning)
            #expect(await burst(10) == 0, "a bad file is refused; the limits in force stay")
            await client.close()
            kill(process.pid, SIGTERM)
            process.wait()
        }
    }
}
