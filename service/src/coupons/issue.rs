//! Issuing coupons one member at a time: claims in the coupon center, welcome and birthday coupons, gifts with a
//! purchase (grants to many members are in `grants`). Stock is taken by one guarded decrement in the issuing
//! transaction; a member's n-th claim is unique per template, so the per-member limit holds however many claims
//! race; an issue is keyed by its source, so a retried one issues nothing twice.

use std::collections::BTreeSet;

use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect, TransactionTrait,
};

use entity::{coupon_templates, member_coupons, members};

use super::templates::row as template_row;
use super::{CouponState, MemberCoupon, Template, to_coupon, to_template};
use crate::booking::calendar::{self, Calendar};
use crate::domain::{CouponSource, CouponStatus, Fen, Permission, Points, TemplateStatus};
use crate::error::is_unique_violation;
use crate::foundation::principal::StaffPrincipal;
use crate::ledger::posting::Posting;
use crate::ledger::{self, BalanceMoves, Cause};
use crate::members::auth::MemberPrincipal;
use crate::{AppContext, Conflict, Error, Result};

/// When a coupon issued `now` from the template is valid: its fixed dates, or from now to the end of the last of
/// its days in the merchant's zone.
pub(super) fn window(
    template: &coupon_templates::Model,
    timezone: &str,
    now: DateTime<Utc>,
) -> (DateTime<Utc>, DateTime<Utc>) {
    match (template.valid_days, template.valid_from, template.valid_until) {
        (Some(days), _, _) => {
            let calendar = Calendar::new(timezone);
            let last = calendar.today(now) + Duration::days(i64::from(std::cmp::max(days, 1)) - 1);
            (now, calendar::from_minutes(calendar.day(last).end))
        }
        (None, Some(from), Some(until)) => (from, until),
        // Templates are written with one or the other; a row without either is never valid.
        _ => (now, now),
    }
}

/// Takes `count` from the template's stock, if it has a limit, and each coupon's largest discount from its budget,
/// if it has one: one guarded statement, so two issuers never both take the last one.
pub(super) async fn take_stock(
    conn: &impl ConnectionTrait,
    template: &coupon_templates::Model,
    count: i64,
) -> Result<()> {
    use coupon_templates::Column;
    // Neither can become limited later: a template without both is never short, and its row is not locked (a gift
    // with every bill of the merchant would otherwise queue settlements on it).
    if template.remaining.is_none() && template.budget_left_fen.is_none() {
        return Ok(());
    }
    let mut take = coupon_templates::Entity::update_many()
        .col_expr(Column::Remaining, Expr::col(Column::Remaining).sub(count))
        .filter(Column::Id.eq(template.id))
        .filter(Column::Remaining.is_null().or(Column::Remaining.gte(count)));
    if template.budget_left_fen.is_some() {
        let most = super::most_off(template)?.map_or(0, |fen| fen.get());
        let spend = most.saturating_mul(count);
        take = take
            .col_expr(Column::BudgetLeftFen, Expr::col(Column::BudgetLeftFen).sub(spend))
            .filter(Column::BudgetLeftFen.gte(spend));
    }
    let taken = take.exec(conn).await?;
    if taken.rows_affected == 1 { Ok(()) } else { Err(Error::Conflict(Conflict::CouponSoldOut)) }
}

/// What one coupon is issued as.
pub(super) struct Issue<'a> {
    pub(super) member_id: i64,
    pub(super) source: CouponSource,
    pub(super) source_key: Option<String>,
    pub(super) claim_no: Option<i32>,
    pub(super) window: (DateTime<Utc>, DateTime<Utc>),
    pub(super) template: &'a coupon_templates::Model,
}

