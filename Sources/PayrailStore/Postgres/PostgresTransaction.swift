import Foundation
import Logging
import NIOCore
import PayrailDomain
import PostgresNIO

/// The ``StoreTransaction`` operations in PostgreSQL, on one connection inside BEGIN ... COMMIT.
/// In write transactions the rows the payment service reads before changing them are locked
/// (`FOR UPDATE`), which serializes concurrent requests on the same payment or key.
struct PostgresTransaction: StoreTransaction {
    let connection: PostgresConnection
    let logger: Logger
    /// Whether reads of payments and idempotency records lock the rows.
    let locking: Bool
    /// The group-commit batch this write runs in (nil for reads): it holds balance changes
    /// until the batch commits.
    var batch: PostgresBatchSession? = nil

    private var lockClause: String { locking ? " FOR UPDATE" : "" }

    /// Engine errors become ``StoreError`` with the server's message only (never row data);
    /// a unique violation is a conflict the caller can resolve by looking again.
    static func translate(_ error: any Error) -> any Error {
        if let wrapped = error as? PostgresTransactionError {
            // Report what went wrong first: the body's own error, else BEGIN or COMMIT's.
            if let closureError = wrapped.closureError { return translate(closureError) }
            if let beginError = wrapped.beginError { return translate(beginError) }
            if let commitError = wrapped.commitError { return translate(commitError) }
        }
        if let error = error as? PSQLError, let code = error.serverInfo?[.sqlState] {
            if code == "23505" || code == "40001" || code == "40P01" { return StoreError.conflict("concurrent change (\(code))") }
            return StoreError.database("\(code): \(error.serverInfo?[.message] ?? "server error")")
        }
        return error
    }

    @discardableResult
    private func run(_ query: PostgresQuery) async throws -> [PostgresRandomAccessRow] {
        do {
            // The writer's held writes first: statements run in the order the writer made them.
            try await batch?.prepareForStatement(writing: !Self.isPlainRead(query.sql))
            return try await PreparedStatements.rows(query, on: connection, logger: logger)
        } catch {
            throw Self.translate(error)
        }
    }

    /// A SELECT (every other statement may write).
    private static func isPlainRead(_ sql: String) -> Bool {
        PreparedStatements.head(of: sql) == "SELECT"
    }

    /// A write whose result the caller does not read: held by the group-commit batch and sent
    /// with the writer's other writes (see ``PostgresBatchSession``), run at once elsewhere.
    /// `expectingOneRow`: the write must touch exactly one row (it ends `RETURNING`), else it
    /// is a conflict with this message.
    private func write(_ statement: PostgresWrite, expectingOneRow: String? = nil) async throws {
        if let batch {
            batch.send(statement, expectingOneRow: expectingOneRow)
            return
        }
        let rows: [PostgresRandomAccessRow]
        do {
            rows = try await PreparedStatements.rows(statement.query, on: connection, logger: logger)
        } catch {
            throw Self.translate(error)
        }
        if let expectingOneRow, rows.count != 1 { throw StoreError.conflict(expectingOneRow) }
    }

    // MARK: Merchants and API keys

    func insertMerchant(_ merchant: MerchantRecord) async throws {
        try await run("""
            INSERT INTO merchants (id, name, created_at_ms, settlement_currency)
            VALUES (\(merchant.id), \(merchant.name), \(merchant.createdAtMs), \(merchant.settlementCurrency?.code))
            """)
    }

    func merchant(id: String) async throws -> MerchantRecord? {
        try await run("SELECT id, name, created_at_ms, settlement_currency FROM merchants WHERE id = \(id)").first.map { row in
            MerchantRecord(id: try row["id"].decode(String.self), name: try row["name"].decode(String.self),
                           createdAtMs: try row["created_at_ms"].decode(Int64.self),
                           settlementCurrency: try row["settlement_currency"].decode(String?.self).flatMap(Currency.init(code:)))
        }
    }

    func insertAPIKey(_ key: APIKeyRecord) async throws {
        try await run("""
            INSERT INTO api_keys (id, merchant_id, secret_sha256, livemode, created_at_ms, revoked_at_ms)
            VALUES (\(key.id), \(key.merchantID), \(ByteBuffer(bytes: key.secretSHA256)), \(key.livemode), \(key.createdAtMs), \(key.revokedAtMs))
            """)
    }

    func apiKey(id: String) async throws -> APIKeyRecord? {
        try await run("SELECT * FROM api_keys WHERE id = \(id)").first.map { row in
            APIKeyRecord(id: try row["id"].decode(String.self), merchantID: try row["merchant_id"].decode(String.self),
                         secretSHA256: Array(try row["secret_sha256"].decode(ByteBuffer.self).readableBytesView),
                         livemode: try row["livemode"].decode(Bool.self), createdAtMs: try row["created_at_ms"].decode(Int64.self),
                         revokedAtMs: try row["revoked_at_ms"].decode(Int64?.self))
        }
    }

    // MARK: Idempotency

    func idempotencyRecord(merchantID: String, key: String) async throws -> IdempotencyRecord? {
        var query: PostgresQuery = "SELECT * FROM idempotency_keys WHERE merchant_id = \(merchantID) AND key = \(key)"
        query.sql += lockClause
        return try await run(query).first.map(Self.idempotencyRecord)
    }

    func idempotencyRecord(merchantID: String, resourceID: String, operation: String) async throws -> IdempotencyRecord? {
        var query: PostgresQuery = """
            SELECT * FROM idempotency_keys
            WHERE resource_id = \(resourceID) AND merchant_id = \(merchantID) AND operation = \(operation)
            ORDER BY state = 'in_progress' DESC, updated_at_ms DESC LIMIT 1
            """
        query.sql += lockClause
        return try await run(query).first.map(Self.idempotencyRecord)
    }

    private static func idempotencyRecord(_ row: PostgresRandomAccessRow) throws -> IdempotencyRecord {
        guard let state = IdempotencyRecord.State(rawValue: try row["state"].decode(String.self)) else {
            throw StoreError.corrupt("idempotency_keys.state")
        }
        return IdempotencyRecord(
            merchantID: try row["merchant_id"].decode(String.self), key: try row["key"].decode(String.self),
            operation: try row["operation"].decode(String.self), fingerprint: try row["fingerprint"].decode(String.self),
            state: state, lockedUntilMs: try row["locked_until_ms"].decode(Int64.self),
            resourceID: try row["resource_id"].decode(String?.self),
            response: try row["response"].decode(ByteBuffer?.self).map { Array($0.readableBytesView) },
            createdAtMs: try row["created_at_ms"].decode(Int64.self), updatedAtMs: try row["updated_at_ms"].decode(Int64.self))
    }

    func insertIdempotencyRecord(_ record: IdempotencyRecord) async throws {
        try await write("""
            INSERT INTO idempotency_keys (merchant_id, key, operation, fingerprint, state, locked_until_ms, resource_id, response,
                                          created_at_ms, updated_at_ms)
            VALUES (\(record.merchantID), \(record.key), \(record.operation), \(record.fingerprint), \(record.state.rawValue),
                    \(record.lockedUntilMs), \(record.resourceID), \(record.response.map { ByteBuffer(bytes: $0) }),
                    \(record.createdAtMs), \(record.updatedAtMs))
            ON CONFLICT (merchant_id, key) DO NOTHING
            RETURNING key
            """, expectingOneRow: "idempotency key already claimed")
    }

    func updateIdempotencyRecord(_ record: IdempotencyRecord) async throws {
        try await write("""
            UPDATE idempotency_keys SET state = \(record.state.rawValue), locked_until_ms = \(record.lockedUntilMs),
                resource_id = \(record.resourceID), response = \(record.response.map { ByteBuffer(bytes: $0) }),
                updated_at_ms = \(record.updatedAtMs)
            WHERE merchant_id = \(record.merchantID) AND key = \(record.key)
            RETURNING key
            """, expectingOneRow: "idempotency record missing")
    }

