//! A campaign's report for owners and marketing managers: its treatment group against its control group, as JSON
//! for the console and as an Excel workbook to keep or pass on.

use actix_web::http::header::{ContentDisposition, DispositionParam, DispositionType};
use actix_web::{HttpResponse, get, post, web};
use chrono::{DateTime, Utc};
use rust_xlsxwriter::{Format, Workbook, Worksheet, XlsxError};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;

use service::AppContext;
use service::domain::Fen;
use service::marketing::campaigns;
use service::marketing::roi::power;
use service::marketing::roi::report::{self, CampaignReport, FenInterval, GroupFigures, ReportVerdict};
use service::marketing::roi::stats::{self, Interval};

use crate::error::{ApiResult, ErrorBody};
use crate::extract::{Body, Staff};

pub fn staff_routes(cfg: &mut ServiceConfig) {
    cfg.service(get_campaign_report)
        .service(export_campaign_report)
        .service(detectable_effect)
        .service(list_campaign_verdicts);
}

/// An estimate with its 95% interval.
#[derive(Serialize, ToSchema)]
pub struct IntervalDto {
    pub estimate: f64,
    pub low: f64,
    pub high: f64,
}

impl From<Interval> for IntervalDto {
    fn from(i: Interval) -> Self {
        Self { estimate: i.estimate, low: i.low, high: i.high }
    }
}

/// A sum of money in fen with its 95% interval, each rounded to the whole fen.
#[derive(Serialize, ToSchema)]
pub struct FenIntervalDto {
    pub estimate: i64,
    pub low: i64,
    pub high: i64,
}

impl From<FenInterval> for FenIntervalDto {
    fn from(i: FenInterval) -> Self {
        Self { estimate: i.estimate.get(), low: i.low.get(), high: i.high.get() }
    }
}

/// One group over the horizon. Amounts are fen; averages are rounded to the whole fen.
#[derive(Serialize, ToSchema)]
pub struct GroupFiguresDto {
    pub members: u64,
    /// Members with at least one settled bill.
    pub visitors: u64,
    /// Visitors ÷ members, with its Wilson interval.
    pub visit_rate: Option<IntervalDto>,
    pub bills: u64,
    /// Recognised revenue: services and products, count-card sessions at their value, stored value spent; less
    /// refunds. Recharges are not revenue.
    pub revenue_fen: i64,
    pub revenue_per_member_fen: Option<i64>,
    pub average_bill_fen: Option<i64>,
    /// Stored value paid in, and the bonus it granted.
    pub recharge_fen: i64,
    pub recharge_per_member_fen: Option<i64>,
    pub bonus_fen: i64,
}

impl From<GroupFigures> for GroupFiguresDto {
    fn from(g: GroupFigures) -> Self {
        Self {
            members: g.members,
            visitors: g.visitors,
            visit_rate: g.visit_rate.map(Into::into),
            bills: g.bills,
            revenue_fen: g.revenue_fen,
            revenue_per_member_fen: g.revenue_per_member_fen.map(Fen::get),
            average_bill_fen: g.average_bill_fen.map(Fen::get),
            recharge_fen: g.recharge_fen,
            recharge_per_member_fen: g.recharge_per_member_fen.map(Fen::get),
            bonus_fen: g.bonus_fen,
        }
    }
}

/// What the campaign cost, in fen.
#[derive(Serialize, ToSchema)]
pub struct CostDto {
    /// Its coupons' discounts on settled bills, every redeemer counted.
    pub coupon_fen: i64,
    /// Bonus stored value granted to the treatment group beyond the control group's rate.
    pub bonus_fen: i64,
    /// SMS sent, and their cost at the price per message of the SMS settings.
    pub sms: u64,
    pub sms_fen: i64,
    pub total_fen: i64,
}

