/// A primary account number (PAN) that has passed validation: digits only, a length allowed
/// for its brand, and a correct Luhn check digit.
///
/// The digits are deliberately hard to print: `description`, `debugDescription` and string
/// interpolation show only the brand and last four, so a PAN cannot leak into a log line or
/// an error message by accident. `revealDigits()` is the one explicit way out, for the vault
/// and the connector call.
public struct CardNumber: Hashable, Sendable, CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    private let digits: String
    public let brand: CardBrand

    /// Validates `raw` (spaces and dashes are ignored). Never echoes the input back in the error.
    public init(_ raw: String) throws(PayrailError) {
        var cleaned = ""
        cleaned.reserveCapacity(19)
        for character in raw where character != " " && character != "-" {
            guard character.isASCIIDigit else {
                throw PayrailError(.invalidCardNumber, "card number must contain only digits", field: "card.number")
            }
            cleaned.append(character)
        }
        guard (12...19).contains(cleaned.count) else {
            throw PayrailError(.invalidCardNumber, "card number must have 12 to 19 digits", field: "card.number")
        }
        guard CardNumber.luhnValid(cleaned) else {
            throw PayrailError(.invalidCardNumber, "card number fails the Luhn check", field: "card.number")
        }
        let brand = CardBrand.detect(cleaned)
        guard brand.validLengths.contains(cleaned.count) else {
            throw PayrailError(.invalidCardNumber, "card number length is not valid for \(brand)", field: "card.number")
        }
        self.digits = cleaned
        self.brand = brand
    }

    /// True when the digit string's Luhn (mod 10) check digit is correct.
    public static func luhnValid(_ digits: some StringProtocol) -> Bool {
        var sum = 0
        var double = false
        for character in digits.reversed() {
            guard let ascii = character.asciiValue, ascii >= 48, ascii <= 57 else { return false }
            var digit = Int(ascii - 48)
            if double {
                digit *= 2
                if digit > 9 { digit -= 9 }
            }
            sum += digit
            double.toggle()
        }
        return !digits.isEmpty && sum % 10 == 0
    }

    public var last4: String { String(digits.suffix(4)) }
    /// The first six digits (the BIN/IIN), which identify brand, issuer and country.
    public var bin: String { String(digits.prefix(6)) }
    public var issuingCountry: String { BINTable.country(forBIN: bin) }

    /// The full number. Only the vault (to encrypt it) and the connector call (to send it to
    /// the network) may call this.
    public func revealDigits() -> String { digits }

    public var description: String { "\(brand) ****\(last4)" }
    public var debugDescription: String { description }
    public var customMirror: Mirror { Mirror(self, children: ["masked": description]) }
}

/// A card verification code: printed as `***`.
public struct CardSecurityCode: Hashable, Sendable, CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    private let digits: String

    public init(_ raw: String, brand: CardBrand) throws(PayrailError) {
        let expected = brand == .amex ? 4 : 3
        guard raw.count == expected, raw.allSatisfy(\.isASCIIDigit) else {
            throw PayrailError(.invalidCVC, "cvc must be \(expected) digits for \(brand)", field: "card.cvc")
        }
        digits = raw
    }

    public func revealDigits() -> String { digits }
    public var description: String { "***" }
    public var debugDescription: String { "***" }
    public var customMirror: Mirror { Mirror(self, children: ["masked": "***"]) }
}

/// A card's expiry month and year; a card is valid through the last day of that month.
public struct CardExpiry: Hashable, Sendable, CustomStringConvertible {
    public let month: Int
    public let year: Int

    /// Validates the fields and that the card has not expired by `today`.
    public init(month: Int, year: Int, today: CalendarMonth) throws(PayrailError) {
        guard (1...12).contains(month) else {
            throw PayrailError(.invalidExpiry, "exp_month must be 1 to 12", field: "card.exp_month")
        }
        guard (2000...2100).contains(year) else {
            throw PayrailError(.invalidExpiry, "exp_year must be a four-digit year", field: "card.exp_year")
        }
        guard (year, month) >= (today.year, today.month) else {
            throw PayrailError(.invalidExpiry, "card has expired", field: "card.exp_year")
        }
        guard year <= today.year + 50 else {
            throw PayrailError(.invalidExpiry, "exp_year is too far in the future", field: "card.exp_year")
        }
        self.month = month
        self.year = year
    }

    /// Rebuilds an expiry read back from the vault, without the not-yet-expired check.
    public init(storedMonth month: Int, year: Int) {
        precondition((1...12).contains(month), "stored expiry month out of range")
        self.month = month
        self.year = year
    }

    public func isExpired(on today: CalendarMonth) -> Bool { (year, month) < (today.year, today.month) }
    public var description: String { "\(month < 10 ? "0" : "")\(month)/\(year)" }
}

/// A year and month in UTC, derived from the injected clock (the domain reads no clock).
public struct CalendarMonth: Hashable, Sendable {
    public let year: Int
    public let month: Int
    public init(year: Int, month: Int) {
        self.year = year
        self.month = month
    }

    /// The UTC calendar month containing the given Unix time in milliseconds.
    public init(unixMillis: Int64) {
        // Days since 1970-01-01 to civil date (Howard Hinnant's algorithm), no Foundation.
        let days = Int(unixMillis.dividedRoundingDown(by: 86_400_000))
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let month = mp < 10 ? mp + 3 : mp - 9
        self.init(year: yoe + era * 400 + (month <= 2 ? 1 : 0), month: month)
    }
}

extension Int64 {
    func dividedRoundingDown(by divisor: Int64) -> Int64 {
        let quotient = self / divisor
        return (self % divisor != 0 && (self < 0) != (divisor < 0)) ? quotient - 1 : quotient
    }
}
