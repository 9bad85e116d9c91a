//! Bills (开单/结账): lines of services (with their staff), products, gifts for points, count-card sales and
//! recharges.
//!
//! A bill goes: its draft ([`input`]) is resolved against the catalog, the member and the merchant's rules
//! ([`resolve`]) and priced ([`crate::checkout::pricing`]); a [`preview`] explains every step; tenders are checked
//! ([`tenders`]); then it is settled at once ([`settle`]) or parked to resume ([`park`]). Whatever way it settles,
//! [`posting`] writes it in one transaction: the bill, its lines and tenders, stock movements, new count cards, points
//! lots, commission and one balanced journal entry commit together or not at all. [`read`] and [`receipt`] give it
//! back. Refunds and reversal (反结账) are in `checkout::refunds`.

mod consent;
mod input;
mod park;
mod posting;
mod preview;
mod read;
mod receipt;
mod resolve;
mod settle;
mod tenders;

pub use input::{BillDraft, LineInput, SettleInput, SettleParkedInput, StaffInput, TenderInput};
pub use park::{confirm_by_member, park, pending_confirmations, update_parked, void};
pub(crate) use park::{external_share, hold_for_payment, member_share, release_payment_hold};
pub use preview::{Quote, Step, preview};
pub(crate) use read::load;
pub use read::{Bill, Line, Tender, get, list, mine, of_member};
pub(crate) use receipt::receipt_of;
pub use receipt::{Receipt, receipt};
pub(crate) use settle::{PaidBill, settle_paid};
pub use settle::{create, settle, settle_parked};
pub(crate) use tenders::tender_account;
