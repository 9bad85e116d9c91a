//! Commission (提成): what staff earn on the lines they worked on or sold, recorded per staff member per line at
//! settlement and given back in proportion when a line is refunded.
//!
//! The rule for a line is the most specific active one: for its item, else for its category, else the default
//! for its kind of line. Sales of count cards and recharges (开卡/充值) are `card_sale` commission; services and
//! products, including services paid by a count card (耗卡, on the session's recognised value), are `consume`.
//! A tiered rule applies the tier the staff member's sales of that kind this month (in the merchant's time zone)
//! had reached before this line. Several staff on one line split its basis by their shares (largest remainder).

pub mod rules;

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, NaiveDate, TimeZone, Utc};
use sea_orm::{ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use entity::{commissions, merchants};

use crate::commission::rules::{Rule, Tier};
use crate::domain::{Fen, Permission};
use crate::foundation::principal::StaffPrincipal;
use crate::money::{apply_bp, share_of, spread};
use crate::{AppContext, Error, Result};

/// One staff member's share of a line, in basis points of the whole.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct StaffShare {
    pub staff_id: i64,
    pub share_bp: i64,
}

/// A settled line, as commission sees it.
pub(crate) struct CommissionLine<'a> {
    pub bill_line_id: i64,
    pub line_kind: &'a str,
    pub item_id: i64,
    pub category: &'a str,
    pub quantity: i64,
    /// What the line earned the store: its net amount, or for a count-card session its recognised value.
    pub basis_fen: Fen,
    pub staff: &'a [StaffShare],
}

fn commission_kind(line_kind: &str) -> &'static str {
    if matches!(line_kind, "card_sale" | "recharge") { "card_sale" } else { "consume" }
}

/// The most specific active rule for a line.
pub(crate) fn rule_for<'r>(rules: &'r [Rule], line_kind: &str, item_id: i64, category: &str) -> Option<&'r Rule> {
    let of_kind = || rules.iter().filter(move |rule| rule.line_kind == line_kind);
    of_kind()
        .find(|rule| rule.item_id == Some(item_id))
        .or_else(|| of_kind().find(|rule| rule.item_id.is_none() && rule.category.as_deref() == Some(category)))
        .or_else(|| of_kind().find(|rule| rule.item_id.is_none() && rule.category.is_none()))
}

/// The tier reached by `month_to_date` sales.
fn tier(tiers: &[Tier], month_to_date: i64) -> Option<&Tier> {
    tiers.iter().rev().find(|tier| tier.from_fen <= Fen::new(month_to_date))
}

/// Commission of each staff member on one line: `(staff_id, basis, amount)`.
pub(crate) fn compute(
    rule: &Rule,
    line: &CommissionLine<'_>,
    month_to_date: &BTreeMap<i64, i64>,
) -> Vec<(i64, i64, i64)> {
    let weights: Vec<i64> = line.staff.iter().map(|s| s.share_bp).collect();
    let bases = spread(line.basis_fen.max(Fen::ZERO).get(), &weights);
    let fixed_parts = |value: i64| spread((value * line.quantity).max(0), &weights);
    line.staff
        .iter()
        .zip(bases)
        .enumerate()
        .map(|(index, (share, basis))| {
            let reached = month_to_date.get(&share.staff_id).copied().unwrap_or(0);
            let amount = match tier(&rule.tiers, reached) {
                None => 0,
                Some(tier) if rule.mode == "fixed" => fixed_parts(tier.value)[index],
                Some(tier) => apply_bp(basis, tier.value),
            };
            (share.staff_id, basis, amount)
        })
        .collect()
}

/// The start of this calendar month in the merchant's time zone, as UTC.
fn month_start(timezone: &str, now: DateTime<Utc>) -> DateTime<Utc> {
    let tz: chrono_tz::Tz = timezone.parse().unwrap_or(chrono_tz::Asia::Shanghai);
    let local = now.with_timezone(&tz);
    let first = NaiveDate::from_ymd_opt(local.year(), local.month(), 1).unwrap_or(local.date_naive());
    tz.from_local_datetime(&first.and_time(chrono::NaiveTime::MIN)).earliest().map_or(now, |at| at.with_timezone(&Utc))
}

async fn month_to_date(
    conn: &impl ConnectionTrait,
    merchant_id: i64,
    kind: &str,
    staff_ids: &[i64],
    since: DateTime<Utc>,
) -> Result<BTreeMap<i64, i64>> {
    let rows: Vec<(i64, Option<i64>)> = commissions::Entity::find()
        .select_only()
        .column(commissions::Column::StaffId)
        .column_as(sea_orm::sea_query::ExprTrait::cast_as(commissions::Column::BasisFen.sum(), "BIGINT"), "basis")
        .filter(commissions::Column::MerchantId.eq(merchant_id))
        .filter(commissions::Column::Kind.eq(kind))
        .filter(commissions::Column::StaffId.is_in(staff_ids.iter().copied()))
        .filter(commissions::Column::CreatedAt.gte(since))
        .group_by(commissions::Column::StaffId)
        .into_tuple()
        .all(conn)
        .await?;
    Ok(rows.into_iter().map(|(staff, basis)| (staff, basis.unwrap_or(0))).collect())
}

