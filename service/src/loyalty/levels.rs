//! Member levels (会员等级): what qualifies (a threshold of cumulative spend or recharge, by the merchant's
//! `level_basis`), what a member of the level pays (a discount in basis points, overridable per item category) and
//! how fast they earn points. Every merchant starts with 普通会员 at rank 0; new members get the lowest rank.

use std::collections::BTreeMap;

use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder, TransactionTrait,
};
use serde_json::json;

use entity::{member_levels, members, service_items};

use crate::domain::{Fen, Permission, label};
use crate::error::is_unique_violation;
use crate::foundation::audit::{self, Actor, Event};
use crate::foundation::merchants::LoyaltySettings;
use crate::foundation::principal::StaffPrincipal;
use crate::{AppContext, Conflict, Error, Result};

/// A level as pricing and points see it.
#[derive(Clone, Debug)]
pub struct LevelRule {
    pub id: i64,
    pub name: String,
    pub rank: i32,
    pub threshold_fen: Fen,
    pub discount_bp: i32,
    pub category_discounts: std::collections::BTreeMap<String, i32>,
    pub points_multiplier_pct: i32,
}

/// The same thing as staff configure it and see it on a member.
pub type Level = LevelRule;

pub(crate) fn to_level(row: member_levels::Model) -> Result<Level> {
    Ok(LevelRule {
        id: row.id,
        name: row.name,
        rank: row.rank,
        threshold_fen: Fen::new(row.threshold_fen),
        discount_bp: row.discount_bp,
        category_discounts: crate::domain::stored_json("level category discounts", &row.category_discounts)?,
        points_multiplier_pct: row.points_multiplier_pct,
    })
}

/// The merchant's levels, lowest rank first.
pub(crate) async fn load_rules(conn: &impl ConnectionTrait, merchant_id: i64) -> Result<Vec<LevelRule>> {
    member_levels::Entity::find()
        .filter(member_levels::Column::MerchantId.eq(merchant_id))
        .order_by_asc(member_levels::Column::Rank)
        .all(conn)
        .await?
        .into_iter()
        .map(to_level)
        .collect()
}

#[derive(Default)]
pub struct LevelInput {
    pub name: Option<String>,
    pub rank: Option<i32>,
    pub threshold_fen: Option<Fen>,
    pub discount_bp: Option<i32>,
    pub category_discounts: Option<BTreeMap<String, i32>>,
    pub points_multiplier_pct: Option<i32>,
}

fn discount(field: &'static str, bp: i32) -> Result<i32> {
    if !(1000..=10_000).contains(&bp) {
        return Err(Error::invalid(field, "must be 1000–10000 basis points of the price (9000 = 10% off)"));
    }
    Ok(bp)
}

fn apply(active: &mut member_levels::ActiveModel, input: LevelInput) -> Result<()> {
    if let Some(name) = input.name {
        active.name = Set(label("name", &name)?);
    }
    if let Some(rank) = input.rank {
        if !(0..=1000).contains(&rank) {
            return Err(Error::invalid("rank", "must be 0–1000"));
        }
        active.rank = Set(rank);
    }
    if let Some(threshold) = input.threshold_fen {
        if !(Fen::ZERO..=Fen::MAX_AMOUNT).contains(&threshold) {
            return Err(Error::invalid("threshold_fen", "must be 0 to ￥1,000,000 (in fen)"));
        }
        active.threshold_fen = Set(threshold.get());
    }
    if let Some(bp) = input.discount_bp {
        active.discount_bp = Set(discount("discount_bp", bp)?);
    }
    if let Some(overrides) = input.category_discounts {
        if overrides.len() > 50 {
            return Err(Error::invalid("category_discounts", "at most 50 categories"));
        }
        let mut cleaned = BTreeMap::new();
        for (category, bp) in overrides {
            let category = label("category_discounts", &category)?;
            cleaned.insert(category, discount("category_discounts", bp)?);
        }
        active.category_discounts = Set(serde_json::to_string(&cleaned).map_err(anyhow::Error::from)?);
    }
    if let Some(pct) = input.points_multiplier_pct {
        if !(0..=1000).contains(&pct) {
            return Err(Error::invalid("points_multiplier_pct", "must be 0–1000 percent (150 = 1.5×)"));
        }
        active.points_multiplier_pct = Set(pct);
    }
    Ok(())
}

fn rank_taken(err: sea_orm::DbErr) -> Error {
    if is_unique_violation(&err) { Error::Conflict(Conflict::RankTaken) } else { err.into() }
}

