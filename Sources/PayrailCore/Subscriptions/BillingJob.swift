import Logging
import ServiceLifecycle

/// Runs the billing run every `interval`: renewals, first attempts and dunning retries come due
/// on the service's clock, which tests replace with a simulated one.
public final class BillingJob: Service, Sendable {
    private let subscriptions: SubscriptionService
    private let interval: Duration
    private let logger: Logger

    public init(subscriptions: SubscriptionService, interval: Duration = .seconds(5), logger: Logger = Logger(label: "payrail.core.billing")) {
        self.subscriptions = subscriptions
        self.interval = interval
        self.logger = logger
    }

    public func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                do { try await self.subscriptions.round() } catch {
                    self.logger.warning("billing run failed", metadata: ["error_type": "\(type(of: error))"])
                }
                try? await Task.sleep(for: self.interval)
            }
        }
    }
}
