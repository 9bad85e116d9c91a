//! Extractors: who is calling, and from where.

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest, web};

use service::AppContext;
use service::foundation::principal::StaffPrincipal;
use service::members::auth::MemberPrincipal;

use crate::error::ApiError;

fn bearer(req: &HttpRequest) -> Option<String> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let token = value.strip_prefix("Bearer ").or_else(|| value.strip_prefix("bearer "))?;
    Some(token.trim().to_owned())
}

fn context(req: &HttpRequest) -> Result<web::Data<AppContext>, ApiError> {
    req.app_data::<web::Data<AppContext>>().cloned().ok_or_else(ApiError::internal)
}

type Authenticated<T> = Pin<Box<dyn Future<Output = Result<T, ApiError>>>>;

/// The bearer token of `req`, checked by `authenticate` (a service function) and wrapped as the extractor `T`.
fn authenticated<T, P, Fut>(
    req: &HttpRequest,
    authenticate: impl FnOnce(web::Data<AppContext>, String) -> Fut + 'static,
    wrap: fn(P) -> T,
) -> Authenticated<T>
where
    Fut: Future<Output = service::Result<P>> + 'static,
    T: 'static,
    P: 'static,
{
    let token = bearer(req);
    let ctx = context(req);
    Box::pin(async move {
        let token = token.ok_or(service::Error::Unauthenticated)?;
        Ok(wrap(authenticate(ctx?, token).await?))
    })
}

/// A signed-in staff member (`Authorization: Bearer hys_…`).
pub struct Staff(pub StaffPrincipal);

impl FromRequest for Staff {
    type Error = ApiError;
    type Future = Authenticated<Self>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        authenticated(
            req,
            |ctx, token| async move { service::foundation::auth::authenticate(&ctx, &token).await },
            Staff,
        )
    }
}

/// A signed-in member of the mini-program (`Authorization: Bearer hym_…`).
pub struct Member(pub MemberPrincipal);

impl FromRequest for Member {
    type Error = ApiError;
    type Future = Authenticated<Self>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        authenticated(req, |ctx, token| async move { service::members::auth::authenticate(&ctx, &token).await }, Member)
    }
}

/// A store bridge (`Authorization: Bearer hyd_…`).
pub struct Bridge(pub service::store::bridge::BridgePrincipal);

impl FromRequest for Bridge {
    type Error = ApiError;
    type Future = Authenticated<Self>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        authenticated(req, |ctx, token| async move { service::store::bridge::authenticate(&ctx, &token).await }, Bridge)
    }
}

/// The client's IP: the socket peer, or the first `X-Forwarded-For` hop when `server.behind_proxy` says a trusted
/// proxy sets it (otherwise anyone could pick their own rate-limit bucket).
pub struct ClientIp(pub Option<String>);

impl FromRequest for ClientIp {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let behind_proxy = req.app_data::<web::Data<AppContext>>().is_some_and(|ctx| ctx.settings.server.behind_proxy);
        let ip = if behind_proxy {
            req.connection_info().realip_remote_addr().map(|addr| addr.split(':').next().unwrap_or(addr).to_owned())
        } else {
            req.peer_addr().map(|addr| addr.ip().to_string())
        };
        std::future::ready(Ok(ClientIp(ip)))
    }
}

/// For PATCH bodies: tells a field left out (`None`, with `#[serde(default)]`) from one set to null (`Some(None)`).
pub fn explicit_null<'de, T, D>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    T: serde::Deserialize<'de>,
    D: serde::Deserializer<'de>,
{
    <Option<T> as serde::Deserialize>::deserialize(deserializer).map(Some)
}

/// A JSON request body: always a JSON object. serde would also read a struct from an array of its fields in
/// order (`[{}]` for a one-field struct), which no client means; that, like any mismatch, is the usual 422. Size,
/// media type and syntax are checked by `web::Json` and its configured error handler.
pub struct Body<T>(pub T);

impl<T> Body<T> {
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> std::ops::Deref for Body<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T: serde::de::DeserializeOwned + 'static> FromRequest for Body<T> {
    type Error = actix_web::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let json = web::Json::<serde_json::Value>::from_request(req, payload);
        Box::pin(async move {
            let value = json.await?.into_inner();
            let shape = |message: String| {
                ApiError::new(actix_web::http::StatusCode::UNPROCESSABLE_ENTITY, "invalid_input", message)
            };
            if !value.is_object() {
                return Err(shape("the body must be a JSON object".to_owned()).into());
            }
            let body = serde_json::from_value(value)
                .map_err(|e| shape(format!("the body does not match the expected shape: {e}")))?;
            Ok(Body(body))
        })
    }
}
