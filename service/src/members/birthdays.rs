//! A member's birthday on the calendar: when it falls in a given year, the next one, and which month-days fall in a
//! window. One rule everywhere (birthday coupons, segments, automations): 29 February is kept on the 28th in a
//! common year.

use std::collections::BTreeMap;

use chrono::{Datelike, NaiveDate};

/// The member's birthday in `year`.
fn birthday_in(birthday: NaiveDate, year: i32) -> Option<NaiveDate> {
    NaiveDate::from_ymd_opt(year, birthday.month(), birthday.day())
        .or_else(|| NaiveDate::from_ymd_opt(year, birthday.month(), birthday.day() - 1))
}

/// The member's next birthday on or after `today`.
pub(crate) fn next_birthday(birthday: NaiveDate, today: NaiveDate) -> Option<NaiveDate> {
    birthday_in(birthday, today.year()).filter(|day| *day >= today).or_else(|| birthday_in(birthday, today.year() + 1))
}

/// The birthdays (month → days of the month) celebrated from `today` through `days` days later: a member born on
/// one of them has `next_birthday` in the window.
pub(crate) fn birthdays_within(today: NaiveDate, days: u32) -> BTreeMap<u32, Vec<u32>> {
    let mut birthdays: BTreeMap<u32, Vec<u32>> = BTreeMap::new();
    for day in today.iter_days().take(usize::try_from(days).unwrap_or(0).saturating_add(1)) {
        let month = birthdays.entry(day.month()).or_default();
        month.push(day.day());
        let common_year = NaiveDate::from_ymd_opt(day.year(), 2, 29).is_none();
        if (day.month(), day.day()) == (2, 28) && common_year {
            month.push(29);
        }
    }
    birthdays
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use chrono::{Datelike, Duration, NaiveDate};

    use super::{birthdays_within, next_birthday};

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap_or_default()
    }

    #[test]
    fn the_next_birthday_is_this_year_or_next_and_a_leap_day_keeps_to_february() {
        assert_eq!(next_birthday(day(1990, 12, 10), day(2026, 12, 6)), Some(day(2026, 12, 10)));
        assert_eq!(next_birthday(day(1990, 12, 1), day(2026, 12, 6)), Some(day(2027, 12, 1)));
        assert_eq!(next_birthday(day(1996, 2, 29), day(2027, 2, 1)), Some(day(2027, 2, 28)));
        assert_eq!(next_birthday(day(1996, 2, 29), day(2028, 2, 1)), Some(day(2028, 2, 29)));
    }

    #[test]
    fn a_window_crosses_the_year_and_takes_the_leap_day_on_the_28th_of_a_common_year() {
        let window = |today, days| birthdays_within(today, days).into_iter().collect::<Vec<_>>();
        assert_eq!(window(day(2026, 12, 7), 0), [(12, vec![7])]);
        assert_eq!(window(day(2026, 12, 30), 3), [(1, vec![1, 2]), (12, vec![30, 31])]);
        assert_eq!(window(day(2027, 2, 27), 2), [(2, vec![27, 28, 29]), (3, vec![1])]);
        assert_eq!(window(day(2028, 2, 27), 2), [(2, vec![27, 28, 29])]);
        assert_eq!(window(day(2028, 3, 1), 0), [(3, vec![1])], "the 29th had its own day in a leap year");
    }

    /// Every birthday of a leap and a common year, against every window start of two years and a few lengths:
    /// the window holds a birthday exactly when the next one falls in it.
    #[test]
    fn a_window_holds_exactly_the_birthdays_whose_next_falls_in_it() {
        let births: Vec<NaiveDate> = day(1996, 1, 1).iter_days().take(366).collect();
        for start in day(2027, 1, 1).iter_days().take(731).step_by(3) {
            for days in [0_u32, 1, 6, 30, 90] {
                let window: BTreeMap<u32, Vec<u32>> = birthdays_within(start, days);
                for birth in &births {
                    let held = window.get(&birth.month()).is_some_and(|d| d.contains(&birth.day()));
                    let next = next_birthday(*birth, start).unwrap_or_default();
                    assert_eq!(held, next <= start + Duration::days(i64::from(days)), "{birth} from {start} +{days}");
                }
            }
        }
    }
}
