/// An exchange rate from one currency to another, exact: `rateScaled` is the number of major
/// units of `to` for one major unit of `from`, times 10^8 (so 1.08345678 is 108_345_678).
/// Rates come from a source (a provider, a treasury desk) and are valid in a time window.
public struct FXRate: Hashable, Sendable {
    /// Fixed-point scale of `rateScaled`: eight decimal places.
    public static let scale: Int64 = 100_000_000

    public let from: Currency
    public let to: Currency
    public let rateScaled: Int64
    public let source: String
    public let validFromMs: Int64
    /// Exclusive end of the validity window.
    public let validUntilMs: Int64

    public init(from: Currency, to: Currency, rateScaled: Int64, source: String, validFromMs: Int64, validUntilMs: Int64) throws(PayrailError) {
        guard from != to else { throw PayrailError(.invalidCurrency, "an FX rate needs two different currencies") }
        guard rateScaled > 0 else { throw PayrailError(.invalidRequest, "an FX rate must be positive") }
        guard validUntilMs > validFromMs else { throw PayrailError(.invalidRequest, "an FX rate's validity window is empty") }
        self.from = from
        self.to = to
        self.rateScaled = rateScaled
        self.source = source
        self.validFromMs = validFromMs
        self.validUntilMs = validUntilMs
    }

    public func isValid(atMs nowMs: Int64) -> Bool { validFromMs <= nowMs && nowMs < validUntilMs }

    /// Parses a decimal rate such as "1.0834" or "149.5" exactly into ``rateScaled``; more than
    /// eight decimal places is refused rather than rounded.
    public static func scaled(_ text: String) throws(PayrailError) -> Int64 {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count <= 2, let whole = parts.first, !whole.isEmpty, whole.allSatisfy(\.isASCIIDigit),
              parts.count == 1 || (!parts[1].isEmpty && parts[1].allSatisfy(\.isASCIIDigit) && parts[1].count <= 8),
              let wholeValue = Int64(whole), wholeValue < 1_000_000_000 else {
            throw PayrailError(.invalidRequest, "a rate is a positive decimal with at most 8 decimal places", field: "rate")
        }
        let fraction = parts.count == 2 ? String(parts[1]) : ""
        let scaled = wholeValue * scale + (Int64(fraction + String(repeating: "0", count: 8 - fraction.count)) ?? 0)
        guard scaled > 0 else { throw PayrailError(.invalidRequest, "a rate must be positive", field: "rate") }
        return scaled
    }
}

/// Exact currency conversion. One rounding rule everywhere: the exact product is rounded once,
/// to the target currency's minor unit, half to even (banker's rounding), so rounding errors do
/// not drift in one direction over many conversions.
public enum FXConversion {
    /// `amount` in `rate.to`, respecting both currencies' exponents (e.g. USD 2 → JPY 0).
    public static func convert(_ amount: Money, at rate: FXRate) throws(MoneyError) -> Money {
        guard amount.currency == rate.from else { throw .currencyMismatch(amount.currency, rate.from) }
        // value_to_minor = amount_minor × rate / 10^8 × 10^(e_to − e_from)
        var numerator = UInt128(amount.amountMinor.magnitude) * UInt128(rate.rateScaled)
        var denominator = UInt128(FXRate.scale)
        let shift = rate.to.exponent - rate.from.exponent
        for _ in 0..<abs(shift) {
            if shift > 0 { numerator *= 10 } else { denominator *= 10 }
        }
        let rounded = roundHalfEven(numerator, denominator)
        guard rounded <= UInt128(Int64.max) else { throw .overflow }
        let magnitude = Int64(rounded)
        return Money(amountMinor: amount.amountMinor < 0 ? -magnitude : magnitude, currency: rate.to)
    }

    /// Splits a converted amount into what the merchant receives and the platform's markup of
    /// `basisPoints` (1/100 of a percent), the merchant's share rounded half to even.
    public static func applyMarkup(_ converted: Money, basisPoints: Int) throws(MoneyError) -> (merchant: Money, markup: Money) {
        precondition((0...10_000).contains(basisPoints), "markup must be 0 to 10000 basis points")
        precondition(converted.amountMinor >= 0, "markup applies to non-negative amounts")
        let merchant = Int64(roundHalfEven(UInt128(converted.amountMinor) * UInt128(10_000 - basisPoints), 10_000))
        let markup = try converted.subtracting(Money(amountMinor: merchant, currency: converted.currency))
        return (Money(amountMinor: merchant, currency: converted.currency), markup)
    }

    static func roundHalfEven(_ numerator: UInt128, _ denominator: UInt128) -> UInt128 {
        let quotient = numerator / denominator
        let remainder = numerator % denominator
        let twice = remainder * 2
        if twice > denominator || (twice == denominator && quotient % 2 == 1) { return quotient + 1 }
        return quotient
    }
}

/// A rate locked for one merchant for a short time: a payment that names the quote settles at
/// its rate and markup even if the market rate has moved, as long as the quote has not expired
/// when the payment is created.
public struct FXQuote: Hashable, Sendable {
    public let id: String
    public let merchantID: String
    public let from: Currency
    public let to: Currency
    public let rateScaled: Int64
    public let markupBasisPoints: Int
    public let source: String
    public let createdAtMs: Int64
    public let expiresAtMs: Int64

    public init(id: String, merchantID: String, from: Currency, to: Currency, rateScaled: Int64, markupBasisPoints: Int,
                source: String, createdAtMs: Int64, expiresAtMs: Int64) {
        precondition(rateScaled > 0 && (0...10_000).contains(markupBasisPoints) && expiresAtMs > createdAtMs, "invalid quote")
        self.id = id
        self.merchantID = merchantID
        self.from = from
        self.to = to
        self.rateScaled = rateScaled
        self.markupBasisPoints = markupBasisPoints
        self.source = source
        self.createdAtMs = createdAtMs
        self.expiresAtMs = expiresAtMs
    }
}

/// How a payment presented in one currency settles to the merchant in another: fixed when the
/// payment is created (from a locked quote or the current rate) and used for its capture and
/// every refund, so all of them convert at the same rate.
public struct SettlementTerms: Hashable, Sendable {
    public let currency: Currency
    public let rateScaled: Int64
    public let markupBasisPoints: Int
    public let quoteID: String?

    public init(currency: Currency, rateScaled: Int64, markupBasisPoints: Int, quoteID: String?) {
        precondition(rateScaled > 0 && (0...10_000).contains(markupBasisPoints), "invalid settlement terms")
        self.currency = currency
        self.rateScaled = rateScaled
        self.markupBasisPoints = markupBasisPoints
        self.quoteID = quoteID
    }

    /// Converts `amount` (in the presentment currency) and splits it into the merchant's share
    /// and the platform's markup, both in the settlement currency.
    public func settle(_ amount: Money) throws(MoneyError) -> (merchant: Money, markup: Money) {
        let rate: FXRate
        do {
            rate = try FXRate(from: amount.currency, to: currency, rateScaled: rateScaled, source: "terms", validFromMs: 0, validUntilMs: .max)
        } catch {
            throw .currencyMismatch(amount.currency, currency)
        }
        return try FXConversion.applyMarkup(try FXConversion.convert(amount, at: rate), basisPoints: markupBasisPoints)
    }
}
