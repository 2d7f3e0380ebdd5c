import NIOCore
import PayrailDomain
import SQLiteNIO

/// The ``StoreTransaction`` operations in SQL, on a connection that the caller holds
/// exclusively inside BEGIN ... COMMIT. All values travel as bind parameters.
struct SQLiteTransaction: StoreTransaction {
    let connection: SQLiteHandle
    /// The group-commit batch this write runs in (nil for reads): it holds balance changes
    /// until the batch commits.
    var batch: SQLiteBatchSession? = nil

    /// Maps engine errors to ``StoreError`` with the engine's message only (never row data).
    /// (``SQLiteHandle`` already throws ``StoreError/database(_:)``; other errors pass through.)
    static func translate(_ error: any Error) -> any Error { error }

    @discardableResult
    private func run(_ sql: String, _ binds: [SQLiteData] = []) throws -> [SQLiteResultRow] {
        try connection.query(sql, binds)
    }

    // MARK: Merchants and API keys

    func insertMerchant(_ merchant: MerchantRecord) async throws {
        try run("INSERT INTO merchants (id, name, created_at_ms, settlement_currency) VALUES (?, ?, ?, ?)",
                      [.text(merchant.id), .text(merchant.name), .integer(Int(merchant.createdAtMs)),
                       merchant.settlementCurrency.map { .text($0.code) } ?? .null])
    }

    func merchant(id: String) async throws -> MerchantRecord? {
        let rows = try run("SELECT id, name, created_at_ms, settlement_currency FROM merchants WHERE id = ?", [.text(id)])
        return try rows.first.map { row in
            MerchantRecord(id: try row.text("id"), name: try row.text("name"), createdAtMs: try row.int64("created_at_ms"),
                           settlementCurrency: row.optionalText("settlement_currency").flatMap(Currency.init(code:)))
        }
    }

    func insertAPIKey(_ key: APIKeyRecord) async throws {
        try run("""
            INSERT INTO api_keys (id, merchant_id, secret_sha256, livemode, created_at_ms, revoked_at_ms)
            VALUES (?, ?, ?, ?, ?, ?)
            """, [.text(key.id), .text(key.merchantID), .blob(ByteBuffer(bytes: key.secretSHA256)), .integer(key.livemode ? 1 : 0),
                  .integer(Int(key.createdAtMs)), key.revokedAtMs.map { .integer(Int($0)) } ?? .null])
    }

    func apiKey(id: String) async throws -> APIKeyRecord? {
        let rows = try run("SELECT * FROM api_keys WHERE id = ?", [.text(id)])
        return try rows.first.map { row in
            APIKeyRecord(id: try row.text("id"), merchantID: try row.text("merchant_id"), secretSHA256: try row.bytes("secret_sha256"),
                         livemode: try row.int64("livemode") != 0, createdAtMs: try row.int64("created_at_ms"),
                         revokedAtMs: row.optionalInt64("revoked_at_ms"))
        }
    }

    // MARK: Idempotency

    func idempotencyRecord(merchantID: String, key: String) async throws -> IdempotencyRecord? {
        let rows = try run("SELECT * FROM idempotency_keys WHERE merchant_id = ? AND key = ?", [.text(merchantID), .text(key)])
        return try rows.first.map(Self.idempotencyRecord)
    }

    func idempotencyRecord(merchantID: String, resourceID: String, operation: String) async throws -> IdempotencyRecord? {
        let rows = try run("SELECT * FROM idempotency_keys WHERE resource_id = ? AND merchant_id = ? AND operation = ? ORDER BY state = 'in_progress' DESC, updated_at_ms DESC LIMIT 1",
                                 [.text(resourceID), .text(merchantID), .text(operation)])
        return try rows.first.map(Self.idempotencyRecord)
    }

    private static func idempotencyRecord(_ row: SQLiteResultRow) throws -> IdempotencyRecord {
        guard let state = IdempotencyRecord.State(rawValue: try row.text("state")) else {
            throw StoreError.corrupt("idempotency_keys.state")
        }
        return IdempotencyRecord(
            merchantID: try row.text("merchant_id"), key: try row.text("key"), operation: try row.text("operation"),
            fingerprint: try row.text("fingerprint"), state: state, lockedUntilMs: try row.int64("locked_until_ms"),
            resourceID: row.optionalText("resource_id"), response: row.optionalBytes("response"),
            createdAtMs: try row.int64("created_at_ms"), updatedAtMs: try row.int64("updated_at_ms"))
    }

    func insertIdempotencyRecord(_ record: IdempotencyRecord) async throws {
        let rows = try run("""
            INSERT INTO idempotency_keys (merchant_id, key, operation, fingerprint, state, locked_until_ms, resource_id, response,
                                          created_at_ms, updated_at_ms)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            ON CONFLICT (merchant_id, key) DO NOTHING
            RETURNING key
            """, [.text(record.merchantID), .text(record.key), .text(record.operation), .text(record.fingerprint),
                  .text(record.state.rawValue), .integer(Int(record.lockedUntilMs)), record.resourceID.map { .text($0) } ?? .null,
                  record.response.map { .blob(ByteBuffer(bytes: $0)) } ?? .null,
                  .integer(Int(record.createdAtMs)), .integer(Int(record.updatedAtMs))])
        guard rows.count == 1 else { throw StoreError.conflict("idempotency key already claimed") }
    }

    func updateIdempotencyRecord(_ record: IdempotencyRecord) async throws {
        try updateIdempotencyRecord(record, condition: "", [], missing: "idempotency record missing")
    }

    func updateIdempotencyRecord(_ record: IdempotencyRecord, whileLeasedUntil lockedUntilMs: Int64) async throws {
        try updateIdempotencyRecord(record, condition: " AND state = 'in_progress' AND locked_until_ms = ?", [.integer(Int(lockedUntilMs))],
                                    missing: "idempotency record taken over")
    }

    private func updateIdempotencyRecord(_ record: IdempotencyRecord, condition: String, _ conditionBinds: [SQLiteData], missing: String) throws {
        let rows = try run("""
            UPDATE idempotency_keys SET state = ?, locked_until_ms = ?, resource_id = ?, response = ?, updated_at_ms = ?
            WHERE merchant_id = ? AND key = ?\(condition)
            RETURNING key
            """, [.text(record.state.rawValue), .integer(Int(record.lockedUntilMs)), record.resourceID.map { .text($0) } ?? .null,
                  record.response.map { .blob(ByteBuffer(bytes: $0)) } ?? .null, .integer(Int(record.updatedAtMs)),
                  .text(record.merchantID), .text(record.key)] + conditionBinds)
        guard rows.count == 1 else { throw StoreError.conflict(missing) }
    }

    // MARK: Payments

    func insertPayment(_ payment: Payment) async throws {
        payment.checkInvariants()
        let card = PaymentMethodColumns.card(payment.method)
        var binds: [SQLiteData] = [
            .text(payment.id), .text(payment.merchantID), .integer(payment.livemode ? 1 : 0),
            .integer(Int(payment.amount.amountMinor)), .text(payment.amount.currency.code), .text(payment.captureMethod.rawValue),
            .text(card.token), .text(card.brand.rawValue), .text(card.last4),
            .integer(card.expMonth), .integer(card.expYear), .text(card.fingerprint),
            .text(card.country), .text(payment.description), .integer(Int(payment.createdAtMs)),
            payment.settlement.map { .text($0.currency.code) } ?? .null, payment.settlement.map { .integer(Int($0.rateScaled)) } ?? .null,
            payment.settlement.map { .integer($0.markupBasisPoints) } ?? .null, payment.settlement?.quoteID.map { .text($0) } ?? .null,
        ]
        binds.append(contentsOf: mutableColumns(payment))
        binds.append(RiskColumns.encode(payment.risk).map { .text($0) } ?? .null)
        binds.append(RiskColumns.encode(payment.riskContext).map { .text($0) } ?? .null)
        binds.append(.text(payment.method.kind))
        binds.append(PaymentMethodColumns.details(payment.method).map { .text($0) } ?? .null)
        try run("""
            INSERT INTO payments (id, merchant_id, livemode, amount_minor, currency, capture_method,
                card_token, card_brand, card_last4, card_exp_month, card_exp_year, card_fingerprint, card_country,
                description, created_at_ms,
                settlement_currency, fx_rate_scaled, fx_markup_bps, fx_quote_id,
                status, amount_capturable_minor, amount_captured_minor, amount_refunded_minor, amount_refund_pending_minor,
                processor_reference, failure_reason, failure_decline_code, failure_message,
                challenge_id, challenge_attempts_remaining, updated_at_ms, version, connector, connectors_tried, challenge_redirect_url,
                risk, risk_context, method_kind, method_details)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """, binds)
        if !payment.metadata.isEmpty {
            // One statement for all pairs: every statement is a trip to the SQLite thread.
            var metadataBinds: [SQLiteData] = []
            for (key, value) in payment.metadata.sorted(by: { $0.key < $1.key }) {
                metadataBinds += [.text(payment.id), .text(key), .text(value)]
            }
            let rows = Array(repeating: "(?, ?, ?)", count: payment.metadata.count).joined(separator: ", ")
            try run("INSERT INTO payment_metadata (payment_id, key, value) VALUES \(rows)", metadataBinds)
        }
    }

