import PayrailDomain
import Synchronization

/// Puts a bad network in front of any simulated processor: a share of authorizations refused
/// with 503 (nothing happened), lost on the way in (the caller times out, nothing happened), or
/// processed with the answer lost (the caller times out, the processor acted), and exact fault
/// sequences for tests. The card networks have these built in; this gives the bank rails, the
/// BNPL provider and the redirect wallet the same bad days. Every other call passes through.
public final class FaultInjector: CardConnector {
    public struct Rates: Sendable, Hashable {
        public var unavailablePerMille = 0
        public var requestLossPerMille = 0
        public var responseLossPerMille = 0
        public var timeoutMs = 1_000
        public init(unavailablePerMille: Int = 0, requestLossPerMille: Int = 0, responseLossPerMille: Int = 0, timeoutMs: Int = 1_000) {
            self.unavailablePerMille = unavailablePerMille
            self.requestLossPerMille = requestLossPerMille
            self.responseLossPerMille = responseLossPerMille
            self.timeoutMs = timeoutMs
        }
    }

    private struct State {
        var random: SplitMix64
        var injected: [CardNetworkSimulator.Fault] = []
        var statusAvailable = true
    }

    public let inner: any CardConnector
    private let rates: Rates
    private let state: Mutex<State>
    public var name: String { inner.name }

    public init(_ inner: any CardConnector, rates: Rates = Rates(), seed: UInt64 = 0xFA17) {
        self.inner = inner
        self.rates = rates
        self.state = Mutex(State(random: SplitMix64(seed: seed)))
    }

    /// The next authorizations fail as listed, one fault per call, in order.
    public func injectAuthorizationFaults(_ faults: [CardNetworkSimulator.Fault]) {
        state.withLock { $0.injected += faults }
    }

    /// Turns the processor's status API off (it answers 503) or back on.
    public func setStatusAvailable(_ available: Bool) {
        state.withLock { $0.statusAvailable = available }
    }

    public func authorize(_ request: AuthorizationRequest) async throws(ConnectorError) -> AuthorizationOutcome {
        let fault = state.withLock { state -> CardNetworkSimulator.Fault? in
            if !state.injected.isEmpty { return state.injected.removeFirst() }
            let roll = Int(state.random.next() % 1000)
            if roll < rates.unavailablePerMille { return .unavailable }
            if roll < rates.unavailablePerMille + rates.requestLossPerMille { return .requestLost }
            if roll < rates.unavailablePerMille + rates.requestLossPerMille + rates.responseLossPerMille { return .responseLost }
            return nil
        }
        switch fault {
        case .unavailable?:
            throw .unavailable
        case .requestLost?:
            try await simulatedDelay(ms: rates.timeoutMs)
            throw .timeout
        case .responseLost?:
            _ = try await inner.authorize(request)
            try await simulatedDelay(ms: rates.timeoutMs)
            throw .timeout
        case nil:
            return try await inner.authorize(request)
        }
    }

    public func completeChallenge(reference: ChallengeReference, otp: String, idempotencyKey: String) async throws(ConnectorError) -> ChallengeOutcome {
        try await inner.completeChallenge(reference: reference, otp: otp, idempotencyKey: idempotencyKey)
    }
    public func capture(processorReference: String, amount: Money, idempotencyKey: String) async throws(ConnectorError) -> ProcessorOutcome {
        try await inner.capture(processorReference: processorReference, amount: amount, idempotencyKey: idempotencyKey)
    }
    public func void(processorReference: String, idempotencyKey: String) async throws(ConnectorError) -> ProcessorOutcome {
        try await inner.void(processorReference: processorReference, idempotencyKey: idempotencyKey)
    }
    public func refund(processorReference: String, amount: Money, idempotencyKey: String) async throws(ConnectorError) -> ProcessorOutcome {
        try await inner.refund(processorReference: processorReference, amount: amount, idempotencyKey: idempotencyKey)
    }
    public func authorizationStatus(idempotencyKey: String) async throws(ConnectorError) -> AuthorizationStatus {
        guard state.withLock({ $0.statusAvailable }) else { throw .unavailable }
        return try await inner.authorizationStatus(idempotencyKey: idempotencyKey)
    }
    public func reverseAuthorization(idempotencyKey: String) async throws(ConnectorError) -> ProcessorOutcome {
        try await inner.reverseAuthorization(idempotencyKey: idempotencyKey)
    }
    public func submitDisputeEvidence(networkDisputeID: String, evidence: String, idempotencyKey: String) async throws(ConnectorError) -> ProcessorOutcome {
        try await inner.submitDisputeEvidence(networkDisputeID: networkDisputeID, evidence: evidence, idempotencyKey: idempotencyKey)
    }
    public func acceptDispute(networkDisputeID: String, idempotencyKey: String) async throws(ConnectorError) -> ProcessorOutcome {
        try await inner.acceptDispute(networkDisputeID: networkDisputeID, idempotencyKey: idempotencyKey)
    }
    public func pendingNotifications(limit: Int) async throws(ConnectorError) -> [ConnectorNotification] {
        try await inner.pendingNotifications(limit: limit)
    }
    public func acknowledgeNotifications(ids: [String]) async throws(ConnectorError) {
        try await inner.acknowledgeNotifications(ids: ids)
    }
}
