/// Makes identifiers such as `pay_` followed by 26 base32 characters: unguessable and
/// collision-free without coordination. Randomness is injected so tests and simulations can
/// replay a seed; production uses the system's CSPRNG.
///
/// With a clock (``timeOrdered(clockMs:)``, what the core uses) the first 10 characters are the
/// creation millisecond and the other 16 random (80 bits, as ULIDs): identifiers then sort by
/// creation time, so every index on them grows at its right edge instead of touching a random
/// page per insert (fewer pages per commit, warm caches). Without one, all 26 are random (130 bits).
public struct IdentifierGenerator: Sendable {
    private let next: @Sendable () -> UInt64
    private let clockMs: (@Sendable () -> Int64)?

    public init(random: @escaping @Sendable () -> UInt64, clockMs: (@Sendable () -> Int64)? = nil) {
        self.next = random
        self.clockMs = clockMs
    }

    /// Identifiers from the operating system's cryptographically secure generator.
    public static let system = IdentifierGenerator { var rng = SystemRandomNumberGenerator(); return rng.next() }

    /// Creation-time-ordered identifiers (time prefix from `clockMs`, Unix milliseconds) with
    /// 80 bits from the operating system's secure generator.
    public static func timeOrdered(clockMs: @escaping @Sendable () -> Int64) -> IdentifierGenerator {
        IdentifierGenerator(random: { var rng = SystemRandomNumberGenerator(); return rng.next() }, clockMs: clockMs)
    }

    /// The same 32 characters in ASCII order, for the time prefix: text order is time order.
    private static let sortedAlphabet = Array("234567abcdefghijklmnopqrstuvwxyz".utf8)

    private static let alphabet = Array("abcdefghijklmnopqrstuvwxyz234567".utf8)

    public func make(_ prefix: String) -> String {
        var bytes = [UInt8]()
        bytes.reserveCapacity(prefix.utf8.count + 27)
        bytes.append(contentsOf: prefix.utf8)
        bytes.append(UInt8(ascii: "_"))
        var randomCharacters = 26
        if let clockMs {
            let time = UInt64(max(0, clockMs())) & ((1 << 50) - 1)
            for index in (0..<10).reversed() {
                bytes.append(Self.sortedAlphabet[Int((time >> UInt64(5 * index)) & 31)])
            }
            randomCharacters = 16
        }
        var bits = next()
        var available = 64
        for _ in 0..<randomCharacters {
            if available < 5 {
                bits = next()
                available = 64
            }
            bytes.append(Self.alphabet[Int(bits & 31)])
            bits >>= 5
            available -= 5
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
