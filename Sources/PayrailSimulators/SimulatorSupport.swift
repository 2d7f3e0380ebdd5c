import PayrailDomain

/// What a simulated processor reported on its own and not yet had acknowledged, each
/// deliverable from its time on (networks report with a delay). Lives inside a simulator's
/// locked state.
struct NotificationQueue: Sendable {
    private var queued: [(notification: ConnectorNotification, visibleAt: ContinuousClock.Instant)] = []

    mutating func append(_ notification: ConnectorNotification, after delay: Duration = .zero) {
        queued.append((notification, .now + delay))
    }

    /// The deliverable notifications, oldest first.
    func due(limit: Int) -> [ConnectorNotification] {
        let now = ContinuousClock.now
        return Array(queued.lazy.filter { $0.visibleAt <= now }.prefix(limit).map(\.notification))
    }

    mutating func acknowledge(_ ids: [String]) {
        let acknowledged = Set(ids)
        queued.removeAll { acknowledged.contains($0.notification.id) }
    }
}

/// Simulated processors without chargebacks (bank debits, BNPL plans, redirect wallets here):
/// answering a dispute is refused.
protocol ChargebackFree: CardConnector {}

extension ChargebackFree {
    public func submitDisputeEvidence(networkDisputeID: String, evidence: String, idempotencyKey: String) async throws(ConnectorError) -> ProcessorOutcome {
        .failed(SimulatedFailures.noSuchDispute)
    }

    public func acceptDispute(networkDisputeID: String, idempotencyKey: String) async throws(ConnectorError) -> ProcessorOutcome {
        .failed(SimulatedFailures.noSuchDispute)
    }
}

enum SimulatedFailures {
    static let noSuchDispute = Failure(reason: "processing_error", declineCode: .processingError, message: "No such dispute.")

    static func processing(_ message: String) -> Failure {
        Failure(reason: "processing_error", declineCode: .processingError, message: message)
    }
}

/// Waits `ms` of simulated processor time; a cancelled wait reads as the processor being unavailable.
func simulatedDelay(ms: Int) async throws(ConnectorError) {
    guard ms > 0 else { return }
    do { try await Task.sleep(for: .milliseconds(ms)) } catch { throw .unavailable }
}
