import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import PayrailCluster
import PayrailCore
import PayrailDomain
import PayrailProtos
import PayrailRuntime
import Synchronization
import Testing

/// Traffic shifting under load (issue 4): three regions, a load through the SDK's
/// region-aware client, then 100 % of eu-west shifted to us-east and eu-west drained. No call
/// fails, nothing is charged twice, the per-region counts show the shift, the drained edge says
/// NOT_SERVING and refuses new calls; restoring puts it back.
@Suite(.serialized) struct TrafficShiftTests {
    private let regions = ["us-east", "eu-west", "ap-south"]

    /// The operator's mTLS client to the core's TrafficControl API.
    private func withOperator<T: Sendable>(_ cluster: LocalCluster, role: DevPKI.Role = .operator,
                                           _ body: (Payrail_Internal_V1_TrafficControl.Client<HTTP2ClientTransport.Posix>) async throws -> T) async throws -> T {
        let transport = try HTTP2ClientTransport.Posix(
            target: .ipv4(address: "127.0.0.1", port: cluster.corePort),
            transportSecurity: TransportSecurityFactory.internalClient(
                certificatePath: cluster.pki.certificatePath(role), keyPath: cluster.pki.privateKeyPath(role), caPath: cluster.pki.caCertificatePath))
        return try await withGRPCClient(transport: transport) { try await body(Payrail_Internal_V1_TrafficControl.Client(wrapping: $0)) }
    }

    private func health(_ cluster: LocalCluster, edge index: Int) async throws -> Grpc_Health_V1_HealthCheckResponse.ServingStatus {
        let transport = try HTTP2ClientTransport.Posix(target: .ipv4(address: "127.0.0.1", port: cluster.edgePorts[index]),
                                                       transportSecurity: TransportSecurityFactory.publicClient(caPath: cluster.pki.caCertificatePath))
        return try await withGRPCClient(transport: transport) {
            try await Grpc_Health_V1_Health.Client(wrapping: $0).check(.with { $0.service = "payrail.v1.Payments" }).status
        }
    }

    /// Load state shared by the workers.
    private final class Load: Sendable {
        struct Counts {
            var succeeded = 0
            var failures: [String] = []
            var paymentIDs: [String: String] = [:]
        }
        let counts = Mutex(Counts())
        let stop = Atomic<Bool>(false)
    }

