import Testing
@testable import PayrailLoad

@Suite struct LoadToolTests {
    @Test func weightedPicksFollowTheWeights() {
        let table = LoadScenario.WeightedTable<LoadScenario.Operation>([(.createAutoCapture, 60), (.createThenCapture, 10), (.refund, 10), (.get, 15), (.idempotentRetry, 5)])
        var counts: [LoadScenario.Operation: Int] = [:]
        // 16 workers, each drawing a varying number of values per operation (as the runner does).
        var workers = (0..<16).map { SplitMix64(worker: $0, of: 1) }
        for step in 0..<100_000 {
            let index = step % workers.count
            let operation = table.pick(Int(truncatingIfNeeded: workers[index].next() >> 1))
            counts[operation, default: 0] += 1
            for _ in 0..<(operation == .get ? 2 : 4) { _ = workers[index].next() }
        }
        #expect(abs((counts[.createThenCapture] ?? 0) - 10_000) < 600)
        #expect(abs((counts[.refund] ?? 0) - 10_000) < 600)
    }
}

import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import PayrailCluster
import PayrailProtos
import PayrailRuntime
import PayrailSimulators
import ServiceLifecycle

/// The load tool against real servers over loopback TLS.
@Suite struct LoadToolRunTests {
    /// An echo server that stalls every call for `stallMs`: what a struggling system looks like.
    struct StallingEcho: Payrail_Loadtest_V1_Echo.SimpleServiceProtocol {
        let stallMs: Int
        func echo(request: Payrail_Loadtest_V1_EchoRequest, context: ServerContext) async throws -> Payrail_Loadtest_V1_EchoResponse {
            try await Task.sleep(for: .milliseconds(stallMs))
            return .with { $0.payload = request.payload }
        }
    }

    private func withEchoServer(stallMs: Int, _ body: (Int, String) async throws -> Void) async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("payrail-load-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let pki = try DevPKI(directory: directory).ensure()
        var config = HTTP2ServerTransport.Posix.Config.defaults
        config.http2.maxConcurrentStreams = 1024
        let transport = HTTP2ServerTransport.Posix(address: .ipv4(host: "127.0.0.1", port: 0),
                                                   transportSecurity: TransportSecurityFactory.publicServer(
                                                       certificatePath: pki.certificatePath(.edge), keyPath: pki.privateKeyPath(.edge)),
                                                   config: config)
        let server = GRPCServer(transport: transport, services: stallMs > 0 ? [StallingEcho(stallMs: stallMs)] : [EchoService()])
        let serving = Task { try await server.serve() }
        do {
            let port = try #require(try await transport.listeningAddress.ipv4?.port)
            try await body(port, pki.caCertificatePath)
        } catch {
            server.beginGracefulShutdown()
            _ = await serving.result
            throw error
        }
        server.beginGracefulShutdown()
        _ = await serving.result
    }

    /// Open loop counts latency from the intended send time: with 4 workers against a server
    /// that takes 250 ms per call, 40 calls/s cannot be served (16/s at most), so requests fall
    /// behind schedule and their latency grows far past 250 ms. A closed loop (or an open loop
    /// that measured from the actual send) would report about 250 ms: coordinated omission.
    @Test(.timeLimit(.minutes(1)))
    func openLoopLatencyIncludesTheTimeARequestWaitedForItsTurn() async throws {
        try await withEchoServer(stallMs: 250) { port, ca in
            var scenario = LoadScenario()
            scenario.operations = [(.echo, 1)]
            scenario.targets = [.init(host: "127.0.0.1", port: port)]
            scenario.caPath = ca
            scenario.connections = 1
            scenario.concurrency = 4
            scenario.durationSeconds = 3
            scenario.warmupSeconds = 0
            scenario.mode = .open(ratePerSecond: 40)
            let open = try await LoadRunner(.init(scenario: scenario, apiKeys: [], runID: "open")).run()
            scenario.mode = .closed
            let closed = try await LoadRunner(.init(scenario: scenario, apiKeys: [], runID: "closed")).run()
            let openP99 = open.overall.valueAtPercentile(99)
            let closedP99 = closed.overall.valueAtPercentile(99)
            #expect(open.failed == 0 && closed.failed == 0)
            #expect(closedP99 >= 250_000, "closed loop sees the service time: \(closedP99) µs")
            #expect(openP99 > 1_000_000 && openP99 > 2 * closedP99, "open loop sees the backlog: \(openP99) µs vs \(closedP99) µs")
            #expect(open.throughputPerSecond < 20, "4 workers x 4 calls/s at most")
        }
    }

