import PostgresNIO

/// How Payrail's PostgreSQL pools (payments, vault, replicas) hold their connections.
public enum PostgresConnectionPolicy: Sendable {
    /// Every connection opens at start and stays open (a server process: the core, the
    /// webhook dispatcher).
    ///
    /// Why: postgres-nio's pool arms a keep-alive timer (30 s) and, for a connection beyond
    /// its minimum, an idle-timeout timer (60 s) each time a connection goes back idle, and
    /// cancels them at the connection's next lease, microseconds later under load. On Linux a
    /// cancelled `Task.sleep` keeps its task and its dispatch timer until the original
    /// deadline, so at a few hundred leases a second the core held about 90 s worth of them:
    /// its memory grew with the load and the timers' churn showed in the tail latency
    /// (docs/performance.md, "Memory"). With every connection counted as the minimum and no
    /// keep-alive query, parking a connection arms nothing. What the keep-alive would have
    /// found, a connection the server closed (restart, failover, `pg_terminate_backend`), the
    /// socket reports at once and the pool replaces it; a query on a connection lost silently
    /// fails, and that writer's or reader's caller retries under its idempotency key.
    case keptOpen
    /// Connections open on demand and close after a minute idle: for tests and tools that
    /// open many stores against one server, which would otherwise hold
    /// `maximumConnections` each from the start.
    case onDemand
}

extension PostgresConnectionPolicy {
    /// Applies the policy and the pool's size to postgres-nio's options.
    func configure(_ options: inout PostgresClient.Configuration.Options, maximumConnections: Int) {
        options.maximumConnections = maximumConnections
        switch self {
        case .keptOpen:
            options.minimumConnections = maximumConnections
            options.keepAliveBehavior = nil
        case .onDemand: options.minimumConnections = 0
        }
    }
}
