import Logging
import Metrics
import PayrailDomain
import ServiceLifecycle

/// The background job that settles payments whose outcome is unknown, and fails payments
/// whose 3-D Secure challenge was abandoned (``PaymentService/expireChallenge(paymentID:merchantID:)``): every `interval` it
/// takes the payments that have been `processing` for longer than `stalledAfterMs` (a timeout
/// after sending, a crashed request, a processor whose status API was down) and asks their
/// processor what happened (``PaymentService/reconcile(paymentID:merchantID:)``). Any number of
/// core nodes may run it: each payment is taken over through its idempotency claim, so two
/// reconcilers (or a reconciler and the merchant's retry) never both apply an outcome.
public final class PaymentReconciler: Service, Sendable {
    public struct Configuration: Sendable {
        public var interval: Duration = .seconds(5)
        /// How long a payment must have been `processing`, unchanged, before the job looks at
        /// it: longer than a request's lease, so a request still working is never disturbed.
        public var stalledAfterMs: Int64 = 60_000
        /// Payments looked at per round (bounded work per round).
        public var batchSize = 100
        public init() {}
    }

    private let payments: PaymentService
    private let configuration: Configuration
    private let logger: Logger
    private let settled = Counter(label: "payrail_reconciler_payments_total", dimensions: [("result", "settled")])
    private let unknown = Counter(label: "payrail_reconciler_payments_total", dimensions: [("result", "still_unknown")])
    private let expired = Counter(label: "payrail_reconciler_payments_total", dimensions: [("result", "challenge_expired")])

    public init(payments: PaymentService, configuration: Configuration = Configuration(),
                logger: Logger = Logger(label: "payrail.core.reconciler")) {
        self.payments = payments
        self.configuration = configuration
        self.logger = logger
    }

    /// One pass over the stalled payments; returns what happened to each, by payment id.
    @discardableResult
    public func round() async throws -> [String: PaymentService.Reconciliation] {
        var results: [String: PaymentService.Reconciliation] = [:]
        for payment in try await payments.stalledPayments(olderThanMs: configuration.stalledAfterMs, limit: configuration.batchSize) {
            do {
                let result = try await payments.reconcile(paymentID: payment.id, merchantID: payment.merchantID)
                results[payment.id] = result
                switch result {
                case .settled: settled.increment()
                case .stillUnknown: unknown.increment()
                case .skipped: break
                }
            } catch {
                logger.warning("reconciliation failed", metadata: ["payment": "\(payment.id)", "error_type": "\(type(of: error))"])
            }
        }
        for payment in try await payments.abandonedChallenges(limit: configuration.batchSize) {
            do {
                if try await payments.expireChallenge(paymentID: payment.id, merchantID: payment.merchantID) {
                    results[payment.id] = .settled(.failed)
                    expired.increment()
                }
            } catch {
                logger.warning("challenge expiry failed", metadata: ["payment": "\(payment.id)", "error_type": "\(type(of: error))"])
            }
        }
        return results
    }

    public func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                do {
                    try await self.round()
                } catch {
                    self.logger.warning("reconciliation round failed", metadata: ["error_type": "\(type(of: error))"])
                }
                try? await Task.sleep(for: self.configuration.interval)
            }
        }
    }
}
