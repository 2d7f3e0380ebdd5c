/// Wallets whose payments carry a network token (a card number the network issued for the
/// device) and a one-time cryptogram instead of the card and its CVC.
public enum WalletType: String, Hashable, Sendable, CaseIterable {
    case applePay = "apple_pay"
    case googlePay = "google_pay"
}

/// Bank rails that debit the buyer's account: accepted at once, settled or returned later.
public enum BankDebitScheme: String, Hashable, Sendable, CaseIterable {
    /// US ACH debit (routing + account number), in USD; settles in about two banking days.
    case ach = "ach_debit"
    /// SEPA Direct Debit (IBAN), in EUR.
    case sepa = "sepa_debit"
    /// India's UPI collect request (a virtual payment address, `name@bank`), in INR.
    case upi

    /// The one currency each scheme moves.
    public var currency: Currency {
        switch self {
        case .ach: .usd
        case .sepa: .eur
        case .upi: Currency(code: "INR")!
        }
    }
}

/// What the rest of the system may know about a debited bank account: never the full number.
public struct BankAccountSummary: Hashable, Sendable {
    public var scheme: BankDebitScheme
    /// The account number's, IBAN's or VPA handle's last four characters.
    public var last4: String
    /// Routing number (ACH), the IBAN's country and bank code (SEPA) or the VPA's bank (UPI).
    public var bankCode: String
    /// Keyed HMAC of the full account identifier, hex: stable per account.
    public var fingerprint: String
    public var country: String

    public init(scheme: BankDebitScheme, last4: String, bankCode: String, fingerprint: String, country: String) {
        self.scheme = scheme
        self.last4 = last4
        self.bankCode = bankCode
        self.fingerprint = fingerprint
        self.country = country
    }
}

/// A buy-now-pay-later plan: the provider pays the merchant in full and collects the
/// installments from the buyer.
public struct BNPLPlan: Hashable, Sendable {
    public var provider: String
    public var installments: Int
    public init(provider: String, installments: Int) {
        self.provider = provider
        self.installments = installments
    }
    public static let allowedInstallments: Set<Int> = [3, 4, 6, 12]
}

/// What a payment was paid with, as stored and shown.
public enum PaymentMethodDetails: Hashable, Sendable {
    case card(CardSummary)
    /// A wallet payment: the summary is of the network token (its last four, brand, expiry).
    case wallet(WalletType, CardSummary)
    case bankDebit(BankAccountSummary)
    case bnpl(BNPLPlan)
    /// A redirect-and-approve wallet (PayPal style), by provider.
    case redirectWallet(provider: String)

    /// `card`, `apple_pay`, `google_pay`, `ach_debit`, `sepa_debit`, `upi`, `bnpl`: what routing
    /// and the API call the method.
    public var kind: String {
        switch self {
        case .card: "card"
        case .wallet(let wallet, _): wallet.rawValue
        case .bankDebit(let account): account.scheme.rawValue
        case .bnpl: "bnpl"
        case .redirectWallet: "paypal"
        }
    }

    /// The card (or network token) for card-based methods.
    public var card: CardSummary? {
        switch self {
        case .card(let card), .wallet(_, let card): card
        case .bankDebit, .bnpl, .redirectWallet: nil
        }
    }

    /// Debits settle (or are returned) after the payment was accepted.
    public var settlesLater: Bool {
        if case .bankDebit = self { return true }
        return false
    }

    /// Every method kind the API knows.
    public static let kinds = ["card", "apple_pay", "google_pay", "paypal", "ach_debit", "sepa_debit", "upi", "bnpl"]
}

extension CardSummary {
    /// Stands in for the card of a method without one, in the initializers that take a card.
    static let none = CardSummary(token: "", brand: .unknown, last4: "", expMonth: 0, expYear: 0, fingerprint: "", country: "")
}

extension Payment {
    /// What identifies the paying instrument for the fraud check's velocity counters: the card's
    /// (or network token's) fingerprint, the bank account's, or for BNPL the buyer's email hash.
    public var instrumentFingerprint: String {
        switch method {
        case .card(let card), .wallet(_, let card): card.fingerprint
        case .bankDebit(let account): account.fingerprint
        case .bnpl, .redirectWallet: method.kind + ":" + (riskContext?.emailHash ?? "anonymous")
        }
    }
}