    /// The columns that change over a payment's life, in the order `updatePayment` sets them:
    /// status, 4 amounts, processor_reference, 3 failure fields, 2 challenge fields, updated_at_ms, version,
    /// connector, connectors_tried, challenge_redirect_url.
    private func mutableColumns(_ payment: Payment) -> [SQLiteData] {
        [.text(payment.status.rawValue),
         .integer(Int(payment.amountCapturableMinor)), .integer(Int(payment.amountCapturedMinor)),
         .integer(Int(payment.amountRefundedMinor)), .integer(Int(payment.amountRefundPendingMinor)),
         payment.processorReference.map { .text($0) } ?? .null,
         payment.failure.map { .text($0.reason) } ?? .null,
         payment.failure?.declineCode.map { .text($0.rawValue) } ?? .null,
         payment.failure.map { .text($0.message) } ?? .null,
         payment.challenge.map { .text($0.challengeID) } ?? .null,
         payment.challenge.map { .integer($0.attemptsRemaining) } ?? .null,
         .integer(Int(payment.updatedAtMs)), .integer(Int(payment.version)),
         .text(payment.connector), .text(ConnectorColumns.encode(payment.connectorsTried)),
         payment.challenge?.redirectURL.map { .text($0) } ?? .null]
    }

    func updatePayment(_ payment: Payment, expectedVersion: Int64) async throws {
        payment.checkInvariants()
        let rows = try run("""
            UPDATE payments SET status = ?, amount_capturable_minor = ?, amount_captured_minor = ?, amount_refunded_minor = ?,
                amount_refund_pending_minor = ?, processor_reference = ?, failure_reason = ?, failure_decline_code = ?,
                failure_message = ?, challenge_id = ?, challenge_attempts_remaining = ?, updated_at_ms = ?, version = ?,
                connector = ?, connectors_tried = ?, challenge_redirect_url = ?
            WHERE id = ? AND version = ?
            RETURNING id
            """, mutableColumns(payment) + [.text(payment.id), .integer(Int(expectedVersion))])
        guard rows.count == 1 else { throw StoreError.conflict("payment \(payment.id) changed concurrently") }
    }

    func payment(id: String, merchantID: String) async throws -> Payment? {
        let rows = try run("SELECT * FROM payments WHERE id = ? AND merchant_id = ?", [.text(id), .text(merchantID)])
        guard let row = rows.first else { return nil }
        return try await decodePayment(row)
    }

    func listPayments(merchantID: String, livemode: Bool, status: PaymentStatus?, after cursor: PaymentCursor?, limit: Int) async throws -> [Payment] {
        var sql = "SELECT * FROM payments WHERE merchant_id = ? AND livemode = ?"
        var binds: [SQLiteData] = [.text(merchantID), .integer(livemode ? 1 : 0)]
        if let status {
            sql += " AND status = ?"
            binds.append(.text(status.rawValue))
        }
        if let cursor {
            sql += " AND (created_at_ms < ? OR (created_at_ms = ? AND id < ?))"
            binds += [.integer(Int(cursor.createdAtMs)), .integer(Int(cursor.createdAtMs)), .text(cursor.paymentID)]
        }
        sql += " ORDER BY created_at_ms DESC, id DESC LIMIT ?"
        binds.append(.integer(limit))
        var payments: [Payment] = []
        for row in try run(sql, binds) { payments.append(try await decodePayment(row)) }
        return payments
    }

    private func decodePayment(_ row: SQLiteResultRow) async throws -> Payment {
        let id = try row.text("id")
        var metadata: [String: String] = [:]
        for meta in try run("SELECT key, value FROM payment_metadata WHERE payment_id = ?", [.text(id)]) {
            metadata[try meta.text("key")] = try meta.text("value")
        }
        guard let currency = Currency(code: try row.text("currency")),
              let status = PaymentStatus(rawValue: try row.text("status")),
              let captureMethod = CaptureMethod(rawValue: try row.text("capture_method")),
              let brand = CardBrand(rawValue: try row.text("card_brand")) else {
            throw StoreError.corrupt("payment \(id)")
        }
        let failure = row.optionalText("failure_reason").map { reason in
            Failure(reason: reason, declineCode: row.optionalText("failure_decline_code").map(DeclineCode.init),
                    message: row.optionalText("failure_message") ?? "")
        }
        let challenge = row.optionalText("challenge_id").map { challengeID in
            ThreeDSChallenge(challengeID: challengeID, attemptsRemaining: Int(row.optionalInt64("challenge_attempts_remaining") ?? 0),
                             redirectURL: row.optionalText("challenge_redirect_url"))
        }
        let card = CardSummary(token: try row.text("card_token"), brand: brand, last4: try row.text("card_last4"),
                               expMonth: Int(try row.int64("card_exp_month")), expYear: Int(try row.int64("card_exp_year")),
                               fingerprint: try row.text("card_fingerprint"), country: try row.text("card_country"))
        return Payment(
            id: id, merchantID: try row.text("merchant_id"), livemode: try row.int64("livemode") != 0,
            amount: Money(amountMinor: try row.int64("amount_minor"), currency: currency), captureMethod: captureMethod,
            card: card,
            connector: try row.text("connector"), description: try row.text("description"), metadata: metadata,
            createdAtMs: try row.int64("created_at_ms"), settlement: try Self.settlement(row), status: status,
            amountCapturableMinor: try row.int64("amount_capturable_minor"), amountCapturedMinor: try row.int64("amount_captured_minor"),
            amountRefundedMinor: try row.int64("amount_refunded_minor"), amountRefundPendingMinor: try row.int64("amount_refund_pending_minor"),
            failure: failure, challenge: challenge, processorReference: row.optionalText("processor_reference"),
            updatedAtMs: try row.int64("updated_at_ms"), version: try row.int64("version"),
            risk: try RiskColumns.decodeRisk(row.optionalText("risk")), riskContext: try RiskColumns.decodeContext(row.optionalText("risk_context")),
            connectorsTried: ConnectorColumns.decode(try row.text("connectors_tried")),
            method: try PaymentMethodColumns.decode(kind: try row.text("method_kind"), details: row.optionalText("method_details"), card: card))
    }

    func payments(status: PaymentStatus, updatedBeforeMs: Int64, limit: Int) async throws -> [Payment] {
        precondition(PaymentStatus.inFlight.contains(status), "the reconciliation list is of payments in flight")
        var payments: [Payment] = []
        // The repeated status term is the partial index's condition, which lets SQLite use it.
        for row in try run("""
            SELECT * FROM payments WHERE status = ? AND status IN ('processing', 'requires_action')
            AND updated_at_ms < ? AND processor_reference IS NULL ORDER BY updated_at_ms, id LIMIT ?
            """,
                                 [.text(status.rawValue), .integer(Int(updatedBeforeMs)), .integer(limit)]) {
            payments.append(try await decodePayment(row))
        }
        return payments
    }

    // MARK: Subscriptions

    func insertPlan(_ plan: Plan) async throws {
        try run("""
            INSERT INTO plans (id, merchant_id, livemode, name, amount_minor, currency, interval_unit, interval_count, trial_days, created_at_ms)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """, [.text(plan.id), .text(plan.merchantID), .integer(plan.livemode ? 1 : 0), .text(plan.name), .integer(Int(plan.amount.amountMinor)),
                  .text(plan.amount.currency.code), .text(plan.interval.unit.rawValue), .integer(plan.interval.count), .integer(plan.trialDays),
                  .integer(Int(plan.createdAtMs))])
    }

