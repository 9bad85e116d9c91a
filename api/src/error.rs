//! The HTTP face of errors: every failure is `{"code": "...", "message": "..."}` with a fitting status.
//!
//! `service::Error` maps here with an exhaustive match, so a new domain error cannot slip out as a 500 unnoticed.
//! 5xx bodies are generic; the cause chain goes to the log once, here.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;
use utoipa::ToSchema;

use service::Error as DomainError;

/// The error envelope of every response that is not a success.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// Stable, snake_case; clients branch on it.
    #[schema(example = "invalid_input")]
    pub code: String,
    /// For people; may change wording.
    #[schema(example = "phone: must be an 11-digit mainland mobile number")]
    pub message: String,
}

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub retry_after_secs: Option<u64>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self { status, code, message: message.into(), retry_after_secs: None }
    }

    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    pub fn internal() -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal_error", "something went wrong on our side")
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = HttpResponse::build(self.status);
        if let Some(secs) = self.retry_after_secs {
            response.insert_header((header::RETRY_AFTER, HeaderValue::from(secs)));
        }
        response.json(ErrorBody { code: self.code.to_owned(), message: self.message.clone() })
    }
}

impl From<DomainError> for ApiError {
    fn from(error: DomainError) -> Self {
        use StatusCode as S;
        let message = error.to_string();
        match error {
            DomainError::Invalid { .. } => ApiError::new(S::UNPROCESSABLE_ENTITY, "invalid_input", message),
            DomainError::NotFound(_) => ApiError::new(S::NOT_FOUND, "not_found", message),
            DomainError::Conflict(conflict) => ApiError::new(S::CONFLICT, conflict.code(), message),
            DomainError::InvalidCredentials => ApiError::new(S::UNAUTHORIZED, "invalid_credentials", message),
            DomainError::Unauthenticated => ApiError::new(S::UNAUTHORIZED, "unauthenticated", message),
            DomainError::Forbidden
            | DomainError::Needs(_)
            | DomainError::NeedsEither(..)
            | DomainError::MerchantWide(_) => ApiError::new(S::FORBIDDEN, "forbidden", message),
            DomainError::RateLimited { retry_after_secs } => ApiError {
                retry_after_secs: Some(retry_after_secs),
                ..ApiError::new(S::TOO_MANY_REQUESTS, "too_many_requests", message)
            },
            DomainError::MemberCodeInvalid => ApiError::new(S::UNPROCESSABLE_ENTITY, "member_code_invalid", message),
            DomainError::MemberCodeExpired => ApiError::new(S::UNPROCESSABLE_ENTITY, "member_code_expired", message),
            DomainError::ProviderRejected { provider, ref code, .. } => {
                tracing::info!(provider, provider.code = %code, "provider refused a request");
                ApiError::new(S::BAD_REQUEST, "provider_rejected", message)
            }
            DomainError::ProviderUnavailable { provider, ref source } => {
                tracing::warn!(provider, error = ?source, "provider unavailable");
                ApiError::new(S::BAD_GATEWAY, "provider_unavailable", message)
            }
            DomainError::Disabled(_) => ApiError::new(S::FORBIDDEN, "disabled", message),
            DomainError::NotificationRejected(reason) => {
                tracing::warn!(reason, "provider notification rejected");
                ApiError::new(S::BAD_REQUEST, "notification_rejected", message)
            }
            DomainError::Database(ref source) => {
                tracing::error!(error = %source, "database error");
                ApiError::internal()
            }
            DomainError::Internal(ref source) => {
                tracing::error!(error = ?source, "internal error");
                ApiError::internal()
            }
        }
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

/// Turns actix's extractor rejections (bad JSON, query, path) into the envelope.
pub fn json_error(err: actix_web::error::JsonPayloadError, _: &actix_web::HttpRequest) -> actix_web::Error {
    use actix_web::error::JsonPayloadError as J;
    let api = match &err {
        J::ContentType => ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "send the body as application/json",
        ),
        J::OverflowKnownLength { .. } | J::Overflow { .. } => {
            ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large", "the body is too large")
        }
        J::Deserialize(inner) if inner.is_data() => ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_input",
            format!("the body does not match the expected shape: {inner}"),
        ),
        _ => ApiError::bad_request("malformed_json", format!("the body is not valid JSON: {err}")),
    };
    api.into()
}

pub fn query_error(err: actix_web::error::QueryPayloadError, _: &actix_web::HttpRequest) -> actix_web::Error {
    ApiError::bad_request("invalid_query", format!("bad query parameters: {err}")).into()
}

pub fn path_error(err: actix_web::error::PathError, req: &actix_web::HttpRequest) -> actix_web::Error {
    // `PUT /bills/preview` reaches `PUT /bills/{id}` with the id `preview`; the caller meant the literal route,
    // which does not take PUT.
    let known = req.app_data::<actix_web::web::Data<std::sync::Arc<crate::openapi::KnownRoutes>>>();
    if let Some(methods) = known.and_then(|known| known.allowed(req.path()))
        && !methods.iter().any(|m| m == req.method().as_str())
    {
        let response = crate::method_not_allowed(req, &methods);
        return actix_web::error::InternalError::from_response(err, response).into();
    }
    ApiError::bad_request("invalid_path", format!("bad path parameter: {err}")).into()
}
