//! Newtypes that parse at the edge: once a value has one of these types, it is valid.

mod bill;
mod booking;
mod campaign;
mod coupon;
mod idempotency;
mod label;
mod member_code;
mod money;
mod page;
mod person;
mod role;
mod scan;
mod split_rule;
mod token;
mod zone;

pub use bill::{BillStatus, LineKind, TenderKind};
pub use booking::BookingStatus;
pub use campaign::{AutomationStatus, AutomationTrigger, CampaignStatus, ConsentPurpose, SendChannel, SendStatus};
pub use coupon::{CouponKind, CouponSource, CouponStatus, TemplateStatus};
pub use idempotency::{IdempotencyKey, fingerprint};
pub(crate) use label::label;
pub use member_code::{MemberCode, MemberCodeClaims, MemberCodeError};
pub(crate) use money::amount;
pub use money::{Fen, MAX_AMOUNT_FEN, MAX_POINTS, Points};
pub use page::Page;
pub use person::{Gender, PersonName, PhoneNumber, Severity, Tag};
pub use role::{Permission, ReprintGrant, Role};
pub use scan::{ScanKind, classify as classify_scan};
pub use split_rule::SplitRule;
pub use token::{Password, SessionToken, Username};
pub use zone::parse_timezone;

/// Reads JSON the service itself stored. Money depends on some of it (commission tiers, level discounts, the
/// services a card covers, a line's staff shares): unreadable, it fails loudly instead of reading as empty, which
/// would quietly pay no commission or give no discount.
pub(crate) fn stored_json<T: serde::de::DeserializeOwned>(what: &'static str, text: &str) -> crate::Result<T> {
    serde_json::from_str(text).map_err(|e| crate::Error::Internal(anyhow::anyhow!("stored {what} is unreadable: {e}")))
}