    @Test(arguments: ClusterStore.available)
    func shiftAndDrainUnderLoadLosesAndDoublesNothing(store: ClusterStore) async throws {
        try await withCluster(store: store, regions: regions) { cluster, _, _, _ in
            let merchant = try await cluster.core.apiKeys.createMerchant(name: "Traffic Test")
            #expect(cluster.edgeRegions == regions)
            // Every edge has registered with the control plane.
            #expect(await eventually { cluster.core.traffic.snapshot?.edges.count == 3 })
            let client = try await RegionAwareClient.connect(.init(seeds: ["127.0.0.1:\(cluster.edgePorts[0])"],
                                                                   caPath: cluster.pki.caCertificatePath, apiKey: merchant.apiKey))
            #expect(client.regionMap?.regions.flatMap(\.edges).count == 3, "the map lists the edges of every region")

            let load = Load()
            let workers = Task {
                await withTaskGroup(of: Void.self) { group in
                    for worker in 0..<12 {
                        group.addTask {
                            var index = 0
                            while !load.stop.load(ordering: .relaxed) {
                                let key = "traffic-\(worker)-\(index)"
                                index += 1
                                do {
                                    let payment = try await client.call(idempotent: true) { edge in
                                        try await edge.payments.createPayment(createRequest(key: key, amount: 1_000 + Int64(index)), metadata: edge.metadata)
                                    }
                                    load.counts.withLock {
                                        $0.succeeded += 1
                                        $0.paymentIDs[key] = payment.id
                                    }
                                } catch {
                                    let reason = (error as? RPCError).map { "\($0.code) \(RPCErrorMapping.payrailError($0).code.reason)" } ?? "\(error)"
                                    load.counts.withLock { $0.failures.append(reason) }
                                }
                            }
                        }
                    }
                }
            }
            func byRegion() -> [String: Int] { client.statistics.byRegion }
            func settle() async throws { try await Task.sleep(for: .milliseconds(300)) }

            // Phase 1: even split.
            #expect(await eventually(timeout: .seconds(60)) { byRegion().values.allSatisfy { $0 >= 20 } && byRegion().count == 3 })

            // Shift 100 % of eu-west to us-east.
            let shift = try await withOperator(cluster) { traffic in
                try await traffic.changeTraffic(.with {
                    $0.actor = "sre-test"
                    $0.reason = "eu-west maintenance (test)"
                    $0.shift = .with { $0.from = "eu-west"; $0.to = "us-east"; $0.percent = 100 }
                })
            }
            #expect(shift.plan.regions.map(\.weight) == [6667, 0, 3333])
            #expect(await eventually(timeout: .seconds(30)) { (client.regionMap?.version ?? 0) >= shift.version }, "the client learns the new weights")
            try await settle()
            let afterShift = byRegion()
            #expect(await eventually(timeout: .seconds(60)) { (byRegion()["ap-south"] ?? 0) - (afterShift["ap-south"] ?? 0) >= 30 })
            let shifted = byRegion()

            // Drain eu-west: its edge refuses new calls and reports NOT_SERVING.
            let drain = try await withOperator(cluster) { traffic in
                try await traffic.changeTraffic(.with {
                    $0.actor = "sre-test"
                    $0.reason = "drain before maintenance (test)"
                    $0.drain = .with { $0.region = "eu-west" }
                })
            }
            #expect(drain.plan.regions[1].drained)
            #expect(await eventually(timeout: .seconds(30)) { cluster.edges[1].gateway.isDraining }, "the eu-west edge follows the plan")
            #expect(cluster.edges[1].goAwaysSent >= 1, "the client's connection to eu-west was sent GOAWAY")
            // GOAWAY: the connections open at the drain close once their calls finish (a client
            // may open a new one; its calls are refused with edge_draining).
            #expect(await eventually(timeout: .seconds(30)) { cluster.edges[1].connectionsGoingAway == 0 }, "\(cluster.edges[1].connectionsGoingAway) still going away")
            #expect(try await health(cluster, edge: 1) == .notServing)
            #expect(try await health(cluster, edge: 0) == .serving)
            let direct = try EdgeClient(port: cluster.edgePorts[1], caPath: cluster.pki.caCertificatePath, apiKey: merchant.apiKey)
            let refused = await rpcFailure {
                _ = try await direct.payments.createPayment(createRequest(key: "direct-to-drained"), metadata: direct.metadata)
            }
            #expect(refused?.0 == .unavailable && refused?.1 == "edge_draining")
            let drainedAt = byRegion()
            #expect(await eventually(timeout: .seconds(60)) { (byRegion()["us-east"] ?? 0) - (drainedAt["us-east"] ?? 0) >= 40 })

            load.stop.store(true, ordering: .relaxed)
            await workers.value
            let final = byRegion()
            let counts = load.counts.withLock { $0 }

            // Zero failed calls, and the counts show the shift.
            #expect(counts.failures.isEmpty, "failed calls: \(counts.failures.prefix(5))")
            #expect((final["eu-west"] ?? 0) == (shifted["eu-west"] ?? 0), "no eu-west traffic after the shift had settled")
            let usGain = (final["us-east"] ?? 0) - (afterShift["us-east"] ?? 0)
            let apGain = (final["ap-south"] ?? 0) - (afterShift["ap-south"] ?? 0)
            #expect(usGain > apGain && apGain > 0, "us-east takes two thirds after the shift: \(usGain) vs \(apGain)")

            // Zero duplicate charges: one payment per idempotency key, one per success.
            let payments = try await cluster.store.read { tx in
                try await tx.listPayments(merchantID: merchant.merchantID, livemode: false, status: nil, after: nil, limit: 100_000)
            }
            #expect(payments.count == counts.succeeded, "\(payments.count) payments for \(counts.succeeded) successful calls")
            #expect(Set(payments.map(\.id)) == Set(counts.paymentIDs.values))
            let report = try await cluster.core.ledger.verify()
            #expect(report.isValid, "\(report)")

            // Restore: the edge serves again; every change is in the audit log.
            _ = try await withOperator(cluster) { traffic in
                try await traffic.changeTraffic(.with {
                    $0.actor = "sre-test"
                    $0.reason = "maintenance over (test)"
                    $0.restore = .with { $0.region = "eu-west" }
                })
            }
            #expect(await eventually { !cluster.edges[1].gateway.isDraining })
            #expect(try await health(cluster, edge: 1) == .serving)
            let again = try await direct.payments.createPayment(createRequest(key: "direct-after-restore"), metadata: direct.metadata)
            #expect(again.status == .succeeded)
            await direct.close()
            let log = try await withOperator(cluster) { try await $0.listTrafficChanges(.with { $0.limit = 10 }) }
            #expect(log.changes.map(\.action) == ["restore eu-west", "drain eu-west", "shift 100% eu-west -> us-east", "initialize us-east,eu-west,ap-south"])
            #expect(log.changes.prefix(3).allSatisfy { $0.actor == "sre-test" && $0.reason.hasSuffix("(test)") })
            await client.close()
        }
    }

