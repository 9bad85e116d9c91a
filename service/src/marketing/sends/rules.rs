//! The rules one marketing message is decided by, at the moment it is sent: the member's answers in force, the
//! weekly cap across channels, and for SMS the sending hours in the member's store's zone.

use chrono::{DateTime, NaiveTime, TimeZone, Timelike, Utc};

use super::super::sms::Limits;
use crate::domain::SendChannel;

/// Whether one message may go now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Decision {
    Send,
    Skip(&'static str),
    /// Outside the sending hours: wait until they open.
    Hold(DateTime<Utc>),
}

/// What holds for one member when their message is decided.
pub(super) struct Facts {
    pub(super) channel: SendChannel,
    pub(super) gone: bool,
    pub(super) marketing: Option<bool>,
    pub(super) sms: Option<bool>,
    pub(super) personalised: Option<bool>,
    pub(super) has_phone: bool,
    pub(super) has_account: bool,
    pub(super) sent_this_week: i64,
    pub(super) limits: Limits,
    pub(super) zone: chrono_tz::Tz,
    pub(super) now: DateTime<Utc>,
}

/// The rules, in the order a member would ask about them.
pub(super) fn decide(facts: &Facts) -> Decision {
    if facts.gone {
        return Decision::Skip("member_gone");
    }
    // Campaigns pick members by their characteristics (a segment): a member who refused that hears from none.
    if facts.personalised == Some(false) {
        return Decision::Skip("personalisation_refused");
    }
    match facts.channel {
        // In the app the member opened: only a no stops it.
        SendChannel::InApp if facts.marketing == Some(false) => return Decision::Skip("no_consent"),
        SendChannel::InApp => {}
        // Commercial SMS needs a yes: no answer is a no.
        SendChannel::Sms if facts.marketing != Some(true) => return Decision::Skip("no_consent"),
        SendChannel::Sms if facts.sms == Some(false) => return Decision::Skip("sms_opted_out"),
        SendChannel::Sms if !facts.has_phone => return Decision::Skip("no_phone"),
        SendChannel::Sms if !facts.has_account => return Decision::Skip("no_sms_account"),
        SendChannel::Sms => {}
    }
    if facts.sent_this_week >= i64::from(facts.limits.weekly_cap) {
        return Decision::Skip("weekly_cap");
    }
    if facts.channel == SendChannel::Sms
        && let Some(opens) = hours_open(facts.zone, facts.limits, facts.now)
    {
        return Decision::Hold(opens);
    }
    Decision::Send
}

/// When the sending hours next open, if `now` is outside them in `zone`.
fn hours_open(zone: chrono_tz::Tz, limits: Limits, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let local = now.with_timezone(&zone);
    let minute = i32::try_from(local.hour() * 60 + local.minute()).unwrap_or(0);
    if (limits.sms_from_min..limits.sms_until_min).contains(&minute) {
        return None;
    }
    let day = if minute < limits.sms_from_min { local.date_naive() } else { local.date_naive().succ_opt()? };
    let from = u32::try_from(limits.sms_from_min).ok()?;
    let opens = day.and_time(NaiveTime::from_hms_opt(from / 60, from % 60, 0)?);
    Some(zone.from_local_datetime(&opens).earliest()?.with_timezone(&Utc))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(channel: SendChannel) -> Facts {
        Facts {
            channel,
            gone: false,
            marketing: Some(true),
            sms: None,
            personalised: None,
            has_phone: true,
            has_account: true,
            sent_this_week: 0,
            limits: Limits { weekly_cap: 2, sms_from_min: 8 * 60, sms_until_min: 21 * 60 },
            zone: chrono_tz::Asia::Shanghai,
            // 12:00 in Shanghai.
            now: Utc.with_ymd_and_hms(2026, 12, 7, 4, 0, 0).single().unwrap_or_default(),
        }
    }

    #[test]
    fn consent_the_cap_and_the_hours_decide_each_message() {
        assert_eq!(decide(&facts(SendChannel::Sms)), Decision::Send);
        // SMS needs a yes; in the app only a no stops it.
        let unasked = |channel| Facts { marketing: None, ..facts(channel) };
        assert_eq!(decide(&unasked(SendChannel::Sms)), Decision::Skip("no_consent"));
        assert_eq!(decide(&unasked(SendChannel::InApp)), Decision::Send);
        let refused = Facts { marketing: Some(false), ..facts(SendChannel::InApp) };
        assert_eq!(decide(&refused), Decision::Skip("no_consent"));
        assert_eq!(decide(&Facts { sms: Some(false), ..facts(SendChannel::Sms) }), Decision::Skip("sms_opted_out"));
        let impersonal = Facts { personalised: Some(false), ..facts(SendChannel::InApp) };
        assert_eq!(decide(&impersonal), Decision::Skip("personalisation_refused"));
        assert_eq!(decide(&Facts { has_phone: false, ..facts(SendChannel::Sms) }), Decision::Skip("no_phone"));
        let capped = |channel| Facts { sent_this_week: 2, ..facts(channel) };
        assert_eq!(decide(&capped(SendChannel::Sms)), Decision::Skip("weekly_cap"));
        assert_eq!(decide(&capped(SendChannel::InApp)), Decision::Skip("weekly_cap"));
        // 22:30 in Shanghai: held until 08:00 the next morning; the in-app message goes.
        let late = |channel| Facts { now: Utc.with_ymd_and_hms(2026, 12, 7, 14, 30, 0).unwrap(), ..facts(channel) };
        let opens = Utc.with_ymd_and_hms(2026, 12, 8, 0, 0, 0).unwrap();
        assert_eq!(decide(&late(SendChannel::Sms)), Decision::Hold(opens));
        assert_eq!(decide(&late(SendChannel::InApp)), Decision::Send);
        // 07:59 is held until 08:00 the same day.
        let early = Facts { now: Utc.with_ymd_and_hms(2026, 12, 7, 23, 59, 0).unwrap(), ..facts(SendChannel::Sms) };
        assert_eq!(decide(&early), Decision::Hold(opens));
        // The hours are the member's store's zone's.
        let urumqi = Facts { zone: chrono_tz::Asia::Urumqi, ..late(SendChannel::Sms) };
        assert_eq!(decide(&urumqi), Decision::Send);
    }
}
