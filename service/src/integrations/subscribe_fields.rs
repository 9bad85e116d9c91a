//! WeChat subscribe-message (订阅消息) field rules: each value in a message's `data` is fitted to what its key's
//! type accepts before the message is sent, because WeChat refuses the whole message (47003, `argument invalid!
//! data.<key>.value invalid`) when one value breaks its rule.
//!
//! The type is the key's prefix (`thing1`, `time2`, `phrase16`, `character_string3`, …). The rules are those of the
//! table after "Subscribe messages" in shared/docs/PROTOCOLS.md, taken from the official 「订阅消息参数值内容限制说明」
//! (subscribeMessage.send on developers.weixin.qq.com). Two details of that official text are not in the table and
//! are followed here: `time` and `date` may be a period, two points joined by `~`, and a `car_number` is letters and
//! digits with only its first and last character allowed to be 汉字.
//!
//! Free text is shortened: a long `thing` keeps 19 characters and ends in `…`, a long `name` is cut. Every other
//! type is a code, number, time or fixed word (a `phrase` such as 已预约) whose meaning a cut would change, so a value
//! that breaks its rule is refused with a [`FieldError`] instead. Lengths count characters, not bytes. A value that
//! is empty or only whitespace is refused for every type.

use std::fmt;
use std::ops::RangeInclusive;

/// The type of a subscribe-message data key, named by the key's prefix.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FieldKind {
    /// `thing`: ≤20 characters of any kind.
    Thing,
    /// `number`: ≤32 digits, at most one decimal point.
    Number,
    /// `letter`: ≤32 letters.
    Letter,
    /// `symbol`: ≤5 symbols.
    Symbol,
    /// `character_string`: ≤32 digits, letters or symbols.
    CharacterString,
    /// `time`: 24-hour time, optionally after a date (`15:01`, `2019年10月1日 15:01`).
    Time,
    /// `date`: a date, optionally with a time (`2019年10月1日`, `2019年10月1日 15:01`).
    Date,
    /// `amount`: one currency sign and ≤10 digits, may have decimals, may end in `元`.
    Amount,
    /// `phone_number`: ≤17 digits and symbols.
    PhoneNumber,
    /// `car_number`: ≤8 characters; the first and last may be 汉字.
    CarNumber,
    /// `name`: ≤10 汉字 or ≤20 letters (mixed counts as 汉字).
    Name,
    /// `phrase`: ≤5 汉字, nothing else.
    Phrase,
}

impl FieldKind {
    const ALL: [FieldKind; 12] = [
        FieldKind::Thing,
        FieldKind::Number,
        FieldKind::Letter,
        FieldKind::Symbol,
        FieldKind::CharacterString,
        FieldKind::Time,
        FieldKind::Date,
        FieldKind::Amount,
        FieldKind::PhoneNumber,
        FieldKind::CarNumber,
        FieldKind::Name,
        FieldKind::Phrase,
    ];

    /// The key prefix WeChat uses for this type.
    pub fn prefix(self) -> &'static str {
        match self {
            FieldKind::Thing => "thing",
            FieldKind::Number => "number",
            FieldKind::Letter => "letter",
            FieldKind::Symbol => "symbol",
            FieldKind::CharacterString => "character_string",
            FieldKind::Time => "time",
            FieldKind::Date => "date",
            FieldKind::Amount => "amount",
            FieldKind::PhoneNumber => "phone_number",
            FieldKind::CarNumber => "car_number",
            FieldKind::Name => "name",
            FieldKind::Phrase => "phrase",
        }
    }

    /// The type of a data key: a known prefix followed by one or more ASCII digits and nothing else (`thing1`,
    /// `character_string12`); `None` for anything else (`things1`, `thing`, `thing1a`, `Thing1`).
    pub fn of_key(key: &str) -> Option<FieldKind> {
        Self::ALL.into_iter().find(|kind| {
            key.strip_prefix(kind.prefix())
                .is_some_and(|digits| !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()))
        })
    }
}

/// Why a value cannot be sent under its key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldError {
    pub key: String,
    pub reason: &'static str,
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "subscribe-message field {}: {}", self.key, self.reason)
    }
}

impl std::error::Error for FieldError {}

/// The ellipsis a shortened `thing` ends with (one character).
const ELLIPSIS: char = '…';

