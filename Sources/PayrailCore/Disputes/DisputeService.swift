import Logging
import PayrailDomain
import PayrailStore

/// Chargebacks: recorded from the processors' notifications, answered by the merchant.
///
/// Every change to a dispute, its ledger entries and its outbox event commit in one
/// transaction. Opening withdraws the disputed amount and the fee from the merchant
/// (``PostingRules/disputeOpened``); winning reinstates the amount (``PostingRules/disputeWon``);
/// losing or accepting posts nothing (the funds are already gone). Notifications arrive at least
/// once and are applied once: a dispute is keyed by (connector, network dispute id) and a closed
/// dispute stays closed.
public final class DisputeService: Sendable {
    private let store: any PaymentStore
    private let router: ConnectorRouter
    private let codec: any ResponseSnapshotCodec
    private let ids: IdentifierGenerator
    private let now: @Sendable () -> Int64
    private let logger: Logger

    public init(store: any PaymentStore, router: ConnectorRouter, codec: any ResponseSnapshotCodec, ids: IdentifierGenerator = .system,
                now: @escaping @Sendable () -> Int64, logger: Logger = Logger(label: "payrail.core.disputes")) {
        self.store = store
        self.router = router
        self.codec = codec
        self.ids = ids
        self.now = now
        self.logger = logger
    }

    // MARK: From the networks

    /// Applies one notification from `connector`. A notification about a payment this platform
    /// does not know (or that another processor holds) is logged and dropped: acknowledging it
    /// stops the processor from repeating it.
    public func handle(_ notification: ConnectorNotification, from connector: String) async throws {
        switch notification.event {
        case .disputeOpened(let notice):
            try await open(notice, connector: connector)
        case .disputeClosed(let networkDisputeID, let won):
            try await close(networkDisputeID: networkDisputeID, won: won, connector: connector)
        case .debitSettled, .debitReturned, .redirectCompleted:
            preconditionFailure("bank debit notifications go to the payment service")
        }
    }

    private func open(_ notice: DisputeNotice, connector: String) async throws {
        try await store.write { tx in
            guard try await tx.dispute(connector: connector, networkDisputeID: notice.networkDisputeID) == nil else { return }
            if let payment = try await tx.payment(id: notice.paymentID, merchantID: notice.merchantID), payment.connector == connector,
               payment.amountCapturedMinor == 0, payment.status == .processing || payment.status == .requiresCapture {
                // The network's chargeback overtook our record of the capture: apply it once the
                // capture is recorded (the notification is delivered again).
                throw PayrailError(.operationInProgress, "the disputed capture is not recorded yet")
            }
            guard let payment = try await tx.payment(id: notice.paymentID, merchantID: notice.merchantID), payment.connector == connector,
                  payment.amountCapturedMinor > 0, payment.amount.currency == notice.amount.currency,
                  notice.amount.amountMinor > 0, notice.amount.amountMinor <= payment.amountCapturedMinor else {
                logger.warning("dispute for an unknown or uncaptured payment dropped",
                               metadata: ["connector": "\(connector)", "network_dispute": "\(notice.networkDisputeID)"])
                return
            }
            let nowMs = now()
            // A payment settled through FX pays its dispute fee in the settlement currency.
            let dispute = Dispute(id: ids.make("dp"), paymentID: payment.id, merchantID: payment.merchantID, livemode: payment.livemode,
                                  connector: connector, networkDisputeID: notice.networkDisputeID, amount: notice.amount,
                                  fee: DisputeFees.fee(for: payment.settlement?.currency ?? notice.amount.currency), reason: notice.reason,
                                  evidenceDueAtMs: notice.evidenceDueAtMs, createdAtMs: nowMs)
            guard try await tx.insertDispute(dispute) else { return }
            if let terms = payment.settlement {
                let (merchant, markup) = try terms.settle(dispute.amount)
                try await tx.appendLedgerTransaction(PostingRules.disputeOpenedWithConversion(
                    merchantID: dispute.merchantID, connector: connector, livemode: dispute.livemode, disputed: dispute.amount,
                    fromMerchant: merchant, markupReturned: markup, disputeFee: dispute.fee, paymentID: dispute.paymentID,
                    transactionID: ids.make("ltx"), at: nowMs))
            } else {
                try await tx.appendLedgerTransaction(PostingRules.disputeOpened(
                    merchantID: dispute.merchantID, connector: connector, livemode: dispute.livemode, disputed: dispute.amount,
                    disputeFee: dispute.fee, paymentID: dispute.paymentID, transactionID: ids.make("ltx"), at: nowMs))
            }
            try await announce(tx, .disputeCreated, dispute, at: nowMs)
            logger.notice("dispute opened", metadata: ["dispute": "\(dispute.id)", "payment": "\(dispute.paymentID)", "amount": "\(dispute.amount)"])
        }
    }

