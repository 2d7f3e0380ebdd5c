import Foundation
import PayrailCore
import PayrailDomain
import PayrailProtos
import PayrailRuntime
import PayrailSimulators
import PayrailStore
import PropertyBased
import Testing

/// Random mixes of every money flow (card payments, captures, voids, refunds, bank debits
/// settled or returned, BNPL plans, disputes opened / won / lost / accepted, payouts paid or
/// returned) through the real services and store: `ledger verify` passes after any mix, and the
/// merchant's balances are exactly what its payments, disputes and payouts say.
@Suite struct LifecycleMixPropertyTests {
    @Test func anyMixOfFlowsKeepsTheLedgerValidAndTheBalancesExplained() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("payrail-mix-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let keys = try FileKeyring(path: directory + "/keyring")

        await propertyCheck(count: 30, input: Gen.int(in: 0...11).array(of: 1...30), Gen.int64(in: 1...1_000_000)) { operations, seed in
            let store = try await SQLiteStore.open(path: directory + "/mix-\(UUID().uuidString).sqlite")
            var bankConfiguration = BankDebitSimulator.Configuration()
            bankConfiguration.settlementDelayMs = 0
            bankConfiguration.latencyMs = 0
            var instant = CardNetworkSimulator.Configuration.instant
            instant.disputeDecisionMs = 0
            let acquirerANoDelay = CardNetworkSimulator(name: "acquirer-a", configuration: instant, seed: UInt64(seed))
            let connectors: [any CardConnector] = [acquirerANoDelay, CardNetworkSimulator(name: "acquirer-b", configuration: .instant),
                                                   BankDebitSimulator(configuration: bankConfiguration), BNPLSimulator(latencyMs: 0),
                                                   PayPalSimulator(latencyMs: 0)]
            let router = ConnectorRouter(connectors: connectors, table: RoutingConfiguration.default.table, retry: .immediate)
            let vault = CardVault(keys: keys, ids: .system)
            let codec = ProtobufSnapshotCodec()
            let payments = PaymentService(store: store, vaultStore: store.vault, router: router, vault: vault, codec: codec, now: UnixClock.nowMs)
            let disputes = DisputeService(store: store, router: router, codec: codec, now: UnixClock.nowMs)
            var rails = BankRailSimulator.Configuration()
            rails.standardTransitMs = 0
            rails.latencyMs = 0
            let payouts = PayoutService(store: store, vaultStore: store.vault, vault: vault, rail: BankRailSimulator(configuration: rails),
                                        codec: codec, now: UnixClock.nowMs)
            let poller = ConnectorNotificationPoller(router: router, disputes: disputes, payments: payments)
            let caller = CallerContext(merchantID: "acct_mix", livemode: false)
            var paymentIDs: [String] = []
            var payoutIDs: [String] = []
            func pay(_ key: String, _ amount: Int64, _ set: (inout Payrail_V1_CreatePaymentRequest) -> Void) async throws {
                var request = Payrail_V1_CreatePaymentRequest.with {
                    $0.idempotencyKey = key
                    $0.amount = .with { $0.amountMinor = amount; $0.currency = "USD" }
                }
                set(&request)
                let command = try ProtoMapping.createPaymentCommand(request, today: CalendarMonth(year: 2026, month: 1))
                if case .current(let payment) = try await payments.createPayment(caller, command) { paymentIDs.append(payment.id) }
            }
            func pick(_ index: Int, _ stride: Int) -> String? { paymentIDs.isEmpty ? nil : paymentIDs[(index * stride) % paymentIDs.count] }

            for (index, operation) in operations.enumerated() {
                let key = "mix-\(index)"
                let amount = 100 + (seed * Int64(index + 7)) % 90_000
                switch operation {
                case 0, 1:
                    let card = [TestCards.visaSuccess, TestCards.mastercardSuccess, TestCards.insufficientFunds][index % 3]
                    try await pay(key, amount) {
                        $0.captureMethod = operation == 0 ? .automatic : .manual
                        $0.card = .with { $0.number = card; $0.expMonth = 12; $0.expYear = 2034; $0.cvc = "123" }
                    }
                case 2:
                    if let id = pick(index, 7), let payment = try? await payments.payment(caller, id: id) {
                        _ = try? await payments.capturePayment(caller, idempotencyKey: key, paymentID: id, amountMinor: max(1, payment.amountCapturableMinor / 2))
                    }
                case 3:
                    if let id = pick(index, 5) { _ = try? await payments.cancelPayment(caller, idempotencyKey: key, paymentID: id, reason: "") }
                case 4:
                    if let id = pick(index, 3), let payment = try? await payments.payment(caller, id: id) {
                        _ = try? await payments.createRefund(caller, idempotencyKey: key, paymentID: id,
                                                             amountMinor: max(1, payment.amountRefundableMinor / 3), reason: "")
                    }
                case 5:
                    try await pay(key, amount) {
                        $0.bankDebit = .with { $0.scheme = .ach; $0.routingNumber = "110000000"; $0.accountNumber = index % 3 == 0 ? "000111110002" : "000123456789" }
                    }
                case 6:
                    try await pay(key, amount) { $0.bnpl = .with { $0.installments = 4 } }
                case 7:
                    // The cardholder's bank opens a chargeback on a captured card payment.
                    let disputed = Set(try await disputes.disputes(caller, paymentID: nil, limit: 100).map(\.paymentID))
                    for id in paymentIDs where !disputed.contains(id) {
                        let payment = try await payments.payment(caller, id: id)
                        guard payment.card != nil, payment.amountCapturedMinor > payment.amountRefundedMinor, payment.connector == "acquirer-a",
                              let reference = payment.processorReference else { continue }
                        acquirerANoDelay.openDispute(processorReference: reference,
                                                     amountMinor: max(1, (payment.amountCapturedMinor - payment.amountRefundedMinor) / 2))
                        break
                    }
                case 8:
                    _ = await poller.round()
                    let open = try await disputes.disputes(caller, paymentID: nil, limit: 100).filter { $0.status == .needsResponse }
                    if let dispute = open.first {
                        switch index % 3 {
                        case 0: _ = try? await disputes.accept(caller, id: dispute.id)
                        case 1: _ = try? await disputes.submitEvidence(caller, id: dispute.id, evidence: TestCards.winningEvidence)
                        default: _ = try? await disputes.submitEvidence(caller, id: dispute.id, evidence: "a receipt")
                        }
                    }
                case 9, 10:
                    let available = try await payments.balances(caller).first { $0.currency == .usd }?.availableMinor ?? 0
                    if available > 1 {
                        let account = operation == 10 && index % 2 == 0 ? "987650002" : "000123456789"
                        let command = CreatePayoutCommand(idempotencyKey: key, amount: Money(amountMinor: max(1, available / 3), currency: .usd),
                                                          method: .standard, destination: .bankAccount(routingNumber: "110000000", accountNumber: account))
                        if case .current(let payout) = try await payouts.createPayout(caller, command) { payoutIDs.append(payout.id) }
                    }
                case 11:
                    _ = await poller.round()
                    try await payouts.sendStandardBatch()
                    try await payouts.settleArrivals()
                default:
                    break
                }
            }
            _ = await poller.round()
            _ = await poller.round()
            try await payouts.sendStandardBatch()
            try await payouts.settleArrivals()

            let report = try await LedgerVerifier(store: store).verify()
            #expect(report.isValid, "\(report)")
            var expectedAvailable: Int64 = 0
            var expectedPending: Int64 = 0
            for id in paymentIDs {
                let payment = try await payments.payment(caller, id: id)
                expectedAvailable += payment.amountCapturedMinor - payment.amountRefundedMinor
                expectedPending += payment.amountCapturableMinor
            }
            for dispute in try await disputes.disputes(caller, paymentID: nil, limit: 100) {
                expectedAvailable -= dispute.fee.amountMinor + (dispute.status == .won ? 0 : dispute.amount.amountMinor)
            }
            for id in payoutIDs {
                let payout = try await payouts.payout(caller, id: id)
                if payout.status != .failed { expectedAvailable -= payout.amount.amountMinor + payout.fee.amountMinor }
            }
            let balance = try await payments.balances(caller).first { $0.currency == .usd }
            #expect((balance?.availableMinor ?? 0) == expectedAvailable, "operations \(operations) seed \(seed)")
            #expect((balance?.pendingMinor ?? 0) == expectedPending, "operations \(operations) seed \(seed)")
            try await store.close()
        }
    }
}
