import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// A child process the tests start (a `payrail` command, python3, openssl), spawned with
/// `posix_spawn` rather than Foundation's `Process`.
///
/// Why not `Process`: on Linux its `run()` copies each /proc/self/fd entry's whole 256-byte
/// name while it looks for the highest open descriptor; when an entry sits at the end of
/// glibc's directory buffer and the next page is unmapped, that read faults and the whole
/// test process dies with SIGSEGV (swift-corelibs-foundation PR #5472, still in Swift 6.3).
/// It happened at random, more often the more descriptors the suites had open.
///
/// The child gets /dev/null on stdin, its stdout and stderr discarded or captured together,
/// and no other descriptor of the test process (`closefrom(3)`), so it never holds a
/// listening socket or a pipe of a test that has finished.
final class ChildProcess: Sendable {
    /// The child's process id, for signals (`kill(child.pid, SIGHUP)`).
    let pid: pid_t
    /// The read end of the captured output, or -1.
    private let outputFD: Int32
    /// The wait status once the child has been reaped.
    private let reaped = Mutex<Int32?>(nil)

    private init(pid: pid_t, outputFD: Int32) {
        self.pid = pid
        self.outputFD = outputFD
    }

    /// Starts `executable` (an absolute path) with `arguments`; `environment` nil inherits the
    /// test process's environment. The child's output is discarded.
    static func start(_ executable: String, _ arguments: [String], environment: [String: String]? = nil) throws -> ChildProcess {
        try spawn(executable, arguments, environment: environment, capture: false)
    }

    /// Runs `executable` to its end and returns its exit status and its output (stdout and
    /// stderr together). The blocking read and wait happen on a thread of their own, never on
    /// one of Swift's cooperative threads: there are only as many as cores, and a child that
    /// talks to a server in this process would otherwise freeze the test process while it runs.
    static func run(_ executable: String, _ arguments: [String], environment: [String: String]? = nil) async throws -> (status: Int32, output: String) {
        let child = try spawn(executable, arguments, environment: environment, capture: true)
        return await withCheckedContinuation { continuation in
            Thread.detachNewThread {
                let output = child.readOutputToEnd()
                continuation.resume(returning: (child.wait(), String(decoding: output, as: UTF8.self)))
            }
        }
    }

    /// Whether the child has not exited yet (reaps it if it has).
    var isRunning: Bool {
        if reaped.withLock({ $0 }) != nil { return false }
        var status: Int32 = 0
        let result = waitpid(pid, &status, WNOHANG)
        if result == pid { record(status); return false }
        // ECHILD: a concurrent `wait` reaped it.
        return !(result == -1 && errno == ECHILD)
    }

    /// Waits for the child to exit and returns its exit code, or 128 + the signal that ended it
    /// (as a shell reports it). Blocks the calling thread.
    @discardableResult
    func wait() -> Int32 {
        while true {
            if let status = reaped.withLock({ $0 }) { return Self.exitCode(status) }
            var status: Int32 = 0
            let result = waitpid(pid, &status, 0)
            if result == pid { record(status); continue }
            if result == -1 && errno == EINTR { continue }
            // Reaped by a concurrent `isRunning` or `wait`: its status is recorded under the lock.
            if let status = reaped.withLock({ $0 }) { return Self.exitCode(status) }
            return -1
        }
    }

    /// Sends SIGKILL if the child is still running and reaps it: for `defer`, so no child
    /// outlives its test.
    func killIfRunning() {
        if isRunning { kill(pid, SIGKILL) }
        wait()
    }

    private func record(_ status: Int32) {
        reaped.withLock { if $0 == nil { $0 = status } }
    }

    private static func exitCode(_ status: Int32) -> Int32 {
        let signal = status & 0x7f
        return signal == 0 ? (status >> 8) & 0xff : 128 + signal
    }

    private func readOutputToEnd() -> [UInt8] {
        guard outputFD >= 0 else { return [] }
        defer { close(outputFD) }
        var output: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 16_384)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(outputFD, $0.baseAddress, $0.count) }
            if count > 0 { output += chunk[0..<count]; continue }
            if count == -1 && errno == EINTR { continue }
            return output
        }
    }

    /// glibc's `posix_spawn_file_actions_addclosefrom_np` (2.34+), which Swift's Glibc module
    /// does not import (a GNU extension), looked up by name.
    private static let addCloseFrom: (@convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32)? = {
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "posix_spawn_file_actions_addclosefrom_np") else { return nil }
        return unsafeBitCast(symbol, to: (@convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32).self)
    }()

    private static func spawn(_ executable: String, _ arguments: [String], environment: [String: String]?, capture: Bool) throws -> ChildProcess {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        var pipeFDs: [Int32] = [-1, -1]
        if capture {
            guard pipe(&pipeFDs) == 0 else { throw ChildProcessError.spawn(executable, errno) }
            _ = fcntl(pipeFDs[0], F_SETFD, FD_CLOEXEC)
            _ = fcntl(pipeFDs[1], F_SETFD, FD_CLOEXEC)
            posix_spawn_file_actions_adddup2(&actions, pipeFDs[1], 1)
            posix_spawn_file_actions_adddup2(&actions, pipeFDs[1], 2)
        } else {
            posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
            posix_spawn_file_actions_adddup2(&actions, 1, 2)
        }
        guard let closeFrom = Self.addCloseFrom else { throw ChildProcessError.spawn(executable, ENOSYS) }
        _ = closeFrom(&actions, 3)

        let argv = ([executable] + arguments).map { strdup($0) }
        let environmentStrings = environment.map { $0.map { strdup("\($0.key)=\($0.value)") } }
        defer {
            argv.forEach { free($0) }
            environmentStrings?.forEach { free($0) }
        }
        var pid: pid_t = 0
        let status = (argv + [nil]).withUnsafeBufferPointer { argvPointer in
            if let environmentStrings {
                return (environmentStrings + [nil]).withUnsafeBufferPointer { envp in
                    posix_spawn(&pid, executable, &actions, nil, argvPointer.baseAddress!, envp.baseAddress!)
                }
            }
            return posix_spawn(&pid, executable, &actions, nil, argvPointer.baseAddress!, environ)
        }
        if capture { close(pipeFDs[1]) }
        guard status == 0 else {
            if capture { close(pipeFDs[0]) }
            throw ChildProcessError.spawn(executable, status)
        }
        return ChildProcess(pid: pid, outputFD: capture ? pipeFDs[0] : -1)
    }
}

/// A child that could not be started, with the executable and the errno.
enum ChildProcessError: Error, CustomStringConvertible {
    case spawn(String, Int32)

    var description: String {
        switch self {
        case .spawn(let executable, let code): "cannot start \(executable): \(String(cString: strerror(code)))"
        }
    }
}