    private func close(networkDisputeID: String, won: Bool, connector: String) async throws {
        try await store.write { tx in
            guard var dispute = try await tx.dispute(connector: connector, networkDisputeID: networkDisputeID), !dispute.status.isClosed else { return }
            let nowMs = now()
            let expectedVersion = dispute.version
            try dispute.close(won: won, at: nowMs)
            try await tx.updateDispute(dispute, expectedVersion: expectedVersion)
            if won {
                let payment = try await tx.payment(id: dispute.paymentID, merchantID: dispute.merchantID)
                if let terms = payment?.settlement {
                    // Back at the payment's own settlement rate: the same split the opening took.
                    let (merchant, markup) = try terms.settle(dispute.amount)
                    try await tx.appendLedgerTransaction(PostingRules.disputeWonWithConversion(
                        merchantID: dispute.merchantID, connector: connector, livemode: dispute.livemode, reinstated: dispute.amount,
                        toMerchant: merchant, markup: markup, paymentID: dispute.paymentID, transactionID: ids.make("ltx"), at: nowMs))
                } else {
                    try await tx.appendLedgerTransaction(PostingRules.disputeWon(
                        merchantID: dispute.merchantID, connector: connector, livemode: dispute.livemode, reinstated: dispute.amount,
                        paymentID: dispute.paymentID, transactionID: ids.make("ltx"), at: nowMs))
                }
            }
            try await announce(tx, .disputeClosed, dispute, at: nowMs)
            logger.notice("dispute closed", metadata: ["dispute": "\(dispute.id)", "status": "\(dispute.status.rawValue)"])
        }
    }

    // MARK: The merchant's side

    public func dispute(_ caller: CallerContext, id: String) async throws -> Dispute {
        guard let dispute = try await store.read({ try await $0.dispute(id: id, merchantID: caller.merchantID) }),
              dispute.livemode == caller.livemode else {
            throw PayrailError(.resourceMissing, "no such dispute", field: "dispute_id")
        }
        return dispute
    }

    public func disputes(_ caller: CallerContext, paymentID: String?, limit: Int) async throws -> [Dispute] {
        try await store.read { try await $0.disputes(merchantID: caller.merchantID, livemode: caller.livemode, paymentID: paymentID, limit: limit) }
    }

    /// Sends the evidence to the network, then records it. The network's call carries the
    /// dispute's own key, so a retry after a crash in between sends nothing twice; the same
    /// evidence again returns the dispute as it is.
    public func submitEvidence(_ caller: CallerContext, id: String, evidence: String) async throws -> Dispute {
        let current = try await dispute(caller, id: id)
        // Already answered with this evidence (and perhaps decided since): a repeat.
        if current.status != .needsResponse && current.evidence == evidence { return current }
        var check = current
        try check.submitEvidence(evidence, at: now())
        try await callNetwork(current.connector) { connector throws(ConnectorError) in
            try await connector.submitDisputeEvidence(networkDisputeID: current.networkDisputeID, evidence: evidence,
                                                      idempotencyKey: "\(current.id):evidence")
        }
        return try await record(caller, id: id, event: .disputeUpdated) { dispute, nowMs in
            // Another call recorded it, or the network decided before this write: nothing to do.
            if dispute.status != .needsResponse && (dispute.evidence == evidence || dispute.status.isClosed) { return false }
            try dispute.submitEvidence(evidence, at: nowMs)
            return true
        }
    }

    /// Concedes the dispute: lost, final (nothing more is posted: the funds left when it opened).
    public func accept(_ caller: CallerContext, id: String) async throws -> Dispute {
        let current = try await dispute(caller, id: id)
        if current.status == .lost { return current }
        var check = current
        try check.accept(at: now())
        try await callNetwork(current.connector) { connector throws(ConnectorError) in
            try await connector.acceptDispute(networkDisputeID: current.networkDisputeID, idempotencyKey: "\(current.id):accept")
        }
        return try await record(caller, id: id, event: .disputeClosed) { dispute, nowMs in
            if dispute.status == .lost { return false }
            try dispute.accept(at: nowMs)
            return true
        }
    }

    private func callNetwork(_ connector: String, _ body: (any CardConnector) async throws(ConnectorError) -> ProcessorOutcome) async throws {
        let outcome: ProcessorOutcome
        do {
            outcome = try await router.call(connector, body)
        } catch {
            throw PayrailError(.processorUnavailable, "the network did not answer; retry")
        }
        if case .failed(let failure) = outcome { throw PayrailError(.disputeUnexpectedState, failure.message) }
    }

    /// Applies `change` to the stored dispute; when it changed something, writes it with its event.
    private func record(_ caller: CallerContext, id: String, event: DomainEvent.EventType,
                        change: (inout Dispute, Int64) throws -> Bool) async throws -> Dispute {
        try await store.write { tx in
            guard var dispute = try await tx.dispute(id: id, merchantID: caller.merchantID) else {
                throw PayrailError(.resourceMissing, "no such dispute", field: "dispute_id")
            }
            let nowMs = now()
            let expectedVersion = dispute.version
            guard try change(&dispute, nowMs) else { return dispute }
            try await tx.updateDispute(dispute, expectedVersion: expectedVersion)
            try await announce(tx, event, dispute, at: nowMs)
            return dispute
        }
    }

    private func announce(_ tx: any StoreTransaction, _ type: DomainEvent.EventType, _ dispute: Dispute, at nowMs: Int64) async throws {
        try await tx.appendOutboxEvent(DomainEvent(id: ids.make("evt"), type: type, merchantID: dispute.merchantID, livemode: dispute.livemode,
                                                   resourceID: dispute.id, payload: codec.snapshot(dispute), createdAtMs: nowMs))
    }
}
