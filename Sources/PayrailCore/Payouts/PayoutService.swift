import Logging
import PayrailDomain
import PayrailStore

/// Payouts: money from a merchant's available balance to their bank account or debit card.
///
/// Creating one is a single transaction and never calls out: the merchant's balance is locked
/// for paying out (``StoreTransaction/lockPayoutBalance(merchantID:livemode:currency:)``), the
/// amount and fee are checked against it and posted out of it (``PostingRules/payout`` into
/// payouts in transit, ``PostingRules/fee``), and the payout, its `payout.created` event and the
/// finished idempotency record are written together. Sending and settling happen afterwards
/// (``PayoutJob``), each keyed by the payout id at the rails, so a crash anywhere resends
/// nothing twice: standard payouts go out in bank batches, instant ones are pushed to the card
/// at once; the bank's answer then posts paid (in transit to cash) or returned (back to the
/// balance, with an instant payout's fee).
public final class PayoutService: Sendable {
    private let store: any PaymentStore
    private let vaultStore: any VaultStore
    private let vault: CardVault
    private let rail: any PayoutRail
    private let codec: any ResponseSnapshotCodec
    private let ids: IdentifierGenerator
    private let now: @Sendable () -> Int64
    private let logger: Logger

    static let operation = "create_payout"

    public init(store: any PaymentStore, vaultStore: any VaultStore, vault: CardVault, rail: any PayoutRail, codec: any ResponseSnapshotCodec,
                ids: IdentifierGenerator = .system, now: @escaping @Sendable () -> Int64, logger: Logger = Logger(label: "payrail.core.payouts")) {
        self.store = store
        self.vaultStore = vaultStore
        self.vault = vault
        self.rail = rail
        self.codec = codec
        self.ids = ids
        self.now = now
        self.logger = logger
    }

    // MARK: Create

    public func createPayout(_ caller: CallerContext, _ command: CreatePayoutCommand) async throws -> IdempotentOutcome<Payout> {
        var fingerprint = RequestFingerprint(operation: Self.operation)
        fingerprint.add(command.amount.amountMinor)
        fingerprint.add(command.amount.currency.code)
        fingerprint.add(command.method.rawValue)
        let destination: PayoutDestination
        switch command.destination {
        case .bankAccount(let routingNumber, let accountNumber):
            fingerprint.add(routingNumber)
            fingerprint.add(accountNumber)
            destination = .bankAccount(routingNumber: routingNumber, last4: String(accountNumber.suffix(4)))
        case .card(let token):
            fingerprint.add(token)
            guard let card = try await vaultStore.card(token: token), card.merchantID == caller.merchantID else {
                throw PayrailError(.resourceMissing, "no such card token", field: "card_token")
            }
            guard card.erasedAtMs == nil else { throw VaultError.erased.payrailError }
            destination = .card(token: token, brand: card.summary.brand, last4: card.summary.last4)
        }
        let fingerprintHex = fingerprint.finalize()
        if let replay = try await replay(caller, key: command.idempotencyKey, fingerprint: fingerprintHex) { return .replayed(replay) }
        if command.method == .instant, case .card(let token) = command.destination {
            // The network's eligibility inquiry needs the card number: audited like every reveal.
            let number = try await reveal(token: token, merchantID: caller.merchantID, purpose: "instant payout eligibility")
            let eligible: Bool
            do { eligible = try await rail.pushToCardEligible(number) } catch {
                throw PayrailError(.processorUnavailable, "the card network did not answer; retry with the same idempotency key")
            }
            guard eligible else {
                throw PayrailError(.payoutDestinationIneligible, "this card cannot receive instant payouts; use a debit card or a standard payout",
                                   field: "card_token")
            }
        }
        let fee = command.method == .instant ? InstantPayouts.fee(for: command.amount) : Money(amountMinor: 0, currency: command.amount.currency)
        let outcome = try await store.write { tx -> IdempotentOutcome<Payout> in
            let nowMs = now()
            if let record = try await tx.idempotencyRecord(merchantID: caller.merchantID, key: command.idempotencyKey) {
                try record.requireSameRequest(operation: Self.operation, fingerprint: fingerprintHex)
                guard let response = record.response else { throw PayrailError(.internalError, "payout record without its answer") }
                return .replayed(response)
            }
            try await tx.lockPayoutBalance(merchantID: caller.merchantID, livemode: caller.livemode, currency: command.amount.currency)
            let account = LedgerAccount.merchantAvailable(caller.merchantID, livemode: caller.livemode, command.amount.currency)
            // Merchant accounts are credit-normal: what we owe is minus the sum.
            let available = -(try await tx.accountBalances(keyPrefix: account.key)[account.key] ?? 0)
            let (needed, overflow) = command.amount.amountMinor.addingReportingOverflow(fee.amountMinor)
            guard !overflow, needed <= available else {
                throw PayrailError(.balanceInsufficient,
                                   "the payout and its fee (\(needed)) exceed the available balance (\(max(available, 0)))", field: "amount.amount_minor")
            }
            let payout = Payout(id: ids.make("po"), merchantID: caller.merchantID, livemode: caller.livemode, amount: command.amount, fee: fee,
                                method: command.method, destination: destination, createdAtMs: nowMs)
            try await tx.insertPayout(payout)
            try await tx.appendLedgerTransaction(PostingRules.payout(merchantID: payout.merchantID, livemode: payout.livemode, amount: payout.amount,
                                                                     payoutID: payout.id, transactionID: ids.make("ltx"), at: nowMs))
            if fee.amountMinor > 0 {
                try await tx.appendLedgerTransaction(PostingRules.fee(merchantID: payout.merchantID, livemode: payout.livemode, fee: fee,
                                                                      resourceID: payout.id, transactionID: ids.make("ltx"), at: nowMs))
            }
            try await announce(tx, .payoutCreated, payout, at: nowMs)
            try await tx.insertIdempotencyRecord(IdempotencyRecord(
                merchantID: caller.merchantID, key: command.idempotencyKey, operation: Self.operation, fingerprint: fingerprintHex,
                state: .completed, lockedUntilMs: nowMs, resourceID: payout.id, response: codec.snapshot(payout), createdAtMs: nowMs, updatedAtMs: nowMs))
            return .current(payout)
        }
        guard case .current(let payout) = outcome else { return outcome }
        logger.info("payout created", metadata: ["payout": "\(payout.id)", "method": "\(payout.method.rawValue)", "amount": "\(payout.amount)"])
        if payout.method == .instant {
            // Pushed now; if this fails the payout job pushes it again under the same id.
            do { return .current(try await pushInstant(payout)) } catch {
                logger.warning("instant payout not pushed yet", metadata: ["payout": "\(payout.id)", "error_type": "\(type(of: error))"])
            }
        }
        return outcome
    }