    func plan(id: String, merchantID: String) async throws -> Plan? {
        guard let row = try run("SELECT * FROM plans WHERE id = ? AND merchant_id = ?", [.text(id), .text(merchantID)]).first else { return nil }
        guard let currency = Currency(code: try row.text("currency")), let unit = BillingInterval.Unit(rawValue: try row.text("interval_unit")) else {
            throw StoreError.corrupt("plan \(id)")
        }
        return Plan(id: id, merchantID: try row.text("merchant_id"), livemode: try row.int64("livemode") != 0, name: try row.text("name"),
                    amount: Money(amountMinor: try row.int64("amount_minor"), currency: currency),
                    interval: BillingInterval(unit: unit, count: Int(try row.int64("interval_count"))),
                    trialDays: Int(try row.int64("trial_days")), createdAtMs: try row.int64("created_at_ms"))
    }

    func insertSubscription(_ subscription: Subscription) async throws {
        subscription.checkInvariants()
        try run("""
            INSERT INTO subscriptions (id, merchant_id, livemode, plan_id, card_token, anchor_day, status, current_period_start_ms,
                current_period_end_ms, cancel_at_period_end, canceled_at_ms, created_at_ms, updated_at_ms, version)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """, [.text(subscription.id), .text(subscription.merchantID), .integer(subscription.livemode ? 1 : 0), .text(subscription.planID),
                  .text(subscription.cardToken), .integer(Int(subscription.anchorDay)), .text(subscription.status.rawValue),
                  .integer(Int(subscription.currentPeriodStartMs)), .integer(Int(subscription.currentPeriodEndMs)),
                  .integer(subscription.cancelAtPeriodEnd ? 1 : 0), subscription.canceledAtMs.map { .integer(Int($0)) } ?? .null,
                  .integer(Int(subscription.createdAtMs)), .integer(Int(subscription.updatedAtMs)), .integer(Int(subscription.version))])
    }

    func updateSubscription(_ subscription: Subscription, expectedVersion: Int64) async throws {
        subscription.checkInvariants()
        let rows = try run("""
            UPDATE subscriptions SET status = ?, current_period_start_ms = ?, current_period_end_ms = ?, cancel_at_period_end = ?,
                canceled_at_ms = ?, updated_at_ms = ?, version = ?
            WHERE id = ? AND version = ? RETURNING id
            """, [.text(subscription.status.rawValue), .integer(Int(subscription.currentPeriodStartMs)), .integer(Int(subscription.currentPeriodEndMs)),
                  .integer(subscription.cancelAtPeriodEnd ? 1 : 0), subscription.canceledAtMs.map { .integer(Int($0)) } ?? .null,
                  .integer(Int(subscription.updatedAtMs)), .integer(Int(subscription.version)), .text(subscription.id), .integer(Int(expectedVersion))])
        guard rows.count == 1 else { throw StoreError.conflict("subscription \(subscription.id) changed concurrently") }
    }

    func subscription(id: String, merchantID: String) async throws -> Subscription? {
        try run("SELECT * FROM subscriptions WHERE id = ? AND merchant_id = ?", [.text(id), .text(merchantID)]).first.map(Self.subscription)
    }

    func subscriptionsDue(atMs: Int64, limit: Int) async throws -> [Subscription] {
        try run("""
            SELECT * FROM subscriptions WHERE status IN ('trialing', 'active') AND current_period_end_ms <= ?
            ORDER BY current_period_end_ms, id LIMIT ?
            """, [.integer(Int(atMs)), .integer(limit)]).map(Self.subscription)
    }

    private static func subscription(_ row: SQLiteResultRow) throws -> Subscription {
        let id = try row.text("id")
        guard let status = SubscriptionStatus(rawValue: try row.text("status")) else { throw StoreError.corrupt("subscription \(id)") }
        return Subscription(id: id, merchantID: try row.text("merchant_id"), livemode: try row.int64("livemode") != 0,
                            planID: try row.text("plan_id"), cardToken: try row.text("card_token"), createdAtMs: try row.int64("created_at_ms"),
                            anchorDay: try row.int64("anchor_day"), status: status,
                            currentPeriodStartMs: try row.int64("current_period_start_ms"), currentPeriodEndMs: try row.int64("current_period_end_ms"),
                            cancelAtPeriodEnd: try row.int64("cancel_at_period_end") != 0, canceledAtMs: row.optionalInt64("canceled_at_ms"),
                            updatedAtMs: try row.int64("updated_at_ms"), version: try row.int64("version"))
    }

    func insertInvoice(_ invoice: Invoice) async throws -> Bool {
        invoice.checkInvariants()
        return try run("""
            INSERT INTO invoices (id, subscription_id, merchant_id, livemode, amount_minor, currency, period_start_ms, period_end_ms, status,
                attempts, next_attempt_at_ms, payment_id, created_at_ms, updated_at_ms, version)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            ON CONFLICT (subscription_id, period_start_ms) DO NOTHING
            RETURNING id
            """, [.text(invoice.id), .text(invoice.subscriptionID), .text(invoice.merchantID), .integer(invoice.livemode ? 1 : 0),
                  .integer(Int(invoice.amount.amountMinor)), .text(invoice.amount.currency.code), .integer(Int(invoice.periodStartMs)),
                  .integer(Int(invoice.periodEndMs)), .text(invoice.status.rawValue), .integer(invoice.attempts),
                  invoice.nextAttemptAtMs.map { .integer(Int($0)) } ?? .null, invoice.paymentID.map { .text($0) } ?? .null,
                  .integer(Int(invoice.createdAtMs)), .integer(Int(invoice.updatedAtMs)), .integer(Int(invoice.version))]).count == 1
    }

    func updateInvoice(_ invoice: Invoice, expectedVersion: Int64) async throws {
        invoice.checkInvariants()
        let rows = try run("""
            UPDATE invoices SET status = ?, attempts = ?, next_attempt_at_ms = ?, payment_id = ?, updated_at_ms = ?, version = ?
            WHERE id = ? AND version = ? RETURNING id
            """, [.text(invoice.status.rawValue), .integer(invoice.attempts), invoice.nextAttemptAtMs.map { .integer(Int($0)) } ?? .null,
                  invoice.paymentID.map { .text($0) } ?? .null, .integer(Int(invoice.updatedAtMs)), .integer(Int(invoice.version)),
                  .text(invoice.id), .integer(Int(expectedVersion))])
        guard rows.count == 1 else { throw StoreError.conflict("invoice \(invoice.id) changed concurrently") }
    }

    func invoice(id: String, merchantID: String) async throws -> Invoice? {
        try run("SELECT * FROM invoices WHERE id = ? AND merchant_id = ?", [.text(id), .text(merchantID)]).first.map(Self.invoice)
    }

    func invoices(subscriptionID: String) async throws -> [Invoice] {
        try run("SELECT * FROM invoices WHERE subscription_id = ? ORDER BY period_start_ms, id", [.text(subscriptionID)]).map(Self.invoice)
    }

    func invoicesDue(atMs: Int64, limit: Int) async throws -> [Invoice] {
        try run("SELECT * FROM invoices WHERE status = 'open' AND next_attempt_at_ms <= ? ORDER BY next_attempt_at_ms, id LIMIT ?",
                      [.integer(Int(atMs)), .integer(limit)]).map(Self.invoice)
    }

    private static func invoice(_ row: SQLiteResultRow) throws -> Invoice {
        let id = try row.text("id")
        guard let currency = Currency(code: try row.text("currency")), let status = InvoiceStatus(rawValue: try row.text("status")) else {
            throw StoreError.corrupt("invoice \(id)")
        }
        return Invoice(id: id, subscriptionID: try row.text("subscription_id"), merchantID: try row.text("merchant_id"),
                       livemode: try row.int64("livemode") != 0, amount: Money(amountMinor: try row.int64("amount_minor"), currency: currency),
                       periodStartMs: try row.int64("period_start_ms"), periodEndMs: try row.int64("period_end_ms"),
                       createdAtMs: try row.int64("created_at_ms"), status: status, attempts: Int(try row.int64("attempts")),
                       nextAttemptAtMs: row.optionalInt64("next_attempt_at_ms"), paymentID: row.optionalText("payment_id"),
                       updatedAtMs: try row.int64("updated_at_ms"), version: try row.int64("version"))
    }

    // MARK: Payouts

