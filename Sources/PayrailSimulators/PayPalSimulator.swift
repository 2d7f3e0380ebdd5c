import PayrailDomain
import Synchronization

/// A simulated redirect-and-approve wallet in the PayPal style: authorizing creates an order
/// and answers with the page the buyer must visit; the buyer approves or cancels there (in tests
/// and the demo: ``approve(orderID:)``, ``cancel(orderID:)``), the provider notifies us, and
/// completing the order captures it (or authorizes it for manual capture). An order the buyer
/// never finishes stays pending (the core expires the payment like an abandoned challenge).
public final class PayPalSimulator: ChargebackFree {
    private enum Buyer { case pending, approved, canceled }

    private struct Order {
        var paymentID: String
        var merchantID: String
        var amount: Money
        var captureNow: Bool
        var buyer: Buyer
        var capturedMinor: Int64
        var refundedMinor: Int64
        var voided: Bool
    }

    private struct State {
        var outcomesByKey = BoundedMemory<String, AuthorizationOutcome>(capacity: simulatorMemoryCapacity)
        var challengeResultsByKey = BoundedMemory<String, ChallengeOutcome>(capacity: simulatorMemoryCapacity)
        var resultsByKey = BoundedMemory<String, ProcessorOutcome>(capacity: simulatorMemoryCapacity)
        var orders = BoundedMemory<String, Order>(capacity: simulatorMemoryCapacity)
        var notifications = NotificationQueue()
        var sequence = 0
        mutating func next(_ prefix: String) -> String {
            sequence += 1
            return "\(prefix)\(sequence)"
        }
    }

    public let name: String
    private let latencyMs: Int
    private let state = Mutex(State())

    public init(name: String = "paypal", latencyMs: Int = 3) {
        self.name = name
        self.latencyMs = latencyMs
    }

    public static func approvalURL(orderID: String) -> String { "https://www.paypal.simulator.invalid/checkoutnow?token=\(orderID)" }

    public func authorize(_ request: AuthorizationRequest) async throws(ConnectorError) -> AuthorizationOutcome {
        try await latency()
        guard case .redirect = request.instrument else {
            return .declined(Failure(reason: "processing_error", declineCode: .processingError, message: "This provider takes its own wallet only."))
        }
        return state.withLock { state in
            if let previous = state.outcomesByKey[request.idempotencyKey] { return previous }
            let orderID = state.next("EC-")
            state.orders[orderID] = Order(paymentID: request.paymentID, merchantID: request.merchantID, amount: request.amount,
                                          captureNow: request.capture, buyer: .pending, capturedMinor: 0, refundedMinor: 0, voided: false)
            let outcome = AuthorizationOutcome.challengeRequired(ThreeDSChallenge(challengeID: orderID, attemptsRemaining: 1,
                                                                                 redirectURL: Self.approvalURL(orderID: orderID)))
            state.outcomesByKey[request.idempotencyKey] = outcome
            return outcome
        }
    }

    /// The buyer approves the order on the provider's page.
    public func approve(orderID: String) { finish(orderID, .approved) }
    /// The buyer cancels on the provider's page.
    public func cancel(orderID: String) { finish(orderID, .canceled) }

    private func finish(_ orderID: String, _ buyer: Buyer) {
        state.withLock { state in
            guard var order = state.orders[orderID], order.buyer == .pending else { return }
            order.buyer = buyer
            state.orders[orderID] = order
            state.notifications.append(ConnectorNotification(id: state.next("WH-"), event: .redirectCompleted(
                paymentID: order.paymentID, merchantID: order.merchantID, reference: orderID)))
        }
    }

