/// The reports of a run: text, JSON and a self-contained HTML page with inline SVG charts.
/// Built off the hot path, by hand (no Foundation JSON), so the output is stable and diffable.
public enum LoadReport {
    // MARK: Text

    public static func text(_ result: LoadResult) -> String {
        var lines: [String] = []
        lines.append("scenario \(result.scenario.name): \(result.modeDescription), \(result.scenario.connections) TLS connections to "
                     + result.targets.map { "\($0.host):\($0.port)" }.joined(separator: ", "))
        lines.append("measured \(fixed(result.measuredSeconds, 1)) s after a \(result.scenario.warmupSeconds) s warm-up: "
                     + "\(result.completed) operations, \(fixed(result.throughputPerSecond, 0))/s, \(result.failed) errors")
        if let baseline = result.baseline, let ratio = result.ratioToBaseline {
            lines.append("baseline (echo on the same TLS stack, \(baseline.target)): \(fixed(baseline.throughputPerSecond, 0))/s, "
                         + "p99 \(formatMs(baseline.p99Us)), \(baseline.errors) errors -> this run is \(fixed(ratio * 100, 1)) % of it")
        }
        lines.append("")
        lines.append("operation               count      mean       p50       p90       p99     p99.9       max")
        for row in result.operationRows {
            lines.append(row.name.padding(20) + pad(Int(row.count), 9) + formatMs(UInt64(row.meanUs)).leftPad(10) + formatMs(row.p50).leftPad(10)
                         + formatMs(row.p90).leftPad(10) + formatMs(row.p99).leftPad(10) + formatMs(row.p999).leftPad(10) + formatMs(row.max).leftPad(10))
        }
        if !result.outcomeRows.isEmpty {
            lines.append("")
            lines.append("outcomes: " + result.outcomeRows.map { "\($0.operation) \($0.status) \($0.count)" }.joined(separator: ", "))
        }
        if result.state.retriesSamePayment + result.state.retriesMismatched > 0 {
            lines.append("idempotent retries: \(result.state.retriesSamePayment) returned the same payment, \(result.state.retriesMismatched) did not")
        }
        if !result.errorRows.isEmpty {
            lines.append("")
            lines.append("errors by operation, gRPC status and reason:")
            for row in result.errorRows { lines.append("  \(row.operation) \(row.status) \(row.reason): \(row.count)") }
        }
        if !result.processRows.isEmpty {
            lines.append("")
            lines.append("resident memory (MiB): process, max, after warm-up, at the end")
            for row in result.processRows {
                lines.append("  \(row.name) (pid \(row.pid)): \(mib(row.maxKiB)), \(mib(row.afterWarmupKiB)), \(mib(row.endKiB))")
            }
            let cpuRows = result.processRows.compactMap { row in row.cpu.map { (row, $0) } }
            if !cpuRows.isEmpty {
                lines.append("CPU after warm-up: process, % of one core, ms per operation")
                for (row, cpu) in cpuRows {
                    lines.append("  \(row.name) (pid \(row.pid)): \(fixed(cpu.percentOfOneCore, 1)) %, \(fixed(cpu.msPerOperation, 3)) ms")
                }
                if let busy = result.machineBusyPercent {
                    lines.append("  machine: \(fixed(busy, 1)) % busy (all CPUs, every process on it)")
                }
            }
        }
        return lines.joined(separator: "\n")
    }

    // MARK: JSON