    func insertPayout(_ payout: Payout) async throws {
        payout.checkInvariants()
        let destination = PayoutColumns.destination(payout.destination)
        try run("""
            INSERT INTO payouts (id, merchant_id, livemode, amount_minor, fee_minor, currency, method, destination_kind, routing_number,
                last4, card_token, card_brand, status, bank_reference, arrival_at_ms, failure_code, created_at_ms, updated_at_ms, version)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """, [.text(payout.id), .text(payout.merchantID), .integer(payout.livemode ? 1 : 0), .integer(Int(payout.amount.amountMinor)),
                  .integer(Int(payout.fee.amountMinor)), .text(payout.amount.currency.code), .text(payout.method.rawValue),
                  .text(destination.kind), destination.routingNumber.map { .text($0) } ?? .null, .text(destination.last4),
                  destination.cardToken.map { .text($0) } ?? .null, destination.cardBrand.map { .text($0) } ?? .null,
                  .text(payout.status.rawValue), payout.bankReference.map { .text($0) } ?? .null,
                  payout.arrivalAtMs.map { .integer(Int($0)) } ?? .null, payout.failureCode.map { .text($0) } ?? .null,
                  .integer(Int(payout.createdAtMs)), .integer(Int(payout.updatedAtMs)), .integer(Int(payout.version))])
    }

    func updatePayout(_ payout: Payout, expectedVersion: Int64) async throws {
        payout.checkInvariants()
        let rows = try run("""
            UPDATE payouts SET status = ?, bank_reference = ?, arrival_at_ms = ?, failure_code = ?, updated_at_ms = ?, version = ?
            WHERE id = ? AND version = ? RETURNING id
            """, [.text(payout.status.rawValue), payout.bankReference.map { .text($0) } ?? .null,
                  payout.arrivalAtMs.map { .integer(Int($0)) } ?? .null, payout.failureCode.map { .text($0) } ?? .null,
                  .integer(Int(payout.updatedAtMs)), .integer(Int(payout.version)), .text(payout.id), .integer(Int(expectedVersion))])
        guard rows.count == 1 else { throw StoreError.conflict("payout \(payout.id) changed concurrently") }
    }

    func payout(id: String, merchantID: String) async throws -> Payout? {
        try run("SELECT * FROM payouts WHERE id = ? AND merchant_id = ?", [.text(id), .text(merchantID)]).first.map(Self.payout)
    }

    func payouts(merchantID: String, livemode: Bool, limit: Int) async throws -> [Payout] {
        try run("SELECT * FROM payouts WHERE merchant_id = ? AND livemode = ? ORDER BY created_at_ms DESC, id DESC LIMIT ?",
                      [.text(merchantID), .integer(livemode ? 1 : 0), .integer(limit)]).map(Self.payout)
    }

    func payouts(status: PayoutStatus, method: PayoutMethod?, limit: Int) async throws -> [Payout] {
        try run("SELECT * FROM payouts WHERE status = ? AND (? IS NULL OR method = ?) ORDER BY created_at_ms, id LIMIT ?",
                      [.text(status.rawValue), method.map { .text($0.rawValue) } ?? .null, method.map { .text($0.rawValue) } ?? .null,
                       .integer(limit)]).map(Self.payout)
    }

    func lockPayoutBalance(merchantID: String, livemode: Bool, currency: Currency) async throws {
        // SQLite has one writer at a time: the transaction is already alone; the row keeps the
        // schema the same as PostgreSQL's.
        try run("""
            INSERT INTO payout_guards (merchant_id, livemode, currency, payouts) VALUES (?, ?, ?, 1)
            ON CONFLICT (merchant_id, livemode, currency) DO UPDATE SET payouts = payout_guards.payouts + 1
            """, [.text(merchantID), .integer(livemode ? 1 : 0), .text(currency.code)])
    }

    private static func payout(_ row: SQLiteResultRow) throws -> Payout {
        let id = try row.text("id")
        guard let currency = Currency(code: try row.text("currency")), let method = PayoutMethod(rawValue: try row.text("method")),
              let status = PayoutStatus(rawValue: try row.text("status")),
              let destination = PayoutColumns.destination(kind: try row.text("destination_kind"), routingNumber: row.optionalText("routing_number"),
                                                          last4: try row.text("last4"), cardToken: row.optionalText("card_token"),
                                                          cardBrand: row.optionalText("card_brand")) else {
            throw StoreError.corrupt("payout \(id)")
        }
        return Payout(id: id, merchantID: try row.text("merchant_id"), livemode: try row.int64("livemode") != 0,
                      amount: Money(amountMinor: try row.int64("amount_minor"), currency: currency),
                      fee: Money(amountMinor: try row.int64("fee_minor"), currency: currency), method: method, destination: destination,
                      createdAtMs: try row.int64("created_at_ms"), status: status, bankReference: row.optionalText("bank_reference"),
                      arrivalAtMs: row.optionalInt64("arrival_at_ms"), failureCode: row.optionalText("failure_code"),
                      updatedAtMs: try row.int64("updated_at_ms"), version: try row.int64("version"))
    }

    // MARK: Disputes

    func insertDispute(_ dispute: Dispute) async throws -> Bool {
        dispute.checkInvariants()
        let rows = try run("""
            INSERT INTO disputes (id, merchant_id, livemode, payment_id, connector, network_dispute_id, amount_minor, fee_minor, currency,
                reason, status, evidence, evidence_due_at_ms, created_at_ms, updated_at_ms, version, fee_currency)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            ON CONFLICT (connector, network_dispute_id) DO NOTHING
            RETURNING id
            """, [.text(dispute.id), .text(dispute.merchantID), .integer(dispute.livemode ? 1 : 0), .text(dispute.paymentID),
                  .text(dispute.connector), .text(dispute.networkDisputeID), .integer(Int(dispute.amount.amountMinor)),
                  .integer(Int(dispute.fee.amountMinor)), .text(dispute.amount.currency.code), .text(dispute.reason),
                  .text(dispute.status.rawValue), .text(dispute.evidence), .integer(Int(dispute.evidenceDueAtMs)),
                  .integer(Int(dispute.createdAtMs)), .integer(Int(dispute.updatedAtMs)), .integer(Int(dispute.version)),
                  .text(dispute.fee.currency.code)])
        return rows.count == 1
    }

    func updateDispute(_ dispute: Dispute, expectedVersion: Int64) async throws {
        dispute.checkInvariants()
        let rows = try run("""
            UPDATE disputes SET status = ?, evidence = ?, updated_at_ms = ?, version = ? WHERE id = ? AND version = ? RETURNING id
            """, [.text(dispute.status.rawValue), .text(dispute.evidence), .integer(Int(dispute.updatedAtMs)), .integer(Int(dispute.version)),
                  .text(dispute.id), .integer(Int(expectedVersion))])
        guard rows.count == 1 else { throw StoreError.conflict("dispute \(dispute.id) changed concurrently") }
    }

    func dispute(id: String, merchantID: String) async throws -> Dispute? {
        try run("SELECT * FROM disputes WHERE id = ? AND merchant_id = ?", [.text(id), .text(merchantID)]).first.map(Self.dispute)
    }

    func dispute(connector: String, networkDisputeID: String) async throws -> Dispute? {
        try run("SELECT * FROM disputes WHERE connector = ? AND network_dispute_id = ?", [.text(connector), .text(networkDisputeID)])
            .first.map(Self.dispute)
    }

    func disputes(merchantID: String, livemode: Bool, paymentID: String?, limit: Int) async throws -> [Dispute] {
        var sql = "SELECT * FROM disputes WHERE merchant_id = ? AND livemode = ?"
        var binds: [SQLiteData] = [.text(merchantID), .integer(livemode ? 1 : 0)]
        if let paymentID {
            sql += " AND payment_id = ?"
            binds.append(.text(paymentID))
        }
        sql += " ORDER BY created_at_ms DESC, id DESC LIMIT ?"
        binds.append(.integer(limit))
        return try run(sql, binds).map(Self.dispute)
    }

    private static func dispute(_ row: SQLiteResultRow) throws -> Dispute {
        let id = try row.text("id")
        guard let currency = Currency(code: try row.text("currency")), let status = DisputeStatus(rawValue: try row.text("status")),
              let feeCurrency = Currency(code: row.optionalText("fee_currency") ?? currency.code) else {
            throw StoreError.corrupt("dispute \(id)")
        }
        return Dispute(id: id, paymentID: try row.text("payment_id"), merchantID: try row.text("merchant_id"),
                       livemode: try row.int64("livemode") != 0, connector: try row.text("connector"),
                       networkDisputeID: try row.text("network_dispute_id"),
                       amount: Money(amountMinor: try row.int64("amount_minor"), currency: currency),
                       fee: Money(amountMinor: try row.int64("fee_minor"), currency: feeCurrency), reason: try row.text("reason"),
                       evidenceDueAtMs: try row.int64("evidence_due_at_ms"), createdAtMs: try row.int64("created_at_ms"),
                       status: status, evidence: try row.text("evidence"), updatedAtMs: try row.int64("updated_at_ms"),
                       version: try row.int64("version"))
    }

