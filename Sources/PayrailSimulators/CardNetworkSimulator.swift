#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import PayrailDomain
import Synchronization

/// A simulated card network and acquirer behind the ``CardConnector`` port. It behaves like
/// the real thing where it matters to us: it takes time (a configurable latency with a
/// tail), declines the documented test cards, asks for 3-D Secure, loses answers (timeouts),
/// enforces processor-side idempotency, and refuses to capture or refund more than it holds.
///
/// Time and randomness are injected, so a test can run it with zero latency and a fixed seed.
public final class CardNetworkSimulator: CardConnector {
    public struct Configuration: Sendable {
        /// Typical response time.
        public var latencyMinMs: Int
        public var latencyMaxMs: Int
        /// Share of calls (per mille) that take `tailMultiplier` times longer.
        public var tailPerMille: Int
        public var tailMultiplier: Int
        /// How long the connector waits before it gives up on an answer.
        public var timeoutMs: Int
        /// Share of authorizations (per mille) refused at the door (HTTP 503): nothing processed.
        public var unavailablePerMille = 0
        /// Share of authorizations (per mille) lost on the way in: nothing processed, the caller times out.
        public var requestLossPerMille = 0
        /// Share of authorizations (per mille) processed whose answer is lost: the caller times out.
        public var responseLossPerMille = 0
        /// How long the status API takes to know an authorization of the test card
        /// ``TestCards/unknownOutcome`` (it errors until then).
        public var statusLagMs = 1_500
        /// How long after the capture the network opens a chargeback on the test card
        /// ``TestCards/disputed``.
        public var disputeDelayMs = 200
        /// How long the network takes to decide a dispute after the evidence arrives.
        public var disputeDecisionMs = 200
        /// How long the merchant has to answer a dispute.
        public var evidenceWindowMs: Int64 = 7 * 24 * 3_600_000
        /// How many idempotency keys, authorizations, challenges and disputes the network
        /// remembers (at least half of them, the latest): older ones are forgotten, as a real
        /// processor's idempotency window expires. Bounds the simulator's memory in a long run.
        public var rememberedMax = 20_000

        public init(latencyMinMs: Int = 2, latencyMaxMs: Int = 6, tailPerMille: Int = 10, tailMultiplier: Int = 5, timeoutMs: Int = 1_000) {
            precondition(latencyMinMs >= 0 && latencyMaxMs >= latencyMinMs, "latency range")
            self.latencyMinMs = latencyMinMs
            self.latencyMaxMs = latencyMaxMs
            self.tailPerMille = tailPerMille
            self.tailMultiplier = tailMultiplier
            self.timeoutMs = timeoutMs
        }

        /// No latency at all: for unit tests.
        public static let instant = Configuration(latencyMinMs: 0, latencyMaxMs: 0, tailPerMille: 0, tailMultiplier: 1, timeoutMs: 200)
    }

    /// What can go wrong with one authorization call on the way to or from the processor.
    public enum Fault: Hashable, Sendable {
        /// Refused before processing (503): nothing happened.
        case unavailable
        /// Lost on the way in: nothing happened, the caller waits until its timeout.
        case requestLost
        /// Processed, and the answer lost: the caller times out not knowing.
        case responseLost
    }

    private struct Authorization {
        var amount: Money
        var capturedMinor: Int64
        var refundedMinor: Int64
        var voided: Bool
        var paymentID: String
        var merchantID: String
        var disputeOnCapture: Bool
    }

    private struct NetworkDispute {
        var reference: String
        var closed: Bool
        var answered: Bool
    }


    private struct PendingChallenge {
        var request: AuthorizationRequest
        var attemptsRemaining: Int
    }

    private struct State {
        var random: SplitMix64
        // What the network remembers, bounded like a real processor's idempotency window.
        var outcomesByKey: BoundedMemory<String, AuthorizationOutcome>
        var resultsByKey: BoundedMemory<String, ProcessorOutcome>
        var challengeResultsByKey: BoundedMemory<String, ChallengeOutcome>
        var authorizations: BoundedMemory<String, Authorization>
        /// The authorization each idempotency key created, for status queries and reversals.
        var referenceByKey: BoundedMemory<String, String>
        var reversedKeys: BoundedMemory<String, Bool>
        /// When the status API learns of a lagging key.
        var statusKnownAt: BoundedMemory<String, ContinuousClock.Instant>
        var challenges: BoundedMemory<String, PendingChallenge>
        var injectedFaults: [Fault] = []
        var disputes: BoundedMemory<String, NetworkDispute>
        var notifications = NotificationQueue()
        var statusAvailable = true
        var calls: [String: Int] = [:]
        var sequence = 0

