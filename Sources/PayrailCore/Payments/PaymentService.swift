import Logging
import PayrailDomain
import PayrailStore

/// Runs payments through their lifecycle: idempotency, the state machine, the connector
/// call and the ledger, against the store port.
///
/// Every mutating call follows the same three steps (a "recovery point" design):
/// 1. one transaction claims the idempotency key and records the intent (a new payment in
///    `processing`, a refund reservation, a per-payment operation lock);
/// 2. the connector is called outside any transaction, with a processor-side idempotency key
///    derived from our ids, so repeating the call can never charge twice;
/// 3. one transaction applies the outcome: payment state, ledger entries, the finished
///    idempotency record with its response.
/// A crash between 1 and 3 leaves an in-progress record whose lease expires; the next retry
/// with the same key resumes at step 2. A concurrent duplicate waits for the first call and
/// returns its answer.
public final class PaymentService: Sendable {
    public struct Configuration: Sendable {
        /// How long a request owns its idempotency key before a retry may take over.
        public var idempotencyLeaseMs: Int64 = 30_000
        /// How long a concurrent duplicate waits for the first request to finish.
        public var duplicateWaitMs: Int64 = 15_000
        public var duplicatePollMs: Int64 = 5
        /// The platform's FX markup on payments that settle in another currency.
        public var fxMarkupBasisPoints = 100
        /// How long an FX quote stays locked.
        public var fxQuoteTTLMs: Int64 = 60_000
        /// How long a 3-D Secure challenge waits for the cardholder before the payment fails.
        public var challengeExpiryMs: Int64 = 15 * 60_000
        public init() {}
    }

    private let store: any PaymentStore
    /// Vaulted cards and the detokenization log, apart from payments (own schema, own credentials).
    private let vaultStore: any VaultStore
    /// Chooses the processor for each payment and carries every call to it (retries, failover).
    public let router: ConnectorRouter
    private let vault: CardVault
    private let codec: any ResponseSnapshotCodec
    private let ids: IdentifierGenerator
    private let now: @Sendable () -> Int64
    private let configuration: Configuration
    private let merchants = MerchantSettlementCache()
    private let logger: Logger
    /// The fraud check every new payment goes through.
    public let risk: RiskService

    public init(store: any PaymentStore, vaultStore: any VaultStore, router: ConnectorRouter, vault: CardVault, codec: any ResponseSnapshotCodec,
                ids: IdentifierGenerator = .system, now: @escaping @Sendable () -> Int64, configuration: Configuration = Configuration(),
                risk: RiskService? = nil, logger: Logger = Logger(label: "payrail.core.payments")) {
        self.risk = risk ?? RiskService(store: store, logger: logger)
        self.store = store
        self.vaultStore = vaultStore
        self.router = router
        self.vault = vault
        self.codec = codec
        self.ids = ids
        self.now = now
        self.configuration = configuration
        self.logger = logger
    }

    /// A service with one processor for every payment.
    public convenience init(store: any PaymentStore, vaultStore: any VaultStore, connector: any CardConnector, vault: CardVault,
                            codec: any ResponseSnapshotCodec, ids: IdentifierGenerator = .system, now: @escaping @Sendable () -> Int64,
                            configuration: Configuration = Configuration(), risk: RiskService? = nil,
                            logger: Logger = Logger(label: "payrail.core.payments")) {
        self.init(store: store, vaultStore: vaultStore, router: ConnectorRouter(single: connector), vault: vault, codec: codec, ids: ids,
                  now: now, configuration: configuration, risk: risk, logger: logger)
    }

    // MARK: Create