    func updateIdempotencyRecord(_ record: IdempotencyRecord, whileLeasedUntil lockedUntilMs: Int64) async throws {
        try await write("""
            UPDATE idempotency_keys SET state = \(record.state.rawValue), locked_until_ms = \(record.lockedUntilMs),
                resource_id = \(record.resourceID), response = \(record.response.map { ByteBuffer(bytes: $0) }),
                updated_at_ms = \(record.updatedAtMs)
            WHERE merchant_id = \(record.merchantID) AND key = \(record.key) AND state = 'in_progress' AND locked_until_ms = \(lockedUntilMs)
            RETURNING key
            """, expectingOneRow: "idempotency record taken over")
    }

    // MARK: Payments

    func insertPayment(_ payment: Payment) async throws {
        payment.checkInvariants()
        let failure = payment.failure
        let card = PaymentMethodColumns.card(payment.method)
        let methodDetails = PaymentMethodColumns.details(payment.method)
        try await write("""
            INSERT INTO payments (id, merchant_id, livemode, amount_minor, currency, capture_method,
                card_token, card_brand, card_last4, card_exp_month, card_exp_year, card_fingerprint, card_country,
                connector, description, created_at_ms,
                settlement_currency, fx_rate_scaled, fx_markup_bps, fx_quote_id,
                status, amount_capturable_minor, amount_captured_minor, amount_refunded_minor, amount_refund_pending_minor,
                processor_reference, failure_reason, failure_decline_code, failure_message,
                challenge_id, challenge_attempts_remaining, updated_at_ms, version, risk, risk_context, connectors_tried,
                method_kind, method_details, challenge_redirect_url)
            VALUES (\(payment.id), \(payment.merchantID), \(payment.livemode), \(payment.amount.amountMinor),
                \(payment.amount.currency.code), \(payment.captureMethod.rawValue),
                \(card.token), \(card.brand.rawValue), \(card.last4), \(card.expMonth),
                \(card.expYear), \(card.fingerprint), \(card.country),
                \(payment.connector), \(payment.description), \(payment.createdAtMs),
                \(payment.settlement?.currency.code), \(payment.settlement?.rateScaled), \(payment.settlement?.markupBasisPoints),
                \(payment.settlement?.quoteID),
                \(payment.status.rawValue), \(payment.amountCapturableMinor), \(payment.amountCapturedMinor),
                \(payment.amountRefundedMinor), \(payment.amountRefundPendingMinor),
                \(payment.processorReference), \(failure?.reason), \(failure?.declineCode?.rawValue), \(failure?.message),
                \(payment.challenge?.challengeID), \(payment.challenge?.attemptsRemaining), \(payment.updatedAtMs), \(payment.version),
                \(RiskColumns.encode(payment.risk)), \(RiskColumns.encode(payment.riskContext)),
                \(ConnectorColumns.encode(payment.connectorsTried)), \(payment.method.kind), \(methodDetails),
                \(payment.challenge?.redirectURL))
            """)
        if !payment.metadata.isEmpty {
            var statement: PostgresWrite = "INSERT INTO payment_metadata (payment_id, key, value) VALUES "
            let paymentID = statement.parameter(payment.id, as: "text")
            for (index, (key, value)) in payment.metadata.sorted(by: { $0.key < $1.key }).enumerated() {
                let row = "(\(paymentID), \(statement.parameter(key, as: "text")), \(statement.parameter(value, as: "text")))"
                statement.append(index == 0 ? row : ", " + row)
            }
            try await write(statement)
        }
    }

    func updatePayment(_ payment: Payment, expectedVersion: Int64) async throws {
        payment.checkInvariants()
        let failure = payment.failure
        try await write("""
            UPDATE payments SET status = \(payment.status.rawValue), amount_capturable_minor = \(payment.amountCapturableMinor),
                amount_captured_minor = \(payment.amountCapturedMinor), amount_refunded_minor = \(payment.amountRefundedMinor),
                amount_refund_pending_minor = \(payment.amountRefundPendingMinor), processor_reference = \(payment.processorReference),
                failure_reason = \(failure?.reason), failure_decline_code = \(failure?.declineCode?.rawValue),
                failure_message = \(failure?.message), challenge_id = \(payment.challenge?.challengeID),
                challenge_attempts_remaining = \(payment.challenge?.attemptsRemaining), updated_at_ms = \(payment.updatedAtMs),
                version = \(payment.version), connector = \(payment.connector),
                connectors_tried = \(ConnectorColumns.encode(payment.connectorsTried)),
                challenge_redirect_url = \(payment.challenge?.redirectURL)
            WHERE id = \(payment.id) AND version = \(expectedVersion)
            RETURNING id
            """, expectingOneRow: "payment \(payment.id) changed concurrently")
    }

    func payment(id: String, merchantID: String) async throws -> Payment? {
        var query: PostgresQuery = "SELECT * FROM payments WHERE id = \(id) AND merchant_id = \(merchantID)"
        query.sql += lockClause
        guard let row = try await run(query).first else { return nil }
        return try await decodePayment(row)
    }

    func listPayments(merchantID: String, livemode: Bool, status: PaymentStatus?, after cursor: PaymentCursor?, limit: Int) async throws -> [Payment] {
        let rows = try await run("""
            SELECT * FROM payments
            WHERE merchant_id = \(merchantID) AND livemode = \(livemode)
              AND (\(status?.rawValue)::TEXT IS NULL OR status = \(status?.rawValue))
              AND (\(cursor?.createdAtMs)::BIGINT IS NULL OR (created_at_ms, id) < (\(cursor?.createdAtMs), \(cursor?.paymentID)))
            ORDER BY created_at_ms DESC, id DESC
            LIMIT \(limit)
            """)
        var payments: [Payment] = []
        for row in rows { payments.append(try await decodePayment(row)) }
        return payments
    }

    private func decodePayment(_ row: PostgresRandomAccessRow) async throws -> Payment {
        let id = try row["id"].decode(String.self)
        var metadata: [String: String] = [:]
        for meta in try await run("SELECT key, value FROM payment_metadata WHERE payment_id = \(id)") {
            metadata[try meta["key"].decode(String.self)] = try meta["value"].decode(String.self)
        }
        guard let currency = Currency(code: try row["currency"].decode(String.self)),
              let status = PaymentStatus(rawValue: try row["status"].decode(String.self)),
              let captureMethod = CaptureMethod(rawValue: try row["capture_method"].decode(String.self)),
              let brand = CardBrand(rawValue: try row["card_brand"].decode(String.self)) else {
            throw StoreError.corrupt("payment \(id)")
        }
        let failure = try row["failure_reason"].decode(String?.self).map { reason in
            Failure(reason: reason, declineCode: try row["failure_decline_code"].decode(String?.self).map(DeclineCode.init),
                    message: try row["failure_message"].decode(String?.self) ?? "")
        }
        let challenge = try row["challenge_id"].decode(String?.self).map { challengeID in
            ThreeDSChallenge(challengeID: challengeID, attemptsRemaining: try row["challenge_attempts_remaining"].decode(Int?.self) ?? 0,
                             redirectURL: try row["challenge_redirect_url"].decode(String?.self))
        }
        let card = CardSummary(token: try row["card_token"].decode(String.self), brand: brand, last4: try row["card_last4"].decode(String.self),
                               expMonth: try row["card_exp_month"].decode(Int.self), expYear: try row["card_exp_year"].decode(Int.self),
                               fingerprint: try row["card_fingerprint"].decode(String.self), country: try row["card_country"].decode(String.self))
        return Payment(
            id: id, merchantID: try row["merchant_id"].decode(String.self), livemode: try row["livemode"].decode(Bool.self),
            amount: Money(amountMinor: try row["amount_minor"].decode(Int64.self), currency: currency), captureMethod: captureMethod,
            card: card,
            connector: try row["connector"].decode(String.self), description: try row["description"].decode(String.self), metadata: metadata,
            createdAtMs: try row["created_at_ms"].decode(Int64.self), settlement: try Self.settlement(row), status: status,
            amountCapturableMinor: try row["amount_capturable_minor"].decode(Int64.self),
            amountCapturedMinor: try row["amount_captured_minor"].decode(Int64.self),
            amountRefundedMinor: try row["amount_refunded_minor"].decode(Int64.self),
            amountRefundPendingMinor: try row["amount_refund_pending_minor"].decode(Int64.self),
            failure: failure, challenge: challenge, processorReference: try row["processor_reference"].decode(String?.self),
            updatedAtMs: try row["updated_at_ms"].decode(Int64.self), version: try row["version"].decode(Int64.self),
            risk: try RiskColumns.decodeRisk(try row["risk"].decode(String?.self)),
            riskContext: try RiskColumns.decodeContext(try row["risk_context"].decode(String?.self)),
            connectorsTried: ConnectorColumns.decode(try row["connectors_tried"].decode(String.self)),
            method: try PaymentMethodColumns.decode(kind: try row["method_kind"].decode(String.self),
                                                    details: try row["method_details"].decode(String?.self), card: card))
    }

