import PayrailDomain
import PropertyBased
import Testing

private func rate(_ from: Currency, _ to: Currency, _ scaled: Int64) throws -> FXRate {
    try FXRate(from: from, to: to, rateScaled: scaled, source: "test", validFromMs: 0, validUntilMs: 1_000)
}

@Suite struct FXConversionTests {
    @Test func respectsExponentsAndRoundsHalfToEven() throws {
        let usd = Currency.usd, eur = Currency.eur, jpy = Currency.jpy, kwd = Currency.kwd
        #expect(try FXConversion.convert(Money(amountMinor: 10_000, currency: usd), at: rate(usd, eur, 92_000_000)) == Money(amountMinor: 9_200, currency: eur))
        #expect(try FXConversion.convert(Money(amountMinor: 1_000, currency: jpy), at: rate(jpy, usd, 670_000)) == Money(amountMinor: 670, currency: usd))
        #expect(try FXConversion.convert(Money(amountMinor: 1_000, currency: kwd), at: rate(kwd, usd, 325_000_000)) == Money(amountMinor: 325, currency: usd))
        // USD 1.00 at 149.50 JPY = 149.5 yen exactly: half to even gives 150 (149 is odd).
        #expect(try FXConversion.convert(Money(amountMinor: 100, currency: usd), at: rate(usd, jpy, 14_950_000_000)).amountMinor == 150)
        // 1 cent at 1.5 = 1.5 cents -> 2; at 2.5 = 2.5 cents -> 2 (even); at 3.5 -> 4.
        #expect(try FXConversion.convert(Money(amountMinor: 1, currency: eur), at: rate(eur, usd, 150_000_000)).amountMinor == 2)
        #expect(try FXConversion.convert(Money(amountMinor: 1, currency: eur), at: rate(eur, usd, 250_000_000)).amountMinor == 2)
        #expect(try FXConversion.convert(Money(amountMinor: 1, currency: eur), at: rate(eur, usd, 350_000_000)).amountMinor == 4)
        #expect(try FXConversion.convert(Money(amountMinor: -1, currency: eur), at: rate(eur, usd, 350_000_000)).amountMinor == -4)
    }

    @Test func refusesWrongCurrencyOverflowAndBadRates() throws {
        #expect(throws: MoneyError.currencyMismatch(.gbp, .usd)) {
            try FXConversion.convert(Money(amountMinor: 1, currency: .gbp), at: rate(.usd, .eur, 1))
        }
        #expect(throws: MoneyError.overflow) {
            try FXConversion.convert(Money(amountMinor: .max, currency: .jpy), at: rate(.jpy, .kwd, 100 * FXRate.scale))
        }
        #expect(throws: PayrailError.self) { try rate(.usd, .usd, 1) }
        #expect(throws: PayrailError.self) { try rate(.usd, .eur, 0) }
        let window = try rate(.usd, .eur, 1)
        #expect(window.isValid(atMs: 0) && window.isValid(atMs: 999) && !window.isValid(atMs: 1_000))
    }

    /// The result is within half a minor unit of the exact value: |result·D − N|·2 ≤ D.
    @Test func resultIsTheNearestMinorUnit() async {
        let currencies: [Currency] = [.usd, .eur, .jpy, .kwd, .gbp]
        await propertyCheck(input: Gen.int64(in: -1_000_000_000_000...1_000_000_000_000), Gen.int64(in: 1...20_000 * FXRate.scale),
                            Gen.int(in: 0...4), Gen.int(in: 0...4)) { amount, scaled, a, b in
            guard a != b else { return }
            let from = currencies[a], to = currencies[b]
            let result = try FXConversion.convert(Money(amountMinor: amount, currency: from), at: try rate(from, to, scaled))
            var numerator = Int128(amount) * Int128(scaled)
            var denominator = Int128(FXRate.scale)
            let shift = to.exponent - from.exponent
            for _ in 0..<abs(shift) { if shift > 0 { numerator *= 10 } else { denominator *= 10 } }
            let error = Int128(result.amountMinor) * denominator - numerator
            #expect((error < 0 ? -error : error) * 2 <= denominator)
        }
    }

    @Test func markupSplitsExactly() async {
        await propertyCheck(input: Gen.int64(in: 0...1_000_000_000_000), Gen.int(in: 0...10_000)) { amount, bps in
            let (merchant, markup) = try FXConversion.applyMarkup(Money(amountMinor: amount, currency: .usd), basisPoints: bps)
            #expect(merchant.amountMinor + markup.amountMinor == amount)
            #expect(markup.amountMinor >= 0 && merchant.amountMinor >= 0)
            // Within half a unit of amount·bps/10000.
            let exact2 = Int128(amount) * Int128(bps) * 2
            #expect(abs(Int128(markup.amountMinor) * 20_000 - exact2) <= 10_000)
        }
    }
}

