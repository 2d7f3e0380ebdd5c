import Logging
import ServiceLifecycle

/// Carries payouts to the rails and their answers back: standard payouts in a bank batch every
/// `batchInterval` (a real platform batches daily; dev and tests use seconds), instant payouts
/// whose first push failed, and the arrivals (paid or returned) of everything in transit.
public final class PayoutJob: Service, Sendable {
    public struct Configuration: Sendable {
        public var batchInterval: Duration = .seconds(2)
        public var settleInterval: Duration = .milliseconds(200)
        public init() {}
    }

    private let payouts: PayoutService
    private let configuration: Configuration
    private let logger: Logger

    public init(payouts: PayoutService, configuration: Configuration = Configuration(), logger: Logger = Logger(label: "payrail.core.payouts")) {
        self.payouts = payouts
        self.configuration = configuration
        self.logger = logger
    }

    public func run() async throws {
        await cancelWhenGracefulShutdown {
            let clock = ContinuousClock()
            var nextBatch = clock.now
            while !Task.isCancelled {
                do {
                    if clock.now >= nextBatch {
                        try await self.payouts.sendStandardBatch()
                        nextBatch = clock.now + self.configuration.batchInterval
                    }
                    try await self.payouts.retryInstantPushes()
                    try await self.payouts.settleArrivals()
                } catch {
                    self.logger.warning("payout round failed", metadata: ["error_type": "\(type(of: error))"])
                }
                try? await Task.sleep(for: self.configuration.settleInterval)
            }
        }
    }
}
