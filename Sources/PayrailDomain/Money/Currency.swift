/// An ISO 4217 currency: its alphabetic code and the number of digits after the decimal
/// point of its minor unit (its exponent). JPY has 0, USD 2, KWD 3.
///
/// Only codes in ``Currency/iso4217`` exist: a `Currency` value is always a known currency,
/// so amounts can be converted between major and minor units without guessing.
public struct Currency: Hashable, Sendable, CustomStringConvertible, Comparable {
    /// The three upper-case letters, e.g. "USD".
    public let code: String
    /// Digits of the minor unit: 10^exponent minor units make one major unit.
    public let exponent: Int

    private init(uncheckedCode code: String, exponent: Int) {
        self.code = code
        self.exponent = exponent
    }

    /// The currency for an ISO 4217 code, or nil when the code is not an active ISO 4217
    /// currency. The code must be exactly three upper-case ASCII letters.
    public init?(code: String) {
        guard let exponent = Currency.exponents[code] else { return nil }
        self.init(uncheckedCode: code, exponent: exponent)
    }

    public var description: String { code }

    /// Minor units in one major unit (100 for USD, 1 for JPY, 1000 for KWD).
    public var minorUnitsPerMajor: Int64 {
        var result: Int64 = 1
        for _ in 0..<exponent { result *= 10 }
        return result
    }

    public static func < (lhs: Currency, rhs: Currency) -> Bool { lhs.code < rhs.code }

    public static let usd = Currency(uncheckedCode: "USD", exponent: 2)
    public static let eur = Currency(uncheckedCode: "EUR", exponent: 2)
    public static let gbp = Currency(uncheckedCode: "GBP", exponent: 2)
    public static let jpy = Currency(uncheckedCode: "JPY", exponent: 0)
    public static let kwd = Currency(uncheckedCode: "KWD", exponent: 3)

    /// Every active ISO 4217 currency (list 1, excluding precious metals, testing and
    /// no-currency codes) with its minor-unit exponent.
    public static var iso4217: [Currency] {
        exponents.keys.sorted().map { Currency(uncheckedCode: $0, exponent: exponents[$0]!) }
    }

    private static let exponents: [String: Int] = {
        var table: [String: Int] = [:]
        // Exponent 2 is by far the most common; the exceptions are listed below.
        let twoDigit = """
            AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BMD BND BOB BOV BRL BSD BTN BWP \
            BYN BZD CAD CDF CHE CHF CHW CNY COP COU CRC CUC CUP CVE CZK DKK DOP DZD EGP ERN ETB EUR \
            FJD FKP GBP GEL GHS GIP GMD GTQ GYD HKD HNL HTG HUF IDR ILS INR IRR JMD KES KGS KHR KPW \
            KYD KZT LAK LBP LKR LRD LSL MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MXV MYR MZN \
            NAD NGN NIO NOK NPR NZD PAB PEN PGK PHP PKR PLN QAR RON RSD RUB SAR SBD SCR SDG SEK SGD \
            SHP SLE SOS SRD SSP STN SVC SYP SZL THB TJS TMT TOP TRY TTD TWD TZS UAH USD USN UYU UZS \
            VED VES WST XCD XCG YER ZAR ZMW ZWG
            """
        for code in twoDigit.split(separator: " ") { table[String(code)] = 2 }
        for code in ["BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF", "UGX",
                     "UYI", "VND", "VUV", "XAF", "XOF", "XPF"] {
            table[code] = 0
        }
        for code in ["BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"] { table[code] = 3 }
        for code in ["CLF", "UYW"] { table[code] = 4 }
        return table
    }()
}
