import PayrailDomain
import Synchronization

/// A simulated buy-now-pay-later provider. It decides on the plan at once, as Klarna or
/// Affirm do at checkout: approved plans pay the merchant the whole amount (the provider then
/// collects the installments from the buyer, which is its risk, not ours); declined plans are
/// declines. Test amounts: ending in `13` minor units (e.g. 50.13) is declined `plan_declined`;
/// over 2,000.00 (200,000 minor units) `plan_limit_exceeded`; anything else is approved.
public final class BNPLSimulator: ChargebackFree {
    public static let limitMinor: Int64 = 200_000

    private struct Plan {
        var amount: Money
        var installmentsMinor: [Int64]
        var capturedMinor: Int64
        var refundedMinor: Int64
        var voided: Bool
    }

    private struct State {
        var outcomesByKey = BoundedMemory<String, AuthorizationOutcome>(capacity: simulatorMemoryCapacity)
        var resultsByKey = BoundedMemory<String, ProcessorOutcome>(capacity: simulatorMemoryCapacity)
        var plans = BoundedMemory<String, Plan>(capacity: simulatorMemoryCapacity)
        var sequence = 0
        mutating func next(_ prefix: String) -> String {
            sequence += 1
            return "\(prefix)_\(sequence)"
        }
    }

    public let name: String
    private let latencyMs: Int
    private let state = Mutex(State())

    public init(name: String = "paylater", latencyMs: Int = 3) {
        self.name = name
        self.latencyMs = latencyMs
    }

    public func authorize(_ request: AuthorizationRequest) async throws(ConnectorError) -> AuthorizationOutcome {
        try await latency()
        guard case .installments(let plan) = request.instrument else {
            return .declined(Failure(reason: "processing_error", declineCode: .processingError, message: "This provider takes BNPL plans only."))
        }
        return state.withLock { state in
            if let previous = state.outcomesByKey[request.idempotencyKey] { return previous }
            let outcome: AuthorizationOutcome
            if request.amount.amountMinor % 100 == 13 {
                outcome = .declined(Failure(reason: "bnpl_declined", declineCode: DeclineCode("plan_declined"),
                                            message: "The buyer's installment plan was declined."))
            } else if request.amount.amountMinor > Self.limitMinor {
                outcome = .declined(Failure(reason: "bnpl_declined", declineCode: DeclineCode("plan_limit_exceeded"),
                                            message: "The amount is over the provider's plan limit."))
            } else {
                let reference = state.next("plan")
                state.plans[reference] = Plan(amount: request.amount, installmentsMinor: Self.split(request.amount.amountMinor, into: plan.installments),
                                              capturedMinor: request.capture ? request.amount.amountMinor : 0, refundedMinor: 0, voided: false)
                outcome = .approved(processorReference: reference)
            }
            state.outcomesByKey[request.idempotencyKey] = outcome
            return outcome
        }
    }

    /// Equal installments in minor units, the remainder on the first: they always add up.
    static func split(_ amountMinor: Int64, into count: Int) -> [Int64] {
        let share = amountMinor / Int64(count)
        return [share + amountMinor % Int64(count)] + Array(repeating: share, count: count - 1)
    }

    /// The buyer's installments of a plan (the provider's side of the deal).
    public func installments(planReference: String) -> [Int64]? { state.withLock { $0.plans[planReference]?.installmentsMinor } }

    public func capture(processorReference: String, amount: Money, idempotencyKey: String) async throws(ConnectorError) -> ProcessorOutcome {
        try await latency()
        return state.withLock { state in
            if let previous = state.resultsByKey[idempotencyKey] { return previous }
            let result: ProcessorOutcome
            if var plan = state.plans[processorReference], !plan.voided, plan.capturedMinor == 0, amount.currency == plan.amount.currency,
               amount.amountMinor > 0, amount.amountMinor <= plan.amount.amountMinor {
                plan.capturedMinor = amount.amountMinor
                state.plans[processorReference] = plan
                result = .succeeded(processorReference: state.next("pay"))
            } else {
                result = .failed(Failure(reason: "processing_error", declineCode: .processingError, message: "The plan cannot be captured for that amount."))
            }
            state.resultsByKey[idempotencyKey] = result
            return result
        }
    }

    public func void(processorReference: String, idempotencyKey: String) async throws(ConnectorError) -> ProcessorOutcome {
        try await latency()
        return state.withLock { state in
            if let previous = state.resultsByKey[idempotencyKey] { return previous }
            let result: ProcessorOutcome
            if var plan = state.plans[processorReference], plan.capturedMinor == 0 {
                plan.voided = true
                state.plans[processorReference] = plan
                result = .succeeded(processorReference: state.next("cxl"))
            } else {
                result = .failed(Failure(reason: "processing_error", declineCode: .processingError, message: "The plan cannot be canceled."))
            }
            state.resultsByKey[idempotencyKey] = result
            return result
        }
    }

    public func refund(processorReference: String, amount: Money, idempotencyKey: String) async throws(ConnectorError) -> ProcessorOutcome {
        try await latency()
        return state.withLock { state in
            if let previous = state.resultsByKey[idempotencyKey] { return previous }
            let result: ProcessorOutcome
            if var plan = state.plans[processorReference], amount.amountMinor > 0, plan.refundedMinor + amount.amountMinor <= plan.capturedMinor {
                plan.refundedMinor += amount.amountMinor
                state.plans[processorReference] = plan
                result = .succeeded(processorReference: state.next("ref"))
            } else {
                result = .failed(Failure(reason: "processing_error", declineCode: .processingError, message: "The refund exceeds the plan's capture."))
            }
            state.resultsByKey[idempotencyKey] = result
            return result
        }
    }

    public func authorizationStatus(idempotencyKey: String) async throws(ConnectorError) -> AuthorizationStatus {
        try await latency()
        return state.withLock { state in
            guard let outcome = state.outcomesByKey[idempotencyKey] else { return .notReceived }
            if case .approved(let reference) = outcome { return .completed(outcome, captured: (state.plans[reference]?.capturedMinor ?? 0) > 0) }
            return .completed(outcome, captured: false)
        }
    }

    public func reverseAuthorization(idempotencyKey: String) async throws(ConnectorError) -> ProcessorOutcome {
        try await latency()
        return state.withLock { state in
            if case .approved(let reference)? = state.outcomesByKey[idempotencyKey] { state.plans[reference]?.voided = true }
            state.outcomesByKey[idempotencyKey] = .declined(Failure(reason: "processing_error", declineCode: .processingError,
                                                                    message: "The plan request was reversed."))
            return .succeeded(processorReference: state.next("rev"))
        }
    }

    public func completeChallenge(reference: ChallengeReference, otp: String, idempotencyKey: String) async throws(ConnectorError) -> ChallengeOutcome {
        .authenticated(.declined(Failure(reason: "processing_error", declineCode: .processingError, message: "BNPL plans have no challenge.")))
    }

    public func pendingNotifications(limit: Int) async throws(ConnectorError) -> [ConnectorNotification] { [] }
    public func acknowledgeNotifications(ids: [String]) async throws(ConnectorError) {}

    private func latency() async throws(ConnectorError) { try await simulatedDelay(ms: latencyMs) }
}
