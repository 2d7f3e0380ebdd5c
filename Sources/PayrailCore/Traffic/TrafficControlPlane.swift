import Logging
import PayrailDomain
import PayrailStore
import ServiceLifecycle
import Synchronization

/// The core's traffic control plane: the live region weights (a ``TrafficPlan`` kept in the
/// store's append-only `traffic_changes` log, so every core node sees the same plan and every
/// change is audited), the edges currently connected to this node, and the watchers that are
/// told about each change. Changes made through another core node are picked up by polling.
public final class TrafficControlPlane: Service, Sendable {
    public struct Configuration: Sendable {
        /// The regions this deployment serves; the first start splits traffic evenly among them.
        public var regions: [String]
        /// How often the store is read for changes made through other core nodes.
        public var pollInterval: Duration = .milliseconds(500)
        public init(regions: [String]) { self.regions = regions }
    }

    /// An edge holding a watch on this node.
    public struct EdgeRegistration: Hashable, Sendable {
        public let edgeID: String
        public let region: String
        public let address: String
    }

    /// What watchers receive: the plan and the edges known at that moment.
    public struct Snapshot: Sendable, Equatable {
        public let plan: TrafficPlan
        public let edges: [EdgeRegistration]
    }

    private struct State {
        var plan: TrafficPlan?
        var edges: [Int: EdgeRegistration] = [:]
        var watchers: [Int: AsyncStream<Snapshot>.Continuation] = [:]
        var nextID = 0
        var stopping = false
    }

    private let store: any PaymentStore
    private let configuration: Configuration
    private let now: @Sendable () -> Int64
    private let logger: Logger
    private let state = Mutex(State())

    public init(store: any PaymentStore, configuration: Configuration, now: @escaping @Sendable () -> Int64,
                logger: Logger = Logger(label: "payrail.traffic")) {
        precondition(!configuration.regions.isEmpty, "a control plane needs at least one region")
        self.store = store
        self.configuration = configuration
        self.now = now
        self.logger = logger
    }

    /// The live plan; loads it (creating the first one if the store has none) on first use.
    public func plan() async throws -> TrafficPlan {
        if let plan = state.withLock({ $0.plan }) { return plan }
        return try await load()
    }

    public var snapshot: Snapshot? {
        state.withLock { state in state.plan.map { Snapshot(plan: $0, edges: state.edges.values.sorted { $0.edgeID < $1.edgeID }) } }
    }

    /// Reads the newest plan. If there is none, or its regions are not the configured ones
    /// (a deployment added or removed a region), records a fresh even split.
    @discardableResult
    func load() async throws -> TrafficPlan {
        var attempts = 0
        while true {
            do {
                let plan = try await loadOnce()
                publish(plan)
                return plan
            } catch StoreError.conflict where attempts < 5 {
                // Another core node (or another caller here) initialized it first: read theirs.
                attempts += 1
            }
        }
    }

    private func loadOnce() async throws -> TrafficPlan {
        try await store.write { tx in
            let latest = try await tx.latestTrafficChange()
            if let latest, latest.plan.regions.map(\.name) == self.configuration.regions { return latest.plan }
            let initial = try TrafficPlan.initial(regions: self.configuration.regions, version: (latest?.plan.version ?? 0) + 1)
            let reason = latest == nil ? "first start" : "configured regions changed"
            try await tx.appendTrafficChange(TrafficChange(plan: initial, action: .initialize(regions: self.configuration.regions),
                                                           actor: "payrail-core", reason: reason, atMs: self.now()))
            self.logger.notice("traffic plan initialized", metadata: ["regions": "\(self.configuration.regions)", "reason": "\(reason)"])
            return initial
        }
    }

