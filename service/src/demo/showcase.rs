//! The embedded default's finished campaign (老客回店): 240 regulars of the demo salon, a campaign with an in-app
//! message three weeks ago over a 14-day horizon, a third of them held back as the control group, and their visits
//! settled at the counter since: drawn at a higher rate for the members who got the message, so the report has a
//! real computation to show. Written once, at start-up, after the demo merchant is seeded; not part of
//! `demo::seed`, which every test starts from.
//!
//! Every bill goes through checkout and the ledger like any other and is then dated back to its moment in the
//! horizon (bill and journal entries alike), as imported history would be.

use chrono::{Duration, Utc};
use rand::{Rng, SeedableRng, rngs::StdRng};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::json;

use entity::{bills, campaigns, journal_entries, marketing_sends, service_items, staff};

use crate::checkout::bills::{SettleInput, settle};
use crate::foundation::auth::acting_as;
use crate::marketing::campaigns::{CampaignInput, create as create_campaign, run_due};
use crate::marketing::segments;
use crate::members::{MemberInput, create as create_member};
use crate::{AppContext, Error, Result};

const NAME: &str = "老客回店礼 (示例)";
const TAG: &str = "示例老客";
const MEMBERS: u32 = 240;

/// Writes the demo merchant's finished campaign unless it has one. Returns its id when written.
pub async fn finished_campaign(ctx: &AppContext, merchant_id: i64) -> Result<Option<i64>> {
    let exists = campaigns::Entity::find()
        .filter(campaigns::Column::MerchantId.eq(merchant_id))
        .filter(campaigns::Column::Name.eq(NAME))
        .one(&ctx.db)
        .await?;
    if exists.is_some() {
        return Ok(None);
    }
    let staff_id = |username: &'static str| async move {
        staff::Entity::find()
            .filter(staff::Column::MerchantId.eq(merchant_id))
            .filter(staff::Column::Username.eq(username))
            .one(&ctx.db)
            .await?
            .map(|s| s.id)
            .ok_or_else(|| Error::Internal(anyhow::anyhow!("demo staff {username} missing")))
    };
    let owner = acting_as(ctx, staff_id("demo-owner").await?).await?;
    let marketing = acting_as(ctx, staff_id("demo-marketing").await?).await?;
    let wash = service_items::Entity::find()
        .filter(service_items::Column::MerchantId.eq(merchant_id))
        .filter(service_items::Column::Name.eq("洗剪吹"))
        .one(&ctx.db)
        .await?
        .ok_or_else(|| Error::Internal(anyhow::anyhow!("demo service 洗剪吹 missing")))?;
    let stores: Vec<i64> = entity::stores::Entity::find()
        .filter(entity::stores::Column::MerchantId.eq(merchant_id))
        .all(&ctx.db)
        .await?
        .into_iter()
        .map(|s| s.id)
        .collect();

    // Seeded, so every start-up writes the same story.
    let mut rng = StdRng::seed_from_u64(2026);
    let mut members = Vec::new();
    for n in 0..MEMBERS {
        let home = stores[usize::try_from(n).unwrap_or(0) % stores.len()];
        let input = MemberInput {
            phone: Some(format!("1370000{n:04}")),
            name: None,
            nickname: Some(format!("示例会员{n:03}")),
            gender: None,
            birthday: None,
            home_store_id: Some(home),
            preferences: None,
        };
        members.push((create_member(ctx, &owner, input, vec![TAG.to_owned()]).await?.id, home));
    }
    let rule = serde_json::from_value(json!({ "combine": "all", "criteria": [{ "kind": "tags", "tags": [TAG] }] }))
        .map_err(anyhow::Error::from)?;
    let segment = segments::save(ctx, &marketing, None, "示例老客", rule).await?;
    let run_at = ctx.now();
    let campaign = create_campaign(
        ctx,
        &marketing,
        CampaignInput {
            name: NAME.to_owned(),
            segment_id: segment.id,
            coupon_template_id: None,
            message: Some(("老客回店礼".to_owned(), "好久不见，本月到店护理送头皮按摩一次。".to_owned())),
            sms_template_id: None,
            control_bp: Some(3000),
            horizon_days: Some(14),
            run_at,
        },
    )
    .await?;
    run_due(ctx, run_at).await?;
    crate::marketing::sends::dispatch_due(ctx, run_at).await?;
    let groups: std::collections::HashMap<i64, bool> = entity::campaign_members::Entity::find()
        .filter(entity::campaign_members::Column::CampaignId.eq(campaign.id))
        .all(&ctx.db)
        .await?
        .into_iter()
        .map(|m| (m.member_id, m.in_control))
        .collect();

    // Three weeks ago: the campaign, its messages five minutes after, then the visits of its 14 days.
    let start = Utc::now() - Duration::days(21);
    campaigns::Entity::update_many()
        .col_expr(campaigns::Column::StartedAt, Expr::value(Some(start)))
        .col_expr(campaigns::Column::RunAt, Expr::value(start))
        .filter(campaigns::Column::Id.eq(campaign.id))
        .exec(&ctx.db)
        .await?;
    marketing_sends::Entity::update_many()
        .col_expr(marketing_sends::Column::SentAt, Expr::value(Some(start + Duration::minutes(5))))
        .filter(marketing_sends::Column::CampaignId.eq(campaign.id))
        .exec(&ctx.db)
        .await?;
    for (n, (member, home)) in members.iter().enumerate() {
        let in_control = groups.get(member).copied().unwrap_or(true);
        // A regular comes back within two weeks about a quarter of the time; the message brings more.
        let visits = match (in_control, rng.gen_range(0..100)) {
            (true, draw) if draw < 24 => 1,
            (false, draw) if draw < 8 => 2,
            (false, draw) if draw < 36 => 1,
            _ => 0,
        };
        for visit in 0..visits {
            let draft = json!({
                "store_id": home, "member_id": member, "lines": [{ "kind": "service", "item_id": wash.id, "quantity": 1 }],
            });
            let bill = settle(
                ctx,
                &owner,
                SettleInput {
                    draft: serde_json::from_value(draft).map_err(anyhow::Error::from)?,
                    tenders: vec![
                        serde_json::from_value(json!({ "kind": "cash", "amount_fen": wash.price_fen }))
                            .map_err(anyhow::Error::from)?,
                    ],
                    idempotency_key: format!("demo-showcase-{n}-{visit}"),
                    member_code: None,
                },
            )
            .await?;
            let at = start + Duration::minutes(rng.gen_range(60..14 * 24 * 60));
            bills::Entity::update_many()
                .col_expr(bills::Column::SettledAt, Expr::value(Some(at)))
                .col_expr(bills::Column::CreatedAt, Expr::value(at))
                .filter(bills::Column::Id.eq(bill.id))
                .exec(&ctx.db)
                .await?;
            journal_entries::Entity::update_many()
                .col_expr(journal_entries::Column::CreatedAt, Expr::value(at))
                .filter(journal_entries::Column::BillId.eq(bill.id))
                .exec(&ctx.db)
                .await?;
        }
    }
    campaigns::Entity::update_many()
        .col_expr(campaigns::Column::Status, Expr::value(crate::domain::CampaignStatus::Done.as_str()))
        .filter(campaigns::Column::Id.eq(campaign.id))
        .exec(&ctx.db)
        .await?;
    Ok(Some(campaign.id))
}