    public func createPayment(_ caller: CallerContext, _ command: CreatePaymentCommand) async throws -> IdempotentOutcome<Payment> {
        let nowMs = now()
        // Resolve the card without writing anything: raw cards are sealed in step 1 and vaulted
        // right after it, under the token the payment claimed.
        // The instrument's fingerprint and country feed the fraud check; the brand, routing.
        let cardFingerprint: String
        let cardCountry: String
        var cardBrand: CardBrand?
        var sealedCard: VaultedCardRecord?
        switch command.method {
        case .card(let card):
            cardFingerprint = vault.fingerprint(of: card.number)
            cardCountry = card.number.issuingCountry
            cardBrand = card.number.brand
            if card.expiry.isExpired(on: CalendarMonth(unixMillis: nowMs)) {
                throw PayrailError(.invalidExpiry, "card has expired", field: "card.exp_year")
            }
        case .wallet(let wallet):
            cardFingerprint = vault.fingerprint(of: wallet.token.number)
            cardCountry = wallet.token.number.issuingCountry
            cardBrand = wallet.token.number.brand
            if wallet.token.expiry.isExpired(on: CalendarMonth(unixMillis: nowMs)) {
                throw PayrailError(.invalidExpiry, "the network token has expired", field: "wallet.exp_year")
            }
        case .bankDebit(let debit):
            cardFingerprint = vault.fingerprint(ofAccount: debit.scheme.rawValue + ":" + debit.bankCode + ":" + debit.accountIdentifier)
            cardCountry = debit.country
        case .bnpl, .paypal:
            // No instrument of its own: the buyer (by email hash) is what the fraud check counts.
            cardFingerprint = command.method.kind + ":" + (command.riskContext?.emailHash ?? "anonymous")
            cardCountry = command.riskContext?.billingCountry ?? ""
        case .token(let token):
            guard let record = try await vaultStore.card(token: token), record.merchantID == caller.merchantID else {
                throw PayrailError(.resourceMissing, "no such card token", field: "card_token")
            }
            guard record.erasedAtMs == nil else { throw VaultError.erased.payrailError }
            cardFingerprint = record.summary.fingerprint
            cardCountry = record.summary.country
            cardBrand = record.summary.brand
            sealedCard = record
        }
        // Which processors take it, first choice first (a configuration question: no I/O).
        let route = try router.route(for: RoutingTable.RoutingInput(method: command.method.kind, currency: command.amount.currency,
                                                                    region: caller.region, brand: cardBrand))

        var fingerprint = RequestFingerprint(operation: Operation.createPayment)
        fingerprint.add(command.amount.amountMinor)
        fingerprint.add(command.amount.currency.code)
        fingerprint.add(command.captureMethod.rawValue)
        fingerprint.add(cardFingerprint)
        fingerprint.add(command.method.kind)
        switch command.method {
        case .card(let card):
            fingerprint.add(Int64(card.expiry.month))
            fingerprint.add(Int64(card.expiry.year))
        case .token(let token):
            fingerprint.add(token)
        case .wallet(let wallet):
            fingerprint.add(Int64(wallet.token.expiry.month))
            fingerprint.add(Int64(wallet.token.expiry.year))
            fingerprint.add(wallet.cryptogram)
        case .bankDebit(let debit):
            fingerprint.add(debit.holderName)
        case .bnpl(let installments):
            fingerprint.add(Int64(installments))
        case .paypal(let returnURL):
            fingerprint.add(returnURL)
        }
        fingerprint.add(command.description)
        fingerprint.add(command.fxQuoteID ?? "")
        if let context = command.riskContext {
            for value in [context.clientIP, context.deviceID, context.emailHash, context.billingCountry] { fingerprint.add(value ?? "") }
        }
        let settlement = try await settlementTerms(caller, presentment: command.amount.currency, quoteID: command.fxQuoteID, nowMs: nowMs)
        for (key, value) in command.metadata.sorted(by: { $0.key < $1.key }) {
            fingerprint.add(key)
            fingerprint.add(value)
        }

        // The fraud check, before anything is written or any processor sees the card.
        let decision = try await risk.assess(merchantID: caller.merchantID, livemode: caller.livemode, amount: command.amount,
                                             card: RiskService.Card(fingerprint: cardFingerprint, country: cardCountry),
                                             context: command.riskContext, nowMs: nowMs)

        var created: Payment?
        var newCard: VaultedCardRecord?
        let claim = try await claim(caller, key: command.idempotencyKey, operation: Operation.createPayment,
                                    fingerprint: fingerprint.finalize(), optimistic: true) { tx, nowMs in
            let method: PaymentMethodDetails
            switch command.method {
            case .card(let input):
                let record = try vault.seal(input, merchantID: caller.merchantID, nowMs: nowMs)
                // Stored with the claim where the vault can join its transaction (embedded store).
                newCard = try await vaultStore.insertCard(record, joining: tx) ? nil : record
                method = .card(record.summary)
            case .token:
                method = .card(sealedCard!.summary)
            case .wallet(let wallet):
                // The network token is used for this payment only: it is not vaulted.
                method = .wallet(wallet.type, CardSummary(token: "", brand: wallet.token.number.brand, last4: wallet.token.number.last4,
                                                          expMonth: wallet.token.expiry.month, expYear: wallet.token.expiry.year,
                                                          fingerprint: cardFingerprint, country: cardCountry))
            case .bankDebit(let debit):
                method = .bankDebit(BankAccountSummary(scheme: debit.scheme, last4: debit.last4, bankCode: debit.bankCode,
                                                       fingerprint: cardFingerprint, country: debit.country))
            case .bnpl(let installments):
                method = .bnpl(BNPLPlan(provider: route.connectors[0], installments: installments))
            case .paypal:
                method = .redirectWallet(provider: route.connectors[0])
            }
            let payment = Payment(id: ids.make("pay"), merchantID: caller.merchantID, livemode: caller.livemode,
                                  amount: command.amount, captureMethod: command.captureMethod, method: method,
                                  connector: route.connectors[0], description: command.description, metadata: command.metadata,
                                  createdAtMs: nowMs, settlement: settlement, risk: decision, riskContext: command.riskContext)
            try await tx.insertPayment(payment)
            created = payment
            return payment.id
        }
        guard case .proceed(let paymentID, let record) = claim else {
            if case .replay(let bytes) = claim { return .replayed(bytes) }
            preconditionFailure("unreachable")
        }
        // An attempt that rolled back (the key existed) left its payment behind in memory only.
        if created?.id != paymentID {
            created = nil
            newCard = nil
        }
        // A new payment is the one just written; a resumed one is read back.
        var resumed: Payment?
        if created == nil { resumed = try await store.read({ try await $0.payment(id: paymentID, merchantID: caller.merchantID) }) }
        guard let payment = created ?? resumed else {
            throw PayrailError(.internalError, "payment vanished")
        }
        if let created { risk.record(created) }
        if payment.status == .processing, case .card(let input) = command.method, created == nil || newCard != nil {
            // A vault that commits on its own gets the card after the claim commits. A retry
            // that resumes this payment (a crash came between) seals the card again under the
            // token the payment already holds; storing a token twice does nothing.
            let record = try newCard ?? vault.seal(input, merchantID: caller.merchantID, token: payment.card?.token, nowMs: now())
            try await vaultStore.insertCard(record)
        }
        guard payment.status == .processing else {
            // A previous owner got further than its record says (it crashed after step 3's
            // payment update could not happen without the record: impossible) — or the
            // payment was finished by someone else. Answer with the payment as it is.
            return .current(try await complete(record, payment: payment))
        }

        // Blocked by the fraud check: declined here, the processor never sees it. The cardholder
        // gets a generic decline; the merchant sees `fraud_suspected` and the reasons.
        if payment.risk?.action == .block {
            let declined = try await finish(record, paymentID: payment.id, caller: caller, known: created) { _, _ in
                [.declined(Self.fraudFailure)]
            }
            risk.recordDecline(declined, atMs: now())
            return .current(declined)
        }

        // Step 2: the instrument for the processor, in memory only.
        let instrument: PaymentInstrument
        switch command.method {
        case .card(let input):
            instrument = .card(input.number, input.expiry, input.securityCode)
        case .wallet(let wallet):
            instrument = .networkToken(wallet.token.number, wallet.token.expiry, cryptogram: wallet.cryptogram, wallet: wallet.type)
        case .bankDebit(let debit):
            instrument = .bankAccount(scheme: debit.scheme, identifier: debit.accountIdentifier, bankCode: debit.bankCode, holderName: debit.holderName)
        case .bnpl(let installments):
            instrument = .installments(BNPLPlan(provider: payment.connector, installments: installments))
        case .paypal(let returnURL):
            instrument = .redirect(provider: payment.connector, returnURL: returnURL)
        case .token:
            let vaulted: VaultedCardRecord
            if let sealedCard { vaulted = sealedCard } else {
                guard let token = payment.card?.token, let reloaded = try await vaultStore.card(token: token) else {
                    throw PayrailError(.internalError, "vaulted card missing")
                }
                vaulted = reloaded
            }
            // Every detokenization is recorded before it happens: who, which card, why.
            try await vaultStore.appendAccess(VaultAccess(token: vaulted.summary.token, merchantID: caller.merchantID,
                                                          actor: "connector:\(payment.connector)", purpose: "authorize \(payment.id)",
                                                          atMs: now()))
            do {
                instrument = .card(try vault.reveal(vaulted), CardExpiry(storedMonth: vaulted.summary.expMonth, year: vaulted.summary.expYear), nil)
            } catch VaultError.erased {
                // Erased after the payment was claimed: fail it rather than leave it processing.
                return .current(try await finish(record, paymentID: payment.id, caller: caller) { _, _ in
                    [.declined(Failure(reason: "card_erased", declineCode: .genericDecline, message: "The card was erased."))]
                })
            }
        }
        var request = AuthorizationRequest(idempotencyKey: "\(payment.id):authorize", paymentID: payment.id,
                                           merchantID: caller.merchantID, amount: payment.amount, instrument: instrument,
                                           capture: payment.captureMethod == .automatic && payment.risk?.action != .review)
        // Wallets authenticated the cardholder already; bank debits and BNPL have no 3-D Secure.
        request.requestChallenge = payment.risk?.action == .requireThreeDS && payment.method.kind == "card"
        let routed = await router.authorize(request, candidates: router.remainingConnectors(for: payment, route: route)) { next in
            // Durable before the next processor sees the payment: a crash must not forget
            // where the authorization is.
            try await self.reroute(record, paymentID: payment.id, caller: caller, to: next)
        }
        let outcome: AuthorizationOutcome
        switch routed {
        case .answered(_, let answer):
            outcome = answer
        case .unknown(let connector):
            logger.warning("authorization outcome unknown", metadata: ["payment": "\(payment.id)", "connector": "\(connector)"])
            try await releaseForRetry(record)
            return .current(try await loadPayment(caller, payment.id))
        }
        let finished = try await finish(record, paymentID: payment.id, caller: caller, known: created) { payment, nowMs in
            try Self.events(for: outcome, payment: payment)
        }
        if finished.status == .failed { risk.recordDecline(finished, atMs: now()) }
        return .current(finished)
    }

