//! The daily reconciliation: each provider's trade bill for a day against our records of that day.
//!
//! WeChat Pay's bill is a CSV (values prefixed with a backtick, amounts in yuan); Alipay's a zip of GBK CSVs whose
//! `…业务明细.csv` holds one row per payment and refund. Every difference becomes a `payment_exceptions` row, once
//! per (kind, reference), so running a day again finds the same exceptions and adds none:
//!
//! - `missing_here`: the provider took money for an order we do not count as paid;
//! - `missing_there`: we count a payment the provider's bill does not have;
//! - `amount_mismatch`: both have it, for different amounts;
//! - `refund_missing_here` / `refund_missing_there`: the same for refunds;
//! - `unreadable_row`: a row of the bill we cannot read (an amount that is not yuan, a row of the wrong width). It
//!   is listed, never dropped: a row we skip could be money we never see.
//!
//! Each day and provider keeps one `reconciliations` row (totals on both sides, the differences found, or why it
//! could not run), which merchant-wide staff read and may run again for a past day.

use std::collections::BTreeMap;
use std::io::Read;

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use sea_orm::sea_query::OnConflict;
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use serde_json::json;

use entity::{payment_refunds, payments, reconciliations};

use super::{PAID, Provider, credentials, record_exception};
use crate::domain::{Fen, Permission};
use crate::foundation::audit::{self, Actor, Event};
use crate::foundation::principal::StaffPrincipal;
use crate::{AppContext, Error, Result};

/// One row of a provider's bill that matters to us.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BillRow {
    Payment {
        out_trade_no: String,
        trade_no: String,
        amount_fen: i64,
    },
    Refund {
        out_refund_no: String,
        amount_fen: i64,
    },
    /// A row we could not read: `reference` names it (its order number when readable, else its line).
    Unreadable {
        reference: String,
        why: String,
        line: String,
    },
}

fn yuan(text: &str) -> Option<i64> {
    let text = text.trim().trim_start_matches('-');
    Fen::parse_yuan(text).ok().map(Fen::get)
}

/// Splits a CSV line on commas (bills quote nothing) and strips WeChat's backtick and Alipay's tab padding.
fn cells(line: &str) -> Vec<String> {
    line.split(',').map(|c| c.trim().trim_start_matches('`').trim().to_owned()).collect()
}

/// A detail row by header name, with its raw line; or a line of the wrong width, as an unreadable row.
type Row = std::result::Result<(BTreeMap<String, String>, String), BillRow>;

/// The detail rows of a bill. WeChat's summary block starts with its own header (`总交易单数,…`); Alipay's lines
/// around the detail are `#` comments.
fn table<'a>(lines: impl Iterator<Item = &'a str>, first_header: &str) -> Vec<Row> {
    let mut header: Option<Vec<String>> = None;
    let mut rows = Vec::new();
    for (number, line) in lines.enumerate() {
        let line = line.trim_end_matches(['\r', '\n']);
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        match &header {
            None if line.starts_with(first_header) => header = Some(cells(line)),
            None => {}
            Some(_) if line.starts_with("总交易单数") => break,
            Some(names) => {
                let values = cells(line);
                if values.len() == names.len() {
                    rows.push(Ok((names.iter().cloned().zip(values).collect(), line.to_owned())));
                } else {
                    let why = format!("{} cells where the header has {}", values.len(), names.len());
                    rows.push(Err(unreadable(format!("line {}", number + 1), why, line)));
                }
            }
        }
    }
    rows
}

fn unreadable(reference: String, why: String, line: &str) -> BillRow {
    BillRow::Unreadable { reference, why, line: line.chars().take(500).collect() }
}

/// An amount cell, or the row as unreadable.
fn amount(row: &BTreeMap<String, String>, line: &str, reference: &str, names: &[&str]) -> Result<i64, BillRow> {
    let cell = |name: &&str| row.get(*name).map(String::as_str).unwrap_or_default();
    names.iter().find_map(|name| yuan(cell(name))).ok_or_else(|| {
        let why = format!("{} is not an amount in yuan: {:?}", names[0], cell(&names[0]));
        unreadable(reference.to_owned(), why, line)
    })
}

