/// What a load run does: the operation mix, the cards and currencies, how requests arrive
/// (open loop at a constant rate, or closed loop with a fixed number in flight), where they
/// go, and for how long. Read from a YAML scenario file (`loadtest/scenarios/*.yaml`);
/// command-line flags override single fields.
public struct LoadScenario: Sendable {
    /// How requests arrive.
    public enum Mode: Sendable, Equatable {
        /// A constant arrival rate, independent of how fast answers come back. Latency is
        /// measured from each request's intended send time, so a stalled server shows up in
        /// the percentiles instead of silently slowing the load (no coordinated omission).
        case open(ratePerSecond: Int)
        /// A fixed number of requests in flight; each worker sends the next when the last returns.
        case closed
    }

    /// One merchant operation; some are several calls.
    public enum Operation: String, CaseIterable, Sendable {
        /// CreatePayment with automatic capture (and ConfirmPayment for a 3-D Secure card).
        case createAutoCapture = "create_auto_capture"
        /// CreatePayment with manual capture, then CapturePayment.
        case createThenCapture = "create_then_capture"
        /// CreatePayment with automatic capture, then a partial CreateRefund.
        case refund
        /// GetPayment of a payment this run created.
        case get
        /// The baseline's trivial call (`payrail.loadtest.v1.Echo`).
        case echo
        /// The same CreatePayment sent again with its idempotency key (a client retrying after
        /// a lost answer): must return the same payment.
        case idempotentRetry = "idempotent_retry"
    }

    /// What the card network does with the payment (documented test cards).
    public enum CardOutcome: String, CaseIterable, Sendable {
        case approve
        case decline
        case threeDS = "three_ds"
    }

    /// An edge to send to, with its share of the connections.
    public struct Target: Sendable, Equatable {
        public var host: String
        public var port: Int
        public var weight: Int
        public init(host: String, port: Int, weight: Int = 1) {
            self.host = host
            self.port = port
            self.weight = weight
        }
    }

    public var name = "load"
    public var mode = Mode.closed
    /// Workers: requests in flight in closed loop; the most in flight in open loop.
    public var concurrency = 64
    public var durationSeconds = 30
    /// Stop after this many operations even if time is left (nil: run for the duration).
    public var maxOperations: Int?
    /// Measured from the start but left out of the summary percentiles (JIT-free Swift still
    /// warms caches, pools and connections).
    public var warmupSeconds = 5
    /// HTTP/2 connections, spread over the targets by weight.
    public var connections = 8
    public var targets: [Target] = []
    /// Instead of `targets`: an edge to ask for the region map; connections are spread over the
    /// regions by their live weights and over each region's edges.
    public var regionMap: Target?
    /// The CA that signed the edges' certificates.
    public var caPath: String?
    /// Operation mix by weight.
    public var operations: [(Operation, Int)] = [(.createAutoCapture, 1)]
    /// Currency mix by weight (ISO 4217 codes).
    public var currencies: [(String, Int)] = [("USD", 1)]
    /// Card outcome mix by weight.
    public var cards: [(CardOutcome, Int)] = [(.approve, 1)]
    /// Amounts, in minor units, uniformly in this range.
    public var amountMinor: ClosedRange<Int64> = 100...50_000
    /// Echo payload size (bytes): about a CreatePaymentRequest's.
    public var echoPayloadBytes = 160
    public var seed: UInt64 = 1

    public init() {}

    /// Weighted choices as a cumulative table for O(log n) picks.
    public struct WeightedTable<Value: Sendable>: Sendable {
        let values: [Value]
        let cumulative: [Int]
        public init(_ pairs: [(Value, Int)]) {
            var total = 0
            var values: [Value] = []
            var cumulative: [Int] = []
            for (value, weight) in pairs where weight > 0 {
                total += weight
                values.append(value)
                cumulative.append(total)
            }
            self.values = values
            self.cumulative = cumulative
        }
        var total: Int { cumulative.last ?? 0 }
        func pick(_ roll: Int) -> Value {
            let point = roll % total
            var low = 0
            var high = cumulative.count - 1
            while low < high {
                let middle = (low + high) / 2
                if cumulative[middle] > point { high = middle } else { low = middle + 1 }
            }
            return values[low]
        }
    }

    /// Refuses a scenario that cannot run, with the field at fault. A scenario file may leave
    /// the targets to the command line (`requireTargets: false`).
    public func validate(requireTargets: Bool = true) throws(LoadScenarioError) {
        if case .open(let rate) = mode, rate < 1 { throw .invalid("rate", "must be at least 1 per second") }
        guard concurrency >= 1 else { throw .invalid("concurrency", "must be at least 1") }
        guard durationSeconds >= 1 else { throw .invalid("duration_seconds", "must be at least 1") }
        if let maxOperations, maxOperations < 1 { throw .invalid("operations_max", "must be at least 1") }
        guard warmupSeconds >= 0, warmupSeconds < durationSeconds else { throw .invalid("warmup_seconds", "must be below duration_seconds") }
        guard connections >= 1 else { throw .invalid("connections", "must be at least 1") }
        guard !requireTargets || !targets.isEmpty || regionMap != nil else { throw .invalid("targets", "name at least one edge (or region_map)") }
        guard targets.allSatisfy({ $0.weight >= 0 && (1...65_535).contains($0.port) }) else { throw .invalid("targets", "ports 1-65535, weights >= 0") }
        guard !targets.isEmpty ? targets.contains(where: { $0.weight > 0 }) : true else { throw .invalid("targets", "some weight must be positive") }
        guard operations.contains(where: { $0.1 > 0 }), operations.allSatisfy({ $0.1 >= 0 }) else {
            throw .invalid("operations", "weights must be >= 0 and one positive")
        }
        guard currencies.contains(where: { $0.1 > 0 }), currencies.allSatisfy({ $0.0.count == 3 && $0.0.allSatisfy(\.isUppercase) && $0.1 >= 0 }) else {
            throw .invalid("currencies", "ISO 4217 codes with weights >= 0, one positive")
        }
        guard cards.contains(where: { $0.1 > 0 }), cards.allSatisfy({ $0.1 >= 0 }) else { throw .invalid("cards", "weights must be >= 0 and one positive") }
        guard amountMinor.lowerBound >= 1 else { throw .invalid("amount_minor", "must be positive") }
        guard (0...65_536).contains(echoPayloadBytes) else { throw .invalid("echo_payload_bytes", "0 to 65536") }
    }

    /// The operations other than echo: whether the run needs API keys.
    public var needsMerchants: Bool { operations.contains { $0.0 != .echo && $0.1 > 0 } }
}

/// A scenario file or flag that cannot be used.
public enum LoadScenarioError: Error, Equatable, CustomStringConvertible {
    case invalid(String, String)
    case unreadable(String)

    public var description: String {
        switch self {
        case .invalid(let field, let reason): "scenario field \(field): \(reason)"
        case .unreadable(let reason): "scenario file: \(reason)"
        }
    }
}
