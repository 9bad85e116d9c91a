//! Who is in which group: each member of a campaign's audience gets a bucket 0–9999 from a hash of the merchant's
//! secret salt, the campaign (or the automation, across all its runs) and the member, recorded once and never
//! changed; those under the campaign's control share, or under the merchant-wide one by a bucket of their own, form
//! the control group. On PostgreSQL the database computes the buckets in one `INSERT … SELECT`; on SQLite the
//! service does, a page at a time.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, Query};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, DbBackend, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect,
};
use serde_json::json;
use sha2::{Digest, Sha256};

use entity::{campaign_members, campaigns, members, merchants};

use super::campaigns::renew;
use crate::domain::Permission;
use crate::foundation::audit;
use crate::foundation::principal::StaffPrincipal;
use crate::{AppContext, Error, Result};

/// What a member is assigned within: a campaign, or an automation across all its runs (so a member is in the same
/// group every day the automation reaches them, and its runs add up to one comparison).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unit {
    Campaign(i64),
    Automation(i64),
    /// The merchant-wide control group: the same bucket in every campaign.
    Holdout,
}

impl Unit {
    fn of(campaign: &campaigns::Model) -> Self {
        campaign.automation_id.map_or(Unit::Campaign(campaign.id), Unit::Automation)
    }
}

impl std::fmt::Display for Unit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Unit::Campaign(id) => write!(f, "{id}"),
            Unit::Automation(id) => write!(f, "automation-{id}"),
            Unit::Holdout => f.write_str("holdout"),
        }
    }
}

/// The bucket (0–9999) of `member_id` in `unit`: the first eight bytes of SHA-256 of the merchant's salt, the
/// campaign (or automation) and the member. The same inputs give the same bucket on every run and every replica.
pub fn bucket(salt: &str, unit: Unit, member_id: i64) -> i32 {
    let digest = Sha256::digest(format!("{salt}:{unit}:{member_id}").as_bytes());
    let mut first = [0_u8; 8];
    first.copy_from_slice(&digest[..8]);
    i32::try_from(u64::from_be_bytes(first) % 10_000).unwrap_or(0)
}

/// The merchant's assignment salt, made the first time it is needed (by one guarded update, so two runs at once
/// agree on it).
async fn salt(conn: &impl ConnectionTrait, merchant_id: i64) -> Result<String> {
    let read = || async {
        merchants::Entity::find_by_id(merchant_id)
            .one(conn)
            .await?
            .ok_or(Error::NotFound("merchant"))
            .map(|m| m.assignment_salt)
    };
    if let Some(salt) = read().await? {
        return Ok(salt);
    }
    let fresh = hex::encode(rand::random::<[u8; 16]>());
    merchants::Entity::update_many()
        .col_expr(merchants::Column::AssignmentSalt, Expr::value(Some(fresh)))
        .filter(merchants::Column::Id.eq(merchant_id))
        .filter(merchants::Column::AssignmentSalt.is_null())
        .exec(conn)
        .await?;
    read().await?.ok_or_else(|| Error::Internal(anyhow::anyhow!("the assignment salt was not kept")))
}

/// The merchant-wide control group's share, in basis points.
pub async fn holdout(ctx: &AppContext, principal: &StaffPrincipal) -> Result<i32> {
    principal.require_merchant_wide(Permission::CouponManage)?;
    Ok(crate::foundation::merchants::row(&ctx.db, principal.merchant_id).await?.holdout_bp)
}