/// WeChat Pay's trade bill (`bill_type=ALL`).
pub fn parse_wechat_bill(text: &str) -> Vec<BillRow> {
    let get = |row: &BTreeMap<String, String>, name: &str| row.get(name).cloned().unwrap_or_default();
    table(text.lines(), "交易时间")
        .into_iter()
        .filter_map(|row| {
            let (row, line) = match row {
                Ok(read) => read,
                Err(unreadable) => return Some(unreadable),
            };
            let read = match get(&row, "交易状态").as_str() {
                "SUCCESS" => {
                    let out_trade_no = get(&row, "商户订单号");
                    amount(&row, &line, &out_trade_no, &["订单金额", "应结订单金额"]).map(|amount_fen| {
                        BillRow::Payment { out_trade_no, trade_no: get(&row, "微信订单号"), amount_fen }
                    })
                }
                "REFUND" => {
                    let out_refund_no = get(&row, "商户退款单号");
                    amount(&row, &line, &out_refund_no, &["申请退款金额", "退款金额"])
                        .map(|amount_fen| BillRow::Refund { out_refund_no, amount_fen })
                }
                _ => return None,
            };
            Some(read.unwrap_or_else(|unreadable| unreadable))
        })
        .collect()
}

/// Alipay's trade bill: the zip as downloaded.
pub fn parse_alipay_bill(zipped: &[u8]) -> Result<Vec<BillRow>> {
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(zipped))
        .map_err(|e| Error::unavailable("alipay", anyhow::anyhow!("bill zip: {e}")))?;
    let mut detail = None;
    for i in 0..archive.len() {
        let mut entry =
            archive.by_index(i).map_err(|e| Error::unavailable("alipay", anyhow::anyhow!("bill zip: {e}")))?;
        let name = entry.name().to_owned();
        if name.ends_with("业务明细.csv") || (name.ends_with(".csv") && !name.contains("汇总") && detail.is_none())
        {
            let mut bytes = Vec::new();
            entry.read_to_end(&mut bytes).map_err(|e| Error::unavailable("alipay", e))?;
            let (text, _, _) = encoding_rs::GBK.decode(&bytes);
            detail = Some(text.into_owned());
        }
    }
    let text =
        detail.ok_or_else(|| Error::unavailable("alipay", anyhow::anyhow!("bill zip without the detail file")))?;
    let get = |row: &BTreeMap<String, String>, name: &str| row.get(name).cloned().unwrap_or_default();
    Ok(table(text.lines(), "支付宝交易号")
        .into_iter()
        .filter_map(|row| {
            let (row, line) = match row {
                Ok(read) => read,
                Err(unreadable) => return Some(unreadable),
            };
            let read = match get(&row, "业务类型").as_str() {
                "交易" => {
                    let out_trade_no = get(&row, "商户订单号");
                    amount(&row, &line, &out_trade_no, &["订单金额（元）"]).map(|amount_fen| BillRow::Payment {
                        out_trade_no,
                        trade_no: get(&row, "支付宝交易号"),
                        amount_fen,
                    })
                }
                "退款" => {
                    let out_refund_no = get(&row, "退款批次号/请求号");
                    amount(&row, &line, &out_refund_no, &["订单金额（元）"])
                        .map(|amount_fen| BillRow::Refund { out_refund_no, amount_fen })
                }
                _ => return None,
            };
            Some(read.unwrap_or_else(|unreadable| unreadable))
        })
        .collect())
}

/// What one day's comparison found.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DayCounts {
    pub provider_rows: usize,
    pub exceptions: usize,
    /// Our payments paid that day with this provider.
    pub our_payments: usize,
    pub our_paid: Fen,
    pub their_paid: Fen,
    pub our_refunded: Fen,
    pub their_refunded: Fen,
}

/// The UTC bounds of a local day in the merchant's zone.
fn day_bounds(timezone: &str, day: NaiveDate) -> (DateTime<Utc>, DateTime<Utc>) {
    let zone: chrono_tz::Tz = timezone.parse().unwrap_or(chrono_tz::Asia::Shanghai);
    let start = |d: NaiveDate| {
        zone.from_local_datetime(&d.and_time(chrono::NaiveTime::MIN))
            .earliest()
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_else(|| Utc.from_utc_datetime(&d.and_time(chrono::NaiveTime::MIN)))
    };
    (start(day), start(day.succ_opt().unwrap_or(day)))
}

