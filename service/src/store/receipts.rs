//! What each printed job says ([`bill_ticket`], [`count_card_slip`], [`appointment_ticket`], [`handover_ticket`],
//! [`test_page`], and the recharge and refund slips) and the bytes a queued job prints on a given printer
//! ([`render`]), laid out when the job is printed from what its subject wrote and what the job states
//! ([`Stated`]: the member's balances and level as of the sale).
//! Jobs are queued by what they print, in its transaction ([`crate::store::print_queue`]); getting them to the
//! printer is the store bridge's job.

use chrono::Utc;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

use entity::{bill_refunds, journal_entries, journal_lines, ledger_accounts, print_jobs, staff, stores};

use crate::booking::calendar::Calendar;
use crate::checkout::bills::Receipt;
use crate::domain::{Fen, LineKind, Points, TenderKind};
use crate::store::escpos::{Profile, Ticket};
use crate::store::print_queue::Stated;
use crate::{AppContext, Error, Result};

fn tender_label(kind: TenderKind) -> &'static str {
    match kind {
        TenderKind::StoredValue => "储值卡",
        TenderKind::Cash => "现金",
        TenderKind::BankCard => "银行卡",
        TenderKind::WechatPay => "微信支付",
        TenderKind::Alipay => "支付宝",
    }
}

/// A tender kind as stored in a journal or a handover, in the store's words.
fn tender_name(value: &str) -> &str {
    match TenderKind::parse(value) {
        Some(kind) => tender_label(kind),
        None => value,
    }
}

/// The customer's copy of a settled bill. Opens the cash drawer when the bill took cash.
pub fn bill_ticket(receipt: &Receipt, calendar: &Calendar) -> Ticket {
    let bill = &receipt.bill;
    let at = bill.settled_at.unwrap_or(bill.created_at).with_timezone(&calendar.tz);
    let mut ticket = Ticket::new()
        .title(&receipt.store_name)
        .centered("消费小票")
        .rule()
        .row("单号", bill.id.to_string())
        .row("时间", at.format("%Y-%m-%d %H:%M").to_string())
        .row("收银", &receipt.cashier);
    if let Some(nickname) = &receipt.member_nickname {
        ticket = ticket.row("会员", nickname);
    }
    if let Some(level) = &receipt.member_level {
        ticket = ticket.row("等级", level);
    }
    ticket = ticket.rule();
    for line in &bill.lines {
        let name = if line.quantity > 1 { format!("{} x{}", line.name, line.quantity) } else { line.name.clone() };
        let price = if line.count_card_id.is_some() && line.kind == LineKind::Service {
            "次卡".to_owned()
        } else if line.points_redeemed > Points::ZERO {
            format!("{}积分", line.points_redeemed)
        } else {
            line.amount.to_string()
        };
        ticket = ticket.row(name, price);
    }
    ticket = ticket.rule().row("合计", bill.subtotal.to_string());
    if bill.discount > Fen::ZERO {
        ticket = ticket.row("会员折扣", format!("-{}", bill.discount));
    }
    // Each coupon by name, as the member's coupon list names it.
    for coupon in bill.coupons.iter().filter(|c| c.off > Fen::ZERO) {
        ticket = ticket.row(format!("券 {}", coupon.name), format!("-{}", coupon.off));
    }
    if bill.points_offset > Fen::ZERO {
        ticket = ticket.row(format!("积分抵扣({})", bill.points_used), format!("-{}", bill.points_offset));
    }
    ticket = ticket.bold_row("实收", bill.total.to_string());
    for tender in &bill.tenders {
        ticket = ticket.row(tender_label(tender.kind), tender.amount.to_string());
        if tender.change > Fen::ZERO {
            ticket = ticket.row("  收现", tender.tendered.to_string()).row("  找零", tender.change.to_string());
        }
    }
    if receipt.stored_value_fen.is_some() || receipt.points_available.is_some() || !receipt.count_cards.is_empty() {
        ticket = ticket.rule();
    }
    if let Some(balance) = receipt.stored_value_fen {
        ticket = ticket.row("储值余额", balance.to_string());
    }
    if let Some(points) = receipt.points_available {
        if bill.points_earned > Points::ZERO {
            ticket = ticket.row("本次积分", format!("+{}", bill.points_earned));
        }
        ticket = ticket.row("可用积分", points.to_string());
    }
    for (name, left) in &receipt.count_cards {
        ticket = ticket.row(name, format!("剩余{left}次"));
    }
    ticket = ticket.feed().centered("谢谢惠顾，欢迎再次光临").qr(format!("HY-BILL-{}", bill.id));
    if bill.tenders.iter().any(|t| t.kind == TenderKind::Cash) {
        ticket = ticket.drawer();
    }
    ticket
}

