import PayrailDomain
import PropertyBased
import Synchronization
import Testing

@Suite struct IdentifierGeneratorTests {
    private static let alphabet = Set("abcdefghijklmnopqrstuvwxyz234567")

    /// Time-ordered ids sort by their creation millisecond, whatever their random part:
    /// what keeps the store's indexes growing at their right edge.
    @Test func timeOrderedIDsSortByCreationTime() async {
        await propertyCheck(input: Gen.int64(in: 0...(1 << 49)), Gen.int64(in: 1...(1 << 40)), Gen.uint64(), Gen.uint64()) { earlier, gap, seedA, seedB in
            let first = IdentifierGenerator(random: { seedA }, clockMs: { earlier }).make("pay")
            let second = IdentifierGenerator(random: { seedB }, clockMs: { earlier + gap }).make("pay")
            #expect(first < second)
            for id in [first, second] {
                #expect(id.hasPrefix("pay_") && id.count == 30)
                #expect(id.dropFirst(4).allSatisfy(Self.alphabet.contains))
            }
        }
    }

    /// Same millisecond, different random bits: different ids (80 random bits remain).
    @Test func idsOfOneMillisecondDifferInTheirRandomPart() {
        let seed = Mutex<UInt64>(1)
        let ids = IdentifierGenerator(random: { seed.withLock { $0 &+= 0x9E37_79B9_7F4A_7C15; return $0 } }, clockMs: { 1_764_600_000_000 })
        let made = (0..<1_000).map { _ in ids.make("ltx") }
        #expect(Set(made).count == made.count)
        #expect(Set(made.map { $0.prefix(14) }).count == 1, "one millisecond, one time prefix")
    }

    /// Without a clock all 26 characters are random, as before.
    @Test func withoutAClockTheIDIsAllRandom() {
        let ids = IdentifierGenerator(random: { 0 })
        #expect(ids.make("pay") == "pay_" + String(repeating: "a", count: 26))
    }
}