/// Compares one provider's bill of `day` with our payments and refunds of that day, for one merchant.
pub async fn compare_day(ctx: &AppContext, merchant_id: i64, provider: Provider, day: NaiveDate) -> Result<DayCounts> {
    let merchant = crate::foundation::merchants::get(ctx, merchant_id).await?;
    let bill_date = day.format("%Y-%m-%d").to_string();
    let rows = match provider {
        Provider::WechatPay => {
            let account = credentials::wechatpay(ctx, &merchant).await?;
            match ctx.wechatpay.trade_bill(&account.merchant(), &bill_date).await {
                Ok(text) => parse_wechat_bill(&text),
                // No statement: nothing happened that day at WeChat Pay.
                Err(Error::ProviderRejected { code, .. }) if code == "NO_STATEMENT_EXIST" => Vec::new(),
                Err(e) => return Err(e),
            }
        }
        Provider::Alipay => {
            let account = credentials::alipay(ctx, &merchant).await?;
            let url = ctx.alipay.bill_download_url(&account.keys(), &bill_date).await?;
            parse_alipay_bill(&ctx.alipay.download(&url).await?)?
        }
    };
    let (from, to) = day_bounds(&merchant.timezone, day);
    let ours = payments::Entity::find()
        .filter(payments::Column::MerchantId.eq(merchant_id))
        .filter(payments::Column::Provider.eq(provider.as_str()))
        .filter(payments::Column::Status.eq(PAID))
        .filter(payments::Column::PaidAt.gte(from))
        .filter(payments::Column::PaidAt.lt(to))
        .all(&ctx.db)
        .await?;
    let our_refunds = payment_refunds::Entity::find()
        .filter(payment_refunds::Column::MerchantId.eq(merchant_id))
        .filter(payment_refunds::Column::Status.eq(super::refunds::SUCCEEDED))
        .filter(payment_refunds::Column::FinishedAt.gte(from))
        .filter(payment_refunds::Column::FinishedAt.lt(to))
        .all(&ctx.db)
        .await?;
    let provider_name = provider.as_str();
    let mut exceptions = 0;
    let mut seen_payments = BTreeMap::new();
    let mut seen_refunds = BTreeMap::new();
    let mut unreadable = Vec::new();
    let (mut their_paid, mut their_refunded) = (0_i64, 0_i64);
    for row in &rows {
        match row {
            BillRow::Unreadable { reference, why, line } => unreadable.push((reference, why, line)),
            BillRow::Payment { out_trade_no, trade_no, amount_fen } => {
                seen_payments.insert(out_trade_no.clone(), (trade_no.clone(), *amount_fen));
                their_paid += amount_fen;
            }
            BillRow::Refund { out_refund_no, amount_fen } => {
                seen_refunds.insert(out_refund_no.clone(), *amount_fen);
                their_refunded += amount_fen;
            }
        }
    }
    let our_paid: i64 = ours.iter().map(|p| p.amount_fen).sum();
    let mut our_refunded = 0_i64;
    let note = |payment_id: Option<i64>, kind: &'static str, reference: String, detail: serde_json::Value| async move {
        record_exception(&ctx.db, merchant_id, payment_id, provider_name, kind, &reference, detail).await
    };
    for (reference, why, line) in &unreadable {
        let payment = ours.iter().find(|p| &&p.out_trade_no == reference).map(|p| p.id);
        let detail = json!({ "bill_date": bill_date, "why": why, "line": line });
        note(payment, "unreadable_row", format!("{bill_date}:{reference}"), detail).await?;
        exceptions += 1;
    }
    for payment in &ours {
        // Its row is there but unreadable: listed as such above, not also as missing.
        if unreadable.iter().any(|(reference, ..)| *reference == &payment.out_trade_no) {
            continue;
        }
        match seen_payments.remove(&payment.out_trade_no) {
            None => {
                let detail = json!({ "bill_date": bill_date, "amount_fen": payment.amount_fen });
                note(Some(payment.id), "missing_there", payment.out_trade_no.clone(), detail).await?;
                exceptions += 1;
            }
            Some((_, amount)) if amount != payment.amount_fen => {
                let detail = json!({ "bill_date": bill_date, "ours_fen": payment.amount_fen, "theirs_fen": amount });
                note(Some(payment.id), "amount_mismatch", payment.out_trade_no.clone(), detail).await?;
                exceptions += 1;
            }
            Some(_) => {}
        }
    }
    // Theirs that were not ours as paid that day: paid at a different local day's edge is still ours if we have it
    // paid at all, so look it up before calling it missing.
    for (out_trade_no, (trade_no, amount)) in seen_payments {
        let known = payments::Entity::find()
            .filter(payments::Column::MerchantId.eq(merchant_id))
            .filter(payments::Column::OutTradeNo.eq(&out_trade_no))
            .one(&ctx.db)
            .await?;
        match known {
            Some(payment) if payment.status == PAID && payment.amount_fen == amount => {}
            other => {
                let id = other.as_ref().map(|p| p.id);
                let detail = json!({
                    "bill_date": bill_date, "out_trade_no": out_trade_no, "amount_fen": amount,
                    "our_status": other.map(|p| p.status),
                });
                note(id, "missing_here", trade_no, detail).await?;
                exceptions += 1;
            }
        }
    }
    for refund in &our_refunds {
        let payment_provider = payments::Entity::find_by_id(refund.payment_id).one(&ctx.db).await?.map(|p| p.provider);
        if payment_provider.as_deref() != Some(provider_name) {
            continue;
        }
        our_refunded += refund.amount_fen;
        if seen_refunds.remove(&refund.out_refund_no).is_none() {
            let detail = json!({ "bill_date": bill_date, "amount_fen": refund.amount_fen });
            note(Some(refund.payment_id), "refund_missing_there", refund.out_refund_no.clone(), detail).await?;
            exceptions += 1;
        }
    }
    for (out_refund_no, amount) in seen_refunds {
        let known = payment_refunds::Entity::find()
            .filter(payment_refunds::Column::MerchantId.eq(merchant_id))
            .filter(payment_refunds::Column::OutRefundNo.eq(&out_refund_no))
            .one(&ctx.db)
            .await?;
        if known.is_none_or(|r| r.status != super::refunds::SUCCEEDED) {
            let detail = json!({ "bill_date": bill_date, "amount_fen": amount });
            note(None, "refund_missing_here", out_refund_no, detail).await?;
            exceptions += 1;
        }
    }
    Ok(DayCounts {
        provider_rows: rows.len(),
        exceptions,
        our_payments: ours.len(),
        our_paid: Fen::new(our_paid),
        their_paid: Fen::new(their_paid),
        our_refunded: Fen::new(our_refunded),
        their_refunded: Fen::new(their_refunded),
    })
}

