import GRPCCore
import Testing
import PayrailCluster
import PayrailCore
import PayrailDomain
import PayrailProtos
import PayrailSimulators
import PayrailStore

/// Payouts through the edge: standard (batched, in transit, paid or returned) and instant (a
/// fee, eligible debit cards only); never beyond the available balance, even when racing.
@Suite struct PayoutTests {
    private static func configure(transitMs: Int64 = 150) -> @Sendable (inout LocalCluster.Options) -> Void {
        { options in
            var rails = BankRailSimulator.Configuration()
            rails.standardTransitMs = transitMs
            rails.instantMs = 50
            options.payoutRail = BankRailSimulator(configuration: rails)
            options.payoutJob.batchInterval = .milliseconds(100)
            options.payoutJob.settleInterval = .milliseconds(50)
        }
    }

    private static func fund(_ client: EdgeClient, _ amount: Int64, key: String) async throws {
        let payment = try await client.payments.createPayment(createRequest(key: key, amount: amount), metadata: client.metadata)
        #expect(payment.status == .succeeded)
    }

    private static func available(_ client: EdgeClient) async throws -> Int64 {
        try await client.balances.getBalance(.init(), metadata: client.metadata).balances.first { $0.currency == "USD" }?.availableMinor ?? 0
    }

    private static func standard(_ key: String, _ amount: Int64, account: String = "000123456789") -> Payrail_V1_CreatePayoutRequest {
        .with {
            $0.idempotencyKey = key
            $0.amount = .with { $0.amountMinor = amount; $0.currency = "USD" }
            $0.method = .standard
            $0.bankAccount = .with { $0.routingNumber = "110000000"; $0.accountNumber = account }
        }
    }

    private static func waitFor(_ client: EdgeClient, _ id: String, _ status: Payrail_V1_PayoutStatus) async throws -> Payrail_V1_Payout {
        for _ in 0..<400 {
            let payout = try await client.payouts.getPayout(.with { $0.payoutID = id }, metadata: client.metadata)
            if payout.status == status { return payout }
            try await Task.sleep(for: .milliseconds(30))
        }
        throw PayrailError(.internalError, "payout \(id) never reached \(status)")
    }

    @Test(arguments: ClusterStore.available)
    func aStandardPayoutIsBatchedThenPaidAndNeverExceedsTheBalance(_ store: ClusterStore) async throws {
        try await withCluster(store: store, configure: Self.configure()) { cluster, client, _, _ in
            try await Self.fund(client, 10_000, key: "fund-1")
            let payout = try await client.payouts.createPayout(Self.standard("po-1", 6_000), metadata: client.metadata)
            #expect(payout.status == .pending && payout.destinationType == "bank_account" && payout.destinationLast4 == "6789")
            #expect(payout.fee.amountMinor == 0)
            #expect(try await Self.available(client) == 4_000, "reserved when created")

            let replay = try await client.payouts.createPayout(Self.standard("po-1", 6_000), metadata: client.metadata)
            #expect(replay.id == payout.id)
            let reused = await rpcFailure { _ = try await client.payouts.createPayout(Self.standard("po-1", 5_000), metadata: client.metadata) }
            #expect(reused?.1 == "idempotency_key_reused")
            let tooMuch = await rpcFailure { _ = try await client.payouts.createPayout(Self.standard("po-2", 4_001), metadata: client.metadata) }
            #expect(tooMuch?.0 == .failedPrecondition && tooMuch?.1 == "balance_insufficient")

            let paid = try await Self.waitFor(client, payout.id, .paid)
            #expect(paid.arrivalAtUnixMs > 0)
            #expect(try await ledgerTrail(cluster, of: payout.id).kinds == ["payout", "payout_paid"])
            #expect(try await outboxEventTypes(cluster, about: [payout.id]) == ["payout.created", "payout.paid"])
            #expect(try await Self.available(client) == 4_000)
            #expect(try await cluster.core.ledger.verify().isValid)
        }
    }

