import Foundation
import Synchronization

/// Samples the resident memory (VmRSS from /proc/PID/status) of the watched processes and of
/// the load tool itself once a second, to show the 300 MB ceiling and any growth after warm-up.
final class MemorySampler: Sendable {
    struct Series: Sendable {
        var pid: Int32
        var name: String
        /// (second, RSS in KiB)
        var samples: [(Int, Int)]
    }

    private let processes: [(pid: Int32, name: String)]
    private let state: Mutex<[Series]>

    init(processes: [(pid: Int32, name: String)]) {
        let all = processes + [(getpid(), "payrail load")]
        self.processes = all
        state = Mutex(all.map { Series(pid: $0.pid, name: $0.name, samples: []) })
    }

    func sample(second: Int) {
        let values = processes.map { Self.residentKiB(pid: $0.pid) }
        state.withLock { series in
            for (index, value) in values.enumerated() { if let value { series[index].samples.append((second, value)) } }
        }
    }

    var series: [Series] { state.withLock { $0 } }

    static func residentKiB(pid: Int32) -> Int? {
        // /proc files report size 0: read until end of file rather than by size.
        let fd = open("/proc/\(pid)/status", O_RDONLY)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, 4096) }
            if count <= 0 { break }
            bytes += buffer[0..<count]
        }
        let text = String(decoding: bytes, as: UTF8.self)
        for line in text.split(separator: "\n") where line.hasPrefix("VmRSS:") {
            return Int(line.dropFirst(6).split(whereSeparator: { $0 == " " || $0 == "\t" }).first ?? "")
        }
        return nil
    }
}
