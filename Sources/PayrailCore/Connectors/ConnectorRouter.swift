import Logging
import Metrics
import PayrailDomain

/// Sends each processor call to the right processor and survives the processor's bad days:
/// routes by method, currency, region and brand (``RoutingTable``), retries transient
/// failures with exponential backoff and jitter, asks the processor's status after a timeout,
/// and fails over to the route's next processor only once the first provably holds no
/// authorization (it never got the request, or a reversal undid it). So a failover never
/// leaves two authorizations behind; when that cannot be proven the outcome is reported
/// unknown, and the reconciliation job settles it later by asking the processor again.
public final class ConnectorRouter: Sendable {
    /// The result of routing an authorization.
    public enum AuthorizationResult: Sendable, Hashable {
        /// `connector` answered with `outcome`.
        case answered(connector: String, AuthorizationOutcome)
        /// `connector` may or may not have authorized: leave the payment `processing`.
        case unknown(connector: String)
    }

    public let table: RoutingTable
    private let connectors: [String: any CardConnector]
    private let retry: ConnectorRetryPolicy
    private let sleep: @Sendable (Int) async -> Void
    private let logger: Logger
    private let retries = Counter(label: "payrail_connector_retries_total")
    private let failovers = Counter(label: "payrail_connector_failovers_total")
    private let unknownOutcomes = Counter(label: "payrail_connector_unknown_outcomes_total")

    /// `connectors` must include every connector `table` names.
    public init(connectors: [any CardConnector], table: RoutingTable, retry: ConnectorRetryPolicy = ConnectorRetryPolicy(),
                sleep: @escaping @Sendable (Int) async -> Void = { ms in try? await Task.sleep(for: .milliseconds(ms)) },
                logger: Logger = Logger(label: "payrail.core.connectors")) {
        var byName: [String: any CardConnector] = [:]
        for connector in connectors {
            precondition(byName[connector.name] == nil, "two connectors named \(connector.name)")
            byName[connector.name] = connector
        }
        for name in table.connectorNames { precondition(byName[name] != nil, "the routing table names an unknown connector \(name)") }
        self.connectors = byName
        self.table = table
        self.retry = retry
        self.sleep = sleep
        self.logger = logger
    }

    /// One processor for everything (tests, single-acquirer deployments).
    public convenience init(single connector: any CardConnector, retry: ConnectorRetryPolicy = ConnectorRetryPolicy()) {
        self.init(connectors: [connector], table: .single(connector.name), retry: retry)
    }

    /// The connector names this router knows.
    public var connectorNames: [String] { connectors.keys.sorted() }

    /// The route for a new payment; a typed error when no route takes it.
    public func route(for input: RoutingTable.RoutingInput) throws(PayrailError) -> RoutingTable.Route {
        guard let route = table.route(for: input) else {
            throw PayrailError(.paymentMethodUnsupported,
                               "no processor takes \(input.method) payments in \(input.currency.code)"
                               + (input.brand.map { " on \($0.rawValue)" } ?? ""))
        }
        return route
    }

    /// The processors still to try for `payment`, in order: its current one first (even if this
    /// core no longer runs it: it may hold an authorization, so the outcome is then unknown and
    /// nothing is sent elsewhere), then the rest of its route after it, never one it was already
    /// tried at, never one this core does not run.
    public func remainingConnectors(for payment: Payment, route: RoutingTable.Route?) -> [String] {
        let order = route?.connectors ?? []
        let after = order.firstIndex(of: payment.connector).map { Array(order[($0 + 1)...]) } ?? order
        var seen: Set<String> = [payment.connector]
        let rest = after.filter { !payment.connectorsTried.contains($0) && seen.insert($0).inserted }
        return [payment.connector] + rest.filter { connectors[$0] != nil }
    }