/// Inserts the member's copy of the template's terms (stock already taken).
pub(super) async fn insert(
    conn: &impl ConnectionTrait,
    issue: Issue<'_>,
    now: DateTime<Utc>,
) -> Result<member_coupons::Model> {
    let t = issue.template;
    Ok(member_coupons::ActiveModel {
        merchant_id: Set(t.merchant_id),
        template_id: Set(t.id),
        member_id: Set(issue.member_id),
        name: Set(t.name.clone()),
        kind: Set(t.kind.clone()),
        value_fen: Set(t.value_fen),
        rate_bp: Set(t.rate_bp),
        cap_fen: Set(t.cap_fen),
        threshold_fen: Set(t.threshold_fen),
        free_item_kind: Set(t.free_item_kind.clone()),
        free_item_id: Set(t.free_item_id),
        scope: Set(t.scope.clone()),
        stacks_with_level: Set(t.stacks_with_level),
        stacks_with_points: Set(t.stacks_with_points),
        stacks_with_coupons: Set(t.stacks_with_coupons),
        valid_from: Set(issue.window.0),
        valid_until: Set(issue.window.1),
        status: Set(CouponStatus::Usable.as_str().to_owned()),
        source: Set(issue.source.as_str().to_owned()),
        source_key: Set(issue.source_key),
        claim_no: Set(issue.claim_no),
        bill_id: Set(None),
        used_at: Set(None),
        created_at: Set(now),
        ..Default::default()
    }
    .insert(conn)
    .await?)
}

pub(super) fn active(template: &coupon_templates::Model) -> Result<()> {
    if TemplateStatus::stored(&template.status)? == TemplateStatus::Active {
        Ok(())
    } else {
        Err(Error::Conflict(Conflict::CouponUnavailable))
    }
}

pub(super) async fn timezone(conn: &impl ConnectionTrait, merchant_id: i64) -> Result<String> {
    Ok(crate::foundation::merchants::row(conn, merchant_id).await?.timezone)
}

/// The member claims a coupon from the coupon center; one with a points price is paid for in the same transaction
/// (积分兑换): the points debit and the coupon, or neither.
pub async fn claim(ctx: &AppContext, me: &MemberPrincipal, template_id: i64) -> Result<MemberCoupon> {
    let template = template_row(&ctx.db, me.merchant_id, template_id).await?;
    if !template.claimable {
        return Err(Error::NotFound("coupon template"));
    }
    active(&template)?;
    let now = ctx.now();
    if template.claim_from.is_some_and(|from| now < from) || template.claim_until.is_some_and(|until| now >= until) {
        return Err(Error::Conflict(Conflict::CouponUnavailable));
    }
    let member = crate::members::row(&ctx.db, me.merchant_id, me.member_id).await?;
    crate::members::live(&member)?;
    let zone = timezone(&ctx.db, me.merchant_id).await?;
    // A claim racing another claim of the same member takes the same number and loses on the unique key: count
    // again, and claim the next number while the limit allows.
    for _ in 0..3 {
        let claimed = member_coupons::Entity::find()
            .filter(member_coupons::Column::TemplateId.eq(template.id))
            .filter(member_coupons::Column::MemberId.eq(me.member_id))
            .filter(member_coupons::Column::ClaimNo.is_not_null())
            .count(&ctx.db)
            .await?;
        let claim_no = i32::try_from(claimed).unwrap_or(i32::MAX).saturating_add(1);
        if claim_no > template.per_member_limit {
            return Err(Error::Conflict(Conflict::CouponLimitReached));
        }
        let txn = ctx.db.begin().await?;
        let paid = match template.points_price {
            Some(price) => Some(pay_points(&txn, &member, &template, Points::new(price), now).await?),
            None => None,
        };
        take_stock(&txn, &template, 1).await?;
        let issue = Issue {
            member_id: me.member_id,
            source: if paid.is_some() { CouponSource::Points } else { CouponSource::Claim },
            source_key: None,
            claim_no: Some(claim_no),
            window: window(&template, &zone, now),
            template: &template,
        };
        match insert(&txn, issue, now).await {
            Ok(row) => {
                if let Some(moves) = paid {
                    moves.apply(&txn).await?;
                }
                txn.commit().await?;
                return to_coupon(row, now);
            }
            Err(Error::Database(error)) if is_unique_violation(&error) => txn.rollback().await?,
            Err(error) => return Err(error),
        }
    }
    Err(Error::Conflict(Conflict::CouponLimitReached))
}

