import GRPCCore
import Logging
import PayrailDomain
import PayrailProtos
import PayrailRuntime

/// The internal `payrail.internal.v1.Core` API that edges call over mutual TLS. Thin: it
/// re-validates each request (defence in depth: an edge is trusted to authenticate, not to
/// be bug-free), calls the payment service, and maps results and errors to protobuf.
public struct CoreGRPCService: Payrail_Internal_V1_Core.SimpleServiceProtocol {
    let payments: PaymentService
    private let apiKeys: APIKeyService
    let webhookEndpoints: WebhookEndpointService
    let disputes: DisputeService
    let payouts: PayoutService
    let subscriptions: SubscriptionService
    /// Calls one PaymentCalls stream may have running at once (see ``paymentCalls(request:response:context:)``).
    let pipedCallsInFlightMax: Int
    let now: @Sendable () -> Int64
    let logger: Logger

    public init(payments: PaymentService, apiKeys: APIKeyService, webhookEndpoints: WebhookEndpointService, disputes: DisputeService,
                payouts: PayoutService, subscriptions: SubscriptionService, pipedCallsInFlightMax: Int = 1_024,
                now: @escaping @Sendable () -> Int64, logger: Logger = Logger(label: "payrail.core.grpc")) {
        precondition(pipedCallsInFlightMax >= 1, "a stream runs at least one call")
        self.pipedCallsInFlightMax = pipedCallsInFlightMax
        self.payments = payments
        self.apiKeys = apiKeys
        self.webhookEndpoints = webhookEndpoints
        self.disputes = disputes
        self.payouts = payouts
        self.subscriptions = subscriptions
        self.now = now
        self.logger = logger
    }

    /// Runs `body`, turning domain errors into typed gRPC errors and anything unexpected into
    /// `internal_error` without leaking its text (which could hold request data).
    func mapped<T>(_ method: String, _ context: Payrail_Internal_V1_CallContext? = nil, _ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch let error as PayrailError {
            logger.debug("refused", metadata: ["method": "\(method)", "request_id": "\(context?.requestID ?? "")",
                                               "reason": "\(error.code.reason)"])
            throw RPCErrorMapping.rpcError(error)
        } catch let error as RPCError {
            throw error
        } catch {
            logger.error("unexpected failure", metadata: ["method": "\(method)", "request_id": "\(context?.requestID ?? "")",
                                                          "edge": "\(context?.edgeID ?? "")", "error_type": "\(type(of: error))"])
            throw RPCErrorMapping.rpcError(PayrailError(.internalError, "internal error"))
        }
    }

    func caller(_ context: Payrail_Internal_V1_CallContext) throws(PayrailError) -> CallerContext {
        guard !context.merchantID.isEmpty else {
            throw PayrailError(.authenticationFailed, "call context lacks a merchant")
        }
        return CallerContext(merchantID: context.merchantID, livemode: context.livemode, region: context.region)
    }

    func paymentResponse(_ outcome: IdempotentOutcome<Payment>) throws -> Payrail_V1_Payment { try payment(outcome) }

    private func payment(_ outcome: IdempotentOutcome<Payment>) throws -> Payrail_V1_Payment {
        switch outcome {
        case .current(let payment): return ProtoMapping.proto(payment)
        case .replayed(let bytes): return try Payrail_V1_Payment(serializedBytes: bytes)
        }
    }

    public func authenticateAPIKey(request: Payrail_Internal_V1_AuthenticateAPIKeyRequest, context: ServerContext) async throws -> Payrail_Internal_V1_AuthenticateAPIKeyResponse {
        try await mapped("AuthenticateAPIKey") {
            let caller = try await apiKeys.authenticate(keyID: request.keyID, secretSHA256: Array(request.secretSha256))
            return .with {
                $0.merchantID = caller.merchantID
                $0.livemode = caller.livemode
            }
        }
    }

    public func createPayment(request: Payrail_Internal_V1_CreatePaymentCall, context: ServerContext) async throws -> Payrail_V1_Payment {
        try await createPayment(request)
    }

    func createPayment(_ request: Payrail_Internal_V1_CreatePaymentCall) async throws -> Payrail_V1_Payment {
        try await mapped("CreatePayment", request.context) {
            let command = try ProtoMapping.createPaymentCommand(request.request, today: CalendarMonth(unixMillis: now()))
            return try payment(try await payments.createPayment(try caller(request.context), command))
        }
    }

    public func getPayment(request: Payrail_Internal_V1_GetPaymentCall, context: ServerContext) async throws -> Payrail_V1_Payment {
        try await getPayment(request)
    }

    func getPayment(_ request: Payrail_Internal_V1_GetPaymentCall) async throws -> Payrail_V1_Payment {
        try await mapped("GetPayment", request.context) {
            let id = try RequestValidation.paymentID(request.request.paymentID)
            return ProtoMapping.proto(try await payments.payment(try caller(request.context), id: id))
        }
    }

    public func confirmPayment(request: Payrail_Internal_V1_ConfirmPaymentCall, context: ServerContext) async throws -> Payrail_V1_Payment {
        try await confirmPayment(request)
    }

    func confirmPayment(_ request: Payrail_Internal_V1_ConfirmPaymentCall) async throws -> Payrail_V1_Payment {
        try await mapped("ConfirmPayment", request.context) {
            let body = try RequestValidation.confirm(request.request)
            return try payment(try await payments.confirmPayment(try caller(request.context), idempotencyKey: body.idempotencyKey,
                                                                 paymentID: body.paymentID, otp: body.otp))
        }
    }