    func acquirePaymentLock(paymentID: String, owner: String, untilMs: Int64, nowMs: Int64) async throws -> Bool {
        let rows = try run("""
            INSERT INTO payment_locks (payment_id, owner, locked_until_ms) VALUES (?, ?, ?)
            ON CONFLICT (payment_id) DO UPDATE SET owner = excluded.owner, locked_until_ms = excluded.locked_until_ms
            WHERE payment_locks.owner = excluded.owner OR payment_locks.locked_until_ms <= ?
            RETURNING owner
            """, [.text(paymentID), .text(owner), .integer(Int(untilMs)), .integer(Int(nowMs))])
        return rows.count == 1
    }

    func releasePaymentLock(paymentID: String, owner: String) async throws {
        try run("DELETE FROM payment_locks WHERE payment_id = ? AND owner = ?", [.text(paymentID), .text(owner)])
    }

    // MARK: Refunds

    func insertRefund(_ refund: Refund) async throws {
        try run("""
            INSERT INTO refunds (id, payment_id, merchant_id, amount_minor, currency, status, reason, failure_reason,
                failure_decline_code, failure_message, processor_reference, created_at_ms, updated_at_ms)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """, [.text(refund.id), .text(refund.paymentID), .text(refund.merchantID), .integer(Int(refund.amount.amountMinor)),
                  .text(refund.amount.currency.code), .text(refund.status.rawValue), .text(refund.reason)]
                + refundMutableColumns(refund) + [.integer(Int(refund.createdAtMs)), .integer(Int(refund.updatedAtMs))])
    }

    private func refundMutableColumns(_ refund: Refund) -> [SQLiteData] {
        [refund.failure.map { .text($0.reason) } ?? .null,
         refund.failure?.declineCode.map { .text($0.rawValue) } ?? .null,
         refund.failure.map { .text($0.message) } ?? .null,
         refund.processorReference.map { .text($0) } ?? .null]
    }

    func updateRefund(_ refund: Refund) async throws {
        let rows = try run("""
            UPDATE refunds SET status = ?, failure_reason = ?, failure_decline_code = ?, failure_message = ?,
                processor_reference = ?, updated_at_ms = ?
            WHERE id = ? AND status = 'pending'
            RETURNING id
            """, [.text(refund.status.rawValue)] + refundMutableColumns(refund) + [.integer(Int(refund.updatedAtMs)), .text(refund.id)])
        guard rows.count == 1 else { throw StoreError.conflict("refund \(refund.id) is no longer pending") }
    }

    func refund(id: String, merchantID: String) async throws -> Refund? {
        try run("SELECT * FROM refunds WHERE id = ? AND merchant_id = ?", [.text(id), .text(merchantID)]).first.map(decodeRefund)
    }

    func refunds(paymentID: String) async throws -> [Refund] {
        try run("SELECT * FROM refunds WHERE payment_id = ? ORDER BY created_at_ms, id", [.text(paymentID)]).map(decodeRefund)
    }

    private func decodeRefund(_ row: SQLiteResultRow) throws -> Refund {
        let id = try row.text("id")
        guard let currency = Currency(code: try row.text("currency")), let status = RefundStatus(rawValue: try row.text("status")) else {
            throw StoreError.corrupt("refund \(id)")
        }
        let failure = row.optionalText("failure_reason").map { reason in
            Failure(reason: reason, declineCode: row.optionalText("failure_decline_code").map(DeclineCode.init),
                    message: row.optionalText("failure_message") ?? "")
        }
        return Refund(id: id, paymentID: try row.text("payment_id"), merchantID: try row.text("merchant_id"),
                      amount: Money(amountMinor: try row.int64("amount_minor"), currency: currency), reason: try row.text("reason"),
                      createdAtMs: try row.int64("created_at_ms"), status: status, failure: failure,
                      processorReference: row.optionalText("processor_reference"), updatedAtMs: try row.int64("updated_at_ms"))
    }

    // MARK: Ledger

    func appendLedgerTransaction(_ transaction: LedgerTransaction) async throws {
        try await appendLedgerTransactions([transaction])
    }

    /// Two statements whatever the count: the transactions, then all their entries.
    func appendLedgerTransactions(_ transactions: [LedgerTransaction]) async throws {
        guard !transactions.isEmpty else { return }
        guard let batch else { preconditionFailure("ledger writes run inside a group-commit batch") }
        var transactionBinds: [SQLiteData] = []
        transactionBinds.reserveCapacity(transactions.count * 5)
        var entryBinds: [SQLiteData] = []
        var entryCount = 0
        for transaction in transactions {
            // Re-checked here as well as at construction: the store never writes an unbalanced set.
            try LedgerTransaction.checkBalanced(transaction.entries)
            transactionBinds += [.text(transaction.id), .text(transaction.kind.rawValue), .text(transaction.resourceID),
                                 transaction.refundID.map { .text($0) } ?? .null, .integer(Int(transaction.createdAtMs))]
            for entry in transaction.entries {
                entryBinds += [.text(transaction.id), .text(entry.account.key), .text(entry.account.currency.code), .integer(Int(entry.amountMinor))]
            }
            entryCount += transaction.entries.count
        }
        try run(Self.ledgerTransactionInsert.sql(rows: transactions.count), transactionBinds)
        try run(Self.ledgerEntryInsert.sql(rows: entryCount), entryBinds)
        // Balances: once per account per batch, just before it commits.
        for transaction in transactions { batch.balances.record(transaction.entries) }
    }

    private static let ledgerTransactionInsert = MultiRowInsert(
        "INSERT INTO ledger_transactions (id, kind, resource_id, refund_id, created_at_ms) VALUES ", row: "(?, ?, ?, ?, ?)", prebuilt: 4)
    private static let ledgerEntryInsert = MultiRowInsert(
        "INSERT INTO ledger_entries (transaction_id, account, currency, amount_minor) VALUES ", row: "(?, ?, ?, ?)", prebuilt: 12)

    /// Adds one account's net change of a batch to its stored balance.
    static let balanceUpsert = """
        INSERT INTO account_balances (account, currency, balance_minor, entry_count) VALUES (?, ?, ?, ?)
        ON CONFLICT (account) DO UPDATE SET balance_minor = account_balances.balance_minor + excluded.balance_minor,
                                            entry_count = account_balances.entry_count + excluded.entry_count
        """

    func ledgerTransactions(resourceID: String) async throws -> [LedgerTransaction] {
        let rows = try run("""
            SELECT t.id, t.kind, t.resource_id, t.refund_id, t.created_at_ms, e.account, e.amount_minor
            FROM ledger_transactions t JOIN ledger_entries e ON e.transaction_id = t.id
            WHERE t.resource_id = ? ORDER BY t.seq, e.id
            """, [.text(resourceID)])
        return try Self.assemble(rows)
    }

    func forEachLedgerTransaction(_ body: (LedgerTransaction) throws -> Void) async throws {
        var afterSeq = 0
        while true {
            let rows = try run("""
                SELECT t.seq, t.id, t.kind, t.resource_id, t.refund_id, t.created_at_ms, e.account, e.amount_minor
                FROM ledger_transactions t JOIN ledger_entries e ON e.transaction_id = t.id
                WHERE t.seq IN (SELECT seq FROM ledger_transactions WHERE seq > ? ORDER BY seq LIMIT 500)
                ORDER BY t.seq, e.id
                """, [.integer(afterSeq)])
            if rows.isEmpty { return }
            for transaction in try Self.assemble(rows) { try body(transaction) }
            afterSeq = Int(try rows.last!.int64("seq"))
        }
    }

    /// Groups joined transaction/entry rows back into validated transactions.
    private static func assemble(_ rows: [SQLiteResultRow]) throws -> [LedgerTransaction] {
        var result: [LedgerTransaction] = []
        var index = 0
        while index < rows.count {
            let id = try rows[index].text("id")
            let head = rows[index]
            var entries: [LedgerEntry] = []
            while index < rows.count, try rows[index].text("id") == id {
                guard let account = LedgerAccount(key: try rows[index].text("account")) else { throw StoreError.corrupt("ledger account in \(id)") }
                entries.append(LedgerEntry(account: account, amountMinor: try rows[index].int64("amount_minor")))
                index += 1
            }
            guard let kind = LedgerTransactionKind(rawValue: try head.text("kind")) else { throw StoreError.corrupt("ledger kind in \(id)") }
            do {
                result.append(try LedgerTransaction(id: id, kind: kind, resourceID: try head.text("resource_id"),
                                                    refundID: head.optionalText("refund_id"), entries: entries,
                                                    createdAtMs: try head.int64("created_at_ms")))
            } catch {
                throw StoreError.corrupt("ledger transaction \(id) is unbalanced: \(error)")
            }
        }
        return result
    }

