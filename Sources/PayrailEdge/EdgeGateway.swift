import GRPCCore
import GRPCNIOTransportHTTP2
import Logging
import Metrics
import PayrailDomain
import PayrailProtos
import PayrailRuntime
import SwiftProtobuf
import Synchronization

/// The merchant-facing public API at an edge: authenticates the API key, validates every
/// field before anything leaves the edge, and forwards the request with the caller's
/// context to the core. Errors reach the merchant typed (status + reason); the core's own
/// errors are relayed unchanged, and nothing else of the upstream leaks.
public final class EdgeGateway: Sendable {
    public let edgeID: String
    public let region: String
    private let cores: [Payrail_Internal_V1_Core.Client<HTTP2ClientTransport.Posix>]
    /// One `PaymentCalls` stream per core connection (same index), empty when disabled.
    let pipes: [CoreCallPipe]
    private let authenticator: APIKeyAuthenticator
    private let next = Atomic<Int>(0)
    private let now: @Sendable () -> Int64
    private let upstreamTimeout: Duration
    private let rateLimiter: EdgeRateLimiter
    private let idempotency: EdgeIdempotencyCache
    private let rateLimited = Counter(label: "payrail_edge_rate_limited_total")
    private let upstreamErrors = Counter(label: "payrail_edge_upstream_errors_total")
    private let upstreamFailovers = Counter(label: "payrail_edge_upstream_failovers_total")
    private let requestMetrics = EdgeRequestMetrics()
    private let logger: Logger
    private let draining = Atomic<Bool>(false)
    private let regionMap: @Sendable () -> Payrail_V1_RegionMap?

    /// The per-call options of the call being handled (its deadline), set by ``handle``.
    @TaskLocal static var callOptions: CallOptions?

    public init(edgeID: String, region: String, cores: [GRPCClient<HTTP2ClientTransport.Posix>], now: @escaping @Sendable () -> Int64,
                upstreamTimeout: Duration = .seconds(30), rateLimiter: EdgeRateLimiter = EdgeRateLimiter(),
                idempotencyRetentionMs: Int64 = 10 * 60_000, logger: Logger = Logger(label: "payrail.edge"),
                regionMap: @escaping @Sendable () -> Payrail_V1_RegionMap? = { nil }, pipedPaymentCalls: Bool = true) {
        precondition(!cores.isEmpty, "an edge needs at least one core connection")
        self.edgeID = edgeID
        self.region = region
        let clients = cores.map { Payrail_Internal_V1_Core.Client(wrapping: $0) }
        self.cores = clients
        self.pipes = pipedPaymentCalls ? clients.map { CoreCallPipe(client: $0, logger: logger) } : []
        self.now = now
        self.upstreamTimeout = upstreamTimeout
        self.rateLimiter = rateLimiter
        self.idempotency = EdgeIdempotencyCache(retentionMs: idempotencyRetentionMs, now: now)
        self.logger = logger
        self.regionMap = regionMap
        let rotation = Atomic<Int>(0)
        let failovers = upstreamFailovers
        self.authenticator = APIKeyAuthenticator(now: now) { request in
            // A lookup is safe to repeat: on an unreachable core, ask the next connection once.
            let index = rotation.add(1, ordering: .relaxed).oldValue & Int.max
            do {
                return try await clients[index % clients.count].authenticateAPIKey(request)
            } catch let error as RPCError where clients.count > 1 && Self.isUnreachable(error) {
                failovers.increment()
                return try await clients[(index + 1) % clients.count].authenticateAPIKey(request)
            }
        }
    }

    /// One of the core connections, round robin.
    private var core: Payrail_Internal_V1_Core.Client<HTTP2ClientTransport.Posix> {
        cores[nextCoreIndex()]
    }

    private func nextCoreIndex() -> Int { (next.add(1, ordering: .relaxed).oldValue & Int.max) % cores.count }

    /// A payment call to the next core connection: on its `PaymentCalls` stream when that is
    /// ready, else as the unary call `unary` makes. Errors are the unary call's either way.
    private func paymentCall(_ call: Payrail_Internal_V1_PipedCall.OneOf_Call,
                             unary: (Payrail_Internal_V1_Core.Client<HTTP2ClientTransport.Posix>) async throws -> Payrail_V1_Payment)
        async throws -> Payrail_V1_Payment {
        let index = nextCoreIndex()
        if index < pipes.count, let answer = try await pipes[index].send(call, timeout: options.timeout ?? upstreamTimeout) {
            switch answer.result {
            case .payment(let payment): return payment
            case .error(let error): throw RPCErrorMapping.rpcError(error)
            case nil: throw RPCError(code: .internalError, message: "the core answered a piped call with nothing")
            }
        }
        return try await unary(cores[index])
    }