/// [`compare_day`], with what it found (or why it could not run) kept as the day's reconciliation for staff to
/// read; running a day again replaces its row.
pub async fn reconcile(ctx: &AppContext, merchant_id: i64, provider: Provider, day: NaiveDate) -> Result<DayCounts> {
    let outcome = compare_day(ctx, merchant_id, provider, day).await;
    let zero = |v: usize| i32::try_from(v).unwrap_or(i32::MAX);
    let row = match &outcome {
        Ok(counts) => reconciliations::ActiveModel {
            status: Set(if counts.exceptions == 0 { "matched" } else { "differences" }.to_owned()),
            provider_rows: Set(zero(counts.provider_rows)),
            our_payments: Set(zero(counts.our_payments)),
            our_paid_fen: Set(counts.our_paid.get()),
            their_paid_fen: Set(counts.their_paid.get()),
            our_refunded_fen: Set(counts.our_refunded.get()),
            their_refunded_fen: Set(counts.their_refunded.get()),
            exceptions: Set(zero(counts.exceptions)),
            error: Set(None),
            ..Default::default()
        },
        Err(error) => reconciliations::ActiveModel {
            status: Set("failed".to_owned()),
            provider_rows: Set(0),
            our_payments: Set(0),
            our_paid_fen: Set(0),
            their_paid_fen: Set(0),
            our_refunded_fen: Set(0),
            their_refunded_fen: Set(0),
            exceptions: Set(0),
            error: Set(Some(error.to_string().chars().take(500).collect())),
            ..Default::default()
        },
    };
    let row = reconciliations::ActiveModel {
        merchant_id: Set(merchant_id),
        provider: Set(provider.as_str().to_owned()),
        day: Set(day),
        ran_at: Set(ctx.now()),
        ..row
    };
    use reconciliations::Column as C;
    let replace = OnConflict::columns([C::MerchantId, C::Provider, C::Day])
        .update_columns([
            C::Status,
            C::ProviderRows,
            C::OurPayments,
            C::OurPaidFen,
            C::TheirPaidFen,
            C::OurRefundedFen,
            C::TheirRefundedFen,
            C::Exceptions,
            C::Error,
            C::RanAt,
        ])
        .to_owned();
    reconciliations::Entity::insert(row).on_conflict(replace).exec_without_returning(&ctx.db).await?;
    outcome
}

/// The providers `merchant` has an account with.
fn providers_of(merchant: &entity::merchants::Model) -> Vec<Provider> {
    let mut providers = Vec::new();
    if merchant.wechatpay_mchid.is_some() && merchant.wechatpay_private_key_sealed.is_some() {
        providers.push(Provider::WechatPay);
    }
    if merchant.alipay_appid.is_some() && merchant.alipay_private_key_sealed.is_some() {
        providers.push(Provider::Alipay);
    }
    providers
}