    /// Authorizes at the first processor of `candidates` that takes the request. Before moving
    /// from one to the next, `failover(next)` must record durably that the payment now belongs to
    /// `next` (a crash must not forget where an authorization may be); if it throws, routing stops
    /// with an unknown outcome.
    public func authorize(_ request: AuthorizationRequest, candidates: [String],
                          failover: (String) async throws -> Void) async -> AuthorizationResult {
        guard !candidates.isEmpty else { return .answered(connector: "", .declined(Self.unavailableFailure)) }
        for (index, name) in candidates.enumerated() {
            guard let connector = connectors[name] else { return .unknown(connector: name) }
            // Whether a request may have reached this processor and be processed late.
            var mayHaveArrived = false
            attempts: for attempt in 1...retry.attemptsPerConnector {
                if attempt > 1 {
                    retries.increment()
                    await backoff(retry: attempt - 1)
                }
                let answer: AuthorizationOutcome
                do {
                    answer = try await connector.authorize(request)
                } catch {
                    guard error == .timeout else { continue attempts } // unavailable: refused, nothing happened
                    switch await status(connector, idempotencyKey: request.idempotencyKey) {
                    case .completed(let outcome, _)?:
                        return .answered(connector: name, outcome)
                    case .reversed?:
                        return .answered(connector: name, .declined(Self.reversedFailure))
                    case .notReceived?:
                        mayHaveArrived = true
                        continue attempts
                    case nil:
                        unknownOutcomes.increment()
                        return .unknown(connector: name)
                    }
                }
                return .answered(connector: name, answer)
            }
            // This processor did not take the request. If a copy may still arrive, reverse it
            // first: then it can never authorize, and the next processor is safe to ask.
            if mayHaveArrived {
                guard await reverse(connector, idempotencyKey: request.idempotencyKey) else {
                    unknownOutcomes.increment()
                    return .unknown(connector: name)
                }
            }
            guard index + 1 < candidates.count else {
                return .answered(connector: name, .declined(Self.unavailableFailure))
            }
            let next = candidates[index + 1]
            do {
                try await failover(next)
            } catch {
                unknownOutcomes.increment()
                return .unknown(connector: name)
            }
            failovers.increment()
            logger.notice("processor failover", metadata: ["payment": "\(request.paymentID)", "from": "\(name)", "to": "\(next)"])
        }
        preconditionFailure("unreachable: the last candidate returns")
    }

    /// The processor's answer about an authorization, retried on transient failures; nil when
    /// it cannot be had now.
    public func status(_ connector: any CardConnector, idempotencyKey: String) async -> AuthorizationStatus? {
        for attempt in 1...retry.attemptsPerConnector {
            if attempt > 1 { await backoff(retry: attempt - 1) }
            if let status = try? await connector.authorizationStatus(idempotencyKey: idempotencyKey) { return status }
        }
        return nil
    }

    /// Reverses the authorization sent under `idempotencyKey`; true once the processor confirmed.
    public func reverse(_ connector: any CardConnector, idempotencyKey: String) async -> Bool {
        for attempt in 1...retry.attemptsPerConnector {
            if attempt > 1 { await backoff(retry: attempt - 1) }
            if case .succeeded? = try? await connector.reverseAuthorization(idempotencyKey: idempotencyKey) { return true }
        }
        return false
    }

    /// A follow-up call (capture, void, refund, challenge) to the processor that holds the
    /// payment, repeated with its idempotency key on timeouts and transient errors (safe: the
    /// key makes a repeat return the first answer). Throws the last error when it gives up.
    public func call<T: Sendable>(_ name: String, _ body: (any CardConnector) async throws(ConnectorError) -> T) async throws(ConnectorError) -> T {
        guard let connector = connectors[name] else { throw .unavailable }
        var lastError = ConnectorError.unavailable
        for attempt in 1...retry.attemptsPerConnector {
            if attempt > 1 {
                retries.increment()
                await backoff(retry: attempt - 1)
            }
            do {
                return try await body(connector)
            } catch {
                lastError = error
            }
        }
        throw lastError
    }

    /// The connector called `name`, if this core runs it.
    public func connector(_ name: String) -> (any CardConnector)? { connectors[name] }

    private func backoff(retry number: Int) async {
        var random = SystemRandomNumberGenerator()
        let ms = number == 0 ? 0 : retry.backoffMs(retry: number, using: &random)
        if ms > 0 { await sleep(ms) }
    }

    static let unavailableFailure = Failure(reason: "processing_error", declineCode: .processingError,
                                            message: "The payment processor is unavailable. Try again later.")
    static let reversedFailure = Failure(reason: "processing_error", declineCode: .processingError,
                                         message: "The authorization was reversed at the processor.")
}