    private var options: CallOptions {
        if let options = Self.callOptions { return options }
        var options = CallOptions.defaults
        options.timeout = upstreamTimeout
        return options
    }

    /// The deadline for the call to the core: the configured upstream timeout, shortened to
    /// what is left of the merchant's own deadline (`grpc-timeout`) so the core stops work
    /// nobody waits for.
    func upstreamOptions(_ metadata: Metadata) -> CallOptions {
        var options = CallOptions.defaults
        options.timeout = upstreamTimeout
        if let header = metadata[stringValues: "grpc-timeout"].first(where: { _ in true }),
           let clientTimeout = Self.parseGRPCTimeout(header), clientTimeout < upstreamTimeout {
            options.timeout = clientTimeout
        }
        return options
    }

    /// `grpc-timeout`: up to 8 digits and a unit (H, M, S, m, u, n); nil if malformed.
    static func parseGRPCTimeout(_ value: String) -> Duration? {
        let utf8 = Array(value.utf8)
        guard utf8.count >= 2, utf8.count <= 9, let amount = Int64(String(decoding: utf8.dropLast(), as: UTF8.self)), amount >= 0 else {
            return nil
        }
        switch utf8.last! {
        case UInt8(ascii: "H"): return .seconds(amount * 3600)
        case UInt8(ascii: "M"): return .seconds(amount * 60)
        case UInt8(ascii: "S"): return .seconds(amount)
        case UInt8(ascii: "m"): return .milliseconds(amount)
        case UInt8(ascii: "u"): return .microseconds(amount)
        case UInt8(ascii: "n"): return .nanoseconds(amount)
        default: return nil
        }
    }

    /// Whether the edge is draining: new calls are refused with `edge_draining` (UNAVAILABLE,
    /// nothing forwarded, safe to send elsewhere) while calls in flight finish. Returns whether
    /// the state changed.
    @discardableResult
    public func setDraining(_ value: Bool) -> Bool {
        draining.exchange(value, ordering: .relaxed) != value
    }

    public var isDraining: Bool { draining.load(ordering: .relaxed) }

    /// Authenticates, applies the rate limits, then runs `forward`; maps every failure to a
    /// typed error carrying the request id (`payrail-request-id`), which the core logs too.
    /// Records requests by method and status and their latency.
    func handle<Response>(_ method: String, _ metadata: Metadata,
                          _ forward: (Payrail_Internal_V1_CallContext) async throws -> Response) async throws -> Response {
        let started = ContinuousClock.now
        let requestID = Self.newRequestID()
        var outcome = "OK"
        defer { requestMetrics.record(method: method, code: outcome, since: started) }
        do {
            if draining.load(ordering: .relaxed) {
                throw PayrailError(.edgeDraining, "this edge is draining; send the call to another edge (region map: Discovery)")
            }
            var context = try await authenticator.authenticate(metadata, edgeID: edgeID, region: region)
            context.requestID = requestID
            do {
                try rateLimiter.admit(merchantID: context.merchantID, apiKeyID: context.apiKeyID)
            } catch {
                rateLimited.increment()
                throw error
            }
            let response = try await Self.$callOptions.withValue(upstreamOptions(metadata)) { try await forward(context) }
            logger.trace("forwarded", metadata: ["method": "\(method)", "request_id": "\(requestID)", "merchant": "\(context.merchantID)"])
            return response
        } catch let error as PayrailError {
            logger.debug("refused", metadata: ["method": "\(method)", "request_id": "\(requestID)", "reason": "\(error.code.reason)",
                                               "field": "\(error.field ?? "")"])
            throw tagged(RPCErrorMapping.rpcError(error), requestID, &outcome)
        } catch let error as RPCError {
            if error.metadata[stringValues: RPCErrorMapping.reasonKey].first(where: { _ in true }) != nil {
                throw tagged(RPCErrorMapping.relayed(error), requestID, &outcome)
            }
            // The core did not answer with a Payrail error: it is unreachable or timed out.
            upstreamErrors.increment()
            logger.warning("core call failed", metadata: ["method": "\(method)", "request_id": "\(requestID)", "code": "\(error.code)"])
            throw tagged(RPCErrorMapping.rpcError(PayrailError(PayrailError.Code("upstream_unavailable", .unavailable),
                                                                "the payment core is unavailable; retry with the same idempotency key")),
                         requestID, &outcome)
        } catch {
            logger.error("unexpected edge failure", metadata: ["method": "\(method)", "request_id": "\(requestID)",
                                                               "error_type": "\(type(of: error))"])
            throw tagged(RPCErrorMapping.rpcError(PayrailError(.internalError, "internal error")), requestID, &outcome)
        }
    }

