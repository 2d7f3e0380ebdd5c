/// Limits on everything a merchant sends, in one place so the edge (before forwarding) and
/// the core (defence in depth) enforce the same rules. Documented in docs/errors.md.
public enum RequestLimits {
    /// Largest amount of one payment, in minor units (one trillion: far above any card
    /// payment, far below Int64 overflow even after summing many of them).
    public static let amountMinorMax: Int64 = 1_000_000_000_000
    public static let idempotencyKeyLengthMax = 255
    public static let descriptionLengthMax = 1000
    public static let metadataCountMax = 50
    public static let metadataKeyLengthMax = 40
    public static let metadataValueLengthMax = 500
    public static let cardholderNameLengthMax = 200
    public static let reasonLengthMax = 500
    public static let identifierLengthMax = 64
    public static let otpLengthMax = 16
    public static let pageSizeMax = 100
    public static let pageSizeDefault = 20
    /// Largest request message the edge accepts, in bytes.
    public static let messageBytesMax = 64 * 1024
}

/// Checks shared by every request type. Each returns the validated value or throws a typed
/// error naming the field; none echoes a card number or secret back.
public enum FieldRules {
    /// Checks the buyer signals; returns nil when all are empty.
    public static func riskContext(_ context: RiskContext) throws(PayrailError) -> RiskContext? {
        func empty(_ value: String?) -> String? { value.flatMap { $0.isEmpty ? nil : $0 } }
        let checked = RiskContext(clientIP: empty(context.clientIP), deviceID: empty(context.deviceID),
                                  emailHash: empty(context.emailHash), billingCountry: empty(context.billingCountry))
        if let ip = checked.clientIP {
            let isIPv4 = IPCountryTable.parse(ip) != nil
            let isIPv6 = ip.utf8.count <= 45 && ip.contains(":")
                && ip.utf8.allSatisfy { ($0 >= 48 && $0 <= 58) || ($0 >= 97 && $0 <= 102) || ($0 >= 65 && $0 <= 70) || $0 == 46 }
            guard isIPv4 || isIPv6 else {
                throw PayrailError(.invalidRequest, "client_ip must be an IPv4 or IPv6 address", field: "risk_context.client_ip")
            }
        }
        if let device = checked.deviceID {
            guard device.utf8.count <= 128, device.utf8.allSatisfy({ $0 >= 0x21 && $0 <= 0x7E && $0 != 0x7C }) else {
                throw PayrailError(.invalidRequest, "device_id must be 1-128 printable ASCII characters without '|'",
                                   field: "risk_context.device_id")
            }
        }
        if let email = checked.emailHash {
            guard email.utf8.count == 64, email.utf8.allSatisfy({ ($0 >= 48 && $0 <= 57) || ($0 >= 97 && $0 <= 102) }) else {
                throw PayrailError(.invalidRequest, "email_sha256 must be 64 lowercase hex digits (never the address)",
                                   field: "risk_context.email_sha256")
            }
        }
        if let country = checked.billingCountry {
            guard country.utf8.count == 2, country.utf8.allSatisfy({ $0 >= 65 && $0 <= 90 }) else {
                throw PayrailError(.invalidRequest, "billing_country must be an ISO 3166-1 alpha-2 code", field: "risk_context.billing_country")
            }
        }
        return checked.clientIP == nil && checked.deviceID == nil && checked.emailHash == nil && checked.billingCountry == nil ? nil : checked
    }

    public static func idempotencyKey(_ key: String, field: String = "idempotency_key") throws(PayrailError) -> String {
        guard !key.isEmpty else { throw PayrailError(.missingField, "idempotency_key is required", field: field) }
        guard key.utf8.count <= RequestLimits.idempotencyKeyLengthMax,
              key.utf8.allSatisfy({ $0 >= 0x21 && $0 <= 0x7E }) else {
            throw PayrailError(.invalidRequest,
                "idempotency_key must be 1 to \(RequestLimits.idempotencyKeyLengthMax) printable ASCII characters", field: field)
        }
        return key
    }

    public static func currency(_ code: String, field: String = "amount.currency") throws(PayrailError) -> Currency {
        guard !code.isEmpty else { throw PayrailError(.missingField, "currency is required", field: field) }
        guard let currency = Currency(code: code) else {
            throw PayrailError(.invalidCurrency, "currency must be an ISO 4217 code such as USD", field: field)
        }
        return currency
    }

