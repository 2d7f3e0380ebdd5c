import Foundation
import GRPCCore
import PayrailCluster
import PayrailCore
import PayrailDomain
import PayrailEdge
import PayrailProtos
import PayrailRuntime
import PayrailSimulators
import PayrailStore
import ServiceLifecycle
import Synchronization
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// kill -9 of the core (a real separate `payrail core` process on PostgreSQL) while a load runs:
/// after a restart, every acknowledged payment is present exactly once, every idempotency key
/// maps to one payment, and the ledger verifies.
@Suite(.serialized) struct CoreKillTests {
    @Test(.enabled(if: ClusterStore.available.contains(.postgres)), .timeLimit(.minutes(3)))
    func killingTheCoreUnderLoadLosesAndDoublesNothing() async throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let binary = root.appendingPathComponent(".build/debug/payrail").path
        try #require(FileManager.default.isExecutableFile(atPath: binary), "build the payrail executable first (swift build --build-tests)")
        try await withPostgresDatabase { location in
            let url = "postgres://\(location.username)@\(location.host):\(location.port)/\(location.database)"
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("payrail-kill-\(UUID().uuidString)").path
            defer { try? FileManager.default.removeItem(atPath: directory) }
            let pki = try DevPKI(directory: directory + "/tls").ensure()
            let corePort = TestPorts.unused()
            func startCore() throws -> ChildProcess {
                try ChildProcess.start(binary, ["core", "--data-dir", directory, "--port", "\(corePort)", "--postgres", url,
                                                "--idempotency-lease-ms", "2000", "--metrics-port", "0"])
            }
            var core = try startCore()
            defer { core.killIfRunning() }
            try await waitForPort(corePort)

            let store = try await PostgresStore.open(location, connections: .onDemand)
            let merchant = try await APIKeyService(store: store, now: UnixClock.nowMs).createMerchant(name: "Kill test")
            var edgeConfiguration = EdgeNode.Configuration(pki: pki, corePort: corePort)
            edgeConfiguration.upstreamTimeout = .seconds(5)
            let edge = try EdgeNode(configuration: edgeConfiguration)
            let group = ServiceGroup(configuration: .init(services: edge.services.map { .init(service: $0) }, logger: .init(label: "edge")))
            let edgeRun = Task { try await group.run() }
            let client = try EdgeClient(port: try await edge.listeningPort(), caPath: pki.caCertificatePath, apiKey: merchant.apiKey)

            // Load: each worker creates payments; a failed call is retried with the SAME key until
            // it is acknowledged, as a merchant would.
            let state = LoadState()
            let load = Task {
                await withTaskGroup(of: Void.self) { workers in
                    for worker in 0..<12 {
                        workers.addTask {
                            var sequence = 0
                            while !state.stop.load(ordering: .relaxed) {
                                sequence += 1
                                let key = "kill-\(worker)-\(sequence)"
                                let request = createRequest(key: key, amount: Int64(100 + sequence))
                                let deadline = ContinuousClock.now + .seconds(60)
                                while ContinuousClock.now < deadline {
                                    if let payment = try? await client.payments.createPayment(request, metadata: client.metadata),
                                       payment.status != .processing {
                                        state.acknowledged.withLock { $0[key] = payment.id }
                                        break
                                    }
                                    try? await Task.sleep(for: .milliseconds(50))
                                }
                            }
                        }
                    }
                }
            }
            // Kill once the load is flowing (however slow the machine is), mid-stream.
            func acknowledged() -> Int { state.acknowledged.withLock { $0.count } }
            func waitForAcknowledged(moreThan count: Int) async throws {
                let deadline = ContinuousClock.now + .seconds(60)
                while acknowledged() <= count && ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(50)) }
            }
            try await waitForAcknowledged(moreThan: 20)
            let beforeKill = acknowledged()
            kill(core.pid, SIGKILL)
            core.wait()
            try await Task.sleep(for: .milliseconds(500))
            core = try startCore()
            try await waitForPort(corePort)
            try await waitForAcknowledged(moreThan: acknowledged() + 20)
            state.stop.store(true, ordering: .relaxed)
            await load.value
            let keys = state.acknowledged.withLock { $0 }
            #expect(beforeKill > 0 && keys.count > beforeKill, "the load made no progress around the kill")

            // Every acknowledged payment exists exactly once; no key produced two payments.
            let stored = try await store.read { tx in
                var all: [Payment] = []
                var cursor: PaymentCursor?
                while true {
                    let page = try await tx.listPayments(merchantID: merchant.merchantID, livemode: false,
                                                         status: nil, after: cursor, limit: 500)
                    all += page
                    guard let last = page.last, page.count == 500 else { break }
                    cursor = PaymentCursor(createdAtMs: last.createdAtMs, paymentID: last.id)
                }
                return all
            }
            let storedIDs = Set(stored.map(\.id))
            #expect(storedIDs.count == stored.count)
            for (key, id) in keys { #expect(storedIDs.contains(id), "acknowledged \(key) -> \(id) is missing") }
            let byKey = Dictionary(grouping: stored, by: { $0.metadata["order"] ?? "" })
            #expect(byKey.values.allSatisfy { $0.count == 1 }, "an idempotency key produced two payments")
            let report = try await LedgerVerifier(store: store).verify()
            #expect(report.isValid, "\(report)")
            print("kill test: \(keys.count) acknowledged payments (\(beforeKill) before the kill), \(stored.count) stored")

            await client.close()
            await group.triggerGracefulShutdown()
            _ = await edgeRun.result
            try await store.close()
            kill(core.pid, SIGTERM)
            core.wait()
        }
    }

    private func waitForPort(_ port: Int) async throws {
        let deadline = ContinuousClock.now + .seconds(30)
        while ContinuousClock.now < deadline {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = in_port_t(UInt16(port).bigEndian)
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            let connected = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            close(fd)
            if connected == 0 { return }
            try await Task.sleep(for: .milliseconds(50))
        }
        Issue.record("core did not start listening on \(port)")
    }
}

/// What the load workers share: acknowledged keys and the stop flag.
final class LoadState: Sendable {
    /// Idempotency key -> acknowledged payment id.
    let acknowledged = Mutex<[String: String]>([:])
    let stop = Atomic<Bool>(false)
}
