/// Calendar arithmetic on Unix milliseconds (UTC), without Foundation: what billing periods
/// need. Months are added to the civil date, keeping the anchor day and clamping it to the
/// month's length (a subscription started on the 31st renews on the 30th in April, on the 28th
/// or 29th in February, and on the 31st again in May), as card-billing systems do.
public enum BillingCalendar {
    public static let dayMs: Int64 = 86_400_000

    /// Days since 1970-01-01 of a civil date (Howard Hinnant's days_from_civil).
    public static func days(year: Int64, month: Int64, day: Int64) -> Int64 {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let mp = (month + 9) % 12
        let doy = (153 * mp + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    /// The civil date of a day number (civil_from_days).
    public static func civil(days z0: Int64) -> (year: Int64, month: Int64, day: Int64) {
        let z = z0 + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let day = doy - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        return (month <= 2 ? yoe + era * 400 + 1 : yoe + era * 400, month, day)
    }

    public static func daysInMonth(year: Int64, month: Int64) -> Int64 {
        switch month {
        case 2: (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }

    /// `ms` plus `months` calendar months, on `anchorDay` of the target month (clamped), at the
    /// same time of day.
    public static func adding(months: Int64, to ms: Int64, anchorDay: Int64) -> Int64 {
        let dayNumber = ms >= 0 ? ms / dayMs : (ms - dayMs + 1) / dayMs
        let timeOfDay = ms - dayNumber * dayMs
        let date = civil(days: dayNumber)
        let total = date.year * 12 + (date.month - 1) + months
        let year = total >= 0 ? total / 12 : (total - 11) / 12
        let month = total - year * 12 + 1
        let day = min(anchorDay, daysInMonth(year: year, month: month))
        return days(year: year, month: month, day: day) * dayMs + timeOfDay
    }

    /// The day of the month of `ms` (1...31).
    public static func dayOfMonth(_ ms: Int64) -> Int64 {
        civil(days: ms >= 0 ? ms / dayMs : (ms - dayMs + 1) / dayMs).day
    }
}

/// How often a plan bills.
public struct BillingInterval: Hashable, Sendable {
    public enum Unit: String, Hashable, Sendable, CaseIterable { case day, week, month, year }
    public var unit: Unit
    public var count: Int

    public init(unit: Unit, count: Int) {
        precondition((1...365).contains(count), "interval count 1 to 365")
        self.unit = unit
        self.count = count
    }

    /// The end of the period that starts at `startMs`, for a subscription anchored on `anchorDay`.
    public func periodEnd(from startMs: Int64, anchorDay: Int64) -> Int64 {
        let n = Int64(count)
        switch unit {
        case .day: return startMs + n * BillingCalendar.dayMs
        case .week: return startMs + 7 * n * BillingCalendar.dayMs
        case .month: return BillingCalendar.adding(months: n, to: startMs, anchorDay: anchorDay)
        case .year: return BillingCalendar.adding(months: 12 * n, to: startMs, anchorDay: anchorDay)
        }
    }
}