    func payments(status: PaymentStatus, updatedBeforeMs: Int64, limit: Int) async throws -> [Payment] {
        precondition(PaymentStatus.inFlight.contains(status), "the reconciliation list is of payments in flight")
        // The repeated status term is the partial index's condition, which lets the planner use it.
        let rows = try await run("""
            SELECT * FROM payments WHERE status = \(status.rawValue) AND status IN ('processing', 'requires_action')
            AND updated_at_ms < \(updatedBeforeMs) AND processor_reference IS NULL
            ORDER BY updated_at_ms, id LIMIT \(limit)
            """)
        var payments: [Payment] = []
        for row in rows { payments.append(try await decodePayment(row)) }
        return payments
    }

    // MARK: Subscriptions

    func insertPlan(_ plan: Plan) async throws {
        try await run("""
            INSERT INTO plans (id, merchant_id, livemode, name, amount_minor, currency, interval_unit, interval_count, trial_days, created_at_ms)
            VALUES (\(plan.id), \(plan.merchantID), \(plan.livemode), \(plan.name), \(plan.amount.amountMinor), \(plan.amount.currency.code),
                \(plan.interval.unit.rawValue), \(plan.interval.count), \(plan.trialDays), \(plan.createdAtMs))
            """)
    }

    func plan(id: String, merchantID: String) async throws -> Plan? {
        guard let row = try await run("SELECT * FROM plans WHERE id = \(id) AND merchant_id = \(merchantID)").first else { return nil }
        guard let currency = Currency(code: try row["currency"].decode(String.self)),
              let unit = BillingInterval.Unit(rawValue: try row["interval_unit"].decode(String.self)) else { throw StoreError.corrupt("plan \(id)") }
        return Plan(id: id, merchantID: try row["merchant_id"].decode(String.self), livemode: try row["livemode"].decode(Bool.self),
                    name: try row["name"].decode(String.self), amount: Money(amountMinor: try row["amount_minor"].decode(Int64.self), currency: currency),
                    interval: BillingInterval(unit: unit, count: try row["interval_count"].decode(Int.self)),
                    trialDays: try row["trial_days"].decode(Int.self), createdAtMs: try row["created_at_ms"].decode(Int64.self))
    }

    func insertSubscription(_ subscription: Subscription) async throws {
        subscription.checkInvariants()
        try await run("""
            INSERT INTO subscriptions (id, merchant_id, livemode, plan_id, card_token, anchor_day, status, current_period_start_ms,
                current_period_end_ms, cancel_at_period_end, canceled_at_ms, created_at_ms, updated_at_ms, version)
            VALUES (\(subscription.id), \(subscription.merchantID), \(subscription.livemode), \(subscription.planID), \(subscription.cardToken),
                \(subscription.anchorDay), \(subscription.status.rawValue), \(subscription.currentPeriodStartMs), \(subscription.currentPeriodEndMs),
                \(subscription.cancelAtPeriodEnd), \(subscription.canceledAtMs), \(subscription.createdAtMs), \(subscription.updatedAtMs),
                \(subscription.version))
            """)
    }

    func updateSubscription(_ subscription: Subscription, expectedVersion: Int64) async throws {
        subscription.checkInvariants()
        let rows = try await run("""
            UPDATE subscriptions SET status = \(subscription.status.rawValue), current_period_start_ms = \(subscription.currentPeriodStartMs),
                current_period_end_ms = \(subscription.currentPeriodEndMs), cancel_at_period_end = \(subscription.cancelAtPeriodEnd),
                canceled_at_ms = \(subscription.canceledAtMs), updated_at_ms = \(subscription.updatedAtMs), version = \(subscription.version)
            WHERE id = \(subscription.id) AND version = \(expectedVersion)
            RETURNING id
            """)
        guard rows.count == 1 else { throw StoreError.conflict("subscription \(subscription.id) changed concurrently") }
    }

    func subscription(id: String, merchantID: String) async throws -> Subscription? {
        var query: PostgresQuery = "SELECT * FROM subscriptions WHERE id = \(id) AND merchant_id = \(merchantID)"
        query.sql += lockClause
        return try await run(query).first.map(Self.subscription)
    }

    func subscriptionsDue(atMs: Int64, limit: Int) async throws -> [Subscription] {
        try await run("""
            SELECT * FROM subscriptions WHERE status IN ('trialing', 'active') AND current_period_end_ms <= \(atMs)
            ORDER BY current_period_end_ms, id LIMIT \(limit)
            """).map(Self.subscription)
    }

    private static func subscription(_ row: PostgresRandomAccessRow) throws -> Subscription {
        let id = try row["id"].decode(String.self)
        guard let status = SubscriptionStatus(rawValue: try row["status"].decode(String.self)) else { throw StoreError.corrupt("subscription \(id)") }
        return Subscription(id: id, merchantID: try row["merchant_id"].decode(String.self), livemode: try row["livemode"].decode(Bool.self),
                            planID: try row["plan_id"].decode(String.self), cardToken: try row["card_token"].decode(String.self),
                            createdAtMs: try row["created_at_ms"].decode(Int64.self), anchorDay: try row["anchor_day"].decode(Int64.self),
                            status: status, currentPeriodStartMs: try row["current_period_start_ms"].decode(Int64.self),
                            currentPeriodEndMs: try row["current_period_end_ms"].decode(Int64.self),
                            cancelAtPeriodEnd: try row["cancel_at_period_end"].decode(Bool.self),
                            canceledAtMs: try row["canceled_at_ms"].decode(Int64?.self), updatedAtMs: try row["updated_at_ms"].decode(Int64.self),
                            version: try row["version"].decode(Int64.self))
    }

    func insertInvoice(_ invoice: Invoice) async throws -> Bool {
        invoice.checkInvariants()
        return try await run("""
            INSERT INTO invoices (id, subscription_id, merchant_id, livemode, amount_minor, currency, period_start_ms, period_end_ms, status,
                attempts, next_attempt_at_ms, payment_id, created_at_ms, updated_at_ms, version)
            VALUES (\(invoice.id), \(invoice.subscriptionID), \(invoice.merchantID), \(invoice.livemode), \(invoice.amount.amountMinor),
                \(invoice.amount.currency.code), \(invoice.periodStartMs), \(invoice.periodEndMs), \(invoice.status.rawValue), \(invoice.attempts),
                \(invoice.nextAttemptAtMs), \(invoice.paymentID), \(invoice.createdAtMs), \(invoice.updatedAtMs), \(invoice.version))
            ON CONFLICT (subscription_id, period_start_ms) DO NOTHING
            RETURNING id
            """).count == 1
    }

    func updateInvoice(_ invoice: Invoice, expectedVersion: Int64) async throws {
        invoice.checkInvariants()
        let rows = try await run("""
            UPDATE invoices SET status = \(invoice.status.rawValue), attempts = \(invoice.attempts), next_attempt_at_ms = \(invoice.nextAttemptAtMs),
                payment_id = \(invoice.paymentID), updated_at_ms = \(invoice.updatedAtMs), version = \(invoice.version)
            WHERE id = \(invoice.id) AND version = \(expectedVersion)
            RETURNING id
            """)
        guard rows.count == 1 else { throw StoreError.conflict("invoice \(invoice.id) changed concurrently") }
    }