/// A campaign measured against its control group, everyone as assigned, over the horizon fixed before it ran.
#[derive(Serialize, ToSchema)]
pub struct CampaignReportDto {
    pub campaign_id: i64,
    pub horizon_days: i32,
    /// The window measured (none before the campaign ran).
    pub from: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
    /// The horizon has not ended: the figures may still move.
    pub provisional: bool,
    pub treatment: GroupFiguresDto,
    pub control: GroupFiguresDto,
    /// Treatment − control, with 95% intervals: the visit rate (Newcombe's hybrid score interval), revenue and
    /// recharges per member in fen (Welch's interval).
    pub visit_rate_lift: Option<IntervalDto>,
    pub revenue_lift_fen: Option<FenIntervalDto>,
    pub recharge_lift_fen: Option<FenIntervalDto>,
    pub cost: CostDto,
    /// Revenue lift per member × treatment members − cost, in fen; and that ÷ cost (none when nothing was spent).
    pub net_fen: Option<FenIntervalDto>,
    pub roi: Option<IntervalDto>,
    /// Positive or negative when the whole interval of the net is; inconclusive when it spans zero.
    pub verdict: ReportVerdict,
    /// The smallest visit-rate difference these group sizes detect (80% power, 5% two-sided).
    pub detectable_visit_rate: Option<f64>,
    /// Cumulative revenue per member of each group (fen) at the end of each day of the window so far.
    pub daily: Vec<DailyPointDto>,
    /// What other systems report instead, shown beside for comparison: recipients of a message who came (with
    /// revenue) within `days` days of it, with no control group, so it counts money that would have come anyway.
    pub attribution: AttributionDto,
    /// The same comparison within each home store (members without one under a null store).
    pub stores: Vec<StoreFiguresDto>,
}

/// One store's members, by home store: both groups and the lift.
#[derive(Serialize, ToSchema)]
pub struct StoreFiguresDto {
    pub store_id: Option<i64>,
    pub store_name: Option<String>,
    pub treatment: GroupFiguresDto,
    pub control: GroupFiguresDto,
    pub visit_rate_lift: Option<IntervalDto>,
    pub revenue_lift_fen: Option<FenIntervalDto>,
}

/// Attribution as vendors report it (not an effect).
#[derive(Serialize, ToSchema)]
pub struct AttributionDto {
    pub days: i64,
    /// Treatment members sent a message (SMS or in-app).
    pub recipients: u64,
    /// Of them, who came with revenue within `days` days of their first message, and that revenue (fen).
    pub visitors: u64,
    pub revenue_fen: i64,
}

/// Revenue per member so far, by group, at the end of day `day` (1 is the first 24 hours after the run).
#[derive(Serialize, ToSchema)]
pub struct DailyPointDto {
    pub day: i64,
    pub treatment_fen: i64,
    pub control_fen: i64,
}

impl From<CampaignReport> for CampaignReportDto {
    fn from(r: CampaignReport) -> Self {
        Self {
            campaign_id: r.campaign_id,
            horizon_days: r.horizon_days,
            from: r.from,
            until: r.until,
            provisional: r.provisional,
            treatment: r.treatment.into(),
            control: r.control.into(),
            visit_rate_lift: r.visit_rate_lift.map(Into::into),
            revenue_lift_fen: r.revenue_lift_fen.map(Into::into),
            recharge_lift_fen: r.recharge_lift_fen.map(Into::into),
            cost: CostDto {
                coupon_fen: r.cost.coupon_fen,
                bonus_fen: r.cost.bonus_fen,
                sms: r.cost.sms,
                sms_fen: r.cost.sms_fen,
                total_fen: r.cost.total_fen,
            },
            net_fen: r.net_fen.map(Into::into),
            roi: r.roi.map(Into::into),
            verdict: r.verdict,
            detectable_visit_rate: r.detectable_visit_rate,
            daily: r
                .daily
                .into_iter()
                .map(|d| DailyPointDto {
                    day: d.day,
                    treatment_fen: d.treatment_fen.get(),
                    control_fen: d.control_fen.get(),
                })
                .collect(),
            stores: r
                .stores
                .into_iter()
                .map(|s| StoreFiguresDto {
                    store_id: s.store_id,
                    store_name: s.store_name,
                    treatment: s.treatment.into(),
                    control: s.control.into(),
                    visit_rate_lift: s.visit_rate_lift.map(Into::into),
                    revenue_lift_fen: s.revenue_lift_fen.map(Into::into),
                })
                .collect(),
            attribution: AttributionDto {
                days: r.attribution.days,
                recipients: r.attribution.recipients,
                visitors: r.attribution.visitors,
                revenue_fen: r.attribution.revenue_fen,
            },
        }
    }
}

