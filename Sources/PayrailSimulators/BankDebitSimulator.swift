import PayrailDomain
import Synchronization

/// Simulated bank rails for debits: ACH (USD), SEPA Direct Debit (EUR) and UPI collect (INR).
/// Like the real ones, a debit is accepted at once and its outcome comes later, as a
/// notification: settled after `settlementDelayMs` (ACH takes banking days), or returned with
/// the bank's code. Account identifiers ending `0002` are returned `insufficient_funds` (ACH R01,
/// SEPA AM04, UPI U30), ending `0003` `account_closed` (R02, AC04); any other settles.
/// Idempotent by key; refunds credit the account back.
public final class BankDebitSimulator: ChargebackFree {
    public struct Configuration: Sendable {
        public var latencyMs = 2
        public var settlementDelayMs = 300
        public init() {}
    }

    public static let returnCodesByLast4 = ["0002": "insufficient_funds", "0003": "account_closed"]

    private struct Debit {
        var paymentID: String
        var merchantID: String
        var amount: Money
        var refundedMinor: Int64
        var settled: Bool
        var returned: Bool
    }

    private struct State {
        var outcomesByKey = BoundedMemory<String, AuthorizationOutcome>(capacity: simulatorMemoryCapacity)
        var resultsByKey = BoundedMemory<String, ProcessorOutcome>(capacity: simulatorMemoryCapacity)
        var debits = BoundedMemory<String, Debit>(capacity: simulatorMemoryCapacity)
        var referenceByKey = BoundedMemory<String, String>(capacity: simulatorMemoryCapacity)
        var notifications = NotificationQueue()
        var sequence = 0
        mutating func next(_ prefix: String) -> String {
            sequence += 1
            return "\(prefix)_\(sequence)"
        }
    }

    public let name: String
    private let configuration: Configuration
    private let state = Mutex(State())

    public init(name: String = "bank-debits", configuration: Configuration = Configuration()) {
        self.name = name
        self.configuration = configuration
    }

    public func authorize(_ request: AuthorizationRequest) async throws(ConnectorError) -> AuthorizationOutcome {
        try await latency()
        guard case .bankAccount(let scheme, let identifier, _, _) = request.instrument, scheme.currency == request.amount.currency else {
            return .declined(Failure(reason: "processing_error", declineCode: .processingError,
                                     message: "These rails take bank debits in the scheme's currency only."))
        }
        let delay = configuration.settlementDelayMs
        return state.withLock { state in
            if let previous = state.outcomesByKey[request.idempotencyKey] { return previous }
            let reference = state.next("dbt")
            state.debits[reference] = Debit(paymentID: request.paymentID, merchantID: request.merchantID, amount: request.amount,
                                            refundedMinor: 0, settled: false, returned: false)
            state.referenceByKey[request.idempotencyKey] = reference
            let code = Self.returnCodesByLast4[String(identifier.split(separator: "@").first?.suffix(4) ?? "")]
            let event: ConnectorNotification.Event = code.map {
                .debitReturned(paymentID: request.paymentID, merchantID: request.merchantID, processorReference: reference, code: $0)
            } ?? .debitSettled(paymentID: request.paymentID, merchantID: request.merchantID, processorReference: reference)
            if code == nil { state.debits[reference]?.settled = true } else { state.debits[reference]?.returned = true }
            state.notifications.append(ConnectorNotification(id: state.next("ntf"), event: event), after: .milliseconds(delay))
            let outcome = AuthorizationOutcome.pending(processorReference: reference)
            state.outcomesByKey[request.idempotencyKey] = outcome
            return outcome
        }
    }

    public func authorizationStatus(idempotencyKey: String) async throws(ConnectorError) -> AuthorizationStatus {
        try await latency()
        return state.withLock { state in
            guard let outcome = state.outcomesByKey[idempotencyKey] else { return .notReceived }
            return .completed(outcome, captured: false)
        }
    }

    public func reverseAuthorization(idempotencyKey: String) async throws(ConnectorError) -> ProcessorOutcome {
        try await latency()
        return state.withLock { state in
            // A debit not yet sent to the clearing house is withdrawn; the simulator sends at once,
            // so a reversal of an accepted debit is refused.
            guard state.referenceByKey[idempotencyKey] == nil else {
                return .failed(Failure(reason: "processing_error", declineCode: .processingError, message: "The debit was already sent."))
            }
            state.outcomesByKey[idempotencyKey] = .declined(Failure(reason: "processing_error", declineCode: .processingError,
                                                                    message: "The debit was withdrawn."))
            return .succeeded(processorReference: state.next("rev"))
        }
    }

    public func refund(processorReference: String, amount: Money, idempotencyKey: String) async throws(ConnectorError) -> ProcessorOutcome {
        try await latency()
        return state.withLock { state in
            if let previous = state.resultsByKey[idempotencyKey] { return previous }
            let result: ProcessorOutcome
            if var debit = state.debits[processorReference], debit.settled, debit.amount.currency == amount.currency, amount.amountMinor > 0,
               debit.refundedMinor + amount.amountMinor <= debit.amount.amountMinor {
                debit.refundedMinor += amount.amountMinor
                state.debits[processorReference] = debit
                result = .succeeded(processorReference: state.next("cr"))
            } else {
                result = .failed(Failure(reason: "processing_error", declineCode: .processingError, message: "The refund exceeds the settled debit."))
            }
            state.resultsByKey[idempotencyKey] = result
            return result
        }
    }

    public func completeChallenge(reference: ChallengeReference, otp: String, idempotencyKey: String) async throws(ConnectorError) -> ChallengeOutcome {
        .authenticated(.declined(Failure(reason: "processing_error", declineCode: .processingError, message: "Bank debits have no challenge.")))
    }

    public func capture(processorReference: String, amount: Money, idempotencyKey: String) async throws(ConnectorError) -> ProcessorOutcome {
        .failed(Failure(reason: "processing_error", declineCode: .processingError, message: "Bank debits are captured when they settle."))
    }

    public func void(processorReference: String, idempotencyKey: String) async throws(ConnectorError) -> ProcessorOutcome {
        .failed(Failure(reason: "processing_error", declineCode: .processingError, message: "A debit sent to the bank cannot be voided."))
    }

    public func pendingNotifications(limit: Int) async throws(ConnectorError) -> [ConnectorNotification] {
        state.withLock { $0.notifications.due(limit: limit) }
    }

    public func acknowledgeNotifications(ids: [String]) async throws(ConnectorError) {
        state.withLock { $0.notifications.acknowledge(ids) }
    }

    /// Debits the bank accepted (for tests: never two per payment).
    public func debitCount() -> Int { state.withLock { $0.debits.count } }

    private func latency() async throws(ConnectorError) { try await simulatedDelay(ms: configuration.latencyMs) }
}
