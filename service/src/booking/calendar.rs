//! A store's local calendar: local days and minutes-from-midnight to UTC and back. Storage is UTC; opening hours and
//! shifts are local wall-clock times, so a day with a daylight-saving change has 23 or 25 hours of axis.

use chrono::{DateTime, Duration, LocalResult, NaiveDate, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;

use crate::booking::slots::Span;

#[derive(Clone, Copy, Debug)]
pub struct Calendar {
    pub tz: Tz,
}

/// Minutes since the epoch: the axis slot arithmetic works on.
pub fn minutes(at: DateTime<Utc>) -> i64 {
    at.timestamp().div_euclid(60)
}

pub fn from_minutes(minutes: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(minutes * 60, 0).unwrap_or_default()
}

impl Calendar {
    pub fn new(timezone: &str) -> Self {
        Self { tz: timezone.parse().unwrap_or(chrono_tz::Asia::Shanghai) }
    }

    /// The instant of a local wall-clock time. A time that does not exist (skipped by a spring-forward change) is
    /// moved to the first instant after the gap; a time that happens twice (autumn) is its first occurrence for
    /// starts and its second for ends, so a span covers all of the wall-clock interval.
    fn instant(&self, local: NaiveDateTime, is_end: bool) -> DateTime<Utc> {
        let mut probe = local;
        for _ in 0..=8 {
            match self.tz.from_local_datetime(&probe) {
                LocalResult::Single(at) => return at.with_timezone(&Utc),
                LocalResult::Ambiguous(first, second) => {
                    return if is_end { second } else { first }.with_timezone(&Utc);
                }
                LocalResult::None => probe += Duration::minutes(15),
            }
        }
        Utc.from_utc_datetime(&local)
    }

    /// The UTC minute of `minute` minutes after local midnight of `day` (1440 is the next midnight).
    pub fn at(&self, day: NaiveDate, minute: i32, is_end: bool) -> i64 {
        let local = day.and_time(chrono::NaiveTime::MIN) + Duration::minutes(i64::from(minute));
        minutes(self.instant(local, is_end))
    }

    /// A local-minute span of `day` on the axis.
    pub fn span(&self, day: NaiveDate, from_min: i32, to_min: i32) -> Span {
        Span::new(self.at(day, from_min, false), self.at(day, to_min, true))
    }

    /// The whole local day, midnight to midnight.
    pub fn day(&self, day: NaiveDate) -> Span {
        self.span(day, 0, 1440)
    }

    /// A report's period: local days `from..=to`, at most a year, as the instants from the first midnight to the
    /// midnight after the last day. Days at the edge of the calendar are refused rather than overflowing.
    pub fn period(&self, from: NaiveDate, to: NaiveDate) -> crate::Result<(DateTime<Utc>, DateTime<Utc>)> {
        if to < from || (to - from).num_days() > 366 {
            return Err(crate::Error::invalid("to", "the period runs from `from` to `to`, at most a year"));
        }
        let midnight = |day: NaiveDate| self.instant(day.and_time(chrono::NaiveTime::MIN), false);
        match to.succ_opt() {
            Some(after) if from.pred_opt().is_some() => Ok((midnight(from), midnight(after))),
            _ => Err(crate::Error::invalid("to", "not a date this calendar can hold")),
        }
    }

    /// The local day an instant falls on.
    pub fn date_of(&self, at: DateTime<Utc>) -> NaiveDate {
        at.with_timezone(&self.tz).date_naive()
    }

    /// An instant as local RFC 3339 (with the store's offset), the form clients show.
    pub fn local(&self, at: DateTime<Utc>) -> String {
        at.with_timezone(&self.tz).to_rfc3339()
    }

    pub fn today(&self, now: DateTime<Utc>) -> NaiveDate {
        self.date_of(now)
    }
}

/// A local time of day written `HH:MM` (`24:00` ends a day), as minutes from midnight.
pub fn parse_clock(field: &'static str, text: &str) -> crate::Result<i32> {
    let invalid = || crate::Error::invalid(field, "times are HH:MM, 00:00 to 24:00");
    let (h, m) = text.split_once(':').ok_or_else(invalid)?;
    let (h, m): (i32, i32) = (h.parse().map_err(|_| invalid())?, m.parse().map_err(|_| invalid())?);
    if h.to_string().len() > 2 || m.to_string().len() > 2 || !(0..=24).contains(&h) || !(0..60).contains(&m) {
        return Err(invalid());
    }
    if h == 24 && m != 0 {
        return Err(invalid());
    }
    Ok(h * 60 + m)
}

/// Minutes from midnight written `HH:MM`.
pub fn clock(minutes: i32) -> String {
    format!("{:02}:{:02}", minutes / 60, minutes % 60)
}

/// ISO weekday, 1 = Monday.
pub fn weekday(day: NaiveDate) -> i32 {
    use chrono::Datelike;
    i32::try_from(day.weekday().number_from_monday()).unwrap_or(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(text: &str) -> NaiveDate {
        text.parse().unwrap()
    }

    #[test]
    fn shanghai_days_are_24_hours_at_plus_eight() {
        let calendar = Calendar::new("Asia/Shanghai");
        let day = calendar.day(date("2026-11-25"));
        assert_eq!(day.end - day.start, 1440);
        assert_eq!(from_minutes(calendar.at(date("2026-11-25"), 600, false)).to_rfc3339(), "2026-11-25T02:00:00+00:00");
    }

    #[test]
    fn daylight_saving_days_have_23_and_25_hours() {
        let calendar = Calendar::new("America/New_York");
        let spring = calendar.day(date("2027-03-14"));
        assert_eq!(spring.end - spring.start, 23 * 60);
        let autumn = calendar.day(date("2027-11-07"));
        assert_eq!(autumn.end - autumn.start, 25 * 60);
        // 10:00 local is 14:00 UTC in summer time and 15:00 UTC in winter time.
        assert_eq!(from_minutes(calendar.at(date("2027-03-14"), 600, false)).to_rfc3339(), "2027-03-14T14:00:00+00:00");
        assert_eq!(from_minutes(calendar.at(date("2027-03-13"), 600, false)).to_rfc3339(), "2027-03-13T15:00:00+00:00");
    }

    #[test]
    fn skipped_and_repeated_wall_clock_times() {
        let calendar = Calendar::new("America/New_York");
        // 02:30 does not exist on 2027-03-14: it becomes 03:00 EDT (07:00 UTC).
        assert_eq!(from_minutes(calendar.at(date("2027-03-14"), 150, false)).to_rfc3339(), "2027-03-14T07:00:00+00:00");
        // 01:30 happens twice on 2027-11-07: a span from it starts at the first and ends at the second.
        let span = calendar.span(date("2027-11-07"), 90, 90);
        assert_eq!(span.end - span.start, 60);
    }
}