/// Spends the member's points on a coupon, inside the claim's transaction: the entry debits their points to the
/// keeping store's mirror (their home store, else the merchant's first). Returns the balance moves for the caller
/// to apply last, after the coupon is written.
async fn pay_points(
    txn: &impl ConnectionTrait,
    member: &members::Model,
    template: &coupon_templates::Model,
    price: Points,
    now: DateTime<Utc>,
) -> Result<BalanceMoves> {
    let store_id = crate::foundation::stores::keeping_store(txn, member).await?;
    let mut posting =
        Posting::new(txn, now, member.merchant_id, store_id, "coupon_exchange", Cause::Job("coupon-exchange"))
            .for_member(Some(member.id))
            .memo(format!("积分兑换: {}", template.name));
    let expiry = crate::loyalty::points::spend_into(&mut posting, price).await?;
    let (_, mut moves) = ledger::post_deferred(txn, &posting.draft).await?;
    if let Some(expiry) = expiry {
        moves.merge(expiry);
    }
    Ok(moves)
}

/// A new member receives each active `join` template's coupon, once: keyed by its source, so a second call (a
/// retried sign-in) issues nothing. Run after the member is committed; a template out of stock is skipped, since
/// joining must not fail for want of a coupon.
pub(crate) async fn welcome(ctx: &AppContext, merchant_id: i64, member_id: i64) {
    if let Err(error) = welcome_or_fail(ctx, merchant_id, member_id).await {
        tracing::warn!(merchant_id, member_id, %error, "a new member's welcome coupons were not all issued");
    }
}

async fn welcome_or_fail(ctx: &AppContext, merchant_id: i64, member_id: i64) -> Result<()> {
    let templates = coupon_templates::Entity::find()
        .filter(coupon_templates::Column::MerchantId.eq(merchant_id))
        .filter(coupon_templates::Column::Status.eq(TemplateStatus::Active.as_str()))
        .filter(coupon_templates::Column::AutoGrant.eq(super::templates::ON_JOIN))
        .all(&ctx.db)
        .await?;
    if templates.is_empty() {
        return Ok(());
    }
    let zone = timezone(&ctx.db, merchant_id).await?;
    let now = ctx.now();
    for template in &templates {
        let issue = Issue {
            member_id,
            source: CouponSource::Join,
            source_key: Some(CouponSource::Join.as_str().to_owned()),
            claim_no: None,
            window: window(template, &zone, now),
            template,
        };
        issue_once(ctx, issue, now).await?;
    }
    Ok(())
}

/// What a birthday run issued.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BirthdayRun {
    pub members: u64,
    pub issued: u64,
}

/// The last instant of the month `day` is in, on the zone's clock.
fn end_of_month(calendar: &Calendar, day: NaiveDate) -> DateTime<Utc> {
    let first_of_next = if day.month() == 12 {
        NaiveDate::from_ymd_opt(day.year() + 1, 1, 1)
    } else {
        NaiveDate::from_ymd_opt(day.year(), day.month() + 1, 1)
    };
    let last = first_of_next.and_then(|d| d.pred_opt()).unwrap_or(day);
    calendar::from_minutes(calendar.day(last).end) - Duration::seconds(1)
}