    func invoice(id: String, merchantID: String) async throws -> Invoice? {
        var query: PostgresQuery = "SELECT * FROM invoices WHERE id = \(id) AND merchant_id = \(merchantID)"
        query.sql += lockClause
        return try await run(query).first.map(Self.invoice)
    }

    func invoices(subscriptionID: String) async throws -> [Invoice] {
        try await run("SELECT * FROM invoices WHERE subscription_id = \(subscriptionID) ORDER BY period_start_ms, id").map(Self.invoice)
    }

    func invoicesDue(atMs: Int64, limit: Int) async throws -> [Invoice] {
        try await run("""
            SELECT * FROM invoices WHERE status = 'open' AND next_attempt_at_ms <= \(atMs) ORDER BY next_attempt_at_ms, id LIMIT \(limit)
            """).map(Self.invoice)
    }

    private static func invoice(_ row: PostgresRandomAccessRow) throws -> Invoice {
        let id = try row["id"].decode(String.self)
        guard let currency = Currency(code: try row["currency"].decode(String.self)),
              let status = InvoiceStatus(rawValue: try row["status"].decode(String.self)) else { throw StoreError.corrupt("invoice \(id)") }
        return Invoice(id: id, subscriptionID: try row["subscription_id"].decode(String.self), merchantID: try row["merchant_id"].decode(String.self),
                       livemode: try row["livemode"].decode(Bool.self),
                       amount: Money(amountMinor: try row["amount_minor"].decode(Int64.self), currency: currency),
                       periodStartMs: try row["period_start_ms"].decode(Int64.self), periodEndMs: try row["period_end_ms"].decode(Int64.self),
                       createdAtMs: try row["created_at_ms"].decode(Int64.self), status: status, attempts: try row["attempts"].decode(Int.self),
                       nextAttemptAtMs: try row["next_attempt_at_ms"].decode(Int64?.self), paymentID: try row["payment_id"].decode(String?.self),
                       updatedAtMs: try row["updated_at_ms"].decode(Int64.self), version: try row["version"].decode(Int64.self))
    }

    // MARK: Payouts

    func insertPayout(_ payout: Payout) async throws {
        payout.checkInvariants()
        let destination = PayoutColumns.destination(payout.destination)
        try await run("""
            INSERT INTO payouts (id, merchant_id, livemode, amount_minor, fee_minor, currency, method, destination_kind, routing_number,
                last4, card_token, card_brand, status, bank_reference, arrival_at_ms, failure_code, created_at_ms, updated_at_ms, version)
            VALUES (\(payout.id), \(payout.merchantID), \(payout.livemode), \(payout.amount.amountMinor), \(payout.fee.amountMinor),
                \(payout.amount.currency.code), \(payout.method.rawValue), \(destination.kind), \(destination.routingNumber),
                \(destination.last4), \(destination.cardToken), \(destination.cardBrand), \(payout.status.rawValue), \(payout.bankReference),
                \(payout.arrivalAtMs), \(payout.failureCode), \(payout.createdAtMs), \(payout.updatedAtMs), \(payout.version))
            """)
    }

    func updatePayout(_ payout: Payout, expectedVersion: Int64) async throws {
        payout.checkInvariants()
        let rows = try await run("""
            UPDATE payouts SET status = \(payout.status.rawValue), bank_reference = \(payout.bankReference),
                arrival_at_ms = \(payout.arrivalAtMs), failure_code = \(payout.failureCode), updated_at_ms = \(payout.updatedAtMs),
                version = \(payout.version)
            WHERE id = \(payout.id) AND version = \(expectedVersion)
            RETURNING id
            """)
        guard rows.count == 1 else { throw StoreError.conflict("payout \(payout.id) changed concurrently") }
    }

    func payout(id: String, merchantID: String) async throws -> Payout? {
        var query: PostgresQuery = "SELECT * FROM payouts WHERE id = \(id) AND merchant_id = \(merchantID)"
        query.sql += lockClause
        return try await run(query).first.map(Self.payout)
    }

    func payouts(merchantID: String, livemode: Bool, limit: Int) async throws -> [Payout] {
        try await run("""
            SELECT * FROM payouts WHERE merchant_id = \(merchantID) AND livemode = \(livemode)
            ORDER BY created_at_ms DESC, id DESC LIMIT \(limit)
            """).map(Self.payout)
    }

    func payouts(status: PayoutStatus, method: PayoutMethod?, limit: Int) async throws -> [Payout] {
        try await run("""
            SELECT * FROM payouts WHERE status = \(status.rawValue) AND (\(method?.rawValue)::TEXT IS NULL OR method = \(method?.rawValue))
            ORDER BY created_at_ms, id LIMIT \(limit)
            """).map(Self.payout)
    }

    func lockPayoutBalance(merchantID: String, livemode: Bool, currency: Currency) async throws {
        // The upsert holds the row lock until commit: a second payout of the same balance, on
        // any connection or core node, waits here and then reads the balance the first left.
        try await run("""
            INSERT INTO payout_guards (merchant_id, livemode, currency, payouts) VALUES (\(merchantID), \(livemode), \(currency.code), 1)
            ON CONFLICT (merchant_id, livemode, currency) DO UPDATE SET payouts = payout_guards.payouts + 1
            """)
    }

    private static func payout(_ row: PostgresRandomAccessRow) throws -> Payout {
        let id = try row["id"].decode(String.self)
        guard let currency = Currency(code: try row["currency"].decode(String.self)),
              let method = PayoutMethod(rawValue: try row["method"].decode(String.self)),
              let status = PayoutStatus(rawValue: try row["status"].decode(String.self)),
              let destination = PayoutColumns.destination(kind: try row["destination_kind"].decode(String.self),
                                                          routingNumber: try row["routing_number"].decode(String?.self),
                                                          last4: try row["last4"].decode(String.self),
                                                          cardToken: try row["card_token"].decode(String?.self),
                                                          cardBrand: try row["card_brand"].decode(String?.self)) else {
            throw StoreError.corrupt("payout \(id)")
        }
        return Payout(id: id, merchantID: try row["merchant_id"].decode(String.self), livemode: try row["livemode"].decode(Bool.self),
                      amount: Money(amountMinor: try row["amount_minor"].decode(Int64.self), currency: currency),
                      fee: Money(amountMinor: try row["fee_minor"].decode(Int64.self), currency: currency), method: method,
                      destination: destination, createdAtMs: try row["created_at_ms"].decode(Int64.self), status: status,
                      bankReference: try row["bank_reference"].decode(String?.self), arrivalAtMs: try row["arrival_at_ms"].decode(Int64?.self),
                      failureCode: try row["failure_code"].decode(String?.self), updatedAtMs: try row["updated_at_ms"].decode(Int64.self),
                      version: try row["version"].decode(Int64.self))
    }

    // MARK: Disputes

    func insertDispute(_ dispute: Dispute) async throws -> Bool {
        dispute.checkInvariants()
        return try await run("""
            INSERT INTO disputes (id, merchant_id, livemode, payment_id, connector, network_dispute_id, amount_minor, fee_minor, currency,
                reason, status, evidence, evidence_due_at_ms, created_at_ms, updated_at_ms, version, fee_currency)
            VALUES (\(dispute.id), \(dispute.merchantID), \(dispute.livemode), \(dispute.paymentID), \(dispute.connector),
                \(dispute.networkDisputeID), \(dispute.amount.amountMinor), \(dispute.fee.amountMinor), \(dispute.amount.currency.code),
                \(dispute.reason), \(dispute.status.rawValue), \(dispute.evidence), \(dispute.evidenceDueAtMs), \(dispute.createdAtMs),
                \(dispute.updatedAtMs), \(dispute.version), \(dispute.fee.currency.code))
            ON CONFLICT (connector, network_dispute_id) DO NOTHING
            RETURNING id
            """).count == 1
    }