    public static func json(_ result: LoadResult) -> String {
        let out = JSONWriter()
        out.object {
            out.field("scenario", result.scenario.name)
            out.field("mode", { if case .open = result.scenario.mode { "open" } else { "closed" } }())
            if case .open(let rate) = result.scenario.mode { out.field("target_rate_per_s", rate) }
            out.field("concurrency", result.scenario.concurrency)
            out.field("connections", result.scenario.connections)
            out.field("duration_s", result.scenario.durationSeconds)
            out.field("warmup_s", result.scenario.warmupSeconds)
            out.field("started_at_ms", Int(result.startedAtMs))
            out.array("targets") { for target in result.targets { out.element("\(target.host):\(target.port)") } }
            out.field("measured_s", result.measuredSeconds)
            out.field("operations", result.completed)
            out.field("errors", result.failed)
            out.field("throughput_per_s", result.throughputPerSecond)
            if let busy = result.machineBusyPercent { out.field("machine_busy_percent", busy) }
            if let baseline = result.baseline {
                out.objectField("baseline") {
                    out.field("target", baseline.target)
                    out.field("throughput_per_s", baseline.throughputPerSecond)
                    out.field("p99_ms", Double(baseline.p99Us) / 1000)
                    out.field("errors", baseline.errors)
                }
                out.field("ratio_to_baseline", result.ratioToBaseline ?? 0)
            }
            out.objectField("latency_ms") {
                for row in result.operationRows {
                    out.objectField(row.name) {
                        out.field("count", Int(row.count))
                        out.field("mean", row.meanUs / 1000)
                        out.field("p50", Double(row.p50) / 1000)
                        out.field("p90", Double(row.p90) / 1000)
                        out.field("p99", Double(row.p99) / 1000)
                        out.field("p99_9", Double(row.p999) / 1000)
                        out.field("max", Double(row.max) / 1000)
                    }
                }
            }
            out.array("outcomes") {
                for row in result.outcomeRows {
                    out.elementObject {
                        out.field("operation", row.operation)
                        out.field("status", row.status)
                        out.field("count", row.count)
                    }
                }
            }
            out.field("idempotent_retries_same_payment", result.state.retriesSamePayment)
            out.field("idempotent_retries_mismatched", result.state.retriesMismatched)
            out.array("errors_by_status") {
                for row in result.errorRows {
                    out.elementObject {
                        out.field("operation", row.operation)
                        out.field("grpc_status", row.status)
                        out.field("reason", row.reason)
                        out.field("count", row.count)
                    }
                }
            }
            out.array("timeline") {
                for sample in result.timeline {
                    out.elementObject {
                        out.field("second", sample.second)
                        out.field("completed", sample.completed)
                        out.field("errors", sample.errors)
                        out.field("p50_ms", Double(sample.p50Us) / 1000)
                        out.field("p90_ms", Double(sample.p90Us) / 1000)
                        out.field("p99_ms", Double(sample.p99Us) / 1000)
                        out.field("max_ms", Double(sample.maxUs) / 1000)
                        out.field("in_flight", sample.inFlight)
                    }
                }
            }
            out.array("memory") {
                for row in result.processRows {
                    out.elementObject {
                        out.field("process", row.name)
                        out.field("pid", Int(row.pid))
                        out.field("rss_max_mib", Double(row.maxKiB) / 1024)
                        out.field("rss_after_warmup_mib", Double(row.afterWarmupKiB) / 1024)
                        out.field("rss_end_mib", Double(row.endKiB) / 1024)
                        if let cpu = row.cpu {
                            out.field("cpu_percent_of_one_core", cpu.percentOfOneCore)
                            out.field("cpu_ms_per_operation", cpu.msPerOperation)
                        }
                    }
                }
            }
            out.array("memory_series") {
                for series in result.processes {
                    out.elementObject {
                        out.field("process", series.name)
                        out.array("rss_mib_by_second") {
                            for (second, kib) in series.samples { out.element(pair: second, fixed(Double(kib) / 1024, 1)) }
                        }
                    }
                }
            }
        }
        return out.text + "\n"
    }

    // MARK: HTML