        init(random: SplitMix64, remembered capacity: Int) {
            self.random = random
            outcomesByKey = BoundedMemory(capacity: capacity)
            resultsByKey = BoundedMemory(capacity: capacity)
            challengeResultsByKey = BoundedMemory(capacity: capacity)
            authorizations = BoundedMemory(capacity: capacity)
            referenceByKey = BoundedMemory(capacity: capacity)
            reversedKeys = BoundedMemory(capacity: capacity)
            statusKnownAt = BoundedMemory(capacity: capacity)
            challenges = BoundedMemory(capacity: capacity)
            disputes = BoundedMemory(capacity: capacity)
        }

        mutating func nextReference(_ prefix: String) -> String {
            sequence += 1
            return "\(prefix)_\(sequence)_\(random.next() & 0xFFFF_FFFF)"
        }
    }

    public let name: String
    private let configuration: Configuration
    private let state: Mutex<State>
    /// Wall-clock Unix ms, for the dates the network reports (evidence due dates).
    private let now: @Sendable () -> Int64

    public init(name: String = "cardsim", configuration: Configuration = Configuration(), seed: UInt64 = 0x5EED,
                now: @escaping @Sendable () -> Int64 = SimulatorClock.wallMs) {
        self.name = name
        self.configuration = configuration
        self.state = Mutex(State(random: SplitMix64(seed: seed), remembered: configuration.rememberedMax))
        self.now = now
    }

    /// Makes the next authorization calls fail as listed, one fault per call, in order
    /// (a test's way to take this acquirer down or lose its answers).
    public func injectAuthorizationFaults(_ faults: [Fault]) {
        state.withLock { $0.injectedFaults += faults }
    }

    /// Turns the status API off (it answers 503) or back on.
    public func setStatusAvailable(_ available: Bool) {
        state.withLock { $0.statusAvailable = available }
    }

    public func authorize(_ request: AuthorizationRequest) async throws(ConnectorError) -> AuthorizationOutcome {
        guard let number = request.instrument.cardNumber else {
            try await simulateLatency()
            return .declined(Failure(reason: "processing_error", declineCode: .processingError, message: "This processor takes cards only."))
        }
        var behaviour = TestCards.behaviour(of: number)
        var wallet = false
        if case .networkToken(_, _, let cryptogram, _) = request.instrument {
            wallet = true
            // The wallet authenticated the cardholder: no 3-D Secure; a bad cryptogram is refused.
            if cryptogram == TestCards.declinedCryptogram {
                behaviour = .decline(.authenticationFailed)
            } else if behaviour == .requireThreeDS {
                behaviour = .approve
            }
        }
        let fault = state.withLock { state -> Fault? in
            state.calls["authorize", default: 0] += 1
            if !state.injectedFaults.isEmpty { return state.injectedFaults.removeFirst() }
            let roll = Int(state.random.next() % 1000)
            if roll < configuration.unavailablePerMille { return .unavailable }
            if roll < configuration.unavailablePerMille + configuration.requestLossPerMille { return .requestLost }
            if roll < configuration.unavailablePerMille + configuration.requestLossPerMille + configuration.responseLossPerMille {
                return .responseLost
            }
            return nil
        }
        switch fault {
        case .unavailable:
            try await simulateLatency()
            throw .unavailable
        case .requestLost:
            try await sleep(ms: configuration.timeoutMs)
            throw .timeout
        case .responseLost, nil:
            break
        }
        let (outcome, repeated) = state.withLock { state -> (AuthorizationOutcome, Bool) in
            if let previous = state.outcomesByKey[request.idempotencyKey] { return (previous, true) }
            let outcome: AuthorizationOutcome
            if state.reversedKeys.contains(request.idempotencyKey) {
                // Arrived after its reversal: refused, as a network refuses a reversed message.
                outcome = .declined(Failure(reason: "processing_error", declineCode: .processingError,
                                            message: "The authorization was reversed before it arrived."))
                state.outcomesByKey[request.idempotencyKey] = outcome
                return (outcome, false)
            }
            switch behaviour {
            case .approve where request.requestChallenge && !wallet:
                // The acquirer asked for authentication: the issuer challenges (a real ACS would too).
                let challengeID = state.nextReference("chl")
                state.challenges[challengeID] = PendingChallenge(request: request, attemptsRemaining: TestCards.challengeAttempts)
                outcome = .challengeRequired(ThreeDSChallenge(challengeID: challengeID, attemptsRemaining: TestCards.challengeAttempts))
            case .approve, .timeoutThenApprove:
                outcome = self.approve(request, in: &state)
            case .unknownOutcome:
                outcome = self.approve(request, in: &state)
                state.statusKnownAt[request.idempotencyKey] = .now + .milliseconds(configuration.statusLagMs)
            case .decline(let code):
                outcome = .declined(.declined(code, TestCards.message(for: code)))
            case .requireThreeDS:
                let challengeID = state.nextReference("chl")
                state.challenges[challengeID] = PendingChallenge(request: request, attemptsRemaining: TestCards.challengeAttempts)
                outcome = .challengeRequired(ThreeDSChallenge(challengeID: challengeID, attemptsRemaining: TestCards.challengeAttempts))
            }
            state.outcomesByKey[request.idempotencyKey] = outcome
            return (outcome, false)
        }
        if !repeated && (fault == .responseLost || behaviour == .timeoutThenApprove || behaviour == .unknownOutcome) {
            // The network did the work; the answer never arrives within our deadline.
            try await sleep(ms: configuration.timeoutMs)
            throw .timeout
        }
        try await simulateLatency()
        return outcome
    }

