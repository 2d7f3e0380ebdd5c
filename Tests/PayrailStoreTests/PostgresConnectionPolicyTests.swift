import Logging
import PayrailStore
import PostgresNIO
import Testing

/// A server's pool keeps all its connections open from the start (so postgres-nio never arms
/// the idle timers whose cancelled sleeps piled up in the core); a test or tool pool opens
/// them only on demand.
@Suite struct PostgresConnectionPolicyTests {
    /// The server processes of the sessions open on the store's database, other than the one asking.
    private static func backends(_ location: PostgresStore.Location) async throws -> Set<Int32> {
        var pids: Set<Int32> = []
        try await StoreFixture.admin(location) { connection in
            let rows = try await connection.query(
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()",
                logger: Logger(label: "test"))
            for try await row in rows { pids.insert(try row.decode(Int32.self)) }
        }
        return pids
    }

    private static func sessions(_ location: PostgresStore.Location) async throws -> Int { try await backends(location).count }

    private static func eventually(_ condition: () async throws -> Bool) async throws -> Bool {
        for _ in 0..<100 {
            if try await condition() { return true }
            try await Task.sleep(for: .milliseconds(50))
        }
        return false
    }

    @Test func keptOpenHoldsEveryConnectionAndReplacesClosedOnesOnDemandOpensWhatIsUsed() async throws {
        guard StoreKind.available.contains(.postgres) else { return }
        try await StoreFixture.withPostgresDatabase { location in
            let kept = try await PostgresStore.open(location, maximumConnections: 5, connections: .keptOpen)
            let allOpen = try await Self.eventually { try await Self.sessions(location) == 5 }
            let seen = try await Self.sessions(location)
            #expect(allOpen, "a kept-open pool of 5 holds \(seen) sessions")

            // Sessions the server ends (a restart, a failover, an operator) are replaced, with
            // no keep-alive query to find them: the closed sockets say so.
            let terminated = try await Self.backends(location)
            try await StoreFixture.admin(location) { connection in
                _ = try await connection.query(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()",
                    logger: Logger(label: "test")).collect()
            }
            #expect(try await Self.eventually {
                let now = try await Self.backends(location)
                return now.count == 5 && now.isDisjoint(with: terminated)
            }, "the pool reopens what the server closed")
            #expect(try await kept.read { try await $0.merchant(id: "acct_none") } == nil)
            try await kept.close()

            #expect(try await Self.eventually { try await Self.sessions(location) == 0 })
            let onDemand = try await PostgresStore.open(location, maximumConnections: 5, connections: .onDemand)
            _ = try await onDemand.read { try await $0.merchant(id: "acct_none") }
            try await Task.sleep(for: .milliseconds(300))
            let used = try await Self.sessions(location)
            try await onDemand.close()
            #expect(used >= 1 && used < 5, "an on-demand pool holds \(used) sessions after one read")
        }
    }
}