async fn level_row(conn: &impl ConnectionTrait, merchant_id: i64, id: i64) -> Result<member_levels::Model> {
    member_levels::Entity::find_by_id(id)
        .filter(member_levels::Column::MerchantId.eq(merchant_id))
        .one(conn)
        .await?
        .ok_or(Error::NotFound("member level"))
}

async fn record(
    conn: &impl ConnectionTrait,
    principal: &StaffPrincipal,
    action: &'static str,
    level: &member_levels::Model,
) -> Result<()> {
    audit::record(
        conn,
        Event {
            merchant_id: Some(principal.merchant_id),
            actor: Actor::Staff(principal.staff_id),
            action,
            target: Some(("member_level", level.id)),
            detail: json!({
                "name": level.name,
                "rank": level.rank,
                "threshold_fen": level.threshold_fen,
                "discount_bp": level.discount_bp,
                "points_multiplier_pct": level.points_multiplier_pct,
            }),
            ip: None,
        },
    )
    .await
}

pub async fn create(ctx: &AppContext, principal: &StaffPrincipal, input: LevelInput) -> Result<Level> {
    principal.require_merchant_wide(Permission::LoyaltyManage)?;
    for (field, present) in [("name", input.name.is_some()), ("rank", input.rank.is_some())] {
        if !present {
            return Err(Error::invalid(field, "is required"));
        }
    }
    let mut active = member_levels::ActiveModel {
        merchant_id: Set(principal.merchant_id),
        threshold_fen: Set(0),
        discount_bp: Set(10_000),
        category_discounts: Set("{}".to_owned()),
        points_multiplier_pct: Set(100),
        created_at: Set(ctx.now()),
        ..Default::default()
    };
    apply(&mut active, input)?;
    let txn = ctx.db.begin().await?;
    let level = active.insert(&txn).await.map_err(rank_taken)?;
    record(&txn, principal, "member_level.created", &level).await?;
    crate::foundation::merchants::config_changed(&txn, principal.merchant_id).await?;
    txn.commit().await?;
    to_level(level)
}

pub async fn update(ctx: &AppContext, principal: &StaffPrincipal, id: i64, input: LevelInput) -> Result<Level> {
    principal.require_merchant_wide(Permission::LoyaltyManage)?;
    let mut active: member_levels::ActiveModel = level_row(&ctx.db, principal.merchant_id, id).await?.into();
    apply(&mut active, input)?;
    let txn = ctx.db.begin().await?;
    let level = active.update(&txn).await.map_err(rank_taken)?;
    record(&txn, principal, "member_level.updated", &level).await?;
    crate::foundation::merchants::config_changed(&txn, principal.merchant_id).await?;
    txn.commit().await?;
    to_level(level)
}

/// Deletes a level no member has, and its prices on the service menu. A level in use is a conflict: move its
/// members first.
pub async fn delete(ctx: &AppContext, principal: &StaffPrincipal, id: i64) -> Result<()> {
    principal.require_merchant_wide(Permission::LoyaltyManage)?;
    let txn = ctx.db.begin().await?;
    let level = level_row(&txn, principal.merchant_id, id).await?;
    let holders = members::Entity::find()
        .filter(members::Column::MerchantId.eq(principal.merchant_id))
        .filter(members::Column::LevelId.eq(id))
        .count(&txn)
        .await?;
    if holders > 0 {
        return Err(Error::Conflict(Conflict::LevelInUse));
    }
    // Per-level prices name the level by id; drop them with it.
    let key = id.to_string();
    for item in service_items::Entity::find()
        .filter(service_items::Column::MerchantId.eq(principal.merchant_id))
        .all(&txn)
        .await?
    {
        let mut prices: BTreeMap<String, i64> = crate::domain::stored_json("level prices", &item.level_prices)?;
        if prices.remove(&key).is_some() {
            let text = serde_json::to_string(&prices).map_err(anyhow::Error::from)?;
            let mut active: service_items::ActiveModel = item.into();
            active.level_prices = Set(text);
            active.update(&txn).await?;
        }
    }
    member_levels::Entity::delete_by_id(id).exec(&txn).await.map_err(|e| {
        // A member given the level since we counted: the foreign key refuses the delete.
        if matches!(e.sql_err(), Some(sea_orm::SqlErr::ForeignKeyConstraintViolation(_))) {
            Error::Conflict(Conflict::LevelInUse)
        } else {
            e.into()
        }
    })?;
    record(&txn, principal, "member_level.deleted", &level).await?;
    crate::foundation::merchants::config_changed(&txn, principal.merchant_id).await?;
    txn.commit().await?;
    Ok(())
}

