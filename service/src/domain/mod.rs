//! Newtypes that parse at the edge: once a value has one of these types, it is valid.

mod idempotency;
mod member_code;
mod money;
mod person;
mod role;
mod scan;
mod token;

pub use idempotency::{IdempotencyKey, fingerprint};
pub use member_code::{MemberCode, MemberCodeClaims, MemberCodeError};
pub use money::Fen;
pub use person::{Gender, PersonName, PhoneNumber, Severity, Tag};
pub use role::{Permission, Role};
pub use scan::{ScanKind, classify as classify_scan};
pub use token::{Password, SessionToken, Username};