/// A slip's ledger entry (`job.subject_id`) with its lines as (account kind, debit-positive amount).
async fn entry_lines(
    ctx: &AppContext,
    job: &print_jobs::Model,
    what: &'static str,
) -> Result<(journal_entries::Model, Vec<(String, i64)>)> {
    let entry = journal_entries::Entity::find_by_id(job.subject_id)
        .filter(journal_entries::Column::MerchantId.eq(job.merchant_id))
        .one(&ctx.db)
        .await?
        .ok_or(Error::NotFound(what))?;
    let lines = journal_lines::Entity::find().filter(journal_lines::Column::EntryId.eq(entry.id)).all(&ctx.db).await?;
    let accounts: std::collections::HashMap<i64, String> = ledger_accounts::Entity::find()
        .filter(ledger_accounts::Column::Id.is_in(lines.iter().map(|l| l.account_id)))
        .all(&ctx.db)
        .await?
        .into_iter()
        .map(|a| (a.id, a.kind))
        .collect();
    let lines = lines.iter().filter_map(|l| Some((accounts.get(&l.account_id)?.clone(), l.amount))).collect();
    Ok((entry, lines))
}

/// A desk or mini-program recharge, from its ledger entry: what was paid and how, the bonus, and the card as the
/// recharge left it (`stated`; as it is now for a slip queued before statements were kept).
async fn recharge_ticket(
    ctx: &AppContext,
    store: &stores::Model,
    calendar: &Calendar,
    job: &print_jobs::Model,
    stated: Option<Stated>,
) -> Result<Ticket> {
    let (entry, lines) = entry_lines(ctx, job, "recharge").await?;
    // Debit-positive lines: money in is a debit to a tender account; the card's principal and bonus are credited.
    let (mut principal, mut bonus) = (0, 0);
    let mut paid: Vec<(String, i64)> = Vec::new();
    for (kind, amount) in &lines {
        match kind.as_str() {
            "sv_principal" => principal -= amount,
            "sv_bonus" => bonus -= amount,
            "cash" | "bank_card" | "wechat_pay" | "alipay" => paid.push((kind.clone(), *amount)),
            _ => {}
        }
    }
    let mut ticket = Ticket::new()
        .title(&store.name)
        .centered("充值凭证")
        .rule()
        .row("单号", format!("R{}", entry.id))
        .row("时间", entry.created_at.with_timezone(&calendar.tz).format("%Y-%m-%d %H:%M").to_string());
    let member = match entry.member_id {
        Some(id) => Some(crate::members::row(&ctx.db, job.merchant_id, id).await?),
        None => None,
    };
    if let Some(member) = &member {
        ticket = ticket.row("会员", crate::members::label(ctx, member, false)?);
    }
    if let Some(level) = stated.as_ref().and_then(|s| s.level.as_ref()) {
        ticket = ticket.row("等级", level);
    }
    ticket = ticket.rule().row("充值", Fen::new(principal).to_string());
    if bonus > 0 {
        ticket = ticket.row("赠送", Fen::new(bonus).to_string());
    }
    for (kind, amount) in &paid {
        ticket = ticket.row(tender_name(kind), Fen::new(*amount).to_string());
    }
    let balance = match (stated.and_then(|s| s.stored_value), &member) {
        (Some(balance), _) => Some(balance),
        (None, Some(member)) => Some(crate::cards::stored_value::own(ctx, job.merchant_id, member.id).await?.balance()),
        (None, None) => None,
    };
    if let Some(balance) = balance {
        ticket = ticket.rule().row("储值余额", balance.to_string());
    }
    ticket = ticket.feed().centered("谢谢惠顾");
    if paid.iter().any(|(kind, _)| kind == "cash") {
        ticket = ticket.drawer();
    }
    Ok(ticket)
}