    public func authorizationStatus(idempotencyKey: String) async throws(ConnectorError) -> AuthorizationStatus {
        try await simulateLatency()
        return try state.withLock { state throws(ConnectorError) -> AuthorizationStatus in
            state.calls["status", default: 0] += 1
            guard state.statusAvailable else { throw .unavailable }
            if let knownAt = state.statusKnownAt[idempotencyKey], ContinuousClock.now < knownAt { throw .unavailable }
            if state.reversedKeys.contains(idempotencyKey) { return .reversed }
            guard let outcome = state.outcomesByKey[idempotencyKey] else { return .notReceived }
            let captured = state.referenceByKey[idempotencyKey].flatMap { state.authorizations[$0] }.map { $0.capturedMinor > 0 } ?? false
            return .completed(outcome, captured: captured)
        }
    }

    public func reverseAuthorization(idempotencyKey: String) async throws(ConnectorError) -> ProcessorOutcome {
        try await simulateLatency()
        return state.withLock { state in
            state.calls["reverse", default: 0] += 1
            state.reversedKeys[idempotencyKey] = true
            if let reference = state.referenceByKey[idempotencyKey], var auth = state.authorizations[reference] {
                // A reversal undoes the whole message, a sale's capture included.
                auth.voided = true
                auth.refundedMinor = auth.capturedMinor
                state.authorizations[reference] = auth
            }
            return .succeeded(processorReference: state.nextReference("rev"))
        }
    }

    // MARK: Disputes and notifications

    /// The network opens a chargeback on a captured payment (what a cardholder's bank does);
    /// the notification is deliverable at once. Returns the network's dispute id, or nil when
    /// nothing was captured under `processorReference`.
    @discardableResult
    public func openDispute(processorReference: String, amountMinor: Int64? = nil, reason: String = "fraudulent") -> String? {
        state.withLock { state in Self.openDispute(processorReference, amountMinor: amountMinor, reason: reason, after: .zero, in: &state,
                                                   dueAtMs: now() + configuration.evidenceWindowMs) }
    }

    private func scheduleAutomaticDispute(_ reference: String, in state: inout State) {
        guard let auth = state.authorizations[reference], auth.disputeOnCapture else { return }
        Self.openDispute(reference, amountMinor: nil, reason: "fraudulent", after: .milliseconds(configuration.disputeDelayMs), in: &state,
                         dueAtMs: now() + configuration.evidenceWindowMs)
    }