    /// The events an authorization outcome produces; automatic capture is a sale, so an
    /// approval also captures, unless the fraud check holds the payment for review.
    static func events(for outcome: AuthorizationOutcome, payment: Payment) throws -> [PaymentEvent] {
        switch outcome {
        case .approved(let reference):
            if payment.risk?.action == .review { return [.authorized(processorReference: reference), .heldForReview] }
            return payment.captureMethod == .automatic
                ? [.authorized(processorReference: reference), .captured(amountMinor: payment.amount.amountMinor)]
                : [.authorized(processorReference: reference)]
        case .challengeRequired(let challenge):
            return [.challengeRequired(challenge)]
        case .pending(let reference):
            return [.debitInitiated(processorReference: reference)]
        case .declined(let failure):
            return [.declined(failure)]
        }
    }

    // MARK: Confirm (3-D Secure), capture and cancel

    public func confirmPayment(_ caller: CallerContext, idempotencyKey: String, paymentID: String, otp: String) async throws -> IdempotentOutcome<Payment> {
        try await lockedOperation(caller, operation: Operation.confirmPayment, idempotencyKey: idempotencyKey, paymentID: paymentID,
                                  fingerprint: [paymentID, otp],
                                  validate: { payment in
                                      // The buyer back from a redirect the provider's notification already completed:
                                      // answered with the payment as it is.
                                      if case .redirectWallet = payment.method, payment.status != .requiresAction { return }
                                      if payment.status == .requiresAction, payment.challenge?.redirectURL == nil, otp.isEmpty {
                                          throw PayrailError(.missingField, "three_ds_otp is required", field: "three_ds_otp")
                                      }
                                      try payment.validate(.challengeFailed)
                                  },
                                  ready: { $0.status == .requiresAction && $0.challenge != nil }) { payment in
            let reference = ChallengeReference(challengeID: payment.challenge!.challengeID)
            let outcome = try await self.router.call(payment.connector) { connector throws(ConnectorError) in
                try await connector.completeChallenge(reference: reference, otp: otp, idempotencyKey: "\(payment.id):challenge:\(idempotencyKey)")
            }
            return .apply { payment in
                switch outcome {
                case .wrongCode: return [.challengeFailed]
                case .pending: return []
                case .authenticated(let authorization):
                    return [.challengePassed] + (try Self.events(for: authorization, payment: payment))
                }
            }
        }
    }

    public func capturePayment(_ caller: CallerContext, idempotencyKey: String, paymentID: String, amountMinor: Int64?) async throws -> IdempotentOutcome<Payment> {
        try await lockedOperation(caller, operation: Operation.capturePayment, idempotencyKey: idempotencyKey, paymentID: paymentID,
                                  fingerprint: [paymentID, amountMinor.map(String.init) ?? "full"],
                                  validate: { try $0.validate(.captured(amountMinor: amountMinor ?? $0.amountCapturableMinor)) },
                                  ready: { $0.status == .requiresCapture && $0.processorReference != nil }) { payment in
            let amount = Money(amountMinor: amountMinor ?? payment.amountCapturableMinor, currency: payment.amount.currency)
            let reference = payment.processorReference!
            switch try await self.router.call(payment.connector, { connector throws(ConnectorError) in
                try await connector.capture(processorReference: reference, amount: amount, idempotencyKey: "\(payment.id):capture")
            }) {
            case .failed(let failure):
                return .refused(PayrailError(PayrailError.Code(failure.reason, .failedPrecondition), failure.message, declineCode: failure.declineCode))
            case .succeeded:
                return .apply { _ in [.captured(amountMinor: amount.amountMinor)] }
            }
        }
    }

    public func cancelPayment(_ caller: CallerContext, idempotencyKey: String, paymentID: String, reason: String) async throws -> IdempotentOutcome<Payment> {
        try await lockedOperation(caller, operation: Operation.cancelPayment, idempotencyKey: idempotencyKey, paymentID: paymentID,
                                  fingerprint: [paymentID, reason],
                                  validate: { try $0.validate(.canceled) },
                                  ready: { [.requiresCapture, .requiresAction, .requiresReview].contains($0.status) }) { payment in
            // Only an authorization needs voiding at the processor; a pending challenge has none.
            if payment.status == .requiresCapture || payment.status == .requiresReview, let reference = payment.processorReference,
               case .failed(let failure) = try await self.router.call(payment.connector, { connector throws(ConnectorError) in
                   try await connector.void(processorReference: reference, idempotencyKey: "\(payment.id):void")
               }) {
                return .refused(PayrailError(PayrailError.Code(failure.reason, .failedPrecondition), failure.message))
            }
            return .apply { _ in [.canceled] }
        }
    }

    /// A person's decision on a payment the fraud check held: approve captures it (all of it
    /// for automatic capture; a manual-capture payment waits for its capture), reject voids the
    /// authorization.
    public func reviewPayment(_ caller: CallerContext, idempotencyKey: String, paymentID: String, approve: Bool,
                              note: String) async throws -> IdempotentOutcome<Payment> {
        try await lockedOperation(caller, operation: Operation.reviewPayment, idempotencyKey: idempotencyKey, paymentID: paymentID,
                                  fingerprint: [paymentID, approve ? "approve" : "reject", note],
                                  validate: { payment in
                                      guard payment.status == .requiresReview else {
                                          throw PayrailError(.unexpectedState, "payment is not held for review (status \(payment.status.rawValue))")
                                      }
                                  },
                                  ready: { $0.status == .requiresReview }) { payment in
            guard let reference = payment.processorReference else { throw PayrailError(.internalError, "held payment without authorization") }
            if !approve {
                if case .failed(let failure) = try await self.router.call(payment.connector, { connector throws(ConnectorError) in
                    try await connector.void(processorReference: reference, idempotencyKey: "\(payment.id):void")
                }) {
                    return .refused(PayrailError(PayrailError.Code(failure.reason, .failedPrecondition), failure.message))
                }
                return .apply { _ in [.canceled] }
            }
            guard payment.captureMethod == .automatic else { return .apply { _ in [.reviewApproved] } }
            let amount = payment.amount
            switch try await self.router.call(payment.connector, { connector throws(ConnectorError) in
                try await connector.capture(processorReference: reference, amount: amount, idempotencyKey: "\(payment.id):capture")
            }) {
            case .failed(let failure):
                return .refused(PayrailError(PayrailError.Code(failure.reason, .failedPrecondition), failure.message, declineCode: failure.declineCode))
            case .succeeded:
                return .apply { _ in [.reviewApproved, .captured(amountMinor: amount.amountMinor)] }
            }
        }
    }

    /// What the processor step of a per-payment operation decided.
    private enum ProcessorStep {
        /// Apply the events computed from the payment as it is when the change is written.
        case apply((Payment) throws -> [PaymentEvent])
        /// The processor refused before anything changed.
        case refused(PayrailError)
    }