    private func tagged(_ error: RPCError, _ requestID: String, _ outcome: inout String) -> RPCError {
        var error = error
        error.metadata.addString(requestID, forKey: "payrail-request-id")
        outcome = "\(error.code)"
        return error
    }

    /// `req_` + 64 random bits in hex.
    static func newRequestID() -> String {
        var id = "req_"
        let value = UInt64.random(in: 0...UInt64.max)
        let hex = String(value, radix: 16)
        id += String(repeating: "0", count: 16 - hex.count) + hex
        return id
    }

    /// Applies the reloadable part of a configuration: rate-limit tiers and idempotency retention.
    public func apply(rateLimits: EdgeRateLimiter.Configuration, idempotencyRetentionMs: Int64) {
        rateLimiter.update(rateLimits)
        idempotency.setRetention(ms: idempotencyRetentionMs)
    }

    /// How often the edge answered a retry itself, or joined a duplicate to the first request.
    public var idempotencyStatistics: (replays: Int, coalesced: Int) { idempotency.statistics }

    /// Payment calls sent to the core on `PaymentCalls` streams since start; the rest went unary.
    public var pipedPaymentCalls: Int { pipes.reduce(0) { $0 + $1.callsSent } }

    var today: CalendarMonth { CalendarMonth(unixMillis: now()) }

    /// A payment answer worth replaying from the edge: anything but `processing`, whose retry
    /// must reach the core to resume the payment.
    @Sendable static func isFinal(_ payment: Payrail_V1_Payment) -> Bool { payment.status != .processing }

    /// The core could not be reached or answered without a Payrail reason (connection refused,
    /// reset, GOAWAY): nothing says the request was processed, nothing says it was not.
    static func isUnreachable(_ error: RPCError) -> Bool {
        error.code == .unavailable && error.metadata[stringValues: RPCErrorMapping.reasonKey].first(where: { _ in true }) == nil
    }

    /// Runs `send` and, if the core connection it used is unreachable, once more on the next
    /// connection (another core node, if configured). Only for calls that are safe to repeat:
    /// reads, and writes carrying an idempotency key (the core's durable record makes a repeat
    /// a replay).
    private func withFailover<Response>(_ send: () async throws -> Response) async throws -> Response {
        do {
            return try await send()
        } catch let error as RPCError where cores.count > 1 && Self.isUnreachable(error) {
            upstreamFailovers.increment()
            logger.debug("core unreachable; trying the next connection", metadata: ["code": "\(error.code)"])
            return try await send()
        }
    }

    /// Sends through the edge's idempotency cache when the request carries a key.
    private func idempotent<Request: SwiftProtobuf.Message, Response: SwiftProtobuf.Message>(
        _ operation: String, _ context: Payrail_Internal_V1_CallContext, key: String, request: Request,
        keep: @escaping @Sendable (Response) -> Bool, _ send: @escaping @Sendable () async throws -> Response
    ) async throws -> Response {
        guard !key.isEmpty else { return try await send() }
        var encoding = BinaryEncodingOptions()
        encoding.useDeterministicOrdering = true
        let fingerprint = idempotency.fingerprint(operation: operation, request: try request.serializedBytes(options: encoding))
        let cacheKey = EdgeIdempotencyCache.Key(merchantID: context.merchantID, livemode: context.livemode, operation: operation,
                                                idempotencyKey: key)
        // The request that sends keeps the decoded answer: only replays and joined duplicates decode.
        let sent = SentAnswer<Response>()
        let bytes = try await idempotency.run(cacheKey, fingerprint: fingerprint, keep: { _ in sent.isFinal }, send: {
            let response = try await self.withFailover { try await send() }
            sent.set(response, isFinal: keep(response))
            return try response.serializedBytes()
        })
        return try sent.response ?? Response(serializedBytes: bytes)
    }