    @discardableResult
    private static func openDispute(_ reference: String, amountMinor: Int64?, reason: String, after delay: Duration, in state: inout State,
                                    dueAtMs: Int64) -> String? {
        guard let auth = state.authorizations[reference], auth.capturedMinor > 0 else { return nil }
        let amount = min(amountMinor ?? auth.capturedMinor, auth.capturedMinor - auth.refundedMinor)
        guard amount > 0 else { return nil }
        let disputeID = state.nextReference("chb")
        state.disputes[disputeID] = NetworkDispute(reference: reference, closed: false, answered: false)
        let notice = DisputeNotice(networkDisputeID: disputeID, paymentID: auth.paymentID, merchantID: auth.merchantID,
                                   processorReference: reference, amount: Money(amountMinor: amount, currency: auth.amount.currency),
                                   reason: reason, evidenceDueAtMs: dueAtMs)
        state.notifications.append(ConnectorNotification(id: state.nextReference("ntf"), event: .disputeOpened(notice)), after: delay)
        return disputeID
    }

    public func submitDisputeEvidence(networkDisputeID: String, evidence: String, idempotencyKey: String) async throws(ConnectorError) -> ProcessorOutcome {
        // The network's decision, reported later: evidence naming `winning_evidence` wins.
        try await answerDispute(networkDisputeID, idempotencyKey: idempotencyKey, decision: evidence.contains(TestCards.winningEvidence))
    }

    public func acceptDispute(networkDisputeID: String, idempotencyKey: String) async throws(ConnectorError) -> ProcessorOutcome {
        try await answerDispute(networkDisputeID, idempotencyKey: idempotencyKey, decision: nil)
    }

    /// Closes an open dispute once: with evidence (`decision` = won?) the decision is notified
    /// after `disputeDecisionMs`; accepted (`nil`) it is lost with nothing to notify.
    private func answerDispute(_ networkDisputeID: String, idempotencyKey: String, decision: Bool?) async throws(ConnectorError) -> ProcessorOutcome {
        try await simulateLatency()
        return state.withLock { state in
            if let previous = state.resultsByKey[idempotencyKey] { return previous }
            let result: ProcessorOutcome
            if var dispute = state.disputes[networkDisputeID], !dispute.closed, !dispute.answered {
                dispute.answered = true
                dispute.closed = true
                state.disputes[networkDisputeID] = dispute
                if let won = decision {
                    state.notifications.append(
                        ConnectorNotification(id: state.nextReference("ntf"), event: .disputeClosed(networkDisputeID: networkDisputeID, won: won)),
                        after: .milliseconds(configuration.disputeDecisionMs))
                }
                result = .succeeded(processorReference: state.nextReference(decision == nil ? "acc" : "evd"))
            } else {
                result = .failed(SimulatedFailures.processing("The dispute is unknown or already answered."))
            }
            state.resultsByKey[idempotencyKey] = result
            return result
        }
    }

    public func pendingNotifications(limit: Int) async throws(ConnectorError) -> [ConnectorNotification] {
        state.withLock { $0.notifications.due(limit: limit) }
    }

    public func acknowledgeNotifications(ids: [String]) async throws(ConnectorError) {
        state.withLock { $0.notifications.acknowledge(ids) }
    }

    /// How many calls of a kind (`authorize`, `status`, `reverse`) this processor received.
    public func callCount(_ kind: String) -> Int { state.withLock { $0.calls[kind, default: 0] } }

    /// Authorizations this processor holds that were not voided or reversed.
    public func activeAuthorizationCount() -> Int { state.withLock { $0.authorizations.values.filter { !$0.voided }.count } }

    public func completeChallenge(reference: ChallengeReference, otp: String, idempotencyKey: String) async throws(ConnectorError) -> ChallengeOutcome {
        try await simulateLatency()
        return state.withLock { state in
            if let previous = state.challengeResultsByKey[idempotencyKey] { return previous }
            guard var pending = state.challenges[reference.challengeID] else {
                return .authenticated(.declined(Failure(reason: "authentication_failed", declineCode: .authenticationFailed,
                                                        message: "The 3-D Secure challenge is unknown or has expired.")))
            }
            let result: ChallengeOutcome
            if otp == TestCards.validOTP {
                state.challenges[reference.challengeID] = nil
                result = .authenticated(self.approve(pending.request, in: &state))
            } else {
                pending.attemptsRemaining -= 1
                state.challenges[reference.challengeID] = pending.attemptsRemaining > 0 ? pending : nil
                result = .wrongCode
            }
            state.challengeResultsByKey[idempotencyKey] = result
            return result
        }
    }

