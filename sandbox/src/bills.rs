//! The downloadable daily bills.
//!
//! WeChat Pay trade bill (`/v3/bill/tradebill` → `/v3/billdownload/file`): a UTF-8 CSV whose header row names 27
//! columns (`交易时间,公众账号ID,商户号,…,费率备注`), one row per payment and per refund with every value prefixed
//! by a backtick, then the summary header (`总交易单数,应结订单总金额,…`) and its backticked values; amounts in
//! yuan, fees with five decimals. The layout follows bills as real merchants record them in their test fixtures
//! (e.g. the wechatpay v3 Go client's download test). The hash is SHA-1 of the uncompressed file; `tar_type=GZIP`
//! gzips it. Fees are modelled at 0.60%.
//!
//! Alipay trade bill (`alipay.data.dataservice.bill.downloadurl.query`): a zip holding two GBK CSVs,
//! `<pid>0156_<yyyymmdd>_业务明细.csv` and `…_业务明细(汇总).csv`, with `#`-comment header and footer lines, the
//! 25-column detail header (`支付宝交易号,商户订单号,业务类型,…,备注`) and ids followed by a tab, as real bills
//! have them. Deviations: the zip's entry names are stored as UTF-8 (Alipay's tools write GBK names), and the
//! summary file is a single 合计 row.

use std::io::Write;

use chrono::{DateTime, FixedOffset, NaiveDate};
use sha1::{Digest, Sha1};

use crate::alipay_trade;
use crate::util::{now_china, yuan};
use crate::wechatpay;

pub(crate) fn sha1_hex(data: &[u8]) -> String {
    hex::encode(Sha1::digest(data))
}

pub(crate) fn gzip(data: &[u8]) -> Result<Vec<u8>, String> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(data).map_err(|e| e.to_string())?;
    encoder.finish().map_err(|e| e.to_string())
}

/// 0.60% of an amount in fen, rounded to the fen, as fen.
fn fee_fen(amount: i64) -> i64 {
    (amount * 6 + 500) / 1000
}

/// A fee in fen with WeChat's five decimals (`0.06000`).
fn fee_text(fen: i64) -> String {
    let sign = if fen < 0 { "-" } else { "" };
    let abs = fen.unsigned_abs();
    format!("{sign}{}.{:02}000", abs / 100, abs % 100)
}

