//! The human side of the sandbox: `GET /sandbox` lists the orders waiting for a payer with Pay / Decline buttons
//! (plain HTML forms), `POST /sandbox/{provider}/{out_trade_no}/{pay|decline}` acts (a form post is redirected
//! back to the page, a JSON caller gets JSON), `POST /sandbox/codes` makes a customer's payment code for the
//! cashier to scan (or type), and `GET /sandbox/orders` lists every order as JSON.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::json;

use crate::Shared;
use crate::control::{self, OrderSummary};
use crate::notify::{Delivery, Provider};
use crate::util::{html_escape, yuan};

fn summary_json(o: &OrderSummary) -> serde_json::Value {
    json!({
        "provider": o.provider.as_str(),
        "merchant": o.merchant,
        "out_trade_no": o.out_trade_no,
        "amount_fen": o.amount_fen,
        "amount": yuan(o.amount_fen),
        "description": o.description,
        "state": o.state,
        "created": o.created,
        "pending": o.pending,
    })
}

pub(crate) async fn orders(shared: web::Data<Shared>) -> HttpResponse {
    let list: Vec<_> = control::orders(&shared).iter().map(summary_json).collect();
    HttpResponse::Ok().json(json!({ "orders": list }))
}

fn wants_json(req: &HttpRequest) -> bool {
    let has = |name: header::HeaderName| {
        req.headers().get(name).and_then(|v| v.to_str().ok()).is_some_and(|v| v.contains("application/json"))
    };
    has(header::ACCEPT) || has(header::CONTENT_TYPE)
}

pub(crate) async fn act(
    shared: web::Data<Shared>,
    req: HttpRequest,
    path: web::Path<(String, String, String)>,
) -> HttpResponse {
    let (provider, out_trade_no, action) = path.into_inner();
    let shared = shared.into_inner();
    let result = match (Provider::parse(&provider), action.as_str()) {
        (Some(p), "pay") => control::pay(&shared, p, &out_trade_no, Delivery::default()),
        (Some(p), "decline") => control::decline(&shared, p, &out_trade_no),
        (None, _) => Err(format!("unknown provider {provider} (wechatpay or alipay)")),
        (Some(_), _) => Err(format!("unknown action {action} (pay or decline)")),
    };
    if wants_json(&req) {
        return match result {
            Ok(()) => HttpResponse::Ok().json(json!({ "ok": true })),
            Err(e) => HttpResponse::Conflict().json(json!({ "ok": false, "error": e })),
        };
    }
    let location = match result {
        Ok(()) => "/sandbox".to_owned(),
        Err(e) => format!("/sandbox?error={}", urlencoding::encode(&e)),
    };
    HttpResponse::SeeOther().insert_header((header::LOCATION, location)).finish()
}

#[derive(serde::Deserialize)]
pub(crate) struct CodeRequest {
    /// `wechatpay` or `alipay`.
    provider: String,
    /// `pays` (at once), `userpaying` (asks for the password; paid on the second query) or `declined`.
    behaviour: String,
}

/// A fresh payment code in a customer's wallet, as the payer would show it.
pub(crate) async fn make_code(shared: web::Data<Shared>, req: HttpRequest, body: web::Bytes) -> HttpResponse {
    let parsed: Option<CodeRequest> = serde_json::from_slice(&body).ok().or_else(|| serde_urlencoded_form(&body));
    let result = parsed.ok_or_else(|| "give provider and behaviour".to_owned()).and_then(|request| {
        let behaviour = match request.behaviour.as_str() {
            "pays" => control::CodeBehaviour::Pays,
            "userpaying" => control::CodeBehaviour::UserPaying { paid_after_queries: Some(2) },
            // A customer who never enters the password: the cashier calls it off, or its time runs out.
            "never" => control::CodeBehaviour::UserPaying { paid_after_queries: None },
            "declined" => control::CodeBehaviour::Declined,
            other => return Err(format!("unknown behaviour {other} (pays, userpaying, never or declined)")),
        };
        match Provider::parse(&request.provider) {
            Some(Provider::WechatPay) => Ok(control::new_wechat_code(&shared, behaviour)),
            Some(Provider::Alipay) => Ok(control::new_alipay_code(&shared, behaviour)),
            None => Err(format!("unknown provider {} (wechatpay or alipay)", request.provider)),
        }
    });
    if wants_json(&req) {
        return match result {
            Ok(code) => HttpResponse::Ok().json(json!({ "code": code })),
            Err(e) => HttpResponse::BadRequest().json(json!({ "error": e })),
        };
    }
    let location = match result {
        Ok(code) => format!("/sandbox?code={code}"),
        Err(e) => format!("/sandbox?error={}", urlencoding::encode(&e)),
    };
    HttpResponse::SeeOther().insert_header((header::LOCATION, location)).finish()
}

/// `provider=…&behaviour=…` from an HTML form.
fn serde_urlencoded_form(body: &[u8]) -> Option<CodeRequest> {
    let text = std::str::from_utf8(body).ok()?;
    let mut provider = None;
    let mut behaviour = None;
    for pair in text.split('&') {
        let (k, v) = pair.split_once('=')?;
        let v = urlencoding::decode(v).ok()?.into_owned();
        match k {
            "provider" => provider = Some(v),
            "behaviour" => behaviour = Some(v),
            _ => {}
        }
    }
    Some(CodeRequest { provider: provider?, behaviour: behaviour? })
}

fn provider_label(p: Provider) -> &'static str {
    match p {
        Provider::WechatPay => "微信支付 WeChat Pay",
        Provider::Alipay => "支付宝 Alipay",
    }
}

