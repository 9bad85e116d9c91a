//! Time zones, as stores keep them: IANA names such as `Asia/Shanghai`.

/// The canonical IANA name of `value`, or why it is not one.
pub fn parse_timezone(value: &str) -> Result<String, &'static str> {
    value
        .parse::<chrono_tz::Tz>()
        .map(|tz| tz.name().to_owned())
        .map_err(|_| "must be an IANA time zone such as Asia/Shanghai")
}
