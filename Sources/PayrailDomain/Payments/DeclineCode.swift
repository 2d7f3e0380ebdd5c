/// Why an issuer or the network refused a card, in Stripe's vocabulary. Returned to the
/// merchant on a failed payment; extensible because networks add codes.
public struct DeclineCode: Hashable, Sendable, CustomStringConvertible {
    public let rawValue: String
    public init(_ rawValue: String) { self.rawValue = rawValue }
    public var description: String { rawValue }

    public static let genericDecline = DeclineCode("generic_decline")
    public static let insufficientFunds = DeclineCode("insufficient_funds")
    public static let expiredCard = DeclineCode("expired_card")
    public static let incorrectCVC = DeclineCode("incorrect_cvc")
    public static let processingError = DeclineCode("processing_error")
    public static let lostCard = DeclineCode("lost_card")
    public static let stolenCard = DeclineCode("stolen_card")
    public static let authenticationFailed = DeclineCode("authentication_failed")
    /// The cardholder never completed the 3-D Secure challenge.
    public static let challengeExpired = DeclineCode("challenge_expired")
}

/// The outcome recorded on a payment or refund that did not succeed.
public struct Failure: Hashable, Sendable {
    /// `card_declined`, `processing_error`, `authentication_failed`.
    public var reason: String
    public var declineCode: DeclineCode?
    public var message: String

    public init(reason: String, declineCode: DeclineCode?, message: String) {
        self.reason = reason
        self.declineCode = declineCode
        self.message = message
    }

    public static func declined(_ code: DeclineCode, _ message: String) -> Failure {
        Failure(reason: code == .processingError ? "processing_error" : "card_declined", declineCode: code, message: message)
    }
}
