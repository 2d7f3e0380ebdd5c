import PayrailDomain

/// The documented test cards of the simulated card network (see docs/test-cards.md). Any
/// other Luhn-valid number is approved, as on real test networks.
public enum TestCards {
    public enum Behaviour: Hashable, Sendable {
        case approve
        case decline(DeclineCode)
        /// The issuer asks for 3-D Secure; the one-time code ``TestCards/validOTP`` passes.
        case requireThreeDS
        /// The network accepts the authorization but the answer is lost: the first call
        /// times out; the status query (or a repeat with the same idempotency key) returns the approval.
        case timeoutThenApprove
        /// As ``timeoutThenApprove``, and the processor's status API does not know the
        /// authorization for a while (`statusLagMs`): the outcome stays unknown until the
        /// reconciliation job (or the merchant's retry) asks again.
        case unknownOutcome
    }

    public static let visaSuccess = "4242424242424242"
    public static let mastercardSuccess = "5555555555554444"
    public static let amexSuccess = "378282246310005"
    public static let genericDecline = "4000000000000002"
    public static let insufficientFunds = "4000000000009995"
    public static let expiredCard = "4000000000000069"
    public static let incorrectCVC = "4000000000000127"
    public static let processingError = "4000000000000119"
    public static let threeDSRequired = "4000002500003155"
    public static let timeout = "4000000000006975"
    public static let unknownOutcome = "4000000000000416"
    /// A wallet cryptogram the network refuses (`authentication_failed`); any other passes.
    public static let declinedCryptogram = "ZGVjbGluZWRjcnlwdG9ncmFtAA=="
    /// Debit cards that can receive instant payouts (push-to-card ranges); other cards cannot.
    public static let visaDebit = "4000056655665556"
    public static let mastercardDebit = "5200828282828210"
    /// Approved, and disputed by the cardholder (`fraudulent`) shortly after the capture.
    public static let disputed = "4000000000000259"
    /// Dispute evidence containing this text wins; any other evidence loses.
    public static let winningEvidence = "winning_evidence"

    /// The one-time code that passes a simulated 3-D Secure challenge.
    public static let validOTP = "123456"

    /// A different Luhn-valid Visa number for each index (BIN 400010, US, approved by the
    /// simulator): many distinct cards, as a card tester would try them.
    public static func generated(_ index: Int) -> String {
        precondition(index >= 0 && index < 1_000_000_000, "nine digits of index")
        let digits = String(index)
        let body = "400010" + String(repeating: "0", count: 9 - digits.count) + digits
        var sum = 0
        for (position, character) in body.reversed().enumerated() {
            var value = character.wholeNumberValue ?? 0
            if position % 2 == 0 { value *= 2; if value > 9 { value -= 9 } }
            sum += value
        }
        return body + String((10 - sum % 10) % 10)
    }
    /// Wrong codes allowed before the payment fails.
    public static let challengeAttempts = 3

    public static func behaviour(of number: CardNumber) -> Behaviour {
        switch number.revealDigits() {
        case genericDecline: .decline(.genericDecline)
        case insufficientFunds: .decline(.insufficientFunds)
        case expiredCard: .decline(.expiredCard)
        case incorrectCVC: .decline(.incorrectCVC)
        case processingError: .decline(.processingError)
        case threeDSRequired: .requireThreeDS
        case timeout: .timeoutThenApprove
        case unknownOutcome: .unknownOutcome
        default: .approve
        }
    }

    public static func message(for code: DeclineCode) -> String {
        switch code {
        case .insufficientFunds: "The card has insufficient funds to complete the purchase."
        case .expiredCard: "The card has expired."
        case .incorrectCVC: "The card's security code is incorrect."
        case .processingError: "An error occurred while processing the card. Try again later."
        default: "The card was declined."
        }
    }
}