    // MARK: Forwarding

    func createPayment(_ request: Payrail_V1_CreatePaymentRequest, _ metadata: Metadata) async throws -> Payrail_V1_Payment {
        try await handle("CreatePayment", metadata) { context in
            _ = try ProtoMapping.createPaymentCommand(request, today: today)
            return try await idempotent("CreatePayment", context, key: request.idempotencyKey, request: request, keep: Self.isFinal) {
                let call = Payrail_Internal_V1_CreatePaymentCall.with { $0.context = context; $0.request = request }
                return try await self.paymentCall(.createPayment(call)) { try await $0.createPayment(call, options: self.options) }
            }
        }
    }

    func getPayment(_ request: Payrail_V1_GetPaymentRequest, _ metadata: Metadata) async throws -> Payrail_V1_Payment {
        try await handle("GetPayment", metadata) { context in
            _ = try RequestValidation.paymentID(request.paymentID)
            let call = Payrail_Internal_V1_GetPaymentCall.with { $0.context = context; $0.request = request }
            return try await withFailover { try await paymentCall(.getPayment(call)) { try await $0.getPayment(call, options: options) } }
        }
    }

    func confirmPayment(_ request: Payrail_V1_ConfirmPaymentRequest, _ metadata: Metadata) async throws -> Payrail_V1_Payment {
        try await handle("ConfirmPayment", metadata) { context in
            _ = try RequestValidation.confirm(request)
            return try await idempotent("ConfirmPayment", context, key: request.idempotencyKey, request: request, keep: Self.isFinal) {
                let call = Payrail_Internal_V1_ConfirmPaymentCall.with { $0.context = context; $0.request = request }
                return try await self.paymentCall(.confirmPayment(call)) { try await $0.confirmPayment(call, options: self.options) }
            }
        }
    }

    func capturePayment(_ request: Payrail_V1_CapturePaymentRequest, _ metadata: Metadata) async throws -> Payrail_V1_Payment {
        try await handle("CapturePayment", metadata) { context in
            _ = try RequestValidation.capture(request)
            return try await idempotent("CapturePayment", context, key: request.idempotencyKey, request: request, keep: Self.isFinal) {
                let call = Payrail_Internal_V1_CapturePaymentCall.with { $0.context = context; $0.request = request }
                return try await self.paymentCall(.capturePayment(call)) { try await $0.capturePayment(call, options: self.options) }
            }
        }
    }

    func cancelPayment(_ request: Payrail_V1_CancelPaymentRequest, _ metadata: Metadata) async throws -> Payrail_V1_Payment {
        try await handle("CancelPayment", metadata) { context in
            _ = try RequestValidation.cancel(request)
            return try await idempotent("CancelPayment", context, key: request.idempotencyKey, request: request, keep: Self.isFinal) {
                let call = Payrail_Internal_V1_CancelPaymentCall.with { $0.context = context; $0.request = request }
                return try await self.paymentCall(.cancelPayment(call)) { try await $0.cancelPayment(call, options: self.options) }
            }
        }
    }

    func reviewPayment(_ request: Payrail_V1_ReviewPaymentRequest, _ metadata: Metadata) async throws -> Payrail_V1_Payment {
        try await handle("ReviewPayment", metadata) { context in
            _ = try RequestValidation.review(request)
            return try await idempotent("ReviewPayment", context, key: request.idempotencyKey, request: request, keep: Self.isFinal) {
                let call = Payrail_Internal_V1_ReviewPaymentCall.with { $0.context = context; $0.request = request }
                return try await self.paymentCall(.reviewPayment(call)) { try await $0.reviewPayment(call, options: self.options) }
            }
        }
    }

    // MARK: Risk lists

    func addRiskListEntry(_ request: Payrail_V1_AddRiskListEntryRequest, _ metadata: Metadata) async throws -> Payrail_V1_RiskListEntry {
        try await handle("AddRiskListEntry", metadata) { context in
            _ = try RequestValidation.riskListEntry(request.list, request.kind, request.value)
            return try await core.addRiskListEntry(.with { $0.context = context; $0.request = request }, options: options)
        }
    }

    func removeRiskListEntry(_ request: Payrail_V1_RemoveRiskListEntryRequest, _ metadata: Metadata) async throws -> Payrail_V1_RemoveRiskListEntryResponse {
        try await handle("RemoveRiskListEntry", metadata) { context in
            _ = try RequestValidation.riskListEntry(request.list, request.kind, request.value)
            return try await core.removeRiskListEntry(.with { $0.context = context; $0.request = request }, options: options)
        }
    }