    private func replay(_ caller: CallerContext, key: String, fingerprint: String) async throws -> [UInt8]? {
        guard let record = try await store.read({ try await $0.idempotencyRecord(merchantID: caller.merchantID, key: key) }) else { return nil }
        try record.requireSameRequest(operation: Self.operation, fingerprint: fingerprint)
        guard let response = record.response else { throw PayrailError(.internalError, "payout record without its answer") }
        return response
    }

    // MARK: Reads

    public func payout(_ caller: CallerContext, id: String) async throws -> Payout {
        guard let payout = try await store.read({ try await $0.payout(id: id, merchantID: caller.merchantID) }), payout.livemode == caller.livemode else {
            throw PayrailError(.resourceMissing, "no such payout", field: "payout_id")
        }
        return payout
    }

    public func payouts(_ caller: CallerContext, limit: Int) async throws -> [Payout] {
        try await store.read { try await $0.payouts(merchantID: caller.merchantID, livemode: caller.livemode, limit: limit) }
    }

    // MARK: Sending and settling (the payout job)

    /// Pushes an instant payout to its card; the rails answer at once.
    @discardableResult
    func pushInstant(_ payout: Payout) async throws -> Payout {
        guard payout.status == .pending, case .card(let token, _, _) = payout.destination else { return payout }
        let number = try await reveal(token: token, merchantID: payout.merchantID, purpose: "instant payout \(payout.id)")
        let acceptance = try await rail.pushToCard(number, amount: payout.amount, payoutID: payout.id)
        return try await applyAcceptance(acceptance, to: payout.id, merchantID: payout.merchantID)
    }

    /// Sends the pending standard payouts in one bank batch; returns how many went out.
    @discardableResult
    public func sendStandardBatch(limit: Int = 500) async throws -> Int {
        let pending = try await store.read { try await $0.payouts(status: .pending, method: .standard, limit: limit) }
        guard !pending.isEmpty else { return 0 }
        let instructions = pending.compactMap { payout -> BankPayoutInstruction? in
            guard case .bankAccount(let routingNumber, let last4) = payout.destination else { return nil }
            return BankPayoutInstruction(payoutID: payout.id, amount: payout.amount, routingNumber: routingNumber, accountLast4: last4)
        }
        let answers = try await rail.submitBatch(instructions)
        var sent = 0
        for payout in pending {
            guard let acceptance = answers[payout.id] else { continue }
            _ = try await applyAcceptance(acceptance, to: payout.id, merchantID: payout.merchantID)
            sent += 1
        }
        logger.info("payout batch sent", metadata: ["payouts": "\(sent)"])
        return sent
    }