/// Birthday coupons (生日券), for one time zone's morning: members kept by a store in the zone whose birthday falls
/// within the next `birthday_days_before` days receive each active birthday template's coupon, valid from now
/// through the end of the birthday month. Once a year per template, keyed by the birthday's year, so a run repeated
/// or retried issues nothing twice, and a day the job missed is caught up by the next (the window covers it).
pub async fn birthdays_in_zone(ctx: &AppContext, timezone: &str, now: DateTime<Utc>) -> Result<BirthdayRun> {
    let keeping = crate::foundation::stores::Keeping::in_zone(&ctx.db, timezone).await?;
    if keeping.is_empty() {
        return Ok(BirthdayRun::default());
    }
    let templates = coupon_templates::Entity::find()
        .filter(coupon_templates::Column::Status.eq(TemplateStatus::Active.as_str()))
        .filter(coupon_templates::Column::AutoGrant.eq(super::templates::ON_BIRTHDAY))
        .order_by_asc(coupon_templates::Column::Id)
        .all(&ctx.db)
        .await?;
    let calendar = Calendar::new(timezone);
    let today = calendar.today(now);
    let mut run = BirthdayRun::default();
    let merchants: BTreeSet<i64> = templates.iter().map(|t| t.merchant_id).collect();
    for merchant_id in merchants {
        let theirs: Vec<&coupon_templates::Model> = templates.iter().filter(|t| t.merchant_id == merchant_id).collect();
        let ahead = theirs.iter().map(|t| t.birthday_days_before.clamp(0, 30)).max().unwrap_or(0);
        let months: BTreeSet<i32> = (0..=ahead)
            .filter_map(|d| today.checked_add_signed(Duration::days(i64::from(d))))
            .map(|day| i32::try_from(day.month()).unwrap_or(0))
            .collect();
        let mut after = 0_i64;
        loop {
            let batch = members::Entity::find()
                .filter(members::Column::MerchantId.eq(merchant_id))
                .filter(members::Column::AnonymisedAt.is_null())
                .filter(members::Column::BirthMonth.is_in(months.iter().copied()))
                .filter(members::Column::Id.gt(after))
                .order_by_asc(members::Column::Id)
                .limit(500)
                .all(&ctx.db)
                .await?;
            let Some(last) = batch.last() else { break };
            after = last.id;
            for member in &batch {
                if keeping.store_of(member).is_none() {
                    continue;
                }
                let Some(next) = crate::members::birthday_of(ctx, member)?
                    .and_then(|b| crate::members::birthdays::next_birthday(b, today))
                else {
                    continue;
                };
                let mut given = false;
                for template in &theirs {
                    if next > today + Duration::days(i64::from(template.birthday_days_before.clamp(0, 30))) {
                        continue;
                    }
                    let issue = Issue {
                        member_id: member.id,
                        source: CouponSource::Birthday,
                        source_key: Some(format!("{}:{}", CouponSource::Birthday.as_str(), next.year())),
                        claim_no: None,
                        window: (now, end_of_month(&calendar, next)),
                        template,
                    };
                    if issue_once(ctx, issue, now).await? {
                        run.issued += 1;
                        given = true;
                    }
                }
                if given {
                    run.members += 1;
                }
            }
        }
    }
    Ok(run)
}

/// Gifts with a purchase (满赠), inside the settlement's transaction: the bill's member receives one coupon of each
/// active `purchase` template of the merchant whose minimum the bill's total reaches and whose scope takes the
/// bill's store, keyed by the bill. A template out of stock or budget is skipped: a sale never fails for want of
/// its gift. Returns how many were given.
pub(crate) async fn gifts_with_purchase(
    txn: &impl ConnectionTrait,
    merchant_id: i64,
    store_id: i64,
    member_id: i64,
    bill_id: i64,
    total: Fen,
    now: DateTime<Utc>,
) -> Result<u64> {
    let templates = coupon_templates::Entity::find()
        .filter(coupon_templates::Column::MerchantId.eq(merchant_id))
        .filter(coupon_templates::Column::Status.eq(TemplateStatus::Active.as_str()))
        .filter(coupon_templates::Column::AutoGrant.eq(super::templates::ON_PURCHASE))
        .filter(coupon_templates::Column::PurchaseMinFen.lte(total.get()))
        .order_by_asc(coupon_templates::Column::Id)
        .all(txn)
        .await?;
    let mut given = 0;
    let mut zone = None;
    for template in &templates {
        if !super::scope_of(&template.scope)?.covers_store(store_id) {
            continue;
        }
        match take_stock(txn, template, 1).await {
            Err(Error::Conflict(Conflict::CouponSoldOut)) => continue,
            other => other?,
        }
        let zone = match &zone {
            Some(zone) => zone,
            None => zone.insert(timezone(txn, merchant_id).await?),
        };
        let issue = Issue {
            member_id,
            source: CouponSource::Purchase,
            source_key: Some(format!("bill:{bill_id}")),
            claim_no: None,
            window: window(template, zone, now),
            template,
        };
        insert(txn, issue, now).await?;
        given += 1;
    }
    Ok(given)
}