    func listRiskListEntries(_ request: Payrail_V1_ListRiskListEntriesRequest, _ metadata: Metadata) async throws -> Payrail_V1_ListRiskListEntriesResponse {
        try await handle("ListRiskListEntries", metadata) { context in
            try await withFailover { try await core.listRiskListEntries(.with { $0.context = context; $0.request = request }, options: options) }
        }
    }

    func listPayments(_ request: Payrail_V1_ListPaymentsRequest, _ metadata: Metadata) async throws -> Payrail_V1_ListPaymentsResponse {
        try await handle("ListPayments", metadata) { context in
            _ = try RequestValidation.list(request)
            return try await withFailover { try await core.listPayments(.with { $0.context = context; $0.request = request }, options: options) }
        }
    }

    // MARK: Subscriptions

    func createPlan(_ request: Payrail_V1_CreatePlanRequest, _ metadata: Metadata) async throws -> Payrail_V1_Plan {
        try await handle("CreatePlan", metadata) { context in
            _ = try RequestValidation.createPlan(request)
            return try await core.createPlan(.with { $0.context = context; $0.request = request }, options: options)
        }
    }

    /// Keyed by its idempotency key at the core, so it may fail over like a read.
    func createSubscription(_ request: Payrail_V1_CreateSubscriptionRequest, _ metadata: Metadata) async throws -> Payrail_V1_Subscription {
        try await handle("CreateSubscription", metadata) { context in
            _ = try RequestValidation.createSubscription(request)
            return try await withFailover { try await core.createSubscription(.with { $0.context = context; $0.request = request }, options: options) }
        }
    }

    func getSubscription(_ request: Payrail_V1_GetSubscriptionRequest, _ metadata: Metadata) async throws -> Payrail_V1_Subscription {
        try await handle("GetSubscription", metadata) { context in
            _ = try RequestValidation.subscriptionID(request.subscriptionID)
            return try await withFailover { try await core.getSubscription(.with { $0.context = context; $0.request = request }, options: options) }
        }
    }

    func cancelSubscription(_ request: Payrail_V1_CancelSubscriptionRequest, _ metadata: Metadata) async throws -> Payrail_V1_Subscription {
        try await handle("CancelSubscription", metadata) { context in
            _ = try RequestValidation.subscriptionID(request.subscriptionID)
            return try await core.cancelSubscription(.with { $0.context = context; $0.request = request }, options: options)
        }
    }

    func listInvoices(_ request: Payrail_V1_ListInvoicesRequest, _ metadata: Metadata) async throws -> Payrail_V1_ListInvoicesResponse {
        try await handle("ListInvoices", metadata) { context in
            _ = try RequestValidation.subscriptionID(request.subscriptionID)
            return try await withFailover { try await core.listInvoices(.with { $0.context = context; $0.request = request }, options: options) }
        }
    }

    // MARK: Payouts

    /// A payout is created in one transaction at the core with its idempotency record, so a
    /// repeat with the same key through any edge returns the same payout.
    func createPayout(_ request: Payrail_V1_CreatePayoutRequest, _ metadata: Metadata) async throws -> Payrail_V1_Payout {
        try await handle("CreatePayout", metadata) { context in
            _ = try RequestValidation.createPayout(request)
            return try await withFailover { try await core.createPayout(.with { $0.context = context; $0.request = request }, options: options) }
        }
    }

    func getPayout(_ request: Payrail_V1_GetPayoutRequest, _ metadata: Metadata) async throws -> Payrail_V1_Payout {
        try await handle("GetPayout", metadata) { context in
            _ = try RequestValidation.payoutID(request.payoutID)
            return try await withFailover { try await core.getPayout(.with { $0.context = context; $0.request = request }, options: options) }
        }
    }

    func listPayouts(_ request: Payrail_V1_ListPayoutsRequest, _ metadata: Metadata) async throws -> Payrail_V1_ListPayoutsResponse {
        try await handle("ListPayouts", metadata) { context in
            _ = try RequestValidation.listPayoutsLimit(request.limit)
            return try await withFailover { try await core.listPayouts(.with { $0.context = context; $0.request = request }, options: options) }
        }
    }

    // MARK: Disputes

