import ArgumentParser
import Foundation
import Logging
import PayrailCore
import PayrailDomain
import PayrailRuntime
import PayrailStore
import Synchronization

/// `payrail bench ledger`: ledger write throughput with every payment crediting ONE merchant
/// account (the hot-account case), many concurrent callers. On PostgreSQL it measures the plain
/// path (one database transaction per payment: two entries, two balance updates) and group
/// commit (`PostgresLedgerPoster`) in the same run and reports the ratio; it also reports both
/// stores' general write path (group-commit lanes, what the payment service uses). A benchmark, not a test: numbers depend on the machine.
struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "bench", abstract: "Benchmarks.", subcommands: [LedgerBench.self, RiskBench.self, VaultBench.self])
}

struct LedgerBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "ledger", abstract: "Ledger posting throughput on a hot account.")

    @Option(help: "PostgreSQL URL (a scratch database: the benchmark writes into it).") var postgres: String?
    @Option(help: "Concurrent callers.") var callers = 64
    @Option(help: "Seconds per phase.") var seconds = 10
    @Option(help: "Folder for the SQLite file.") var dataDir = "/tmp/payrail-bench"
    @Flag(name: .customLong("skip-sqlite"), help: "Skip the SQLite phase.") var skipSQLite = false
    @Option(help: "Connection pool sizes to run the one-transaction-per-payment baseline with (comma-separated); the best is the baseline.")
    var baselineConnections = "64,8"
    @Option(help: "Group-commit batches in flight at once.") var committers = 2

    struct PhaseResult: CustomStringConvertible {
        let name: String
        let count: Int
        let failures: Int
        let elapsedSeconds: Double
        let latenciesUs: [Int64]

        var perSecond: Double { Double(count) / elapsedSeconds }
        func percentile(_ p: Double) -> Double {
            guard !latenciesUs.isEmpty else { return 0 }
            return Double(latenciesUs[min(latenciesUs.count - 1, Int(Double(latenciesUs.count) * p))]) / 1000
        }
        var description: String {
            String(format: "%@: %d payments in %.1f s = %.0f payments/s, failures %d, latency p50 %.2f ms, p99 %.2f ms, max %.2f ms",
                   name, count, elapsedSeconds, perSecond, failures, percentile(0.5), percentile(0.99), percentile(1.0))
        }
    }

    func run() async throws {
        var logger = Logger(label: "payrail.bench")
        logger.logLevel = .warning
        print("ledger benchmark: \(callers) callers, \(seconds) s per phase, every payment credits one merchant account")
        if let postgres {
            guard let location = PostgresStore.Location(url: postgres) else { throw ValidationError("bad --postgres URL") }
            // The baseline at each pool size: with as many connections as callers they all queue
            // on the hot balance row's lock; a small pool queues them in the client instead.
            var baselines: [PhaseResult] = []
            for connections in baselineConnections.split(separator: ",").compactMap({ Int($0.trimmingCharacters(in: .whitespaces)) }) {
                let store = try await PostgresStore.open(location, maximumConnections: connections + 2, logger: logger)
                let poster = PostgresLedgerPoster(store: store, logger: logger)
                let result = try await phase("postgres, one transaction per payment (2 entries, 2 balance updates), \(connections) connections",
                                             tag: "p\(connections)_\(UnixClock.nowMs())") {
                    try await poster.postUnbatched($0)
                }
                print(result)
                baselines.append(result)
                await poster.shutdown()
                try await store.close()
            }
            guard let plain = baselines.max(by: { $0.perSecond < $1.perSecond }) else { throw ValidationError("no --baseline-connections") }
            let store = try await PostgresStore.open(location, maximumConnections: callers, logger: logger)
            let poster = PostgresLedgerPoster(store: store, committers: committers, logger: logger)
            let grouped = try await phase("postgres, group commit", tag: "g\(UnixClock.nowMs())") { try await poster.post($0) }
            print(grouped)
            print(String(format: "group commit / best one-per-transaction = %.1fx (%d batches, %.0f postings per batch)",
                         grouped.perSecond / plain.perSecond, poster.batchesCommitted,
                         Double(grouped.count) / Double(max(1, poster.batchesCommitted))))
            let storePath = try await phase("postgres, store write path (group commit lanes, each writer rolls back alone)", tag: "w\(UnixClock.nowMs())") { posting in
                try await store.write { try await $0.appendLedgerTransaction(posting) }
            }
            print(storePath)
            print("postgres store: \(store.groupCommitStatistics)")
            await poster.shutdown()
            let report = try await LedgerVerifier(store: store).verify()
            print(report.isValid ? "verify: OK (\(report.transactions) transactions)" : "verify FAILED:\n\(report)")
            try await store.close()
        }
        if !skipSQLite {
            try FileManager.default.createDirectory(atPath: dataDir, withIntermediateDirectories: true)
            let path = dataDir + "/bench-\(UnixClock.nowMs()).sqlite"
            let store = try await SQLiteStore.open(path: path)
            let result = try await phase("sqlite, store write path (group commit)", tag: "s") { posting in
                try await store.write { try await $0.appendLedgerTransaction(posting) }
            }
            print(result)
            print("sqlite store: \(store.groupCommitStatistics)")
            try await store.close()
            for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) }
        }
    }

    private func phase(_ name: String, tag: String, _ post: @escaping @Sendable (LedgerTransaction) async throws -> Void) async throws -> PhaseResult {
        let hot = LedgerAccount.merchantAvailable("acct_hot", livemode: false, .usd)
        let receivable = LedgerAccount.processorReceivable("cardsim", livemode: false, .usd)
        let deadline = ContinuousClock.now + .seconds(seconds)
        let started = ContinuousClock.now
        let perCaller = try await withThrowingTaskGroup(of: ([Int64], Int).self) { group in
            for caller in 0..<callers {
                group.addTask {
                    var latencies: [Int64] = []
                    var failures = 0
                    var sequence = 0
                    while ContinuousClock.now < deadline {
                        sequence += 1
                        let posting = try LedgerTransaction(
                            id: "ltx_\(tag)_\(caller)_\(sequence)", kind: .capture, resourceID: "pay_\(tag)_\(caller)_\(sequence)",
                            entries: [.debit(receivable, 1_000), .credit(hot, 1_000)], createdAtMs: UnixClock.nowMs())
                        let start = ContinuousClock.now
                        do {
                            try await post(posting)
                            latencies.append((ContinuousClock.now - start).wholeMicroseconds)
                        } catch {
                            failures += 1
                        }
                    }
                    return (latencies, failures)
                }
            }
            return try await group.reduce(into: [([Int64], Int)]()) { $0.append($1) }
        }
        let elapsed = ContinuousClock.now - started
        let latencies = perCaller.flatMap(\.0).sorted()
        return PhaseResult(name: name, count: latencies.count, failures: perCaller.map(\.1).reduce(0, +),
                           elapsedSeconds: Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18,
                           latenciesUs: latencies)
    }
}
