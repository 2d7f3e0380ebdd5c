import Foundation
import PayrailDomain
import GRPCCore
import PayrailProtos
import PayrailRuntime
import PayrailSimulators
import Synchronization

/// Runs a scenario against edges and returns what it measured.
///
/// Workers (as many as `concurrency`) take numbered tickets from one counter. In open loop
/// ticket `n` is due at `start + n / rate`: the worker sleeps until then and the operation's
/// latency is counted from that intended time, so when the system stalls, the late requests
/// carry the stall in their latency (no coordinated omission); a worker that is behind sends at
/// once. In closed loop a worker sends its next operation when the last one returns.
public final class LoadRunner: Sendable {
    public struct Options: Sendable {
        public var scenario: LoadScenario
        /// Merchants' API keys; operations spread over them.
        public var apiKeys: [String]
        /// Processes whose memory is sampled every second (e.g. the edge and the core).
        public var watchedProcesses: [(pid: Int32, name: String)] = []
        /// Called once a second with a progress line.
        public var progress: @Sendable (String) -> Void = { _ in }
        /// Tags idempotency keys so runs never collide.
        public var runID: String
        public init(scenario: LoadScenario, apiKeys: [String], runID: String) {
            self.scenario = scenario
            self.apiKeys = apiKeys
            self.runID = runID
        }
    }

    private let options: Options
    private let recorder = LoadRecorder()
    private let tickets = Atomic<Int>(0)
    private let recent = RecentPayments(capacity: 4096)
    private let cards: [String]
    private let metadata: [Metadata]
    private let operations: LoadScenario.WeightedTable<LoadScenario.Operation>
    private let currencies: LoadScenario.WeightedTable<String>
    private let outcomes: LoadScenario.WeightedTable<LoadScenario.CardOutcome>
    private let echoPayload: Data

    public init(_ options: Options) {
        self.options = options
        cards = [TestCards.visaSuccess, TestCards.mastercardSuccess] + (0..<512).map { TestCards.generated($0) }
        metadata = options.apiKeys.map { ["authorization": "Bearer \($0)"] }
        operations = .init(options.scenario.operations)
        currencies = .init(options.scenario.currencies)
        outcomes = .init(options.scenario.cards)
        echoPayload = Data((0..<options.scenario.echoPayloadBytes).map { UInt8(truncatingIfNeeded: $0 &* 31) })
    }

    public func run() async throws -> LoadResult {
        let scenario = options.scenario
        try scenario.validate()
        if scenario.needsMerchants && options.apiKeys.isEmpty {
            throw LoadScenarioError.invalid("api keys", "payment operations need at least one merchant API key")
        }
        guard let caPath = scenario.caPath else { throw LoadScenarioError.invalid("ca", "the CA certificate of the edges is needed for TLS") }
        var targets = scenario.targets
        if let seed = scenario.regionMap {
            targets = try await LoadConnections.regionMapTargets(seed: seed, caPath: caPath)
            guard !targets.isEmpty else { throw LoadScenarioError.invalid("region_map", "the region map lists no live edge") }
        }
        let connections = try LoadConnections(targets: targets, count: scenario.connections, caPath: caPath)
        let sampler = ProcessSampler(processes: options.watchedProcesses)
        let clock = ContinuousClock()
        let start = clock.now + .milliseconds(200)
        let end = start + .seconds(scenario.durationSeconds)
        let warmupEnd = start + .seconds(scenario.warmupSeconds)
        let startedAtMs = UnixClock.nowMs() + 200

        let reporter = Task {
            var second = 0
            while !Task.isCancelled {
                second += 1
                try? await Task.sleep(until: start + .seconds(second), clock: clock)
                if Task.isCancelled { break }
                let sample = recorder.closeInterval(second: second)
                sampler.sample(second: second)
                options.progress(Self.progressLine(sample, total: scenario.durationSeconds, warmup: second <= scenario.warmupSeconds))
            }
        }
        let openRate: Int64? = if case .open(let rate) = scenario.mode { Int64(rate) } else { nil }
        let maxOperations = scenario.maxOperations ?? Int.max
        await withTaskGroup(of: Void.self) { group in
            for worker in 0..<scenario.concurrency {
                group.addTask {
                    var random = SplitMix64(worker: worker, of: scenario.seed)
                    let connection = connections.all[worker % connections.all.count]
                    try? await Task.sleep(until: start, clock: clock)
                    while true {
                        let ticket = self.tickets.add(1, ordering: .relaxed).oldValue
                        if ticket >= maxOperations { return }
                        let intended: ContinuousClock.Instant
                        if let openRate {
                            // Exact: the n-th request is due n/rate seconds after the start.
                            let due = start + .nanoseconds(Int64(ticket) * 1_000_000_000 / openRate)
                            if due >= end { return }
                            if due > clock.now { try? await Task.sleep(until: due, clock: clock) }
                            intended = due
                        } else {
                            intended = clock.now
                            if intended >= end { return }
                        }
                        let operation = self.operations.pick(Int(truncatingIfNeeded: random.next() >> 1))
                        await self.perform(operation, ticket: ticket, intended: intended, measured: intended >= warmupEnd,
                                           connection: connection, random: &random, clock: clock)
                    }
                }
            }
        }
        reporter.cancel()
        _ = await reporter.result
        let finishedAt = clock.now
        await connections.close()
        let state = recorder.snapshot
        let measuredSeconds = Double((finishedAt - warmupEnd).components.seconds)
            + Double((finishedAt - warmupEnd).components.attoseconds) / 1e18
        return LoadResult(scenario: scenario, targets: targets, startedAtMs: startedAtMs, measuredSeconds: max(0.001, measuredSeconds),
                          state: state, processes: sampler.series, machine: sampler.machine)
    }