    public static func positiveAmount(_ amountMinor: Int64, field: String = "amount.amount_minor") throws(PayrailError) -> Int64 {
        guard amountMinor > 0 else { throw PayrailError(.invalidAmount, "amount must be greater than zero", field: field) }
        guard amountMinor <= RequestLimits.amountMinorMax else {
            throw PayrailError(.invalidAmount, "amount must be at most \(RequestLimits.amountMinorMax) minor units", field: field)
        }
        return amountMinor
    }

    public static func text(_ value: String, maxLength: Int, field: String) throws(PayrailError) -> String {
        guard value.count <= maxLength else {
            throw PayrailError(.invalidRequest, "\(field) must be at most \(maxLength) characters", field: field)
        }
        guard !value.unicodeScalars.contains(where: { $0.value < 0x20 && $0 != "\n" && $0 != "\t" }) else {
            throw PayrailError(.invalidRequest, "\(field) must not contain control characters", field: field)
        }
        return value
    }

    public static func identifier(_ value: String, prefix: String, field: String) throws(PayrailError) -> String {
        guard !value.isEmpty else { throw PayrailError(.missingField, "\(field) is required", field: field) }
        guard value.utf8.count <= RequestLimits.identifierLengthMax, value.hasPrefix(prefix + "_"),
              value.utf8.allSatisfy({ ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x61 && $0 <= 0x7A) || $0 == 0x5F }) else {
            throw PayrailError(.invalidRequest, "\(field) must be an id starting with \(prefix)_", field: field)
        }
        return value
    }

    public static func metadata(_ metadata: [String: String]) throws(PayrailError) -> [String: String] {
        guard metadata.count <= RequestLimits.metadataCountMax else {
            throw PayrailError(.invalidRequest, "metadata may have at most \(RequestLimits.metadataCountMax) keys", field: "metadata")
        }
        for (key, value) in metadata {
            guard !key.isEmpty, key.count <= RequestLimits.metadataKeyLengthMax else {
                throw PayrailError(.invalidRequest,
                    "metadata keys must be 1 to \(RequestLimits.metadataKeyLengthMax) characters", field: "metadata")
            }
            _ = try text(value, maxLength: RequestLimits.metadataValueLengthMax, field: "metadata")
        }
        return metadata
    }
}

/// Raw card fields as they arrive, validated into the types the rest of the system uses.
public struct CardInput: Sendable {
    public let number: CardNumber
    public let expiry: CardExpiry
    public let securityCode: CardSecurityCode?
    public let holderName: String

    public init(number: String, expMonth: Int, expYear: Int, cvc: String, holderName: String, today: CalendarMonth) throws(PayrailError) {
        guard !number.isEmpty else { throw PayrailError(.missingField, "card.number is required", field: "card.number") }
        self.number = try CardNumber(number)
        self.expiry = try CardExpiry(month: expMonth, year: expYear, today: today)
        self.securityCode = cvc.isEmpty ? nil : try CardSecurityCode(cvc, brand: self.number.brand)
        self.holderName = try FieldRules.text(holderName, maxLength: RequestLimits.cardholderNameLengthMax, field: "card.cardholder_name")
    }
}

/// How a payment is paid: raw card details (tokenized on the way in), an existing token, a
/// wallet's network token, a bank account to debit, or a BNPL plan.
public enum PaymentMethodInput: Sendable {
    case card(CardInput)
    case token(String)
    case wallet(WalletInput)
    case bankDebit(BankDebitInput)
    case bnpl(installments: Int)
    /// A PayPal-style redirect: the buyer approves on the provider's page, then returns here.
    case paypal(returnURL: String)

    /// The method kind routing looks at (`card` for tokens too).
    public var kind: String {
        switch self {
        case .card, .token: "card"
        case .wallet(let wallet): wallet.type.rawValue
        case .bankDebit(let debit): debit.scheme.rawValue
        case .bnpl: "bnpl"
        case .paypal: "paypal"
        }
    }
}

