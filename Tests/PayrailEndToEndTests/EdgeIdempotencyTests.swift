import PayrailCluster
import PayrailDomain
@testable import PayrailEdge
import PayrailProtos
import PayrailSimulators
import Synchronization
import Testing

/// The edge's idempotency layer: coalesces concurrent duplicates, replays finished answers,
/// refuses a reused key with another request, keeps only final answers, stays bounded.
@Suite struct EdgeIdempotencyTests {
    private func key(_ name: String) -> EdgeIdempotencyCache.Key {
        EdgeIdempotencyCache.Key(merchantID: "acct_1", livemode: false, operation: "CreatePayment", idempotencyKey: name)
    }

    @Test func concurrentDuplicatesShareOneRequestAndRetriesAreReplayed() async throws {
        let clock = Atomic<Int64>(1_000)
        let cache = EdgeIdempotencyCache(retentionMs: 60_000, now: { clock.load(ordering: .relaxed) })
        let sends = Atomic<Int>(0)
        let fingerprint = cache.fingerprint(operation: "CreatePayment", request: [1, 2, 3])
        let send: @Sendable () async throws -> [UInt8] = {
            sends.add(1, ordering: .relaxed)
            try await Task.sleep(for: .milliseconds(100))
            return [42]
        }
        let answers = try await withThrowingTaskGroup(of: [UInt8].self) { group in
            for _ in 0..<10 { group.addTask { try await cache.run(key("k1"), fingerprint: fingerprint, keep: { _ in true }, send: send) } }
            return try await group.reduce(into: [[UInt8]]()) { $0.append($1) }
        }
        #expect(answers == Array(repeating: [42], count: 10))
        #expect(sends.load(ordering: .relaxed) == 1 && cache.statistics.coalesced == 9)

        #expect(try await cache.run(key("k1"), fingerprint: fingerprint, keep: { _ in true }, send: send) == [42])
        #expect(sends.load(ordering: .relaxed) == 1 && cache.statistics.replays == 1)

        // Same key, another request: refused without a send.
        let other = cache.fingerprint(operation: "CreatePayment", request: [1, 2, 4])
        await #expect(throws: PayrailError.self) {
            _ = try await cache.run(key("k1"), fingerprint: other, keep: { _ in true }, send: send)
        }
        // After the retention the core is asked again.
        clock.store(1_000 + 60_001, ordering: .relaxed)
        _ = try await cache.run(key("k1"), fingerprint: fingerprint, keep: { _ in true }, send: send)
        #expect(sends.load(ordering: .relaxed) == 2)
    }

    @Test func onlyFinalAnswersAreKeptAndTheCacheIsBounded() async throws {
        let cache = EdgeIdempotencyCache(retentionMs: 60_000, maxEntries: 64, now: { 1_000 })
        let sends = Atomic<Int>(0)
        let send: @Sendable () async throws -> [UInt8] = { sends.add(1, ordering: .relaxed); return [7] }
        let fingerprint = cache.fingerprint(operation: "CreatePayment", request: [9])
        for _ in 0..<3 { _ = try await cache.run(key("processing"), fingerprint: fingerprint, keep: { _ in false }, send: send) }
        #expect(sends.load(ordering: .relaxed) == 3, "an answer that is not final is never replayed")

        for index in 0..<2_000 { _ = try await cache.run(key("bulk-\(index)"), fingerprint: fingerprint, keep: { _ in true }, send: send) }
        #expect(cache.entries <= 64 + 16, "\(cache.entries) entries held")
    }

    @Test func theEdgeAnswersARetryItselfAndRefusesAReusedKey() async throws {
        try await withCluster { cluster, client, network, _ in
            let request = createRequest(key: "edge-replay-1")
            let first = try await client.payments.createPayment(request, metadata: client.metadata)
            let again = try await client.payments.createPayment(request, metadata: client.metadata)
            let firstBytes: [UInt8] = try first.serializedBytes(), againBytes: [UInt8] = try again.serializedBytes()
            #expect(firstBytes == againBytes, "the replay is byte-identical")
            #expect(first.status == .succeeded)
            #expect(cluster.edges[0].gateway.idempotencyStatistics.replays == 1)
            #expect(network.authorizationCount() == 1)

            // A different request under the same key is refused at the edge, typed.
            var changed = request
            changed.amount.amountMinor += 1
            let reused = await rpcFailure { _ = try await client.payments.createPayment(changed, metadata: client.metadata) }
            #expect(reused?.0 == .failedPrecondition && reused?.1 == "idempotency_key_reused")
        }
    }
}