    @Test func aReturnedPayoutGivesTheFundsBack() async throws {
        try await withCluster(configure: Self.configure()) { cluster, client, _, _ in
            try await Self.fund(client, 10_000, key: "fund-2")
            let payout = try await client.payouts.createPayout(Self.standard("po-ret", 7_000, account: "987650002"), metadata: client.metadata)
            let failed = try await Self.waitFor(client, payout.id, .failed)
            #expect(failed.failureCode == "account_closed")
            #expect(try await Self.available(client) == 10_000)
            #expect(try await ledgerTrail(cluster, of: payout.id).kinds == ["payout", "payout_failed"])
            #expect(try await outboxEventTypes(cluster, about: [payout.id]) == ["payout.created", "payout.failed"])
            #expect(try await cluster.core.ledger.verify().isValid)
        }
    }

    @Test func instantPayoutsGoOnlyToEligibleDebitCardsForAFee() async throws {
        try await withCluster(configure: Self.configure()) { cluster, client, _, merchantID in
            try await Self.fund(client, 10_000, key: "fund-3")
            func token(_ number: String) async throws -> String {
                try await client.tokens.createCardToken(.with {
                    $0.card = .with { $0.number = number; $0.expMonth = 12; $0.expYear = 2034; $0.cvc = "123" }
                }, metadata: client.metadata).token
            }
            let credit = try await token(TestCards.visaSuccess)
            let refused = await rpcFailure {
                _ = try await client.payouts.createPayout(.with {
                    $0.idempotencyKey = "po-credit"; $0.amount = .with { $0.amountMinor = 1_000; $0.currency = "USD" }
                    $0.method = .instant; $0.cardToken = credit
                }, metadata: client.metadata)
            }
            #expect(refused?.0 == .failedPrecondition && refused?.1 == "payout_destination_ineligible")
            let wrongRail = await rpcFailure {
                _ = try await client.payouts.createPayout(.with {
                    $0.idempotencyKey = "po-mix"; $0.amount = .with { $0.amountMinor = 1_000; $0.currency = "USD" }
                    $0.method = .instant; $0.bankAccount = .with { $0.routingNumber = "110000000"; $0.accountNumber = "000123456789" }
                }, metadata: client.metadata)
            }
            #expect(wrongRail?.0 == .invalidArgument)

            let debit = try await token(TestCards.visaDebit)
            let payout = try await client.payouts.createPayout(.with {
                $0.idempotencyKey = "po-instant"; $0.amount = .with { $0.amountMinor = 5_000; $0.currency = "USD" }
                $0.method = .instant; $0.cardToken = debit
            }, metadata: client.metadata)
            #expect(payout.status == .inTransit && payout.fee.amountMinor == 50 && payout.destinationType == "card" && payout.destinationLast4 == "5556")
            #expect(try await Self.available(client) == 10_000 - 5_000 - 50)
            _ = try await Self.waitFor(client, payout.id, .paid)
            #expect(try await ledgerTrail(cluster, of: payout.id).kinds == ["payout", "fee", "payout_paid"])
            let accesses = try await cluster.core.payments.vaultAccesses(CallerContext(merchantID: merchantID, livemode: false), token: debit)
            #expect(!accesses.isEmpty && accesses.allSatisfy { $0.actor == "payouts:bank-rails" }, "every reveal for the payout is logged")
            #expect(try await cluster.core.ledger.verify().isValid)
        }
    }

    @Test(arguments: ClusterStore.available)
    func racingPayoutsNeverSpendTheSameFundsTwice(_ store: ClusterStore) async throws {
        try await withCluster(store: store, configure: Self.configure(transitMs: 60_000)) { cluster, client, _, _ in
            try await Self.fund(client, 10_000, key: "fund-4")
            let results = await withTaskGroup(of: String.self) { group in
                for index in 0..<8 {
                    group.addTask {
                        do {
                            _ = try await client.payouts.createPayout(Self.standard("po-race-\(index)", 3_000), metadata: client.metadata)
                            return "ok"
                        } catch let error as RPCError {
                            return error.metadata[stringValues: "payrail-error-reason"].first(where: { _ in true }) ?? "\(error.code)"
                        } catch {
                            return "\(error)"
                        }
                    }
                }
                var all: [String] = []
                for await result in group { all.append(result) }
                return all
            }
            #expect(results.filter { $0 == "ok" }.count == 3 && results.filter { $0 == "balance_insufficient" }.count == 5, "\(results)")
            #expect(try await Self.available(client) == 1_000)
            #expect(try await cluster.core.ledger.verify().isValid)
        }
    }
}