/// `value` fitted to the rule of `key`'s type: unchanged when it already satisfies it, shortened when it is free text
/// that is too long (`thing`, `name`), refused otherwise.
pub fn fit(key: &str, value: &str) -> Result<String, FieldError> {
    let refuse = |reason: &'static str| FieldError { key: key.to_owned(), reason };
    let kind = FieldKind::of_key(key)
        .ok_or_else(|| refuse("unknown field type: a key is a type prefix and digits, such as thing1 or time2"))?;
    if value.trim().is_empty() {
        return Err(refuse("empty"));
    }
    let chars = value.chars().count();
    match kind {
        FieldKind::Thing => Ok(shorten(value, 20, Some(ELLIPSIS))),
        FieldKind::Name => {
            let limit = if value.chars().all(|c| c.is_ascii_alphabetic() || c == ' ') { 20 } else { 10 };
            Ok(shorten(value, limit, None))
        }
        FieldKind::Phrase => {
            if !value.chars().all(is_han) {
                Err(refuse("a phrase is Chinese characters (汉字) only"))
            } else if chars > 5 {
                Err(refuse("a phrase is at most 5 characters; it is a fixed word, so it is not cut"))
            } else {
                Ok(value.to_owned())
            }
        }
        FieldKind::Number => {
            if !is_decimal(value) {
                Err(refuse("a number is digits with at most one decimal point"))
            } else if chars > 32 {
                Err(refuse("a number is at most 32 characters"))
            } else {
                Ok(value.to_owned())
            }
        }
        FieldKind::Letter => {
            if !value.chars().all(|c| c.is_ascii_alphabetic()) {
                Err(refuse("a letter field is ASCII letters only"))
            } else if chars > 32 {
                Err(refuse("a letter field is at most 32 letters"))
            } else {
                Ok(value.to_owned())
            }
        }
        FieldKind::Symbol => {
            if !value.chars().all(|c| c.is_ascii_punctuation()) {
                Err(refuse("a symbol field is ASCII punctuation only"))
            } else if chars > 5 {
                Err(refuse("a symbol field is at most 5 symbols"))
            } else {
                Ok(value.to_owned())
            }
        }
        FieldKind::CharacterString => {
            if !value.chars().all(|c| c.is_ascii_graphic()) {
                Err(refuse("a character_string is ASCII letters, digits and symbols, without spaces"))
            } else if chars > 32 {
                Err(refuse("a character_string is at most 32 characters; it is a code, so it is not cut"))
            } else {
                Ok(value.to_owned())
            }
        }
        FieldKind::Time => {
            if one_or_period(value, is_time_point) {
                Ok(value.to_owned())
            } else {
                Err(refuse("a time is 24-hour H:MM or H:MM:SS, optionally after a date, or two joined by ~"))
            }
        }
        FieldKind::Date => {
            if one_or_period(value, is_date_point) {
                Ok(value.to_owned())
            } else {
                Err(refuse("a date is 2019年10月1日 or 2019-10-01, optionally with a time, or two joined by ~"))
            }
        }
        FieldKind::Amount => {
            if is_amount(value) {
                Ok(value.to_owned())
            } else {
                Err(refuse("an amount is an optional ￥ ¥ $ or €, up to 10 digits, up to 2 decimals, optionally 元"))
            }
        }
        FieldKind::PhoneNumber => {
            if !value.chars().all(|c| c.is_ascii_digit() || matches!(c, '+' | '-' | '(' | ')' | ' '))
                || !value.chars().any(|c| c.is_ascii_digit())
            {
                Err(refuse("a phone number is digits and + - ( ) or spaces"))
            } else if chars > 17 {
                Err(refuse("a phone number is at most 17 characters"))
            } else {
                Ok(value.to_owned())
            }
        }
        FieldKind::CarNumber => {
            if chars > 8 {
                Err(refuse("a car number is at most 8 characters"))
            } else if !is_car_number(value, chars) {
                Err(refuse("a car number is letters and digits; only the first and last may be Chinese"))
            } else {
                Ok(value.to_owned())
            }
        }
    }
}

