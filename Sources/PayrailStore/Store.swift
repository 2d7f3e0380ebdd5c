import PayrailDomain

/// The store port: everything the payment service needs from durable storage, as typed
/// operations. Implementations (SQLite embedded, PostgreSQL in production) run the same
/// test suite.
///
/// Writes happen inside ``PaymentStore/write(_:)``: one database transaction that commits
/// only if the body returns, so the idempotency record, the payment change, its ledger
/// entries and (later) its outbox events land together or not at all.
public protocol PaymentStore: Sendable {
    /// Runs `body` in one serializable, durable transaction; rolls back if it throws.
    func write<T: Sendable>(_ body: (any StoreTransaction) async throws -> T) async throws -> T
    /// Runs `body` against a consistent read view (no writes).
    func read<T: Sendable>(_ body: (any StoreTransaction) async throws -> T) async throws -> T
    func close() async throws
}

/// The operations available inside a transaction.
public protocol StoreTransaction {
    // Merchants and API keys
    func insertMerchant(_ merchant: MerchantRecord) async throws
    func merchant(id: String) async throws -> MerchantRecord?
    func insertAPIKey(_ key: APIKeyRecord) async throws
    func apiKey(id: String) async throws -> APIKeyRecord?

    // Idempotency
    /// The record for (merchant, key); inside a write transaction the row is locked until commit.
    func idempotencyRecord(merchantID: String, key: String) async throws -> IdempotencyRecord?
    /// Inserts a new record; throws ``StoreError/conflict(_:)`` if (merchant, key) exists, so
    /// two concurrent first requests cannot both believe they own the key.
    func insertIdempotencyRecord(_ record: IdempotencyRecord) async throws
    /// Updates the state, lease, resource and response of an existing record.
    func updateIdempotencyRecord(_ record: IdempotencyRecord) async throws
    /// Updates the record only while the stored one is still in progress under the lease
    /// `lockedUntilMs` (the fencing token of the request that set it); throws
    /// ``StoreError/conflict(_:)`` otherwise. The check of an owner that did not read the
    /// record in this transaction.
    func updateIdempotencyRecord(_ record: IdempotencyRecord, whileLeasedUntil lockedUntilMs: Int64) async throws
    /// The record of the request that created `resourceID` with `operation` (e.g. the
    /// create_payment record of a payment), locked like ``idempotencyRecord(merchantID:key:)``:
    /// the reconciliation job takes over an abandoned request through it. With several (a
    /// payment's confirmations), one still in progress first, else the latest.
    func idempotencyRecord(merchantID: String, resourceID: String, operation: String) async throws -> IdempotencyRecord?

    // Payments
    func insertPayment(_ payment: Payment) async throws
    /// Replaces the stored payment if the stored version is still `expectedVersion`;
    /// throws ``StoreError/conflict(_:)`` otherwise.
    func updatePayment(_ payment: Payment, expectedVersion: Int64) async throws
    /// The payment; inside a write transaction the row is locked until commit.
    func payment(id: String, merchantID: String) async throws -> Payment?
    func listPayments(merchantID: String, livemode: Bool, status: PaymentStatus?, after cursor: PaymentCursor?, limit: Int) async throws -> [Payment]
    /// Payments of every merchant in `status` last changed before `updatedBeforeMs` that no
    /// processor has acknowledged yet (no processor reference: a bank debit waiting for its bank
    /// is not among them), least recently changed first: the reconciliation job's work list.
    /// `status` is one of ``PaymentStatus/inFlight`` (the stores index only those).
    func payments(status: PaymentStatus, updatedBeforeMs: Int64, limit: Int) async throws -> [Payment]

    /// Takes the per-payment operation lock for `owner` until `untilMs`: true if it was free,
    /// expired, or already held by `owner`. Serializes captures, cancels and refunds of one
    /// payment across every core node.
    func acquirePaymentLock(paymentID: String, owner: String, untilMs: Int64, nowMs: Int64) async throws -> Bool
    func releasePaymentLock(paymentID: String, owner: String) async throws

