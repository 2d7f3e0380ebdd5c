import PayrailDomain
import Synchronization

/// A simulated bank and push-to-card network for payouts. Like the real rails: a batch takes
/// time to settle (`standardTransitMs`), some accounts return the money days later (test
/// account numbers, docs/test-cards.md), only debit cards in the push-to-card ranges can receive
/// instantly, calls take a little while, and every instruction is idempotent by payout id.
public final class BankRailSimulator: PayoutRail {
    public struct Configuration: Sendable {
        public var latencyMs = 2
        /// How long a standard payout stays in transit before it is paid or returned.
        public var standardTransitMs: Int64 = 2_000
        /// How long an instant payout takes to land.
        public var instantMs: Int64 = 200
        public init() {}
    }

    /// Account numbers ending in these digits are returned with the code (as ACH R02/R03).
    public static let returnCodesByLast4 = ["0002": "account_closed", "0003": "no_account"]

    private struct Sent {
        var reference: String
        var settlesAtMs: Int64
        var outcome: RailPayoutStatus
    }

    private struct State {
        var byPayout: [String: Sent] = [:]
        var byReference: [String: String] = [:]
        var sequence = 0
        var calls: [String: Int] = [:]
    }

    public let name: String
    private let configuration: Configuration
    private let now: @Sendable () -> Int64
    private let state = Mutex(State())

    public init(name: String = "bank-rails", configuration: Configuration = Configuration(),
                now: @escaping @Sendable () -> Int64 = SimulatorClock.wallMs) {
        self.name = name
        self.configuration = configuration
        self.now = now
    }

    public func submitBatch(_ instructions: [BankPayoutInstruction]) async throws(ConnectorError) -> [String: PayoutAcceptance] {
        try await latency()
        let nowMs = now()
        return state.withLock { state in
            state.calls["batch", default: 0] += 1
            var answers: [String: PayoutAcceptance] = [:]
            for instruction in instructions {
                let sent = Self.record(instruction.payoutID, settlesAtMs: nowMs + configuration.standardTransitMs,
                                       outcome: Self.returnCodesByLast4[instruction.accountLast4].map { .failed(code: $0) } ?? .paid, in: &state)
                answers[instruction.payoutID] = .accepted(reference: sent.reference, arrivalAtMs: sent.settlesAtMs)
            }
            return answers
        }
    }

    public func pushToCardEligible(_ card: CardNumber) async throws(ConnectorError) -> Bool {
        try await latency()
        return InstantPayouts.isEligible(brand: card.brand, bin: card.bin)
    }

    public func pushToCard(_ card: CardNumber, amount: Money, payoutID: String) async throws(ConnectorError) -> PayoutAcceptance {
        try await latency()
        guard InstantPayouts.isEligible(brand: card.brand, bin: card.bin) else { return .refused(code: "ineligible_card") }
        let nowMs = now()
        return state.withLock { state in
            state.calls["push", default: 0] += 1
            let sent = Self.record(payoutID, settlesAtMs: nowMs + configuration.instantMs, outcome: .paid, in: &state)
            return .accepted(reference: sent.reference, arrivalAtMs: sent.settlesAtMs)
        }
    }

    public func payoutStatus(reference: String) async throws(ConnectorError) -> RailPayoutStatus {
        try await latency()
        let nowMs = now()
        return state.withLock { state in
            guard let payoutID = state.byReference[reference], let sent = state.byPayout[payoutID] else { return .failed(code: "no_such_payout") }
            return nowMs >= sent.settlesAtMs ? sent.outcome : .inTransit
        }
    }

    /// How many batch files (`batch`) and card pushes (`push`) the rails received.
    public func callCount(_ kind: String) -> Int { state.withLock { $0.calls[kind, default: 0] } }
    /// Distinct payouts the rails were asked to carry (a resubmitted payout counts once).
    public func payoutCount() -> Int { state.withLock { $0.byPayout.count } }

    private static func record(_ payoutID: String, settlesAtMs: Int64, outcome: RailPayoutStatus, in state: inout State) -> Sent {
        if let existing = state.byPayout[payoutID] { return existing }
        state.sequence += 1
        let sent = Sent(reference: "bnk_\(state.sequence)", settlesAtMs: settlesAtMs, outcome: outcome)
        state.byPayout[payoutID] = sent
        state.byReference[sent.reference] = payoutID
        return sent
    }

    private func latency() async throws(ConnectorError) {
        guard configuration.latencyMs > 0 else { return }
        do { try await Task.sleep(for: .milliseconds(configuration.latencyMs)) } catch { throw .unavailable }
    }
}