/// Whether the merchant has an active gift-with-purchase template (checkout keeps the answer per configuration
/// version, so a settlement without one asks nothing).
pub(crate) async fn offers_purchase_gifts(conn: &impl ConnectionTrait, merchant_id: i64) -> Result<bool> {
    let found = coupon_templates::Entity::find()
        .filter(coupon_templates::Column::MerchantId.eq(merchant_id))
        .filter(coupon_templates::Column::Status.eq(TemplateStatus::Active.as_str()))
        .filter(coupon_templates::Column::AutoGrant.eq(super::templates::ON_PURCHASE))
        .count(conn)
        .await?;
    Ok(found > 0)
}

/// What taking back a purchase's gifts did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct GiftsBack {
    pub(crate) withdrawn: u64,
    /// Used already: the member has had it.
    pub(crate) kept: u64,
}

/// Takes back the gifts a purchase gave (满赠) when the purchase is reversed or refunded in full, in that
/// transaction: each one still unused (even if a parked bill holds it) is withdrawn, and its stock and budget go
/// back to its template. A gift already used stays with the member and is counted as kept.
pub(crate) async fn withdraw_gifts_of(txn: &impl ConnectionTrait, merchant_id: i64, bill_id: i64) -> Result<GiftsBack> {
    use member_coupons::Column;
    let gifts = member_coupons::Entity::find()
        .filter(Column::MerchantId.eq(merchant_id))
        .filter(Column::Source.eq(CouponSource::Purchase.as_str()))
        .filter(Column::SourceKey.eq(format!("bill:{bill_id}")))
        .all(txn)
        .await?;
    let mut back = GiftsBack::default();
    for gift in gifts {
        // One held by a parked bill is taken back too: that bill then settles without it (its coupon is refused
        // and the cashier prices it again), rather than the gift coming back when the bill is voided.
        let withdrawn = member_coupons::Entity::update_many()
            .col_expr(Column::Status, Expr::value(CouponStatus::Withdrawn.as_str()))
            .col_expr(Column::BillId, Expr::value(Option::<i64>::None))
            .filter(Column::Id.eq(gift.id))
            .filter(Column::Status.is_in([CouponStatus::Usable.as_str(), CouponStatus::Reserved.as_str()]))
            .exec(txn)
            .await?;
        if withdrawn.rows_affected == 0 {
            back.kept += 1;
            continue;
        }
        back.withdrawn += 1;
        let template = coupon_templates::Entity::find_by_id(gift.template_id)
            .one(txn)
            .await?
            .ok_or_else(|| anyhow::anyhow!("coupon {} has no template {}", gift.id, gift.template_id))?;
        return_stock(txn, &template).await?;
    }
    Ok(back)
}

/// Puts one coupon's stock, and the budget it took, back on its template.
async fn return_stock(conn: &impl ConnectionTrait, template: &coupon_templates::Model) -> Result<()> {
    use coupon_templates::Column;
    if template.remaining.is_none() && template.budget_left_fen.is_none() {
        return Ok(());
    }
    let mut give = coupon_templates::Entity::update_many().filter(Column::Id.eq(template.id));
    if template.remaining.is_some() {
        give = give.col_expr(Column::Remaining, Expr::col(Column::Remaining).add(1));
    }
    if template.budget_left_fen.is_some() {
        let most = super::most_off(template)?.map_or(0, |fen| fen.get());
        give = give.col_expr(Column::BudgetLeftFen, Expr::col(Column::BudgetLeftFen).add(most));
    }
    give.exec(conn).await?;
    Ok(())
}

/// Issues one coupon unless its source issued it already or the stock is gone; true when it was issued.
async fn issue_once(ctx: &AppContext, issue: Issue<'_>, now: DateTime<Utc>) -> Result<bool> {
    let txn = ctx.db.begin().await?;
    match take_stock(&txn, issue.template, 1).await {
        Err(Error::Conflict(Conflict::CouponSoldOut)) => return Ok(false),
        other => other?,
    }
    match insert(&txn, issue, now).await {
        Ok(_) => {
            txn.commit().await?;
            Ok(true)
        }
        // Issued before: the stock taken goes back with the rollback.
        Err(Error::Database(error)) if is_unique_violation(&error) => {
            txn.rollback().await?;
            Ok(false)
        }
        Err(error) => Err(error),
    }
}