    // Disputes
    /// Records a dispute; false when the connector's dispute id is already recorded (processors
    /// repeat notifications).
    func insertDispute(_ dispute: Dispute) async throws -> Bool
    /// Replaces status, evidence and version if the stored version is `expectedVersion`;
    /// ``StoreError/conflict(_:)`` otherwise.
    func updateDispute(_ dispute: Dispute, expectedVersion: Int64) async throws
    /// The dispute; inside a write transaction the row is locked until commit.
    func dispute(id: String, merchantID: String) async throws -> Dispute?
    func dispute(connector: String, networkDisputeID: String) async throws -> Dispute?
    /// The merchant's disputes, newest first, optionally of one payment.
    func disputes(merchantID: String, livemode: Bool, paymentID: String?, limit: Int) async throws -> [Dispute]

    // Subscriptions
    func insertPlan(_ plan: Plan) async throws
    func plan(id: String, merchantID: String) async throws -> Plan?
    func insertSubscription(_ subscription: Subscription) async throws
    /// Replaces the subscription's changing fields if the stored version is `expectedVersion`.
    func updateSubscription(_ subscription: Subscription, expectedVersion: Int64) async throws
    /// The subscription; inside a write transaction the row is locked until commit.
    func subscription(id: String, merchantID: String) async throws -> Subscription?
    /// Trialing or active subscriptions whose period ended by `atMs`, oldest first.
    func subscriptionsDue(atMs: Int64, limit: Int) async throws -> [Subscription]
    /// Inserts an invoice; false if the subscription already has one for that period start.
    func insertInvoice(_ invoice: Invoice) async throws -> Bool
    func updateInvoice(_ invoice: Invoice, expectedVersion: Int64) async throws
    /// The invoice; inside a write transaction the row is locked until commit.
    func invoice(id: String, merchantID: String) async throws -> Invoice?
    /// A subscription's invoices, oldest first.
    func invoices(subscriptionID: String) async throws -> [Invoice]
    /// Open invoices whose next charge is due by `atMs`, oldest first.
    func invoicesDue(atMs: Int64, limit: Int) async throws -> [Invoice]

    // Payouts
    func insertPayout(_ payout: Payout) async throws
    /// Replaces status, reference, arrival and failure if the stored version is `expectedVersion`.
    func updatePayout(_ payout: Payout, expectedVersion: Int64) async throws
    /// The payout; inside a write transaction the row is locked until commit.
    func payout(id: String, merchantID: String) async throws -> Payout?
    /// The merchant's payouts, newest first.
    func payouts(merchantID: String, livemode: Bool, limit: Int) async throws -> [Payout]
    /// Payouts of every merchant in `status` (optionally of one method), oldest first: the
    /// payout job's work lists.
    func payouts(status: PayoutStatus, method: PayoutMethod?, limit: Int) async throws -> [Payout]
    /// Locks the merchant's balance in `currency` for paying out until the transaction ends:
    /// call it before reading the balance a payout is checked against.
    func lockPayoutBalance(merchantID: String, livemode: Bool, currency: Currency) async throws

    // Refunds
    func insertRefund(_ refund: Refund) async throws
    func updateRefund(_ refund: Refund) async throws
    func refund(id: String, merchantID: String) async throws -> Refund?
    func refunds(paymentID: String) async throws -> [Refund]

    // Ledger (append-only)
    func appendLedgerTransaction(_ transaction: LedgerTransaction) async throws
    /// Appends several transactions in order, as few statements as the store can (a sale's
    /// authorization and capture).
    func appendLedgerTransactions(_ transactions: [LedgerTransaction]) async throws
    /// The transactions of one payment (or payout, settlement), in commit order.
    func ledgerTransactions(resourceID: String) async throws -> [LedgerTransaction]
    /// Every transaction in commit order, for `payrail ledger verify`.
    func forEachLedgerTransaction(_ body: (LedgerTransaction) throws -> Void) async throws
    /// Entries whose transaction does not exist (the schema forbids them; verify looks anyway).
    func orphanLedgerEntries(limit: Int) async throws -> [(entryID: Int64, transactionID: String)]
    /// Sum of entries per account for accounts whose key starts with `prefix`.
    func accountBalances(keyPrefix: String) async throws -> [String: Int64]