/// Demo data: a level with its discount rules.
pub(crate) async fn seed(conn: &impl ConnectionTrait, merchant_id: i64, level: LevelRule) -> Result<i64> {
    let row = member_levels::ActiveModel {
        merchant_id: Set(merchant_id),
        name: Set(level.name),
        rank: Set(level.rank),
        threshold_fen: Set(level.threshold_fen.get()),
        discount_bp: Set(level.discount_bp),
        category_discounts: Set(serde_json::to_string(&level.category_discounts).map_err(anyhow::Error::from)?),
        points_multiplier_pct: Set(level.points_multiplier_pct),
        created_at: Set(chrono::Utc::now()),
        ..Default::default()
    }
    .insert(conn)
    .await?;
    Ok(row.id)
}

/// What a downgrade review did.
#[derive(Clone, Debug)]
pub struct Review {
    pub members_reviewed: u64,
    pub moved_down: u64,
}

/// Members' spend (or recharge) over the 365 days before `now`, by the merchant's basis: settled bills' lines net of
/// refunds (recharge lines count as recharge), and recharges at the desk.
async fn trailing_basis(
    conn: &impl ConnectionTrait,
    merchant_id: i64,
    basis: &str,
    since: chrono::DateTime<chrono::Utc>,
) -> Result<BTreeMap<i64, i64>> {
    use sea_orm::Statement;
    let backend = conn.get_database_backend();
    let kinds = if basis == "recharge" { "l.kind = 'recharge'" } else { "l.kind <> 'recharge'" };
    let mut sums = BTreeMap::new();
    let bills = format!(
        "SELECT b.member_id AS member_id, CAST(SUM(l.net_fen - l.refunded_fen) AS BIGINT) AS total \
         FROM bill_lines l JOIN bills b ON b.id = l.bill_id \
         WHERE b.merchant_id = $1 AND b.member_id IS NOT NULL AND b.settled_at >= $2 AND {kinds} \
         GROUP BY b.member_id"
    );
    let mut queries = vec![bills];
    if basis == "recharge" {
        queries.push(
            "SELECT e.member_id AS member_id, CAST(-SUM(jl.amount) AS BIGINT) AS total FROM journal_lines jl \
             JOIN journal_entries e ON e.id = jl.entry_id JOIN ledger_accounts a ON a.id = jl.account_id \
             WHERE e.merchant_id = $1 AND e.created_at >= $2 AND e.kind = 'recharge' AND a.kind = 'sv_principal' \
             GROUP BY e.member_id"
                .to_owned(),
        );
    }
    for sql in queries {
        let statement = Statement::from_sql_and_values(backend, sql, [merchant_id.into(), since.into()]);
        for row in conn.query_all_raw(statement).await? {
            let member_id: i64 = row.try_get("", "member_id")?;
            let total: i64 = row.try_get("", "total")?;
            *sums.entry(member_id).or_default() += total;
        }
    }
    Ok(sums)
}

/// Members reviewed per transaction: a review never holds every member's row at once.
const REVIEW_BATCH: u64 = 500;

/// The annual downgrade review (复审): under the `annual` policy, every member whose last 365 days no longer reach
/// their level's threshold moves down to the highest level they do reach (the lowest level at worst). Levels never
/// move up here: that happens at once on a qualifying bill or recharge. Each move is audited, and the review as a
/// whole. The `levels.review_yearly` job runs it every 1 January; staff may run it now.
pub async fn review(ctx: &AppContext, principal: &StaffPrincipal) -> Result<Review> {
    principal.require_merchant_wide(Permission::LoyaltyManage)?;
    let settings = crate::foundation::merchants::loyalty_settings(&ctx.db, principal.merchant_id).await?;
    if settings.level_downgrade != "annual" {
        return Err(Error::invalid(
            "level_downgrade",
            "this merchant's levels never go down: set the policy to annual first",
        ));
    }
    review_merchant(ctx, principal.merchant_id, Actor::Staff(principal.staff_id)).await
}