    public static func html(_ result: LoadResult) -> String {
        let timeline = result.timeline
        let warmup = Double(result.scenario.warmupSeconds)
        let throughput = LineChart(title: "Throughput (operations completed per second)", unit: "/s", warmupSecond: warmup,
                                   series: [("completed", "#2563eb", timeline.map { (Double($0.second), Double($0.completed)) }),
                                            ("errors", "#dc2626", timeline.map { (Double($0.second), Double($0.errors)) })])
        let latency = LineChart(title: "Latency per second (ms; open loop: from the intended send time)", unit: " ms", warmupSecond: warmup,
                                series: [("p50", "#16a34a", timeline.map { (Double($0.second), Double($0.p50Us) / 1000) }),
                                         ("p90", "#ca8a04", timeline.map { (Double($0.second), Double($0.p90Us) / 1000) }),
                                         ("p99", "#dc2626", timeline.map { (Double($0.second), Double($0.p99Us) / 1000) }),
                                         ("max", "#6b7280", timeline.map { (Double($0.second), Double($0.maxUs) / 1000) })])
        let colors = ["#7c3aed", "#0891b2", "#6b7280", "#ea580c"]
        let memoryChart = LineChart(title: "Resident memory (MiB)", unit: "", warmupSecond: warmup,
                                    series: result.processes.enumerated().map { index, series in
                                        (series.name, colors[index % colors.count], series.samples.map { (Double($0.0), Double($0.1) / 1024) })
                                    })
        var rows = ""
        for row in result.operationRows {
            rows += "<tr><td>\(escape(row.name))</td><td>\(row.count)</td><td>\(formatMs(UInt64(row.meanUs)))</td><td>\(formatMs(row.p50))</td>"
                + "<td>\(formatMs(row.p90))</td><td>\(formatMs(row.p99))</td><td>\(formatMs(row.p999))</td><td>\(formatMs(row.max))</td></tr>\n"
        }
        var errors = ""
        for row in result.errorRows {
            errors += "<tr><td>\(escape(row.operation))</td><td>\(escape(row.status))</td><td>\(escape(row.reason))</td><td>\(row.count)</td></tr>\n"
        }
        var processRows = ""
        for row in result.processRows {
            let cpu = row.cpu.map { "<td>\(fixed($0.percentOfOneCore, 1)) %</td><td>\(fixed($0.msPerOperation, 3)) ms</td>" } ?? "<td></td><td></td>"
            processRows += "<tr><td>\(escape(row.name)) (pid \(row.pid))</td><td>\(mib(row.maxKiB))</td><td>\(mib(row.afterWarmupKiB))</td><td>\(mib(row.endKiB))</td>\(cpu)</tr>\n"
        }
        let machineBusy = result.machineBusyPercent.map { "<p>The machine after warm-up: \(fixed($0, 1)) % busy (all CPUs, every process on it).</p>" } ?? ""
        let baseline = result.baseline.map { baseline in
            "<p>Baseline: echo on the same TLS stack (\(escape(baseline.target))): <b>\(fixed(baseline.throughputPerSecond, 0))/s</b>, "
                + "p99 \(formatMs(baseline.p99Us)). This run: <b>\(fixed((result.ratioToBaseline ?? 0) * 100, 1)) %</b> of it.</p>"
        } ?? ""
        return """
            <!doctype html>
            <html><head><meta charset="utf-8"><title>payrail load: \(escape(result.scenario.name))</title>
            <style>body{font:14px system-ui,sans-serif;margin:2em;color:#111}table{border-collapse:collapse;margin:1em 0}
            td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}td:first-child,th:first-child{text-align:left}
            svg{background:#fafafa;border:1px solid #ddd;margin:0.5em 0}</style></head><body>
            <h1>payrail load: \(escape(result.scenario.name))</h1>
            <p>\(escape(result.modeDescription)); \(result.scenario.connections) TLS connections to \(escape(result.targets.map { "\($0.host):\($0.port)" }.joined(separator: ", "))).
            Measured \(fixed(result.measuredSeconds, 1)) s after a \(result.scenario.warmupSeconds) s warm-up (shaded):
            <b>\(result.completed)</b> operations, <b>\(fixed(result.throughputPerSecond, 0))/s</b>, <b>\(result.failed)</b> errors.</p>
            \(baseline)
            \(throughput.svg())
            \(latency.svg())
            <h2>Latency by operation (after warm-up)</h2>
            <table><tr><th>operation</th><th>count</th><th>mean</th><th>p50</th><th>p90</th><th>p99</th><th>p99.9</th><th>max</th></tr>
            \(rows)</table>
            <h2>Errors by gRPC status and reason</h2>
            <table><tr><th>operation</th><th>status</th><th>reason</th><th>count</th></tr>
            \(errors.isEmpty ? "<tr><td colspan=4>none</td></tr>" : errors)</table>
            <h2>Resident memory (MiB) and CPU</h2>
            \(memoryChart.svg())
            <table><tr><th>process</th><th>RSS max</th><th>RSS after warm-up</th><th>RSS at the end</th><th>CPU after warm-up (one core = 100 %)</th><th>CPU per operation</th></tr>
            \(processRows)</table>
            \(machineBusy)
            </body></html>

            """
    }

    static func escape(_ text: String) -> String {
        var out = ""
        for character in text {
            switch character {
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "&": out += "&amp;"
            case "\"": out += "&quot;"
            default: out.append(character)
            }
        }
        return out
    }
}

/// A line chart as inline SVG: seconds on x, values on y from zero, warm-up shaded.
struct LineChart {
    var title: String
    var unit: String
    var warmupSecond: Double
    var series: [(name: String, color: String, points: [(Double, Double)])]

