import GRPCCore
import PayrailCluster
import PayrailCore
import PayrailDomain
import PayrailProtos
import PayrailRuntime
import PayrailSimulators
import Testing

/// A merchant paid in USD takes EUR payments: they settle through FX clearing at the current
/// rate or at a locked quote, with the markup booked as revenue; refunds convert back at the
/// payment's rate; every transaction balances per currency.
@Suite(.serialized) struct FXSettlementTests {
    @Test(arguments: ClusterStore.available)
    func eurPaymentsSettleInUSDAtTheCurrentOrQuotedRate(_ store: ClusterStore) async throws {
        var payments = PaymentService.Configuration()
        payments.fxQuoteTTLMs = 3_000
        try await withCluster(store: store, payments: payments) { cluster, _, _, _ in
            let merchant = try await cluster.core.apiKeys.createMerchant(name: "US shop", settlementCurrency: .usd)
            let client = try EdgeClient(port: cluster.edgePorts[0], caPath: cluster.pki.caCertificatePath, apiKey: merchant.apiKey)
            defer { Task { await client.close() } }
            func eur(_ key: String, quote: String = "") -> Payrail_V1_CreatePaymentRequest {
                var request = createRequest(key: key, amount: 10_000, currency: "EUR")
                request.fxQuoteID = quote
                return request
            }
            func usdAvailable() async throws -> Int64 {
                try await client.balances.getBalance(.init(), metadata: client.metadata).balances.first { $0.currency == "USD" }?.availableMinor ?? 0
            }

            // No rate published yet: refused with a reason, nothing written.
            let noRate = await rpcFailure { _ = try await client.payments.createPayment(eur("fx-0"), metadata: client.metadata) }
            #expect(noRate?.0 == .failedPrecondition && noRate?.1 == "fx_rate_unavailable")
            #expect(try await cluster.core.ledger.verify().transactions == 0)

            let now = UnixClock.nowMs()
            try await cluster.store.write {
                try await $0.insertFXRate(try FXRate(from: .eur, to: .usd, rateScaled: 110_000_000, source: "test", validFromMs: now - 1_000, validUntilMs: now + 3_600_000))
            }
            // EUR 100.00 at 1.10 = USD 110.00; 1% markup: the merchant gets USD 108.90.
            let first = try await client.payments.createPayment(eur("fx-1"), metadata: client.metadata)
            #expect(first.status == .succeeded && first.settlement.currency == "USD" && first.settlement.rateScaled == 110_000_000)
            #expect(try await usdAvailable() == 10_890)

            // A quote locks 1.10; the market then moves to 1.20.
            let quote = try await client.fx.createFXQuote(.with { $0.fromCurrency = "EUR"; $0.toCurrency = "USD" }, metadata: client.metadata)
            #expect(quote.rateScaled == 110_000_000 && quote.markupBasisPoints == 100)
            try await cluster.store.write {
                try await $0.insertFXRate(try FXRate(from: .eur, to: .usd, rateScaled: 120_000_000, source: "test", validFromMs: UnixClock.nowMs(), validUntilMs: now + 3_600_000))
            }
            let quoted = try await client.payments.createPayment(eur("fx-2", quote: quote.id), metadata: client.metadata)
            #expect(quoted.settlement.rateScaled == 110_000_000 && quoted.settlement.fxQuoteID == quote.id)
            let current = try await client.payments.createPayment(eur("fx-3"), metadata: client.metadata)
            #expect(current.settlement.rateScaled == 120_000_000)
            #expect(try await usdAvailable() == 10_890 + 10_890 + 11_880)

            // Refund EUR 50.00 of the first payment: the merchant gives back 50 x 1.10 x 0.99 = USD 54.45.
            let refund = try await client.refunds.createRefund(.with { $0.idempotencyKey = "fx-1-refund"; $0.paymentID = first.id; $0.amountMinor = 5_000 },
                                                               metadata: client.metadata)
            #expect(refund.status == .succeeded)
            #expect(try await usdAvailable() == 10_890 + 10_890 + 11_880 - 5_445)

            // Quotes are checked: a pair without a rate, an unknown id, an expired one.
            let noPair = await rpcFailure {
                _ = try await client.fx.createFXQuote(.with { $0.fromCurrency = "USD"; $0.toCurrency = "EUR" }, metadata: client.metadata)
            }
            #expect(noPair?.0 == .failedPrecondition && noPair?.1 == "fx_rate_unavailable")
            let unknown = await rpcFailure { _ = try await client.payments.createPayment(eur("fx-4", quote: "fxq_unknown"), metadata: client.metadata) }
            #expect(unknown?.0 == .notFound && unknown?.1 == "resource_missing")
            try await Task.sleep(for: .milliseconds(max(0, quote.expiresAtUnixMs - UnixClock.nowMs() + 100)))
            let expired = await rpcFailure { _ = try await client.payments.createPayment(eur("fx-5", quote: quote.id), metadata: client.metadata) }
            #expect(expired?.0 == .failedPrecondition && expired?.1 == "fx_quote_expired")

            let report = try await cluster.core.ledger.verify()
            #expect(report.isValid, "\(report)")
            #expect(report.totalsByCurrency["EUR"] == 0 && report.totalsByCurrency["USD"] == 0)
        }
    }
}