/// The yearly job: [`review`] for every merchant whose policy is `annual`. Run twice, the second moves nobody.
pub async fn review_all(ctx: &AppContext) -> Result<(u64, Review)> {
    let mut total = Review { members_reviewed: 0, moved_down: 0 };
    let mut merchants = 0;
    for merchant in entity::merchants::Entity::find().all(&ctx.db).await? {
        let settings = crate::foundation::merchants::loyalty_settings(&ctx.db, merchant.id).await?;
        if settings.level_downgrade != "annual" {
            continue;
        }
        let done = review_merchant(ctx, merchant.id, Actor::System).await?;
        merchants += 1;
        total.members_reviewed += done.members_reviewed;
        total.moved_down += done.moved_down;
    }
    Ok((merchants, total))
}

async fn review_merchant(ctx: &AppContext, merchant_id: i64, actor: Actor) -> Result<Review> {
    use sea_orm::QuerySelect;
    let settings = crate::foundation::merchants::loyalty_settings(&ctx.db, merchant_id).await?;
    let levels = load_rules(&ctx.db, merchant_id).await?;
    let mut done = Review { members_reviewed: 0, moved_down: 0 };
    if levels.is_empty() {
        return Ok(done);
    }
    let since = ctx.now() - chrono::Duration::days(365);
    let basis = trailing_basis(&ctx.db, merchant_id, &settings.level_basis, since).await?;
    let mut after = 0_i64;
    loop {
        let txn = ctx.db.begin().await?;
        let holders = members::Entity::find()
            .filter(members::Column::MerchantId.eq(merchant_id))
            .filter(members::Column::LevelId.is_not_null())
            .filter(members::Column::AnonymisedAt.is_null())
            .filter(members::Column::Id.gt(after))
            .order_by_asc(members::Column::Id)
            .limit(REVIEW_BATCH)
            .all(&txn)
            .await?;
        let Some(last) = holders.last() else { break };
        after = last.id;
        for member in &holders {
            let Some(current) = levels.iter().find(|l| Some(l.id) == member.level_id) else { continue };
            let deserved = earned(&levels, Fen::new(basis.get(&member.id).copied().unwrap_or(0)));
            if deserved.rank < current.rank {
                move_level(&txn, member, Some(current), deserved, actor, json!({ "review": true })).await?;
                done.moved_down += 1;
            }
        }
        done.members_reviewed += u64::try_from(holders.len()).unwrap_or(0);
        txn.commit().await?;
    }
    audit::record(
        &ctx.db,
        Event {
            merchant_id: Some(merchant_id),
            actor,
            action: "member_levels.reviewed",
            target: None,
            detail: json!({ "members_reviewed": done.members_reviewed, "moved_down": done.moved_down }),
            ip: None,
        },
    )
    .await?;
    Ok(done)
}

// ---------------------------------------------------------------------------------------------------------------
// Following the money

/// The member's spend or recharge, by the merchant's basis: what levels are earned with.
fn basis_of(settings: &LoyaltySettings, member: &members::Model) -> Fen {
    Fen::new(if settings.level_basis == "recharge" { member.total_recharge_fen } else { member.total_spend_fen })
}

/// The highest level `basis` reaches (the lowest level at worst); `levels` is never empty here.
fn earned(levels: &[LevelRule], basis: Fen) -> &LevelRule {
    levels.iter().filter(|l| l.threshold_fen <= basis).max_by_key(|l| l.rank).unwrap_or(&levels[0])
}

/// Moves the member to `to` and audits the move with both levels and what caused it.
async fn move_level(
    conn: &impl ConnectionTrait,
    member: &members::Model,
    from: Option<&LevelRule>,
    to: &LevelRule,
    actor: Actor,
    cause: serde_json::Value,
) -> Result<()> {
    members::Entity::update_many()
        .col_expr(members::Column::LevelId, Expr::value(to.id))
        .filter(members::Column::Id.eq(member.id))
        .exec(conn)
        .await?;
    audit::record(
        conn,
        Event {
            merchant_id: Some(member.merchant_id),
            actor,
            action: "member.level_changed",
            target: Some(("member", member.id)),
            detail: json!({
                "from_level_id": from.map(|l| l.id),
                "from": from.map(|l| l.name.clone()),
                "to_level_id": to.id,
                "to": to.name,
                "cause": cause,
            }),
            ip: None,
        },
    )
    .await
}