    func listDisputes(_ request: Payrail_V1_ListDisputesRequest, _ metadata: Metadata) async throws -> Payrail_V1_ListDisputesResponse {
        try await handle("ListDisputes", metadata) { context in
            _ = try RequestValidation.listDisputes(request)
            return try await withFailover { try await core.listDisputes(.with { $0.context = context; $0.request = request }, options: options) }
        }
    }

    func getDispute(_ request: Payrail_V1_GetDisputeRequest, _ metadata: Metadata) async throws -> Payrail_V1_Dispute {
        try await handle("GetDispute", metadata) { context in
            _ = try RequestValidation.disputeID(request.disputeID)
            return try await withFailover { try await core.getDispute(.with { $0.context = context; $0.request = request }, options: options) }
        }
    }

    /// Answering a dispute is idempotent by itself (the same evidence again returns the
    /// dispute), so it may fail over like a read.
    func submitDisputeEvidence(_ request: Payrail_V1_SubmitDisputeEvidenceRequest, _ metadata: Metadata) async throws -> Payrail_V1_Dispute {
        try await handle("SubmitDisputeEvidence", metadata) { context in
            _ = try RequestValidation.disputeID(request.disputeID)
            _ = try RequestValidation.disputeEvidence(request.evidence)
            return try await withFailover {
                try await core.submitDisputeEvidence(.with { $0.context = context; $0.request = request }, options: options)
            }
        }
    }

    func acceptDispute(_ request: Payrail_V1_AcceptDisputeRequest, _ metadata: Metadata) async throws -> Payrail_V1_Dispute {
        try await handle("AcceptDispute", metadata) { context in
            _ = try RequestValidation.disputeID(request.disputeID)
            return try await withFailover { try await core.acceptDispute(.with { $0.context = context; $0.request = request }, options: options) }
        }
    }

    func createRefund(_ request: Payrail_V1_CreateRefundRequest, _ metadata: Metadata) async throws -> Payrail_V1_Refund {
        try await handle("CreateRefund", metadata) { context in
            _ = try RequestValidation.createRefund(request)
            return try await idempotent("CreateRefund", context, key: request.idempotencyKey, request: request, keep: { $0.status != .pending }) {
                try await self.core.createRefund(.with { $0.context = context; $0.request = request }, options: self.options)
            }
        }
    }

    func getRefund(_ request: Payrail_V1_GetRefundRequest, _ metadata: Metadata) async throws -> Payrail_V1_Refund {
        try await handle("GetRefund", metadata) { context in
            _ = try RequestValidation.refundID(request.refundID)
            return try await withFailover { try await core.getRefund(.with { $0.context = context; $0.request = request }, options: options) }
        }
    }

    func listRefunds(_ request: Payrail_V1_ListRefundsRequest, _ metadata: Metadata) async throws -> Payrail_V1_ListRefundsResponse {
        try await handle("ListRefunds", metadata) { context in
            _ = try RequestValidation.paymentID(request.paymentID)
            return try await withFailover { try await core.listRefunds(.with { $0.context = context; $0.request = request }, options: options) }
        }
    }

    func createCardToken(_ request: Payrail_V1_CreateCardTokenRequest, _ metadata: Metadata) async throws -> Payrail_V1_CardSummary {
        try await handle("CreateCardToken", metadata) { context in
            _ = try RequestValidation.createCardToken(request, today: today)
            _ = try RequestValidation.customerID(request.customerID)
            return try await core.createCardToken(.with { $0.context = context; $0.request = request }, options: options)
        }
    }

    func eraseCustomer(_ request: Payrail_V1_EraseCustomerRequest, _ metadata: Metadata) async throws -> Payrail_V1_EraseCustomerResponse {
        try await handle("EraseCustomer", metadata) { context in
            _ = try RequestValidation.eraseCustomer(request)
            return try await withFailover { try await core.eraseCustomer(.with { $0.context = context; $0.request = request }, options: options) }
        }
    }

    func getBalance(_ request: Payrail_V1_GetBalanceRequest, _ metadata: Metadata) async throws -> Payrail_V1_Balance {
        try await handle("GetBalance", metadata) { context in
            try await withFailover { try await core.getBalance(.with { $0.context = context; $0.request = request }, options: options) }
        }
    }

    func createFXQuote(_ request: Payrail_V1_CreateFXQuoteRequest, _ metadata: Metadata) async throws -> Payrail_V1_FXQuote {
        try await handle("CreateFXQuote", metadata) { context in
            _ = try RequestValidation.fxQuote(request)
            return try await core.createFXQuote(.with { $0.context = context; $0.request = request }, options: options)
        }
    }

