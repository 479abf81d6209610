//! Calendar arithmetic on the contract's dates (days since 1970-01-01) and
//! timestamps. Rules never read a clock: "today" is the day of `context.now`, in UTC.

use chrono::{Datelike, NaiveDate};

use crate::contract::{Context, Date, ErrorCode, RuleError};

/// Days between 0001-01-01 (chrono's day 1 of the common era) and 1970-01-01.
const UNIX_EPOCH_DAYS_FROM_CE: i32 = 719_163;
const SECONDS_PER_DAY: i64 = 86_400;

/// A contract date as a calendar date; `None` beyond the calendar's range.
pub fn to_naive(date: Date) -> Option<NaiveDate> {
    NaiveDate::from_num_days_from_ce_opt(date.checked_add(UNIX_EPOCH_DAYS_FROM_CE)?)
}

/// A calendar date as a contract date.
pub fn from_naive(date: NaiveDate) -> Date {
    date.num_days_from_ce() - UNIX_EPOCH_DAYS_FROM_CE
}

/// The first and last days of the calendar's range (chrono's `NaiveDate::MIN` and
/// `MAX`), as contract dates; a test checks them against chrono.
const FIRST_DAY: Date = -96_465_292;
const LAST_DAY: Date = 95_026_236;

/// The day of `ctx.now`, in UTC; an instant outside the calendar's range is refused.
pub fn today(ctx: &Context) -> Result<Date, RuleError> {
    let day = ctx.now.div_euclid(SECONDS_PER_DAY);
    if day < i64::from(FIRST_DAY) || day > i64::from(LAST_DAY) {
        return Err(RuleError::new(
            ErrorCode::InvalidValue,
            "`now` is out of range",
            Some("now"),
        ));
    }
    // In range, so it fits: the calendar's range is narrower than an i32 of days.
    Ok(day as Date)
}

/// Whether a date is a Saturday or a Sunday.
pub fn is_weekend(date: Date) -> bool {
    // 1970-01-01 was a Thursday: with Monday as 0, it is day 3 of its week.
    let weekday = (i64::from(date) + 3).rem_euclid(7);
    weekday >= 5
}

/// `days` business days after `from`: Saturdays, Sundays and `holidays` (sorted
/// ascending) are skipped.
pub fn add_business_days(from: Date, days: u32, holidays: &[Date]) -> Date {
    let mut date = from;
    let mut left = days;
    while left > 0 && date < LAST_DAY {
        date += 1;
        if !is_weekend(date) && holidays.binary_search(&date).is_err() {
            left -= 1;
        }
    }
    date
}

/// The last day of the quarter `quarters_ahead` quarters after the one `today` is in.
pub fn quarter_end(today: NaiveDate, quarters_ahead: u32) -> Option<NaiveDate> {
    let q0 = today.month0() / 3 + quarters_ahead;
    let (year, q) = (today.year().checked_add((q0 / 4) as i32)?, q0 % 4);
    // The day before the first day of the following quarter.
    let (next_year, next_month) = if q == 3 {
        (year.checked_add(1)?, 1)
    } else {
        (year, q * 3 + 4)
    };
    NaiveDate::from_ymd_opt(next_year, next_month, 1)?.pred_opt()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(y: i32, m: u32, d: u32) -> Date {
        from_naive(NaiveDate::from_ymd_opt(y, m, d).unwrap())
    }

    #[test]
    fn dates_round_trip_through_days() {
        assert_eq!(day(1970, 1, 1), 0);
        let d = day(2026, 11, 25);
        assert_eq!(to_naive(d).map(from_naive), Some(d));
        assert_eq!(to_naive(i32::MAX), None);
    }

    #[test]
    fn the_range_is_the_calendars() {
        assert_eq!(from_naive(NaiveDate::MIN), FIRST_DAY);
        assert_eq!(from_naive(NaiveDate::MAX), LAST_DAY);
    }

    #[test]
    fn business_days_skip_weekends_and_holidays() {
        let (fri, mon) = (day(2026, 11, 27), day(2026, 11, 30));
        assert!(!is_weekend(fri) && is_weekend(fri + 1) && is_weekend(fri + 2));
        assert_eq!(add_business_days(fri, 1, &[]), mon);
        assert_eq!(add_business_days(fri, 1, &[mon]), mon + 1);
        assert_eq!(add_business_days(fri, 0, &[mon]), fri);
    }

    #[test]
    fn today_is_the_utc_day_of_now() {
        let ctx = |now| Context {
            now,
            user: None,
            team: None,
        };
        assert_eq!(today(&ctx(0)).unwrap(), 0);
        assert_eq!(today(&ctx(-1)).unwrap(), -1);
        assert_eq!(today(&ctx(86_399)).unwrap(), 0);
        assert_eq!(
            today(&ctx(i64::MAX)).unwrap_err().field.as_deref(),
            Some("now")
        );
    }

    #[test]
    fn quarter_end_rolls_over_the_year() {
        let nov = NaiveDate::from_ymd_opt(2026, 11, 25).unwrap();
        assert_eq!(quarter_end(nov, 0), NaiveDate::from_ymd_opt(2026, 12, 31));
        assert_eq!(quarter_end(nov, 1), NaiveDate::from_ymd_opt(2027, 3, 31));
    }
}