/// A template in the coupon center, and where this member stands with it.
#[derive(Clone, Debug)]
pub struct Offer {
    pub template: Template,
    /// How many this member has claimed.
    pub claimed: u32,
    /// Whether a claim now would be taken (stock left, limit not reached, inside the claim window).
    pub can_claim: bool,
}

/// The coupon center: active templates members may claim, inside their claim window.
pub async fn center(ctx: &AppContext, me: &MemberPrincipal) -> Result<Vec<Offer>> {
    let now = ctx.now();
    let rows = coupon_templates::Entity::find()
        .filter(coupon_templates::Column::MerchantId.eq(me.merchant_id))
        .filter(coupon_templates::Column::Claimable.eq(true))
        .filter(coupon_templates::Column::Status.eq(TemplateStatus::Active.as_str()))
        .order_by_desc(coupon_templates::Column::Id)
        .all(&ctx.db)
        .await?;
    let mut offers = Vec::new();
    for row in rows {
        if row.claim_from.is_some_and(|from| now < from) || row.claim_until.is_some_and(|until| now >= until) {
            continue;
        }
        let claimed = member_coupons::Entity::find()
            .filter(member_coupons::Column::TemplateId.eq(row.id))
            .filter(member_coupons::Column::MemberId.eq(me.member_id))
            .filter(member_coupons::Column::ClaimNo.is_not_null())
            .count(&ctx.db)
            .await?;
        let claimed = u32::try_from(claimed).unwrap_or(u32::MAX);
        let in_stock = row.remaining.is_none_or(|left| left > 0);
        let can_claim = in_stock && i64::from(claimed) < i64::from(row.per_member_limit);
        offers.push(Offer { template: to_template(row)?, claimed, can_claim });
    }
    Ok(offers)
}

/// Usable first (soonest to expire first), then the rest newest first.
fn ordered(mut coupons: Vec<MemberCoupon>) -> Vec<MemberCoupon> {
    coupons.sort_by(|a, b| {
        let usable = |c: &MemberCoupon| c.state != CouponState::Usable;
        usable(a).cmp(&usable(b)).then_with(|| match a.state {
            CouponState::Usable => a.valid_until.cmp(&b.valid_until),
            _ => b.created_at.cmp(&a.created_at),
        })
    });
    coupons
}

async fn coupons_of(ctx: &AppContext, merchant_id: i64, member_id: i64) -> Result<Vec<MemberCoupon>> {
    let now = ctx.now();
    let rows = member_coupons::Entity::find()
        .filter(member_coupons::Column::MerchantId.eq(merchant_id))
        .filter(member_coupons::Column::MemberId.eq(member_id))
        .order_by_desc(member_coupons::Column::Id)
        .all(&ctx.db)
        .await?;
    Ok(ordered(rows.into_iter().map(|row| to_coupon(row, now)).collect::<Result<_>>()?))
}

/// The member's own coupons.
pub async fn mine(ctx: &AppContext, me: &MemberPrincipal) -> Result<Vec<MemberCoupon>> {
    coupons_of(ctx, me.merchant_id, me.member_id).await
}

/// A member's coupons, for staff who read members (the profile; the counter's usable ones).
pub async fn of_member(ctx: &AppContext, principal: &StaffPrincipal, member_id: i64) -> Result<Vec<MemberCoupon>> {
    principal.require(Permission::MemberRead)?;
    crate::members::row(&ctx.db, principal.merchant_id, member_id).await?;
    coupons_of(ctx, principal.merchant_id, member_id).await
}

#[cfg(test)]
mod tests {
    use chrono::NaiveDate;

    use super::end_of_month;
    use crate::booking::calendar::Calendar;

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap_or_default()
    }

    #[test]
    fn a_birthday_coupon_runs_to_the_last_second_of_the_birthday_month_in_the_zone() {
        let shanghai = Calendar::new("Asia/Shanghai");
        assert_eq!(end_of_month(&shanghai, day(2026, 12, 10)).to_rfc3339(), "2026-12-31T15:59:59+00:00");
        assert_eq!(end_of_month(&shanghai, day(2027, 2, 28)).to_rfc3339(), "2027-02-28T15:59:59+00:00");
    }
}
