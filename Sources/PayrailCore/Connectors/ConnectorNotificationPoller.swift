import Logging
import PayrailDomain
import ServiceLifecycle

/// Takes what the processors report on their own (chargebacks opened and decided, bank debits
/// settled or returned) and hands it to the service that owns it, acknowledging only what was applied: a notification that failed
/// is delivered again on the next round (at least once; the handlers apply it once).
public final class ConnectorNotificationPoller: Service, Sendable {
    private let router: ConnectorRouter
    private let disputes: DisputeService
    private let payments: PaymentService
    private let interval: Duration
    private let batchSize: Int
    private let logger: Logger

    public init(router: ConnectorRouter, disputes: DisputeService, payments: PaymentService, interval: Duration = .milliseconds(100), batchSize: Int = 100,
                logger: Logger = Logger(label: "payrail.core.notifications")) {
        self.router = router
        self.disputes = disputes
        self.payments = payments
        self.interval = interval
        self.batchSize = batchSize
        self.logger = logger
    }

    /// One pass over every processor; returns how many notifications were applied.
    @discardableResult
    public func round() async -> Int {
        var applied = 0
        for name in router.connectorNames {
            guard let connector = router.connector(name),
                  let notifications = try? await connector.pendingNotifications(limit: batchSize), !notifications.isEmpty else { continue }
            var done: [String] = []
            for notification in notifications {
                do {
                    switch notification.event {
                    case .disputeOpened, .disputeClosed:
                        try await disputes.handle(notification, from: name)
                    case .debitSettled(let paymentID, let merchantID, let reference):
                        try await payments.applyDebitOutcome(paymentID: paymentID, merchantID: merchantID, connector: name,
                                                             processorReference: reference, returnCode: nil)
                    case .redirectCompleted(let paymentID, let merchantID, let reference):
                        try await payments.completeRedirect(paymentID: paymentID, merchantID: merchantID, reference: reference)
                    case .debitReturned(let paymentID, let merchantID, let reference, let code):
                        try await payments.applyDebitOutcome(paymentID: paymentID, merchantID: merchantID, connector: name,
                                                             processorReference: reference, returnCode: code)
                    }
                    done.append(notification.id)
                } catch {
                    logger.warning("processor notification not applied; it will be delivered again",
                                   metadata: ["connector": "\(name)", "notification": "\(notification.id)", "error_type": "\(type(of: error))"])
                }
            }
            if (try? await connector.acknowledgeNotifications(ids: done)) != nil { applied += done.count }
        }
        return applied
    }

    public func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                await self.round()
                try? await Task.sleep(for: self.interval)
            }
        }
    }
}