/// Moves `member` (as read after the change that may qualify them) up to the highest level their cumulative spend
/// or recharge, by the merchant's rule, now reaches. Audited with `cause`. Levels go down only when money that earned
/// them is taken back ([`follow_return`]) or by the downgrade policy ([`review`]).
pub(crate) async fn raise(
    conn: &impl ConnectionTrait,
    levels: &[LevelRule],
    settings: &LoyaltySettings,
    member: &members::Model,
    cause: serde_json::Value,
) -> Result<()> {
    if levels.is_empty() {
        return Ok(());
    }
    let current = levels.iter().find(|l| Some(l.id) == member.level_id);
    let best = earned(levels, basis_of(settings, member));
    if current.is_none_or(|c| best.rank > c.rank) {
        move_level(conn, member, current, best, Actor::System, cause).await?;
    }
    Ok(())
}

/// [`raise`] with the merchant's levels and rule read here: after a recharge at the desk.
pub(crate) async fn raise_member(
    conn: &impl ConnectionTrait,
    merchant_id: i64,
    member_id: i64,
    cause: serde_json::Value,
) -> Result<()> {
    let levels = load_rules(conn, merchant_id).await?;
    let settings = crate::foundation::merchants::loyalty_settings(conn, merchant_id).await?;
    let member = crate::members::row(conn, merchant_id, member_id).await?;
    raise(conn, &levels, &settings, &member, cause).await
}

/// A member's basis before money is taken back from them, to tell afterwards whether that money held their level.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Standing {
    member_id: i64,
    basis: Fen,
}

/// Read before a refund, reversal or 退卡 changes the member's totals.
pub(crate) async fn standing(conn: &impl ConnectionTrait, merchant_id: i64, member_id: i64) -> Result<Standing> {
    let settings = crate::foundation::merchants::loyalty_settings(conn, merchant_id).await?;
    let member = crate::members::row(conn, merchant_id, member_id).await?;
    Ok(Standing { member_id, basis: basis_of(&settings, &member) })
}

/// After a refund, reversal or 退卡 lowered the member's totals: when the money taken back is what earned their
/// level (their basis reached it before and no longer does), the level is recomputed by the merchant's rule and the
/// move audited with `cause`. A level set by hand above what the money earned stays: no returned money earned it.
pub(crate) async fn follow_return(
    conn: &impl ConnectionTrait,
    merchant_id: i64,
    before: Standing,
    actor: Actor,
    cause: serde_json::Value,
) -> Result<()> {
    let levels = load_rules(conn, merchant_id).await?;
    if levels.is_empty() {
        return Ok(());
    }
    let settings = crate::foundation::merchants::loyalty_settings(conn, merchant_id).await?;
    let member = crate::members::row(conn, merchant_id, before.member_id).await?;
    let Some(current) = levels.iter().find(|l| Some(l.id) == member.level_id) else { return Ok(()) };
    let (held_by, now_earned) = (earned(&levels, before.basis), earned(&levels, basis_of(&settings, &member)));
    if current.rank > now_earned.rank && current.rank <= held_by.rank {
        move_level(conn, &member, Some(current), now_earned, actor, cause).await?;
    }
    Ok(())
}

/// Sets a member's level by hand (a manager's decision: a gift, a correction, a migration from another system).
/// Audited with the old and new level and the reason. The level then follows the money like any other.
pub async fn set_by_hand(
    ctx: &AppContext,
    principal: &StaffPrincipal,
    member_id: i64,
    level_id: i64,
    reason: &str,
) -> Result<()> {
    principal.require(Permission::MemberLevelSet)?;
    let reason = audit::reason(reason)?;
    let merchant_id = principal.merchant_id;
    let txn = ctx.db.begin().await?;
    let member = crate::members::live_row(&txn, merchant_id, member_id).await?;
    let levels = load_rules(&txn, merchant_id).await?;
    let to = levels.iter().find(|l| l.id == level_id).ok_or(Error::NotFound("member level"))?;
    let from = levels.iter().find(|l| Some(l.id) == member.level_id);
    if from.map(|l| l.id) != Some(to.id) {
        let actor = Actor::Staff(principal.staff_id);
        move_level(&txn, &member, from, to, actor, json!({ "by_hand": true, "reason": reason })).await?;
    }
    txn.commit().await?;
    Ok(())
}

/// The name of the member's level as `conn` sees it now (for a slip).
pub(crate) async fn name_of_member(
    conn: &impl ConnectionTrait,
    merchant_id: i64,
    member_id: i64,
) -> Result<Option<String>> {
    let member = crate::members::row(conn, merchant_id, member_id).await?;
    let Some(level_id) = member.level_id else { return Ok(None) };
    let level = member_levels::Entity::find_by_id(level_id).one(conn).await?;
    Ok(level.map(|l| l.name))
}