    /// A mixed scenario through a real edge and core: every operation kind, declines and 3-D
    /// Secure, idempotent retries returning the same payment, no errors, and the three reports.
    @Test(.timeLimit(.minutes(3)))
    func mixedScenarioThroughAnEdgeProducesConsistentReports() async throws {
        try await withCluster { cluster, _, _, _ in
            let merchant = try await cluster.core.apiKeys.createMerchant(name: "Load")
            let yaml = """
                name: mixed
                mode: open
                rate: 30
                concurrency: 8
                duration_seconds: 90
                warmup_seconds: 0
                operations_max: 80
                connections: 2
                targets:
                  - address: 127.0.0.1:\(cluster.edgePorts[0])
                ca: \(cluster.pki.caCertificatePath)
                operations: {create_auto_capture: 40, create_then_capture: 20, refund: 20, get: 10, idempotent_retry: 10}
                currencies: {USD: 3, EUR: 1, JPY: 1}
                cards: {approve: 45, decline: 45, three_ds: 10}
                amount_minor: [100, 20000]
                """
            let scenario = try LoadScenarioParser.parse(yaml)
            var options = LoadRunner.Options(scenario: scenario, apiKeys: [merchant.apiKey], runID: "mixed-\(UUID().uuidString.prefix(8))")
            let pid = getpid()
            options.watchedProcesses = [(pid, "test")]
            let result = try await LoadRunner(options).run()
            #expect(result.failed == 0, "\(LoadReport.text(result))")
            // A fixed number of operations, however slow the machine (CI runs every suite at once),
            // due over 2.7 s (80 at 30/s), so the timeline and memory series have several seconds.
            #expect(result.completed + result.failed == 80)
            #expect(result.retriesMismatched == 0 && result.state.retriesSamePayment > 0)
            let outcomes = Set(result.outcomeRows.map { "\($0.operation) \($0.status)" })
            #expect(outcomes.contains("create_auto_capture succeeded") && outcomes.contains("create_auto_capture failed"),
                    "approvals and declines: \(outcomes)")
            #expect(outcomes.contains("create_then_capture succeeded") && outcomes.contains("refund succeeded"))
            let stored = try await cluster.store.read { try await $0.listPayments(merchantID: merchant.merchantID, livemode: false, status: nil, after: nil, limit: 10_000) }
            let created = result.state.histograms.enumerated().filter { $0.offset != LoadScenario.Operation.get.index }.reduce(UInt64(0)) { $0 + $1.element.totalCount }
            #expect(UInt64(stored.count) >= created, "every measured create is a stored payment")
            #expect(try await cluster.core.ledger.verify().isValid)

            let json = try #require(try JSONSerialization.jsonObject(with: Data(LoadReport.json(result).utf8)) as? [String: Any])
            #expect(json["operations"] as? Int == result.completed && json["errors"] as? Int == 0)
            let latency = try #require(json["latency_ms"] as? [String: Any])
            #expect(latency["all"] != nil && latency["create_auto_capture"] != nil)
            #expect((json["timeline"] as? [Any])?.count ?? 0 >= 2)
            #expect((json["memory"] as? [[String: Any]])?.contains { ($0["rss_max_mib"] as? Double ?? 0) > 1 } == true)
            // This process ran the edge and the core of the cluster: it used CPU for every operation.
            let test = try #require((json["memory"] as? [[String: Any]])?.first { $0["process"] as? String == "test" })
            let cpuPerOperation = try #require(test["cpu_ms_per_operation"] as? Double, "CPU per operation reported: \(test)")
            #expect(cpuPerOperation > 0 && cpuPerOperation < 10_000)
            let busy = try #require(json["machine_busy_percent"] as? Double)
            #expect(busy > 0 && busy <= 100)
            let series = try #require(json["memory_series"] as? [[String: Any]])
            #expect(series.contains { ($0["rss_mib_by_second"] as? [[Double]])?.count ?? 0 >= 2 }, "RSS sampled every second")
            let html = LoadReport.html(result)
            #expect(html.contains("<svg") && html.contains("polyline") && html.contains("create_auto_capture"))
            #expect(!html.contains("http://") || html.contains("xmlns=\"http://www.w3.org/2000/svg\""), "self-contained: no external resources")
        }
    }

    /// The CPU counters the report divides by operations: utime + stime of /proc/PID/stat
    /// (fields counted after the name, which may hold spaces and parentheses), and the busy and
    /// total ticks of /proc/stat's `cpu` line.
    @Test func processAndMachineCPUCountersAreParsed() throws {
        let stat = "4242 (payrail (load) x) S 1 4242 4242 0 -1 4194560 9005 0 0 0 1234 567 0 0 20 0 9 0 100 1000000 2000"
        #expect(ProcessSampler.cpuTicks(statLine: stat) == 1234 + 567)
        #expect(ProcessSampler.cpuTicks(statLine: "garbage") == nil)
        let procStat = "cpu  100 5 50 800 40 3 2 7 0 0\ncpu0 50 2 25 400 20 1 1 3 0 0\nintr 1 2 3"
        let machine = try #require(ProcessSampler.machineTicks(procStat: procStat))
        #expect(machine.total == 100 + 5 + 50 + 800 + 40 + 3 + 2 + 7 && machine.busy == machine.total - 800 - 40)
        let own = try String(contentsOfFile: "/proc/self/stat", encoding: .utf8)
        #expect(ProcessSampler.cpuTicks(statLine: own) != nil, "this process's own counters: \(own)")
    }

    @Test func scenarioFilesAreValidatedWithTheField() throws {
        #expect(throws: LoadScenarioError.invalid("rate", "open mode needs a rate (requests per second)")) {
            try LoadScenarioParser.parse("mode: open\ntargets: [127.0.0.1:1]\nca: x")
        }
        #expect(throws: LoadScenarioError.invalid("colour", "unknown field")) { try LoadScenarioParser.parse("colour: blue") }
        #expect(throws: LoadScenarioError.invalid("targets", "name at least one edge (or region_map)")) {
            try LoadScenarioParser.parse("rate: 5").validate()
        }
        #expect(throws: LoadScenarioError.self) { try LoadScenarioParser.parse("targets: [127.0.0.1:1]\noperations: {fly: 1}") }
        #expect(throws: LoadScenarioError.invalid("targets[0]", "address must be host:port")) { try LoadScenarioParser.parse("targets: [nowhere]") }
        let parsed = try LoadScenarioParser.parse("rate: 500\ntargets: [{address: 127.0.0.1:9, weight: 3}, 127.0.0.1:10]")
        #expect(parsed.mode == .open(ratePerSecond: 500) && parsed.targets.map(\.weight) == [3, 1])
        // Connections follow the weights (largest remainder).
        let spread = LoadConnections.spread(parsed.targets, over: 8).map(\.port)
        #expect(spread.filter { $0 == 9 }.count == 6 && spread.filter { $0 == 10 }.count == 2)
    }
}
