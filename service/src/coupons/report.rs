//! What became of a template's coupons: how many were issued (claimed, granted), used, expired or still held, the
//! discount they gave and what the bills that used them brought in. The discount counts every redeemer, those who
//! would have come anyway included: that is what the coupon cost. Whether it brought anyone is the campaign
//! report's question, against a control group.

use sea_orm::sea_query::{ExprTrait, Query};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QuerySelect};

use entity::{bill_coupons, bills, member_coupons};

use super::templates::row as template_row;
use crate::domain::{BillStatus, CouponSource, CouponStatus, Fen, Permission};
use crate::foundation::principal::StaffPrincipal;
use crate::{AppContext, Result};

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TemplateReport {
    pub template_id: i64,
    pub issued: u64,
    /// Of those issued: claimed by members in the coupon center, and given by staff or automatically.
    pub claimed: u64,
    pub granted: u64,
    pub used: u64,
    /// Still unused and past their validity.
    pub expired: u64,
    /// Unused, valid or not yet valid, or held by a parked bill.
    pub outstanding: u64,
    /// Settled bills that used one (a reversed bill gave its coupon back and is not counted).
    pub bills: u64,
    /// What this template's coupons took off those bills (not what other coupons on them took).
    pub discount: Fen,
    /// What those bills were paid, less what was refunded since (a bill that used two templates' coupons counts in
    /// both reports).
    pub revenue: Fen,
}

async fn sum_as_i64(
    conn: &impl ConnectionTrait,
    query: sea_orm::Select<bills::Entity>,
    column: bills::Column,
) -> Result<i64> {
    let total: Option<Option<i64>> =
        query.select_only().column_as(column.sum().cast_as("BIGINT"), "total").into_tuple().one(conn).await?;
    Ok(total.flatten().unwrap_or(0))
}

/// The report of one template, for staff who manage coupons.
pub async fn of_template(ctx: &AppContext, principal: &StaffPrincipal, template_id: i64) -> Result<TemplateReport> {
    principal.require_merchant_wide(Permission::CouponManage)?;
    let template = template_row(&ctx.db, principal.merchant_id, template_id).await?;
    let now = ctx.now();
    // Counted by the database: a campaign's drop may have issued a million of them.
    let of_template = || member_coupons::Entity::find().filter(member_coupons::Column::TemplateId.eq(template.id));
    let issued = of_template().count(&ctx.db).await?;
    let claimed =
        of_template().filter(member_coupons::Column::Source.eq(CouponSource::Claim.as_str())).count(&ctx.db).await?;
    let used =
        of_template().filter(member_coupons::Column::Status.eq(CouponStatus::Used.as_str())).count(&ctx.db).await?;
    let expired = of_template()
        .filter(member_coupons::Column::Status.eq(CouponStatus::Usable.as_str()))
        .filter(member_coupons::Column::ValidUntil.lt(now))
        .count(&ctx.db)
        .await?;
    let of_these = Query::select()
        .column(member_coupons::Column::Id)
        .from(member_coupons::Entity)
        .and_where(member_coupons::Column::TemplateId.eq(template.id))
        .to_owned();
    let settled_bills = Query::select()
        .column(bills::Column::Id)
        .from(bills::Entity)
        .and_where(bills::Column::MerchantId.eq(principal.merchant_id))
        .and_where(bills::Column::Status.eq(BillStatus::Settled.as_str()))
        .to_owned();
    // Uses of this template's coupons on settled bills; a bill names a coupon once, so these are one per bill.
    let uses = || {
        bill_coupons::Entity::find()
            .filter(bill_coupons::Column::CouponId.in_subquery(of_these.clone()))
            .filter(bill_coupons::Column::BillId.in_subquery(settled_bills.clone()))
    };
    let with_these = Query::select()
        .column(bill_coupons::Column::BillId)
        .from(bill_coupons::Entity)
        .and_where(bill_coupons::Column::CouponId.in_subquery(of_these.clone()))
        .to_owned();
    let settled = || {
        bills::Entity::find()
            .filter(bills::Column::MerchantId.eq(principal.merchant_id))
            .filter(bills::Column::Status.eq(BillStatus::Settled.as_str()))
            .filter(bills::Column::Id.in_subquery(with_these.clone()))
    };
    let paid = sum_as_i64(&ctx.db, settled(), bills::Column::TotalFen).await?;
    let refunded = sum_as_i64(&ctx.db, settled(), bills::Column::RefundedFen).await?;
    let discount: Option<Option<i64>> = uses()
        .select_only()
        .column_as(bill_coupons::Column::OffFen.sum().cast_as("BIGINT"), "total")
        .into_tuple()
        .one(&ctx.db)
        .await?;
    let report = TemplateReport {
        template_id,
        issued,
        claimed,
        granted: issued - claimed,
        used,
        expired,
        outstanding: issued.saturating_sub(used + expired),
        bills: settled().count(&ctx.db).await?,
        discount: Fen::new(discount.flatten().unwrap_or(0)),
        revenue: Fen::new(paid - refunded),
    };
    Ok(report)
}
