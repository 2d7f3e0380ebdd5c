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

    public static func subscriptionID(_ id: String) throws(PayrailError) -> String {
        try FieldRules.identifier(id, prefix: "sub", field: "subscription_id")
    }

    public struct CreatePlan: Sendable {
        public let name: String
        public let amount: Money
        public let interval: BillingInterval
        public let trialDays: Int
    }

    public static func createPlan(_ request: Payrail_V1_CreatePlanRequest) throws(PayrailError) -> CreatePlan {
        let name = try FieldRules.text(request.name, maxLength: 200, field: "name")
        guard !name.isEmpty else { throw PayrailError(.missingField, "name is required", field: "name") }
        guard request.hasAmount else { throw PayrailError(.missingField, "amount is required", field: "amount") }
        let amount = Money(amountMinor: try FieldRules.positiveAmount(request.amount.amountMinor), currency: try FieldRules.currency(request.amount.currency))
        let unit: BillingInterval.Unit
        switch request.intervalUnit {
        case .day: unit = .day
        case .week: unit = .week
        case .month: unit = .month
        case .year: unit = .year
        case .UNRECOGNIZED: throw PayrailError(.invalidRequest, "unknown interval_unit", field: "interval_unit")
        }
        let count = request.intervalCount == 0 ? 1 : Int(request.intervalCount)
        guard count <= 365 else { throw PayrailError(.invalidRequest, "interval_count must be 1 to 365", field: "interval_count") }
        guard request.trialDays <= 730 else { throw PayrailError(.invalidRequest, "trial_days must be 0 to 730", field: "trial_days") }
        return CreatePlan(name: name, amount: amount, interval: BillingInterval(unit: unit, count: count), trialDays: Int(request.trialDays))
    }

    public static func createSubscription(_ request: Payrail_V1_CreateSubscriptionRequest) throws(PayrailError) -> (idempotencyKey: String, planID: String, cardToken: String) {
        (try FieldRules.idempotencyKey(request.idempotencyKey), try FieldRules.identifier(request.planID, prefix: "plan", field: "plan_id"),
         try FieldRules.identifier(request.cardToken, prefix: "tok", field: "card_token"))
    }

    public static func payoutID(_ id: String) throws(PayrailError) -> String {
        try FieldRules.identifier(id, prefix: "po", field: "payout_id")
    }

    /// A payout request: amount, method and a destination that fits the method (standard to a
    /// bank account, instant to a card token).
    public static func createPayout(_ request: Payrail_V1_CreatePayoutRequest) throws(PayrailError) -> CreatePayoutCommand {
        let key = try FieldRules.idempotencyKey(request.idempotencyKey)
        guard request.hasAmount else { throw PayrailError(.missingField, "amount is required", field: "amount") }
        let currency = try FieldRules.currency(request.amount.currency)
        let amount = Money(amountMinor: try FieldRules.positiveAmount(request.amount.amountMinor), currency: currency)
        switch (request.method, request.destination) {
        case (.standard, .bankAccount(let account)?):
            let routing = account.routingNumber
            guard (4...11).contains(routing.utf8.count),
                  routing.utf8.allSatisfy({ ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x41 && $0 <= 0x5A) }) else {
                throw PayrailError(.invalidRequest, "routing_number must be 4 to 11 digits or capital letters", field: "bank_account.routing_number")
            }
            let number = account.accountNumber
            guard (4...17).contains(number.utf8.count), number.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else {
                throw PayrailError(.invalidRequest, "account_number must be 4 to 17 digits", field: "bank_account.account_number")
            }
            return CreatePayoutCommand(idempotencyKey: key, amount: amount, method: .standard,
                                       destination: .bankAccount(routingNumber: routing, accountNumber: number))
        case (.instant, .cardToken(let token)?):
            return CreatePayoutCommand(idempotencyKey: key, amount: amount, method: .instant,
                                       destination: .card(token: try FieldRules.identifier(token, prefix: "tok", field: "card_token")))
        case (.standard, _):
            throw PayrailError(.invalidRequest, "standard payouts go to a bank_account", field: "bank_account")
        case (.instant, _):
            throw PayrailError(.invalidRequest, "instant payouts go to a card_token of a debit card", field: "card_token")
        case (.UNRECOGNIZED, _):
            throw PayrailError(.invalidRequest, "unknown payout method", field: "method")
        }
    }

    public static func listPayoutsLimit(_ limit: UInt32) throws(PayrailError) -> Int {
        let pageSize = limit == 0 ? RequestLimits.pageSizeDefault : Int(limit)
        guard (1...RequestLimits.pageSizeMax).contains(pageSize) else {
            throw PayrailError(.invalidRequest, "limit must be 1 to \(RequestLimits.pageSizeMax)", field: "limit")
        }
        return pageSize
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
        // Required for a 3-D Secure challenge, empty for a redirect method: the core knows which.
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