/// Sets the merchant-wide control group (the owner: it holds members back from every campaign), 0–20%. Members are
/// assigned by their bucket when each campaign runs: campaigns that ran keep the groups they had.
pub async fn set_holdout(ctx: &AppContext, principal: &StaffPrincipal, holdout_bp: i32) -> Result<i32> {
    principal.require_merchant_wide(Permission::MerchantManage)?;
    if !(0..=2_000).contains(&holdout_bp) {
        return Err(Error::invalid("holdout_bp", "the merchant-wide control group is 0–20% (0–2000 basis points)"));
    }
    merchants::Entity::update_many()
        .col_expr(merchants::Column::HoldoutBp, Expr::value(holdout_bp))
        .filter(merchants::Column::Id.eq(principal.merchant_id))
        .exec(&ctx.db)
        .await?;
    let detail = json!({ "holdout_bp": holdout_bp });
    audit::by_staff(&ctx.db, principal, "marketing.holdout_set", ("merchant", principal.merchant_id), detail).await?;
    Ok(holdout_bp)
}

/// Fixes the campaign's audience: the members its segment held when the campaign started (a run taken over reads
/// the segment at that same moment), written in pages, each page renewing the claim. A member assigned already
/// keeps their row.
pub(super) async fn assign(
    ctx: &AppContext,
    campaign: &campaigns::Model,
    token: &str,
    now: DateTime<Utc>,
) -> Result<()> {
    let merchant_id = campaign.merchant_id;
    let salt = salt(&ctx.db, merchant_id).await?;
    let started = campaign.started_at.unwrap_or(now);
    let audience = match (campaign.automation_id, campaign.segment_id) {
        (Some(automation_id), _) => super::automations::audience(ctx, automation_id, started).await?,
        (None, Some(segment_id)) => super::segments::members_at(ctx, merchant_id, segment_id, started).await?,
        (None, None) => return Err(Error::NotFound("segment")),
    };
    let unit = Unit::of(campaign);
    let holdout_bp = crate::foundation::merchants::row(&ctx.db, merchant_id).await?.holdout_bp;
    // PostgreSQL computes the buckets itself: one statement reads the audience and writes it.
    let ids: Vec<i64> = if ctx.db.get_database_backend() == DbBackend::Postgres {
        assign_in_postgres(ctx, campaign, audience, &salt, unit, holdout_bp, now).await?;
        Vec::new()
    } else {
        // The audience is evaluated once (a rule over a year of bills costs seconds; paging it would repeat that
        // per page): its ids, 8 bytes a member, then written in pages, each renewing the claim.
        members::Entity::find()
            .select_only()
            .column(members::Column::Id)
            .filter(audience)
            .order_by_asc(members::Column::Id)
            .into_tuple()
            .all(&ctx.db)
            .await?
    };
    for page in ids.chunks(1_000) {
        if !renew(ctx, campaign.id, token, ctx.now()).await? {
            return Err(Error::Internal(anyhow::anyhow!("campaign {}: another run took it over", campaign.id)));
        }
        let rows = page.iter().map(|&member_id| {
            let bucket = bucket(&salt, unit, member_id);
            // The merchant-wide control group is in every campaign's control group, whatever its own bucket.
            let held_out = holdout_bp > 0 && self::bucket(&salt, Unit::Holdout, member_id) < holdout_bp;
            campaign_members::ActiveModel {
                campaign_id: Set(campaign.id),
                member_id: Set(member_id),
                bucket: Set(bucket),
                in_control: Set(bucket < campaign.control_bp || held_out),
                assigned_at: Set(now),
                ..Default::default()
            }
        });
        campaign_members::Entity::insert_many(rows)
            .on_conflict_do_nothing_on([campaign_members::Column::CampaignId, campaign_members::Column::MemberId])
            .exec(&ctx.db)
            .await?;
    }
    campaigns::Entity::update_many()
        .col_expr(campaigns::Column::AssignedAt, Expr::value(Some(now)))
        .filter(campaigns::Column::Id.eq(campaign.id))
        .filter(campaigns::Column::ClaimToken.eq(token))
        .exec(&ctx.db)
        .await?;
    Ok(())
}