/// 退卡, from its ledger entry: what was paid back and how, the fee kept and the bonus voided, why, and the member
/// as it left them; signed by both sides.
async fn card_refund_ticket(
    ctx: &AppContext,
    store: &stores::Model,
    calendar: &Calendar,
    job: &print_jobs::Model,
    stated: Option<Stated>,
) -> Result<Ticket> {
    let (entry, lines) = entry_lines(ctx, job, "card refund").await?;
    // Debit-positive lines: money paid out is a credit to a tender account, the fee kept a credit to breakage, the
    // bonus voided a debit to the card's bonus.
    let (mut fee, mut voided) = (0, 0);
    let mut paid_back: Vec<(String, i64)> = Vec::new();
    for (kind, amount) in &lines {
        match kind.as_str() {
            "cash" | "bank_card" | "wechat_pay" | "alipay" => paid_back.push((kind.clone(), -amount)),
            "breakage" => fee -= amount,
            "sv_bonus" => voided += amount,
            _ => {}
        }
    }
    let mut ticket = Ticket::new()
        .title(&store.name)
        .centered("退卡凭证")
        .rule()
        .row("单号", format!("K{}", entry.id))
        .row("时间", entry.created_at.with_timezone(&calendar.tz).format("%Y-%m-%d %H:%M").to_string());
    if let Some(member_id) = entry.member_id {
        let member = crate::members::row(&ctx.db, job.merchant_id, member_id).await?;
        ticket = ticket.row("会员", crate::members::label(ctx, &member, false)?);
    }
    ticket = ticket.rule();
    for (kind, amount) in &paid_back {
        ticket = ticket.row(format!("退回{}", tender_name(kind)), Fen::new(*amount).to_string());
    }
    if fee > 0 {
        ticket = ticket.row("手续费", Fen::new(fee).to_string());
    }
    if voided > 0 {
        ticket = ticket.row("赠送金额作废", Fen::new(voided).to_string());
    }
    ticket = ticket.line(entry.memo.clone());
    if let Some(stated) = stated {
        ticket = ticket.rule();
        if let Some(level) = &stated.level {
            ticket = ticket.row("等级", level);
        }
        if let Some(balance) = stated.stored_value {
            ticket = ticket.row("储值余额", balance.to_string());
        }
        for (name, left) in &stated.count_cards {
            ticket = ticket.row(name, format!("剩余{left}次"));
        }
    }
    ticket = ticket.feed().line("经办人签字：").feed().line("顾客签字：").feed();
    if paid_back.iter().any(|(kind, _)| kind == "cash") {
        ticket = ticket.drawer();
    }
    Ok(ticket)
}

/// A refund or a reversal (反结账) of a bill: what went back, how, why, and the member as it left them.
async fn refund_ticket(
    ctx: &AppContext,
    store: &stores::Model,
    calendar: &Calendar,
    job: &print_jobs::Model,
    stated: Option<Stated>,
) -> Result<Ticket> {
    let refund = bill_refunds::Entity::find_by_id(job.subject_id)
        .filter(bill_refunds::Column::MerchantId.eq(job.merchant_id))
        .one(&ctx.db)
        .await?
        .ok_or(Error::NotFound("refund"))?;
    let bill = crate::checkout::bills::load(&ctx.db, job.merchant_id, refund.bill_id, false).await?;
    let by = staff::Entity::find_by_id(refund.created_by).one(&ctx.db).await?.map(|s| s.display_name);
    let title = if refund.kind == "reversal" { "反结账凭证" } else { "退款凭证" };
    let mut ticket = Ticket::new()
        .title(&store.name)
        .centered(title)
        .rule()
        .row("单号", format!("T{}", refund.id))
        .row("原单", bill.id.to_string())
        .row("时间", refund.created_at.with_timezone(&calendar.tz).format("%Y-%m-%d %H:%M").to_string())
        .row("经办", by.unwrap_or_default());
    if let Some(member_id) = bill.member_id {
        let member = crate::members::row(&ctx.db, job.merchant_id, member_id).await?;
        ticket = ticket.row("会员", crate::members::label(ctx, &member, false)?);
    }
    ticket = ticket.rule();
    let tenders: Vec<serde_json::Value> = serde_json::from_str(&refund.tenders)
        .map_err(|e| anyhow::anyhow!("refund {} has tenders that cannot be read: {e}", refund.id))?;
    for tender in &tenders {
        let kind = tender["kind"].as_str().unwrap_or_default();
        let amount = Fen::new(tender["amount_fen"].as_i64().unwrap_or_default());
        ticket = ticket.row(format!("退回{}", tender_name(kind)), amount.to_string());
    }
    ticket = ticket.bold_row("退款合计", Fen::new(refund.amount_fen).to_string());
    if !refund.reason.is_empty() {
        ticket = ticket.line(format!("原因：{}", refund.reason));
    }
    if let Some(stated) = stated {
        ticket = ticket.rule();
        if let Some(level) = &stated.level {
            ticket = ticket.row("等级", level);
        }
        if let Some(balance) = stated.stored_value {
            ticket = ticket.row("储值余额", balance.to_string());
        }
        if let Some(points) = stated.points_available {
            ticket = ticket.row("可用积分", points.to_string());
        }
    }
    ticket = ticket.feed().line("经办人签字：").feed().line("顾客签字：").feed();
    if tenders.iter().any(|t| t["kind"] == "cash") {
        ticket = ticket.drawer();
    }
    Ok(ticket)
}