    /// Confirm, capture and cancel share one shape: claim the key and lock the payment (after
    /// checking the event is legal), call the processor, then apply the resulting events.
    /// `ready` says whether the payment still needs the work (a resumed request may find it
    /// done); a processor that does not answer leaves the claim for the retry to resume.
    private func lockedOperation(_ caller: CallerContext, operation: String, idempotencyKey: String, paymentID: String,
                                 fingerprint fields: [String], validate: (Payment) throws -> Void, ready: (Payment) -> Bool,
                                 processor: (Payment) async throws -> ProcessorStep) async throws -> IdempotentOutcome<Payment> {
        var fingerprint = RequestFingerprint(operation: operation)
        for field in fields { fingerprint.add(field) }
        let lockOwner = "\(caller.merchantID):\(idempotencyKey)"
        let claim = try await claim(caller, key: idempotencyKey, operation: operation, fingerprint: fingerprint.finalize()) { tx, nowMs in
            let payment = try await self.lockedPayment(tx, caller, paymentID, owner: lockOwner, nowMs: nowMs)
            try validate(payment)
            return payment.id
        }
        guard case .proceed(_, let record) = claim else { return try replayed(claim) }
        let payment = try await loadPayment(caller, paymentID)
        guard ready(payment) else {
            return .current(try await complete(record, payment: payment, releasingLockOf: lockOwner))
        }
        let step: ProcessorStep
        do {
            step = try await processor(payment)
        } catch {
            try await releaseForRetry(record)
            throw PayrailError(.processorUnavailable, "the processor did not answer; retry with the same idempotency key")
        }
        switch step {
        case .refused(let error):
            try await abandon(record, paymentID: paymentID, releasingLockOf: lockOwner)
            throw error
        case .apply(let events):
            return .current(try await finish(record, paymentID: paymentID, caller: caller, releasingLockOf: lockOwner) { payment, _ in
                try events(payment)
            })
        }
    }

    // MARK: Refunds

    public func createRefund(_ caller: CallerContext, idempotencyKey: String, paymentID: String, amountMinor: Int64?, reason: String) async throws -> IdempotentOutcome<Refund> {
        var fingerprint = RequestFingerprint(operation: Operation.createRefund)
        fingerprint.add(paymentID)
        fingerprint.add(amountMinor.map(String.init) ?? "full")
        fingerprint.add(reason)
        let claim = try await claim(caller, key: idempotencyKey, operation: Operation.createRefund, fingerprint: fingerprint.finalize()) { tx, nowMs in
            guard var payment = try await tx.payment(id: paymentID, merchantID: caller.merchantID) else {
                throw PayrailError(.resourceMissing, "no such payment", field: "payment_id")
            }
            // The network took the funds of a disputed payment (unless the merchant won them back).
            let disputes = try await tx.disputes(merchantID: caller.merchantID, livemode: payment.livemode, paymentID: payment.id, limit: 10)
            guard !disputes.contains(where: { $0.status != .won }) else {
                throw PayrailError(.paymentDisputed, "the payment is disputed; answer the dispute instead of refunding", field: "payment_id")
            }
            let expectedVersion = payment.version
            let amount = amountMinor ?? payment.amountRefundableMinor
            // Reserving inside the transaction serializes refunds of one payment: concurrent
            // refunds can never add up to more than was captured.
            try payment.apply(.refundRequested(amountMinor: amount), at: nowMs)
            let refund = Refund(id: self.ids.make("re"), paymentID: payment.id, merchantID: caller.merchantID,
                                amount: Money(amountMinor: amount, currency: payment.amount.currency), reason: reason, createdAtMs: nowMs)
            try await tx.updatePayment(payment, expectedVersion: expectedVersion)
            try await tx.insertRefund(refund)
            return refund.id
        }
        guard case .proceed(let refundID, let record) = claim else {
            if case .replay(let bytes) = claim { return .replayed(bytes) }
            preconditionFailure("unreachable")
        }
        guard let refund = try await store.read({ try await $0.refund(id: refundID, merchantID: caller.merchantID) }) else {
            throw PayrailError(.internalError, "refund vanished")
        }
        let payment = try await loadPayment(caller, refund.paymentID)
        guard refund.status == .pending, let reference = payment.processorReference else {
            return .current(try await completeRefund(record, refund: refund))
        }
        let outcome: ProcessorOutcome
        do {
            let amount = refund.amount
            outcome = try await router.call(payment.connector) { connector throws(ConnectorError) in
                try await connector.refund(processorReference: reference, amount: amount, idempotencyKey: refundID)
            }
        } catch {
            try await releaseForRetry(record)
            return .current(refund)
        }
        let finished = try await store.write { tx -> Refund in
            let nowMs = now()
            guard var refund = try await tx.refund(id: refundID, merchantID: caller.merchantID),
                  var payment = try await tx.payment(id: refund.paymentID, merchantID: caller.merchantID) else {
                throw PayrailError(.internalError, "refund vanished")
            }
            guard refund.status == .pending, try await owns(tx, record) else { return refund }
            let expectedVersion = payment.version
            switch outcome {
            case .succeeded(let processorReference):
                refund.succeed(processorReference: processorReference, at: nowMs)
                try payment.apply(.refundSucceeded(amountMinor: refund.amount.amountMinor), at: nowMs)
                if let terms = payment.settlement {
                    let (merchant, markup) = try terms.settle(refund.amount)
                    try await tx.appendLedgerTransaction(PostingRules.refundWithConversion(
                        payment, refund, fromMerchant: merchant, markupReturned: markup, transactionID: ids.make("ltx"), at: nowMs))
                } else {
                    try await tx.appendLedgerTransaction(PostingRules.refund(payment, refund, transactionID: ids.make("ltx"), at: nowMs))
                }
            case .failed(let failure):
                refund.fail(failure, at: nowMs)
                try payment.apply(.refundFailed(amountMinor: refund.amount.amountMinor), at: nowMs)
            }
            try await tx.updatePayment(payment, expectedVersion: expectedVersion)
            try await tx.updateRefund(refund)
            try await tx.appendOutboxEvent(DomainEvent(id: ids.make("evt"), type: refund.status == .succeeded ? .refundSucceeded : .refundFailed,
                                                       merchantID: refund.merchantID, livemode: payment.livemode, resourceID: refund.id,
                                                       payload: codec.snapshot(refund), createdAtMs: nowMs))
            try await tx.updateIdempotencyRecord(Self.completed(record, response: codec.snapshot(refund), nowMs: nowMs))
            logger.debug("refund updated", metadata: ["refund": "\(refund.id)", "payment": "\(refund.paymentID)",
                                                      "status": "\(refund.status.rawValue)", "amount": "\(refund.amount)"])
            return refund
        }
        return .current(finished)
    }

    // MARK: Reads

    public func payment(_ caller: CallerContext, id: String) async throws -> Payment {
        try await loadPayment(caller, id)
    }

    public func refund(_ caller: CallerContext, id: String) async throws -> Refund {
        guard let refund = try await store.read({ try await $0.refund(id: id, merchantID: caller.merchantID) }) else {
            throw PayrailError(.resourceMissing, "no such refund", field: "refund_id")
        }
        return refund
    }

    public func refunds(_ caller: CallerContext, paymentID: String) async throws -> [Refund] {
        _ = try await loadPayment(caller, paymentID)
        return try await store.read { try await $0.refunds(paymentID: paymentID) }
    }

