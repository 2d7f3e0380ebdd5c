import PayrailDomain
import PropertyBased
import Testing

@Suite struct CurrencyTests {
    @Test func exponentsFollowISO4217() throws {
        #expect(Currency(code: "USD")?.exponent == 2)
        #expect(Currency(code: "JPY")?.exponent == 0)
        #expect(Currency(code: "KWD")?.exponent == 3)
        #expect(Currency(code: "CLF")?.exponent == 4)
        #expect(Currency(code: "EUR")?.minorUnitsPerMajor == 100)
        #expect(Currency.iso4217.count > 150)
    }

    @Test func unknownOrMalformedCodesAreRefused() {
        #expect(Currency(code: "XXX") == nil)
        #expect(Currency(code: "usd") == nil)
        #expect(Currency(code: "US") == nil)
        #expect(Currency(code: "") == nil)
    }
}

@Suite struct MoneyTests {
    @Test func majorUnitStringsRespectTheExponent() throws {
        #expect(Money(amountMinor: 1234, currency: .usd).majorUnitsString == "12.34")
        #expect(Money(amountMinor: -5, currency: .usd).majorUnitsString == "-0.05")
        #expect(Money(amountMinor: 1000, currency: .jpy).majorUnitsString == "1000")
        #expect(Money(amountMinor: 1500, currency: .kwd).majorUnitsString == "1.500")
    }

    @Test func parsingIsExactAndRefusesExtraPrecision() throws {
        #expect(try Money(major: "0.1", currency: .usd).adding(Money(major: "0.2", currency: .usd)) == Money(major: "0.3", currency: .usd))
        #expect(try Money(major: "12.34", currency: .usd).amountMinor == 1234)
        #expect(try Money(major: "1.005", currency: .kwd).amountMinor == 1005)
        #expect(throws: MoneyError.tooPrecise("1.5", .jpy)) { try Money(major: "1.5", currency: .jpy) }
        #expect(throws: MoneyError.malformed("1e3")) { try Money(major: "1e3", currency: .usd) }
        #expect(throws: MoneyError.overflow) { try Money(major: "99999999999999999999", currency: .usd) }
    }

    @Test func overflowIsAnErrorNotAWrap() {
        let max = Money(amountMinor: .max, currency: .usd)
        #expect(throws: MoneyError.overflow) { try max.adding(Money(amountMinor: 1, currency: .usd)) }
        #expect(throws: MoneyError.overflow) { try Money(amountMinor: .min, currency: .usd).negated() }
        #expect(throws: MoneyError.overflow) { try Money(amountMinor: .min, currency: .usd).subtracting(Money(amountMinor: 1, currency: .usd)) }
    }

    @Test func currenciesNeverMix() {
        #expect(throws: MoneyError.currencyMismatch(.usd, .eur)) {
            try Money(amountMinor: 1, currency: .usd).adding(Money(amountMinor: 1, currency: .eur))
        }
    }

    @Test func additionIsExactAndInvertible() async {
        await propertyCheck(input: Gen.int64(in: -1_000_000_000_000...1_000_000_000_000), Gen.int64(in: -1_000_000_000_000...1_000_000_000_000)) { a, b in
            let x = Money(amountMinor: a, currency: .usd)
            let y = Money(amountMinor: b, currency: .usd)
            let sum = try x.adding(y)
            #expect(sum.amountMinor == a + b)
            #expect(try sum.subtracting(y) == x)
        }
    }

    @Test func formattingRoundTripsThroughParsing() async {
        let currencies: [Currency] = [.usd, .jpy, .kwd, .eur]
        await propertyCheck(input: Gen.int64(in: -10_000_000_000...10_000_000_000), Gen.int(in: 0...3)) { amount, index in
            let money = Money(amountMinor: amount, currency: currencies[index])
            let parsed = try Money(major: money.majorUnitsString, currency: money.currency)
            #expect(parsed == money)
        }
    }
}

@Suite struct CardTests {
    @Test func luhnAndBrand() throws {
        #expect(try CardNumber("4242 4242 4242 4242").brand == .visa)
        #expect(try CardNumber("5555555555554444").brand == .mastercard)
        #expect(try CardNumber("378282246310005").brand == .amex)
        #expect(throws: PayrailError.self) { try CardNumber("4242424242424241") }
        #expect(throws: PayrailError.self) { try CardNumber("42424242") }
        #expect(throws: PayrailError.self) { try CardNumber("4242x42424242424") }
    }

    @Test func cardNumbersNeverPrint() throws {
        let number = try CardNumber("4242424242424242")
        #expect("\(number)" == "visa ****4242")
        #expect(String(reflecting: number) == "visa ****4242")
        #expect(!String(describing: Mirror(reflecting: number).children.map(\.value)).contains("4242424242424242"))
        let cvc = try CardSecurityCode("123", brand: .visa)
        #expect("\(cvc)" == "***")
    }

    @Test func errorsNeverEchoTheNumber() {
        do {
            _ = try CardNumber("4242424242424241")
            Issue.record("expected a Luhn failure")
        } catch {
            #expect(!"\(error)".contains("4242424242424241"))
            #expect(error.code == .invalidCardNumber)
        }
    }

    @Test func expiry() throws {
        let today = CalendarMonth(year: 2026, month: 11)
        #expect(try CardExpiry(month: 11, year: 2026, today: today).month == 11)
        #expect(throws: PayrailError.self) { try CardExpiry(month: 10, year: 2026, today: today) }
        #expect(throws: PayrailError.self) { try CardExpiry(month: 13, year: 2030, today: today) }
        #expect(CalendarMonth(unixMillis: 0) == CalendarMonth(year: 1970, month: 1))
        #expect(CalendarMonth(unixMillis: 1_795_000_000_000) == CalendarMonth(year: 2026, month: 11))
    }

    @Test func randomValidNumbersPassAndSingleDigitChangesFail() async {
        await propertyCheck(input: Gen.int(in: 0...9).array(of: 15)) { digits in
            let body = "4" + digits.dropFirst().map(String.init).joined()
            // Compute the check digit, then check that it validates and every other digit does not.
            let check = (0...9).first { CardNumber.luhnValid(body + String($0)) }!
            #expect(CardNumber.luhnValid(body + String(check)))
            #expect(!CardNumber.luhnValid(body + String((check + 1) % 10)))
        }
    }
}