    /// Pushes instant payouts whose first push did not happen (a crash, the network down).
    @discardableResult
    public func retryInstantPushes(limit: Int = 100) async throws -> Int {
        var pushed = 0
        for payout in try await store.read({ try await $0.payouts(status: .pending, method: .instant, limit: limit) })
        where payout.createdAtMs + 1_000 <= now() {
            if try await pushInstant(payout).status != .pending { pushed += 1 }
        }
        return pushed
    }

    /// Asks the rails about payouts in transit that should have arrived; posts the answers.
    @discardableResult
    public func settleArrivals(limit: Int = 500) async throws -> Int {
        var settled = 0
        for payout in try await store.read({ try await $0.payouts(status: .inTransit, method: nil, limit: limit) })
        where (payout.arrivalAtMs ?? 0) <= now() {
            guard let reference = payout.bankReference else { continue }
            let status = try await rail.payoutStatus(reference: reference)
            switch status {
            case .inTransit: continue
            case .paid: try await finish(payout.id, merchantID: payout.merchantID, failure: nil)
            case .failed(let code): try await finish(payout.id, merchantID: payout.merchantID, failure: code)
            }
            settled += 1
        }
        return settled
    }

    private func applyAcceptance(_ acceptance: PayoutAcceptance, to payoutID: String, merchantID: String) async throws -> Payout {
        switch acceptance {
        case .accepted(let reference, let arrivalAtMs):
            return try await store.write { tx in
                guard var payout = try await tx.payout(id: payoutID, merchantID: merchantID) else { throw PayrailError(.internalError, "payout vanished") }
                guard payout.status == .pending else { return payout }
                let expectedVersion = payout.version
                payout.send(bankReference: reference, arrivalAtMs: arrivalAtMs, at: now())
                try await tx.updatePayout(payout, expectedVersion: expectedVersion)
                return payout
            }
        case .refused(let code):
            return try await finish(payoutID, merchantID: merchantID, failure: code)
        }
    }

    /// Paid (`failure` nil) or returned: state, ledger and event in one transaction; a payout
    /// already settled is left as it is (the rails may be asked twice).
    @discardableResult
    private func finish(_ payoutID: String, merchantID: String, failure: String?) async throws -> Payout {
        try await store.write { tx in
            guard var payout = try await tx.payout(id: payoutID, merchantID: merchantID) else { throw PayrailError(.internalError, "payout vanished") }
            guard !payout.status.isTerminal else { return payout }
            let nowMs = now()
            let expectedVersion = payout.version
            if let failure {
                payout.markFailed(code: failure, at: nowMs)
                try await tx.appendLedgerTransaction(PostingRules.payoutFailed(merchantID: payout.merchantID, livemode: payout.livemode,
                                                                               amount: payout.amount, payoutID: payout.id,
                                                                               transactionID: ids.make("ltx"), at: nowMs))
                if payout.fee.amountMinor > 0 {
                    try await tx.appendLedgerTransaction(PostingRules.feeRefund(merchantID: payout.merchantID, livemode: payout.livemode,
                                                                                fee: payout.fee, resourceID: payout.id,
                                                                                transactionID: ids.make("ltx"), at: nowMs))
                }
            } else {
                payout.markPaid(at: nowMs)
                try await tx.appendLedgerTransaction(PostingRules.payoutPaid(merchantID: payout.merchantID, livemode: payout.livemode,
                                                                             amount: payout.amount, payoutID: payout.id,
                                                                             transactionID: ids.make("ltx"), at: nowMs))
            }
            try await tx.updatePayout(payout, expectedVersion: expectedVersion)
            try await announce(tx, failure == nil ? .payoutPaid : .payoutFailed, payout, at: nowMs)
            return payout
        }
    }

    private func reveal(token: String, merchantID: String, purpose: String) async throws -> CardNumber {
        guard let card = try await vaultStore.card(token: token), card.merchantID == merchantID else {
            throw PayrailError(.resourceMissing, "no such card token", field: "card_token")
        }
        try await vaultStore.appendAccess(VaultAccess(token: token, merchantID: merchantID, actor: "payouts:\(rail.name)", purpose: purpose,
                                                      atMs: now()))
        do {
            return try vault.reveal(card)
        } catch VaultError.erased {
            throw VaultError.erased.payrailError
        }
    }

    private func announce(_ tx: any StoreTransaction, _ type: DomainEvent.EventType, _ payout: Payout, at nowMs: Int64) async throws {
        try await tx.appendOutboxEvent(DomainEvent(id: ids.make("evt"), type: type, merchantID: payout.merchantID, livemode: payout.livemode,
                                                   resourceID: payout.id, payload: codec.snapshot(payout), createdAtMs: nowMs))
    }
}
