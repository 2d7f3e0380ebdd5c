import PayrailDomain
import PropertyBased
import Testing

/// GCRA: bursts up to the bucket size, then the sustained rate; an exact retry delay.
@Suite struct GCRATests {
    private let second: Int64 = 1_000_000_000

    @Test func burstThenSustainedRate() {
        let limit = RateLimit(perSecond: 10, burst: 5)
        var tat: Int64?
        var allowed = 0
        for _ in 0..<20 {
            if case .allowed(let next) = GCRA.decide(tat: tat, nowNs: 0, limit: limit) { tat = next; allowed += 1 }
        }
        #expect(allowed == 5, "the burst, all at once")
        guard case .limited(let wait) = GCRA.decide(tat: tat, nowNs: 0, limit: limit) else { Issue.record("not limited"); return }
        #expect(wait == second / 10, "one emission interval")
        #expect(GCRA.decide(tat: tat, nowNs: wait - 1, limit: limit) == .limited(retryAfterNs: 1))
        guard case .allowed = GCRA.decide(tat: tat, nowNs: wait, limit: limit) else { Issue.record("retry after the delay refused"); return }
    }

    /// Whatever the arrival times, no window of length d admits more than burst + rate·d
    /// requests, and a refused request is admitted exactly after its retry delay.
    @Test func neverExceedsBurstPlusRate() async {
        await propertyCheck(count: 200, input: Gen.int64(in: 0...50_000_000).array(of: 1...300), Gen.int(in: 1...50), Gen.int(in: 1...20)) {
            gaps, rate, burst in
            let limit = RateLimit(perSecond: rate, burst: burst)
            var tat: Int64?
            var now: Int64 = 0
            var admitted: [Int64] = []
            for gap in gaps {
                now += gap
                switch GCRA.decide(tat: tat, nowNs: now, limit: limit) {
                case .allowed(let next):
                    tat = next
                    admitted.append(now)
                case .limited(let wait):
                    #expect(wait > 0)
                    if case .limited = GCRA.decide(tat: tat, nowNs: now + wait, limit: limit) { Issue.record("refused after its retry delay") }
                }
            }
            let interval = second / Int64(rate)
            for i in admitted.indices {
                for j in i..<admitted.count {
                    // admitted is in time order: requests i...j fall in a window of admitted[j] - admitted[i].
                    let allowance = Int64(burst) + (admitted[j] - admitted[i]) / interval
                    if Int64(j - i + 1) > allowance { Issue.record("\(j - i + 1) admitted in \(admitted[j] - admitted[i]) ns"); return }
                }
            }
        }
    }
}