/// A campaign's effect: its treatment group against its control group.
#[utoipa::path(tag = "marketing", params(("id" = i64, Path)), responses((status = 200, body = CampaignReportDto), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)), security(("staff_token" = [])))]
#[get("/campaigns/{id}/report")]
async fn get_campaign_report(
    ctx: web::Data<AppContext>,
    Staff(me): Staff,
    id: web::Path<i64>,
) -> ApiResult<web::Json<CampaignReportDto>> {
    Ok(web::Json(report::campaign(&ctx, &me, id.into_inner()).await?.into()))
}

/// The campaign's report as an Excel workbook: the summary, the two groups and the lift on one sheet, the
/// day-by-day revenue per member on another.
#[utoipa::path(tag = "marketing", params(("id" = i64, Path)), responses((status = 200, description = "An .xlsx workbook", content_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)), security(("staff_token" = [])))]
#[get("/campaigns/{id}/report/export")]
async fn export_campaign_report(
    ctx: web::Data<AppContext>,
    Staff(me): Staff,
    id: web::Path<i64>,
) -> ApiResult<HttpResponse> {
    let id = id.into_inner();
    let campaign = campaigns::get(&ctx, &me, id).await?;
    let report = report::campaign(&ctx, &me, id).await?;
    let bytes = workbook(&campaign.name, &report)
        .map_err(|e| service::Error::Internal(anyhow::anyhow!("campaign {id}: writing the workbook: {e}")))?;
    let disposition = ContentDisposition {
        disposition: DispositionType::Attachment,
        parameters: vec![DispositionParam::Filename(format!("campaign-{id}-report.xlsx"))],
    };
    Ok(HttpResponse::Ok()
        .content_type("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
        .insert_header(disposition)
        .body(bytes))
}

/// A campaign's verdict in the list of campaigns.
#[derive(Serialize, ToSchema)]
pub struct CampaignVerdictDto {
    pub campaign_id: i64,
    pub verdict: ReportVerdict,
    /// The horizon has not ended: the verdict may still change.
    pub provisional: bool,
}

/// The verdict of every campaign that has run, as its report gives it.
#[utoipa::path(tag = "marketing", responses((status = 200, body = Vec<CampaignVerdictDto>), (status = 403, body = ErrorBody)), security(("staff_token" = [])))]
#[get("/campaign-verdicts")]
async fn list_campaign_verdicts(
    ctx: web::Data<AppContext>,
    Staff(me): Staff,
) -> ApiResult<web::Json<Vec<CampaignVerdictDto>>> {
    let verdicts = report::verdicts(&ctx, &me).await?;
    Ok(web::Json(
        verdicts
            .into_iter()
            .map(|v| CampaignVerdictDto { campaign_id: v.campaign_id, verdict: v.verdict, provisional: v.provisional })
            .collect(),
    ))
}

/// A campaign being planned: its segment, control share and horizon.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DetectableRequest {
    pub segment_id: i64,
    /// 0–5000 basis points (default 1000).
    #[serde(default)]
    pub control_bp: Option<i32>,
    /// 7–90 days (default 30).
    #[serde(default)]
    pub horizon_days: Option<i32>,
}

/// What a planned campaign could tell apart, from its segment as it stands now.
#[derive(Serialize, ToSchema)]
pub struct DetectableDto {
    /// Members in the segment now, and how they would split (the merchant-wide control group included).
    pub audience: u64,
    pub treated: u64,
    pub control: u64,
    /// The share of the segment's members who came within the last horizon: the rate to expect without the campaign.
    pub base_visit_rate: Option<f64>,
    /// The smallest difference in visit rate these sizes detect (80% power, 5% two-sided), as a proportion.
    pub detectable_visit_rate: Option<f64>,
}

