import ArgumentParser
import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import PayrailProtos
import PayrailRuntime

/// `payrail traffic`: the SRE's view and controls of the region weights, through the core's
/// TrafficControl API over mutual TLS with the operator certificate. Every change needs a
/// reason and is audited with the actor.
struct TrafficCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "traffic", abstract: "Show and change how traffic is split between regions.",
        subcommands: [Status.self, Shift.self, Drain.self, Restore.self, Log.self])

    struct Connection: ParsableArguments {
        @Option(help: "Core address (host:port).") var core = "127.0.0.1:50061"
        @Option(help: "Folder with ca.pem and the operator certificate (operator.pem, operator-key.pem).") var tlsDir = ".payrail/tls"

        func run<T: Sendable>(_ body: @Sendable (Payrail_Internal_V1_TrafficControl.Client<HTTP2ClientTransport.Posix>) async throws -> T) async throws -> T {
            guard let colon = core.lastIndex(of: ":"), let port = Int(core[core.index(after: colon)...]) else {
                throw ValidationError("--core must be host:port")
            }
            let pki = DevPKI(directory: tlsDir)
            let transport = try HTTP2ClientTransport.Posix(
                target: .ipv4(address: String(core[..<colon]), port: port),
                transportSecurity: TransportSecurityFactory.internalClient(
                    certificatePath: pki.certificatePath(.operator), keyPath: pki.privateKeyPath(.operator), caPath: pki.caCertificatePath))
            return try await withGRPCClient(transport: transport) { client in
                try await body(Payrail_Internal_V1_TrafficControl.Client(wrapping: client))
            }
        }
    }

    struct Audit: ParsableArguments {
        @Option(help: "Why (recorded in the audit log).") var reason: String
        @Option(help: "Who (recorded in the audit log); default: $USER.") var actor = ProcessInfo.processInfo.environment["USER"] ?? "operator"
        @Option(help: "Refuse if the plan is no longer at this version (0: apply to the live plan).") var expectVersion: Int64 = 0
    }

    static func change(_ connection: Connection, _ audit: Audit, _ build: @Sendable (inout Payrail_Internal_V1_ChangeTrafficRequest) -> Void) async throws {
        var request = Payrail_Internal_V1_ChangeTrafficRequest.with {
            $0.actor = audit.actor
            $0.reason = audit.reason
            $0.expectedVersion = audit.expectVersion
        }
        build(&request)
        let sent = request
        do {
            let record = try await connection.run { try await $0.changeTraffic(sent) }
            print("version \(record.version): \(record.action) by \(record.actor) (\(record.reason))")
            print(render(record.plan))
        } catch let error as RPCError {
            FileHandle.standardError.write(Data("refused: \(error.code): \(error.message)\n".utf8))
            throw ExitCode(1)
        }
    }

    static func render(_ map: Payrail_V1_RegionMap) -> String {
        var lines = ["REGION          WEIGHT   BASELINE  STATE     EDGES"]
        for region in map.regions {
            let percent = { (bp: Int32) in String(format: "%6.2f%%", Double(bp) / 100) }
            let edges = region.edges.map { "\($0.id)@\($0.address)" }.joined(separator: " ")
            lines.append(region.name.padding(toLength: 16, withPad: " ", startingAt: 0) + percent(region.weight) + "  "
                         + percent(region.baselineWeight) + "   " + (region.drained ? "drained " : "serving ") + "  " + (edges.isEmpty ? "-" : edges))
        }
        return lines.joined(separator: "\n")
    }

    struct Status: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "The live plan, connected edges and recent changes.")
        @OptionGroup var connection: Connection
        func run() async throws {
            let status = try await connection.run { try await $0.getTraffic(.init()) }
            print("plan version \(status.map.version)")
            print(TrafficCommand.render(status.map))
            print("\nrecent changes:")
            for change in status.recentChanges {
                print("  v\(change.version)  \(Date(timeIntervalSince1970: Double(change.atMs) / 1000))  \(change.actor): \(change.action) (\(change.reason))")
            }
        }
    }

    struct Shift: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Move a percentage of one region's traffic to another.")
        @OptionGroup var connection: Connection
        @OptionGroup var audit: Audit
        @Option(help: "Region giving traffic.") var from: String
        @Option(help: "Region taking it.") var to: String
        @Option(help: "Percent of the giving region's current traffic (1-100).") var percent: Int32
        func run() async throws {
            let (from, to, percent) = (from, to, percent)
            try await TrafficCommand.change(connection, audit) { $0.shift = .with { $0.from = from; $0.to = to; $0.percent = percent } }
        }
    }

    struct Drain: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Send a region's traffic elsewhere and drain its edges (GOAWAY, NOT_SERVING).")
        @OptionGroup var connection: Connection
        @OptionGroup var audit: Audit
        @Option(help: "Region to drain.") var region: String
        func run() async throws {
            let region = region
            try await TrafficCommand.change(connection, audit) { $0.drain = .with { $0.region = region } }
        }
    }

    struct Restore: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Put a region (or, without --region, all) back at its baseline weight.")
        @OptionGroup var connection: Connection
        @OptionGroup var audit: Audit
        @Option(help: "Region to restore; omit to restore every region.") var region: String?
        func run() async throws {
            let region = region ?? ""
            try await TrafficCommand.change(connection, audit) { $0.restore = .with { $0.region = region } }
        }
    }

    struct Log: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "The audit log of traffic changes, newest first.")
        @OptionGroup var connection: Connection
        @Option(help: "How many changes.") var limit: Int32 = 50
        func run() async throws {
            let limit = limit
            let response = try await connection.run { try await $0.listTrafficChanges(.with { $0.limit = limit }) }
            for change in response.changes {
                let weights = change.plan.regions.map { "\($0.name)=\($0.weight)\($0.drained ? "(drained)" : "")" }.joined(separator: " ")
                print("v\(change.version)  \(Date(timeIntervalSince1970: Double(change.atMs) / 1000))  \(change.actor): \(change.action) (\(change.reason))  -> \(weights)")
            }
        }
    }
}