/// Every pair fitted with [`fit`], in the given order; the first refusal wins. A key given twice is refused (the
/// JSON object WeChat receives would keep only one of them).
pub fn fit_all(data: &[(String, String)]) -> Result<Vec<(String, String)>, FieldError> {
    let mut fitted: Vec<(String, String)> = Vec::with_capacity(data.len());
    for (key, value) in data {
        if fitted.iter().any(|(seen, _)| seen == key) {
            return Err(FieldError { key: key.clone(), reason: "the same key is given twice" });
        }
        fitted.push((key.clone(), fit(key, value)?));
    }
    Ok(fitted)
}

/// The first `limit` characters of `value`, or (with an ellipsis) the first `limit - 1` and the ellipsis.
fn shorten(value: &str, limit: usize, ellipsis: Option<char>) -> String {
    if value.chars().count() <= limit {
        return value.to_owned();
    }
    let keep = if ellipsis.is_some() { limit.saturating_sub(1) } else { limit };
    let mut out: String = value.chars().take(keep).collect();
    out.extend(ellipsis);
    out
}

/// A CJK ideograph (汉字): the unified blocks and their extensions, and compatibility ideographs.
fn is_han(c: char) -> bool {
    matches!(c,
        '\u{3400}'..='\u{4DBF}'
        | '\u{4E00}'..='\u{9FFF}'
        | '\u{F900}'..='\u{FAFF}'
        | '\u{20000}'..='\u{2A6DF}'
        | '\u{2A700}'..='\u{2EBEF}'
        | '\u{2F800}'..='\u{2FA1F}'
        | '\u{30000}'..='\u{323AF}')
}

/// `s` is all ASCII digits, between `min` and `max` of them.
fn is_digits(s: &str, min: usize, max: usize) -> bool {
    (min..=max).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit())
}

/// `s` is one or two (`min_digits`) digits whose value is in `range`.
fn is_number_in(s: &str, min_digits: usize, max_digits: usize, range: RangeInclusive<u32>) -> bool {
    is_digits(s, min_digits, max_digits) && s.parse::<u32>().is_ok_and(|n| range.contains(&n))
}

/// `12`, `-3.50`: an optional minus, digits, and at most one decimal point with digits on both sides.
fn is_decimal(s: &str) -> bool {
    let unsigned = s.strip_prefix('-').unwrap_or(s);
    let (whole, fraction) = match unsigned.split_once('.') {
        Some((whole, fraction)) => (whole, Some(fraction)),
        None => (unsigned, None),
    };
    is_digits(whole, 1, usize::MAX) && fraction.is_none_or(|f| is_digits(f, 1, usize::MAX))
}

/// `15:01`, `9:05`, `15:01:30`: hour 0–23 in one or two digits, minutes and seconds in two.
fn is_clock(s: &str) -> bool {
    let mut parts = s.split(':');
    let (Some(hour), Some(minute), second, None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
        return false;
    };
    is_number_in(hour, 1, 2, 0..=23)
        && is_number_in(minute, 2, 2, 0..=59)
        && second.is_none_or(|s| is_number_in(s, 2, 2, 0..=59))
}

/// `2019年10月1日` or `2019-10-01` (month and day in one or two digits) naming a real calendar day.
fn is_calendar_date(s: &str) -> bool {
    let parts = match s.strip_suffix('日') {
        Some(rest) => rest.split_once('年').and_then(|(y, rest)| rest.split_once('月').map(|(m, d)| (y, m, d))),
        None => {
            let mut parts = s.split('-');
            match (parts.next(), parts.next(), parts.next(), parts.next()) {
                (Some(y), Some(m), Some(d), None) => Some((y, m, d)),
                _ => None,
            }
        }
    };
    let Some((year, month, day)) = parts else { return false };
    if !(is_digits(year, 4, 4) && is_digits(month, 1, 2) && is_digits(day, 1, 2)) {
        return false;
    }
    match (year.parse::<i32>(), month.parse::<u32>(), day.parse::<u32>()) {
        (Ok(year), Ok(month), Ok(day)) => chrono::NaiveDate::from_ymd_opt(year, month, day).is_some(),
        _ => false,
    }
}

/// A date, then optionally spaces and a clock time.
fn is_date_point(s: &str) -> bool {
    match s.split_once(' ') {
        Some((date, time)) => is_calendar_date(date) && is_clock(time.trim_start()),
        None => is_calendar_date(s),
    }
}

/// A clock time, optionally after a date and spaces.
fn is_time_point(s: &str) -> bool {
    match s.split_once(' ') {
        Some((date, time)) => is_calendar_date(date) && is_clock(time.trim_start()),
        None => is_clock(s),
    }
}