    /// A page of payments, newest first; the cursor is opaque to callers.
    public func listPayments(_ caller: CallerContext, status: PaymentStatus?, cursor: String, limit: Int) async throws -> (payments: [Payment], nextCursor: String) {
        let pageSize = limit == 0 ? RequestLimits.pageSizeDefault : limit
        guard (1...RequestLimits.pageSizeMax).contains(pageSize) else {
            throw PayrailError(.invalidRequest, "limit must be 1 to \(RequestLimits.pageSizeMax)", field: "limit")
        }
        let after = try PaymentCursorCoding.decode(cursor)
        let page = try await store.read {
            try await $0.listPayments(merchantID: caller.merchantID, livemode: caller.livemode, status: status, after: after, limit: pageSize + 1)
        }
        let payments = Array(page.prefix(pageSize))
        let next = page.count > pageSize ? payments.last.map { PaymentCursorCoding.encode(PaymentCursor(createdAtMs: $0.createdAtMs, paymentID: $0.id)) } : nil
        return (payments, next ?? "")
    }

    public func ledgerTransactions(_ caller: CallerContext, paymentID: String) async throws -> [LedgerTransaction] {
        _ = try await loadPayment(caller, paymentID)
        return try await store.read { try await $0.ledgerTransactions(resourceID: paymentID) }
    }

    /// What the platform owes the merchant per currency, from the ledger: available (captured,
    /// net of refunds) and pending (authorized, not captured), positive = owed to the merchant.
    public func balances(_ caller: CallerContext) async throws -> [(currency: Currency, availableMinor: Int64, pendingMinor: Int64)] {
        let prefix = "merchant:\(caller.merchantID):\(caller.livemode ? "live" : "test"):"
        let sums = try await store.read { try await $0.accountBalances(keyPrefix: prefix) }
        var byCurrency: [Currency: (available: Int64, pending: Int64)] = [:]
        for (key, sum) in sums {
            guard let account = LedgerAccount(key: key), account.owner == caller.merchantID else { continue }
            // Merchant accounts are liabilities (credit-normal): a negative sum is money owed.
            let owed = -sum
            switch account.kind {
            case .merchantAvailable: byCurrency[account.currency, default: (0, 0)].available += owed
            case .merchantPending: byCurrency[account.currency, default: (0, 0)].pending += owed
            default: continue
            }
        }
        return byCurrency.sorted { $0.key < $1.key }.map { ($0.key, $0.value.available, $0.value.pending) }
    }

    /// Locks the current rate (plus markup) for this merchant for a short time.
    public func createFXQuote(_ caller: CallerContext, from: Currency, to: Currency) async throws -> FXQuote {
        let nowMs = now()
        guard from != to else { throw PayrailError(.invalidCurrency, "an FX quote needs two different currencies", field: "to_currency") }
        guard let rate = try await store.read({ try await $0.fxRate(from: from, to: to, atMs: nowMs) }) else {
            throw PayrailError(.fxRateUnavailable, "no \(from.code) to \(to.code) rate is available")
        }
        let quote = FXQuote(id: ids.make("fxq"), merchantID: caller.merchantID, from: from, to: to, rateScaled: rate.rateScaled,
                            markupBasisPoints: configuration.fxMarkupBasisPoints, source: rate.source, createdAtMs: nowMs,
                            expiresAtMs: nowMs + configuration.fxQuoteTTLMs)
        try await store.write { try await $0.insertFXQuote(quote) }
        return quote
    }

    /// The terms a new payment settles under: none when the merchant is paid in the payment's
    /// currency; else the locked quote (if given, valid and matching) or the current rate.
    private func settlementTerms(_ caller: CallerContext, presentment: Currency, quoteID: String?, nowMs: Int64) async throws -> SettlementTerms? {
        let settlementCurrency = try await merchants.settlementCurrency(merchantID: caller.merchantID, store: store)
        guard let settlement = settlementCurrency ?? nil, settlement != presentment else {
            if quoteID != nil {
                throw PayrailError(.invalidRequest, "fx_quote_id given, but this payment settles in its own currency", field: "fx_quote_id")
            }
            return nil
        }
        if let quoteID {
            guard let quote = try await store.read({ try await $0.fxQuote(id: quoteID) }), quote.merchantID == caller.merchantID else {
                throw PayrailError(.resourceMissing, "no such FX quote", field: "fx_quote_id")
            }
            guard quote.from == presentment, quote.to == settlement else {
                throw PayrailError(.invalidRequest, "the FX quote is for \(quote.from.code) to \(quote.to.code), the payment needs \(presentment.code) to \(settlement.code)",
                                   field: "fx_quote_id")
            }
            guard nowMs < quote.expiresAtMs else { throw PayrailError(.fxQuoteExpired, "the FX quote has expired; create a new one", field: "fx_quote_id") }
            return SettlementTerms(currency: settlement, rateScaled: quote.rateScaled, markupBasisPoints: quote.markupBasisPoints, quoteID: quote.id)
        }
        guard let rate = try await store.read({ try await $0.fxRate(from: presentment, to: settlement, atMs: nowMs) }) else {
            throw PayrailError(.fxRateUnavailable, "no \(presentment.code) to \(settlement.code) rate is available to settle this payment")
        }
        return SettlementTerms(currency: settlement, rateScaled: rate.rateScaled, markupBasisPoints: configuration.fxMarkupBasisPoints, quoteID: nil)
    }

    /// Tokenizes a card for later payments.
    public func tokenize(_ caller: CallerContext, _ card: CardInput, customerRef: String? = nil) async throws -> CardSummary {
        let nowMs = now()
        let record = try vault.seal(card, merchantID: caller.merchantID, customerRef: customerRef, nowMs: nowMs)
        try await vaultStore.insertCard(record)
        return record.summary
    }

    /// GDPR erasure by crypto-shredding: destroys the data keys of every card the merchant
    /// vaulted for this customer. The ciphertexts stay and can never be opened; payments and the
    /// ledger keep their amounts (they never held the PAN). Returns how many cards were erased.
    public func eraseCustomer(_ caller: CallerContext, customerRef: String) async throws -> Int {
        let erased = try await vaultStore.eraseCards(merchantID: caller.merchantID, customerRef: customerRef, atMs: now())
        logger.notice("customer erased", metadata: ["merchant": "\(caller.merchantID)", "cards": "\(erased)"])
        return erased
    }

    /// The detokenizations of a card, newest first (the merchant's own cards only).
    public func vaultAccesses(_ caller: CallerContext, token: String, limit: Int = 100) async throws -> [VaultAccess] {
        guard let card = try await vaultStore.card(token: token), card.merchantID == caller.merchantID else {
            throw PayrailError(.resourceMissing, "no such card token", field: "card_token")
        }
        return try await vaultStore.accesses(token: token, limit: limit)
    }

    // MARK: Routing and reconciliation

    /// What a blocked payment tells the cardholder (generic) and the merchant (the reason).
    static let fraudFailure = Failure(reason: "fraud_suspected", declineCode: .genericDecline, message: "The payment was declined.")

    /// Records that the payment now goes to `next`, if this request still holds its claim.
    private func reroute(_ record: IdempotencyRecord, paymentID: String, caller: CallerContext, to next: String) async throws {
        try await store.write { tx in
            guard try await owns(tx, record) else { throw PayrailError(.internalError, "the claim on the payment was taken over") }
            guard var payment = try await tx.payment(id: paymentID, merchantID: caller.merchantID) else {
                throw PayrailError(.internalError, "payment vanished")
            }
            let expectedVersion = payment.version
            try payment.apply(.rerouted(to: next), at: now())
            try await tx.updatePayment(payment, expectedVersion: expectedVersion)
        }
    }