/// One day's reconciliation with one provider, as staff read it.
#[derive(Clone, Debug)]
pub struct Reconciliation {
    pub provider: String,
    pub day: NaiveDate,
    pub status: String,
    pub provider_rows: i32,
    pub our_payments: i32,
    pub our_paid: Fen,
    pub their_paid: Fen,
    pub our_refunded: Fen,
    pub their_refunded: Fen,
    pub exceptions: i32,
    pub error: Option<String>,
    pub ran_at: DateTime<Utc>,
}

impl From<reconciliations::Model> for Reconciliation {
    fn from(row: reconciliations::Model) -> Self {
        Self {
            provider: row.provider,
            day: row.day,
            status: row.status,
            provider_rows: row.provider_rows,
            our_payments: row.our_payments,
            our_paid: Fen::new(row.our_paid_fen),
            their_paid: Fen::new(row.their_paid_fen),
            our_refunded: Fen::new(row.our_refunded_fen),
            their_refunded: Fen::new(row.their_refunded_fen),
            exceptions: row.exceptions,
            error: row.error,
            ran_at: row.ran_at,
        }
    }
}

/// The merchant's reconciliations from `from` to `to` (local days, both included), newest day first. They cover
/// every store's payments, so they are for merchant-wide staff who look into payment exceptions.
pub async fn list(
    ctx: &AppContext,
    principal: &StaffPrincipal,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Vec<Reconciliation>> {
    principal.require_merchant_wide(Permission::Refund)?;
    if to < from || (to - from).num_days() > 366 {
        return Err(Error::invalid("to", "must be on or after `from`, at most a year later"));
    }
    use reconciliations::Column as C;
    let rows = reconciliations::Entity::find()
        .filter(C::MerchantId.eq(principal.merchant_id))
        .filter(C::Day.gte(from))
        .filter(C::Day.lte(to))
        .order_by_desc(C::Day)
        .order_by_asc(C::Provider)
        .all(&ctx.db)
        .await?;
    Ok(rows.into_iter().map(Into::into).collect())
}

/// Reconciles `day` again with every provider the merchant uses, now (after a provider was down at the daily run,
/// say). Only a past day: the provider's bill for a day is ready the next morning, and kept three months.
pub async fn run(ctx: &AppContext, principal: &StaffPrincipal, day: NaiveDate) -> Result<Vec<Reconciliation>> {
    principal.require_merchant_wide(Permission::Refund)?;
    let merchant = crate::foundation::merchants::get(ctx, principal.merchant_id).await?;
    let tz: chrono_tz::Tz =
        merchant.timezone.parse().map_err(|e| anyhow::anyhow!("merchant {} zone: {e}", merchant.id))?;
    let today = ctx.now().with_timezone(&tz).date_naive();
    if day >= today || (today - day).num_days() > 90 {
        return Err(Error::invalid("day", "must be a past day within the last 90 days"));
    }
    let providers = providers_of(&merchant);
    if providers.is_empty() {
        return Err(Error::invalid("day", "no payment provider is set up for this merchant"));
    }
    for provider in &providers {
        // A failure is kept as the day's reconciliation, with why; staff read it in the answer.
        if let Err(error) = reconcile(ctx, merchant.id, *provider, day).await {
            tracing::warn!(merchant = merchant.id, provider = provider.as_str(), %error, "reconciliation run by hand failed");
        }
    }
    audit::record(
        &ctx.db,
        Event {
            merchant_id: Some(merchant.id),
            actor: Actor::Staff(principal.staff_id),
            action: "payments.reconciled",
            target: None,
            detail: json!({ "day": day.to_string() }),
            ip: None,
        },
    )
    .await?;
    list(ctx, principal, day, day).await
}

/// What reconciling one day found for one merchant and provider.
pub struct Reconciled {
    pub merchant_id: i64,
    pub provider: Provider,
    pub outcome: Result<DayCounts>,
}

/// Reconciles `day` (each merchant's local day) for every merchant with a WeChat Pay or Alipay account. Safe to run
/// again: a difference already listed is not listed twice.
pub async fn reconcile_day(ctx: &AppContext, day: NaiveDate) -> Result<Vec<Reconciled>> {
    let merchants = entity::merchants::Entity::find().all(&ctx.db).await?;
    let mut done = Vec::new();
    for merchant in merchants {
        for provider in providers_of(&merchant) {
            let outcome = reconcile(ctx, merchant.id, provider, day).await;
            if let Err(error) = &outcome {
                tracing::warn!(merchant = merchant.id, provider = provider.as_str(), %error, "reconciliation failed");
            }
            done.push(Reconciled { merchant_id: merchant.id, provider, outcome });
        }
    }
    Ok(done)
}
