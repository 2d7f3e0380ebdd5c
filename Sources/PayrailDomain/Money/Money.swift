/// An exact amount of money: a signed count of minor units of one currency.
///
/// Arithmetic is overflow-checked and refuses to mix currencies; there is no floating point
/// anywhere on the way in or out, so 0.1 + 0.2 is exactly 0.3.
public struct Money: Hashable, Sendable, CustomStringConvertible {
    public let amountMinor: Int64
    public let currency: Currency

    public init(amountMinor: Int64, currency: Currency) {
        self.amountMinor = amountMinor
        self.currency = currency
    }

    public static func zero(_ currency: Currency) -> Money { Money(amountMinor: 0, currency: currency) }

    public var isZero: Bool { amountMinor == 0 }
    public var isPositive: Bool { amountMinor > 0 }

    public func adding(_ other: Money) throws(MoneyError) -> Money {
        guard currency == other.currency else { throw .currencyMismatch(currency, other.currency) }
        let (sum, overflow) = amountMinor.addingReportingOverflow(other.amountMinor)
        guard !overflow else { throw .overflow }
        return Money(amountMinor: sum, currency: currency)
    }

    public func subtracting(_ other: Money) throws(MoneyError) -> Money {
        guard currency == other.currency else { throw .currencyMismatch(currency, other.currency) }
        let (difference, overflow) = amountMinor.subtractingReportingOverflow(other.amountMinor)
        guard !overflow else { throw .overflow }
        return Money(amountMinor: difference, currency: currency)
    }

    public func negated() throws(MoneyError) -> Money {
        guard amountMinor != .min else { throw .overflow }
        return Money(amountMinor: -amountMinor, currency: currency)
    }

    /// Parses a decimal string in major units ("12.34", "-0.5", "1000") exactly. More fraction
    /// digits than the currency's exponent is an error, not a rounding.
    public init(major text: String, currency: Currency) throws(MoneyError) {
        var digits = Substring(text)
        var negative = false
        if digits.first == "-" { negative = true; digits = digits.dropFirst() }
        let parts = digits.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count <= 2, let whole = parts.first, !whole.isEmpty,
              whole.allSatisfy(\.isASCIIDigit) else { throw .malformed(text) }
        let fraction = parts.count == 2 ? parts[1] : ""
        guard fraction.allSatisfy(\.isASCIIDigit), parts.count == 1 || !fraction.isEmpty else {
            throw .malformed(text)
        }
        guard fraction.count <= currency.exponent else { throw .tooPrecise(text, currency) }
        var value: Int64 = 0
        let padded = String(whole) + String(fraction) + String(repeating: "0", count: currency.exponent - fraction.count)
        for character in padded {
            let (times, o1) = value.multipliedReportingOverflow(by: 10)
            let (plus, o2) = times.addingReportingOverflow(Int64(character.asciiValue! - 48))
            guard !o1, !o2 else { throw .overflow }
            value = plus
        }
        self.init(amountMinor: negative ? -value : value, currency: currency)
    }

    /// The amount in major units with exactly `exponent` fraction digits, e.g. "12.34", "-0.05",
    /// "1000" (JPY), "1.500" (KWD).
    public var majorUnitsString: String {
        let magnitude = amountMinor.magnitude
        let perMajor = UInt64(currency.minorUnitsPerMajor)
        let whole = magnitude / perMajor
        let sign = amountMinor < 0 ? "-" : ""
        guard currency.exponent > 0 else { return sign + String(whole) }
        let fraction = String(magnitude % perMajor)
        return sign + String(whole) + "." + String(repeating: "0", count: currency.exponent - fraction.count) + fraction
    }

    public var description: String { "\(currency.code) \(majorUnitsString)" }
}

extension Character {
    var isASCIIDigit: Bool { asciiValue.map { $0 >= 48 && $0 <= 57 } ?? false }
}

/// Why a money operation was refused.
public enum MoneyError: Error, Equatable, Sendable {
    case overflow
    case currencyMismatch(Currency, Currency)
    case malformed(String)
    case tooPrecise(String, Currency)
}