    /// Applies an operator's change (audited with actor and reason) and tells every watcher.
    /// `expectedVersion` (if not 0) must still be the live version, so two operators cannot
    /// overwrite each other unknowingly; without it a concurrent change is retried on top.
    public func change(_ action: TrafficChange.Action, actor: String, reason: String, expectedVersion: Int64 = 0) async throws -> TrafficChange {
        for _ in 0..<5 {
            do {
                let change: TrafficChange = try await store.write { tx in
                    guard let live = try await tx.latestTrafficChange()?.plan else {
                        throw PayrailError(.trafficVersionConflict, "no traffic plan yet; retry")
                    }
                    if expectedVersion != 0 && live.version != expectedVersion {
                        throw PayrailError(.trafficVersionConflict,
                                           "the plan is at version \(live.version), not \(expectedVersion); review it and retry",
                                           field: "expected_version")
                    }
                    let change = try TrafficChange.make(action, on: live, actor: actor, reason: reason, atMs: self.now())
                    try await tx.appendTrafficChange(change)
                    return change
                }
                logger.notice("traffic changed", metadata: ["version": "\(change.plan.version)", "action": "\(action)",
                                                            "actor": "\(actor)", "reason": "\(reason)"])
                publish(change.plan)
                return change
            } catch StoreError.conflict {
                if expectedVersion != 0 { throw PayrailError(.trafficVersionConflict, "the plan changed meanwhile; review it and retry") }
            }
        }
        throw PayrailError(.trafficVersionConflict, "the plan kept changing; retry")
    }

    /// The newest changes, newest first.
    public func changes(limit: Int) async throws -> [TrafficChange] {
        try await store.read { try await $0.trafficChanges(limit: max(1, min(limit, 1_000))) }
    }

    // MARK: Watching

    /// Registers `edge` (if given) and streams snapshots: the current one first, then one after
    /// every change of the plan or of the connected edges. The stream ends when the caller
    /// stops iterating or this plane shuts down; the edge is forgotten then.
    public func watch(edge: EdgeRegistration?) async throws -> AsyncStream<Snapshot> {
        _ = try await plan()
        let (stream, continuation) = AsyncStream.makeStream(of: Snapshot.self, bufferingPolicy: .bufferingNewest(1))
        let id: Int? = state.withLock { state in
            guard !state.stopping else { return nil }
            let id = state.nextID
            state.nextID += 1
            state.watchers[id] = continuation
            if let edge { state.edges[id] = edge }
            return id
        }
        guard let id else {
            continuation.finish()
            return stream
        }
        continuation.onTermination = { [weak self] _ in
            guard let self else { return }
            let hadEdge = self.state.withLock { state in
                state.watchers[id] = nil
                return state.edges.removeValue(forKey: id) != nil
            }
            if hadEdge { self.broadcast() }
        }
        if edge != nil { broadcast() } else if let snapshot { continuation.yield(snapshot) }
        return stream
    }

    private func publish(_ plan: TrafficPlan) {
        let changed = state.withLock { state in
            guard (state.plan?.version ?? 0) < plan.version || state.plan == nil else { return false }
            state.plan = plan
            return true
        }
        if changed { broadcast() }
    }

    private func broadcast() {
        state.withLock { state in
            guard let plan = state.plan else { return }
            let snapshot = Snapshot(plan: plan, edges: state.edges.values.sorted { $0.edgeID < $1.edgeID })
            for continuation in state.watchers.values { continuation.yield(snapshot) }
        }
    }

    /// Polls the store for changes made through other core nodes until graceful shutdown,
    /// then ends every watch so the server can stop.
    public func run() async throws {
        await withGracefulShutdownHandler {
            while !Task.isCancelled && !state.withLock({ $0.stopping }) {
                do {
                    if state.withLock({ $0.plan }) == nil {
                        try await load()
                    } else if let latest = try await store.read({ try await $0.latestTrafficChange() }) {
                        publish(latest.plan)
                    }
                } catch {
                    logger.warning("reading the traffic plan failed", metadata: ["error": "\(error)"])
                }
                try? await Task.sleep(for: configuration.pollInterval)
            }
        } onGracefulShutdown: {
            let watchers = self.state.withLock { state in
                state.stopping = true
                return Array(state.watchers.values)
            }
            for continuation in watchers { continuation.finish() }
        }
    }
}
