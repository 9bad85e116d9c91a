use std::fmt;

use serde::{Deserialize, Serialize};

/// A mainland China mobile number, normalised to its 11 digits (`13812345678`).
///
/// Accepts what people type: spaces, dashes, a `+86`/`86`/`0086` prefix. Refuses anything else.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct PhoneNumber(String);

impl PhoneNumber {
    pub fn parse(input: &str) -> Result<Self, &'static str> {
        let compact: String = input.chars().filter(|c| !matches!(c, ' ' | '-' | '(' | ')')).collect();
        let national = compact
            .strip_prefix("+86")
            .or_else(|| compact.strip_prefix("0086"))
            .or_else(|| if compact.len() == 13 { compact.strip_prefix("86") } else { None })
            .unwrap_or(&compact);
        let bytes = national.as_bytes();
        if bytes.len() != 11 || !bytes.iter().all(u8::is_ascii_digit) {
            return Err("must be an 11-digit mainland mobile number");
        }
        if bytes[0] != b'1' || !(b'3'..=b'9').contains(&bytes[1]) {
            return Err("must start with 13–19");
        }
        Ok(Self(national.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// `138****5678`: what roles without the phone permission see.
    pub fn masked(&self) -> String {
        format!("{}****{}", &self.0[..3], &self.0[7..])
    }
}

// Personal data never reaches a log by accident.
impl fmt::Debug for PhoneNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PhoneNumber({})", self.masked())
    }
}

/// A person's real name: trimmed, 1–40 characters, no control characters.
#[derive(Clone, PartialEq, Eq)]
pub struct PersonName(String);

impl PersonName {
    pub fn parse(input: &str) -> Result<Self, &'static str> {
        let trimmed = input.trim();
        let count = trimmed.chars().count();
        if count == 0 {
            return Err("must not be empty");
        }
        if count > 40 {
            return Err("must be at most 40 characters");
        }
        if trimmed.chars().any(char::is_control) {
            return Err("must not contain control characters");
        }
        Ok(Self(trimmed.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The form the blind index is computed over: exact look-ups ignore case and inner spacing.
    pub fn normalised(&self) -> String {
        self.0.split_whitespace().collect::<Vec<_>>().join(" ").to_lowercase()
    }
}

impl fmt::Debug for PersonName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PersonName(<redacted>)")
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Gender {
    Female,
    Male,
    Unknown,
}

impl Gender {
    pub fn as_str(self) -> &'static str {
        match self {
            Gender::Female => "female",
            Gender::Male => "male",
            Gender::Unknown => "unknown",
        }
    }

    pub fn from_db(value: &str) -> Self {
        match value {
            "female" => Gender::Female,
            "male" => Gender::Male,
            _ => Gender::Unknown,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Mild,
    Moderate,
    Severe,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Mild => "mild",
            Severity::Moderate => "moderate",
            Severity::Severe => "severe",
        }
    }

    pub fn from_db(value: &str) -> Self {
        match value {
            "mild" => Severity::Mild,
            "moderate" => Severity::Moderate,
            _ => Severity::Severe,
        }
    }
}

/// A member tag ("VIP", "烫发客"): trimmed, 1–20 characters, no commas or control characters.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Tag(String);

impl Tag {
    pub fn parse(input: &str) -> Result<Self, &'static str> {
        let trimmed = input.trim();
        let count = trimmed.chars().count();
        if count == 0 || count > 20 {
            return Err("each tag must be 1–20 characters");
        }
        if trimmed.chars().any(|c| c.is_control() || c == ',') {
            return Err("tags must not contain commas or control characters");
        }
        Ok(Self(trimmed.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn phone_forms() {
        for input in ["13812345678", "+86 138 1234 5678", "0086-138-1234-5678", "8613812345678"] {
            assert_eq!(PhoneNumber::parse(input).map(|p| p.as_str().to_owned()), Ok("13812345678".to_owned()));
        }
        for bad in ["", "1381234567", "138123456789", "12812345678", "23812345678", "1381234567a", "+1 13812345678"] {
            assert!(PhoneNumber::parse(bad).is_err(), "{bad} should be refused");
        }
        assert_eq!(PhoneNumber::parse("13812345678").map(|p| p.masked()), Ok("138****5678".to_owned()));
    }

    #[test]
    fn debug_never_shows_the_number() {
        let phone = PhoneNumber::parse("13812345678").unwrap();
        assert!(!format!("{phone:?}").contains("1234"));
    }

    proptest! {
        #[test]
        fn every_valid_mobile_parses_to_itself(second in 3u8..=9, rest in "[0-9]{9}") {
            let number = format!("1{second}{rest}");
            let phone = PhoneNumber::parse(&number).unwrap();
            prop_assert_eq!(phone.as_str(), number.as_str());
            let spaced = format!("+86 {} {} {}", &number[..3], &number[3..7], &number[7..]);
            prop_assert_eq!(PhoneNumber::parse(&spaced).unwrap(), phone);
        }

        #[test]
        fn parse_never_panics_and_output_is_eleven_digits(input in ".{0,30}") {
            if let Ok(phone) = PhoneNumber::parse(&input) {
                prop_assert_eq!(phone.as_str().len(), 11);
                prop_assert!(phone.as_str().bytes().all(|b| b.is_ascii_digit()));
            }
        }
    }
}