    func orphanLedgerEntries(limit: Int) async throws -> [(entryID: Int64, transactionID: String)] {
        try run("""
            SELECT e.id, e.transaction_id FROM ledger_entries e LEFT JOIN ledger_transactions t ON t.id = e.transaction_id
            WHERE t.id IS NULL ORDER BY e.id LIMIT ?
            """, [.integer(limit)]).map { (try $0.int64("id"), try $0.text("transaction_id")) }
    }

    func accountBalances(keyPrefix: String) async throws -> [String: Int64] {
        let rows = try run("SELECT account, balance_minor AS balance FROM account_balances WHERE account >= ? AND account < ?",
                                 [.text(keyPrefix), .text(keyPrefix + "\u{10FFFF}")])
        var balances: [String: Int64] = [:]
        for row in rows { balances[try row.text("account")] = try row.int64("balance") }
        for (account, pending) in batch?.balances.pending(keyPrefix: keyPrefix) ?? [:] {
            balances[account, default: 0] += pending
        }
        return balances
    }

    private static func settlement(_ row: SQLiteResultRow) throws -> SettlementTerms? {
        guard let code = row.optionalText("settlement_currency") else { return nil }
        guard let currency = Currency(code: code), let rate = row.optionalInt64("fx_rate_scaled"), rate > 0,
              let markup = row.optionalInt64("fx_markup_bps") else { throw StoreError.corrupt("payment settlement terms") }
        return SettlementTerms(currency: currency, rateScaled: rate, markupBasisPoints: Int(markup), quoteID: row.optionalText("fx_quote_id"))
    }

    // MARK: FX

    func insertFXRate(_ rate: FXRate) async throws {
        try run("""
            INSERT INTO fx_rates (from_currency, to_currency, rate_scaled, source, valid_from_ms, valid_until_ms) VALUES (?, ?, ?, ?, ?, ?)
            """, [.text(rate.from.code), .text(rate.to.code), .integer(Int(rate.rateScaled)), .text(rate.source),
                  .integer(Int(rate.validFromMs)), .integer(Int(rate.validUntilMs))])
    }

    func fxRate(from: Currency, to: Currency, atMs: Int64) async throws -> FXRate? {
        let rows = try run("""
            SELECT * FROM fx_rates WHERE from_currency = ? AND to_currency = ? AND valid_from_ms <= ? AND valid_until_ms > ?
            ORDER BY valid_from_ms DESC, id DESC LIMIT 1
            """, [.text(from.code), .text(to.code), .integer(Int(atMs)), .integer(Int(atMs))])
        return try rows.first.map { row in
            do {
                return try FXRate(from: from, to: to, rateScaled: try row.int64("rate_scaled"), source: try row.text("source"),
                                  validFromMs: try row.int64("valid_from_ms"), validUntilMs: try row.int64("valid_until_ms"))
            } catch {
                throw StoreError.corrupt("fx rate")
            }
        }
    }

    func insertFXQuote(_ quote: FXQuote) async throws {
        try run("""
            INSERT INTO fx_quotes (id, merchant_id, from_currency, to_currency, rate_scaled, markup_bps, source, created_at_ms, expires_at_ms)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
            """, [.text(quote.id), .text(quote.merchantID), .text(quote.from.code), .text(quote.to.code), .integer(Int(quote.rateScaled)),
                  .integer(quote.markupBasisPoints), .text(quote.source), .integer(Int(quote.createdAtMs)), .integer(Int(quote.expiresAtMs))])
    }

    func fxQuote(id: String) async throws -> FXQuote? {
        try run("SELECT * FROM fx_quotes WHERE id = ?", [.text(id)]).first.map { row in
            guard let from = Currency(code: try row.text("from_currency")), let to = Currency(code: try row.text("to_currency")) else {
                throw StoreError.corrupt("fx quote")
            }
            return FXQuote(id: try row.text("id"), merchantID: try row.text("merchant_id"), from: from, to: to,
                           rateScaled: try row.int64("rate_scaled"), markupBasisPoints: Int(try row.int64("markup_bps")),
                           source: try row.text("source"), createdAtMs: try row.int64("created_at_ms"), expiresAtMs: try row.int64("expires_at_ms"))
        }
    }

    // MARK: Outbox

    func appendOutboxEvent(_ event: DomainEvent) async throws {
        try run("""
            INSERT INTO outbox_events (id, type, merchant_id, livemode, resource_id, payload, created_at_ms)
            VALUES (?, ?, ?, ?, ?, ?, ?)
            """, [.text(event.id), .text(event.type.rawValue), .text(event.merchantID), .integer(event.livemode ? 1 : 0),
                  .text(event.resourceID), .blob(ByteBuffer(bytes: event.payload)), .integer(Int(event.createdAtMs))])
    }

    func outboxEvents(afterSequence: Int64, limit: Int) async throws -> [(sequence: Int64, event: DomainEvent)] {
        try run("SELECT * FROM outbox_events WHERE seq > ? ORDER BY seq LIMIT ?", [.integer(Int(afterSequence)), .integer(limit)]).map { row in
            (try row.int64("seq"), DomainEvent(
                id: try row.text("id"), type: DomainEvent.EventType(try row.text("type")), merchantID: try row.text("merchant_id"),
                livemode: try row.int64("livemode") != 0, resourceID: try row.text("resource_id"), payload: try row.bytes("payload"),
                createdAtMs: try row.int64("created_at_ms")))
        }
    }

    // MARK: Webhooks

    func insertWebhookEndpoint(_ endpoint: WebhookEndpoint) async throws {
        try run("""
            INSERT INTO webhook_endpoints (id, merchant_id, livemode, url, event_types, description, status, disabled_reason, secrets,
                                           failing_since_ms, created_at_ms, updated_at_ms)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """, [.text(endpoint.id), .text(endpoint.merchantID), .integer(endpoint.livemode ? 1 : 0), .text(endpoint.url),
                  .text(WebhookColumns.encode(eventTypes: endpoint.eventTypes)), .text(endpoint.description),
                  .text(endpoint.status.rawValue), endpoint.disabledReason.map { .text($0) } ?? .null,
                  .text(WebhookColumns.encode(secrets: endpoint.secrets)), endpoint.failingSinceMs.map { .integer(Int($0)) } ?? .null,
                  .integer(Int(endpoint.createdAtMs)), .integer(Int(endpoint.updatedAtMs))])
    }

    func updateWebhookEndpoint(_ endpoint: WebhookEndpoint) async throws {
        let rows = try run("""
            UPDATE webhook_endpoints SET url = ?, event_types = ?, description = ?, status = ?, disabled_reason = ?, secrets = ?,
                failing_since_ms = ?, updated_at_ms = ?
            WHERE id = ? AND merchant_id = ? RETURNING id
            """, [.text(endpoint.url), .text(WebhookColumns.encode(eventTypes: endpoint.eventTypes)), .text(endpoint.description),
                  .text(endpoint.status.rawValue), endpoint.disabledReason.map { .text($0) } ?? .null,
                  .text(WebhookColumns.encode(secrets: endpoint.secrets)), endpoint.failingSinceMs.map { .integer(Int($0)) } ?? .null,
                  .integer(Int(endpoint.updatedAtMs)), .text(endpoint.id), .text(endpoint.merchantID)])
        guard rows.count == 1 else { throw StoreError.conflict("webhook endpoint missing") }
    }

    func deleteWebhookEndpoint(id: String, merchantID: String) async throws -> Bool {
        let rows = try run("DELETE FROM webhook_endpoints WHERE id = ? AND merchant_id = ? RETURNING id", [.text(id), .text(merchantID)])
        guard rows.count == 1 else { return false }
        try run("UPDATE webhook_deliveries SET status = 'failed' WHERE endpoint_id = ? AND status = 'pending'", [.text(id)])
        return true
    }

    func webhookEndpoint(id: String, merchantID: String) async throws -> WebhookEndpoint? {
        try run("SELECT * FROM webhook_endpoints WHERE id = ? AND merchant_id = ?", [.text(id), .text(merchantID)]).first.map(Self.endpoint)
    }

    func webhookEndpoints(merchantID: String) async throws -> [WebhookEndpoint] {
        try run("SELECT * FROM webhook_endpoints WHERE merchant_id = ? ORDER BY created_at_ms, id", [.text(merchantID)]).map(Self.endpoint)
    }

