import GRPCCore
import PayrailDomain
import PayrailProtos
import PayrailRuntime
import Synchronization

/// The hot path's payment calls over one long-lived stream per edge connection
/// (`PaymentCalls`): every message is answered by the same code as its unary method, with the
/// same validation and errors, in completion order. A call runs to completion once started:
/// an edge that stops waiting (its deadline, its merchant gone) finds the outcome recorded
/// under the idempotency key, as after a lost unary response. At most `pipedCallsInFlightMax`
/// calls of one stream run at once; a further one is answered `core_overloaded` (UNAVAILABLE,
/// safe to retry) instead of queueing without bound.
extension CoreGRPCService {
    public func paymentCalls(request: RPCAsyncSequence<Payrail_Internal_V1_PipedCall, any Error>,
                             response: RPCWriter<Payrail_Internal_V1_PipedResult>, context: ServerContext) async throws {
        let sink = BatchingOutbox<Payrail_Internal_V1_PipedResult>()
        let inFlight = InFlightCounter()
        await withDiscardingTaskGroup { group in
            // One writer per stream, writing every answer ready since its last write at once;
            // if the stream breaks, the calls still running finish (their outcomes are
            // durable) and their answers are dropped.
            group.addTask {
                do {
                    while let results = await sink.next() { try await response.write(contentsOf: results) }
                } catch {
                    while await sink.next() != nil {}
                }
            }
            sink.yield(Payrail_Internal_V1_PipedResult())  // id 0: ready
            await withDiscardingTaskGroup { calls in
                do {
                    for try await call in request {
                        guard call.id != 0 else { continue }
                        guard inFlight.enter(limit: pipedCallsInFlightMax) else {
                            sink.yield(Self.pipedResult(call.id, error: RPCErrorMapping.rpcError(
                                PayrailError(PayrailError.Code("core_overloaded", .unavailable), "too many calls in flight on this stream; retry"))))
                            continue
                        }
                        calls.addTask {
                            sink.yield(await self.answer(call))
                            inFlight.leave()
                        }
                    }
                } catch {
                    logger.debug("payment call stream ended", metadata: ["error_type": "\(type(of: error))"])
                }
            }
            sink.finish()
        }
    }

    /// Runs one piped call through its unary method's body.
    func answer(_ call: Payrail_Internal_V1_PipedCall) async -> Payrail_Internal_V1_PipedResult {
        do {
            let payment: Payrail_V1_Payment
            switch call.call {
            case .createPayment(let request): payment = try await createPayment(request)
            case .getPayment(let request): payment = try await getPayment(request)
            case .confirmPayment(let request): payment = try await confirmPayment(request)
            case .capturePayment(let request): payment = try await capturePayment(request)
            case .cancelPayment(let request): payment = try await cancelPayment(request)
            case .reviewPayment(let request): payment = try await reviewPayment(request)
            case nil:
                return Self.pipedResult(call.id, error: RPCErrorMapping.rpcError(PayrailError(.invalidRequest, "piped call names no method")))
            }
            var result = Payrail_Internal_V1_PipedResult()
            result.id = call.id
            result.payment = payment
            return result
        } catch let error as RPCError {
            return Self.pipedResult(call.id, error: error)
        } catch {
            // The bodies map every failure to an RPCError; this is a defence, without the error's text.
            return Self.pipedResult(call.id, error: RPCErrorMapping.rpcError(PayrailError(.internalError, "internal error")))
        }
    }

    static func pipedResult(_ id: UInt64, error: RPCError) -> Payrail_Internal_V1_PipedResult {
        var result = Payrail_Internal_V1_PipedResult()
        result.id = id
        result.error = RPCErrorMapping.piped(error)
        return result
    }
}

/// Calls running on one stream.
private final class InFlightCounter: Sendable {
    private let count = Atomic<Int>(0)

    /// Counts a call in, unless `limit` are running already.
    func enter(limit: Int) -> Bool {
        guard count.add(1, ordering: .relaxed).newValue <= limit else {
            count.subtract(1, ordering: .relaxed)
            return false
        }
        return true
    }

    func leave() { count.subtract(1, ordering: .relaxed) }
}
