import Foundation
import Synchronization

/// Samples, once a second, the resident memory (VmRSS from /proc/PID/status) and the CPU time
/// used so far (utime + stime from /proc/PID/stat) of the watched processes and of the load
/// tool itself, and the whole machine's busy and total CPU time (/proc/stat): the 300 MB
/// ceiling, growth after warm-up, and what each process spends per operation.
final class ProcessSampler: Sendable {
    struct Series: Sendable {
        var pid: Int32
        var name: String
        /// (second, RSS in KiB)
        var samples: [(Int, Int)]
        /// (second, CPU time used since the process started, in clock ticks)
        var cpuTicks: [(Int, Int)] = []
    }

    /// The machine's CPU time at one second: busy (everything but idle and I/O wait) and total,
    /// in clock ticks summed over all CPUs.
    struct MachineSample: Sendable {
        var second: Int
        var busyTicks: Int
        var totalTicks: Int
    }

    /// Clock ticks per second of the /proc counters.
    static let ticksPerSecond = max(1, sysconf(Int32(_SC_CLK_TCK)))

    private let processes: [(pid: Int32, name: String)]
    private let state: Mutex<(series: [Series], machine: [MachineSample])>

    init(processes: [(pid: Int32, name: String)]) {
        let all = processes + [(getpid(), "payrail load")]
        self.processes = all
        state = Mutex((all.map { Series(pid: $0.pid, name: $0.name, samples: []) }, []))
    }

    func sample(second: Int) {
        let memory = processes.map { Self.residentKiB(pid: $0.pid) }
        let cpu = processes.map { Self.readFile("/proc/\($0.pid)/stat").flatMap(Self.cpuTicks(statLine:)) }
        let machine = Self.readFile("/proc/stat").flatMap(Self.machineTicks(procStat:))
        state.withLock { state in
            for index in processes.indices {
                if let value = memory[index] { state.series[index].samples.append((second, value)) }
                if let value = cpu[index] { state.series[index].cpuTicks.append((second, value)) }
            }
            if let machine { state.machine.append(MachineSample(second: second, busyTicks: machine.busy, totalTicks: machine.total)) }
        }
    }

    var series: [Series] { state.withLock { $0.series } }
    var machine: [MachineSample] { state.withLock { $0.machine } }

    static func residentKiB(pid: Int32) -> Int? {
        guard let text = readFile("/proc/\(pid)/status") else { return nil }
        for line in text.split(separator: "\n") where line.hasPrefix("VmRSS:") {
            return Int(line.dropFirst(6).split(whereSeparator: { $0 == " " || $0 == "\t" }).first ?? "")
        }
        return nil
    }

    /// utime + stime from a /proc/PID/stat line. The command name (field 2) is in parentheses
    /// and may itself hold spaces and parentheses, so fields are counted after the last `)`.
    static func cpuTicks(statLine: String) -> Int? {
        guard let close = statLine.lastIndex(of: ")") else { return nil }
        let fields = statLine[statLine.index(after: close)...].split(separator: " ")
        // After the name: state is field 3, utime field 14, stime field 15.
        guard fields.count > 12, let user = Int(fields[11]), let system = Int(fields[12]) else { return nil }
        return user + system
    }

    /// Busy and total ticks from the `cpu` line of /proc/stat (user nice system idle iowait irq
    /// softirq steal ...): idle and I/O wait are not busy; steal counts as busy (not ours to use).
    static func machineTicks(procStat: String) -> (busy: Int, total: Int)? {
        guard let line = procStat.split(separator: "\n").first(where: { $0.hasPrefix("cpu ") }) else { return nil }
        let values = line.split(separator: " ").dropFirst().prefix(8).compactMap { Int($0) }
        guard values.count >= 5 else { return nil }
        let total = values.reduce(0, +)
        return (total - values[3] - values[4], total)
    }

    private static func readFile(_ path: String) -> String? {
        // /proc files report size 0: read until end of file rather than by size.
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, 4096) }
            if count <= 0 { break }
            bytes += buffer[0..<count]
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
