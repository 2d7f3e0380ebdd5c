import GRPCCore
import GRPCNIOTransportHTTP2
import Logging
import Metrics
import PayrailProtos
import PayrailRuntime
import ServiceLifecycle
import Synchronization

/// The hot path's payment calls to one core connection over one long-lived `PaymentCalls`
/// stream: a payment costs a message each way instead of an HTTP/2 stream, its headers and a
/// gRPC call's set-up at both ends. Calls are matched to answers by id.
///
/// The stream is an optimisation, never a new way to fail: ``send(_:timeout:)`` returns nil
/// while no stream is up (connecting, reconnecting, a core without `PaymentCalls`, asked again
/// every 30 s by default) and the gateway then makes the unary call. When a stream breaks, the
/// calls on it fail as a broken unary call would (UNAVAILABLE, no Payrail reason), so the gateway's failover and the
/// merchant's retry with the same idempotency key apply unchanged. The edge enforces each
/// call's deadline itself; the core runs a started call to completion (it is durable).
final class CoreCallPipe: Service, Sendable {
    typealias Call = Payrail_Internal_V1_PipedCall
    typealias Answer = Payrail_Internal_V1_PipedResult

    private struct Waiter {
        var continuation: CheckedContinuation<Answer?, any Error>
        var deadline: ContinuousClock.Instant
    }

    private struct State {
        /// Where calls are written; nil while no stream is ready.
        var outbound: BatchingOutbox<Call>?
        var waiting: [UInt64: Waiter] = [:]
        var stopping = false
    }

    private let client: Payrail_Internal_V1_Core.Client<HTTP2ClientTransport.Posix>
    private let state = Mutex(State())
    private let nextID = Atomic<UInt64>(1)
    private let sentCount = Atomic<Int>(0)
    private let streamsOpened = Atomic<Int>(0)
    private let refusedCount = Atomic<Int>(0)
    /// How long to wait before asking a core that refused the stream (UNIMPLEMENTED) again.
    private let unimplementedRetry: Duration
    private let pipedCalls = Counter(label: "payrail_edge_piped_calls_total")
    private let logger: Logger
    /// How often deadlines are checked: the precision of a piped call's deadline.
    private let deadlineTick: Duration

    init(client: Payrail_Internal_V1_Core.Client<HTTP2ClientTransport.Posix>, logger: Logger, deadlineTick: Duration = .milliseconds(10),
         unimplementedRetry: Duration = .seconds(30)) {
        self.client = client
        self.logger = logger
        self.deadlineTick = deadlineTick
        self.unimplementedRetry = unimplementedRetry
    }

    /// Whether a stream is ready to carry calls.
    var isReady: Bool { state.withLock { $0.outbound != nil } }

    /// Calls sent on a stream since start (not those left to the unary path).
    var callsSent: Int { sentCount.load(ordering: .relaxed) }

    /// Streams the core declared ready since start (1 unless a stream broke).
    var streamsReady: Int { streamsOpened.load(ordering: .relaxed) }

    /// Times the core answered UNIMPLEMENTED (it does not serve `PaymentCalls`).
    var streamsRefused: Int { refusedCount.load(ordering: .relaxed) }