    /// Completes the order the buyer finished: captured (or authorized) if approved.
    public func completeChallenge(reference: ChallengeReference, otp: String, idempotencyKey: String) async throws(ConnectorError) -> ChallengeOutcome {
        try await latency()
        return state.withLock { state in
            if let previous = state.challengeResultsByKey[reference.challengeID] { return previous }
            guard var order = state.orders[reference.challengeID] else {
                return .authenticated(.declined(Failure(reason: "processing_error", declineCode: .processingError, message: "No such order.")))
            }
            let result: ChallengeOutcome
            switch order.buyer {
            case .pending:
                return .pending
            case .canceled:
                result = .authenticated(.declined(Failure(reason: "payment_canceled", declineCode: DeclineCode("buyer_canceled"),
                                                          message: "The buyer canceled on the provider's page.")))
            case .approved:
                if order.captureNow { order.capturedMinor = order.amount.amountMinor }
                state.orders[reference.challengeID] = order
                result = .authenticated(.approved(processorReference: reference.challengeID))
            }
            // Keyed by the order: the notification's completion and the merchant's confirmation are one.
            state.challengeResultsByKey[reference.challengeID] = result
            return result
        }
    }

    public func capture(processorReference: String, amount: Money, idempotencyKey: String) async throws(ConnectorError) -> ProcessorOutcome {
        try await latency()
        return state.withLock { state in
            if let previous = state.resultsByKey[idempotencyKey] { return previous }
            let result: ProcessorOutcome
            if var order = state.orders[processorReference], order.buyer == .approved, !order.voided, order.capturedMinor == 0,
               amount.amountMinor > 0, amount.amountMinor <= order.amount.amountMinor {
                order.capturedMinor = amount.amountMinor
                state.orders[processorReference] = order
                result = .succeeded(processorReference: state.next("CAP-"))
            } else {
                result = .failed(Failure(reason: "processing_error", declineCode: .processingError, message: "The order cannot be captured."))
            }
            state.resultsByKey[idempotencyKey] = result
            return result
        }
    }

    public func void(processorReference: String, idempotencyKey: String) async throws(ConnectorError) -> ProcessorOutcome {
        try await latency()
        return state.withLock { state in
            guard var order = state.orders[processorReference], order.capturedMinor == 0 else {
                return .failed(Failure(reason: "processing_error", declineCode: .processingError, message: "The order cannot be voided."))
            }
            order.voided = true
            state.orders[processorReference] = order
            return .succeeded(processorReference: state.next("VOID-"))
        }
    }

    public func refund(processorReference: String, amount: Money, idempotencyKey: String) async throws(ConnectorError) -> ProcessorOutcome {
        try await latency()
        return state.withLock { state in
            if let previous = state.resultsByKey[idempotencyKey] { return previous }
            let result: ProcessorOutcome
            if var order = state.orders[processorReference], amount.amountMinor > 0, order.refundedMinor + amount.amountMinor <= order.capturedMinor {
                order.refundedMinor += amount.amountMinor
                state.orders[processorReference] = order
                result = .succeeded(processorReference: state.next("REF-"))
            } else {
                result = .failed(Failure(reason: "processing_error", declineCode: .processingError, message: "The refund exceeds the capture."))
            }
            state.resultsByKey[idempotencyKey] = result
            return result
        }
    }

    public func authorizationStatus(idempotencyKey: String) async throws(ConnectorError) -> AuthorizationStatus {
        try await latency()
        return state.withLock { state in state.outcomesByKey[idempotencyKey].map { .completed($0, captured: false) } ?? .notReceived }
    }

    public func reverseAuthorization(idempotencyKey: String) async throws(ConnectorError) -> ProcessorOutcome {
        try await latency()
        return state.withLock { state in
            state.outcomesByKey[idempotencyKey] = .declined(Failure(reason: "processing_error", declineCode: .processingError,
                                                                    message: "The order request was reversed."))
            return .succeeded(processorReference: state.next("REV-"))
        }
    }

    public func pendingNotifications(limit: Int) async throws(ConnectorError) -> [ConnectorNotification] {
        state.withLock { $0.notifications.due(limit: limit) }
    }

    public func acknowledgeNotifications(ids: [String]) async throws(ConnectorError) {
        state.withLock { $0.notifications.acknowledge(ids) }
    }

    private func latency() async throws(ConnectorError) { try await simulatedDelay(ms: latencyMs) }
}