    public func capture(processorReference: String, amount: Money, idempotencyKey: String) async throws(ConnectorError) -> ProcessorOutcome {
        try await simulateLatency()
        return state.withLock { state in
            if let previous = state.resultsByKey[idempotencyKey] { return previous }
            let result: ProcessorOutcome
            if var auth = state.authorizations[processorReference], !auth.voided, auth.capturedMinor == 0,
               auth.amount.currency == amount.currency, amount.amountMinor > 0, amount.amountMinor <= auth.amount.amountMinor {
                auth.capturedMinor = amount.amountMinor
                state.authorizations[processorReference] = auth
                scheduleAutomaticDispute(processorReference, in: &state)
                result = .succeeded(processorReference: state.nextReference("cap"))
            } else {
                result = .failed(Failure(reason: "processing_error", declineCode: .processingError,
                                         message: "The authorization cannot be captured for that amount."))
            }
            state.resultsByKey[idempotencyKey] = result
            return result
        }
    }

    public func void(processorReference: String, idempotencyKey: String) async throws(ConnectorError) -> ProcessorOutcome {
        try await simulateLatency()
        return state.withLock { state in
            if let previous = state.resultsByKey[idempotencyKey] { return previous }
            let result: ProcessorOutcome
            if var auth = state.authorizations[processorReference], auth.capturedMinor == 0 {
                auth.voided = true
                state.authorizations[processorReference] = auth
                result = .succeeded(processorReference: state.nextReference("void"))
            } else {
                result = .failed(Failure(reason: "processing_error", declineCode: .processingError,
                                         message: "The authorization cannot be voided."))
            }
            state.resultsByKey[idempotencyKey] = result
            return result
        }
    }

    public func refund(processorReference: String, amount: Money, idempotencyKey: String) async throws(ConnectorError) -> ProcessorOutcome {
        try await simulateLatency()
        return state.withLock { state in
            if let previous = state.resultsByKey[idempotencyKey] { return previous }
            let result: ProcessorOutcome
            if var auth = state.authorizations[processorReference], auth.amount.currency == amount.currency,
               amount.amountMinor > 0, auth.refundedMinor + amount.amountMinor <= auth.capturedMinor {
                auth.refundedMinor += amount.amountMinor
                state.authorizations[processorReference] = auth
                result = .succeeded(processorReference: state.nextReference("ref"))
            } else {
                result = .failed(Failure(reason: "processing_error", declineCode: .processingError,
                                         message: "The refund exceeds what was captured."))
            }
            state.resultsByKey[idempotencyKey] = result
            return result
        }
    }

    /// Authorizations the network holds for a reference: for tests that check the processor
    /// side never saw a double charge.
    public func authorizationCount() -> Int { state.withLock { $0.authorizations.count } }

    private func approve(_ request: AuthorizationRequest, in state: inout State) -> AuthorizationOutcome {
        let reference = state.nextReference("auth")
        state.referenceByKey[request.idempotencyKey] = reference
        state.authorizations[reference] = Authorization(
            amount: request.amount, capturedMinor: request.capture ? request.amount.amountMinor : 0,
            refundedMinor: 0, voided: false, paymentID: request.paymentID, merchantID: request.merchantID,
            disputeOnCapture: request.instrument.cardNumber?.revealDigits() == TestCards.disputed)
        if request.capture { scheduleAutomaticDispute(reference, in: &state) }
        return .approved(processorReference: reference)
    }

    private func simulateLatency() async throws(ConnectorError) {
        let ms = state.withLock { state -> Int in
            let span = UInt64(configuration.latencyMaxMs - configuration.latencyMinMs + 1)
            var ms = configuration.latencyMinMs + Int(state.random.next() % span)
            if configuration.tailPerMille > 0, state.random.next() % 1000 < UInt64(configuration.tailPerMille) {
                ms *= configuration.tailMultiplier
            }
            return ms
        }
        if ms >= configuration.timeoutMs {
            try await sleep(ms: configuration.timeoutMs)
            throw .timeout
        }
        try await sleep(ms: ms)
    }

    private func sleep(ms: Int) async throws(ConnectorError) {
        guard ms > 0 else { return }
        do {
            try await Task.sleep(for: .milliseconds(ms))
        } catch {
            throw .unavailable
        }
    }
}

/// The wall clock, read by a simulator only for the dates it reports.
public enum SimulatorClock {
    @Sendable public static func wallMs() -> Int64 {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        return Int64(spec.tv_sec) * 1000 + Int64(spec.tv_nsec) / 1_000_000
    }
}

/// A small, fast, seedable generator (SplitMix64) for simulations; not for secrets.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    private var state: UInt64
    public init(seed: UInt64) { state = seed }
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
