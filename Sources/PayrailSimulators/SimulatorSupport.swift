import PayrailDomain

/// What a simulated processor reported on its own and not yet had acknowledged, each
/// deliverable from its time on (networks report with a delay). Lives inside a simulator's
/// locked state.
struct NotificationQueue: Sendable {
    private var queued: [(notification: ConnectorNotification, visibleAt: ContinuousClock.Instant)] = []

    mutating func append(_ notification: ConnectorNotification, after delay: Duration = .zero) {
        queued.append((notification, .now + delay))
    }

    /// The deliverable notifications, oldest first.
    func due(limit: Int) -> [ConnectorNotification] {
        let now = ContinuousClock.now
        return Array(queued.lazy.filter { $0.visibleAt <= now }.prefix(limit).map(\.notification))
    }

    mutating func acknowledge(_ ids: [String]) {
        let acknowledged = Set(ids)
        queued.removeAll { acknowledged.contains($0.notification.id) }
    }
}

/// Simulated processors without chargebacks (bank debits, BNPL plans, redirect wallets here):
/// answering a dispute is refused.
protocol ChargebackFree: CardConnector {}

extension ChargebackFree {
    public func submitDisputeEvidence(networkDisputeID: String, evidence: String, idempotencyKey: String) async throws(ConnectorError) -> ProcessorOutcome {
        .failed(SimulatedFailures.noSuchDispute)
    }

    public func acceptDispute(networkDisputeID: String, idempotencyKey: String) async throws(ConnectorError) -> ProcessorOutcome {
        .failed(SimulatedFailures.noSuchDispute)
    }
}

enum SimulatedFailures {
    static let noSuchDispute = Failure(reason: "processing_error", declineCode: .processingError, message: "No such dispute.")

    static func processing(_ message: String) -> Failure {
        Failure(reason: "processing_error", declineCode: .processingError, message: message)
    }
}

/// Waits `ms` of simulated processor time; a cancelled wait reads as the processor being unavailable.
func simulatedDelay(ms: Int) async throws(ConnectorError) {
    guard ms > 0 else { return }
    do { try await Task.sleep(for: .milliseconds(ms)) } catch { throw .unavailable }
}

/// A simulated processor's memory of keys and references, bounded the way a real processor's
/// idempotency window is: it remembers at least the latest `capacity / 2` entries and at most
/// `capacity`, and forgets older ones wholesale (two generations; when the newer one fills, the
/// older is dropped). Without a bound a simulator inside a long-running core would grow by a
/// few hundred bytes per payment forever. A forgotten key is answered as never seen.
struct BoundedMemory<Key: Hashable & Sendable, Value: Sendable>: Sendable {
    private var current: [Key: Value] = [:]
    private var previous: [Key: Value] = [:]
    private let generationCapacity: Int

    init(capacity: Int) {
        generationCapacity = max(1, capacity / 2)
    }

    subscript(key: Key) -> Value? {
        get { current[key] ?? previous[key] }
        set {
            previous.removeValue(forKey: key)
            if let newValue {
                if current.count >= generationCapacity && current[key] == nil {
                    previous = current
                    current = [:]
                    current.reserveCapacity(generationCapacity)
                }
                current[key] = newValue
            } else {
                current.removeValue(forKey: key)
            }
        }
    }

    func contains(_ key: Key) -> Bool { current[key] != nil || previous[key] != nil }

    /// Every remembered value (each key once).
    var values: [Value] { Array(current.values) + previous.lazy.filter { current[$0.key] == nil }.map(\.value) }

    var count: Int { current.count + previous.count }
}

/// How many keys and references each non-card simulator remembers (see ``BoundedMemory``).
let simulatorMemoryCapacity = 20_000