    func updateDispute(_ dispute: Dispute, expectedVersion: Int64) async throws {
        dispute.checkInvariants()
        let rows = try await run("""
            UPDATE disputes SET status = \(dispute.status.rawValue), evidence = \(dispute.evidence), updated_at_ms = \(dispute.updatedAtMs),
                version = \(dispute.version)
            WHERE id = \(dispute.id) AND version = \(expectedVersion)
            RETURNING id
            """)
        guard rows.count == 1 else { throw StoreError.conflict("dispute \(dispute.id) changed concurrently") }
    }

    func dispute(id: String, merchantID: String) async throws -> Dispute? {
        var query: PostgresQuery = "SELECT * FROM disputes WHERE id = \(id) AND merchant_id = \(merchantID)"
        query.sql += lockClause
        return try await run(query).first.map(Self.dispute)
    }

    func dispute(connector: String, networkDisputeID: String) async throws -> Dispute? {
        var query: PostgresQuery = "SELECT * FROM disputes WHERE connector = \(connector) AND network_dispute_id = \(networkDisputeID)"
        query.sql += lockClause
        return try await run(query).first.map(Self.dispute)
    }

    func disputes(merchantID: String, livemode: Bool, paymentID: String?, limit: Int) async throws -> [Dispute] {
        try await run("""
            SELECT * FROM disputes
            WHERE merchant_id = \(merchantID) AND livemode = \(livemode) AND (\(paymentID)::TEXT IS NULL OR payment_id = \(paymentID))
            ORDER BY created_at_ms DESC, id DESC
            LIMIT \(limit)
            """).map(Self.dispute)
    }

    private static func dispute(_ row: PostgresRandomAccessRow) throws -> Dispute {
        let id = try row["id"].decode(String.self)
        guard let currency = Currency(code: try row["currency"].decode(String.self)),
              let status = DisputeStatus(rawValue: try row["status"].decode(String.self)),
              let feeCurrency = Currency(code: try row["fee_currency"].decode(String?.self) ?? currency.code) else {
            throw StoreError.corrupt("dispute \(id)")
        }
        return Dispute(id: id, paymentID: try row["payment_id"].decode(String.self), merchantID: try row["merchant_id"].decode(String.self),
                       livemode: try row["livemode"].decode(Bool.self), connector: try row["connector"].decode(String.self),
                       networkDisputeID: try row["network_dispute_id"].decode(String.self),
                       amount: Money(amountMinor: try row["amount_minor"].decode(Int64.self), currency: currency),
                       fee: Money(amountMinor: try row["fee_minor"].decode(Int64.self), currency: feeCurrency),
                       reason: try row["reason"].decode(String.self), evidenceDueAtMs: try row["evidence_due_at_ms"].decode(Int64.self),
                       createdAtMs: try row["created_at_ms"].decode(Int64.self), status: status,
                       evidence: try row["evidence"].decode(String.self), updatedAtMs: try row["updated_at_ms"].decode(Int64.self),
                       version: try row["version"].decode(Int64.self))
    }

    func acquirePaymentLock(paymentID: String, owner: String, untilMs: Int64, nowMs: Int64) async throws -> Bool {
        try await run("""
            INSERT INTO payment_locks (payment_id, owner, locked_until_ms) VALUES (\(paymentID), \(owner), \(untilMs))
            ON CONFLICT (payment_id) DO UPDATE SET owner = excluded.owner, locked_until_ms = excluded.locked_until_ms
            WHERE payment_locks.owner = excluded.owner OR payment_locks.locked_until_ms <= \(nowMs)
            RETURNING owner
            """).count == 1
    }

    func releasePaymentLock(paymentID: String, owner: String) async throws {
        try await run("DELETE FROM payment_locks WHERE payment_id = \(paymentID) AND owner = \(owner)")
    }

    // MARK: Refunds

    func insertRefund(_ refund: Refund) async throws {
        let failure = refund.failure
        try await run("""
            INSERT INTO refunds (id, payment_id, merchant_id, amount_minor, currency, status, reason, failure_reason,
                failure_decline_code, failure_message, processor_reference, created_at_ms, updated_at_ms)
            VALUES (\(refund.id), \(refund.paymentID), \(refund.merchantID), \(refund.amount.amountMinor), \(refund.amount.currency.code),
                \(refund.status.rawValue), \(refund.reason), \(failure?.reason), \(failure?.declineCode?.rawValue), \(failure?.message),
                \(refund.processorReference), \(refund.createdAtMs), \(refund.updatedAtMs))
            """)
    }

    func updateRefund(_ refund: Refund) async throws {
        let failure = refund.failure
        let rows = try await run("""
            UPDATE refunds SET status = \(refund.status.rawValue), failure_reason = \(failure?.reason),
                failure_decline_code = \(failure?.declineCode?.rawValue), failure_message = \(failure?.message),
                processor_reference = \(refund.processorReference), updated_at_ms = \(refund.updatedAtMs)
            WHERE id = \(refund.id) AND status = 'pending'
            RETURNING id
            """)
        guard rows.count == 1 else { throw StoreError.conflict("refund \(refund.id) is no longer pending") }
    }

    func refund(id: String, merchantID: String) async throws -> Refund? {
        try await run("SELECT * FROM refunds WHERE id = \(id) AND merchant_id = \(merchantID)").first.map(decodeRefund)
    }

    func refunds(paymentID: String) async throws -> [Refund] {
        try await run("SELECT * FROM refunds WHERE payment_id = \(paymentID) ORDER BY created_at_ms, id").map(decodeRefund)
    }

    private func decodeRefund(_ row: PostgresRandomAccessRow) throws -> Refund {
        let id = try row["id"].decode(String.self)
        guard let currency = Currency(code: try row["currency"].decode(String.self)),
              let status = RefundStatus(rawValue: try row["status"].decode(String.self)) else {
            throw StoreError.corrupt("refund \(id)")
        }
        let failure = try row["failure_reason"].decode(String?.self).map { reason in
            Failure(reason: reason, declineCode: try row["failure_decline_code"].decode(String?.self).map(DeclineCode.init),
                    message: try row["failure_message"].decode(String?.self) ?? "")
        }
        return Refund(id: id, paymentID: try row["payment_id"].decode(String.self), merchantID: try row["merchant_id"].decode(String.self),
                      amount: Money(amountMinor: try row["amount_minor"].decode(Int64.self), currency: currency),
                      reason: try row["reason"].decode(String.self), createdAtMs: try row["created_at_ms"].decode(Int64.self),
                      status: status, failure: failure, processorReference: try row["processor_reference"].decode(String?.self),
                      updatedAtMs: try row["updated_at_ms"].decode(Int64.self))
    }

    // MARK: Ledger

    func appendLedgerTransaction(_ transaction: LedgerTransaction) async throws {
        try await appendLedgerTransactions([transaction])
    }

    /// One statement for the transactions and all their entries; the balance changes wait in
    /// the batch and are applied once per account just before the batch commits.
    func appendLedgerTransactions(_ transactions: [LedgerTransaction]) async throws {
        guard !transactions.isEmpty else { return }
        guard let batch else { preconditionFailure("ledger writes run inside a group-commit batch") }
        var statement: PostgresWrite = "WITH t AS (\n    INSERT INTO ledger_transactions (id, kind, resource_id, refund_id, created_at_ms) VALUES "
        var entryRows: [String] = []
        for (index, transaction) in transactions.enumerated() {
            try LedgerTransaction.checkBalanced(transaction.entries)
            let id = statement.parameter(transaction.id, as: "text")
            let row = "(\(id), \(statement.parameter(transaction.kind.rawValue, as: "text")), "
                + "\(statement.parameter(transaction.resourceID, as: "text")), \(statement.parameter(transaction.refundID, as: "text")), "
                + "\(statement.parameter(String(transaction.createdAtMs), as: "int8")))"
            statement.append(index == 0 ? row : ", " + row)
            for entry in transaction.entries {
                entryRows.append("(\(id), \(statement.parameter(entry.account.key, as: "text")), "
                                 + "\(statement.parameter(entry.account.currency.code, as: "text")), \(statement.parameter(String(entry.amountMinor), as: "int8")))")
            }
        }
        // The entries' join on the inserted ids ties them to this statement's transactions.
        statement.append("""

                RETURNING id
            )
            INSERT INTO ledger_entries (transaction_id, account, currency, amount_minor)
            SELECT v.* FROM (VALUES \(entryRows.joined(separator: ", "))) AS v (transaction_id, account, currency, amount_minor)
            JOIN t ON t.id = v.transaction_id
            """)
        try await write(statement)
        for transaction in transactions { batch.balances.record(transaction.entries) }
    }