@Suite struct AllFlowsPostingTests {
    /// Random sequences of every flow over several currencies: each transaction balances per
    /// currency, the whole ledger sums to zero per currency, and no hold is released twice.
    @Test func randomFlowsKeepTheLedgerBalanced() async {
        let currencies: [Currency] = [.usd, .eur, .jpy, .kwd]
        await propertyCheck(count: 200, input: Gen.int(in: 0...9).array(of: 1...40), Gen.int64(in: 1...50_000_000)) { operations, seed in
            var ledger: [LedgerTransaction] = []
            var open: [Payment] = []
            var counter = 0
            func next() -> String { counter += 1; return "t\(counter)" }
            for (index, operation) in operations.enumerated() {
                let currency = currencies[(index + Int(seed % 4)) % currencies.count]
                let amount = 1 + (seed * Int64(index + 7)) % 1_000_000
                switch operation {
                case 0, 1:
                    var payment = Payment(id: "pay_\(index)", merchantID: "acct_1", livemode: false,
                                          amount: Money(amountMinor: amount, currency: currency), captureMethod: .manual,
                                          card: CardSummary(token: "tok", brand: .visa, last4: "4242", expMonth: 1, expYear: 2030,
                                                            fingerprint: "f", country: "US"),
                                          connector: "cardsim", description: "", metadata: [:], createdAtMs: 0)
                    try payment.apply(.authorized(processorReference: "a"), at: 1)
                    ledger.append(PostingRules.authorization(payment, transactionID: next(), at: 1))
                    open.append(payment)
                case 2 where !open.isEmpty:
                    let payment = open.removeFirst()
                    ledger.append(PostingRules.void(payment, authorizedMinor: payment.amountCapturableMinor, transactionID: next(), at: 2))
                case 3 where !open.isEmpty:
                    var payment = open.removeFirst()
                    let before = payment
                    let captured = max(1, payment.amountCapturableMinor / 2)
                    try payment.apply(.captured(amountMinor: captured), at: 2)
                    ledger.append(PostingRules.capture(payment, authorizedMinor: before.amountCapturableMinor, capturedMinor: captured,
                                                       transactionID: next(), at: 2))
                    try payment.apply(.refundRequested(amountMinor: 1), at: 3)
                    let refund = Refund(id: "re_\(index)", paymentID: payment.id, merchantID: "acct_1",
                                        amount: Money(amountMinor: 1, currency: payment.amount.currency), reason: "", createdAtMs: 3)
                    ledger.append(PostingRules.refund(payment, refund, transactionID: next(), at: 3))
                case 4 where !open.isEmpty:
                    let payment = open.removeFirst()
                    let settlement: Currency = payment.amount.currency == .usd ? .eur : .usd
                    let converted = try FXConversion.convert(payment.amount, at: try FXRate(
                        from: payment.amount.currency, to: settlement, rateScaled: 1 + seed % (3 * FXRate.scale), source: "t",
                        validFromMs: 0, validUntilMs: 10))
                    let split = try FXConversion.applyMarkup(converted, basisPoints: Int(seed % 300))
                    ledger.append(PostingRules.captureWithConversion(payment, authorizedMinor: payment.amountCapturableMinor,
                                                                     capturedMinor: payment.amountCapturableMinor,
                                                                     settledToMerchant: split.merchant, markup: split.markup,
                                                                     transactionID: next(), at: 2))
                    // A chargeback of it through FX, maybe won back.
                    let fee = DisputeFees.fee(for: settlement)
                    ledger.append(PostingRules.disputeOpenedWithConversion(
                        merchantID: "acct_1", connector: "cardsim", livemode: false, disputed: payment.amount, fromMerchant: split.merchant,
                        markupReturned: split.markup, disputeFee: fee, paymentID: payment.id, transactionID: next(), at: 3))
                    if seed % 2 == 1 {
                        ledger.append(PostingRules.disputeWonWithConversion(
                            merchantID: "acct_1", connector: "cardsim", livemode: false, reinstated: payment.amount, toMerchant: split.merchant,
                            markup: split.markup, paymentID: payment.id, transactionID: next(), at: 4))
                    }
                case 5:
                    ledger.append(PostingRules.fee(merchantID: "acct_1", livemode: false, fee: Money(amountMinor: amount % 500 + 1, currency: currency),
                                                   resourceID: "pay_x", transactionID: next(), at: 4))
                case 6:
                    let disputed = Money(amountMinor: amount, currency: currency)
                    ledger.append(PostingRules.disputeOpened(merchantID: "acct_1", connector: "cardsim", livemode: false, disputed: disputed,
                                                             disputeFee: Money(amountMinor: 1_500, currency: currency), paymentID: "pay_d",
                                                             transactionID: next(), at: 5))
                    if seed % 2 == 0 {
                        ledger.append(PostingRules.disputeWon(merchantID: "acct_1", connector: "cardsim", livemode: false, reinstated: disputed,
                                                              paymentID: "pay_d", transactionID: next(), at: 6))
                    }
                case 7:
                    let money = Money(amountMinor: amount, currency: currency)
                    ledger.append(PostingRules.payout(merchantID: "acct_1", livemode: false, amount: money, payoutID: "po_\(index)", transactionID: next(), at: 7))
                    ledger.append(index % 2 == 0
                        ? PostingRules.payoutPaid(merchantID: "acct_1", livemode: false, amount: money, payoutID: "po_\(index)", transactionID: next(), at: 8)
                        : PostingRules.payoutFailed(merchantID: "acct_1", livemode: false, amount: money, payoutID: "po_\(index)", transactionID: next(), at: 8))
                case 8:
                    ledger.append(PostingRules.settlement(connector: "cardsim", livemode: false, amount: Money(amountMinor: amount, currency: currency),
                                                          settlementID: "st_\(index)", transactionID: next(), at: 9))
                default:
                    let money = Money(amountMinor: amount, currency: currency)
                    ledger.append(PostingRules.reserve(merchantID: "acct_1", livemode: false, amount: money, release: false, resourceID: "r",
                                                       transactionID: next(), at: 10))
                    ledger.append(PostingRules.reserve(merchantID: "acct_1", livemode: false, amount: money, release: true, resourceID: "r",
                                                       transactionID: next(), at: 11))
                }
            }
            var totals: [Currency: Int64] = [:]
            var holds: [String: Int64] = [:]
            for transaction in ledger {
                var perCurrency: [Currency: Int64] = [:]
                for entry in transaction.entries {
                    perCurrency[entry.account.currency, default: 0] += entry.amountMinor
                    totals[entry.account.currency, default: 0] += entry.amountMinor
                    #expect(entry.amountMinor != 0)
                    #expect(LedgerAccount(key: entry.account.key) == entry.account)
                    if entry.account.kind == .merchantPending {
                        holds[transaction.resourceID, default: 0] += entry.amountMinor
                        #expect(holds[transaction.resourceID]! <= 0, "hold released twice in \(transaction.resourceID)")
                    }
                }
                #expect(perCurrency.values.allSatisfy { $0 == 0 }, "\(transaction.kind) unbalanced")
            }
            #expect(totals.values.allSatisfy { $0 == 0 })
        }
    }
}
