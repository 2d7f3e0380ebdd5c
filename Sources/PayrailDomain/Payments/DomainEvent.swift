/// Something a merchant may want to hear about, written to the transactional outbox in the
/// same database transaction as the change it describes, and delivered later (webhooks).
public struct DomainEvent: Hashable, Sendable {
    /// Event types, in the `resource.what_happened` style merchants know from Stripe.
    public struct EventType: Hashable, Sendable, CustomStringConvertible {
        public let rawValue: String
        public init(_ rawValue: String) { self.rawValue = rawValue }
        public var description: String { rawValue }

        public static let paymentRequiresAction = EventType("payment.requires_action")
        public static let paymentRequiresCapture = EventType("payment.requires_capture")
        /// The fraud check held the payment for a person's review.
        public static let paymentRequiresReview = EventType("payment.requires_review")
        public static let paymentSucceeded = EventType("payment.succeeded")
        public static let paymentFailed = EventType("payment.failed")
        public static let paymentCanceled = EventType("payment.canceled")
        public static let refundSucceeded = EventType("refund.succeeded")
        public static let refundFailed = EventType("refund.failed")
        /// The network opened a chargeback; the funds and the fee were withdrawn.
        public static let disputeCreated = EventType("dispute.created")
        /// The merchant's evidence was submitted (or the dispute accepted).
        public static let disputeUpdated = EventType("dispute.updated")
        /// The network decided (won: funds reinstated; lost: final).
        public static let disputeClosed = EventType("dispute.closed")
        /// A payout was created (funds reserved), paid, or returned by the bank.
        public static let payoutCreated = EventType("payout.created")
        public static let payoutPaid = EventType("payout.paid")
        public static let payoutFailed = EventType("payout.failed")
        /// Subscriptions and their invoices.
        public static let subscriptionCreated = EventType("subscription.created")
        public static let subscriptionCanceled = EventType("subscription.canceled")
        public static let invoicePaid = EventType("invoice.paid")
        public static let invoicePaymentFailed = EventType("invoice.payment_failed")
        /// Payrail turned an endpoint off after it failed for the whole retry period.
        public static let webhookEndpointDisabled = EventType("webhook_endpoint.disabled")

        /// The event announcing that a payment entered `status`, if that status is announced.
        public static func payment(enteredStatus status: PaymentStatus) -> EventType? {
            switch status {
            case .requiresAction: .paymentRequiresAction
            case .requiresCapture: .paymentRequiresCapture
            case .requiresReview: .paymentRequiresReview
            case .succeeded: .paymentSucceeded
            case .failed: .paymentFailed
            case .canceled: .paymentCanceled
            case .processing: nil
            }
        }
    }

    public let id: String
    public let type: EventType
    public let merchantID: String
    public let livemode: Bool
    /// The payment, refund or dispute the event is about.
    public let resourceID: String
    /// The resource's state at the time of the event, serialized by the API layer.
    public let payload: [UInt8]
    public let createdAtMs: Int64

    public init(id: String, type: EventType, merchantID: String, livemode: Bool, resourceID: String, payload: [UInt8], createdAtMs: Int64) {
        self.id = id
        self.type = type
        self.merchantID = merchantID
        self.livemode = livemode
        self.resourceID = resourceID
        self.payload = payload
        self.createdAtMs = createdAtMs
    }
}
