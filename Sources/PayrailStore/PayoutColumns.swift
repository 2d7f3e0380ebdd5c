import PayrailDomain

/// How a payout's destination is kept: a kind and the columns of that kind.
enum PayoutColumns {
    struct Destination {
        var kind: String
        var routingNumber: String?
        var last4: String
        var cardToken: String?
        var cardBrand: String?
    }

    static func destination(_ destination: PayoutDestination) -> Destination {
        switch destination {
        case .bankAccount(let routingNumber, let last4):
            Destination(kind: "bank_account", routingNumber: routingNumber, last4: last4)
        case .card(let token, let brand, let last4):
            Destination(kind: "card", last4: last4, cardToken: token, cardBrand: brand.rawValue)
        }
    }

    static func destination(kind: String, routingNumber: String?, last4: String, cardToken: String?, cardBrand: String?) -> PayoutDestination? {
        switch kind {
        case "bank_account": routingNumber.map { .bankAccount(routingNumber: $0, last4: last4) }
        case "card":
            if let cardToken, let brand = cardBrand.flatMap(CardBrand.init(rawValue:)) { .card(token: cardToken, brand: brand, last4: last4) } else { nil }
        default: nil
        }
    }
}
