import GRPCCore
import Testing
import PayrailCluster
import PayrailDomain
import PayrailProtos

/// Refunds racing each other on one payment can never add up to more than was captured
/// (Hyperswitch's issue 13182 is the failure this prevents): the reservation is taken in the
/// same transaction that reads the payment.
@Suite struct RefundConcurrencyTests {
    @Test(arguments: ClusterStore.available)
    func concurrentRefundsNeverExceedTheCapturedAmount(_ store: ClusterStore) async throws {
        try await withCluster(store: store) { cluster, client, _, _ in
            let payment = try await client.payments.createPayment(createRequest(key: "race-pay", amount: 10_000), metadata: client.metadata)
            #expect(payment.status == .succeeded)
            let outcomes = await withTaskGroup(of: (Int64, String).self) { group in
                for index in 0..<8 {
                    group.addTask {
                        do {
                            let refund = try await client.refunds.createRefund(
                                .with { $0.idempotencyKey = "race-\(index)"; $0.paymentID = payment.id; $0.amountMinor = 3_000 },
                                metadata: client.metadata)
                            return (refund.status == .succeeded ? refund.amount.amountMinor : 0, "ok")
                        } catch let error as RPCError {
                            return (0, error.metadata[stringValues: "payrail-error-reason"].first(where: { _ in true }) ?? "\(error.code)")
                        } catch {
                            return (0, "\(error)")
                        }
                    }
                }
                var all: [(Int64, String)] = []
                for await outcome in group { all.append(outcome) }
                return all
            }
            let refunded = outcomes.map(\.0).reduce(0, +)
            #expect(refunded == 9_000, "three refunds of 3,000 fit in 10,000; a fourth never does: \(outcomes)")
            #expect(outcomes.filter { $0.1 == "amount_exceeds_refundable" }.count == 5, "\(outcomes)")
            let stored = try await client.payments.getPayment(.with { $0.paymentID = payment.id }, metadata: client.metadata)
            #expect(stored.amountRefundedMinor == 9_000)
            let report = try await cluster.core.ledger.verify()
            #expect(report.isValid)
        }
    }
}