    /// One statement adding each account's delta, accounts in key order so concurrent
    /// transactions lock balance rows in the same order and cannot deadlock.
    static func balanceUpsert(_ deltas: BalanceDeltas) -> PostgresQuery {
        var bindings = PostgresBindings(capacity: 4)
        bindBalanceColumns(deltas, into: &bindings)
        return PostgresQuery(unsafeSQL: balanceUpsertSQL(firstParameter: 1), binds: bindings)
    }

    /// The balance upsert over four column arrays bound from `$firstParameter` on (see
    /// ``bindBalanceColumns(_:into:)``): the same text whatever the batch size, so nothing is
    /// built or planned per batch. `unnest` keeps the arrays' (account key) order.
    static func balanceUpsertSQL(firstParameter p: Int) -> String {
        """
        INSERT INTO account_balances (account, currency, balance_minor, entry_count)
        SELECT * FROM unnest($\(p)::text[], $\(p + 1)::text[], $\(p + 2)::int8[], $\(p + 3)::int8[])
        ON CONFLICT (account) DO UPDATE SET balance_minor = account_balances.balance_minor + excluded.balance_minor,
                                            entry_count = account_balances.entry_count + excluded.entry_count
        """
    }

    static func bindBalanceColumns(_ deltas: BalanceDeltas, into bindings: inout PostgresBindings) {
        let sorted = deltas.sorted
        bindings.append(sorted.map(\.account))
        bindings.append(sorted.map(\.currency))
        bindings.append(sorted.map(\.amountMinor))
        bindings.append(sorted.map { Int64($0.entryCount) })
    }

    func ledgerTransactions(resourceID: String) async throws -> [LedgerTransaction] {
        try Self.assemble(try await run("""
            SELECT t.seq, t.id, t.kind, t.resource_id, t.refund_id, t.created_at_ms, e.account, e.amount_minor
            FROM ledger_transactions t JOIN ledger_entries e ON e.transaction_id = t.id
            WHERE t.resource_id = \(resourceID) ORDER BY t.seq, e.id
            """))
    }

    func forEachLedgerTransaction(_ body: (LedgerTransaction) throws -> Void) async throws {
        var afterSeq: Int64 = 0
        while true {
            let rows = try await run("""
                SELECT t.seq, t.id, t.kind, t.resource_id, t.refund_id, t.created_at_ms, e.account, e.amount_minor
                FROM ledger_transactions t JOIN ledger_entries e ON e.transaction_id = t.id
                WHERE t.seq IN (SELECT seq FROM ledger_transactions WHERE seq > \(afterSeq) ORDER BY seq LIMIT 500)
                ORDER BY t.seq, e.id
                """)
            if rows.isEmpty { return }
            for transaction in try Self.assemble(rows) { try body(transaction) }
            afterSeq = try rows.last!["seq"].decode(Int64.self)
        }
    }

    private static func assemble(_ rows: [PostgresRandomAccessRow]) throws -> [LedgerTransaction] {
        var result: [LedgerTransaction] = []
        var index = 0
        while index < rows.count {
            let head = rows[index]
            let id = try head["id"].decode(String.self)
            var entries: [LedgerEntry] = []
            while index < rows.count, try rows[index]["id"].decode(String.self) == id {
                guard let account = LedgerAccount(key: try rows[index]["account"].decode(String.self)) else {
                    throw StoreError.corrupt("ledger account in \(id)")
                }
                entries.append(LedgerEntry(account: account, amountMinor: try rows[index]["amount_minor"].decode(Int64.self)))
                index += 1
            }
            guard let kind = LedgerTransactionKind(rawValue: try head["kind"].decode(String.self)) else {
                throw StoreError.corrupt("ledger kind in \(id)")
            }
            do {
                result.append(try LedgerTransaction(id: id, kind: kind, resourceID: try head["resource_id"].decode(String.self),
                                                    refundID: try head["refund_id"].decode(String?.self), entries: entries,
                                                    createdAtMs: try head["created_at_ms"].decode(Int64.self)))
            } catch let error as LedgerError {
                throw StoreError.corrupt("ledger transaction \(id) is unbalanced: \(error)")
            }
        }
        return result
    }

    func orphanLedgerEntries(limit: Int) async throws -> [(entryID: Int64, transactionID: String)] {
        try await run("""
            SELECT e.id, e.transaction_id FROM ledger_entries e LEFT JOIN ledger_transactions t ON t.id = e.transaction_id
            WHERE t.id IS NULL ORDER BY e.id LIMIT \(limit)
            """).map { (try $0["id"].decode(Int64.self), try $0["transaction_id"].decode(String.self)) }
    }

