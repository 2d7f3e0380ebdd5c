import Synchronization

/// Keeps an edge's configuration current without a restart: on each ``reload()`` (SIGHUP)
/// the file is read and validated again; a valid file's rate limits and idempotency retention
/// take effect at once, a bad file is refused with its file, line and reason, and the
/// configuration in force stays. Listen address, TLS files and upstream changes need a restart;
/// a reload reports them rather than applying half of them.
public final class EdgeConfigReloader: Sendable {
    public let path: String
    public let edgeID: String
    private let current: Mutex<EdgeConfig>
    private let apply: @Sendable (EdgeConfig) -> Void

    public init(path: String, edgeID: String, initial: EdgeConfig, apply: @escaping @Sendable (EdgeConfig) -> Void) {
        self.path = path
        self.edgeID = edgeID
        self.current = Mutex(initial)
        self.apply = apply
    }

    public var inForce: EdgeConfig { current.withLock { $0 } }

    /// Re-reads the file. Returns what could not be applied without a restart (empty: all of it).
    @discardableResult
    public func reload() throws -> [String] {
        let next = try EdgeConfigParser.load(path: path)
        guard let edge = next.edge(id: edgeID) else {
            throw EdgeConfigError(file: path, line: 0, column: 0, reason: "edge \"\(edgeID)\" is no longer in the file")
        }
        let previous = current.withLock { $0 }
        var needsRestart: [String] = []
        if let old = previous.edge(id: edgeID) {
            if old.edge.listen != edge.edge.listen { needsRestart.append("listen address \(old.edge.listen) -> \(edge.edge.listen)") }
            if old.edge.tls != edge.edge.tls { needsRestart.append("TLS files") }
        }
        if previous.upstream != next.upstream { needsRestart.append("upstream") }
        apply(next)
        current.withLock { $0 = next }
        return needsRestart
    }
}