    // MARK: Discovery

    func getRegionMap(_ request: Payrail_V1_GetRegionMapRequest, _ metadata: Metadata) async throws -> Payrail_V1_RegionMap {
        try await handle("GetRegionMap", metadata) { _ in
            guard let map = regionMap() else {
                throw PayrailError(PayrailError.Code("region_map_unavailable", .unavailable),
                                   "this edge has not received the region map from the core yet; retry")
            }
            return map
        }
    }

    // MARK: Webhook endpoints

    func createWebhookEndpoint(_ request: Payrail_V1_CreateWebhookEndpointRequest, _ metadata: Metadata) async throws -> Payrail_V1_WebhookEndpoint {
        try await handle("CreateWebhookEndpoint", metadata) { context in
            try RequestValidation.webhookEndpoint(url: request.url, eventTypes: request.eventTypes, description: request.description_p)
            return try await core.createWebhookEndpoint(.with { $0.context = context; $0.request = request }, options: options)
        }
    }

    func getWebhookEndpoint(_ request: Payrail_V1_GetWebhookEndpointRequest, _ metadata: Metadata) async throws -> Payrail_V1_WebhookEndpoint {
        try await handle("GetWebhookEndpoint", metadata) { context in
            return try await core.getWebhookEndpoint(.with { $0.context = context; $0.request = request }, options: options)
        }
    }

    func listWebhookEndpoints(_ request: Payrail_V1_ListWebhookEndpointsRequest, _ metadata: Metadata) async throws -> Payrail_V1_ListWebhookEndpointsResponse {
        try await handle("ListWebhookEndpoints", metadata) { context in
            return try await core.listWebhookEndpoints(.with { $0.context = context; $0.request = request }, options: options)
        }
    }

    func updateWebhookEndpoint(_ request: Payrail_V1_UpdateWebhookEndpointRequest, _ metadata: Metadata) async throws -> Payrail_V1_WebhookEndpoint {
        try await handle("UpdateWebhookEndpoint", metadata) { context in
            try RequestValidation.webhookEndpoint(url: request.hasURL ? request.url : nil, eventTypes: request.eventTypes, description: request.hasDescription_p ? request.description_p : nil)
            return try await core.updateWebhookEndpoint(.with { $0.context = context; $0.request = request }, options: options)
        }
    }

    func deleteWebhookEndpoint(_ request: Payrail_V1_DeleteWebhookEndpointRequest, _ metadata: Metadata) async throws -> Payrail_V1_DeleteWebhookEndpointResponse {
        try await handle("DeleteWebhookEndpoint", metadata) { context in
            return try await core.deleteWebhookEndpoint(.with { $0.context = context; $0.request = request }, options: options)
        }
    }

    func rotateWebhookSecret(_ request: Payrail_V1_RotateWebhookSecretRequest, _ metadata: Metadata) async throws -> Payrail_V1_WebhookEndpoint {
        try await handle("RotateWebhookSecret", metadata) { context in
            return try await core.rotateWebhookSecret(.with { $0.context = context; $0.request = request }, options: options)
        }
    }

    func resendWebhookEvent(_ request: Payrail_V1_ResendWebhookEventRequest, _ metadata: Metadata) async throws -> Payrail_V1_WebhookDelivery {
        try await handle("ResendWebhookEvent", metadata) { context in
            return try await core.resendWebhookEvent(.with { $0.context = context; $0.request = request }, options: options)
        }
    }

    func listWebhookDeliveries(_ request: Payrail_V1_ListWebhookDeliveriesRequest, _ metadata: Metadata) async throws -> Payrail_V1_ListWebhookDeliveriesResponse {
        try await handle("ListWebhookDeliveries", metadata) { context in
            return try await core.listWebhookDeliveries(.with { $0.context = context; $0.request = request }, options: options)
        }
    }
}

/// The answer a request got from the core itself, beside the bytes the idempotency cache keeps.
private final class SentAnswer<Response: Sendable>: Sendable {
    private let state = Mutex<(response: Response?, isFinal: Bool)>((nil, false))

    func set(_ response: Response, isFinal: Bool) { state.withLock { $0 = (response, isFinal) } }
    var response: Response? { state.withLock { $0.response } }
    var isFinal: Bool { state.withLock { $0.isFinal } }
}
