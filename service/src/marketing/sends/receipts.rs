//! What comes back from the providers: delivery receipts (pushed by Aliyun, pulled from Tencent) and members'
//! replies, of which "T" / "TD" is recorded as the member's SMS opt-out.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QuerySelect};
use serde_json::json;

use entity::{marketing_sends, members, sms_accounts};

use super::super::sms::OpenAccount;
use crate::domain::{ConsentPurpose, PhoneNumber, SendChannel, SendStatus};
use crate::foundation::audit::Actor;
use crate::integrations::sms::{Receipt, Reply};
use crate::members::consents::{self, Giver};
use crate::{AppContext, Error, Result};

/// Applies delivery receipts of one account's sends: found by our key (or the provider's id), marked delivered or
/// failed. A receipt for a send whose answer was lost settles it too.
pub async fn apply_receipts(ctx: &AppContext, account: &sms_accounts::Model, receipts: &[Receipt]) -> Result<u64> {
    let mut applied = 0;
    for receipt in receipts {
        let by = match &receipt.key {
            Some(key) => marketing_sends::Column::SendKey.eq(key.clone()),
            None => marketing_sends::Column::ProviderId.eq(receipt.provider_id.clone()),
        };
        let status = if receipt.delivered { SendStatus::Delivered } else { SendStatus::Failed };
        let at = receipt.at.unwrap_or_else(|| ctx.now());
        let mut update = marketing_sends::Entity::update_many()
            .col_expr(marketing_sends::Column::Status, Expr::value(status.as_str()))
            .col_expr(marketing_sends::Column::UpdatedAt, Expr::value(ctx.now()))
            .filter(marketing_sends::Column::MerchantId.eq(account.merchant_id))
            .filter(marketing_sends::Column::Channel.eq(SendChannel::Sms.as_str()))
            .filter(
                marketing_sends::Column::Status
                    .is_in([SendStatus::Sending, SendStatus::Unknown, SendStatus::Sent].map(SendStatus::as_str)),
            )
            .filter(by);
        update = if receipt.delivered {
            update.col_expr(marketing_sends::Column::DeliveredAt, Expr::value(Some(at)))
        } else {
            update.col_expr(marketing_sends::Column::Reason, Expr::value(Some(receipt.code.clone())))
        };
        // A receipt proves the send went: a row still marked lost or in hand gets its sending time too.
        update = update.col_expr(
            marketing_sends::Column::SentAt,
            sea_orm::sea_query::Func::coalesce([
                Expr::col(marketing_sends::Column::SentAt),
                Expr::col(marketing_sends::Column::AttemptedAt),
            ])
            .into(),
        );
        applied += update.exec(&ctx.db).await?.rows_affected;
    }
    Ok(applied)
}

/// Applies members' replies to the account's signature: one that opts out is recorded as the SMS opt-out of every
/// member of the merchant with that number.
pub async fn apply_replies(ctx: &AppContext, account: &sms_accounts::Model, replies: &[Reply]) -> Result<u64> {
    let mut opted_out = 0;
    for reply in replies.iter().filter(|r| r.opts_out()) {
        if reply.sign_name.as_deref().is_some_and(|s| s != account.sign_name) {
            continue; // a reply to another signature on the same account
        }
        let Ok(phone) = PhoneNumber::parse(&reply.phone) else { continue };
        let index = ctx.vault.blind_index(crate::members::PHONE_INDEX, phone.as_str());
        let ids: Vec<i64> = members::Entity::find()
            .select_only()
            .column(members::Column::Id)
            .filter(members::Column::MerchantId.eq(account.merchant_id))
            .filter(members::Column::PhoneIndex.eq(index))
            .into_tuple()
            .all(&ctx.db)
            .await?;
        for member_id in ids {
            let giver = Giver {
                merchant_id: account.merchant_id,
                member_id,
                actor: Actor::System,
                channel: "sms_reply".to_owned(),
                recorded_by: None,
            };
            let wording = format!("回复“{}”退订短信", reply.text.trim());
            consents::record(&ctx.db, giver, ConsentPurpose::Sms, false, &wording, ctx.now()).await?;
            opted_out += 1;
        }
    }
    Ok(opted_out)
}

/// What Aliyun pushed to an account's callback URL.
#[derive(Clone, Copy, Debug)]
pub enum Pushed {
    Report,
    Reply,
}

/// Takes one of Aliyun's pushes for the account its URL names; an unknown token is not found.
pub async fn pushed(ctx: &AppContext, token: &str, kind: Pushed, body: &[u8]) -> Result<u64> {
    let account = sms_accounts::Entity::find()
        .filter(sms_accounts::Column::CallbackToken.eq(token))
        .one(&ctx.db)
        .await?
        .ok_or(Error::NotFound("sms_account"))?;
    let bad = |e: serde_json::Error| Error::invalid("body", format!("not a push of this kind: {e}"));
    match kind {
        Pushed::Report => {
            let receipts = crate::integrations::sms::aliyun::parse_reports(body).map_err(bad)?;
            apply_receipts(ctx, &account, &receipts).await
        }
        Pushed::Reply => {
            let replies = crate::integrations::sms::aliyun::parse_replies(body).map_err(bad)?;
            apply_replies(ctx, &account, &replies).await
        }
    }
}

/// Pulls receipts and replies from the accounts whose provider keeps them for pulling (Tencent).
pub async fn pull_due(ctx: &AppContext, now: DateTime<Utc>) -> Result<serde_json::Value> {
    let accounts = sms_accounts::Entity::find()
        .filter(sms_accounts::Column::Provider.eq(crate::integrations::sms::Provider::Tencent.as_str()))
        .all(&ctx.db)
        .await?;
    let (mut receipts, mut opted_out, mut failures) = (0, 0, 0);
    for row in accounts {
        let account = OpenAccount::open(ctx, row.clone())?;
        match ctx.sms_providers.pull(&account.account(), now).await {
            Ok((got, replies)) => {
                receipts += apply_receipts(ctx, &row, &got).await?;
                opted_out += apply_replies(ctx, &row, &replies).await?;
            }
            Err(why) => {
                tracing::warn!(merchant_id = row.merchant_id, %why, "pulling SMS receipts failed");
                failures += 1;
            }
        }
    }
    Ok(json!({ "receipts": receipts, "opted_out": opted_out, "failures": failures }))
}
