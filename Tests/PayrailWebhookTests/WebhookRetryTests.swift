import PayrailDomain
import PropertyBased
import Testing

/// Retry timing and the delivery and endpoint state they drive.
@Suite struct WebhookRetryTests {
    @Test func ceilingDoublesUpToTheMaximum() {
        let policy = WebhookRetryPolicy(initialDelayMs: 1_000, maximumDelayMs: 60_000, retryPeriodMs: 3 * 24 * 3_600_000)
        #expect((1...8).map { policy.delayCeilingMs(afterAttempt: $0) } == [1_000, 2_000, 4_000, 8_000, 16_000, 32_000, 60_000, 60_000])
        #expect(policy.delayCeilingMs(afterAttempt: 500) == 60_000)
    }

    /// Full jitter: every delay lies in [0, ceiling], never past the retry period; after it, none.
    @Test func jitteredDelaysStayWithinTheirCeilingAndThePeriod() async {
        await propertyCheck(input: Gen.int(in: 1...60), Gen.int64(in: 0...4 * 24 * 3_600_000), Gen.int64(in: 1...UInt32.max.int64)) { attempt, elapsed, seed in
            let policy = WebhookRetryPolicy()
            var random = SplitMix(seed: UInt64(seed))
            let first: Int64 = 1_000_000
            let now = first + elapsed
            let next = policy.nextAttemptAtMs(afterAttempt: attempt, firstAttemptAtMs: first, nowMs: now, random: &random)
            if elapsed >= policy.retryPeriodMs {
                #expect(next == nil)
            } else {
                let at = try #require(next)
                #expect(at >= now && at - now <= policy.delayCeilingMs(afterAttempt: attempt))
                #expect(at <= first + policy.retryPeriodMs)
            }
        }
    }

    @Test func aDeliveryIsRetriedUntilItSucceedsOrThePeriodEnds() {
        let policy = WebhookRetryPolicy(initialDelayMs: 100, maximumDelayMs: 1_000, retryPeriodMs: 10_000, jitter: false)
        var random = SplitMix(seed: 1)
        var delivery = WebhookDelivery(id: "whd_1", eventID: "evt_1", endpointID: "we_1", merchantID: "acct_1", status: .pending,
                                       attempts: 0, nextAttemptAtMs: 0, leasedUntilMs: 5_000, createdAtMs: 0, updatedAtMs: 0)
        delivery.record(succeeded: false, atMs: 10, policy: policy, random: &random)
        #expect(delivery.status == .pending && delivery.attempts == 1 && delivery.nextAttemptAtMs == 110 && delivery.leasedUntilMs == 10)
        delivery.record(succeeded: false, atMs: 110, policy: policy, random: &random)
        #expect(delivery.nextAttemptAtMs == 310)
        var succeeded = delivery
        succeeded.record(succeeded: true, atMs: 310, policy: policy, random: &random)
        #expect(succeeded.status == .delivered && succeeded.attempts == 3)
        delivery.record(succeeded: false, atMs: 10_000, policy: policy, random: &random)
        #expect(delivery.status == .failed && delivery.attempts == 3)
    }

    @Test func rotationKeepsTheOldSecretSigningForTheOverlapOnly() {
        var endpoint = WebhookEndpoint(id: "we_1", merchantID: "acct_1", livemode: false, url: "https://example.test/hook",
                                       eventTypes: ["*"], description: "", status: .enabled,
                                       secrets: [.init(value: "whsec_old", createdAtMs: 0)], createdAtMs: 0, updatedAtMs: 0)
        endpoint.rotateSecret(to: "whsec_new", overlapMs: 1_000, atMs: 5_000)
        #expect(endpoint.signingSecrets(atMs: 5_500) == ["whsec_new", "whsec_old"])
        #expect(endpoint.signingSecrets(atMs: 6_000) == ["whsec_new"])
        endpoint.rotateSecret(to: "whsec_newer", overlapMs: 0, atMs: 7_000)
        #expect(endpoint.signingSecrets(atMs: 7_000) == ["whsec_newer"])
        #expect(endpoint.secrets.count == 2, "expired secrets are dropped at the next rotation")
    }

    @Test func endpointsGetOnlyTheirEventsInTheirMode() {
        var endpoint = WebhookEndpoint(id: "we_1", merchantID: "acct_1", livemode: false, url: "https://example.test/hook",
                                       eventTypes: ["payment.succeeded"], description: "", status: .enabled, secrets: [],
                                       createdAtMs: 0, updatedAtMs: 0)
        #expect(endpoint.wants(.paymentSucceeded, livemode: false))
        #expect(!endpoint.wants(.paymentFailed, livemode: false))
        #expect(!endpoint.wants(.paymentSucceeded, livemode: true))
        endpoint.eventTypes = ["*"]
        #expect(endpoint.wants(.refundFailed, livemode: false))
        endpoint.status = .disabled
        #expect(!endpoint.wants(.refundFailed, livemode: false))
    }
}

/// A small seeded generator, so property failures replay.
struct SplitMix: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

extension UInt32 {
    var int64: Int64 { Int64(self) }
}
