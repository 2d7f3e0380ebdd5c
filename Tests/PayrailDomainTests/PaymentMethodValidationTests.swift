import PayrailDomain
import PropertyBased
import Testing

/// Bank account checks as the schemes define them, and bank-debit payments on the aggregate.
@Suite struct PaymentMethodValidationTests {
    private func debit(_ scheme: BankDebitScheme, routing: String = "", account: String = "", iban: String = "", vpa: String = "") throws(PayrailError) -> BankDebitInput {
        try BankDebitInput(scheme: scheme, routingNumber: routing, accountNumber: account, iban: iban, vpa: vpa, holderName: "")
    }

    @Test func ibansAreCheckedWithMod97() throws {
        for valid in ["DE89 3704 0044 0532 0130 00", "GB82WEST12345698765432", "FR1420041010050500013M02606", "NL91ABNA0417164300"] {
            let input = try debit(.sepa, iban: valid)
            #expect(input.country == String(valid.prefix(2)))
        }
        for invalid in ["DE89370400440532013001", "GB82WEST1234569876543", "XX00", "DE8937040044053201300O"] {
            #expect(throws: PayrailError.self, "\(invalid)") { try debit(.sepa, iban: invalid) }
        }
    }

    @Test func abaRoutingNumbersCarryTheirChecksum() throws {
        _ = try debit(.ach, routing: "110000000", account: "000123456789")
        _ = try debit(.ach, routing: "021000021", account: "1234")
        #expect(throws: PayrailError.self) { try debit(.ach, routing: "021000022", account: "1234") }
        #expect(throws: PayrailError.self) { try debit(.ach, routing: "110000000", account: "12") }
    }

    @Test func upiAddressesNeedAHandle() throws {
        #expect(try debit(.upi, vpa: "Buyer.Name@okbank").accountIdentifier == "buyer.name@okbank")
        #expect(try debit(.upi, vpa: "buyer0003@okbank").last4 == "0003")
        for invalid in ["buyer", "b@", "@bank", "buyer@ok bank", "buyer@bank1"] {
            #expect(throws: PayrailError.self, "\(invalid)") { try debit(.upi, vpa: invalid) }
        }
    }

    /// A debit holds its funds pending while processing, then settles in full or is returned;
    /// the invariants hold at every step and card events are refused.
    @Test func aBankDebitSettlesOrReturns() throws {
        let account = BankAccountSummary(scheme: .ach, last4: "6789", bankCode: "110000000", fingerprint: "fp", country: "US")
        var payment = Payment(id: "pay_d", merchantID: "acct_1", livemode: false, amount: Money(amountMinor: 5_000, currency: .usd),
                              captureMethod: .automatic, method: .bankDebit(account), connector: "bank-debits", description: "",
                              metadata: [:], createdAtMs: 1)
        #expect(payment.card == nil && payment.method.kind == "ach_debit")
        #expect(throws: PayrailError.self, "nothing pending yet") { try payment.validate(.debitSettled) }
        try payment.apply(.debitInitiated(processorReference: "dbt_1"), at: 2)
        #expect(payment.status == .processing && payment.amountCapturableMinor == 5_000)
        #expect(throws: PayrailError.self, "initiated once") { try payment.validate(.debitInitiated(processorReference: "dbt_2")) }
        var returned = payment
        try returned.apply(.debitReturned(Failure(reason: "bank_debit_returned", declineCode: DeclineCode("insufficient_funds"), message: "")), at: 3)
        #expect(returned.status == .failed && returned.amountCapturableMinor == 0)
        try payment.apply(.debitSettled, at: 3)
        #expect(payment.status == .succeeded && payment.amountCapturedMinor == 5_000 && payment.amountCapturableMinor == 0)

        var card = makePayment()
        #expect(throws: PayrailError.self, "a card is not debited") { try card.apply(.debitInitiated(processorReference: "x"), at: 2) }
    }
}
