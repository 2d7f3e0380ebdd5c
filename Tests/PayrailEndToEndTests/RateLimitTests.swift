import GRPCCore
import PayrailCluster
import PayrailDomain
import PayrailEdge
import PayrailProtos
import PayrailRuntime
import Testing

/// Rate limits at the edge: a burst up to the bucket size passes, the next call gets
/// RESOURCE_EXHAUSTED `rate_limited` with the retry delay in its metadata, and the call
/// passes again once that delay has gone by. One merchant's limit does not touch another's.
@Suite struct RateLimitTests {
    @Test func burstThenRefusedWithRetryDelayThenAdmittedAgain() async throws {
        let tiny = EdgeRateLimiter.Tier(merchant: RateLimit(perSecond: 1, burst: 3), apiKey: RateLimit(perSecond: 100, burst: 100))
        let limits = EdgeRateLimiter.Configuration(tiers: ["tiny": tiny], defaultTier: "tiny")
        try await withCluster(rateLimits: limits) { cluster, client, _, _ in
            // Eight calls at once against a bucket of three refilled at 1/s.
            let started = ContinuousClock.now
            let outcomes = await withTaskGroup(of: PayrailError?.self) { group in
                for _ in 0..<8 {
                    group.addTask {
                        do {
                            _ = try await client.balances.getBalance(.init(), metadata: client.metadata)
                            return nil
                        } catch let error as RPCError {
                            #expect(error.code == .resourceExhausted)
                            return RPCErrorMapping.payrailError(error)
                        } catch {
                            return PayrailError(.internalError, "\(error)")
                        }
                    }
                }
                return await group.reduce(into: [PayrailError?]()) { $0.append($1) }
            }
            let elapsedSeconds = Int((ContinuousClock.now - started).components.seconds)
            let admitted = outcomes.filter { $0 == nil }.count
            let refused = outcomes.compactMap { $0 }
            #expect(admitted >= 3 && admitted <= 3 + elapsedSeconds + 1, "\(admitted) admitted in \(elapsedSeconds) s")
            #expect(!refused.isEmpty && refused.allSatisfy { $0.code.reason == "rate_limited" })
            let wait = try #require(refused.compactMap(\.retryAfterMs).max())
            #expect(wait > 0 && wait <= 1_000, "at 1/s the next slot is at most a second away")

            // Another merchant has its own bucket.
            let other = try await cluster.core.apiKeys.createMerchant(name: "Other")
            let otherClient = try EdgeClient(port: cluster.edgePorts[0], caPath: cluster.pki.caCertificatePath, apiKey: other.apiKey)
            _ = try await otherClient.balances.getBalance(.init(), metadata: otherClient.metadata)
            await otherClient.close()

            try await Task.sleep(for: .milliseconds(wait + 20))
            _ = try await client.balances.getBalance(.init(), metadata: client.metadata)
        }
    }
}