    /// Sends `call` and waits for its answer; nil if no stream is ready (nothing was sent).
    /// Throws `deadlineExceeded` after `timeout`, `unavailable` if the stream breaks first, and
    /// `CancellationError` if the caller is cancelled (the core still completes the call).
    func send(_ call: Call.OneOf_Call, timeout: Duration) async throws -> Answer? {
        let id = nextID.add(1, ordering: .relaxed).oldValue
        var message = Call()
        message.id = id
        message.call = call
        let deadline = ContinuousClock.now.advanced(by: timeout)
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Answer?, any Error>) in
                let sent = state.withLock { state -> Bool in
                    guard let outbound = state.outbound else { return false }
                    state.waiting[id] = Waiter(continuation: continuation, deadline: deadline)
                    outbound.yield(message)
                    return true
                }
                if sent {
                    sentCount.add(1, ordering: .relaxed)
                    pipedCalls.increment()
                } else {
                    continuation.resume(returning: nil)
                }
            }
        } onCancel: {
            state.withLock { $0.waiting.removeValue(forKey: id) }?.continuation.resume(throwing: CancellationError())
        }
    }

    func run() async throws {
        await withGracefulShutdownHandler {
            await withDiscardingTaskGroup { group in
                group.addTask { await self.expireDeadlines() }
                await self.keepStreamOpen()
                group.cancelAll()
            }
        } onGracefulShutdown: {
            // Calls already sent are answered before the stream closes; new ones go unary.
            self.state.withLock { state in
                state.stopping = true
                state.outbound?.finish()
                state.outbound = nil
            }
        }
    }

    /// Opens the stream again whenever it ends, with backoff, until shutdown.
    private func keepStreamOpen() async {
        var backoff = Duration.milliseconds(50)
        while !Task.isCancelled, !state.withLock({ $0.stopping }) {
            let outbound = BatchingOutbox<Call>()
            let becameReady = Atomic<Bool>(false)
            do {
                try await client.paymentCalls(requestProducer: { writer in
                    // Every call queued since the last write goes out in one write and flush.
                    while let calls = await outbound.next() { try await writer.write(contentsOf: calls) }
                }, onResponse: { response in
                    for try await answer in response.messages {
                        if answer.id == 0 {
                            self.ready(outbound)
                            becameReady.store(true, ordering: .relaxed)
                        } else {
                            self.resolve(answer)
                        }
                    }
                })
            } catch let error as RPCError where error.code == .unimplemented {
                // An older core: unary calls meanwhile, and a look again later (it may be
                // upgraded in place during a rolling deploy).
                if refusedCount.add(1, ordering: .relaxed).oldValue == 0 {
                    logger.notice("the core does not serve PaymentCalls; payment calls stay unary, asking again",
                                  metadata: ["every": "\(unimplementedRetry)"])
                }
                failWaiting(outbound)
                try? await Task.sleep(for: unimplementedRetry)
                continue
            } catch {
                logger.debug("payment call stream ended", metadata: ["error_type": "\(type(of: error))"])
            }
            failWaiting(outbound)
            if becameReady.load(ordering: .relaxed) { backoff = .milliseconds(50) }
            try? await Task.sleep(for: backoff)
            backoff = min(backoff * 2, .seconds(2))
        }
    }

    private func ready(_ outbound: BatchingOutbox<Call>) {
        let stopping = state.withLock { state in
            if !state.stopping { state.outbound = outbound }
            return state.stopping
        }
        if stopping { outbound.finish() } else { streamsOpened.add(1, ordering: .relaxed) }
    }

    private func resolve(_ answer: Answer) {
        state.withLock { $0.waiting.removeValue(forKey: answer.id) }?.continuation.resume(returning: answer)
    }

    /// The stream ended: nothing more is sent on it, and its unanswered calls fail as a broken
    /// unary call would.
    private func failWaiting(_ outbound: BatchingOutbox<Call>) {
        outbound.finish()
        let waiting = state.withLock { state in
            state.outbound = nil
            let waiting = state.waiting
            state.waiting.removeAll()
            return waiting
        }
        for waiter in waiting.values {
            waiter.continuation.resume(throwing: RPCError(code: .unavailable, message: "the stream to the core ended"))
        }
    }

    private func expireDeadlines() async {
        while !Task.isCancelled {
            try? await Task.sleep(for: deadlineTick)
            let now = ContinuousClock.now
            let expired = state.withLock { state -> [Waiter] in
                var expired: [Waiter] = []
                for (id, waiter) in state.waiting where waiter.deadline <= now {
                    expired.append(waiter)
                    state.waiting.removeValue(forKey: id)
                }
                return expired
            }
            for waiter in expired {
                waiter.continuation.resume(throwing: RPCError(code: .deadlineExceeded, message: "the core did not answer in time"))
            }
        }
    }
}