    /// Completes a redirect payment once its provider says the buyer finished (approved or
    /// canceled): the same work as the merchant's ConfirmPayment, under a key of the provider's
    /// reference, so the notification and the merchant's confirmation never both apply.
    public func completeRedirect(paymentID: String, merchantID: String, reference: String) async throws {
        guard let payment = try await store.read({ try await $0.payment(id: paymentID, merchantID: merchantID) }),
              payment.status == .requiresAction, payment.challenge?.challengeID == reference, payment.challenge?.redirectURL != nil else { return }
        _ = try await confirmPayment(CallerContext(merchantID: merchantID, livemode: payment.livemode), idempotencyKey: "redirect-\(reference)",
                                     paymentID: paymentID, otp: "")
    }

    /// Applies a bank's word on a debit it accepted: settled (the payment succeeds with the
    /// whole amount; the pending funds post to the merchant's available balance) or returned
    /// with the bank's code (the payment fails; the pending funds are released). One
    /// transaction with the `payment.succeeded`/`payment.failed` event; a repeated or unknown
    /// notification changes nothing.
    public func applyDebitOutcome(paymentID: String, merchantID: String, connector: String, processorReference: String,
                                  returnCode: String?) async throws {
        try await store.write { tx in
            guard var payment = try await tx.payment(id: paymentID, merchantID: merchantID), payment.connector == connector,
                  payment.status == .processing, payment.method.settlesLater else {
                logger.notice("bank debit notification ignored", metadata: ["payment": "\(paymentID)", "connector": "\(connector)"])
                return
            }
            // The bank's answer overtook ours (a crash, a lost answer): not applied yet, so the
            // notification comes again once the request or the reconciliation job records the debit.
            guard let recorded = payment.processorReference else {
                throw PayrailError(.operationInProgress, "the debit is not recorded yet")
            }
            guard recorded == processorReference else {
                logger.notice("bank debit notification for another debit ignored", metadata: ["payment": "\(paymentID)"])
                return
            }
            let nowMs = now()
            let event: PaymentEvent = returnCode.map { code in
                .debitReturned(Failure(reason: "bank_debit_returned", declineCode: DeclineCode(code),
                                       message: "The bank returned the debit (\(code)).")) } ?? .debitSettled
            let before = payment
            let expectedVersion = payment.version
            try payment.apply(event, at: nowMs)
            if let posting = try Self.posting(for: event, before: before, after: payment, transactionID: ids.make("ltx"), nowMs: nowMs) {
                try await tx.appendLedgerTransaction(posting)
            }
            try await tx.updatePayment(payment, expectedVersion: expectedVersion)
            if let type = DomainEvent.EventType.payment(enteredStatus: payment.status) {
                try await tx.appendOutboxEvent(DomainEvent(id: ids.make("evt"), type: type, merchantID: payment.merchantID,
                                                           livemode: payment.livemode, resourceID: payment.id,
                                                           payload: codec.snapshot(payment), createdAtMs: nowMs))
            }
            logger.info("bank debit settled", metadata: ["payment": "\(paymentID)", "status": "\(payment.status.rawValue)"])
        }
    }

    /// What the reconciliation job did with one payment.
    public enum Reconciliation: Sendable, Hashable {
        /// The processor's answer settled it; the payment as it is now.
        case settled(PaymentStatus)
        /// The processor still cannot say; the payment stays `processing` for the next round.
        case stillUnknown
        /// A request is working on it (its lease is live), or it is no longer `processing`.
        case skipped
    }

    /// Settles a payment left `processing` by a request that never learned the processor's
    /// answer (a timeout after sending, a crash): takes over the request's idempotency claim
    /// once its lease has run out (fencing the original out), asks the processor for the
    /// authorization's status, and applies it exactly as the request would have: state,
    /// ledger entries, outbox event and the finished idempotency record, in one transaction.
    /// An authorization the processor never received is reversed first, so it can never land
    /// after the payment was failed. The merchant's retry with the same key then replays it.
    public func reconcile(paymentID: String, merchantID: String) async throws -> Reconciliation {
        let nowMs = now()
        let claimed = try await store.write { tx -> (IdempotencyRecord, Payment)? in
            guard let payment = try await tx.payment(id: paymentID, merchantID: merchantID), payment.status == .processing,
                  var record = try await tx.idempotencyRecord(merchantID: merchantID, resourceID: paymentID, operation: Operation.createPayment),
                  record.state == .inProgress, record.lockedUntilMs <= nowMs else { return nil }
            record.lockedUntilMs = nowMs + configuration.idempotencyLeaseMs
            record.updatedAtMs = nowMs
            try await tx.updateIdempotencyRecord(record)
            return (record, payment)
        }
        guard let (record, payment) = claimed else { return .skipped }
        let caller = CallerContext(merchantID: merchantID, livemode: payment.livemode)
        let events: [PaymentEvent]
        if payment.risk?.action == .block {
            events = [.declined(Self.fraudFailure)]
        } else {
            guard let connector = router.connector(payment.connector) else {
                try await releaseForRetry(record)
                return .stillUnknown
            }
            let key = "\(payment.id):authorize"
            switch await router.status(connector, idempotencyKey: key) {
            case .completed(let outcome, _)?:
                events = try Self.events(for: outcome, payment: payment)
            case .reversed?:
                events = [.declined(ConnectorRouter.reversedFailure)]
            case .notReceived?:
                // Never arrived: make sure it never will, then fail it.
                guard await router.reverse(connector, idempotencyKey: key) else {
                    try await releaseForRetry(record)
                    return .stillUnknown
                }
                events = [.declined(ConnectorRouter.unavailableFailure)]
            case nil:
                try await releaseForRetry(record)
                return .stillUnknown
            }
        }
        let settled = try await finish(record, paymentID: paymentID, caller: caller) { _, _ in events }
        if settled.status == .failed { risk.recordDecline(settled, atMs: now()) }
        logger.notice("payment reconciled", metadata: ["payment": "\(paymentID)", "status": "\(settled.status.rawValue)",
                                                       "connector": "\(settled.connector)"])
        return .settled(settled.status)
    }

    /// Fails a payment whose 3-D Secure challenge was abandoned for longer than
    /// `challengeExpiryMs`; true when it did. A confirmation in flight (holding the payment's
    /// operation lock) wins: the payment is left for the next round.
    public func expireChallenge(paymentID: String, merchantID: String) async throws -> Bool {
        let nowMs = now()
        let owner = "challenge-expiry"
        let expired = try await store.write { tx -> Payment? in
            guard var payment = try await tx.payment(id: paymentID, merchantID: merchantID), payment.status == .requiresAction,
                  payment.updatedAtMs + configuration.challengeExpiryMs <= nowMs,
                  try await tx.acquirePaymentLock(paymentID: paymentID, owner: owner, untilMs: nowMs + 1_000, nowMs: nowMs) else { return nil }
            // A confirmation reached the processor and its answer never came back: the network
            // may have charged. Leave the payment to that confirmation's retry.
            if let confirm = try await tx.idempotencyRecord(merchantID: merchantID, resourceID: paymentID, operation: Operation.confirmPayment),
               confirm.state == .inProgress {
                try await tx.releasePaymentLock(paymentID: paymentID, owner: owner)
                return nil
            }
            let expectedVersion = payment.version
            try payment.apply(.challengeExpired, at: nowMs)
            try await tx.updatePayment(payment, expectedVersion: expectedVersion)
            try await tx.appendOutboxEvent(DomainEvent(id: ids.make("evt"), type: .paymentFailed, merchantID: payment.merchantID,
                                                       livemode: payment.livemode, resourceID: payment.id,
                                                       payload: codec.snapshot(payment), createdAtMs: nowMs))
            try await tx.releasePaymentLock(paymentID: paymentID, owner: owner)
            return payment
        }
        if let expired { logger.notice("3-D Secure challenge expired", metadata: ["payment": "\(expired.id)"]) }
        return expired != nil
    }