/// Inside a settlement: records the commission of every staff member on every line that has a rule.
pub(crate) async fn record(
    conn: &impl ConnectionTrait,
    merchant_id: i64,
    store_id: i64,
    bill_id: i64,
    lines: &[CommissionLine<'_>],
    now: DateTime<Utc>,
) -> Result<()> {
    if lines.iter().all(|line| line.staff.is_empty()) {
        return Ok(());
    }
    let rules = crate::commission::rules::active_rules(conn, merchant_id).await?;
    if rules.is_empty() {
        return Ok(());
    }
    let mut since = None;
    let mut rows = Vec::new();
    for line in lines.iter().filter(|line| !line.staff.is_empty()) {
        let Some(rule) = rule_for(&rules, line.line_kind, line.item_id, line.category) else { continue };
        let kind = commission_kind(line.line_kind);
        let reached = if rule.tiers.len() > 1 {
            let start = match since {
                Some(at) => at,
                None => {
                    let merchant = merchants::Entity::find_by_id(merchant_id).one(conn).await?;
                    let at = month_start(merchant.as_ref().map_or("Asia/Shanghai", |m| m.timezone.as_str()), now);
                    since = Some(at);
                    at
                }
            };
            let ids: Vec<i64> = line.staff.iter().map(|s| s.staff_id).collect();
            month_to_date(conn, merchant_id, kind, &ids, start).await?
        } else {
            BTreeMap::new()
        };
        for (staff_id, basis, amount) in compute(rule, line, &reached) {
            rows.push(commissions::ActiveModel {
                merchant_id: Set(merchant_id),
                store_id: Set(store_id),
                staff_id: Set(staff_id),
                bill_id: Set(bill_id),
                bill_line_id: Set(line.bill_line_id),
                refund_id: Set(None),
                rule_id: Set(Some(rule.id)),
                kind: Set(kind.to_owned()),
                basis_fen: Set(basis),
                amount_fen: Set(amount),
                created_at: Set(now),
                ..Default::default()
            });
        }
    }
    if !rows.is_empty() {
        commissions::Entity::insert_many(rows).exec(conn).await?;
    }
    Ok(())
}

/// Inside a refund: gives back each staff member's commission on a line in proportion, so that refunding
/// `refunded_after` of `quantity` units in any number of steps gives back the same as refunding them at once.
pub(crate) async fn reverse(
    conn: &impl ConnectionTrait,
    bill_line_id: i64,
    refund_id: i64,
    refunded_before: i64,
    refunded_after: i64,
    quantity: i64,
    now: DateTime<Utc>,
) -> Result<()> {
    let earned = commissions::Entity::find()
        .filter(commissions::Column::BillLineId.eq(bill_line_id))
        .filter(commissions::Column::RefundId.is_null())
        .order_by_asc(commissions::Column::Id)
        .all(conn)
        .await?;
    let reversals: Vec<commissions::ActiveModel> = earned
        .into_iter()
        .filter_map(|row| {
            let amount = share_of(row.amount_fen, refunded_after, quantity)
                - share_of(row.amount_fen, refunded_before, quantity);
            let basis =
                share_of(row.basis_fen, refunded_after, quantity) - share_of(row.basis_fen, refunded_before, quantity);
            (amount != 0 || basis != 0).then(|| commissions::ActiveModel {
                merchant_id: Set(row.merchant_id),
                store_id: Set(row.store_id),
                staff_id: Set(row.staff_id),
                bill_id: Set(row.bill_id),
                bill_line_id: Set(row.bill_line_id),
                refund_id: Set(Some(refund_id)),
                rule_id: Set(row.rule_id),
                kind: Set(row.kind),
                basis_fen: Set(-basis),
                amount_fen: Set(-amount),
                created_at: Set(now),
                ..Default::default()
            })
        })
        .collect();
    if !reversals.is_empty() {
        commissions::Entity::insert_many(reversals).exec(conn).await?;
    }
    Ok(())
}

#[derive(Clone, Debug)]
pub struct StatementRow {
    pub id: i64,
    pub bill_id: i64,
    pub bill_line_id: i64,
    pub refund_id: Option<i64>,
    pub store_id: i64,
    pub kind: String,
    pub basis_fen: Fen,
    pub amount_fen: Fen,
    pub created_at: DateTime<Utc>,
}

#[derive(Clone, Debug)]
pub struct Statement {
    pub staff_id: i64,
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub consume_fen: Fen,
    pub card_sale_fen: Fen,
    pub total_fen: Fen,
    pub rows: Vec<StatementRow>,
}

/// A staff member's commission for the days `from..=to` in the merchant's time zone. Everyone may read their own;
/// reading others' needs [`Permission::CommissionRead`].
pub async fn statement(
    ctx: &AppContext,
    principal: &StaffPrincipal,
    staff_id: i64,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Statement> {
    if staff_id != principal.staff_id {
        principal.require(Permission::CommissionRead)?;
    }
    // Someone of another merchant or store is not found, rather than a statement of zeros.
    crate::foundation::staff::visible_to(&ctx.db, principal, staff_id).await?;
    let merchant =
        merchants::Entity::find_by_id(principal.merchant_id).one(&ctx.db).await?.ok_or(Error::NotFound("merchant"))?;
    let (begin, end) = crate::booking::calendar::Calendar::new(&merchant.timezone).period(from, to)?;
    let rows = commissions::Entity::find()
        .filter(commissions::Column::MerchantId.eq(principal.merchant_id))
        .filter(commissions::Column::StaffId.eq(staff_id))
        .filter(commissions::Column::CreatedAt.gte(begin))
        .filter(commissions::Column::CreatedAt.lt(end))
        .order_by_asc(commissions::Column::Id)
        .limit(10_000)
        .all(&ctx.db)
        .await?;
    let sum = |kind: &str| rows.iter().filter(|row| row.kind == kind).map(|row| row.amount_fen).sum::<i64>();
    let (consume_fen, card_sale_fen) = (sum("consume"), sum("card_sale"));
    Ok(Statement {
        staff_id,
        from,
        to,
        consume_fen: Fen::new(consume_fen),
        card_sale_fen: Fen::new(card_sale_fen),
        total_fen: Fen::new(consume_fen + card_sale_fen),
        rows: rows
            .into_iter()
            .map(|row| StatementRow {
                id: row.id,
                bill_id: row.bill_id,
                bill_line_id: row.bill_line_id,
                refund_id: row.refund_id,
                store_id: row.store_id,
                kind: row.kind,
                basis_fen: Fen::new(row.basis_fen),
                amount_fen: Fen::new(row.amount_fen),
                created_at: row.created_at,
            })
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(mode: &str, tiers: &[(i64, i64)]) -> Rule {
        Rule {
            id: 1,
            line_kind: "service".to_owned(),
            item_id: None,
            category: None,
            mode: mode.to_owned(),
            tiers: tiers
                .iter()
                .map(|(from_fen, value)| Tier { from_fen: Fen::new(*from_fen), value: *value })
                .collect(),
        }
    }

    #[test]
    fn shares_split_the_basis_and_tiers_follow_monthly_sales() {
        let staff = [StaffShare { staff_id: 1, share_bp: 6000 }, StaffShare { staff_id: 2, share_bp: 4000 }];
        let line = CommissionLine {
            bill_line_id: 1,
            line_kind: "service",
            item_id: 9,
            category: "美发",
            quantity: 1,
            basis_fen: Fen::new(10_001),
            staff: &staff,
        };
        let tiered = rule("percent", &[(0, 1000), (1_000_000, 1500)]);
        let reached = BTreeMap::from([(2, 2_000_000)]);
        let got = compute(&tiered, &line, &reached);
        assert_eq!(got, vec![(1, 6001, 600), (2, 4000, 600)]);
        let fixed = rule("fixed", &[(0, 500)]);
        assert_eq!(
            compute(&fixed, &CommissionLine { quantity: 3, ..line }, &BTreeMap::new()),
            vec![(1, 6001, 900), (2, 4000, 600)]
        );
    }

    #[test]
    fn the_most_specific_rule_wins() {
        let mut by_item = rule("percent", &[(0, 2000)]);
        by_item.id = 2;
        by_item.item_id = Some(9);
        let mut by_category = rule("percent", &[(0, 1500)]);
        by_category.id = 3;
        by_category.category = Some("美发".to_owned());
        let rules = vec![rule("percent", &[(0, 1000)]), by_category, by_item];
        assert_eq!(rule_for(&rules, "service", 9, "美发").map(|r| r.id), Some(2));
        assert_eq!(rule_for(&rules, "service", 8, "美发").map(|r| r.id), Some(3));
        assert_eq!(rule_for(&rules, "service", 8, "美容").map(|r| r.id), Some(1));
        assert_eq!(rule_for(&rules, "product", 8, "美容").map(|r| r.id), None);
    }
}
