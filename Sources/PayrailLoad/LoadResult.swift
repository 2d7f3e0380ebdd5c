import Histogram

/// What one run measured, and its reports: text for the terminal, JSON for tools, and a
/// self-contained HTML page with SVG charts (latency percentiles and throughput over time).
public struct LoadResult: Sendable {
    public let scenario: LoadScenario
    public let targets: [LoadScenario.Target]
    public let startedAtMs: Int64
    /// From the end of the warm-up to the last answer.
    public let measuredSeconds: Double
    let state: LoadRecorder.State
    /// Each watched process's memory and CPU, second by second.
    let processes: [ProcessSampler.Series]
    /// The whole machine's CPU time, sampled with the processes.
    let machine: [ProcessSampler.MachineSample]
    /// The echo baseline measured in the same session, if any.
    public var baseline: BaselineSummary?

    /// The echo ceiling a run is compared with.
    public struct BaselineSummary: Sendable {
        public var target: String
        public var throughputPerSecond: Double
        public var p99Us: UInt64
        public var errors: Int
    }

    public var completed: Int { state.completed }
    public var failed: Int { state.failed }
    public var throughputPerSecond: Double { Double(state.completed) / measuredSeconds }
    public var retriesMismatched: Int { state.retriesMismatched }

    /// Latency percentiles of all measured operations together.
    public var overall: Histogram<UInt64> {
        var total = LoadRecorder.newHistogram()
        for histogram in state.histograms where histogram.totalCount > 0 { total.add(histogram) }
        return total
    }

    public var ratioToBaseline: Double? {
        guard let baseline, baseline.throughputPerSecond > 0 else { return nil }
        return throughputPerSecond / baseline.throughputPerSecond
    }

    public func summaryAsBaseline() -> BaselineSummary {
        BaselineSummary(target: targets.map { "\($0.host):\($0.port)" }.joined(separator: ","), throughputPerSecond: throughputPerSecond,
                        p99Us: overall.totalCount == 0 ? 0 : overall.valueAtPercentile(99), errors: failed)
    }

    struct OperationRow {
        var name: String
        var count: UInt64
        var meanUs: Double
        var p50: UInt64, p90: UInt64, p99: UInt64, p999: UInt64, max: UInt64
    }

    var operationRows: [OperationRow] {
        var rows: [OperationRow] = []
        for operation in LoadScenario.Operation.allCases {
            let histogram = state.histograms[operation.index]
            guard histogram.totalCount > 0 else { continue }
            rows.append(Self.row(operation.rawValue, histogram))
        }
        if rows.count > 1 { rows.append(Self.row("all", overall)) }
        return rows
    }

    static func row(_ name: String, _ histogram: Histogram<UInt64>) -> OperationRow {
        OperationRow(name: name, count: histogram.totalCount, meanUs: histogram.mean, p50: histogram.valueAtPercentile(50),
                     p90: histogram.valueAtPercentile(90), p99: histogram.valueAtPercentile(99), p999: histogram.valueAtPercentile(99.9),
                     max: histogram.max)
    }

    var outcomeRows: [(operation: String, status: String, count: Int)] {
        var rows: [(String, String, Int)] = []
        for operation in LoadScenario.Operation.allCases {
            for (status, count) in state.outcomes[operation.index].enumerated() where count > 0 {
                rows.append((operation.rawValue, Self.statusName(status), count))
            }
        }
        return rows
    }

    var errorRows: [(operation: String, status: String, reason: String, count: Int)] {
        state.errors.map { ($0.key.operation.rawValue, $0.key.status, $0.key.reason, $0.value) }
            .sorted { ($0.3, $0.0, $0.1) > ($1.3, $1.0, $1.1) }
    }

    struct ProcessRow {
        var name: String
        var pid: Int32
        var maxKiB: Int
        var afterWarmupKiB: Int
        var endKiB: Int
        /// After the warm-up: CPU time as a share of one core, and per completed operation.
        var cpu: CPUUse?
    }

    struct CPUUse {
        var percentOfOneCore: Double
        var msPerOperation: Double
    }

    var processRows: [ProcessRow] {
        processes.compactMap { series in
            guard let last = series.samples.last else { return nil }
            let afterWarmup = series.samples.first { $0.0 > scenario.warmupSeconds }?.1 ?? last.1
            return ProcessRow(name: series.name, pid: series.pid, maxKiB: series.samples.map(\.1).max() ?? 0,
                             afterWarmupKiB: afterWarmup, endKiB: last.1, cpu: cpuUse(series.cpuTicks))
        }
    }

    /// The measured window of per-second samples: from the last one at or before the end of the
    /// warm-up (the first one if none) to the last one.
    private func measuredWindow<Sample>(_ samples: [Sample], second: (Sample) -> Int) -> (first: Sample, last: Sample)? {
        guard let last = samples.last else { return nil }
        let first = samples.last { second($0) <= scenario.warmupSeconds } ?? samples[0]
        guard second(last) > second(first) else { return nil }
        return (first, last)
    }

    /// A process's CPU over the measured window; operations in it estimated at the measured
    /// throughput (the window is whole seconds of the same run).
    func cpuUse(_ ticks: [(Int, Int)]) -> CPUUse? {
        guard let (first, last) = measuredWindow(ticks, second: \.0) else { return nil }
        let seconds = Double(last.0 - first.0)
        let cpuSeconds = Double(last.1 - first.1) / Double(ProcessSampler.ticksPerSecond)
        let operations = throughputPerSecond * seconds
        return CPUUse(percentOfOneCore: 100 * cpuSeconds / seconds, msPerOperation: operations > 0 ? 1000 * cpuSeconds / operations : 0)
    }

    /// How busy the whole machine was over the measured window, as a share of all its CPUs.
    var machineBusyPercent: Double? {
        guard let (first, last) = measuredWindow(machine, second: \.second), last.totalTicks > first.totalTicks else { return nil }
        return 100 * Double(last.busyTicks - first.busyTicks) / Double(last.totalTicks - first.totalTicks)
    }

    var timeline: [LoadRecorder.Interval] { state.timeline }

    /// Payrail_V1_PaymentStatus raw values, as the API names them.
    static func statusName(_ raw: Int) -> String {
        switch raw {
        case 1: "requires_action"
        case 2: "requires_capture"
        case 3: "processing"
        case 4: "succeeded"
        case 5: "canceled"
        case 6: "failed"
        case 7: "requires_review"
        default: "status_\(raw)"
        }
    }

    var modeDescription: String {
        switch scenario.mode {
        case .open(let rate): "open loop, \(rate)/s target rate, up to \(scenario.concurrency) in flight"
        case .closed: "closed loop, \(scenario.concurrency) in flight"
        }
    }
}