    static func progressLine(_ sample: LoadRecorder.Interval, total: Int, warmup: Bool) -> String {
        func ms(_ us: UInt64) -> String { formatMs(us) }
        let phase = warmup ? " (warm-up)" : ""
        return "[\(pad(sample.second, 4))/\(total)s] \(pad(sample.completed, 7)) ops/s  p50 \(ms(sample.p50Us))  p99 \(ms(sample.p99Us))"
            + "  max \(ms(sample.maxUs))  errors \(sample.errors)  in flight \(sample.inFlight)\(phase)"
    }

    // MARK: Operations

    private func perform(_ operation: LoadScenario.Operation, ticket: Int, intended: ContinuousClock.Instant, measured: Bool,
                         connection: LoadConnections.Connection, random: inout SplitMix64, clock: ContinuousClock) async {
        recorder.inFlight.add(1, ordering: .relaxed)
        defer { recorder.inFlight.subtract(1, ordering: .relaxed) }
        let merchant = metadata.isEmpty ? 0 : Int(truncatingIfNeeded: random.next() >> 1) % metadata.count
        do {
            var status: Int?
            switch operation {
            case .echo:
                let response = try await connection.echo.echo(.with { $0.payload = echoPayload })
                if response.payload.count != echoPayload.count { throw LoadFailure.wrongAnswer }
            case .createAutoCapture:
                status = try await createAndFinish(connection, merchant: merchant, ticket: ticket, manual: false, random: &random).status.rawValue
            case .createThenCapture:
                let payment = try await createAndFinish(connection, merchant: merchant, ticket: ticket, manual: true, random: &random)
                if payment.status == .requiresCapture {
                    status = try await connection.payments.capturePayment(.with {
                        $0.idempotencyKey = "\(options.runID)-\(ticket)-capture"
                        $0.paymentID = payment.id
                    }, metadata: metadata[merchant]).status.rawValue
                } else {
                    status = payment.status.rawValue
                }
            case .refund:
                let payment = try await createAndFinish(connection, merchant: merchant, ticket: ticket, manual: false, random: &random,
                                                        outcome: .approve)
                if payment.status == .succeeded {
                    _ = try await connection.refunds.createRefund(.with {
                        $0.idempotencyKey = "\(options.runID)-\(ticket)-refund"
                        $0.paymentID = payment.id
                        $0.amountMinor = max(1, payment.amountCapturedMinor / 2)
                    }, metadata: metadata[merchant])
                }
                status = payment.status.rawValue
            case .get:
                if let (owner, id) = recent.pick(Int(truncatingIfNeeded: random.next() >> 1)) {
                    status = try await connection.payments.getPayment(.with { $0.paymentID = id }, metadata: metadata[owner]).status.rawValue
                } else {
                    status = try await createAndFinish(connection, merchant: merchant, ticket: ticket, manual: false, random: &random).status.rawValue
                }
            case .idempotentRetry:
                let request = createRequest(merchant: merchant, ticket: ticket, manual: false, random: &random, outcome: .approve)
                let first = try await connection.payments.createPayment(request, metadata: metadata[merchant])
                let again = try await connection.payments.createPayment(request, metadata: metadata[merchant])
                recorder.retry(samePayment: again.id == first.id && again.status == first.status)
                status = again.status.rawValue
            }
            recorder.success(operation, latencyUs: Self.microseconds(clock.now - intended), measured: measured, status: status)
        } catch let error as RPCError {
            recorder.failure(operation, status: "\(error.code)", reason: error.metadata[stringValues: RPCErrorMapping.reasonKey].first(where: { _ in true }) ?? "-",
                             measured: measured)
        } catch {
            recorder.failure(operation, status: "client", reason: "\(type(of: error))", measured: measured)
        }
    }

