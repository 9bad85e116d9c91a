//! What a cashier's scanner read: a customer's WeChat or Alipay payment code, a member's dynamic code, or a
//! product barcode. Classified by shape alone (no look-up), so the counter can route a scan before anything else.
//!
//! Payment-code prefixes (PROTOCOLS.md A5): WeChat 18 digits starting `10`–`15`; Alipay 16–24 digits starting
//! `25`–`30` (`fp…` face-pay codes are not taken at the counter). Member codes start with `HY` and never with a digit.
//! Product barcodes: EAN-8, UPC-A, EAN-13 or EAN-14 with a valid check digit.

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ScanKind {
    WechatPayCode,
    AlipayCode,
    MemberCode,
    ProductBarcode,
}

impl ScanKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ScanKind::WechatPayCode => "wechat_pay_code",
            ScanKind::AlipayCode => "alipay_code",
            ScanKind::MemberCode => "member_code",
            ScanKind::ProductBarcode => "product_barcode",
        }
    }
}

fn all_digits(text: &str) -> bool {
    !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit())
}

/// GS1 check digit: weights 3 and 1 from the right, excluding the check digit itself.
fn gs1_valid(code: &str) -> bool {
    let digits: Vec<u32> = code.bytes().map(|b| u32::from(b - b'0')).collect();
    let Some((check, body)) = digits.split_last() else { return false };
    let sum: u32 = body.iter().rev().enumerate().map(|(i, d)| if i % 2 == 0 { d * 3 } else { *d }).sum();
    (10 - sum % 10) % 10 == *check
}

/// `None`: not something the counter knows (refuse it with a clear message).
pub fn classify(raw: &str) -> Option<ScanKind> {
    let code = raw.trim();
    let prefix: u32 = code.get(..2).and_then(|p| p.parse().ok()).unwrap_or(0);
    if all_digits(code) {
        if code.len() == 18 && (10..=15).contains(&prefix) {
            return Some(ScanKind::WechatPayCode);
        }
        if (16..=24).contains(&code.len()) && (25..=30).contains(&prefix) {
            return Some(ScanKind::AlipayCode);
        }
        if matches!(code.len(), 8 | 12 | 13 | 14) && gs1_valid(code) {
            return Some(ScanKind::ProductBarcode);
        }
        return None;
    }
    if code.starts_with("HY") && code.len() >= 20 && code.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Some(ScanKind::MemberCode);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payment_codes_by_prefix_and_length() {
        assert_eq!(classify("134567890123456789"), Some(ScanKind::WechatPayCode));
        assert_eq!(classify("104567890123456789"), Some(ScanKind::WechatPayCode));
        assert_eq!(classify("154567890123456789"), Some(ScanKind::WechatPayCode));
        assert_eq!(classify("164567890123456789"), None, "16 is not a WeChat prefix");
        assert_eq!(classify("13456789012345678"), None, "17 digits");
        assert_eq!(classify("2812345678901234"), Some(ScanKind::AlipayCode));
        assert_eq!(classify("301234567890123456789012"), Some(ScanKind::AlipayCode));
        assert_eq!(classify("3012345678901234567890123"), None, "25 digits");
        assert_eq!(classify("24123456789012345"), None, "24 is not an Alipay prefix");
        assert_eq!(classify(" 281234567890123456\n"), Some(ScanKind::AlipayCode), "scanner whitespace");
    }

    #[test]
    fn barcodes_need_a_valid_check_digit_and_member_codes_their_prefix() {
        assert_eq!(classify("6901234567892"), Some(ScanKind::ProductBarcode));
        assert_eq!(classify("6901234567893"), None);
        assert_eq!(classify("96385074"), Some(ScanKind::ProductBarcode));
        assert_eq!(classify("HYAEAAAAAAAAAAAAAAAAAAAAAAAA"), Some(ScanKind::MemberCode));
        assert_eq!(classify("hello"), None);
        assert_eq!(classify(""), None);
        assert_eq!(classify("fp1234567890123456789012345678901"), None);
    }
}
