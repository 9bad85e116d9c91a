//! Client for the WeChat mini-program server API: `jscode2session`, `stable_token`, `getuserphonenumber`, and
//! subscribe messages (`subscribeMessage.send`).
//!
//! The base URL is configurable so the sandbox and tests can stand in for `api.weixin.qq.com`. `session_key` is
//! returned to our code only; it never goes to the mini-program.

use serde::Deserialize;

use crate::{Error, Result};

#[derive(Clone)]
pub struct WechatClient {
    http: reqwest::Client,
    base: String,
}

pub struct Code2Session {
    pub openid: String,
    pub session_key: String,
    pub unionid: Option<String>,
}

#[derive(Deserialize)]
struct Code2SessionResponse {
    #[serde(default)]
    errcode: i64,
    #[serde(default)]
    errmsg: String,
    openid: Option<String>,
    session_key: Option<String>,
    unionid: Option<String>,
}

#[derive(Deserialize)]
struct TokenResponse {
    #[serde(default)]
    errcode: i64,
    #[serde(default)]
    errmsg: String,
    access_token: Option<String>,
    expires_in: Option<i64>,
}

#[derive(Deserialize)]
struct PhoneResponse {
    #[serde(default)]
    errcode: i64,
    #[serde(default)]
    errmsg: String,
    phone_info: Option<PhoneInfo>,
}

/// A subscribe message (订阅消息) to one member. Fit `data` with [`crate::integrations::subscribe_fields::fit_all`] first: WeChat
/// refuses the whole message (47003) when one value breaks its field rule.
#[derive(Clone)]
pub struct SubscribeMessage {
    /// The member's openid.
    pub touser: String,
    pub template_id: String,
    /// The mini-program page the notification opens (`pages/x?a=b`); `None` sends none.
    pub page: Option<String>,
    /// Template keys (`thing1`, `time2`, …) and their values.
    pub data: Vec<(String, String)>,
    /// Which build the page opens in: `formal` (the default), `trial` or `developer`.
    pub miniprogram_state: String,
    /// `zh_CN` (the default), `en_US`, `zh_HK` or `zh_TW`.
    pub lang: String,
}

impl SubscribeMessage {
    /// A message opening no page, for the formal build, in `zh_CN`.
    pub fn new(touser: impl Into<String>, template_id: impl Into<String>, data: Vec<(String, String)>) -> Self {
        Self {
            touser: touser.into(),
            template_id: template_id.into(),
            page: None,
            data,
            miniprogram_state: "formal".to_owned(),
            lang: "zh_CN".to_owned(),
        }
    }
}

#[derive(Deserialize)]
struct SubscribeSendResponse {
    #[serde(default)]
    errcode: i64,
    #[serde(default)]
    errmsg: String,
}

#[derive(Deserialize)]
struct PhoneInfo {
    #[serde(rename = "purePhoneNumber")]
    pure_phone_number: String,
    #[serde(rename = "countryCode")]
    country_code: String,
}

/// errcode 0 is success; -1 (system busy) is WeChat's fault; anything else is a refusal of this request.
fn check(errcode: i64, errmsg: &str) -> Result<()> {
    match errcode {
        0 => Ok(()),
        -1 => Err(Error::unavailable("wechat", anyhow::anyhow!("system busy: {errmsg}"))),
        code => Err(Error::ProviderRejected { provider: "wechat", code: code.to_string(), message: errmsg.to_owned() }),
    }
}

impl WechatClient {
    pub fn new(http: reqwest::Client, base: String) -> Self {
        Self { http, base: base.trim_end_matches('/').to_owned() }
    }

    async fn send<T: for<'de> Deserialize<'de>>(&self, request: reqwest::RequestBuilder) -> Result<T> {
        let response = request.send().await.map_err(|e| Error::unavailable("wechat", e))?;
        if !response.status().is_success() {
            return Err(Error::unavailable("wechat", anyhow::anyhow!("HTTP {}", response.status())));
        }
        response.json::<T>().await.map_err(|e| Error::unavailable("wechat", e))
    }

    pub async fn code2session(&self, appid: &str, secret: &str, code: &str) -> Result<Code2Session> {
        let request = self.http.get(format!("{}/sns/jscode2session", self.base)).query(&[
            ("appid", appid),
            ("secret", secret),
            ("js_code", code),
            ("grant_type", "authorization_code"),
        ]);
        let body: Code2SessionResponse = self.send(request).await?;
        check(body.errcode, &body.errmsg)?;
        match (body.openid, body.session_key) {
            (Some(openid), Some(session_key)) if !openid.is_empty() => {
                Ok(Code2Session { openid, session_key, unionid: body.unionid.filter(|u| !u.is_empty()) })
            }
            _ => Err(Error::unavailable("wechat", anyhow::anyhow!("code2Session answered without openid"))),
        }
    }

    /// `getStableAccessToken`: replicas asking in normal mode get the same token, so none clobbers another's.
    pub async fn stable_access_token(&self, appid: &str, secret: &str) -> Result<(String, i64)> {
        let request = self.http.post(format!("{}/cgi-bin/stable_token", self.base)).json(&serde_json::json!({
            "grant_type": "client_credential",
            "appid": appid,
            "secret": secret,
            "force_refresh": false,
        }));
        let body: TokenResponse = self.send(request).await?;
        check(body.errcode, &body.errmsg)?;
        match (body.access_token, body.expires_in) {
            (Some(token), Some(expires_in)) => Ok((token, expires_in)),
            _ => Err(Error::unavailable("wechat", anyhow::anyhow!("stable_token answered without a token"))),
        }
    }

    /// Exchanges a `getPhoneNumber` button code for the member's number (mainland numbers only).
    pub async fn phone_number(&self, access_token: &str, code: &str, openid: &str) -> Result<String> {
        let request = self
            .http
            .post(format!("{}/wxa/business/getuserphonenumber", self.base))
            .query(&[("access_token", access_token)])
            .json(&serde_json::json!({ "code": code, "openid": openid }));
        let body: PhoneResponse = self.send(request).await?;
        check(body.errcode, &body.errmsg)?;
        let info = body
            .phone_info
            .ok_or_else(|| Error::unavailable("wechat", anyhow::anyhow!("getuserphonenumber without phone_info")))?;
        if info.country_code != "86" {
            return Err(Error::invalid("code", "only mainland China mobile numbers can be bound"));
        }
        Ok(info.pure_phone_number)
    }

    /// `subscribeMessage.send`. Each message uses up one of the member's one-time subscriptions to the template.
    /// Refusals come back as `ProviderRejected`: 43101 the member has no subscription left (or refused it), 47003 a
    /// value broke its field rule, 40003 a bad openid, 40037 a bad template id, 41030 a bad page.
    pub async fn send_subscribe_message(&self, access_token: &str, message: &SubscribeMessage) -> Result<()> {
        let data: serde_json::Map<String, serde_json::Value> =
            message.data.iter().map(|(key, value)| (key.clone(), serde_json::json!({ "value": value }))).collect();
        let mut body = serde_json::json!({
            "touser": message.touser,
            "template_id": message.template_id,
            "data": data,
            // Marked required in the newer server-API table, optional in the older page: always sent.
            "miniprogram_state": message.miniprogram_state,
            "lang": message.lang,
        });
        if let Some(page) = &message.page {
            body["page"] = serde_json::json!(page);
        }
        let request = self
            .http
            .post(format!("{}/cgi-bin/message/subscribe/send", self.base))
            .query(&[("access_token", access_token)])
            .json(&body);
        let body: SubscribeSendResponse = self.send(request).await?;
        check(body.errcode, &body.errmsg)
    }
}