/// One point, or a period: two points joined by `~` (spaces around it allowed).
fn one_or_period(s: &str, point: fn(&str) -> bool) -> bool {
    match s.split_once('~') {
        Some((from, to)) => point(from.trim_end()) && point(to.trim_start()),
        None => point(s),
    }
}

/// `￥12.50`, `¥3`, `$0.5`, `128元`: at most one currency sign, 1–10 integer digits, 1–2 decimals if there is a
/// point, an optional final `元`.
fn is_amount(s: &str) -> bool {
    let s = s.strip_suffix('元').unwrap_or(s);
    let s = s.strip_prefix(['￥', '¥', '$', '€']).unwrap_or(s);
    let (whole, fraction) = match s.split_once('.') {
        Some((whole, fraction)) => (whole, Some(fraction)),
        None => (s, None),
    };
    is_digits(whole, 1, 10) && fraction.is_none_or(|f| is_digits(f, 1, 2))
}

/// `粤B12345`, `粤BD12345`, `粤B1234学`: ASCII letters and digits, the first and last character may be 汉字.
fn is_car_number(s: &str, chars: usize) -> bool {
    s.chars().enumerate().all(|(i, c)| c.is_ascii_alphanumeric() || ((i == 0 || i + 1 == chars) && is_han(c)))
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn refused(key: &str, value: &str) -> bool {
        fit(key, value).is_err()
    }

    #[test]
    fn kinds_come_from_the_key_prefix_and_digits() {
        assert_eq!(FieldKind::of_key("thing1"), Some(FieldKind::Thing));
        assert_eq!(FieldKind::of_key("time2"), Some(FieldKind::Time));
        assert_eq!(FieldKind::of_key("phrase16"), Some(FieldKind::Phrase));
        assert_eq!(FieldKind::of_key("character_string3"), Some(FieldKind::CharacterString));
        assert_eq!(FieldKind::of_key("name4"), Some(FieldKind::Name));
        assert_eq!(FieldKind::of_key("amount5"), Some(FieldKind::Amount));
        assert_eq!(FieldKind::of_key("number6"), Some(FieldKind::Number));
        assert_eq!(FieldKind::of_key("letter7"), Some(FieldKind::Letter));
        assert_eq!(FieldKind::of_key("symbol8"), Some(FieldKind::Symbol));
        assert_eq!(FieldKind::of_key("date9"), Some(FieldKind::Date));
        assert_eq!(FieldKind::of_key("phone_number10"), Some(FieldKind::PhoneNumber));
        assert_eq!(FieldKind::of_key("car_number11"), Some(FieldKind::CarNumber));
        for key in ["things1", "thing", "thing1a", "Thing1", "character1", "string1", "phone1", "", "1", "thing-1"] {
            assert_eq!(FieldKind::of_key(key), None, "{key}");
        }
        for kind in FieldKind::ALL {
            assert_eq!(FieldKind::of_key(&format!("{}1", kind.prefix())), Some(kind));
        }
    }

    #[test]
    fn unknown_keys_and_empty_values_are_refused() {
        let err = fit("things1", "x").unwrap_err();
        assert_eq!(err.key, "things1");
        assert!(err.to_string().starts_with("subscribe-message field things1: unknown field type"), "{err}");
        for kind in FieldKind::ALL {
            let key = format!("{}1", kind.prefix());
            assert_eq!(fit(&key, "").unwrap_err().reason, "empty", "{key}");
            assert_eq!(fit(&key, "  ").unwrap_err().reason, "empty", "{key}");
        }
    }

    #[test]
    fn thing_keeps_twenty_characters_or_cuts_to_nineteen_and_an_ellipsis() {
        assert_eq!(fit("thing1", "剪发 + 护理 (Tony)").unwrap(), "剪发 + 护理 (Tony)");
        let twenty = "一二三四五六七八九十一二三四五六七八九十";
        assert_eq!(fit("thing1", twenty).unwrap(), twenty);
        assert_eq!(
            fit("thing1", "一二三四五六七八九十一二三四五六七八九十一").unwrap(),
            "一二三四五六七八九十一二三四五六七八九…"
        );
        assert_eq!(fit("thing1", &"a".repeat(40)).unwrap(), format!("{}…", "a".repeat(19)));
    }

    #[test]
    fn name_allows_twenty_letters_or_ten_of_anything_else() {
        assert_eq!(fit("name4", "王小明").unwrap(), "王小明");
        assert_eq!(fit("name4", "Alexandra Richardson").unwrap(), "Alexandra Richardson");
        assert_eq!(fit("name4", "Alexandra Richardsonian").unwrap(), "Alexandra Richardson");
        assert_eq!(fit("name4", "阿卜杜热合曼·买买提明").unwrap(), "阿卜杜热合曼·买买提");
        // Mixed counts as Chinese: ten characters.
        assert_eq!(fit("name4", "王Alexandra Smith").unwrap(), "王Alexandra");
        assert_eq!(fit("name4", "Tony2").unwrap(), "Tony2");
    }

    #[test]
    fn phrase_is_up_to_five_chinese_characters_and_never_cut() {
        assert_eq!(fit("phrase16", "已预约").unwrap(), "已预约");
        assert_eq!(fit("phrase16", "预约已取消").unwrap(), "预约已取消");
        assert!(refused("phrase16", "预约已被取消"));
        assert!(refused("phrase16", "OK"));
        assert!(refused("phrase16", "已 预约"));
        assert!(refused("phrase16", "已预约!"));
        assert!(refused("phrase16", "已预约。"));
    }

    #[test]
    fn number_is_digits_with_at_most_one_point() {
        for ok in ["0", "42", "3.14", "-7", "-0.5", &"9".repeat(32)] {
            assert_eq!(fit("number6", ok).unwrap(), ok);
        }
        for bad in ["1.2.3", "1.", ".5", "1,000", "一", "12a", "+3", "1 2", &"9".repeat(33)] {
            assert!(refused("number6", bad), "{bad}");
        }
    }

    #[test]
    fn letter_symbol_and_character_string() {
        assert_eq!(fit("letter7", "VIP").unwrap(), "VIP");
        assert_eq!(fit("letter7", &"a".repeat(32)).unwrap(), "a".repeat(32));
        assert!(refused("letter7", &"a".repeat(33)));
        assert!(refused("letter7", "VIP1"));
        assert!(refused("letter7", "V P"));

        assert_eq!(fit("symbol8", "#*-").unwrap(), "#*-");
        assert!(refused("symbol8", "!!!!!!"));
        assert!(refused("symbol8", "a!"));
        assert!(refused("symbol8", "！"));

        assert_eq!(fit("character_string3", "BK20261125-0001").unwrap(), "BK20261125-0001");
        assert_eq!(fit("character_string3", &"A".repeat(32)).unwrap(), "A".repeat(32));
        assert!(refused("character_string3", &"A".repeat(33)));
        assert!(refused("character_string3", "BK 0001"));
        assert!(refused("character_string3", "订单0001"));
    }

    #[test]
    fn time_is_a_clock_optionally_after_a_date_or_a_period() {
        for ok in [
            "15:01",
            "9:05",
            "23:59:59",
            "2019年10月1日 15:01",
            "2019年10月01日 15:01:30",
            "2019-10-01 15:01",
            "2019-10-01 15:01:00",
            "15:00~16:30",
            "2019年10月1日 15:00~2019年10月1日 16:30",
            "2019年10月1日 15:00 ~ 16:30",
        ] {
            assert_eq!(fit("time2", ok).unwrap(), ok);
        }
        for bad in [
            "15点",
            "24:00",
            "15:1",
            "15:60",
            "2019年10月1日",
            "2019-10-01",
            "2019-02-30 10:00",
            "15:01 ",
            "明天 15:01",
            "15:00~",
            "10:00~11:00~12:00",
            "2019/10/01 15:01",
        ] {
            assert!(refused("time2", bad), "{bad}");
        }
    }

    #[test]
    fn date_is_a_date_optionally_with_a_time_or_a_period() {
        for ok in [
            "2019年10月1日",
            "2019-10-01",
            "2019-1-1",
            "2019年10月1日 15:01",
            "2019-10-01 15:01:30",
            "2024年2月29日",
            "2019年10月1日~2019年10月7日",
        ] {
            assert_eq!(fit("date9", ok).unwrap(), ok);
        }
        for bad in ["15:01", "2019年10月", "10月1日", "2023年2月29日", "2019-13-01", "19-10-01", "2019.10.01", "今天"]
        {
            assert!(refused("date9", bad), "{bad}");
        }
    }

    #[test]
    fn amount_is_a_sign_digits_decimals_and_yuan() {
        for ok in ["￥12.50", "¥3", "$0.5", "€100", "128元", "￥88.00元", "1234567890", "0.01"] {
            assert_eq!(fit("amount5", ok).unwrap(), ok);
        }
        for bad in ["12345678901", "￥1.234", "￥￥1", "1.", "1,000", "-1", "RMB 1", "元", "￥", "1 元", "十元"]
        {
            assert!(refused("amount5", bad), "{bad}");
        }
    }

    #[test]
    fn phone_and_car_numbers() {
        for ok in ["13800138000", "+86-0766-66888866", "(020) 8888 6666"] {
            assert_eq!(fit("phone_number10", ok).unwrap(), ok);
        }
        for bad in ["+86-0766-668888660", "138-0013-800a", "电话13800138000", "+-()"] {
            assert!(refused("phone_number10", bad), "{bad}");
        }

        for ok in ["粤B12345", "粤BD12345", "粤B1234学", "AB12345"] {
            assert_eq!(fit("car_number11", ok).unwrap(), ok);
        }
        for bad in ["粤B123456学", "粤B12粤45", "粤 B12345", "粤B-12345"] {
            assert!(refused("car_number11", bad), "{bad}");
        }
    }

    #[test]
    fn fit_all_keeps_order_and_stops_at_the_first_refusal() {
        let data = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
            pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
        };
        let fitted = fit_all(&data(&[
            ("thing1", "一二三四五六七八九十一二三四五六七八九十一"),
            ("time2", "2026年11月25日 15:00"),
            ("phrase3", "已预约"),
        ]))
        .unwrap();
        assert_eq!(
            fitted,
            data(&[
                ("thing1", "一二三四五六七八九十一二三四五六七八九…"),
                ("time2", "2026年11月25日 15:00"),
                ("phrase3", "已预约")
            ])
        );
        let err = fit_all(&data(&[("thing1", "剪发"), ("phrase3", "正常结束了"), ("time2", "later")])).unwrap_err();
        assert_eq!(err.key, "time2");
        let err = fit_all(&data(&[("thing1", "剪发"), ("thing1", "染发")])).unwrap_err();
        assert_eq!((err.key.as_str(), err.reason), ("thing1", "the same key is given twice"));
        assert_eq!(fit_all(&[]).unwrap(), vec![]);
    }

    proptest! {
        #[test]
        fn thing_is_at_most_twenty_characters_of_the_original(s in any::<String>()) {
            match fit("thing1", &s) {
                Err(_) => prop_assert!(s.trim().is_empty()),
                Ok(out) => {
                    prop_assert!(out.chars().count() <= 20);
                    if s.chars().count() <= 20 {
                        prop_assert_eq!(&out, &s);
                    } else {
                        let kept = out.strip_suffix(ELLIPSIS);
                        prop_assert!(kept.is_some_and(|k| k.chars().count() == 19 && s.starts_with(k)), "{:?}", out);
                    }
                }
            }
        }

        #[test]
        fn name_is_a_prefix_within_its_limit(s in prop_oneof![any::<String>(), "[A-Za-z ]{0,30}", "[a-z王李·]{0,30}"]) {
            match fit("name4", &s) {
                Err(_) => prop_assert!(s.trim().is_empty()),
                Ok(out) => {
                    prop_assert!(s.starts_with(&out));
                    let letters_only = out.chars().all(|c| c.is_ascii_alphabetic() || c == ' ');
                    prop_assert!(out.chars().count() <= if letters_only { 20 } else { 10 }, "{:?}", out);
                    if s.chars().count() <= 10 {
                        prop_assert_eq!(&out, &s);
                    }
                }
            }
        }

        #[test]
        fn a_fitted_value_fits_unchanged(kind in 0usize..12, s in prop_oneof![any::<String>(), "[0-9:年月日 ~-]{1,25}"]) {
            let key = format!("{}1", FieldKind::ALL[kind].prefix());
            if let Ok(out) = fit(&key, &s) {
                prop_assert_eq!(fit(&key, &out), Ok(out.clone()));
            }
        }
    }
}
