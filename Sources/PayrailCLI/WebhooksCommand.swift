import ArgumentParser
import Logging
import PayrailCore
import PayrailDomain
import PayrailRuntime
import PayrailStore
import ServiceLifecycle

/// `payrail webhooks ...`: run a dispatcher on its own, and manage endpoints from the shell.
struct WebhooksCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "webhooks", abstract: "Webhook endpoints and delivery.",
        subcommands: [Dispatch.self, Create.self, List.self, Rotate.self, Resend.self, Log.self])

    struct StoreOptions: ParsableArguments {
        @Option(help: "Folder holding payrail.sqlite.") var dataDir = ".payrail"
        @Option(help: "PostgreSQL URL instead of the SQLite file.") var postgres: String?

        func open(_ label: String, connections: PostgresConnectionPolicy = .onDemand) async throws -> any PaymentStore {
            try await openStore(dataDir: dataDir, postgres: postgres, connections: connections, logger: Logger(label: label))
        }
    }

    /// A dispatcher process beside the core nodes (any number of them on PostgreSQL).
    struct Dispatch: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Deliver outbox events to webhook endpoints until SIGTERM.")
        @OptionGroup var store: StoreOptions
        @Option(help: "How long a dispatcher holds a delivery before another may retry it (ms).") var leaseMs: Int64 = 30_000
        @Option(help: "HTTP timeout per attempt (ms).") var timeoutMs: Int64 = 10_000
        @Option(help: "Pause between idle rounds (ms).") var pollMs = 200
        @Option(help: "Ceiling of the first retry delay (ms); doubles per attempt.") var initialRetryMs: Int64 = 30_000
        @Option(help: "Hours a delivery is retried before it fails and its endpoint may be disabled.") var retryHours: Int64 = 72

        func run() async throws {
            let logger = Logger(label: "payrail.webhooks")
            let store = try await store.open("payrail.webhooks", connections: .keptOpen)
            var configuration = WebhookDispatcher.Configuration()
            configuration.leaseMs = leaseMs
            configuration.requestTimeoutMs = timeoutMs
            configuration.pollInterval = .milliseconds(pollMs)
            configuration.retry = WebhookRetryPolicy(initialDelayMs: initialRetryMs, maximumDelayMs: max(initialRetryMs, 3_600_000),
                                                     retryPeriodMs: retryHours * 3_600_000)
            let dispatcher = WebhookDispatcher(store: store, configuration: configuration, now: UnixClock.nowMs, logger: logger)
            print("webhook dispatcher running")
            let group = ServiceGroup(configuration: .init(services: [.init(service: dispatcher)],
                                                          gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
            try await group.run()
            try await store.close()
        }
    }

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Add an endpoint; prints its signing secret (shown once).")
        @OptionGroup var store: StoreOptions
        @Option(help: "Merchant id.") var merchant: String
        @Option(help: "URL that receives the POSTs.") var url: String
        @Option(help: "Comma-separated event types, or * for all.") var events = "*"
        @Flag(help: "Live mode (default: test mode).") var live = false

        func run() async throws {
            let store = try await store.open("payrail.webhooks")
            let service = WebhookEndpointService(store: store, now: UnixClock.nowMs)
            let created = try await service.create(merchantID: merchant, livemode: live, url: url,
                                                   eventTypes: events.split(separator: ",").map(String.init))
            try await store.close()
            print("endpoint \(created.endpoint.id)\nsecret   \(created.secret)")
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List a merchant's endpoints.")
        @OptionGroup var store: StoreOptions
        @Option(help: "Merchant id.") var merchant: String

        func run() async throws {
            let store = try await store.open("payrail.webhooks")
            for endpoint in try await WebhookEndpointService(store: store, now: UnixClock.nowMs).list(merchantID: merchant) {
                print("\(endpoint.id)  \(endpoint.status.rawValue)  \(endpoint.url)  \(endpoint.eventTypes.joined(separator: ","))"
                      + (endpoint.disabledReason.map { "  (\($0))" } ?? ""))
            }
            try await store.close()
        }
    }

    struct Rotate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "New signing secret; the old one signs too during the overlap.")
        @OptionGroup var store: StoreOptions
        @Option(help: "Merchant id.") var merchant: String
        @Option(help: "Endpoint id.") var id: String
        @Option(help: "Hours the old secret keeps signing.") var overlapHours: Int64 = 24

        func run() async throws {
            let store = try await store.open("payrail.webhooks")
            let secret = try await WebhookEndpointService(store: store, now: UnixClock.nowMs)
                .rotateSecret(merchantID: merchant, id: id, overlapMs: overlapHours * 3_600_000)
            try await store.close()
            print("secret   \(secret)")
        }
    }

    struct Resend: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Send an event to an endpoint again.")
        @OptionGroup var store: StoreOptions
        @Option(help: "Merchant id.") var merchant: String
        @Option(help: "Event id.") var event: String
        @Option(help: "Endpoint id.") var endpoint: String

        func run() async throws {
            let store = try await store.open("payrail.webhooks")
            let delivery = try await WebhookEndpointService(store: store, now: UnixClock.nowMs)
                .resend(merchantID: merchant, eventID: event, endpointID: endpoint)
            try await store.close()
            print("delivery \(delivery.id) pending")
        }
    }

    struct Log: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Deliveries of an event and every attempt.")
        @OptionGroup var store: StoreOptions
        @Option(help: "Merchant id.") var merchant: String
        @Option(help: "Event id.") var event: String

        func run() async throws {
            let store = try await store.open("payrail.webhooks")
            for (delivery, attempts) in try await WebhookEndpointService(store: store, now: UnixClock.nowMs)
                .deliveryLog(merchantID: merchant, eventID: event) {
                print("\(delivery.id) -> \(delivery.endpointID): \(delivery.status.rawValue), \(delivery.attempts) attempts")
                for attempt in attempts {
                    print("  \(attempt.attemptedAtMs)  status \(attempt.httpStatus.map(String.init) ?? "-")  \(attempt.latencyMs) ms"
                          + (attempt.error.map { "  error \($0)" } ?? "") + (attempt.retryAtMs.map { "  retry at \($0)" } ?? "")
                          + "  \(attempt.responseExcerpt.prefix(80))")
                }
            }
            try await store.close()
        }
    }
}