/// Before launch: the smallest effect a campaign of this segment, control share and horizon could detect.
#[utoipa::path(tag = "marketing", request_body = DetectableRequest, responses((status = 200, body = DetectableDto), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)), security(("staff_token" = [])))]
#[post("/campaigns/detectable-effect")]
async fn detectable_effect(
    ctx: web::Data<AppContext>,
    Staff(me): Staff,
    body: Body<DetectableRequest>,
) -> ApiResult<web::Json<DetectableDto>> {
    let r = body.into_inner();
    let d = power::detectable(&ctx, &me, r.segment_id, r.control_bp, r.horizon_days).await?;
    Ok(web::Json(DetectableDto {
        audience: d.audience,
        treated: d.treated,
        control: d.control,
        base_visit_rate: d.base_visit_rate,
        detectable_visit_rate: d.detectable_visit_rate,
    }))
}

fn verdict_words(verdict: ReportVerdict) -> &'static str {
    match verdict {
        ReportVerdict::Positive => "正向：活动带来了净收益",
        ReportVerdict::Negative => "负向：活动成本超过了带来的收入",
        ReportVerdict::Inconclusive => "尚无定论：区间跨过 0，数据还不能判断",
        ReportVerdict::NotEnoughData => "数据不足",
    }
}

/// Fen as yuan, for cells formatted as money (a spreadsheet number is a double).
fn yuan(fen: Fen) -> f64 {
    number(fen.get()) / 100.0
}

/// A money interval in yuan, for cells.
fn in_yuan(i: FenInterval) -> Interval {
    Interval { estimate: yuan(i.estimate), low: yuan(i.low), high: yuan(i.high) }
}

#[expect(clippy::as_conversions, reason = "counts and sums of fen written to a spreadsheet, far below 2^53")]
fn number(value: i64) -> f64 {
    value as f64
}

/// One figure of a group, as a spreadsheet number.
type GroupFigure = fn(&GroupFigures) -> Option<f64>;

