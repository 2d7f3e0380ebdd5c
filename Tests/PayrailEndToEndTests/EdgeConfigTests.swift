import Foundation
import PayrailDomain
import PayrailEdge
import Synchronization
import Testing

/// Edge configuration files: the shipped examples are valid; bad files are refused with file,
/// line and reason; a reload applies a good file and keeps the old one on a bad file.
@Suite struct EdgeConfigTests {
    private static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static func file(edges: String = "", limits: String = "", extra: String = "") -> String {
        """
        version: 1
        regions:
          - name: us-east
            edges:
              - id: us-east-1
                listen: 127.0.0.1:50051
                tls:
                  certificate: edge.pem
                  key: edge-key.pem
        \(edges)
        upstream:
          endpoints:
            - 127.0.0.1:50061
          ca: ca.pem
        rate_limits:
          default_tier: standard
          tiers:
            standard:
              merchant: { per_second: \(limits.isEmpty ? "100" : limits), burst: 200 }
              api_key: { per_second: 100, burst: 200 }
        \(extra)
        """
    }

    @Test func theShippedExamplesAreValid() throws {
        for region in ["us-east", "eu-west", "ap-south"] {
            let config = try EdgeConfigParser.load(path: Self.root.appendingPathComponent("edge-config/\(region).yaml").path)
            #expect(config.regions.map(\.name) == [region])
            #expect(config.edge(id: "\(region)-1") != nil && config.edge(id: "\(region)-2") != nil)
            #expect(config.edge(id: "\(region)-1")?.edge.tls.certificate.hasSuffix("/../.payrail/tls/edge.pem") == true)
        }
    }

    @Test func aGoodFileParses() throws {
        let config = try EdgeConfigParser.parse(Self.file(extra: "idempotency:\n  retention_seconds: 60"), file: "t.yaml", baseDirectory: "/etc/payrail")
        #expect(config.edge(id: "us-east-1")?.edge.listen == .init(host: "127.0.0.1", port: 50051))
        #expect(config.upstream.ca == "/etc/payrail/ca.pem" && config.upstream.timeoutMs == 30_000)
        #expect(config.rateLimits.tiers["standard"]?.merchant == RateLimit(perSecond: 100, burst: 200))
        #expect(config.idempotencyRetentionMs == 60_000 && config.drainTimeoutMs == 30_000)
    }

    @Test(arguments: [
        (file(extra: "drain:\n  timeout_secs: 5"), 22, "unknown key \"timeout_secs\""),
        (file(limits: "0"), 19, "per_second must be between 1 and 1000000"),
        (file(edges: """
                  - id: us-east-1
                    listen: 127.0.0.1:50052
                    tls: { certificate: a, key: b }
            """), 10, "edge id \"us-east-1\" is used twice"),
        (file(edges: """
                  - id: us-east-2
                    listen: 127.0.0.1:50051
                    tls: { certificate: a, key: b }
            """), 11, "two edges listen on 127.0.0.1:50051"),
        (file(extra: "idempotency:\n  retention_seconds: many"), 22, "retention_seconds must be an integer"),
        (file().replacingOccurrences(of: "default_tier: standard", with: "default_tier: gold"), 16, "default_tier \"gold\" is not among the tiers"),
        (file().replacingOccurrences(of: "127.0.0.1:50061", with: "127.0.0.1:99999"), 13, "host:port with a port from 1 to 65535"),
        // libyaml notices the unclosed flow sequence at the start of the next line.
        (file().replacingOccurrences(of: "ca: ca.pem", with: "ca: [unclosed"), 15, "not valid YAML"),
    ])
    func badFilesAreRefusedWithLineAndReason(_ text: String, _ line: Int, _ reason: String) {
        do {
            _ = try EdgeConfigParser.parse(text, file: "bad.yaml")
            Issue.record("accepted a bad file")
        } catch let error as EdgeConfigError {
            #expect(error.file == "bad.yaml")
            #expect(error.line == line, "\(error)")
            #expect(error.reason.contains(reason), "\(error)")
        } catch {
            Issue.record("unexpected error \(error)")
        }
    }

    @Test func reloadAppliesAGoodFileAndKeepsTheOldOneOnABadFile() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("edge-\(UUID().uuidString).yaml").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try Self.file().write(toFile: path, atomically: true, encoding: .utf8)
        let applied = Mutex<[Int]>([])
        let reloader = EdgeConfigReloader(path: path, edgeID: "us-east-1", initial: try EdgeConfigParser.load(path: path)) { config in
            applied.withLock { $0.append(config.rateLimits.tiers["standard"]!.merchant.perSecond) }
        }

        try Self.file(limits: "5").write(toFile: path, atomically: true, encoding: .utf8)
        #expect(try reloader.reload().isEmpty)
        #expect(applied.withLock { $0 } == [5] && reloader.inForce.rateLimits.tiers["standard"]?.merchant.perSecond == 5)

        try Self.file(limits: "-1").write(toFile: path, atomically: true, encoding: .utf8)
        #expect(throws: EdgeConfigError.self) { try reloader.reload() }
        #expect(applied.withLock { $0 } == [5] && reloader.inForce.rateLimits.tiers["standard"]?.merchant.perSecond == 5, "the old one stays")

        try Self.file(limits: "7").replacingOccurrences(of: "127.0.0.1:50051", with: "127.0.0.1:50099")
            .write(toFile: path, atomically: true, encoding: .utf8)
        let needsRestart = try reloader.reload()
        #expect(needsRestart.count == 1 && needsRestart[0].contains("listen address"))
        #expect(applied.withLock { $0 } == [5, 7])
    }
}