/// A wallet payment as it arrives: the network token (a card number, validated like one) with
/// its expiry, and the one-time cryptogram that stands in for the CVC and 3-D Secure.
public struct WalletInput: Sendable {
    public let type: WalletType
    public let token: CardInput
    public let cryptogram: String

    public init(type: WalletType, networkToken: String, expMonth: Int, expYear: Int, cryptogram: String, today: CalendarMonth) throws(PayrailError) {
        guard !networkToken.isEmpty else { throw PayrailError(.missingField, "wallet.network_token is required", field: "wallet.network_token") }
        self.type = type
        do {
            self.token = try CardInput(number: networkToken, expMonth: expMonth, expYear: expYear, cvc: "", holderName: "", today: today)
        } catch {
            var renamed = error
            renamed.field = "wallet.network_token"
            throw renamed
        }
        let base64 = cryptogram.utf8.allSatisfy { ($0 >= 0x41 && $0 <= 0x5A) || ($0 >= 0x61 && $0 <= 0x7A) || ($0 >= 0x30 && $0 <= 0x39)
                                                  || $0 == 0x2B || $0 == 0x2F || $0 == 0x3D }
        guard (20...128).contains(cryptogram.utf8.count), base64 else {
            throw PayrailError(.invalidRequest, "wallet.cryptogram must be the wallet's base64 cryptogram (20 to 128 characters)",
                               field: "wallet.cryptogram")
        }
        self.cryptogram = cryptogram
    }
}

/// A bank account to debit, checked as its scheme defines it. The full identifier stays in
/// memory for the bank call; only its last four characters and a fingerprint are stored.
public struct BankDebitInput: Sendable {
    public let scheme: BankDebitScheme
    /// Account number (ACH), IBAN (SEPA) or VPA (UPI), normalized.
    public let accountIdentifier: String
    /// Routing number (ACH), IBAN country + bank code (SEPA), VPA handle (UPI).
    public let bankCode: String
    public let country: String
    public let holderName: String

    public init(scheme: BankDebitScheme, routingNumber: String, accountNumber: String, iban: String, vpa: String, holderName: String) throws(PayrailError) {
        self.scheme = scheme
        self.holderName = try FieldRules.text(holderName, maxLength: RequestLimits.cardholderNameLengthMax, field: "bank_debit.account_holder_name")
        switch scheme {
        case .ach:
            guard routingNumber.utf8.count == 9, routingNumber.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }),
                  Self.abaChecksumValid(routingNumber) else {
                throw PayrailError(.invalidRequest, "bank_debit.routing_number must be a 9-digit ABA routing number", field: "bank_debit.routing_number")
            }
            guard (4...17).contains(accountNumber.utf8.count), accountNumber.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else {
                throw PayrailError(.invalidRequest, "bank_debit.account_number must be 4 to 17 digits", field: "bank_debit.account_number")
            }
            accountIdentifier = accountNumber
            bankCode = routingNumber
            country = "US"
        case .sepa:
            let normalized = String(iban.filter { $0 != " " }).uppercased()
            guard (15...34).contains(normalized.utf8.count), Self.ibanValid(normalized) else {
                throw PayrailError(.invalidRequest, "bank_debit.iban is not a valid IBAN", field: "bank_debit.iban")
            }
            accountIdentifier = normalized
            country = String(normalized.prefix(2))
            bankCode = String(normalized.prefix(2)) + String(normalized.dropFirst(4).prefix(4))
        case .upi:
            let parts = vpa.lowercased().split(separator: "@", omittingEmptySubsequences: false)
            let allowed: (UInt8) -> Bool = { ($0 >= 0x61 && $0 <= 0x7A) || ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x2E || $0 == 0x2D || $0 == 0x5F }
            guard parts.count == 2, (2...256).contains(parts[0].utf8.count), (2...64).contains(parts[1].utf8.count),
                  parts[0].utf8.allSatisfy(allowed), parts[1].utf8.allSatisfy({ $0 >= 0x61 && $0 <= 0x7A }) else {
                throw PayrailError(.invalidRequest, "bank_debit.vpa must be a UPI address such as name@bank", field: "bank_debit.vpa")
            }
            accountIdentifier = vpa.lowercased()
            bankCode = String(parts[1])
            country = "IN"
        }
    }

    /// The last four characters of the identifier, for display.
    public var last4: String { String(accountIdentifier.split(separator: "@").first.map { $0.suffix(4) } ?? "") }

    /// ABA routing numbers: 3·(d1+d4+d7) + 7·(d2+d5+d8) + (d3+d6+d9) is a multiple of 10.
    static func abaChecksumValid(_ digits: String) -> Bool {
        let d = digits.utf8.map { Int($0) - 48 }
        return (3 * (d[0] + d[3] + d[6]) + 7 * (d[1] + d[4] + d[7]) + (d[2] + d[5] + d[8])) % 10 == 0
    }

    /// ISO 13616: move the first four characters to the end, letters to 10...35, mod 97 == 1.
    static func ibanValid(_ iban: String) -> Bool {
        let bytes = Array(iban.utf8)
        guard bytes.allSatisfy({ ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x41 && $0 <= 0x5A) }),
              bytes[0] >= 0x41, bytes[1] >= 0x41, bytes[2] <= 0x39, bytes[3] <= 0x39 else { return false }
        var remainder = 0
        for byte in bytes[4...] + bytes[..<4] {
            let value = byte <= 0x39 ? Int(byte) - 48 : Int(byte) - 55
            remainder = value >= 10 ? (remainder * 100 + value) % 97 : (remainder * 10 + value) % 97
        }
        return remainder == 1
    }
}

