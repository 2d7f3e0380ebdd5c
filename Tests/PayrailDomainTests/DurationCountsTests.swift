import PayrailDomain
import Testing

@Suite struct DurationCountsTests {
    @Test func wholeUnitsTruncateTheSubUnitRest() {
        #expect(Duration.milliseconds(1_500).wholeNanoseconds == 1_500_000_000)
        #expect(Duration.nanoseconds(1_999).wholeMicroseconds == 1)
        #expect((Duration.seconds(3) + .nanoseconds(7)).wholeNanoseconds == 3_000_000_007)
        #expect((Duration.seconds(2) + .microseconds(250)).wholeMicroseconds == 2_000_250)
        #expect(Duration.zero.wholeNanoseconds == 0)
    }
}