fn workbook(name: &str, r: &CampaignReport) -> Result<Vec<u8>, XlsxError> {
    let mut book = Workbook::new();
    let bold = Format::new().set_bold();
    let money = Format::new().set_num_format("¥#,##0.00");
    let percent = Format::new().set_num_format("0.0%");
    let local = |at: Option<DateTime<Utc>>| at.map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string()).unwrap_or_default();

    let sheet = book.add_worksheet().set_name("营销效果")?;
    sheet.set_column_width(0, 22)?;
    sheet.set_column_width(1, 18)?;
    sheet.set_column_width(2, 18)?;
    sheet.set_column_width(3, 18)?;
    sheet.write_string_with_format(0, 0, "活动", &bold)?;
    sheet.write_string(0, 1, name)?;
    sheet.write_string_with_format(1, 0, "观察期（天）", &bold)?;
    sheet.write_number(1, 1, f64::from(r.horizon_days))?;
    sheet.write_string_with_format(2, 0, "统计窗口", &bold)?;
    sheet.write_string(2, 1, format!("{} — {}", local(r.from), local(r.until)))?;
    sheet.write_string(2, 3, if r.provisional { "暂定：观察期未结束" } else { "观察期已结束" })?;
    sheet.write_string_with_format(3, 0, "结论", &bold)?;
    sheet.write_string(3, 1, verdict_words(r.verdict))?;

    let row = 5;
    for (col, title) in ["", "活动组", "对照组"].iter().enumerate() {
        sheet.write_string_with_format(row, u16::try_from(col).unwrap_or(0), *title, &bold)?;
    }
    let groups = [(1, &r.treatment), (2, &r.control)];
    let lines: [(&str, GroupFigure, &Format); 8] = [
        ("人数", |g| Some(stats::real(g.members)), &Format::new()),
        ("到店人数", |g| Some(stats::real(g.visitors)), &Format::new()),
        ("到店率", |g| g.visit_rate.map(|v| v.estimate), &percent),
        ("单数", |g| Some(stats::real(g.bills)), &Format::new()),
        ("确认收入", |g| Some(yuan(Fen::new(g.revenue_fen))), &money),
        ("人均收入", |g| g.revenue_per_member_fen.map(yuan), &money),
        ("客单价", |g| g.average_bill_fen.map(yuan), &money),
        ("人均储值", |g| g.recharge_per_member_fen.map(yuan), &money),
    ];
    for (i, (title, value, format)) in lines.iter().enumerate() {
        let at = row + 1 + u32::try_from(i).unwrap_or(0);
        sheet.write_string(at, 0, *title)?;
        for (col, group) in groups {
            if let Some(v) = value(group) {
                sheet.write_number_with_format(at, col, v, format)?;
            }
        }
    }

    let row = row + 11;
    for (col, title) in ["差异（活动组 − 对照组）", "估计", "95% 区间下限", "95% 区间上限"].iter().enumerate()
    {
        sheet.write_string_with_format(row, u16::try_from(col).unwrap_or(0), *title, &bold)?;
    }
    let lifts: [(&str, Option<Interval>, &Format); 4] = [
        ("到店率", r.visit_rate_lift, &percent),
        ("人均收入", r.revenue_lift_fen.map(in_yuan), &money),
        ("人均储值", r.recharge_lift_fen.map(in_yuan), &money),
        ("净增收入", r.net_fen.map(in_yuan), &money),
    ];
    let mut at = row + 1;
    for (title, interval, format) in lifts {
        write_interval(sheet, at, title, interval, format)?;
        at += 1;
    }
    write_interval(sheet, at, "ROI（净增收入 ÷ 成本）", r.roi, &Format::new().set_num_format("0.00"))?;

    let row = at + 2;
    sheet.write_string_with_format(row, 0, "成本", &bold)?;
    let costs = [
        ("优惠券抵扣", r.cost.coupon_fen),
        ("储值赠送（超出对照组水平）", r.cost.bonus_fen),
        ("短信费用", r.cost.sms_fen),
        ("合计", r.cost.total_fen),
    ];
    for (i, (title, fen)) in costs.iter().enumerate() {
        let at = row + 1 + u32::try_from(i).unwrap_or(0);
        sheet.write_string(at, 0, *title)?;
        sheet.write_number_with_format(at, 1, yuan(Fen::new(*fen)), &money)?;
    }
    sheet.write_string(row + 3, 2, format!("{} 条短信", r.cost.sms))?;
    if let Some(detectable) = r.detectable_visit_rate {
        sheet.write_string_with_format(row + 6, 0, "可分辨的最小到店率差异", &bold)?;
        sheet.write_number_with_format(row + 6, 1, detectable, &percent)?;
        sheet.write_string(row + 6, 2, "（80% 把握，双侧 5%）")?;
    }

    let daily = book.add_worksheet().set_name("逐日人均收入")?;
    daily.set_column_width(0, 10)?;
    daily.set_column_width(1, 16)?;
    daily.set_column_width(2, 16)?;
    for (col, title) in ["第几天", "活动组（累计）", "对照组（累计）"].iter().enumerate() {
        daily.write_string_with_format(0, u16::try_from(col).unwrap_or(0), *title, &bold)?;
    }
    for (i, point) in r.daily.iter().enumerate() {
        let at = 1 + u32::try_from(i).unwrap_or(0);
        daily.write_number(at, 0, number(point.day))?;
        daily.write_number_with_format(at, 1, yuan(point.treatment_fen), &money)?;
        daily.write_number_with_format(at, 2, yuan(point.control_fen), &money)?;
    }
    book.save_to_buffer()
}

fn write_interval(
    sheet: &mut Worksheet,
    row: u32,
    title: &str,
    interval: Option<Interval>,
    format: &Format,
) -> Result<(), XlsxError> {
    sheet.write_string(row, 0, title)?;
    match interval {
        Some(i) => {
            sheet.write_number_with_format(row, 1, i.estimate, format)?;
            sheet.write_number_with_format(row, 2, i.low, format)?;
            sheet.write_number_with_format(row, 3, i.high, format)?;
        }
        None => {
            sheet.write_string(row, 1, "—")?;
        }
    }
    Ok(())
}
