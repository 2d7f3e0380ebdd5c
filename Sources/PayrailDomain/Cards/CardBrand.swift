/// Card networks recognised from the leading digits of the number.
public enum CardBrand: String, Hashable, Sendable, CaseIterable, CustomStringConvertible {
    case visa, mastercard, amex, discover, jcb, unionpay, unknown

    public var description: String { rawValue }

    /// Number lengths the brand issues.
    public var validLengths: ClosedRange<Int> {
        switch self {
        case .visa: 13...19
        case .mastercard: 16...16
        case .amex: 15...15
        case .discover, .jcb: 16...19
        case .unionpay: 16...19
        case .unknown: 12...19
        }
    }

    /// The brand of a digit string, from the IIN ranges the networks publish.
    public static func detect(_ digits: String) -> CardBrand {
        func prefix(_ n: Int) -> Int { Int(digits.prefix(n)) ?? -1 }
        if digits.hasPrefix("4") { return .visa }
        if (51...55).contains(prefix(2)) || (2221...2720).contains(prefix(4)) { return .mastercard }
        if prefix(2) == 34 || prefix(2) == 37 { return .amex }
        if digits.hasPrefix("6011") || digits.hasPrefix("65") || (644...649).contains(prefix(3)) { return .discover }
        if (3528...3589).contains(prefix(4)) { return .jcb }
        if digits.hasPrefix("62") { return .unionpay }
        return .unknown
    }
}

/// Issuing country by BIN range: a small table of the ranges our simulated networks issue,
/// in the shape a production BIN file would have. Unknown ranges map to "ZZ".
public enum BINTable {
    struct Range {
        let low: Int
        let high: Int
        let country: String
    }

    static let ranges: [Range] = [
        Range(low: 400_000, high: 400_099, country: "US"),
        Range(low: 424_242, high: 424_242, country: "US"),
        Range(low: 400_051, high: 400_051, country: "GB"),
        Range(low: 400_003, high: 400_003, country: "DE"),
        Range(low: 400_005, high: 400_005, country: "FR"),
        Range(low: 400_025, high: 400_025, country: "IN"),
        Range(low: 400_039, high: 400_039, country: "JP"),
        Range(low: 411_111, high: 411_111, country: "US"),
        Range(low: 510_000, high: 559_999, country: "US"),
        Range(low: 222_100, high: 272_099, country: "US"),
        Range(low: 340_000, high: 349_999, country: "US"),
        Range(low: 370_000, high: 379_999, country: "US"),
        Range(low: 601_100, high: 601_199, country: "US"),
        Range(low: 352_800, high: 358_999, country: "JP"),
        Range(low: 620_000, high: 629_999, country: "CN"),
    ]

    /// ISO 3166-1 alpha-2 country of the issuer, "ZZ" when the BIN is not in the table.
    /// The most specific (narrowest) matching range wins.
    public static func country(forBIN bin: String) -> String {
        guard bin.count == 6, let value = Int(bin) else { return "ZZ" }
        let matches = ranges.filter { $0.low <= value && value <= $0.high }
        return matches.min { ($0.high - $0.low) < ($1.high - $1.low) }?.country ?? "ZZ"
    }
}
