/// Where a payment is in its lifecycle, in the style of Stripe's PaymentIntents.
public enum PaymentStatus: String, Hashable, Sendable, CaseIterable {
    /// The cardholder must complete a 3-D Secure challenge.
    case requiresAction = "requires_action"
    /// Authorized; funds are held until captured or canceled.
    case requiresCapture = "requires_capture"
    /// Authorized, and held by the fraud check until a person approves or rejects it.
    case requiresReview = "requires_review"
    /// Sent to the processor; the outcome is not known yet.
    case processing
    /// Captured (fully or partially). Refunds do not change this status.
    case succeeded
    /// Voided before capture; any hold was released.
    case canceled
    /// Declined, or failed authentication. Terminal.
    case failed

    public var isTerminal: Bool { self == .canceled || self == .failed }

    /// Waiting on someone else (the processor, the cardholder's challenge): the statuses the
    /// reconciliation job sweeps once they have waited too long, and the stores index for it.
    public static let inFlight: Set<PaymentStatus> = [.processing, .requiresAction]
}

/// When the funds of an authorized payment are captured.
public enum CaptureMethod: String, Hashable, Sendable, CaseIterable {
    case automatic
    case manual
}
