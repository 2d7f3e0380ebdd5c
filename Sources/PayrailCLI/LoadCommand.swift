import ArgumentParser
import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import Logging
import PayrailLoad
import PayrailRuntime
import ServiceLifecycle

/// `payrail load`: drives edges with a scenario and reports latency percentiles, errors,
/// throughput over time and memory, optionally against the echo baseline measured just before.
struct LoadCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "load", abstract: "Load-test edges: open or closed loop, HdrHistogram percentiles, text/JSON/HTML reports.")

    @Option(help: "Scenario file (YAML, loadtest/scenarios/); flags below override its fields.") var scenario: String?
    @Option(help: "Edge to send to, host:port[=weight] (repeatable).") var target: [String] = []
    @Option(help: "An edge to ask for the region map: connections follow the live region weights.") var regionMap: String?
    @Option(help: "CA certificate of the edges.") var ca: String?
    @Option(help: "Merchant API key (repeatable).") var apiKey: [String] = []
    @Option(help: "File with one merchant API key per line.") var apiKeysFile: String?
    @Option(help: "Open loop at this many operations per second.") var rate: Int?
    @Flag(help: "Closed loop (overrides the scenario's mode).") var closed = false
    @Option(help: "Workers: in flight (closed) or most in flight (open).") var concurrency: Int?
    @Option(help: "HTTP/2 connections.") var connections: Int?
    @Option(help: "Seconds to run.") var duration: Int?
    @Option(help: "Seconds of warm-up left out of the summary.") var warmup: Int?
    @Option(help: "Stop after this many operations (even if --duration is not over).") var requests: Int?
    @Option(help: "Operation mix, e.g. create_auto_capture=70,get=30.") var operations: String?
    @Option(help: "Echo server (payrail echo) measured first, closed loop with the same workers and connections: the baseline.")
    var baselineTarget: String?
    @Option(help: "Seconds of the baseline run.") var baselineSeconds = 15
    @Option(help: "Process to sample memory and CPU of, pid[:name] (repeatable).") var watchPid: [String] = []
    @Option(help: "Process to sample during the baseline instead (the echo server), pid[:name] (repeatable).")
    var baselineWatchPid: [String] = []
    @Option(help: "Folder for report.txt, report.json and report.html.") var report = "load-report"
    @Flag(help: "Exit 1 if any operation failed or an idempotent retry returned another payment.") var requireZeroErrors = false

    func run() async throws {
        var scenario = LoadScenario()
        if let file = self.scenario {
            let text: String
            do { text = try String(contentsOfFile: file, encoding: .utf8) } catch { throw ValidationError("cannot read \(file)") }
            do { scenario = try LoadScenarioParser.parse(text) } catch { throw ValidationError("\(file): \(error)") }
        }
        do {
            if !target.isEmpty {
                scenario.targets = try target.map { entry in
                    let parts = entry.split(separator: "=", maxSplits: 1)
                    return try LoadScenarioParser.target(String(parts[0]), weight: parts.count == 2 ? Int(parts[1]) ?? 1 : 1, "--target")
                }
                scenario.regionMap = nil
            }
            if let regionMap { scenario.regionMap = try LoadScenarioParser.target(regionMap, weight: 1, "--region-map") }
            if let operations {
                scenario.operations = try operations.split(separator: ",").map { pair in
                    let parts = pair.split(separator: "=")
                    guard parts.count == 2, let operation = LoadScenario.Operation(rawValue: String(parts[0])), let weight = Int(parts[1]) else {
                        throw LoadScenarioError.invalid("--operations", "name=weight pairs, e.g. create_auto_capture=70,get=30")
                    }
                    return (operation, weight)
                }
            }
        } catch { throw ValidationError("\(error)") }
        if let ca { scenario.caPath = ca }
        if scenario.caPath == nil { scenario.caPath = ".payrail/tls/ca.pem" }
        if let rate { scenario.mode = .open(ratePerSecond: rate) }
        if closed { scenario.mode = .closed }
        if let concurrency { scenario.concurrency = concurrency }
        if let connections { scenario.connections = connections }
        if let duration { scenario.durationSeconds = duration }
        if let warmup { scenario.warmupSeconds = warmup }
        if let requests { scenario.maxOperations = requests }
        if warmup == nil, scenario.warmupSeconds >= scenario.durationSeconds { scenario.warmupSeconds = scenario.durationSeconds / 5 }
        do { try scenario.validate() } catch { throw ValidationError("\(error)") }

        var keys = apiKey
        if let apiKeysFile {
            guard let text = try? String(contentsOfFile: apiKeysFile, encoding: .utf8) else { throw ValidationError("cannot read \(apiKeysFile)") }
            keys += text.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        }
        let watched = try Self.processes(watchPid, "--watch-pid")
        let baselineWatched = try Self.processes(baselineWatchPid, "--baseline-watch-pid")
        let runID = "load-\(UnixClock.nowMs())"
        let progress: @Sendable (String) -> Void = { line in FileHandle.standardError.write(Data((line + "\n").utf8)) }

        var baseline: LoadResult.BaselineSummary?
        if let baselineTarget {
            var echo = scenario
            echo.name = scenario.name + " (echo baseline)"
            echo.mode = .closed
            echo.operations = [(.echo, 1)]
            echo.regionMap = nil
            do { echo.targets = [try LoadScenarioParser.target(baselineTarget, weight: 1, "--baseline-target")] } catch {
                throw ValidationError("\(error)")
            }
            echo.durationSeconds = max(2, baselineSeconds)
            echo.warmupSeconds = min(scenario.warmupSeconds, echo.durationSeconds / 3)
            FileHandle.standardError.write(Data("baseline: echo at \(baselineTarget), closed loop, \(echo.concurrency) in flight, \(echo.durationSeconds) s\n".utf8))
            var options = LoadRunner.Options(scenario: echo, apiKeys: [], runID: runID + "-echo")
            options.watchedProcesses = baselineWatched
            options.progress = progress
            let result = try await LoadRunner(options).run()
            baseline = result.summaryAsBaseline()
            print(LoadReport.text(result))
            print("")
        }

        FileHandle.standardError.write(Data("run: \(scenario.name)\n".utf8))
        var options = LoadRunner.Options(scenario: scenario, apiKeys: keys, runID: runID)
        options.watchedProcesses = watched
        options.progress = progress
        var result = try await LoadRunner(options).run()
        result.baseline = baseline
        let text = LoadReport.text(result)
        print(text)
        try FileManager.default.createDirectory(atPath: report, withIntermediateDirectories: true)
        try text.write(toFile: report + "/report.txt", atomically: true, encoding: .utf8)
        try LoadReport.json(result).write(toFile: report + "/report.json", atomically: true, encoding: .utf8)
        try LoadReport.html(result).write(toFile: report + "/report.html", atomically: true, encoding: .utf8)
        print("\nreports: \(report)/report.txt, report.json, report.html")
        if requireZeroErrors && (result.failed > 0 || result.retriesMismatched > 0) {
            throw ExitCode(1)
        }
    }

    /// `pid[:name]` entries of a repeatable option.
    private static func processes(_ entries: [String], _ option: String) throws -> [(pid: Int32, name: String)] {
        try entries.map { entry in
            let parts = entry.split(separator: ":", maxSplits: 1)
            guard let first = parts.first, let pid = Int32(first) else { throw ValidationError("\(option) takes pid[:name]") }
            return (pid, parts.count == 2 ? String(parts[1]) : "pid \(pid)")
        }
    }
}

