import ArgumentParser
import Foundation
import Logging
import PayrailCluster
import PayrailCore
import PayrailDomain
import PayrailSimulators
import PayrailStore
import UnixSignals

/// Everything in one go on the embedded store: core + edge over loopback TLS, a demo
/// merchant, and a short demo load; then serves until Ctrl-C.
struct DevCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "dev", abstract: "Run core + edge locally with a demo merchant and a demo load.")

    @Option(help: "Folder for the database, keyring and dev certificates.")
    var dataDir = ".payrail"
    @Option(help: "Edge port for merchants (TLS).")
    var edgePort = 50051
    @Option(help: "Core port for edges (mutual TLS).")
    var corePort = 50061
    @Option(help: "Payments in the demo load.")
    var demoPayments = 2000
    @Option(help: "Concurrent requests in the demo load.")
    var demoConcurrency = 32
    @Option(help: "Run the demo load (true/false).")
    var demo = true
    @Flag(help: "Exit after the demo instead of serving until Ctrl-C.")
    var exitAfterDemo = false
    @Option(help: "Run on this PostgreSQL database (postgres://user@host:port/db) instead of the embedded SQLite file.")
    var postgres: String?
    @Option(help: "Port for Prometheus metrics (GET /metrics); 0: any free port; -1: none.")
    var metricsPort = 9464
    @Option(help: "Demo merchants to create (the load tool spreads payments over them).")
    var merchants = 1
    @Option(help: "Write the merchants' API keys here, one per line (mode 0600), for `payrail load --api-keys-file`.")
    var apiKeysFile: String?
    @Option(help: "Comma-separated regions, one edge each (e.g. us-east,eu-west,ap-south); edge ports count up from --edge-port.")
    var regions = "local"
    @Option(help: "Processors and routing file (YAML, docs/connectors.md). Default: acquirer-a and acquirer-b, simulated.")
    var routing: String?

    func run() async throws {
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = .warning
            return handler
        }
        var options = LocalCluster.Options(dataDirectory: dataDir)
        options.edgeBasePort = edgePort
        options.corePort = corePort
        if let routing {
            do {
                options.routing = try RoutingConfiguration.parse(String(contentsOfFile: routing, encoding: .utf8))
            } catch {
                throw ValidationError("\(routing): \(error)")
            }
        }
        options.metricsPort = metricsPort >= 0 ? metricsPort : nil
        options.regions = regions.split(separator: ",").map { String($0.trimmingCharacters(in: .whitespaces)) }
        guard !options.regions.isEmpty, options.regions.allSatisfy(TrafficPlan.isValidName) else {
            throw ValidationError("--regions must be comma-separated names of a-z, 0-9 and '-'")
        }
        if let postgres {
            guard let location = PostgresStore.Location(url: postgres) else {
                throw ValidationError("--postgres must look like postgres://user[:password]@host[:port]/database")
            }
            options.postgres = location
        }
        let cluster = try await LocalCluster.start(options)
        let merchant = try await cluster.core.apiKeys.createMerchant(name: "Demo Merchant")
        if let apiKeysFile {
            var keys = [merchant.apiKey]
            for index in 1..<max(1, merchants) {
                keys.append(try await cluster.core.apiKeys.createMerchant(name: "Demo Merchant \(index + 1)").apiKey)
            }
            FileManager.default.createFile(atPath: apiKeysFile, contents: Data((keys.joined(separator: "\n") + "\n").utf8),
                                           attributes: [.posixPermissions: 0o600])
        }
        let edgeAddresses = cluster.edgePorts.map { "127.0.0.1:\($0)" }
        let edgeLines = zip(cluster.edges, edgeAddresses).map { edge, address in
            let label = "  edge \(edge.gateway.edgeID) (\(edge.gateway.region), TLS):"
            return label.padding(toLength: max(32, label.count + 1), withPad: " ", startingAt: 0) + address
        }.joined(separator: "\n")
        print("""
            Payrail dev is running on \(postgres.map { "PostgreSQL (\($0))" } ?? "the embedded SQLite store (\(dataDir)/payrail.sqlite)").
            \(edgeLines)
              core (internal gRPC, mTLS):   127.0.0.1:\(cluster.corePort)
              health:                       grpc.health.v1.Health on every edge and the core
              traffic:                      swift run payrail traffic status --core 127.0.0.1:\(cluster.corePort) --tls-dir \(dataDir)/tls
              metrics (Prometheus):         \(cluster.metricsPort.map { "http://127.0.0.1:\($0)/metrics" } ?? "off")
              webhooks:                     dispatcher running; add endpoints with payrail.v1.WebhookEndpoints
              processors:                   \(options.routing.connectors.map(\.name).joined(separator: ", ")) (simulated; routes: \(options.routing.table.routes.map(\.id).joined(separator: ", ")); reconciliation job on)
              dashboard:                    not built yet (see README)
              CA certificate for clients:   \(cluster.pki.caCertificatePath)
              demo merchant:                \(merchant.merchantID)
              demo API key (shown once):    \(merchant.apiKey)

            Try it (a real gRPC call through the edge, from another terminal):
              swift run payrail pay --port \(cluster.edgePorts[0]) --ca \(cluster.pki.caCertificatePath) --api-key \(merchant.apiKey)
            """)
        fflush(nil)
        if demo && demoPayments > 0 {
            print("\nDemo load: \(demoPayments) payments, \(demoConcurrency) concurrent, through the edge over TLS...")
            let load = DemoLoad(seeds: edgeAddresses, caPath: cluster.pki.caCertificatePath, apiKey: merchant.apiKey,
                                payments: demoPayments, concurrency: demoConcurrency)
            let summary = try await load.run()
            print(summary)
            let report = try await cluster.core.ledger.verify()
            print(report)
            fflush(nil)
        }
        if !exitAfterDemo {
            print("\nServing. Press Ctrl-C to stop.")
            fflush(nil)
            for await _ in await UnixSignalsSequence(trapping: [.sigint, .sigterm]) { break }
            print("Draining...")
        }
        try await cluster.shutdown()
    }
}