    private static func endpoint(_ row: SQLiteResultRow) throws -> WebhookEndpoint {
        guard let status = WebhookEndpoint.Status(rawValue: try row.text("status")) else { throw StoreError.corrupt("webhook endpoint status") }
        return WebhookEndpoint(id: try row.text("id"), merchantID: try row.text("merchant_id"), livemode: try row.int64("livemode") != 0,
                               url: try row.text("url"), eventTypes: WebhookColumns.decodeEventTypes(try row.text("event_types")),
                               description: try row.text("description"), status: status, disabledReason: row.optionalText("disabled_reason"),
                               secrets: try WebhookColumns.decodeSecrets(try row.text("secrets")),
                               failingSinceMs: row.optionalInt64("failing_since_ms"), createdAtMs: try row.int64("created_at_ms"),
                               updatedAtMs: try row.int64("updated_at_ms"))
    }

    func outboxEventsAwaitingFanOut(limit: Int) async throws -> [DomainEvent] {
        try run("SELECT * FROM outbox_events WHERE fanned_out_at_ms IS NULL ORDER BY seq LIMIT ?", [.integer(limit)]).map(Self.event)
    }

    func markOutboxEventsFannedOut(ids: [String], atMs: Int64) async throws {
        for id in ids {
            try run("UPDATE outbox_events SET fanned_out_at_ms = ? WHERE id = ?", [.integer(Int(atMs)), .text(id)])
        }
    }

    func outboxEvent(id: String) async throws -> DomainEvent? {
        try run("SELECT * FROM outbox_events WHERE id = ?", [.text(id)]).first.map(Self.event)
    }

    private static func event(_ row: SQLiteResultRow) throws -> DomainEvent {
        DomainEvent(id: try row.text("id"), type: DomainEvent.EventType(try row.text("type")), merchantID: try row.text("merchant_id"),
                    livemode: try row.int64("livemode") != 0, resourceID: try row.text("resource_id"), payload: try row.bytes("payload"),
                    createdAtMs: try row.int64("created_at_ms"))
    }

    func insertWebhookDeliveries(_ deliveries: [WebhookDelivery]) async throws {
        for delivery in deliveries {
            try run("""
                INSERT INTO webhook_deliveries (id, event_id, endpoint_id, merchant_id, status, attempts, next_attempt_at_ms,
                                                leased_until_ms, created_at_ms, updated_at_ms)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (event_id, endpoint_id) DO NOTHING
                """, Self.binds(delivery))
        }
    }

    private static func binds(_ delivery: WebhookDelivery) -> [SQLiteData] {
        [.text(delivery.id), .text(delivery.eventID), .text(delivery.endpointID), .text(delivery.merchantID),
         .text(delivery.status.rawValue), .integer(delivery.attempts), .integer(Int(delivery.nextAttemptAtMs)),
         .integer(Int(delivery.leasedUntilMs)), .integer(Int(delivery.createdAtMs)), .integer(Int(delivery.updatedAtMs))]
    }

    func leaseDueWebhookDeliveries(nowMs: Int64, leaseUntilMs: Int64, limit: Int) async throws -> [WebhookDelivery] {
        try run("""
            UPDATE webhook_deliveries SET leased_until_ms = ?
            WHERE id IN (
                SELECT d.id FROM webhook_deliveries d JOIN webhook_endpoints e ON e.id = d.endpoint_id AND e.status = 'enabled'
                WHERE d.status = 'pending' AND d.next_attempt_at_ms <= ? AND d.leased_until_ms <= ?
                ORDER BY d.next_attempt_at_ms LIMIT ?)
            RETURNING *
            """, [.integer(Int(leaseUntilMs)), .integer(Int(nowMs)), .integer(Int(nowMs)), .integer(limit)]).map(Self.delivery)
    }

    func updateWebhookDelivery(_ delivery: WebhookDelivery, heldUntilMs: Int64) async throws -> Bool {
        let rows = try run("""
            UPDATE webhook_deliveries SET status = ?, attempts = ?, next_attempt_at_ms = ?, leased_until_ms = ?, updated_at_ms = ?
            WHERE id = ? AND leased_until_ms = ? RETURNING id
            """, [.text(delivery.status.rawValue), .integer(delivery.attempts), .integer(Int(delivery.nextAttemptAtMs)),
                  .integer(Int(delivery.leasedUntilMs)), .integer(Int(delivery.updatedAtMs)), .text(delivery.id), .integer(Int(heldUntilMs))])
        return rows.count == 1
    }

    func webhookDelivery(id: String) async throws -> WebhookDelivery? {
        try run("SELECT * FROM webhook_deliveries WHERE id = ?", [.text(id)]).first.map(Self.delivery)
    }

    func webhookDeliveries(eventID: String) async throws -> [WebhookDelivery] {
        try run("SELECT * FROM webhook_deliveries WHERE event_id = ? ORDER BY created_at_ms, id", [.text(eventID)]).map(Self.delivery)
    }

    private static func delivery(_ row: SQLiteResultRow) throws -> WebhookDelivery {
        guard let status = WebhookDelivery.Status(rawValue: try row.text("status")) else { throw StoreError.corrupt("webhook delivery status") }
        return WebhookDelivery(id: try row.text("id"), eventID: try row.text("event_id"), endpointID: try row.text("endpoint_id"),
                               merchantID: try row.text("merchant_id"), status: status, attempts: Int(try row.int64("attempts")),
                               nextAttemptAtMs: try row.int64("next_attempt_at_ms"), leasedUntilMs: try row.int64("leased_until_ms"),
                               createdAtMs: try row.int64("created_at_ms"), updatedAtMs: try row.int64("updated_at_ms"))
    }

    func insertWebhookAttempt(_ attempt: WebhookAttempt) async throws {
        try run("""
            INSERT INTO webhook_attempts (delivery_id, attempted_at_ms, http_status, latency_ms, error, response_excerpt, retry_at_ms)
            VALUES (?, ?, ?, ?, ?, ?, ?)
            """, [.text(attempt.deliveryID), .integer(Int(attempt.attemptedAtMs)), attempt.httpStatus.map { .integer($0) } ?? .null,
                  .integer(Int(attempt.latencyMs)), attempt.error.map { .text($0) } ?? .null, .text(attempt.responseExcerpt),
                  attempt.retryAtMs.map { .integer(Int($0)) } ?? .null])
    }

    func webhookAttempts(deliveryID: String) async throws -> [WebhookAttempt] {
        try run("SELECT * FROM webhook_attempts WHERE delivery_id = ? ORDER BY id", [.text(deliveryID)]).map { row in
            WebhookAttempt(deliveryID: try row.text("delivery_id"), attemptedAtMs: try row.int64("attempted_at_ms"),
                           httpStatus: row.optionalInt64("http_status").map(Int.init), latencyMs: try row.int64("latency_ms"),
                           error: row.optionalText("error"), responseExcerpt: try row.text("response_excerpt"),
                           retryAtMs: row.optionalInt64("retry_at_ms"))
        }
    }

    func webhookQueue() async throws -> (pending: Int, oldestCreatedAtMs: Int64?) {
        let row = try run("""
            SELECT COUNT(*) AS pending, MIN(d.created_at_ms) AS oldest FROM webhook_deliveries d
            JOIN webhook_endpoints e ON e.id = d.endpoint_id AND e.status = 'enabled' WHERE d.status = 'pending'
            """).first
        return (Int(row?.optionalInt64("pending") ?? 0), row?.optionalInt64("oldest"))
    }

    // MARK: Vault (the attached `vault` database; see SQLiteVaultStore)

    func insertVaultedCard(_ card: VaultedCardRecord) async throws {
        try run("""
            INSERT INTO vault.cards (token, merchant_id, brand, last4, exp_month, exp_year, fingerprint, country,
                sealed_pan, wrapped_data_key, key_version, created_at_ms, customer_ref)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (token) DO NOTHING
            """, [.text(card.summary.token), .text(card.merchantID), .text(card.summary.brand.rawValue), .text(card.summary.last4),
                  .integer(card.summary.expMonth), .integer(card.summary.expYear), .text(card.summary.fingerprint),
                  .text(card.summary.country), .blob(ByteBuffer(bytes: card.sealedPAN)), .blob(ByteBuffer(bytes: card.wrappedDataKey)),
                  .integer(card.keyVersion), .integer(Int(card.createdAtMs)), card.customerRef.map { .text($0) } ?? .null])
    }

    func vaultedCard(token: String) async throws -> VaultedCardRecord? {
        try run("SELECT * FROM vault.cards WHERE token = ?", [.text(token)]).first.map(Self.vaultedCard)
    }