    /// Edges hold certificates of the same CA but may not move traffic; a stale expected
    /// version is refused; unknown regions are typed errors.
    @Test func onlyOperatorsChangeTrafficAndStaleVersionsAreRefused() async throws {
        try await withCluster(regions: regions) { cluster, _, _, _ in
            func change(_ role: DevPKI.Role, expected: Int64 = 0, region: String = "eu-west") async -> (RPCError.Code, String)? {
                await rpcFailure {
                    _ = try await withOperator(cluster, role: role) { traffic in
                        try await traffic.changeTraffic(.with {
                            $0.actor = "mallory"
                            $0.reason = "test"
                            $0.expectedVersion = expected
                            $0.drain = .with { $0.region = region }
                        })
                    }
                }
            }
            let byEdge = await change(.edge)
            #expect(byEdge?.0 == .permissionDenied && byEdge?.1 == "operator_certificate_required")
            let unknown = await change(.operator, region: "mars")
            #expect(unknown?.0 == .notFound && unknown?.1 == "traffic_region_unknown")
            #expect(await change(.operator, expected: 1) == nil, "version 1 is live: accepted")
            let stale = await change(.operator, expected: 1)
            #expect(stale?.0 == .aborted && stale?.1 == "traffic_version_conflict")
            let status = try await withOperator(cluster) { try await $0.getTraffic(.init()) }
            #expect(status.map.version == 2)
        }
    }

    /// The `payrail traffic` command as an SRE runs it: a real process with the operator
    /// certificate, exit status 0 on a change and 1 on a refusal, a readable status and log.
    @Test func trafficCommandChangesShowsAndRefuses() async throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let binary = root.appendingPathComponent(".build/debug/payrail").path
        try #require(FileManager.default.isExecutableFile(atPath: binary), "build the payrail executable first (swift build --build-tests)")
        try await withCluster(regions: regions) { cluster, _, _, _ in
            #expect(await eventually { cluster.core.traffic.snapshot?.edges.count == 3 })
            func payrail(_ arguments: [String]) async throws -> (Int32, String) {
                try await ChildProcess.run(binary, ["traffic"] + arguments + ["--core", "127.0.0.1:\(cluster.corePort)", "--tls-dir", cluster.pki.directory])
            }
            let shift = try await payrail(["shift", "--from", "eu-west", "--to", "us-east", "--percent", "50", "--reason", "cli test", "--actor", "cli-sre"])
            #expect(shift.0 == 0 && shift.1.contains("version 2: shift 50% eu-west -> us-east by cli-sre (cli test)"), "\(shift.1)")
            #expect(try await cluster.core.traffic.plan().regions.map(\.weight) == [3334 + 1666, 3333 - 1666, 3333])
            let unknown = try await payrail(["drain", "--region", "nowhere", "--reason", "typo"])
            #expect(unknown.0 == 1 && unknown.1.contains("no region named nowhere"), "\(unknown.1)")
            let stale = try await payrail(["restore", "--reason", "late", "--expect-version", "1"])
            #expect(stale.0 == 1 && stale.1.contains("aborted"), "\(stale.1)")
            let noReason = try await payrail(["drain", "--region", "eu-west"])
            #expect(noReason.0 != 0, "a change without a reason is refused by the command line")
            let status = try await payrail(["status"])
            #expect(status.0 == 0 && status.1.contains("plan version 2") && status.1.contains("eu-west-1@127.0.0.1:\(cluster.edgePorts[1])"),
                    "\(status.1)")
            let log = try await payrail(["log"])
            #expect(log.0 == 0 && log.1.contains("cli-sre: shift 50% eu-west -> us-east (cli test)"), "\(log.1)")
        }
    }
}
