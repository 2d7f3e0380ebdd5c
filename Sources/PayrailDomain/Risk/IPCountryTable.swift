/// IPv4 ranges to ISO 3166 country codes: a small table shipped with the project (the
/// documentation and private ranges of RFC 5737 / RFC 1918, split among test countries), enough
/// for the simulators and tests; production loads a full GeoIP table in the same shape.
public struct IPCountryTable: Sendable {
    public struct Range: Sendable {
        public let first: UInt32
        public let last: UInt32
        public let country: String
    }

    public let ranges: [Range]

    public init(ranges: [(cidr: String, country: String)]) {
        self.ranges = ranges.compactMap { entry in
            let parts = entry.cidr.split(separator: "/")
            guard parts.count == 2, let base = Self.parse(String(parts[0])), let bits = UInt32(parts[1]), bits <= 32 else { return nil }
            let mask: UInt32 = bits == 0 ? 0 : ~UInt32(0) << (32 - bits)
            return Range(first: base & mask, last: (base & mask) | ~mask, country: entry.country)
        }.sorted { $0.first < $1.first }
    }

    /// The country of `ip`, or nil when unknown or not IPv4.
    public func country(of ip: String) -> String? {
        guard let address = Self.parse(ip) else { return nil }
        var low = 0, high = ranges.count - 1
        while low <= high {
            let middle = (low + high) / 2
            let range = ranges[middle]
            if address < range.first { high = middle - 1 } else if address > range.last { low = middle + 1 } else { return range.country }
        }
        return nil
    }

    /// Dotted quad to a number; nil if malformed.
    public static func parse(_ text: String) -> UInt32? {
        var value: UInt32 = 0, octet: UInt32 = 0, digits = 0, dots = 0
        for byte in text.utf8 {
            if byte == UInt8(ascii: ".") {
                guard digits > 0, dots < 3 else { return nil }
                value = value << 8 | octet
                octet = 0
                digits = 0
                dots += 1
            } else if byte >= 48 && byte <= 57 {
                octet = octet * 10 + UInt32(byte - 48)
                digits += 1
                guard octet <= 255, digits <= 3 else { return nil }
            } else {
                return nil
            }
        }
        guard dots == 3, digits > 0 else { return nil }
        return value << 8 | octet
    }

    /// The table shipped with Payrail.
    public static let shipped = IPCountryTable(ranges: [
        ("192.0.2.0/25", "US"), ("192.0.2.128/25", "CA"),
        ("198.51.100.0/25", "GB"), ("198.51.100.128/25", "DE"),
        ("203.0.113.0/25", "IN"), ("203.0.113.128/25", "BR"),
        ("10.0.0.0/10", "US"), ("10.64.0.0/10", "GB"), ("10.128.0.0/10", "DE"), ("10.192.0.0/10", "FR"),
        ("172.16.0.0/14", "IN"), ("172.20.0.0/14", "BR"), ("172.24.0.0/14", "NG"), ("172.28.0.0/14", "JP"),
        ("100.64.0.0/12", "NL"), ("100.80.0.0/12", "ES"), ("100.96.0.0/12", "IT"), ("100.112.0.0/12", "AU"),
    ])
}