    // FX
    func insertFXRate(_ rate: FXRate) async throws
    /// The rate for the pair valid at `atMs`; when windows overlap, the one that started last.
    func fxRate(from: Currency, to: Currency, atMs: Int64) async throws -> FXRate?
    func insertFXQuote(_ quote: FXQuote) async throws
    func fxQuote(id: String) async throws -> FXQuote?

    // Transactional outbox
    /// Appends an event; call it in the transaction that makes the change it announces.
    func appendOutboxEvent(_ event: DomainEvent) async throws
    /// Events in commit order after position `afterSequence`, with their positions.
    func outboxEvents(afterSequence: Int64, limit: Int) async throws -> [(sequence: Int64, event: DomainEvent)]

    // Webhooks
    func insertWebhookEndpoint(_ endpoint: WebhookEndpoint) async throws
    /// Replaces the endpoint (URL, event types, status, secrets, failure tracking).
    func updateWebhookEndpoint(_ endpoint: WebhookEndpoint) async throws
    /// Deletes the endpoint and its pending deliveries; false if it did not exist.
    func deleteWebhookEndpoint(id: String, merchantID: String) async throws -> Bool
    func webhookEndpoint(id: String, merchantID: String) async throws -> WebhookEndpoint?
    func webhookEndpoints(merchantID: String) async throws -> [WebhookEndpoint]
    /// Outbox events not yet turned into deliveries, oldest first; inside a write on PostgreSQL
    /// they are locked and skipped by other dispatchers (`FOR UPDATE SKIP LOCKED`).
    func outboxEventsAwaitingFanOut(limit: Int) async throws -> [DomainEvent]
    func markOutboxEventsFannedOut(ids: [String], atMs: Int64) async throws
    func outboxEvent(id: String) async throws -> DomainEvent?
    /// Inserts deliveries, ignoring any (event, endpoint) pair that already has one.
    func insertWebhookDeliveries(_ deliveries: [WebhookDelivery]) async throws
    /// Leases up to `limit` pending deliveries due at `nowMs` whose lease has expired: they are
    /// this caller's until `leaseUntilMs`. Other dispatchers skip them.
    func leaseDueWebhookDeliveries(nowMs: Int64, leaseUntilMs: Int64, limit: Int) async throws -> [WebhookDelivery]
    /// Writes a delivery back if it still carries the lease `heldUntilMs` (its holder's fencing
    /// token); false if another dispatcher took it over meanwhile.
    func updateWebhookDelivery(_ delivery: WebhookDelivery, heldUntilMs: Int64) async throws -> Bool
    func webhookDelivery(id: String) async throws -> WebhookDelivery?
    func webhookDeliveries(eventID: String) async throws -> [WebhookDelivery]
    func insertWebhookAttempt(_ attempt: WebhookAttempt) async throws
    func webhookAttempts(deliveryID: String) async throws -> [WebhookAttempt]
    /// Pending deliveries and the creation time of the oldest, for the queue metrics.
    func webhookQueue() async throws -> (pending: Int, oldestCreatedAtMs: Int64?)

    // MARK: Traffic control plane
    /// Appends a change; its plan's version must be the next one, else `StoreError.conflict`
    /// (another operator changed the plan first). The log is append-only.
    func appendTrafficChange(_ change: TrafficChange) async throws
    /// The newest change: its plan is the live one.
    func latestTrafficChange() async throws -> TrafficChange?
    /// The newest `limit` changes, newest first.
    func trafficChanges(limit: Int) async throws -> [TrafficChange]

    // MARK: Risk
    /// Adds an entry; false if it was already there.
    func insertRiskListEntry(_ entry: RiskListEntry) async throws -> Bool
    func deleteRiskListEntry(merchantID: String, list: RiskListEntry.List, kind: RiskListEntry.Kind, value: String) async throws -> Bool
    func riskListEntries(merchantID: String) async throws -> [RiskListEntry]
    /// Payments created at or after `sinceMs`, oldest first, at most `limit` (to rebuild the
    /// fraud check's velocity counters after a restart).
    func paymentsCreated(sinceMs: Int64, limit: Int) async throws -> [Payment]
}