/// The bucket of `members.id` under `prefix` (the salt and the unit), in PostgreSQL's SQL: the same as [`bucket`],
/// the first eight bytes of the SHA-256 read as an unsigned number, modulo 10,000 (a signed `bigint` that came out
/// negative is 2⁶⁴ short, and 2⁶⁴ mod 10,000 is 1,616).
fn bucket_sql(prefix: &str) -> String {
    let hash = format!(
        "('x' || encode(substring(sha256(convert_to('{prefix}' || m.id::text, 'UTF8')) from 1 for 8), 'hex'))::bit(64)::bigint"
    );
    format!("((({hash}) % 10000) + 10000 + CASE WHEN ({hash}) < 0 THEN 1616 ELSE 0 END) % 10000")
}

/// Assigns the audience `condition` selects in one `INSERT … SELECT`, buckets computed by PostgreSQL (a member
/// assigned already keeps their row).
async fn assign_in_postgres(
    ctx: &AppContext,
    campaign: &campaigns::Model,
    condition: Condition,
    salt: &str,
    unit: Unit,
    holdout_bp: i32,
    now: DateTime<Utc>,
) -> Result<()> {
    // Only ours go into the text: a hex salt and a unit of digits, letters and dashes.
    let prefix = format!("{salt}:{unit}:");
    let holdout = format!("{salt}:{}:", Unit::Holdout);
    if !prefix.chars().chain(holdout.chars()).all(|c| c.is_ascii_alphanumeric() || c == ':' || c == '-') {
        return Err(Error::Internal(anyhow::anyhow!("an assignment prefix that is not ours")));
    }
    let select = Query::select()
        .column((members::Entity, members::Column::Id))
        .from(members::Entity)
        .cond_where(condition)
        .to_owned();
    let members = DbBackend::Postgres.build(&select);
    let (members_sql, mut values) = (members.sql, members.values.map(|v| v.0).unwrap_or_default());
    let held = if holdout_bp > 0 { format!(" OR b.held < {holdout_bp}") } else { String::new() };
    let sql = format!(
        "INSERT INTO campaign_members (campaign_id, member_id, bucket, in_control, assigned_at) \
         SELECT {campaign}, m.id, b.bucket, b.bucket < {control}{held}, ${at} FROM ({members_sql}) m \
         CROSS JOIN LATERAL (SELECT CAST({bucket} AS INTEGER) AS bucket, CAST({holdout} AS INTEGER) AS held) b \
         ON CONFLICT (campaign_id, member_id) DO NOTHING",
        campaign = campaign.id,
        control = campaign.control_bp,
        at = values.len() + 1,
        bucket = bucket_sql(&prefix),
        holdout = if holdout_bp > 0 { bucket_sql(&holdout) } else { "0".to_owned() },
    );
    values.push(now.into());
    ctx.db.execute_raw(sea_orm::Statement::from_sql_and_values(DbBackend::Postgres, sql, values)).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_stable_and_split_close_to_the_share() {
        let salt = "0123456789abcdef0123456789abcdef";
        let (seven, eight) = (Unit::Campaign(7), Unit::Campaign(8));
        assert_eq!(bucket(salt, seven, 42), bucket(salt, seven, 42));
        assert_ne!(
            (0..50).map(|m| bucket(salt, seven, m)).collect::<Vec<_>>(),
            (0..50).map(|m| bucket(salt, eight, m)).collect::<Vec<_>>()
        );
        // An automation is a unit of its own, not the campaign with the same number.
        assert_ne!(
            (0..50).map(|m| bucket(salt, seven, m)).collect::<Vec<_>>(),
            (0..50).map(|m| bucket(salt, Unit::Automation(7), m)).collect::<Vec<_>>()
        );
        // 100,000 members at 10%: the binomial's standard deviation is about 95, so within 5 of them (≈ ±475).
        let control = (0..100_000).filter(|&m| bucket(salt, seven, m) < 1_000).count();
        assert!((9_525..=10_475).contains(&control), "{control}");
        // Every bucket is in range.
        assert!((0..10_000).all(|m| (0..10_000).contains(&bucket(salt, Unit::Campaign(3), m))));
    }
}
