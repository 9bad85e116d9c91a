//! The domain error: what went wrong, in words the caller can act on. `api` maps each variant to a stable code
//! and an HTTP status with an exhaustive match.

use std::borrow::Cow;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A field of the request is malformed or out of range.
    #[error("{field}: {message}")]
    Invalid { field: Cow<'static, str>, message: Cow<'static, str> },
    /// The thing does not exist, or belongs to another merchant or store (we never say which).
    #[error("{0} not found")]
    NotFound(&'static str),
    /// The request contradicts the current state.
    #[error("{}", .0.message())]
    Conflict(Conflict),
    #[error("wrong username or password")]
    InvalidCredentials,
    /// No session, or an expired or revoked one.
    #[error("sign in first")]
    Unauthenticated,
    /// Staff manage only roles below their own, in their own stores (owners manage everyone).
    #[error("your role does not allow this: staff manage only roles below their own, working in their own stores")]
    Forbidden,
    /// Either of two permissions would do (reading lists the desk and the back office both use).
    #[error("your role does not allow this: it needs the `{}` or the `{}` permission", .0.as_str(), .1.as_str())]
    NeedsEither(crate::domain::Permission, crate::domain::Permission),
    /// What the action needs, said in the answer so an owner knows what to grant.
    #[error("your role does not allow this: it needs the `{}` permission", .0.as_str())]
    Needs(crate::domain::Permission),
    /// The action changes every store of the merchant, and the staff member works for only some of them.
    #[error("this changes every store: it needs the `{}` permission held for all stores", .0.as_str())]
    MerchantWide(crate::domain::Permission),
    #[error("too many attempts; try again in {retry_after_secs} s")]
    RateLimited { retry_after_secs: u64 },
    #[error("member code is not valid")]
    MemberCodeInvalid,
    #[error("member code has expired; ask the member to refresh it")]
    MemberCodeExpired,
    /// WeChat or Alipay refused the request (a bad or used login code, say).
    #[error("{provider} refused the request: {message}")]
    ProviderRejected { provider: &'static str, code: String, message: String },
    /// WeChat or Alipay could not be reached, or answered with something we cannot trust.
    #[error("{provider} is unavailable")]
    ProviderUnavailable {
        provider: &'static str,
        #[source]
        source: anyhow::Error,
    },
    /// A provider notification that did not verify or does not match the payment it names; the code says why.
    /// Nothing was changed; the provider will send it again.
    #[error("notification rejected: {0}")]
    NotificationRejected(&'static str),
    /// The feature is switched off in this deployment (the sandbox in production, say).
    #[error("{0} is not enabled here")]
    Disabled(&'static str),
    #[error("database error")]
    Database(#[from] sea_orm::DbErr),
    #[error("internal error")]
    Internal(#[from] anyhow::Error),
}

/// State conflicts, each with its own stable code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Conflict {
    PhoneTaken,
    UsernameTaken,
    PhoneAlreadyBound,
    MemberAnonymised,
    StaffInactive,
    LastOwner,
    /// A member account (stored value, points, sessions) holds less than the debit.
    InsufficientBalance,
    /// The stored-value card is reported lost (挂失).
    CardFrozen,
    /// The stored-value card was refunded and closed (退卡).
    CardClosed,
    CardExpired,
    /// The idempotency key was used before for a different request.
    IdempotencyKeyReused,
    /// The store has less of a product on hand than the sale takes.
    OutOfStock,
    /// The bill is not in a state that allows this (settling a voided bill, voiding a settled one...).
    BillState,
    /// A refund asks for more of a line than is left to refund.
    NothingToRefund,
    /// A handover with nothing taken or done since the last one: not a new shift.
    NothingToHandOver,
    /// A large stored-value or count-card debit needs the member's confirmation first.
    MemberConfirmationRequired,
    /// The member code was spent already (scanned to identify the member, or consent to another bill).
    MemberCodeUsed,
    /// The bill is not what the member was shown: it changed after they opened it.
    BillChanged,
    /// The count card is used up, refunded or expired.
    CountCardUnusable,
    /// Another product of the merchant has this SKU.
    SkuTaken,
    /// Another member level of the merchant has this rank.
    RankTaken,
    /// Members hold the level, so it cannot be deleted.
    LevelInUse,
    /// Another active commission rule covers the same line kind, item and category.
    RuleExists,
    /// What the provider says was paid is not what the payment asked for.
    PaymentMismatch,
    /// Only a payment code the customer is confirming can be called off at the counter.
    NotACodePayment,
    /// Someone resolved it already.
    AlreadyResolved,
    /// The staff member, room or bed is no longer free at that time.
    SlotTaken,
    /// The booking is not in a state that allows this (checking in a cancelled booking...).
    BookingState,
    /// Too close to the start for members to change the booking themselves.
    BookingCutoffPassed,
    /// The member rated this technician for this visit already.
    AlreadyRated,
    /// The visit is not one that can be rated (not settled, or too long ago).
    NotRateable,
    /// The coupon's stock is gone.
    CouponSoldOut,
    /// The member holds as many of this coupon as one member may.
    CouponLimitReached,
    /// The coupon is paused or ended, or outside its claim window.
    CouponUnavailable,
    /// The member's coupon is used, expired, not valid yet, or held by another parked bill.
    CouponUnusable,
    /// The redemption code was redeemed already.
    CouponCodeUsed,
    /// Another segment of the merchant has this name.
    SegmentNameTaken,
    /// The campaign is not in a state that allows this (cancelling one that ran).
    CampaignState,
    /// The automation is not in a state this allows (resuming one that is not paused, say).
    AutomationState,
    /// A scheduled or running campaign, or an automation not ended, uses it (a segment, a coupon template).
    UsedByCampaign,
}

impl Conflict {
    pub fn code(self) -> &'static str {
        match self {
            Conflict::PhoneTaken => "phone_taken",
            Conflict::UsernameTaken => "username_taken",
            Conflict::PhoneAlreadyBound => "phone_already_bound",
            Conflict::MemberAnonymised => "member_anonymised",
            Conflict::StaffInactive => "staff_inactive",
            Conflict::LastOwner => "last_owner",
            Conflict::InsufficientBalance => "insufficient_balance",
            Conflict::CardFrozen => "card_frozen",
            Conflict::CardClosed => "card_closed",
            Conflict::CardExpired => "card_expired",
            Conflict::IdempotencyKeyReused => "idempotency_key_reused",
            Conflict::OutOfStock => "out_of_stock",
            Conflict::BillState => "bill_state",
            Conflict::NothingToRefund => "nothing_to_refund",
            Conflict::NothingToHandOver => "nothing_to_hand_over",
            Conflict::MemberConfirmationRequired => "member_confirmation_required",
            Conflict::MemberCodeUsed => "member_code_used",
            Conflict::BillChanged => "bill_changed",
            Conflict::CountCardUnusable => "count_card_unusable",
            Conflict::SkuTaken => "sku_taken",
            Conflict::RankTaken => "rank_taken",
            Conflict::LevelInUse => "level_in_use",
            Conflict::RuleExists => "rule_exists",
            Conflict::PaymentMismatch => "payment_mismatch",
            Conflict::NotACodePayment => "not_a_code_payment",
            Conflict::AlreadyResolved => "already_resolved",
            Conflict::SlotTaken => "slot_taken",
            Conflict::BookingState => "booking_state",
            Conflict::BookingCutoffPassed => "booking_cutoff_passed",
            Conflict::AlreadyRated => "already_rated",
            Conflict::NotRateable => "not_rateable",
            Conflict::CouponSoldOut => "coupon_sold_out",
            Conflict::CouponLimitReached => "coupon_limit_reached",
            Conflict::CouponUnavailable => "coupon_unavailable",
            Conflict::CouponUnusable => "coupon_unusable",
            Conflict::CouponCodeUsed => "coupon_code_used",
            Conflict::SegmentNameTaken => "segment_name_taken",
            Conflict::CampaignState => "campaign_state",
            Conflict::AutomationState => "automation_state",
            Conflict::UsedByCampaign => "used_by_campaign",
        }
    }

    pub fn message(self) -> &'static str {
        match self {
            Conflict::PhoneTaken => "another member of this merchant has that phone number",
            Conflict::UsernameTaken => "that username is taken",
            Conflict::PhoneAlreadyBound => "this member already has a phone number bound",
            Conflict::MemberAnonymised => "this member's data was deleted at their request",
            Conflict::StaffInactive => "this staff account is deactivated",
            Conflict::LastOwner => "a merchant must keep at least one active owner",
            Conflict::InsufficientBalance => "the balance does not cover this amount",
            Conflict::CardFrozen => "this stored-value card is frozen (reported lost)",
            Conflict::CardClosed => "this stored-value card was refunded and closed",
            Conflict::CardExpired => "this stored-value card has expired",
            Conflict::IdempotencyKeyReused => "this idempotency key was already used for a different request",
            Conflict::OutOfStock => "the store does not have enough of this product on hand",
            Conflict::BillState => "the bill is not in a state that allows this",
            Conflict::NothingToRefund => "the refund asks for more than is left to refund",
            Conflict::NothingToHandOver => "nothing was taken or done since your last handover",
            Conflict::MemberConfirmationRequired => {
                "this debit needs the member's confirmation: scan a fresh member code or confirm in the mini-program"
            }
            Conflict::MemberCodeUsed => {
                "this member code was already used; ask the member to show a fresh one to confirm this bill"
            }
            Conflict::BillChanged => "the bill changed since it was opened; look at it again before confirming",
            Conflict::CountCardUnusable => "this count card has no sessions left, was refunded or has expired",
            Conflict::SkuTaken => "another product has this SKU",
            Conflict::RankTaken => "another member level has this rank",
            Conflict::LevelInUse => "members hold this level; move them to another level first",
            Conflict::AlreadyResolved => "this was resolved already",
            Conflict::SlotTaken => "that time is no longer free; pick another slot",
            Conflict::BookingState => "the booking is not in a state that allows this",
            Conflict::BookingCutoffPassed => {
                "it is too close to the start to change this booking here; please call the store"
            }
            Conflict::NotACodePayment => "only a payment code scanned at the counter can be called off here",
            Conflict::PaymentMismatch => {
                "the amount paid does not match the payment; it is listed for staff to resolve"
            }
            Conflict::AlreadyRated => "you rated this technician for this visit already",
            Conflict::NotRateable => "only a settled visit of the last 30 days can be rated",
            Conflict::CouponSoldOut => "this coupon has run out",
            Conflict::CouponLimitReached => "you already hold as many of this coupon as one member may",
            Conflict::CouponUnavailable => "this coupon is not being given out now",
            Conflict::CouponUnusable => {
                "this coupon was used, has expired, is not valid yet, or is held by another bill"
            }
            Conflict::CouponCodeUsed => "this redemption code was redeemed already",
            Conflict::SegmentNameTaken => "another segment has this name",
            Conflict::CampaignState => {
                "the campaign is not in a state that allows this: call off or pause a scheduled one, pause or stop one \
                 that has run, resume a paused one"
            }
            Conflict::AutomationState => {
                "the automation is not in a state that allows this: pause an active one, resume a paused one, end either"
            }
            Conflict::UsedByCampaign => {
                "a scheduled campaign or an automation not ended uses it: call it off or end it first"
            }
            Conflict::RuleExists => {
                "an active commission rule already covers this line kind, item and category; change that one"
            }
        }
    }
}

impl Error {
    pub fn invalid(field: impl Into<Cow<'static, str>>, message: impl Into<Cow<'static, str>>) -> Self {
        Error::Invalid { field: field.into(), message: message.into() }
    }

    pub fn unavailable(provider: &'static str, source: impl Into<anyhow::Error>) -> Self {
        Error::ProviderUnavailable { provider, source: source.into() }
    }
}

/// True when the database refused a write because of a unique constraint, on SQLite or PostgreSQL.
pub(crate) fn is_unique_violation(err: &sea_orm::DbErr) -> bool {
    matches!(err.sql_err(), Some(sea_orm::SqlErr::UniqueConstraintViolation(_)))
}