/// The slip for count-card sessions used on a bill, with a line for the member's signature.
pub fn count_card_slip(receipt: &Receipt, calendar: &Calendar) -> Ticket {
    let bill = &receipt.bill;
    let at = bill.settled_at.unwrap_or(bill.created_at).with_timezone(&calendar.tz);
    let mut ticket = Ticket::new()
        .title(&receipt.store_name)
        .centered("次卡消费凭证")
        .rule()
        .row("单号", bill.id.to_string())
        .row("时间", at.format("%Y-%m-%d %H:%M").to_string());
    if let Some(member) = &receipt.member_nickname {
        ticket = ticket.row("会员", member);
    }
    ticket = ticket.rule();
    for line in bill.lines.iter().filter(|l| l.count_card_id.is_some() && l.kind == LineKind::Service) {
        ticket = ticket.row(&line.name, format!("{}次", line.quantity));
    }
    ticket = ticket.rule();
    for (name, left) in &receipt.count_cards {
        ticket = ticket.row(name, format!("剩余{left}次"));
    }
    ticket.feed().feed().line("会员签字：").feed().rule()
}

/// The ticket printed at check-in for the station.
pub fn appointment_ticket(booking: &crate::booking::bookings::Booking) -> Ticket {
    let calendar = &booking.calendar;
    let local = |at: chrono::DateTime<Utc>| at.with_timezone(&calendar.tz).format("%H:%M").to_string();
    let mut ticket = Ticket::new()
        .title(&booking.store_name)
        .centered("预约服务单")
        .rule()
        .row("预约号", booking.row.id.to_string())
        .row("日期", booking.row.starts_at.with_timezone(&calendar.tz).format("%Y-%m-%d").to_string())
        .row("时间", format!("{}-{}", local(booking.row.starts_at), local(booking.row.ends_at)))
        .row("顾客", booking.member_label.clone().unwrap_or_default())
        .row("服务人员", &booking.staff_name)
        .rule();
    for item in &booking.items {
        ticket = ticket.row(&item.name, local(item.starts_at));
    }
    if !booking.allergies.is_empty() {
        ticket = ticket.rule().text("!! 过敏提示 !!", crate::store::escpos::Align::Center, true, false);
        for allergy in &booking.allergies {
            ticket = ticket.text(
                format!("{}：{}（{}）", allergy.service_name, allergy.substance, allergy.severity),
                crate::store::escpos::Align::Left,
                true,
                false,
            );
        }
    }
    if !booking.row.note.is_empty() {
        ticket = ticket.rule().line(format!("备注：{}", booking.row.note));
    }
    ticket
}