    /// Payments waiting on an abandoned challenge: the expiry's candidates.
    public func abandonedChallenges(limit: Int) async throws -> [Payment] {
        let before = now() - configuration.challengeExpiryMs
        return try await store.read { try await $0.payments(status: .requiresAction, updatedBeforeMs: before, limit: limit) }
    }

    /// Payments `processing` for longer than `olderThanMs`: the reconciliation job's candidates.
    public func stalledPayments(olderThanMs: Int64, limit: Int) async throws -> [Payment] {
        let before = now() - olderThanMs
        return try await store.read { try await $0.payments(status: .processing, updatedBeforeMs: before, limit: limit) }
    }

    // MARK: Idempotency machinery

    enum Operation {
        static let createPayment = "create_payment"
        static let confirmPayment = "confirm_payment"
        static let capturePayment = "capture_payment"
        static let cancelPayment = "cancel_payment"
        static let reviewPayment = "review_payment"
        static let createRefund = "create_refund"
    }

    enum Claim {
        case replay([UInt8])
        case proceed(resourceID: String, record: IdempotencyRecord)
    }

    private enum Attempt {
        case replay([UInt8])
        case wait
        case proceed(resourceID: String, record: IdempotencyRecord)
    }

    /// Step 1: claims (merchant, key) for this request, running `start` in the same
    /// transaction the first time. Replays a finished answer, waits out a running duplicate,
    /// or takes over an abandoned one.
    ///
    /// `optimistic`: the first attempt runs `start` and inserts the record without looking
    /// for one (a new key is the common case; the insert refuses a key that exists). Any
    /// failure of that attempt, the key's existence or `start`'s own error, rolls it back and
    /// the request is claimed again by looking first, so a retry still replays its answer.
    private func claim(_ caller: CallerContext, key: String, operation: String, fingerprint: String, optimistic: Bool = false,
                       start: (any StoreTransaction, Int64) async throws -> String) async throws -> Claim {
        let deadline = now() + configuration.duplicateWaitMs
        var lookFirst = !optimistic
        while true {
            let attempt: Attempt
            do {
                attempt = try await claimAttempt(caller, key: key, operation: operation, fingerprint: fingerprint, lookFirst: lookFirst,
                                                 start: start)
            } catch where !lookFirst {
                lookFirst = true
                continue
            } catch let error as StoreError {
                // A concurrent request with the same key (or on the same payment) committed
                // first: look again, and wait for it or replay it.
                guard case .conflict = error, now() < deadline else { throw error }
                continue
            }
            switch attempt {
            case .replay(let bytes): return .replay(bytes)
            case .proceed(let resourceID, let record): return .proceed(resourceID: resourceID, record: record)
            case .wait:
                guard now() < deadline else {
                    throw PayrailError(.idempotencyKeyInUse, "a request with this idempotency key is still in progress; retry later",
                                       field: "idempotency_key")
                }
                try await Task.sleep(for: .milliseconds(configuration.duplicatePollMs))
            }
        }
    }

    private func claimAttempt(_ caller: CallerContext, key: String, operation: String, fingerprint: String, lookFirst: Bool,
                              start: (any StoreTransaction, Int64) async throws -> String) async throws -> Attempt {
        try await store.write { tx -> Attempt in
            let nowMs = now()
            if lookFirst, var record = try await tx.idempotencyRecord(merchantID: caller.merchantID, key: key) {
                try record.requireSameRequest(operation: operation, fingerprint: fingerprint)
                if record.state == .completed, let response = record.response { return .replay(response) }
                if record.lockedUntilMs > nowMs { return .wait }
                record.lockedUntilMs = nowMs + configuration.idempotencyLeaseMs
                record.updatedAtMs = nowMs
                try await tx.updateIdempotencyRecord(record)
                return .proceed(resourceID: record.resourceID!, record: record)
            }
            let resourceID = try await start(tx, nowMs)
            let record = IdempotencyRecord(merchantID: caller.merchantID, key: key, operation: operation, fingerprint: fingerprint,
                                           state: .inProgress, lockedUntilMs: nowMs + configuration.idempotencyLeaseMs,
                                           resourceID: resourceID, response: nil, createdAtMs: nowMs, updatedAtMs: nowMs)
            try await tx.insertIdempotencyRecord(record)
            return .proceed(resourceID: resourceID, record: record)
        }
    }

    private func replayed(_ claim: Claim) throws -> IdempotentOutcome<Payment> {
        guard case .replay(let bytes) = claim else { preconditionFailure("not a replay") }
        return .replayed(bytes)
    }

    /// Step 3: applies `events` to the current payment, posts the matching ledger entries and
    /// finishes the idempotency record, all in one transaction.
    ///
    /// `known`: the payment as this request last wrote it (the one its claim created). The
    /// write then reads nothing: the payment's version check and an update of the record
    /// fenced by this request's lease stand in for the reads, and if either finds a change
    /// (a reroute, a takeover) the transaction rolls back and the reading path decides.
    private func finish(_ record: IdempotencyRecord, paymentID: String, caller: CallerContext, known: Payment? = nil,
                        releasingLockOf lockOwner: String? = nil,
                        events makeEvents: (Payment, Int64) throws -> [PaymentEvent]) async throws -> Payment {
        if let known {
            do {
                return try await store.write { tx in
                    try await apply(makeEvents, to: known, finishing: record, fenced: true, releasingLockOf: lockOwner, tx)
                }
            } catch StoreError.conflict {
                // Changed since this request wrote it: read it again below.
            }
        }
        return try await store.write { tx -> Payment in
            guard let payment = try await tx.payment(id: paymentID, merchantID: caller.merchantID) else {
                throw PayrailError(.internalError, "payment vanished")
            }
            // Our lease ran out and another request took the key over: it finishes the work.
            guard try await owns(tx, record) else { return payment }
            return try await apply(makeEvents, to: payment, finishing: record, fenced: false, releasingLockOf: lockOwner, tx)
        }
    }

