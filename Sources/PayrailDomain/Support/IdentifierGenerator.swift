/// Makes identifiers such as `pay_` followed by 26 base32 characters (130 random bits):
/// unguessable and collision-free without coordination. Randomness is injected so tests and
/// simulations can replay a seed; production uses the system's CSPRNG.
public struct IdentifierGenerator: Sendable {
    private let next: @Sendable () -> UInt64

    public init(random: @escaping @Sendable () -> UInt64) {
        self.next = random
    }

    /// Identifiers from the operating system's cryptographically secure generator.
    public static let system = IdentifierGenerator { var rng = SystemRandomNumberGenerator(); return rng.next() }

    private static let alphabet = Array("abcdefghijklmnopqrstuvwxyz234567".utf8)

    public func make(_ prefix: String) -> String {
        var bytes = [UInt8]()
        bytes.reserveCapacity(prefix.utf8.count + 27)
        bytes.append(contentsOf: prefix.utf8)
        bytes.append(UInt8(ascii: "_"))
        var bits = next()
        var available = 64
        for _ in 0..<26 {
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