/// 交班 summary: takings per payment method, what was done, signatures.
pub fn handover_ticket(store_name: &str, handover: &crate::store::handover::Handover, calendar: &Calendar) -> Ticket {
    let local = |at: chrono::DateTime<Utc>| at.with_timezone(&calendar.tz).format("%m-%d %H:%M").to_string();
    let mut ticket = Ticket::new()
        .title("交班小结")
        .centered(store_name)
        .rule()
        .row("收银员", &handover.staff_name)
        .row("开始", local(handover.from))
        .row("结束", local(handover.to))
        .rule();
    for (method, amount) in &handover.takings {
        ticket = ticket.row(tender_name(method), Fen::new(*amount).to_string());
    }
    ticket = ticket.bold_row("合计", Fen::new(handover.total).to_string()).rule();
    if let (Some(counted), Some(over_short)) = (handover.cash_counted, handover.over_short) {
        ticket = ticket
            .row("上班备用金", handover.opening_float.to_string())
            .row("应有现金", handover.expected_cash.to_string());
        ticket = ticket.row("实点现金", counted.to_string());
        let verdict = match over_short.cmp(&Fen::ZERO) {
            std::cmp::Ordering::Greater => format!("长款 {over_short}"),
            std::cmp::Ordering::Less => format!("短款 {}", -over_short),
            std::cmp::Ordering::Equal => "相符".to_owned(),
        };
        ticket = ticket.bold_row("长短款", verdict);
        if let Some(float) = handover.float {
            ticket = ticket.row("留备用金", float.to_string());
        }
        ticket = ticket.rule();
    }
    let label = |kind: &str| {
        match kind {
            "sale" => "消费",
            "recharge" => "充值",
            "refund" => "退款",
            "card_refund" => "退卡",
            "reversal" => "反结账",
            other => other,
        }
        .to_owned()
    };
    for (kind, count) in &handover.entries {
        ticket = ticket.row(label(kind), format!("{count}笔"));
    }
    ticket.feed().line("交班人签字：").feed().line("接班人签字：").feed()
}

/// A test page: what a printer is and that Chinese, money and QR codes come out right.
pub fn test_page(store_name: &str, printer_name: &str, job_id: i64, profile: Profile) -> Ticket {
    Ticket::new()
        .title("打印测试")
        .centered(store_name)
        .rule()
        .row("作业", job_id.to_string())
        .row("打印机", printer_name)
        .row("纸宽", format!("{} mm", profile.paper.mm()))
        .row("二维码", if profile.native_qr { "原生" } else { "图像" })
        .row("金额", Fen::new(12_345).to_string())
        .line("中文：会员 储值 次卡 积分 提成 交班")
        .qr("HY-TEST")
}

/// The bytes a queued job prints on a printer of `profile`.
pub async fn render(
    ctx: &AppContext,
    job: &print_jobs::Model,
    profile: Profile,
    printer_name: &str,
) -> Result<Vec<u8>> {
    let store = stores::Entity::find_by_id(job.store_id).one(&ctx.db).await?.ok_or(Error::NotFound("store"))?;
    let calendar = Calendar::new(&store.timezone);
    let stated = Stated::of(job)?;
    let ticket = match job.kind.as_str() {
        "bill_receipt" => {
            let bill = crate::checkout::bills::load(&ctx.db, job.merchant_id, job.subject_id, false).await?;
            let receipt = crate::checkout::bills::receipt_of(ctx, job.merchant_id, bill, stated).await?;
            bill_ticket(&receipt, &calendar)
        }
        "recharge_receipt" => recharge_ticket(ctx, &store, &calendar, job, stated).await?,
        "refund_receipt" => refund_ticket(ctx, &store, &calendar, job, stated).await?,
        "card_refund_slip" => card_refund_ticket(ctx, &store, &calendar, job, stated).await?,
        "count_card_slip" => {
            let bill = crate::checkout::bills::load(&ctx.db, job.merchant_id, job.subject_id, false).await?;
            let receipt = crate::checkout::bills::receipt_of(ctx, job.merchant_id, bill, stated).await?;
            count_card_slip(&receipt, &calendar)
        }
        "appointment_ticket" => {
            let booking = crate::booking::bookings::for_ticket(ctx, job.merchant_id, job.subject_id).await?;
            appointment_ticket(&booking)
        }
        "handover_summary" => {
            let handover = crate::store::handover::load(ctx, job.merchant_id, job.subject_id).await?;
            handover_ticket(&store.name, &handover, &calendar)
        }
        "test_page" => test_page(&store.name, printer_name, job.id, profile),
        other => return Err(Error::Internal(anyhow::anyhow!("no layout for print job kind {other}"))),
    };
    let ticket = if job.copy > 0 && job.kind != "test_page" { ticket.reprint(job.copy) } else { ticket };
    Ok(ticket.render(profile))
}