    public func capturePayment(request: Payrail_Internal_V1_CapturePaymentCall, context: ServerContext) async throws -> Payrail_V1_Payment {
        try await capturePayment(request)
    }

    func capturePayment(_ request: Payrail_Internal_V1_CapturePaymentCall) async throws -> Payrail_V1_Payment {
        try await mapped("CapturePayment", request.context) {
            let body = try RequestValidation.capture(request.request)
            return try payment(try await payments.capturePayment(try caller(request.context), idempotencyKey: body.idempotencyKey,
                                                                 paymentID: body.paymentID, amountMinor: body.amountMinor))
        }
    }

    public func cancelPayment(request: Payrail_Internal_V1_CancelPaymentCall, context: ServerContext) async throws -> Payrail_V1_Payment {
        try await cancelPayment(request)
    }

    func cancelPayment(_ request: Payrail_Internal_V1_CancelPaymentCall) async throws -> Payrail_V1_Payment {
        try await mapped("CancelPayment", request.context) {
            let body = try RequestValidation.cancel(request.request)
            return try payment(try await payments.cancelPayment(try caller(request.context), idempotencyKey: body.idempotencyKey,
                                                                paymentID: body.paymentID, reason: body.reason))
        }
    }

    public func listPayments(request: Payrail_Internal_V1_ListPaymentsCall, context: ServerContext) async throws -> Payrail_V1_ListPaymentsResponse {
        try await mapped("ListPayments", request.context) {
            let body = try RequestValidation.list(request.request)
            let page = try await payments.listPayments(try caller(request.context), status: body.status, cursor: body.cursor, limit: body.limit)
            return .with {
                $0.payments = page.payments.map(ProtoMapping.proto)
                $0.nextCursor = page.nextCursor
            }
        }
    }

    public func createRefund(request: Payrail_Internal_V1_CreateRefundCall, context: ServerContext) async throws -> Payrail_V1_Refund {
        try await mapped("CreateRefund", request.context) {
            let body = try RequestValidation.createRefund(request.request)
            switch try await payments.createRefund(try caller(request.context), idempotencyKey: body.idempotencyKey, paymentID: body.paymentID,
                                                   amountMinor: body.amountMinor, reason: body.reason) {
            case .current(let refund): return ProtoMapping.proto(refund)
            case .replayed(let bytes): return try Payrail_V1_Refund(serializedBytes: bytes)
            }
        }
    }

    public func getRefund(request: Payrail_Internal_V1_GetRefundCall, context: ServerContext) async throws -> Payrail_V1_Refund {
        try await mapped("GetRefund", request.context) {
            let id = try RequestValidation.refundID(request.request.refundID)
            return ProtoMapping.proto(try await payments.refund(try caller(request.context), id: id))
        }
    }

    public func listRefunds(request: Payrail_Internal_V1_ListRefundsCall, context: ServerContext) async throws -> Payrail_V1_ListRefundsResponse {
        try await mapped("ListRefunds", request.context) {
            let id = try RequestValidation.paymentID(request.request.paymentID)
            let refunds = try await payments.refunds(try caller(request.context), paymentID: id)
            return .with { $0.refunds = refunds.map(ProtoMapping.proto) }
        }
    }

    public func createCardToken(request: Payrail_Internal_V1_CreateCardTokenCall, context: ServerContext) async throws -> Payrail_V1_CardSummary {
        try await mapped("CreateCardToken", request.context) {
            let card = try RequestValidation.createCardToken(request.request, today: CalendarMonth(unixMillis: now()))
            let customer = try RequestValidation.customerID(request.request.customerID)
            return ProtoMapping.proto(try await payments.tokenize(try caller(request.context), card, customerRef: customer))
        }
    }

    public func eraseCustomer(request: Payrail_Internal_V1_EraseCustomerCall, context: ServerContext) async throws -> Payrail_V1_EraseCustomerResponse {
        try await mapped("EraseCustomer", request.context) {
            let customer = try RequestValidation.eraseCustomer(request.request)
            let erased = try await payments.eraseCustomer(try caller(request.context), customerRef: customer)
            return .with { $0.cardsErased = Int32(erased) }
        }
    }

    public func getBalance(request: Payrail_Internal_V1_GetBalanceCall, context: ServerContext) async throws -> Payrail_V1_Balance {
        try await mapped("GetBalance", request.context) {
            let caller = try caller(request.context)
            let balances = try await payments.balances(caller)
            return .with {
                $0.livemode = caller.livemode
                $0.balances = balances.map { balance in
                    .with {
                        $0.currency = balance.currency.code
                        $0.availableMinor = balance.availableMinor
                        $0.pendingMinor = balance.pendingMinor
                    }
                }
            }
        }
    }

    public func createFXQuote(request: Payrail_Internal_V1_CreateFXQuoteCall, context: ServerContext) async throws -> Payrail_V1_FXQuote {
        try await mapped("CreateFXQuote", request.context) {
            let pair = try RequestValidation.fxQuote(request.request)
            return ProtoMapping.proto(try await payments.createFXQuote(try caller(request.context), from: pair.from, to: pair.to))
        }
    }
}