fn on_day(t: &DateTime<FixedOffset>, day: NaiveDate) -> bool {
    t.date_naive() == day
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum WechatBillType {
    All,
    Success,
    Refund,
}

/// The day's trade bill of a merchant, or `None` when the day has no rows (WeChat: NO_STATEMENT_EXIST).
pub(crate) fn wechat_tradebill(
    book: &wechatpay::Book,
    mchid: &str,
    day: NaiveDate,
    kind: WechatBillType,
) -> Option<String> {
    const HEADER: &str = "交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,交易状态,付款银行,货币种类,应结订单金额,代金券金额,微信退款单号,商户退款单号,退款金额,充值券退款金额,退款类型,退款状态,商品名称,商户数据包,手续费,费率,订单金额,申请退款金额,费率备注";
    const SUMMARY: &str =
        "总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额";
    // Rows sort by time within the day.
    let mut rows: Vec<(DateTime<FixedOffset>, Vec<String>)> = Vec::new();
    let (mut settled, mut refunded, mut fees, mut ordered, mut applied) = (0i64, 0i64, 0i64, 0i64, 0i64);
    for order in book.orders.iter().filter(|o| o.mchid == mchid) {
        let (Some(paid_at), Some(transaction_id)) = (&order.success_time, &order.transaction_id) else { continue };
        let text = |s: &Option<String>| s.clone().unwrap_or_default();
        if kind != WechatBillType::Refund && on_day(paid_at, day) {
            let fee = fee_fen(order.total);
            let amount =
                if book.garbled_bill_rows.contains(&order.out_trade_no) { "N/A".to_owned() } else { yuan(order.total) };
            settled += order.total;
            ordered += order.total;
            fees += fee;
            rows.push((
                *paid_at,
                vec![
                    paid_at.format("%Y-%m-%d %H:%M:%S").to_string(),
                    order.appid.clone(),
                    order.mchid.clone(),
                    "0".into(),
                    text(&order.device_id),
                    transaction_id.clone(),
                    order.out_trade_no.clone(),
                    text(&order.openid),
                    order.trade_type.into(),
                    "SUCCESS".into(),
                    "OTHERS".into(),
                    "CNY".into(),
                    amount.clone(),
                    "0.00".into(),
                    "0".into(),
                    "0".into(),
                    "0.00".into(),
                    "0.00".into(),
                    String::new(),
                    String::new(),
                    order.description.clone(),
                    text(&order.attach),
                    fee_text(fee),
                    "0.60%".into(),
                    amount,
                    "0.00".into(),
                    String::new(),
                ],
            ));
        }
        if kind == WechatBillType::Success {
            continue;
        }
        for refund in book.refunds.iter().filter(|r| r.mchid == mchid && r.out_trade_no == order.out_trade_no) {
            let Some(done_at) = refund.success_time.filter(|t| on_day(t, day)) else { continue };
            // The fee comes back in proportion to what is refunded.
            let fee = -fee_fen(refund.refund);
            refunded += refund.refund;
            applied += refund.refund;
            fees += fee;
            rows.push((
                done_at,
                vec![
                    done_at.format("%Y-%m-%d %H:%M:%S").to_string(),
                    order.appid.clone(),
                    order.mchid.clone(),
                    "0".into(),
                    text(&order.device_id),
                    transaction_id.clone(),
                    order.out_trade_no.clone(),
                    text(&order.openid),
                    order.trade_type.into(),
                    "REFUND".into(),
                    "OTHERS".into(),
                    "CNY".into(),
                    "0.00".into(),
                    "0.00".into(),
                    refund.refund_id.clone(),
                    refund.out_refund_no.clone(),
                    yuan(refund.refund),
                    "0.00".into(),
                    "ORIGINAL".into(),
                    "SUCCESS".into(),
                    order.description.clone(),
                    text(&order.attach),
                    fee_text(fee),
                    "0.60%".into(),
                    "0.00".into(),
                    yuan(refund.refund),
                    String::new(),
                ],
            ));
        }
    }
    if rows.is_empty() {
        return None;
    }
    rows.sort_by_key(|(at, _)| *at);
    let mut out = String::new();
    out.push_str(HEADER);
    out.push('\n');
    for (_, row) in &rows {
        out.push_str(&row.iter().map(|v| format!("`{v}")).collect::<Vec<_>>().join(","));
        out.push('\n');
    }
    out.push_str(SUMMARY);
    out.push('\n');
    let summary = [
        rows.len().to_string(),
        yuan(settled),
        yuan(refunded),
        "0.00".into(),
        fee_text(fees),
        yuan(ordered),
        yuan(applied),
    ];
    out.push_str(&summary.iter().map(|v| format!("`{v}")).collect::<Vec<_>>().join(","));
    out.push('\n');
    Some(out)
}

fn cn_date(day: NaiveDate) -> String {
    day.format("%Y年%m月%d日").to_string()
}

/// Alipay's daily trade bill: `(zip file name, zip bytes)`.
pub(crate) fn alipay_tradebill(
    book: &alipay_trade::Book,
    app_id: &str,
    pid: &str,
    day: NaiveDate,
) -> Result<(String, Vec<u8>), String> {
    const HEADER: &str = "支付宝交易号,商户订单号,业务类型,商品名称,创建时间,完成时间,门店编号,门店名称,操作员,终端号,对方账户,订单金额（元）,商家实收（元）,支付宝红包（元）,集分宝（元）,支付宝优惠（元）,商家优惠（元）,券核销金额（元）,券名称,商家红包消费金额（元）,卡消费金额（元）,退款批次号/请求号,服务费（元）,分润（元）,备注";
    let account = format!("{pid}0156");
    let next = day.succ_opt().unwrap_or(day);
    let period = format!("#起始日期：[{} 00:00:00]   终止日期：[{} 00:00:00]", cn_date(day), cn_date(next));
    let exported = format!("#导出时间：[{}]", now_china().format("%Y年%m月%d日 %H:%M:%S"));
    let mut rows: Vec<(DateTime<FixedOffset>, String)> = Vec::new();
    let (mut paid_count, mut paid_sum, mut refund_count, mut refund_sum, mut fee_sum) = (0, 0i64, 0, 0i64, 0i64);
    for trade in book.trades.iter().filter(|t| t.app_id == app_id) {
        let Some(paid_at) = trade.paid_at else { continue };
        let buyer = format!("{}\t", trade.buyer_logon_id());
        let created = trade.created.format("%Y-%m-%d %H:%M:%S").to_string();
        if on_day(&paid_at, day) {
            let fee = fee_fen(trade.total);
            paid_count += 1;
            paid_sum += trade.total;
            fee_sum -= fee;
            let row = [
                format!("{}\t", trade.trade_no),
                format!("{}\t", trade.out_trade_no),
                "交易\t".to_owned(),
                trade.subject.clone(),
                created.clone(),
                paid_at.format("%Y-%m-%d %H:%M:%S").to_string(),
                "\t".into(),
                "\t".into(),
                "\t".into(),
                "\t".into(),
                buyer.clone(),
                yuan(trade.total),
                yuan(trade.total),
                "0.00".into(),
                "0.00".into(),
                "0.00".into(),
                "0.00".into(),
                "0.00".into(),
                String::new(),
                "0.00\t".into(),
                "0.00".into(),
                "\t".into(),
                yuan(-fee),
                "0.00".into(),
                trade.subject.clone(),
            ];
            rows.push((paid_at, row.join(",")));
        }
        for refund in trade.refunds.iter().filter(|r| on_day(&r.at, day)) {
            let fee = fee_fen(refund.amount);
            refund_count += 1;
            refund_sum += refund.amount;
            fee_sum += fee;
            let row = [
                format!("{}\t", trade.trade_no),
                format!("{}\t", trade.out_trade_no),
                "退款\t".to_owned(),
                trade.subject.clone(),
                created.clone(),
                refund.at.format("%Y-%m-%d %H:%M:%S").to_string(),
                "\t".into(),
                "\t".into(),
                "\t".into(),
                "\t".into(),
                buyer.clone(),
                yuan(-refund.amount),
                yuan(-refund.amount),
                "0.00".into(),
                "0.00".into(),
                "0.00".into(),
                "0.00".into(),
                "0.00".into(),
                String::new(),
                "0.00\t".into(),
                "0.00".into(),
                format!("{}\t", refund.out_request_no),
                yuan(fee),
                "0.00".into(),
                trade.subject.clone(),
            ];
            rows.push((refund.at, row.join(",")));
        }
    }
    rows.sort_by_key(|(at, _)| *at);

    let mut detail = vec![
        "#支付宝业务明细查询".to_owned(),
        format!("#账号：[{account}]"),
        period.clone(),
        "#-----------------------------------------业务明细列表----------------------------------------".to_owned(),
        HEADER.to_owned(),
    ];
    detail.extend(rows.into_iter().map(|(_, row)| row));
    detail
        .push("#-----------------------------------------业务明细列表结束------------------------------------".into());
    detail.push(format!("#交易合计：{paid_count}笔，商家实收共{}元，商家优惠共0.00元", yuan(paid_sum)));
    detail.push(format!("#退款合计：{refund_count}笔，商家实收退款共{}元，商家优惠退款共0.00元", yuan(-refund_sum)));
    detail.push(exported.clone());

    let net = paid_sum - refund_sum + fee_sum;
    let summary = [
        "#支付宝业务汇总查询".to_owned(),
        format!("#账号：[{account}]"),
        period,
        "#-----------------------------------------业务汇总列表----------------------------------------".to_owned(),
        "门店编号,门店名称,交易订单总笔数,退款订单总笔数,订单金额（元）,商家实收（元）,支付宝优惠（元）,商家优惠（元）,卡消费金额（元）,服务费（元）,分润（元）,实收净额（元）".to_owned(),
        format!(
            "合计,,{paid_count},{refund_count},{},{},0.00,0.00,0.00,{},0.00,{}",
            yuan(paid_sum - refund_sum),
            yuan(paid_sum - refund_sum),
            yuan(fee_sum),
            yuan(net)
        ),
        "#-----------------------------------------业务汇总列表结束------------------------------------".to_owned(),
        exported,
    ];

    let stem = format!("{account}_{}", day.format("%Y%m%d"));
    let files = [
        (format!("{stem}_业务明细.csv"), gbk(&(detail.join("\n") + "\n"))),
        (format!("{stem}_业务明细(汇总).csv"), gbk(&(summary.join("\n") + "\n"))),
    ];
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    for (name, data) in files {
        zip.start_file(name, options).map_err(|e| e.to_string())?;
        zip.write_all(&data).map_err(|e| e.to_string())?;
    }
    let bytes = zip.finish().map_err(|e| e.to_string())?.into_inner();
    Ok((format!("{stem}.csv.zip"), bytes))
}

fn gbk(text: &str) -> Vec<u8> {
    encoding_rs::GBK.encode(text).0.into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fees_round_to_the_fen() {
        assert_eq!(fee_fen(100), 1); // 0.6 fen rounds up
        assert_eq!(fee_fen(83), 0);
        assert_eq!(fee_fen(10000), 60);
        assert_eq!(fee_text(60), "0.60000");
        assert_eq!(fee_text(-1), "-0.01000");
    }
}