    func accountBalances(keyPrefix: String) async throws -> [String: Int64] {
        var balances: [String: Int64] = [:]
        let pattern = keyPrefix.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "%", with: "\\%")
            .replacingOccurrences(of: "_", with: "\\_") + "%"
        for row in try await run("""
            SELECT account, SUM(balance)::BIGINT AS balance FROM (
                SELECT account, balance_minor AS balance FROM account_balances WHERE account LIKE \(pattern)
                UNION ALL
                SELECT account, delta_minor AS balance FROM balance_journal WHERE account LIKE \(pattern)
            ) AS parts GROUP BY account
            """) {
            balances[try row["account"].decode(String.self)] = try row["balance"].decode(Int64.self)
        }
        for (account, pending) in batch?.balances.pending(keyPrefix: keyPrefix) ?? [:] {
            balances[account, default: 0] += pending
        }
        return balances
    }

    private static func settlement(_ row: PostgresRandomAccessRow) throws -> SettlementTerms? {
        guard let code = try row["settlement_currency"].decode(String?.self) else { return nil }
        guard let currency = Currency(code: code), let rate = try row["fx_rate_scaled"].decode(Int64?.self), rate > 0,
              let markup = try row["fx_markup_bps"].decode(Int?.self) else { throw StoreError.corrupt("payment settlement terms") }
        return SettlementTerms(currency: currency, rateScaled: rate, markupBasisPoints: markup, quoteID: try row["fx_quote_id"].decode(String?.self))
    }

    // MARK: FX

    func insertFXRate(_ rate: FXRate) async throws {
        try await run("""
            INSERT INTO fx_rates (from_currency, to_currency, rate_scaled, source, valid_from_ms, valid_until_ms)
            VALUES (\(rate.from.code), \(rate.to.code), \(rate.rateScaled), \(rate.source), \(rate.validFromMs), \(rate.validUntilMs))
            """)
    }

    func fxRate(from: Currency, to: Currency, atMs: Int64) async throws -> FXRate? {
        try await run("""
            SELECT * FROM fx_rates WHERE from_currency = \(from.code) AND to_currency = \(to.code)
              AND valid_from_ms <= \(atMs) AND valid_until_ms > \(atMs)
            ORDER BY valid_from_ms DESC, id DESC LIMIT 1
            """).first.map { row in
            do {
                return try FXRate(from: from, to: to, rateScaled: try row["rate_scaled"].decode(Int64.self), source: try row["source"].decode(String.self),
                                  validFromMs: try row["valid_from_ms"].decode(Int64.self), validUntilMs: try row["valid_until_ms"].decode(Int64.self))
            } catch {
                throw StoreError.corrupt("fx rate")
            }
        }
    }

    func insertFXQuote(_ quote: FXQuote) async throws {
        try await run("""
            INSERT INTO fx_quotes (id, merchant_id, from_currency, to_currency, rate_scaled, markup_bps, source, created_at_ms, expires_at_ms)
            VALUES (\(quote.id), \(quote.merchantID), \(quote.from.code), \(quote.to.code), \(quote.rateScaled), \(quote.markupBasisPoints),
                    \(quote.source), \(quote.createdAtMs), \(quote.expiresAtMs))
            """)
    }

    func fxQuote(id: String) async throws -> FXQuote? {
        try await run("SELECT * FROM fx_quotes WHERE id = \(id)").first.map { row in
            guard let from = Currency(code: try row["from_currency"].decode(String.self)),
                  let to = Currency(code: try row["to_currency"].decode(String.self)) else { throw StoreError.corrupt("fx quote") }
            return FXQuote(id: try row["id"].decode(String.self), merchantID: try row["merchant_id"].decode(String.self), from: from, to: to,
                           rateScaled: try row["rate_scaled"].decode(Int64.self), markupBasisPoints: try row["markup_bps"].decode(Int.self),
                           source: try row["source"].decode(String.self), createdAtMs: try row["created_at_ms"].decode(Int64.self),
                           expiresAtMs: try row["expires_at_ms"].decode(Int64.self))
        }
    }

    // MARK: Outbox

    func appendOutboxEvent(_ event: DomainEvent) async throws {
        try await write("""
            INSERT INTO outbox_events (id, type, merchant_id, livemode, resource_id, payload, created_at_ms)
            VALUES (\(event.id), \(event.type.rawValue), \(event.merchantID), \(event.livemode), \(event.resourceID),
                    \(ByteBuffer(bytes: event.payload)), \(event.createdAtMs))
            """)
    }

    func outboxEvents(afterSequence: Int64, limit: Int) async throws -> [(sequence: Int64, event: DomainEvent)] {
        try await run("SELECT * FROM outbox_events WHERE seq > \(afterSequence) ORDER BY seq LIMIT \(limit)").map { row in
            (try row["seq"].decode(Int64.self), DomainEvent(
                id: try row["id"].decode(String.self), type: DomainEvent.EventType(try row["type"].decode(String.self)),
                merchantID: try row["merchant_id"].decode(String.self), livemode: try row["livemode"].decode(Bool.self),
                resourceID: try row["resource_id"].decode(String.self),
                payload: Array(try row["payload"].decode(ByteBuffer.self).readableBytesView),
                createdAtMs: try row["created_at_ms"].decode(Int64.self)))
        }
    }

    // MARK: Webhooks

    func insertWebhookEndpoint(_ endpoint: WebhookEndpoint) async throws {
        try await run("""
            INSERT INTO webhook_endpoints (id, merchant_id, livemode, url, event_types, description, status, disabled_reason, secrets,
                                           failing_since_ms, created_at_ms, updated_at_ms)
            VALUES (\(endpoint.id), \(endpoint.merchantID), \(endpoint.livemode), \(endpoint.url),
                    \(WebhookColumns.encode(eventTypes: endpoint.eventTypes)), \(endpoint.description), \(endpoint.status.rawValue),
                    \(endpoint.disabledReason), \(WebhookColumns.encode(secrets: endpoint.secrets)), \(endpoint.failingSinceMs),
                    \(endpoint.createdAtMs), \(endpoint.updatedAtMs))
            """)
    }

    func updateWebhookEndpoint(_ endpoint: WebhookEndpoint) async throws {
        let rows = try await run("""
            UPDATE webhook_endpoints SET url = \(endpoint.url), event_types = \(WebhookColumns.encode(eventTypes: endpoint.eventTypes)),
                description = \(endpoint.description), status = \(endpoint.status.rawValue), disabled_reason = \(endpoint.disabledReason),
                secrets = \(WebhookColumns.encode(secrets: endpoint.secrets)), failing_since_ms = \(endpoint.failingSinceMs),
                updated_at_ms = \(endpoint.updatedAtMs)
            WHERE id = \(endpoint.id) AND merchant_id = \(endpoint.merchantID) RETURNING id
            """)
        guard rows.count == 1 else { throw StoreError.conflict("webhook endpoint missing") }
    }

    func deleteWebhookEndpoint(id: String, merchantID: String) async throws -> Bool {
        let rows = try await run("DELETE FROM webhook_endpoints WHERE id = \(id) AND merchant_id = \(merchantID) RETURNING id")
        guard rows.count == 1 else { return false }
        try await run("UPDATE webhook_deliveries SET status = 'failed' WHERE endpoint_id = \(id) AND status = 'pending'")
        return true
    }

    func webhookEndpoint(id: String, merchantID: String) async throws -> WebhookEndpoint? {
        var query: PostgresQuery = "SELECT * FROM webhook_endpoints WHERE id = \(id) AND merchant_id = \(merchantID)"
        query.sql += lockClause
        return try await run(query).first.map(Self.endpoint)
    }

    func webhookEndpoints(merchantID: String) async throws -> [WebhookEndpoint] {
        try await run("SELECT * FROM webhook_endpoints WHERE merchant_id = \(merchantID) ORDER BY created_at_ms, id").map(Self.endpoint)
    }

    private static func endpoint(_ row: PostgresRandomAccessRow) throws -> WebhookEndpoint {
        guard let status = WebhookEndpoint.Status(rawValue: try row["status"].decode(String.self)) else {
            throw StoreError.corrupt("webhook endpoint status")
        }
        return WebhookEndpoint(
            id: try row["id"].decode(String.self), merchantID: try row["merchant_id"].decode(String.self),
            livemode: try row["livemode"].decode(Bool.self), url: try row["url"].decode(String.self),
            eventTypes: WebhookColumns.decodeEventTypes(try row["event_types"].decode(String.self)),
            description: try row["description"].decode(String.self), status: status,
            disabledReason: try row["disabled_reason"].decode(String?.self),
            secrets: try WebhookColumns.decodeSecrets(try row["secrets"].decode(String.self)),
            failingSinceMs: try row["failing_since_ms"].decode(Int64?.self), createdAtMs: try row["created_at_ms"].decode(Int64.self),
            updatedAtMs: try row["updated_at_ms"].decode(Int64.self))
    }

    func outboxEventsAwaitingFanOut(limit: Int) async throws -> [DomainEvent] {
        var query: PostgresQuery = "SELECT * FROM outbox_events WHERE fanned_out_at_ms IS NULL ORDER BY seq LIMIT \(limit)"
        if locking { query.sql += " FOR UPDATE SKIP LOCKED" }
        return try await run(query).map(Self.event)
    }

    func markOutboxEventsFannedOut(ids: [String], atMs: Int64) async throws {
        try await run("UPDATE outbox_events SET fanned_out_at_ms = \(atMs) WHERE id = ANY(\(ids))")
    }

    func outboxEvent(id: String) async throws -> DomainEvent? {
        try await run("SELECT * FROM outbox_events WHERE id = \(id)").first.map(Self.event)
    }

    private static func event(_ row: PostgresRandomAccessRow) throws -> DomainEvent {
        DomainEvent(id: try row["id"].decode(String.self), type: DomainEvent.EventType(try row["type"].decode(String.self)),
                    merchantID: try row["merchant_id"].decode(String.self), livemode: try row["livemode"].decode(Bool.self),
                    resourceID: try row["resource_id"].decode(String.self),
                    payload: Array(try row["payload"].decode(ByteBuffer.self).readableBytesView),
                    createdAtMs: try row["created_at_ms"].decode(Int64.self))
    }

    func insertWebhookDeliveries(_ deliveries: [WebhookDelivery]) async throws {
        guard !deliveries.isEmpty else { return }
        try await run("""
            INSERT INTO webhook_deliveries (id, event_id, endpoint_id, merchant_id, status, attempts, next_attempt_at_ms,
                                            leased_until_ms, created_at_ms, updated_at_ms)
            SELECT * FROM unnest(\(deliveries.map(\.id))::text[], \(deliveries.map(\.eventID))::text[], \(deliveries.map(\.endpointID))::text[],
                                 \(deliveries.map(\.merchantID))::text[], \(deliveries.map(\.status.rawValue))::text[],
                                 \(deliveries.map { Int64($0.attempts) })::int8[], \(deliveries.map(\.nextAttemptAtMs))::int8[],
                                 \(deliveries.map(\.leasedUntilMs))::int8[], \(deliveries.map(\.createdAtMs))::int8[],
                                 \(deliveries.map(\.updatedAtMs))::int8[])
            ON CONFLICT (event_id, endpoint_id) DO NOTHING
            """)
    }

    func leaseDueWebhookDeliveries(nowMs: Int64, leaseUntilMs: Int64, limit: Int) async throws -> [WebhookDelivery] {
        try await run("""
            UPDATE webhook_deliveries SET leased_until_ms = \(leaseUntilMs)
            WHERE id IN (
                SELECT d.id FROM webhook_deliveries d JOIN webhook_endpoints e ON e.id = d.endpoint_id AND e.status = 'enabled'
                WHERE d.status = 'pending' AND d.next_attempt_at_ms <= \(nowMs) AND d.leased_until_ms <= \(nowMs)
                ORDER BY d.next_attempt_at_ms LIMIT \(limit)
                FOR UPDATE OF d SKIP LOCKED)
            RETURNING *
            """).map(Self.delivery)
    }

    func updateWebhookDelivery(_ delivery: WebhookDelivery, heldUntilMs: Int64) async throws -> Bool {
        try await run("""
            UPDATE webhook_deliveries SET status = \(delivery.status.rawValue), attempts = \(delivery.attempts),
                next_attempt_at_ms = \(delivery.nextAttemptAtMs), leased_until_ms = \(delivery.leasedUntilMs),
                updated_at_ms = \(delivery.updatedAtMs)
            WHERE id = \(delivery.id) AND leased_until_ms = \(heldUntilMs) RETURNING id
            """).count == 1
    }

    func webhookDelivery(id: String) async throws -> WebhookDelivery? {
        try await run("SELECT * FROM webhook_deliveries WHERE id = \(id)").first.map(Self.delivery)
    }

    func webhookDeliveries(eventID: String) async throws -> [WebhookDelivery] {
        try await run("SELECT * FROM webhook_deliveries WHERE event_id = \(eventID) ORDER BY created_at_ms, id").map(Self.delivery)
    }

    private static func delivery(_ row: PostgresRandomAccessRow) throws -> WebhookDelivery {
        guard let status = WebhookDelivery.Status(rawValue: try row["status"].decode(String.self)) else {
            throw StoreError.corrupt("webhook delivery status")
        }
        return WebhookDelivery(
            id: try row["id"].decode(String.self), eventID: try row["event_id"].decode(String.self),
            endpointID: try row["endpoint_id"].decode(String.self), merchantID: try row["merchant_id"].decode(String.self),
            status: status, attempts: try row["attempts"].decode(Int.self), nextAttemptAtMs: try row["next_attempt_at_ms"].decode(Int64.self),
            leasedUntilMs: try row["leased_until_ms"].decode(Int64.self), createdAtMs: try row["created_at_ms"].decode(Int64.self),
            updatedAtMs: try row["updated_at_ms"].decode(Int64.self))
    }

    func insertWebhookAttempt(_ attempt: WebhookAttempt) async throws {
        try await run("""
            INSERT INTO webhook_attempts (delivery_id, attempted_at_ms, http_status, latency_ms, error, response_excerpt, retry_at_ms)
            VALUES (\(attempt.deliveryID), \(attempt.attemptedAtMs), \(attempt.httpStatus), \(attempt.latencyMs), \(attempt.error),
                    \(attempt.responseExcerpt), \(attempt.retryAtMs))
            """)
    }

    func webhookAttempts(deliveryID: String) async throws -> [WebhookAttempt] {
        try await run("SELECT * FROM webhook_attempts WHERE delivery_id = \(deliveryID) ORDER BY id").map { row in
            WebhookAttempt(deliveryID: try row["delivery_id"].decode(String.self), attemptedAtMs: try row["attempted_at_ms"].decode(Int64.self),
                           httpStatus: try row["http_status"].decode(Int?.self), latencyMs: try row["latency_ms"].decode(Int64.self),
                           error: try row["error"].decode(String?.self), responseExcerpt: try row["response_excerpt"].decode(String.self),
                           retryAtMs: try row["retry_at_ms"].decode(Int64?.self))
        }
    }

    func webhookQueue() async throws -> (pending: Int, oldestCreatedAtMs: Int64?) {
        let row = try await run("""
            SELECT COUNT(*)::BIGINT AS pending, MIN(d.created_at_ms) AS oldest FROM webhook_deliveries d
            JOIN webhook_endpoints e ON e.id = d.endpoint_id AND e.status = 'enabled' WHERE d.status = 'pending'
            """).first
        return (Int(try row?["pending"].decode(Int64.self) ?? 0), try row?["oldest"].decode(Int64?.self))
    }

    // MARK: Traffic control plane

    func appendTrafficChange(_ change: TrafficChange) async throws {
        let action = change.action.stored
        let rows = try await run("""
            INSERT INTO traffic_changes (version, plan, action, arguments, actor, reason, at_ms)
            VALUES (\(change.plan.version), \(change.plan.encoded), \(action.kind), \(action.arguments), \(change.actor),
                    \(change.reason), \(change.atMs))
            ON CONFLICT (version) DO NOTHING
            RETURNING version
            """)
        guard rows.count == 1 else { throw StoreError.conflict("traffic plan version \(change.plan.version) already exists") }
    }

    func latestTrafficChange() async throws -> TrafficChange? {
        try await trafficChanges(limit: 1).first
    }

    func trafficChanges(limit: Int) async throws -> [TrafficChange] {
        try await run("SELECT * FROM traffic_changes ORDER BY version DESC LIMIT \(limit)").map { row in
            guard let plan = TrafficPlan(version: try row["version"].decode(Int64.self), encoded: try row["plan"].decode(String.self)),
                  let action = TrafficChange.Action(kind: try row["action"].decode(String.self),
                                                    arguments: try row["arguments"].decode(String.self)) else {
                throw StoreError.corrupt("traffic change")
            }
            return TrafficChange(plan: plan, action: action, actor: try row["actor"].decode(String.self),
                                 reason: try row["reason"].decode(String.self), atMs: try row["at_ms"].decode(Int64.self))
        }
    }

    // MARK: Risk

    func insertRiskListEntry(_ entry: RiskListEntry) async throws -> Bool {
        try await run("""
            INSERT INTO risk_list_entries (merchant_id, list, kind, value, created_at_ms)
            VALUES (\(entry.merchantID), \(entry.list.rawValue), \(entry.kind.rawValue), \(entry.value), \(entry.createdAtMs))
            ON CONFLICT DO NOTHING RETURNING value
            """).count == 1
    }

    func deleteRiskListEntry(merchantID: String, list: RiskListEntry.List, kind: RiskListEntry.Kind, value: String) async throws -> Bool {
        try await run("""
            DELETE FROM risk_list_entries
            WHERE merchant_id = \(merchantID) AND list = \(list.rawValue) AND kind = \(kind.rawValue) AND value = \(value)
            RETURNING value
            """).count == 1
    }

    func riskListEntries(merchantID: String) async throws -> [RiskListEntry] {
        try await run("SELECT * FROM risk_list_entries WHERE merchant_id = \(merchantID) ORDER BY created_at_ms, list, kind, value").map { row in
            guard let list = RiskListEntry.List(rawValue: try row["list"].decode(String.self)),
                  let kind = RiskListEntry.Kind(rawValue: try row["kind"].decode(String.self)) else {
                throw StoreError.corrupt("risk list entry")
            }
            return RiskListEntry(merchantID: merchantID, list: list, kind: kind, value: try row["value"].decode(String.self),
                                 createdAtMs: try row["created_at_ms"].decode(Int64.self))
        }
    }

    func paymentsCreated(sinceMs: Int64, limit: Int) async throws -> [Payment] {
        var payments: [Payment] = []
        for row in try await run("SELECT * FROM payments WHERE created_at_ms >= \(sinceMs) ORDER BY created_at_ms, id LIMIT \(limit)") {
            payments.append(try await decodePayment(row))
        }
        return payments
    }
}
