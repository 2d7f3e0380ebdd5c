import Foundation
import PayrailCore
import PayrailDomain
import PayrailProtos
import PayrailRuntime
import PayrailSimulators
import PayrailStore
import PropertyBased
import Testing

/// Random sequences of payment operations over several currencies, through the real payment
/// service and store: every invariant holds and `ledger verify` passes afterwards, and every
/// account's stored balance matches what the payments say it should be.
@Suite struct LedgerPropertyTests {
    @Test func randomOperationSequencesKeepTheLedgerValid() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("payrail-prop-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let keys = try FileKeyring(path: directory + "/keyring")
        let currencies = ["USD", "EUR", "JPY", "KWD"]
        let cards = [TestCards.visaSuccess, TestCards.visaSuccess, TestCards.insufficientFunds, TestCards.mastercardSuccess]

        await propertyCheck(count: 25, input: Gen.int(in: 0...5).array(of: 1...14), Gen.int64(in: 1...1_000_000)) { operations, seed in
            let store = try await SQLiteStore.open(path: directory + "/prop-\(UUID().uuidString).sqlite")
            let service = PaymentService(store: store, vaultStore: store.vault, connector: CardNetworkSimulator(configuration: .instant, seed: UInt64(seed)),
                                         vault: CardVault(keys: keys, ids: .system), codec: ProtobufSnapshotCodec(), now: UnixClock.nowMs)
            let caller = CallerContext(merchantID: "acct_prop", livemode: false)
            var payments: [String] = []
            for (index, operation) in operations.enumerated() {
                let key = "op-\(index)"
                switch operation {
                case 0, 1:
                    var request = createRequest(key: key, amount: 1 + (seed * Int64(index + 3)) % 500_000, currency: currencies[(index + Int(seed)) % 4],
                                                card: cards[index % cards.count], capture: operation == 0 ? .automatic : .manual)
                    request.metadata = [:]
                    let command = try ProtoMapping.createPaymentCommand(request, today: CalendarMonth(year: 2026, month: 1))
                    if case .current(let payment) = try await service.createPayment(caller, command) { payments.append(payment.id) }
                case 2 where !payments.isEmpty:
                    let id = payments[(index * 7) % payments.count]
                    let payment = try await service.payment(caller, id: id)
                    _ = try? await service.capturePayment(caller, idempotencyKey: key, paymentID: id,
                                                          amountMinor: max(1, payment.amountCapturableMinor / 2))
                case 3 where !payments.isEmpty:
                    _ = try? await service.cancelPayment(caller, idempotencyKey: key, paymentID: payments[(index * 5) % payments.count], reason: "")
                case 4 where !payments.isEmpty:
                    let id = payments[(index * 3) % payments.count]
                    let payment = try await service.payment(caller, id: id)
                    _ = try? await service.createRefund(caller, idempotencyKey: key, paymentID: id,
                                                        amountMinor: max(1, payment.amountRefundableMinor / 3), reason: "")
                case 5 where !payments.isEmpty:
                    // Refund whatever is left of the first payment (refused when nothing is).
                    _ = try? await service.createRefund(caller, idempotencyKey: key, paymentID: payments[0], amountMinor: nil, reason: "")
                default:
                    break
                }
            }
            let report = try await LedgerVerifier(store: store).verify()
            #expect(report.isValid, "\(report)")
            // The merchant's balances are exactly what its payments say.
            var expectedAvailable: [String: Int64] = [:]
            var expectedPending: [String: Int64] = [:]
            for id in payments {
                let payment = try await service.payment(caller, id: id)
                expectedAvailable[payment.amount.currency.code, default: 0] += payment.amountCapturedMinor - payment.amountRefundedMinor
                expectedPending[payment.amount.currency.code, default: 0] += payment.amountCapturableMinor
            }
            for balance in try await service.balances(caller) {
                #expect(balance.availableMinor == expectedAvailable[balance.currency.code, default: 0])
                #expect(balance.pendingMinor == expectedPending[balance.currency.code, default: 0])
            }
            try await store.close()
        }
    }
}
