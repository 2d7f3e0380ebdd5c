/// How often, and how patiently, a processor call is repeated after a transient failure:
/// exponential backoff with full jitter (AWS architecture blog, "Exponential Backoff and
/// Jitter"), bounded in attempts and in delay, so a struggling processor is not stampeded and
/// a payment never waits unboundedly.
public struct ConnectorRetryPolicy: Hashable, Sendable {
    /// Calls to one processor for one operation, the first included.
    public var attemptsPerConnector: Int
    public var backoffBaseMs: Int
    public var backoffMaxMs: Int

    public init(attemptsPerConnector: Int = 3, backoffBaseMs: Int = 20, backoffMaxMs: Int = 250) {
        precondition(attemptsPerConnector >= 1 && attemptsPerConnector <= 10, "1 to 10 attempts")
        precondition(backoffBaseMs >= 0 && backoffMaxMs >= backoffBaseMs, "backoff range")
        self.attemptsPerConnector = attemptsPerConnector
        self.backoffBaseMs = backoffBaseMs
        self.backoffMaxMs = backoffMaxMs
    }

    /// The ceiling of the wait before retry number `retry` (1 = the first retry): base * 2^(retry-1),
    /// capped at the maximum.
    public func backoffCeilingMs(retry: Int) -> Int {
        precondition(retry >= 1, "retries count from 1")
        let shift = min(retry - 1, 20)
        let (grown, overflow) = backoffBaseMs.multipliedReportingOverflow(by: 1 << shift)
        return overflow ? backoffMaxMs : min(grown, backoffMaxMs)
    }

    /// The wait before retry number `retry`: uniform in [0, ceiling] ("full jitter").
    public func backoffMs<R: RandomNumberGenerator>(retry: Int, using random: inout R) -> Int {
        let ceiling = backoffCeilingMs(retry: retry)
        return ceiling == 0 ? 0 : Int.random(in: 0...ceiling, using: &random)
    }

    /// No waiting: for tests that drive failures without time.
    public static let immediate = ConnectorRetryPolicy(attemptsPerConnector: 3, backoffBaseMs: 0, backoffMaxMs: 0)
}