    private static func vaultedCard(_ row: SQLiteResultRow) throws -> VaultedCardRecord {
        guard let brand = CardBrand(rawValue: try row.text("brand")) else { throw StoreError.corrupt("vault card brand") }
        return VaultedCardRecord(
            summary: CardSummary(token: try row.text("token"), brand: brand, last4: try row.text("last4"),
                                 expMonth: Int(try row.int64("exp_month")), expYear: Int(try row.int64("exp_year")),
                                 fingerprint: try row.text("fingerprint"), country: try row.text("country")),
            merchantID: try row.text("merchant_id"), sealedPAN: try row.bytes("sealed_pan"),
            wrappedDataKey: row.optionalBytes("wrapped_data_key") ?? [], keyVersion: Int(try row.int64("key_version")),
            createdAtMs: try row.int64("created_at_ms"), customerRef: row.optionalText("customer_ref"),
            erasedAtMs: row.optionalInt64("erased_at_ms"))
    }

    func vaultedCards(wrappedBelow version: Int, limit: Int) async throws -> [VaultedCardRecord] {
        try run("SELECT * FROM vault.cards WHERE key_version < ? AND erased_at_ms IS NULL ORDER BY key_version, created_at_ms LIMIT ?",
                      [.integer(version), .integer(limit)]).map(Self.vaultedCard)
    }

    func rewrapVaultedCard(token: String, wrappedDataKey: [UInt8], keyVersion: Int, fromVersion: Int) async throws -> Bool {
        try run("""
            UPDATE vault.cards SET wrapped_data_key = ?, key_version = ?
            WHERE token = ? AND key_version = ? AND erased_at_ms IS NULL RETURNING token
            """, [.blob(ByteBuffer(bytes: wrappedDataKey)), .integer(keyVersion), .text(token), .integer(fromVersion)]).count == 1
    }

    func eraseVaultedCards(merchantID: String, customerRef: String, atMs: Int64) async throws -> Int {
        // The data key goes; the ciphertext stays, unreadable by anyone, with the card's summary.
        try run("""
            UPDATE vault.cards SET wrapped_data_key = X'', erased_at_ms = ?
            WHERE merchant_id = ? AND customer_ref = ? AND erased_at_ms IS NULL RETURNING token
            """, [.integer(Int(atMs)), .text(merchantID), .text(customerRef)]).count
    }

    func appendVaultAccess(_ access: VaultAccess) async throws {
        try run("INSERT INTO vault.access_log (token, merchant_id, actor, purpose, at_ms) VALUES (?, ?, ?, ?, ?)",
                      [.text(access.token), .text(access.merchantID), .text(access.actor), .text(access.purpose), .integer(Int(access.atMs))])
    }

    func vaultAccesses(token: String, limit: Int) async throws -> [VaultAccess] {
        try run("SELECT * FROM vault.access_log WHERE token = ? ORDER BY id DESC LIMIT ?", [.text(token), .integer(limit)]).map { row in
            VaultAccess(token: try row.text("token"), merchantID: try row.text("merchant_id"), actor: try row.text("actor"),
                        purpose: try row.text("purpose"), atMs: try row.int64("at_ms"))
        }
    }
}

extension SQLiteResultRow {
    func text(_ name: String) throws -> String {
        guard let value = column(name)?.string, column(name) != .null else { throw StoreError.corrupt("missing column \(name)") }
        return value
    }
    func int64(_ name: String) throws -> Int64 {
        guard case .integer(let value) = column(name) else { throw StoreError.corrupt("missing integer column \(name)") }
        return Int64(value)
    }
    func bytes(_ name: String) throws -> [UInt8] {
        guard case .blob(let buffer) = column(name) else { throw StoreError.corrupt("missing blob column \(name)") }
        return Array(buffer.readableBytesView)
    }
    func optionalText(_ name: String) -> String? {
        guard case .text(let value) = column(name) else { return nil }
        return value
    }
    func optionalInt64(_ name: String) -> Int64? {
        guard case .integer(let value) = column(name) else { return nil }
        return Int64(value)
    }
    func optionalBytes(_ name: String) -> [UInt8]? {
        guard case .blob(let buffer) = column(name) else { return nil }
        return Array(buffer.readableBytesView)
    }

}

extension SQLiteTransaction {
    // MARK: Traffic control plane

    func appendTrafficChange(_ change: TrafficChange) async throws {
        let action = change.action.stored
        let rows = try run("""
            INSERT INTO traffic_changes (version, plan, action, arguments, actor, reason, at_ms)
            VALUES (?, ?, ?, ?, ?, ?, ?)
            ON CONFLICT (version) DO NOTHING
            RETURNING version
            """, [.integer(Int(change.plan.version)), .text(change.plan.encoded), .text(action.kind), .text(action.arguments),
                  .text(change.actor), .text(change.reason), .integer(Int(change.atMs))])
        guard rows.count == 1 else { throw StoreError.conflict("traffic plan version \(change.plan.version) already exists") }
    }

    func latestTrafficChange() async throws -> TrafficChange? {
        try await trafficChanges(limit: 1).first
    }

    func trafficChanges(limit: Int) async throws -> [TrafficChange] {
        try run("SELECT * FROM traffic_changes ORDER BY version DESC LIMIT ?", [.integer(limit)]).map { row in
            guard let plan = TrafficPlan(version: try row.int64("version"), encoded: try row.text("plan")),
                  let action = TrafficChange.Action(kind: try row.text("action"), arguments: try row.text("arguments")) else {
                throw StoreError.corrupt("traffic change")
            }
            return TrafficChange(plan: plan, action: action, actor: try row.text("actor"), reason: try row.text("reason"),
                                 atMs: try row.int64("at_ms"))
        }
    }

    // MARK: Risk

    func insertRiskListEntry(_ entry: RiskListEntry) async throws -> Bool {
        try run("""
            INSERT INTO risk_list_entries (merchant_id, list, kind, value, created_at_ms) VALUES (?, ?, ?, ?, ?)
            ON CONFLICT DO NOTHING RETURNING value
            """, [.text(entry.merchantID), .text(entry.list.rawValue), .text(entry.kind.rawValue), .text(entry.value),
                  .integer(Int(entry.createdAtMs))]).count == 1
    }

    func deleteRiskListEntry(merchantID: String, list: RiskListEntry.List, kind: RiskListEntry.Kind, value: String) async throws -> Bool {
        try run("DELETE FROM risk_list_entries WHERE merchant_id = ? AND list = ? AND kind = ? AND value = ? RETURNING value",
                      [.text(merchantID), .text(list.rawValue), .text(kind.rawValue), .text(value)]).count == 1
    }

    func riskListEntries(merchantID: String) async throws -> [RiskListEntry] {
        try run("SELECT * FROM risk_list_entries WHERE merchant_id = ? ORDER BY created_at_ms, list, kind, value",
                      [.text(merchantID)]).map { row in
            guard let list = RiskListEntry.List(rawValue: try row.text("list")), let kind = RiskListEntry.Kind(rawValue: try row.text("kind")) else {
                throw StoreError.corrupt("risk list entry")
            }
            return RiskListEntry(merchantID: merchantID, list: list, kind: kind, value: try row.text("value"),
                                 createdAtMs: try row.int64("created_at_ms"))
        }
    }

    func paymentsCreated(sinceMs: Int64, limit: Int) async throws -> [Payment] {
        var payments: [Payment] = []
        for row in try run("SELECT * FROM payments WHERE created_at_ms >= ? ORDER BY created_at_ms, id LIMIT ?",
                                 [.integer(Int(sinceMs)), .integer(limit)]) {
            payments.append(try await decodePayment(row))
        }
        return payments
    }
}

/// An INSERT of `rows` value rows; the texts for up to `prebuilt` rows are built once, since
/// the statement cache is keyed by text and the hot paths use a few fixed counts (a sale: 2
/// ledger transactions of 3 entries each).
struct MultiRowInsert: Sendable {
    private let prefix: String
    private let row: String
    private let texts: [String]

    init(_ prefix: String, row: String, prebuilt: Int) {
        self.prefix = prefix
        self.row = row
        self.texts = (0...prebuilt).map { Self.text(prefix, row, $0) }
    }

    func sql(rows: Int) -> String { rows < texts.count ? texts[rows] : Self.text(prefix, row, rows) }

    private static func text(_ prefix: String, _ row: String, _ count: Int) -> String {
        prefix + Array(repeating: row, count: count).joined(separator: ", ")
    }
}
