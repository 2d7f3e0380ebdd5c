import PayrailDomain
import PropertyBased
import Testing

/// Billing periods: civil dates without Foundation, month ends anchored, dunning's schedule.
@Suite struct BillingCalendarTests {
    private func ms(_ year: Int64, _ month: Int64, _ day: Int64) -> Int64 { BillingCalendar.days(year: year, month: month, day: day) * BillingCalendar.dayMs }

    @Test func daysAndCivilDatesRoundTrip() async {
        #expect(BillingCalendar.days(year: 1970, month: 1, day: 1) == 0)
        #expect(BillingCalendar.days(year: 2000, month: 3, day: 1) == 11_017)
        await propertyCheck(count: 500, input: Gen.int64(in: -800_000...800_000)) { day in
            let date = BillingCalendar.civil(days: day)
            #expect(BillingCalendar.days(year: date.year, month: date.month, day: date.day) == day)
            #expect((1...12).contains(date.month) && date.day >= 1 && date.day <= BillingCalendar.daysInMonth(year: date.year, month: date.month))
        }
    }

    @Test func monthlyPeriodsKeepTheAnchorDayAndClampMonthEnds() {
        let jan31 = ms(2027, 1, 31) + 3_600_000
        let interval = BillingInterval(unit: .month, count: 1)
        let feb = interval.periodEnd(from: jan31, anchorDay: 31)
        #expect(feb == ms(2027, 2, 28) + 3_600_000)
        let mar = interval.periodEnd(from: feb, anchorDay: 31)
        #expect(mar == ms(2027, 3, 31) + 3_600_000, "back on the 31st, not stuck on the 28th")
        #expect(interval.periodEnd(from: ms(2028, 1, 31), anchorDay: 31) == ms(2028, 2, 29), "leap year")
        #expect(BillingInterval(unit: .year, count: 1).periodEnd(from: ms(2028, 2, 29), anchorDay: 29) == ms(2029, 2, 28))
        #expect(BillingInterval(unit: .week, count: 2).periodEnd(from: 0, anchorDay: 1) == 14 * BillingCalendar.dayMs)
        #expect(BillingInterval(unit: .month, count: 1).periodEnd(from: ms(2026, 12, 15), anchorDay: 15) == ms(2027, 1, 15), "over the year end")
    }

    @Test func dunningRetriesAfterOneThreeAndFiveDaysThenStops() {
        let policy = DunningPolicy()
        let day = BillingCalendar.dayMs
        #expect(policy.nextAttempt(afterFailedAttempts: 1, at: 0) == day)
        #expect(policy.nextAttempt(afterFailedAttempts: 2, at: 0) == 3 * day)
        #expect(policy.nextAttempt(afterFailedAttempts: 3, at: 0) == 5 * day)
        #expect(policy.nextAttempt(afterFailedAttempts: 4, at: 0) == nil)
        var invoice = Invoice(id: "in_1", subscriptionID: "sub_1", merchantID: "m", livemode: false, amount: Money(amountMinor: 100, currency: .usd),
                              periodStartMs: 0, periodEndMs: 30 * day, createdAtMs: 0)
        #expect(invoice.nextAttemptKey == "in_1:attempt:1")
        for attempt in 1...4 { invoice.recordFailed(paymentID: "pay_\(attempt)", policy: policy, at: Int64(attempt) * day) }
        #expect(invoice.status == .uncollectible && invoice.nextAttemptAtMs == nil && invoice.attempts == 4)
    }
}