    private func createRequest(merchant: Int, ticket: Int, manual: Bool, random: inout SplitMix64,
                               outcome forced: LoadScenario.CardOutcome? = nil) -> Payrail_V1_CreatePaymentRequest {
        let roll = random.next()
        let number: String
        switch forced ?? outcomes.pick(Int(truncatingIfNeeded: roll >> 1)) {
        case .approve: number = cards[Int(truncatingIfNeeded: (roll >> 20) % UInt64(cards.count))]
        case .decline: number = roll & 1 == 0 ? TestCards.insufficientFunds : TestCards.genericDecline
        case .threeDS: number = TestCards.threeDSRequired
        }
        let span = UInt64(options.scenario.amountMinor.upperBound - options.scenario.amountMinor.lowerBound + 1)
        let amount = options.scenario.amountMinor.lowerBound + Int64(random.next() % span)
        let currency = currencies.pick(Int(truncatingIfNeeded: random.next() >> 1))
        return .with {
            $0.idempotencyKey = "\(options.runID)-\(ticket)"
            $0.amount = .with { $0.amountMinor = amount; $0.currency = currency }
            $0.captureMethod = manual ? .manual : .automatic
            $0.card = .with {
                $0.number = number
                $0.expMonth = 12
                $0.expYear = 2034
                $0.cvc = number.hasPrefix("34") || number.hasPrefix("37") ? "1234" : "123"
            }
        }
    }

    /// Creates a payment and, for a 3-D Secure challenge, confirms it with the cardholder's code.
    private func createAndFinish(_ connection: LoadConnections.Connection, merchant: Int, ticket: Int, manual: Bool,
                                 random: inout SplitMix64, outcome: LoadScenario.CardOutcome? = nil) async throws -> Payrail_V1_Payment {
        let request = createRequest(merchant: merchant, ticket: ticket, manual: manual, random: &random, outcome: outcome)
        var payment = try await connection.payments.createPayment(request, metadata: metadata[merchant])
        if payment.status == .requiresAction {
            payment = try await connection.payments.confirmPayment(.with {
                $0.idempotencyKey = "\(options.runID)-\(ticket)-confirm"
                $0.paymentID = payment.id
                $0.threeDsOtp = TestCards.validOTP
            }, metadata: metadata[merchant])
        }
        recent.add(merchant: merchant, id: payment.id)
        return payment
    }

    static func microseconds(_ duration: Duration) -> UInt64 {
        UInt64(max(0, duration.wholeMicroseconds))
    }
}

enum LoadFailure: Error { case wrongAnswer }

/// Payments this run created, for GetPayment: a fixed ring, newest overwriting oldest.
final class RecentPayments: Sendable {
    private let ring: Mutex<(entries: [(Int, String)], next: Int)>
    private let capacity: Int
    init(capacity: Int) {
        self.capacity = capacity
        ring = Mutex(([], 0))
    }
    func add(merchant: Int, id: String) {
        ring.withLock { ring in
            if ring.entries.count < capacity { ring.entries.append((merchant, id)) } else { ring.entries[ring.next % capacity] = (merchant, id) }
            ring.next += 1
        }
    }
    func pick(_ roll: Int) -> (Int, String)? {
        ring.withLock { ring in ring.entries.isEmpty ? nil : ring.entries[roll % ring.entries.count] }
    }
}

/// A small fast random generator (SplitMix64), one per worker: deterministic per seed.
struct SplitMix64 {
    private var state: UInt64
    init(seed: UInt64) { state = seed }
    /// Worker streams must not be shifts of one another (every SplitMix64 walks the same
    /// gamma-spaced states): each worker starts at a hashed, unrelated point.
    init(worker: Int, of seed: UInt64) {
        var mixer = SplitMix64(seed: seed ^ (UInt64(worker) &* 0xD1B5_4A32_D192_ED03))
        state = mixer.next() ^ mixer.next()
    }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

func pad(_ value: Int, _ width: Int) -> String {
    let text = String(value)
    return String(repeating: " ", count: max(0, width - text.count)) + text
}

/// Milliseconds with two decimals, from microseconds, without Foundation formatting.
func formatMs(_ us: UInt64) -> String {
    let hundredths = (us + 5) / 10
    let fraction = hundredths % 100
    return "\(hundredths / 100).\(fraction < 10 ? "0" : "")\(fraction) ms"
}