/// `payrail echo`: the baseline server for `payrail load --baseline-target`.
struct EchoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "echo", abstract: "Serve the trivial echo call on the edge's TLS stack (the load tool's baseline).")
    @Option(help: "Folder holding the dev certificates (tls/).") var dataDir = ".payrail"
    @Option(help: "Listen port (TLS).") var port = 50071
    @Option(help: "Listen address.") var host = "127.0.0.1"
    @Flag(help: """
        Serve the null core instead: the core's mutual-TLS internal API answering CreatePayment at once with no \
        logic or store, for an edge to forward to (measures the machinery's ceiling; never a product).
        """)
    var nullCore = false

    func run() async throws {
        let pki = try DevPKI(directory: dataDir + "/tls").ensure()
        let server: GRPCServer<HTTP2ServerTransport.Posix>
        if nullCore {
            server = NullCoreServer.make(host: host, port: port, certificatePath: pki.certificatePath(.core),
                                         keyPath: pki.privateKeyPath(.core), caPath: pki.caCertificatePath)
            print("null core listening on \(host):\(port) (mutual TLS, CA \(pki.caCertificatePath))")
        } else {
            server = EchoServer.make(host: host, port: port, certificatePath: pki.certificatePath(.edge), keyPath: pki.privateKeyPath(.edge))
            print("echo listening on \(host):\(port) (TLS, CA \(pki.caCertificatePath))")
        }
        fflush(nil)
        let group = ServiceGroup(configuration: .init(services: [.init(service: GRPCServerService(server: server))],
                                                      gracefulShutdownSignals: [.sigterm, .sigint], logger: Logger(label: "payrail.echo")))
        try await group.run()
    }
}