/// A validated request to create a payment.
public struct CreatePaymentCommand: Sendable {
    public let idempotencyKey: String
    public let amount: Money
    public let captureMethod: CaptureMethod
    public let method: PaymentMethodInput
    public let description: String
    public let metadata: [String: String]
    /// A locked FX quote to settle at, if the merchant settles in another currency.
    public let fxQuoteID: String?
    /// Buyer signals for the fraud check; nil when the merchant sent none.
    public let riskContext: RiskContext?

    public init(idempotencyKey: String, amountMinor: Int64, currencyCode: String, hasAmount: Bool, captureMethod: CaptureMethod,
                method: PaymentMethodInput?, description: String, metadata: [String: String], fxQuoteID: String = "",
                riskContext: RiskContext? = nil) throws(PayrailError) {
        self.idempotencyKey = try FieldRules.idempotencyKey(idempotencyKey)
        guard hasAmount else { throw PayrailError(.missingField, "amount is required", field: "amount") }
        let currency = try FieldRules.currency(currencyCode)
        self.amount = Money(amountMinor: try FieldRules.positiveAmount(amountMinor), currency: currency)
        self.captureMethod = captureMethod
        guard let method else {
            throw PayrailError(.missingField, "a payment method (card or card_token) is required", field: "payment_method")
        }
        switch method {
        case .token(let token):
            _ = try FieldRules.identifier(token, prefix: "tok", field: "card_token")
        case .bankDebit(let debit) where debit.scheme.currency != currency:
            throw PayrailError(.currencyMismatch, "\(debit.scheme.rawValue) debits are in \(debit.scheme.currency.code)", field: "amount.currency")
        case .bankDebit where captureMethod == .manual:
            throw PayrailError(.invalidRequest, "bank debits are captured when the bank settles them: use automatic capture",
                               field: "capture_method")
        case .paypal(let url) where !url.hasPrefix("https://") || url.utf8.count > 500 || url.utf8.contains(where: { $0 <= 0x20 || $0 >= 0x7F }):
            throw PayrailError(.invalidRequest, "paypal.return_url must be an https URL of at most 500 characters", field: "paypal.return_url")
        case .bnpl(let installments) where !BNPLPlan.allowedInstallments.contains(installments):
            throw PayrailError(.invalidRequest, "bnpl.installments must be 3, 4, 6 or 12", field: "bnpl.installments")
        default:
            break
        }
        self.method = method
        self.description = try FieldRules.text(description, maxLength: RequestLimits.descriptionLengthMax, field: "description")
        self.metadata = try FieldRules.metadata(metadata)
        self.fxQuoteID = fxQuoteID.isEmpty ? nil : try FieldRules.identifier(fxQuoteID, prefix: "fxq", field: "fx_quote_id")
        self.riskContext = try riskContext.flatMap { context throws(PayrailError) in try FieldRules.riskContext(context) }
    }
}
