import PayrailDomain
import PayrailProtos

/// Field validation of every public request, in one place: the edge runs it before
/// forwarding (so bad input never leaves the edge) and the core runs it again (defence in
/// depth), and both are guaranteed to apply the same rules (docs/errors.md).
public enum RequestValidation {
    public struct Capture: Sendable {
        public let idempotencyKey: String
        public let paymentID: String
        public let amountMinor: Int64?
    }

    public struct Cancel: Sendable {
        public let idempotencyKey: String
        public let paymentID: String
        public let reason: String
    }

    public struct Confirm: Sendable {
        public let idempotencyKey: String
        public let paymentID: String
        public let otp: String
    }

    public struct CreateRefund: Sendable {
        public let idempotencyKey: String
        public let paymentID: String
        public let amountMinor: Int64?
        public let reason: String
    }

    public struct List: Sendable {
        public let status: PaymentStatus?
        public let cursor: String
        public let limit: Int
    }

    public static func paymentID(_ id: String) throws(PayrailError) -> String {
        try FieldRules.identifier(id, prefix: "pay", field: "payment_id")
    }

    public static func refundID(_ id: String) throws(PayrailError) -> String {
        try FieldRules.identifier(id, prefix: "re", field: "refund_id")
    }

    public static func disputeID(_ id: String) throws(PayrailError) -> String {
        try FieldRules.identifier(id, prefix: "dp", field: "dispute_id")
    }

    /// Evidence for a dispute: 1 to 4,000 characters of text.
    public static func disputeEvidence(_ text: String) throws(PayrailError) -> String {
        guard !text.isEmpty else { throw PayrailError(.missingField, "evidence is required", field: "evidence") }
        return try FieldRules.text(text, maxLength: 4_000, field: "evidence")
    }

    /// The payment filter and page size of ListDisputes.
    public static func listDisputes(_ request: Payrail_V1_ListDisputesRequest) throws(PayrailError) -> (paymentID: String?, limit: Int) {
        let limit = request.limit == 0 ? RequestLimits.pageSizeDefault : Int(request.limit)
        guard (1...RequestLimits.pageSizeMax).contains(limit) else {
            throw PayrailError(.invalidRequest, "limit must be 1 to \(RequestLimits.pageSizeMax)", field: "limit")
        }
        return (request.paymentID.isEmpty ? nil : try paymentID(request.paymentID), limit)
    }

    public static func capture(_ request: Payrail_V1_CapturePaymentRequest) throws(PayrailError) -> Capture {
        Capture(idempotencyKey: try FieldRules.idempotencyKey(request.idempotencyKey), paymentID: try paymentID(request.paymentID),
                amountMinor: request.hasAmountMinor ? try FieldRules.positiveAmount(request.amountMinor, field: "amount_minor") : nil)
    }

    public static func cancel(_ request: Payrail_V1_CancelPaymentRequest) throws(PayrailError) -> Cancel {
        Cancel(idempotencyKey: try FieldRules.idempotencyKey(request.idempotencyKey), paymentID: try paymentID(request.paymentID),
               reason: try FieldRules.text(request.reason, maxLength: RequestLimits.reasonLengthMax, field: "reason"))
    }

    public static func confirm(_ request: Payrail_V1_ConfirmPaymentRequest) throws(PayrailError) -> Confirm {
        let key = try FieldRules.idempotencyKey(request.idempotencyKey)
        let id = try paymentID(request.paymentID)
        guard !request.threeDsOtp.isEmpty else { throw PayrailError(.missingField, "three_ds_otp is required", field: "three_ds_otp") }
        return Confirm(idempotencyKey: key, paymentID: id,
                       otp: try FieldRules.text(request.threeDsOtp, maxLength: RequestLimits.otpLengthMax, field: "three_ds_otp"))
    }

    public static func createRefund(_ request: Payrail_V1_CreateRefundRequest) throws(PayrailError) -> CreateRefund {
        CreateRefund(idempotencyKey: try FieldRules.idempotencyKey(request.idempotencyKey), paymentID: try paymentID(request.paymentID),
                     amountMinor: request.hasAmountMinor ? try FieldRules.positiveAmount(request.amountMinor, field: "amount_minor") : nil,
                     reason: try FieldRules.text(request.reason, maxLength: RequestLimits.reasonLengthMax, field: "reason"))
    }

    public static func list(_ request: Payrail_V1_ListPaymentsRequest) throws(PayrailError) -> List {
        let limit = request.limit == 0 ? RequestLimits.pageSizeDefault : Int(request.limit)
        guard (1...RequestLimits.pageSizeMax).contains(limit) else {
            throw PayrailError(.invalidRequest, "limit must be 1 to \(RequestLimits.pageSizeMax)", field: "limit")
        }
        return List(status: try ProtoMapping.domain(request.status),
                    cursor: try FieldRules.text(request.cursor, maxLength: 2 * RequestLimits.identifierLengthMax, field: "cursor"),
                    limit: limit)
    }

    public static func fxQuote(_ request: Payrail_V1_CreateFXQuoteRequest) throws(PayrailError) -> (from: Currency, to: Currency) {
        let from = try FieldRules.currency(request.fromCurrency, field: "from_currency")
        let to = try FieldRules.currency(request.toCurrency, field: "to_currency")
        guard from != to else { throw PayrailError(.invalidCurrency, "an FX quote needs two different currencies", field: "to_currency") }
        return (from, to)
    }

    public static func createCardToken(_ request: Payrail_V1_CreateCardTokenRequest, today: CalendarMonth) throws(PayrailError) -> CardInput {
        guard request.hasCard else { throw PayrailError(.missingField, "card is required", field: "card") }
        return try ProtoMapping.cardInput(request.card, today: today)
    }

    /// Size limits of the webhook endpoint fields, checked at the edge before anything is
    /// forwarded (the core checks the content: URL scheme and host, known event types).
    public static func webhookEndpoint(url: String?, eventTypes: [String], description: String?) throws(PayrailError) {
        if let url {
            guard !url.isEmpty else { throw PayrailError(.missingField, "url is required", field: "url") }
            guard url.utf8.count <= 2_048 else { throw PayrailError(.invalidRequest, "url is longer than 2048 bytes", field: "url") }
        }
        guard eventTypes.count <= 32 else { throw PayrailError(.invalidRequest, "at most 32 event types", field: "event_types") }
        for type in eventTypes where type.isEmpty || type.utf8.count > 64 {
            throw PayrailError(.invalidRequest, "event types are 1 to 64 bytes", field: "event_types")
        }
        if let description, description.utf8.count > 500 {
            throw PayrailError(.invalidRequest, "description is longer than 500 bytes", field: "description")
        }
    }
}