    /// The writes of step 3 for `current`, the stored payment: the payment at its next
    /// version, the finished record (`fenced`: only while it still carries this request's
    /// lease), the lock released, the postings and the outbox event. Rows are written in the
    /// order the reading path locks them (payment, record), so the two paths cannot deadlock.
    private func apply(_ makeEvents: (Payment, Int64) throws -> [PaymentEvent], to current: Payment, finishing record: IdempotencyRecord,
                       fenced: Bool, releasingLockOf lockOwner: String?, _ tx: any StoreTransaction) async throws -> Payment {
        let nowMs = now()
        var payment = current
        var postings: [LedgerTransaction] = []
        for event in try makeEvents(payment, nowMs) {
            let before = payment
            try payment.apply(event, at: nowMs)
            if let posting = try Self.posting(for: event, before: before, after: payment, transactionID: ids.make("ltx"), nowMs: nowMs) {
                postings.append(posting)
            }
        }
        try await tx.updatePayment(payment, expectedVersion: current.version)
        // One snapshot for both the event and the replayable answer: the same payment.
        let snapshot = codec.snapshot(payment)
        let completed = Self.completed(record, response: snapshot, nowMs: nowMs)
        if fenced {
            try await tx.updateIdempotencyRecord(completed, whileLeasedUntil: record.lockedUntilMs)
        } else {
            try await tx.updateIdempotencyRecord(completed)
        }
        if let lockOwner { try await tx.releasePaymentLock(paymentID: payment.id, owner: lockOwner) }
        if !postings.isEmpty { try await tx.appendLedgerTransactions(postings) }
        if payment.status != current.status, let type = DomainEvent.EventType.payment(enteredStatus: payment.status) {
            try await tx.appendOutboxEvent(DomainEvent(id: ids.make("evt"), type: type, merchantID: payment.merchantID,
                                                       livemode: payment.livemode, resourceID: payment.id,
                                                       payload: snapshot, createdAtMs: nowMs))
        }
        logger.debug("payment updated", metadata: [
            "payment": "\(payment.id)", "status": "\(payment.status.rawValue)", "amount": "\(payment.amount)",
            "method": "\(payment.method.kind) ****\(payment.card?.last4 ?? "")", "decline_code": "\(payment.failure?.declineCode?.rawValue ?? "")",
        ])
        return payment
    }

    /// The ledger transaction an applied event posts, if any.
    static func posting(for event: PaymentEvent, before: Payment, after: Payment, transactionID: String, nowMs: Int64) throws -> LedgerTransaction? {
        switch event {
        case .authorized:
            return PostingRules.authorization(after, transactionID: transactionID, at: nowMs)
        case .captured(let amountMinor) where after.settlement != nil:
            let (merchant, markup) = try after.settlement!.settle(Money(amountMinor: amountMinor, currency: after.amount.currency))
            return PostingRules.captureWithConversion(after, authorizedMinor: before.amountCapturableMinor, capturedMinor: amountMinor,
                                                      settledToMerchant: merchant, markup: markup, transactionID: transactionID, at: nowMs)
        case .captured(let amountMinor):
            return PostingRules.capture(after, authorizedMinor: before.amountCapturableMinor, capturedMinor: amountMinor,
                                        transactionID: transactionID, at: nowMs)
        case .canceled where before.status == .requiresCapture || before.status == .requiresReview:
            return PostingRules.void(after, authorizedMinor: before.amountCapturableMinor, transactionID: transactionID, at: nowMs)
        case .debitInitiated:
            // The bank accepted the debit: the funds are pending, as an authorization holds them.
            return PostingRules.authorization(after, transactionID: transactionID, at: nowMs)
        case .debitSettled:
            return try posting(for: .captured(amountMinor: before.amountCapturableMinor), before: before, after: after,
                               transactionID: transactionID, nowMs: nowMs)
        case .debitReturned where before.amountCapturableMinor > 0:
            return PostingRules.void(after, authorizedMinor: before.amountCapturableMinor, transactionID: transactionID, at: nowMs)
        default:
            return nil
        }
    }

    /// Finishes a record whose work was already done, answering with the payment as it is.
    private func complete(_ record: IdempotencyRecord, payment: Payment, releasingLockOf lockOwner: String? = nil) async throws -> Payment {
        try await store.write { tx in
            guard try await owns(tx, record) else { return }
            if let lockOwner { try await tx.releasePaymentLock(paymentID: payment.id, owner: lockOwner) }
            try await tx.updateIdempotencyRecord(Self.completed(record, response: codec.snapshot(payment), nowMs: now()))
        }
        return payment
    }

    private func completeRefund(_ record: IdempotencyRecord, refund: Refund) async throws -> Refund {
        try await store.write { tx in
            guard try await owns(tx, record) else { return }
            try await tx.updateIdempotencyRecord(Self.completed(record, response: codec.snapshot(refund), nowMs: now()))
        }
        return refund
    }

    /// The outcome is unknown (timeout): end our lease now so the next retry resumes at
    /// step 2 at once, repeating the processor call under the same processor-side key.
    private func releaseForRetry(_ record: IdempotencyRecord) async throws {
        var released = record
        released.lockedUntilMs = now()
        released.updatedAtMs = released.lockedUntilMs
        try await store.write { tx in
            guard try await owns(tx, record) else { return }
            try await tx.updateIdempotencyRecord(released)
        }
    }

    /// The processor refused definitively before anything changed: forget the claim so the
    /// merchant may retry, and release the payment.
    private func abandon(_ record: IdempotencyRecord, paymentID: String, releasingLockOf lockOwner: String) async throws {
        var finished = record
        finished.lockedUntilMs = now()
        try await store.write { tx in
            guard try await owns(tx, record) else { return }
            try await tx.releasePaymentLock(paymentID: paymentID, owner: lockOwner)
            try await tx.updateIdempotencyRecord(finished)
        }
    }

    /// Whether this request still holds its claim: the record is unfinished and carries the
    /// lease this request set (a fencing token). A request whose lease expired and was taken
    /// over must not write, or a slow original could overwrite its successor's answer.
    private func owns(_ tx: any StoreTransaction, _ record: IdempotencyRecord) async throws -> Bool {
        guard let current = try await tx.idempotencyRecord(merchantID: record.merchantID, key: record.key) else { return false }
        return current.state == .inProgress && current.lockedUntilMs == record.lockedUntilMs
    }

    private static func completed(_ record: IdempotencyRecord, response: [UInt8], nowMs: Int64) -> IdempotencyRecord {
        var completed = record
        completed.state = .completed
        completed.response = response
        completed.lockedUntilMs = nowMs
        completed.updatedAtMs = nowMs
        return completed
    }

    private func lockedPayment(_ tx: any StoreTransaction, _ caller: CallerContext, _ paymentID: String, owner: String, nowMs: Int64) async throws -> Payment {
        guard let payment = try await tx.payment(id: paymentID, merchantID: caller.merchantID) else {
            throw PayrailError(.resourceMissing, "no such payment", field: "payment_id")
        }
        guard try await tx.acquirePaymentLock(paymentID: paymentID, owner: owner, untilMs: nowMs + configuration.idempotencyLeaseMs, nowMs: nowMs) else {
            throw PayrailError(.operationInProgress, "another operation on this payment is in progress; retry shortly")
        }
        return payment
    }

    private func loadPayment(_ caller: CallerContext, _ id: String) async throws -> Payment {
        guard let payment = try await store.read({ try await $0.payment(id: id, merchantID: caller.merchantID) }) else {
            throw PayrailError(.resourceMissing, "no such payment", field: "payment_id")
        }
        return payment
    }
}

/// Opaque list cursors: `<created_at_ms>.<payment id>`.
enum PaymentCursorCoding {
    static func encode(_ cursor: PaymentCursor) -> String { "\(cursor.createdAtMs).\(cursor.paymentID)" }

    static func decode(_ text: String) throws(PayrailError) -> PaymentCursor? {
        guard !text.isEmpty else { return nil }
        let parts = text.split(separator: ".", maxSplits: 1)
        guard parts.count == 2, let ms = Int64(parts[0]), parts[1].hasPrefix("pay_"), parts[1].count <= RequestLimits.identifierLengthMax else {
            throw PayrailError(.invalidCursor, "cursor is not one this API returned", field: "cursor")
        }
        return PaymentCursor(createdAtMs: ms, paymentID: String(parts[1]))
    }
}