pub(crate) async fn page(shared: web::Data<Shared>, req: HttpRequest) -> HttpResponse {
    let error = web::Query::<std::collections::HashMap<String, String>>::from_query(req.query_string())
        .ok()
        .and_then(|q| q.get("error").cloned());
    let all = control::orders(&shared);
    let mut html = String::from(concat!(
        "<!doctype html><html lang=\"zh-CN\"><head><meta charset=\"utf-8\">",
        "<title>支付沙箱 Payment sandbox</title><style>",
        "body{font-family:system-ui,sans-serif;margin:2em}table{border-collapse:collapse;margin-bottom:2em}",
        "td,th{border:1px solid #ccc;padding:.3em .6em;text-align:left}td.amount{text-align:right}",
        "form{display:inline}.error{color:#b00}</style></head><body>",
        "<h1>支付沙箱 Payment sandbox</h1>",
        "<p>本地模拟的微信支付与支付宝。Local fakes of WeChat Pay and Alipay: act as the payer. ",
        "<a href=\"/sandbox\">刷新 Refresh</a> · <a href=\"/sandbox/orders\">JSON</a></p>",
    ));
    if let Some(error) = error {
        html.push_str(&format!("<p class=\"error\">{}</p>", html_escape(&error)));
    }
    let code = web::Query::<std::collections::HashMap<String, String>>::from_query(req.query_string())
        .ok()
        .and_then(|q| q.get("code").cloned());
    html.push_str(concat!(
        "<h2>付款码 Payment code</h2><p>顾客出示的付款码，供收银扫码（或输入）。A code in the customer's wallet, ",
        "for the cashier to scan or type.</p><form method=\"post\" action=\"/sandbox/codes\">",
        "<select name=\"provider\"><option value=\"wechatpay\">微信 WeChat</option>",
        "<option value=\"alipay\">支付宝 Alipay</option></select> ",
        "<select name=\"behaviour\"><option value=\"pays\">直接支付 pays</option>",
        "<option value=\"userpaying\">需输入密码 asks for the password</option>",
        "<option value=\"never\">一直不确认 never confirms</option>",
        "<option value=\"declined\">余额不足 declined</option></select> ",
        "<button>生成 Make</button></form>",
    ));
    if let Some(code) = code {
        html.push_str(&format!("<p>付款码 Code: <code style=\"font-size:1.5em\">{}</code></p>", html_escape(&code)));
    }
    html.push_str("<h2>待支付 Waiting for the payer</h2>");
    let pending: Vec<_> = all.iter().filter(|o| o.pending).collect();
    if pending.is_empty() {
        html.push_str("<p>暂无待支付订单。No orders are waiting.</p>");
    } else {
        html.push_str(concat!(
            "<table><tr><th>渠道 Provider</th><th>商户 Merchant</th><th>商户订单号 Order</th>",
            "<th>金额 Amount</th><th>描述 Description</th><th>状态 State</th><th>创建 Created</th><th></th></tr>"
        ));
        for o in pending {
            let base = format!("/sandbox/{}/{}", o.provider.as_str(), urlencoding::encode(&o.out_trade_no));
            html.push_str(&format!(
                concat!(
                    "<tr><td>{}</td><td>{}</td><td>{}</td><td class=\"amount\">¥{}</td><td>{}</td><td>{}</td><td>{}</td>",
                    "<td><form method=\"post\" action=\"{base}/pay\"><button>支付 Pay</button></form> ",
                    "<form method=\"post\" action=\"{base}/decline\"><button>拒绝 Decline</button></form></td></tr>"
                ),
                provider_label(o.provider),
                html_escape(&o.merchant),
                html_escape(&o.out_trade_no),
                yuan(o.amount_fen),
                html_escape(&o.description),
                html_escape(&o.state),
                html_escape(&o.created),
                base = html_escape(&base),
            ));
        }
        html.push_str("</table>");
    }
    html.push_str("<h2>全部订单 All orders</h2>");
    if all.is_empty() {
        html.push_str("<p>暂无订单。No orders yet.</p>");
    } else {
        html.push_str(concat!(
            "<table><tr><th>渠道 Provider</th><th>商户 Merchant</th><th>商户订单号 Order</th>",
            "<th>金额 Amount</th><th>描述 Description</th><th>状态 State</th><th>创建 Created</th></tr>"
        ));
        for o in all.iter().rev().take(50) {
            html.push_str(&format!(
                "<tr><td>{}</td><td>{}</td><td>{}</td><td class=\"amount\">¥{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                provider_label(o.provider),
                html_escape(&o.merchant),
                html_escape(&o.out_trade_no),
                yuan(o.amount_fen),
                html_escape(&o.description),
                html_escape(&o.state),
                html_escape(&o.created),
            ));
        }
        html.push_str("</table>");
    }
    let attempts = shared.state().notify.attempts.clone();
    if !attempts.is_empty() {
        html.push_str(concat!(
            "<h2>回调投递 Notification deliveries</h2><table><tr><th>渠道 Provider</th><th>事件 Event</th>",
            "<th>地址 URL</th><th>副本 Copy</th><th>次数 Attempt</th><th>HTTP</th><th>成功 Accepted</th></tr>"
        ));
        for a in attempts.iter().rev().take(30) {
            let status = a.status.map_or_else(|| a.error.clone().unwrap_or_default(), |s| s.to_string());
            html.push_str(&format!(
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                provider_label(a.provider),
                html_escape(&a.event_id),
                html_escape(&a.url),
                a.copy,
                a.attempt,
                html_escape(&status),
                if a.accepted { "✔" } else { "✘" },
            ));
        }
        html.push_str("</table>");
    }
    html.push_str("</body></html>");
    HttpResponse::Ok().content_type("text/html; charset=utf-8").body(html)
}
