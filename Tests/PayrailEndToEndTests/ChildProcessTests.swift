import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The test suites' process launcher: exit codes, captured output, signals, and no descriptor
/// of the test process leaking into a child.
@Suite struct ChildProcessTests {
    @Test func capturesOutputAndExitCode() async throws {
        let result = try await ChildProcess.run("/bin/sh", ["-c", "echo out; echo err >&2; exit 3"])
        #expect(result.status == 3)
        #expect(result.output.contains("out") && result.output.contains("err"), "\(result.output)")
    }

    @Test func passesTheGivenEnvironmentOnly() async throws {
        let result = try await ChildProcess.run("/bin/sh", ["-c", "echo \"[$CHILD_TEST_VALUE][$HOME]\""],
                                                environment: ["CHILD_TEST_VALUE": "a b=c", "PATH": "/usr/bin:/bin"])
        #expect(result.status == 0)
        #expect(result.output == "[a b=c][]\n", "\(result.output)")
    }

    @Test func aKilledChildReportsItsSignal() throws {
        let child = try ChildProcess.start("/bin/sleep", ["30"])
        #expect(child.isRunning)
        kill(child.pid, SIGKILL)
        #expect(child.wait() == 128 + SIGKILL)
        #expect(!child.isRunning)
        child.killIfRunning()  // already reaped: returns at once
    }

    /// A descriptor the test process holds open (here a file opened without close-on-exec, as a
    /// listening socket may be) is not inherited: the child sees only 0, 1, 2 and the
    /// directory it is listing.
    @Test func theChildInheritsNoOtherDescriptor() async throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("child-fd-\(UUID().uuidString)").path
        let fd = open(path, O_CREAT | O_RDWR, 0o600)
        try #require(fd >= 0)
        defer { close(fd); unlink(path) }
        let result = try await ChildProcess.run("/bin/ls", ["/proc/self/fd"])
        #expect(result.status == 0)
        let listed = result.output.split(separator: "\n").compactMap { Int($0) }
        #expect(listed.filter { $0 > 3 }.isEmpty, "inherited descriptors: \(listed)")
        #expect(Set(listed).isSuperset(of: [0, 1, 2]))
    }

    @Test func aMissingExecutableIsAnError() throws {
        #expect(throws: ChildProcessError.self) { try ChildProcess.start("/nonexistent/payrail", []) }
    }
}