    func svg(width: Double = 900, height: Double = 280) -> String {
        let left = 60.0, right = 20.0, top = 30.0, bottom = 40.0
        let xs = series.flatMap { $0.points.map(\.0) }
        let ys = series.flatMap { $0.points.map(\.1) }
        let maxX = max(1, xs.max() ?? 1)
        let maxY = niceCeiling(max(ys.max() ?? 1, 1e-9))
        func px(_ x: Double) -> Double { left + x / maxX * (width - left - right) }
        func py(_ y: Double) -> Double { height - bottom - y / maxY * (height - top - bottom) }
        var out = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(width))\" height=\"\(Int(height))\" viewBox=\"0 0 \(Int(width)) \(Int(height))\">\n"
        out += "<text x=\"\(Int(left))\" y=\"18\" font-size=\"14\">\(LoadReport.escape(title))</text>\n"
        if warmupSecond > 0 {
            out += "<rect x=\"\(fixed(px(0), 1))\" y=\"\(Int(top))\" width=\"\(fixed(px(min(warmupSecond, maxX)) - px(0), 1))\" height=\"\(Int(height - top - bottom))\" fill=\"#eee\"/>\n"
        }
        for tick in 0...4 {
            let value = maxY * Double(tick) / 4
            let y = py(value)
            out += "<line x1=\"\(Int(left))\" x2=\"\(Int(width - right))\" y1=\"\(fixed(y, 1))\" y2=\"\(fixed(y, 1))\" stroke=\"#ddd\"/>"
            out += "<text x=\"\(Int(left) - 6)\" y=\"\(fixed(y + 4, 1))\" font-size=\"11\" text-anchor=\"end\">\(fixed(value, value < 10 ? 2 : 0))\(unit)</text>\n"
        }
        let step = max(1, Int(maxX / 10))
        for second in stride(from: 0, through: Int(maxX), by: step) {
            out += "<text x=\"\(fixed(px(Double(second)), 1))\" y=\"\(Int(height - bottom + 16))\" font-size=\"11\" text-anchor=\"middle\">\(second)s</text>"
        }
        out += "\n"
        for (index, line) in series.enumerated() where !line.points.isEmpty {
            let path = line.points.map { "\(fixed(px($0.0), 1)),\(fixed(py($0.1), 1))" }.joined(separator: " ")
            out += "<polyline fill=\"none\" stroke=\"\(line.color)\" stroke-width=\"1.5\" points=\"\(path)\"/>\n"
            out += "<text x=\"\(Int(width - right - 90))\" y=\"\(Int(top) + 14 * (index + 1))\" font-size=\"12\" fill=\"\(line.color)\">\(line.name)</text>\n"
        }
        out += "</svg>"
        return out
    }

    private func niceCeiling(_ value: Double) -> Double {
        var magnitude = 1.0
        while magnitude * 10 <= value { magnitude *= 10 }
        while magnitude > value { magnitude /= 10 }
        for factor in [1.0, 2.0, 2.5, 5.0, 10.0] where magnitude * factor >= value { return magnitude * factor }
        return magnitude * 10
    }
}

/// A minimal JSON writer for the report.
final class JSONWriter {
    private(set) var text = ""
    private var needsComma = [false]

    private func separator() {
        if needsComma[needsComma.count - 1] { text += "," }
        needsComma[needsComma.count - 1] = true
    }

    private func key(_ name: String) {
        separator()
        text += Self.quote(name) + ":"
    }

    func object(_ body: () -> Void) {
        text += "{"
        needsComma.append(false)
        body()
        needsComma.removeLast()
        text += "}"
    }

    func objectField(_ name: String, _ body: () -> Void) {
        key(name)
        object(body)
    }

    func elementObject(_ body: () -> Void) {
        separator()
        object(body)
    }

    func array(_ name: String, _ body: () -> Void) {
        key(name)
        text += "["
        needsComma.append(false)
        body()
        needsComma.removeLast()
        text += "]"
    }

    func element(pair first: Int, _ second: String) {
        separator()
        text += "[\(first),\(second)]"
    }

    func element(_ value: String) {
        separator()
        text += Self.quote(value)
    }

    func field(_ name: String, _ value: String) {
        key(name)
        text += Self.quote(value)
    }

    func field(_ name: String, _ value: Int) {
        key(name)
        text += String(value)
    }

    func field(_ name: String, _ value: Double) {
        key(name)
        text += value.isFinite ? fixed(value, 3) : "null"
    }

    static func quote(_ value: String) -> String {
        var out = "\""
        for scalar in value.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if scalar.value < 0x20 {
                    let hex = String(scalar.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out + "\""
    }
}

/// A decimal with `digits` fraction digits, without Foundation.
func fixed(_ value: Double, _ digits: Int) -> String {
    guard value.isFinite else { return "0" }
    var scale = 1.0
    for _ in 0..<digits { scale *= 10 }
    let scaled = (abs(value) * scale).rounded()
    let whole = Int(scaled / scale)
    let fraction = Int(scaled) - whole * Int(scale)
    let sign = value < 0 && scaled != 0 ? "-" : ""
    guard digits > 0 else { return sign + String(whole) }
    let fractionText = String(fraction)
    return sign + String(whole) + "." + String(repeating: "0", count: digits - fractionText.count) + fractionText
}

func mib(_ kib: Int) -> String { fixed(Double(kib) / 1024, 1) }

extension String {
    func padding(_ width: Int) -> String { self + String(repeating: " ", count: max(0, width - count)) }
    func leftPad(_ width: Int) -> String { String(repeating: " ", count: max(0, width - count)) + self }
}
