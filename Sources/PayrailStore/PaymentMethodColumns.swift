import PayrailDomain

/// How a payment's method is kept: `method_kind` names it, the card columns hold the card or
/// network token (empty for methods without one), and `method_details` the rest (fields joined
/// by `|`, which no field can contain: they are digits, codes and hex).
enum PaymentMethodColumns {
    /// The card columns of a payment without a card.
    static let noCard = CardSummary(token: "", brand: .unknown, last4: "", expMonth: 0, expYear: 0, fingerprint: "", country: "")

    static func card(_ method: PaymentMethodDetails) -> CardSummary { method.card ?? noCard }

    static func details(_ method: PaymentMethodDetails) -> String? {
        switch method {
        case .card, .wallet: nil
        case .bankDebit(let account): [account.scheme.rawValue, account.last4, account.bankCode, account.fingerprint, account.country].joined(separator: "|")
        case .bnpl(let plan): "\(plan.provider)|\(plan.installments)"
        case .redirectWallet(let provider): provider
        }
    }

    static func decode(kind: String, details: String?, card: CardSummary) throws -> PaymentMethodDetails {
        switch kind {
        case "card": return .card(card)
        case "apple_pay", "google_pay": return .wallet(WalletType(rawValue: kind)!, card)
        case "paypal":
            guard let provider = details, !provider.isEmpty else { throw StoreError.corrupt("payment method details") }
            return .redirectWallet(provider: provider)
        case "bnpl":
            let parts = (details ?? "").split(separator: "|", omittingEmptySubsequences: false)
            guard parts.count == 2, let installments = Int(parts[1]) else { throw StoreError.corrupt("payment method details") }
            return .bnpl(BNPLPlan(provider: String(parts[0]), installments: installments))
        default:
            let parts = (details ?? "").split(separator: "|", omittingEmptySubsequences: false).map(String.init)
            guard let scheme = BankDebitScheme(rawValue: kind), parts.count == 5, parts[0] == kind else {
                throw StoreError.corrupt("payment method details")
            }
            return .bankDebit(BankAccountSummary(scheme: scheme, last4: parts[1], bankCode: parts[2], fingerprint: parts[3], country: parts[4]))
        }
    }
}
