import Logging
import Metrics
import PayrailDomain
import PayrailRuntime
import ServiceLifecycle
import Synchronization

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
        /// A payment still unknown after a round is asked again after this, doubling per round up
        /// to `unknownRetryMaxMs`: a processor whose status API is down is not hammered, and
        /// payments that stay unknown do not keep the others out of the batch.
        public var unknownRetryBaseMs: Int64 = 5_000
        public var unknownRetryMaxMs: Int64 = 600_000
        public init() {}
    }

    /// When each payment that stayed unresolved may be looked at again (per node; bounded).
    private struct Backoff {
        var waits: [String: (failures: Int, nextAtMs: Int64)] = [:]
        static let entriesMax = 50_000
    }

    private let payments: PaymentService
    private let configuration: Configuration
    private let now: @Sendable () -> Int64
    private let backoff = Mutex(Backoff())
    private let logger: Logger
    private let settled = Counter(label: "payrail_reconciler_payments_total", dimensions: [("result", "settled")])
    private let unknown = Counter(label: "payrail_reconciler_payments_total", dimensions: [("result", "still_unknown")])
    private let expired = Counter(label: "payrail_reconciler_payments_total", dimensions: [("result", "challenge_expired")])

    public init(payments: PaymentService, configuration: Configuration = Configuration(), now: @escaping @Sendable () -> Int64 = UnixClock.nowMs,
                logger: Logger = Logger(label: "payrail.core.reconciler")) {
        self.payments = payments
        self.configuration = configuration
        self.now = now
        self.logger = logger
    }

    /// The candidates not waiting out their backoff, at most a batch.
    private func due(_ candidates: [Payment]) -> [Payment] {
        let nowMs = now()
        return backoff.withLock { state in
            Array(candidates.filter { (state.waits[$0.id]?.nextAtMs ?? 0) <= nowMs }.prefix(configuration.batchSize))
        }
    }

    private func unresolved(_ id: String) {
        let nowMs = now()
        backoff.withLock { state in
            if state.waits.count >= Backoff.entriesMax { state.waits.removeAll(keepingCapacity: true) }
            let failures = (state.waits[id]?.failures ?? 0) + 1
            let shift = Int64(min(failures - 1, 20))
            let wait = min(configuration.unknownRetryMaxMs, configuration.unknownRetryBaseMs << shift)
            state.waits[id] = (failures, nowMs + wait)
        }
    }

    private func resolved(_ id: String) {
        _ = backoff.withLock { $0.waits.removeValue(forKey: id) }
    }

    /// One pass over the stalled payments; returns what happened to each, by payment id.
    @discardableResult
    public func round() async throws -> [String: PaymentService.Reconciliation] {
        var results: [String: PaymentService.Reconciliation] = [:]
        // A window larger than the batch, so payments waiting out their backoff do not crowd out the rest.
        let window = configuration.batchSize * 10
        for payment in due(try await payments.stalledPayments(olderThanMs: configuration.stalledAfterMs, limit: window)) {
            do {
                let result = try await payments.reconcile(paymentID: payment.id, merchantID: payment.merchantID)
                results[payment.id] = result
                switch result {
                case .settled:
                    settled.increment()
                    resolved(payment.id)
                case .stillUnknown:
                    unknown.increment()
                    unresolved(payment.id)
                case .skipped:
                    break
                }
            } catch {
                logger.warning("reconciliation failed", metadata: ["payment": "\(payment.id)", "error_type": "\(type(of: error))"])
            }
        }
        for payment in due(try await payments.abandonedChallenges(limit: window)) {
            do {
                if try await payments.expireChallenge(paymentID: payment.id, merchantID: payment.merchantID) {
                    results[payment.id] = .settled(.failed)
                    expired.increment()
                    resolved(payment.id)
                } else {
                    // Its confirmation is unresolved: look again later, not every round.
                    unresolved(payment.id)
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
