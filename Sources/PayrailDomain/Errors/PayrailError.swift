/// A refused request: a stable machine-readable reason, the class of failure it belongs to
/// (which the gRPC adapter maps to a status code), a human message, and where relevant the
/// offending field or a decline code.
///
/// Messages never contain card numbers, CVCs or secrets: callers build them from field names
/// and limits only.
public struct PayrailError: Error, Hashable, Sendable, CustomStringConvertible {
    /// How a failure should be treated by a client; mirrors the gRPC status codes we use.
    public enum Category: String, Hashable, Sendable {
        case invalidArgument, unauthenticated, permissionDenied, notFound, alreadyExists
        case failedPrecondition, aborted, resourceExhausted, unavailable, deadlineExceeded, `internal`
    }

    /// A documented reason (see docs/errors.md). A struct rather than a closed enum so new
    /// reasons can be added without breaking clients that switch over the known ones.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        public let reason: String
        public let category: Category
        public init(_ reason: String, _ category: Category) {
            self.reason = reason
            self.category = category
        }
        public var description: String { reason }

        public static let invalidRequest = Code("invalid_request", .invalidArgument)
        public static let missingField = Code("missing_field", .invalidArgument)
        public static let invalidAmount = Code("invalid_amount", .invalidArgument)
        public static let invalidCurrency = Code("invalid_currency", .invalidArgument)
        public static let invalidCardNumber = Code("invalid_card_number", .invalidArgument)
        public static let invalidExpiry = Code("invalid_expiry", .invalidArgument)
        public static let invalidCVC = Code("invalid_cvc", .invalidArgument)
        public static let invalidCursor = Code("invalid_cursor", .invalidArgument)
        public static let messageTooLarge = Code("message_too_large", .resourceExhausted)
        public static let authenticationFailed = Code("invalid_api_key", .unauthenticated)
        public static let resourceMissing = Code("resource_missing", .notFound)
        public static let idempotencyKeyReused = Code("idempotency_key_reused", .failedPrecondition)
        public static let idempotencyKeyInUse = Code("idempotency_key_in_use", .aborted)
        public static let operationInProgress = Code("payment_operation_in_progress", .aborted)
        public static let unexpectedState = Code("payment_unexpected_state", .failedPrecondition)
        public static let amountExceedsCapturable = Code("amount_exceeds_capturable", .failedPrecondition)
        public static let amountExceedsRefundable = Code("amount_exceeds_refundable", .failedPrecondition)
        public static let currencyMismatch = Code("currency_mismatch", .invalidArgument)
        public static let processorUnavailable = Code("processor_unavailable", .unavailable)
        /// No processor in the routing configuration takes this method, currency, region and brand.
        public static let paymentMethodUnsupported = Code("payment_method_unsupported", .failedPrecondition)
        /// The dispute's lifecycle does not allow the call now (already answered, closed, past due).
        public static let disputeUnexpectedState = Code("dispute_unexpected_state", .failedPrecondition)
        /// The payment is disputed: refunds are refused (the network already took the funds).
        public static let paymentDisputed = Code("payment_disputed", .failedPrecondition)
        /// A payout larger than the merchant's available balance in that currency.
        public static let balanceInsufficient = Code("balance_insufficient", .failedPrecondition)
        /// The card cannot receive instant payouts (credit card, or a range without push-to-card).
        public static let payoutDestinationIneligible = Code("payout_destination_ineligible", .failedPrecondition)
        /// The subscription ended; it cannot be changed or canceled again.
        public static let subscriptionCanceled = Code("subscription_canceled", .failedPrecondition)
        public static let fxRateUnavailable = Code("fx_rate_unavailable", .failedPrecondition)
        public static let fxQuoteExpired = Code("fx_quote_expired", .failedPrecondition)
        public static let rateLimited = Code("rate_limited", .resourceExhausted)
        public static let trafficRegionUnknown = Code("traffic_region_unknown", .notFound)
        public static let trafficRegionDrained = Code("traffic_region_drained", .failedPrecondition)
        public static let trafficNoServingRegion = Code("traffic_no_serving_region", .failedPrecondition)
        public static let trafficChangeInvalid = Code("traffic_change_invalid", .invalidArgument)
        public static let trafficVersionConflict = Code("traffic_version_conflict", .aborted)
        public static let edgeDraining = Code("edge_draining", .unavailable)
        public static let internalError = Code("internal_error", .internal)
    }

    public var code: Code
    public var message: String
    /// The request field at fault, as a proto path ("amount.currency", "card.number").
    public var field: String?
    public var declineCode: DeclineCode?
    /// When a retry may succeed (rate limits), in milliseconds.
    public var retryAfterMs: Int64?

    public init(_ code: Code, _ message: String, field: String? = nil, declineCode: DeclineCode? = nil, retryAfterMs: Int64? = nil) {
        self.code = code
        self.message = message
        self.field = field
        self.declineCode = declineCode
        self.retryAfterMs = retryAfterMs
    }

    public var description: String {
        var text = "\(code.reason): \(message)"
        if let field { text += " (field \(field))" }
        return text
    }
}
