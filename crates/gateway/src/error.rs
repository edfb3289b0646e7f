//! OpenAI's error envelope, `{"error": {"message", "type", "param", "code"}}`, with the status
//! codes OpenAI's clients map to their exception types (400 bad request, 401 authentication,
//! 403 permission, 404 not found, 429 rate limit, 5xx server).

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

#[derive(Debug, Clone)]
pub struct GatewayError {
    pub status: StatusCode,
    pub kind: &'static str,
    pub code: &'static str,
    pub message: String,
    pub param: Option<String>,
    /// Seconds, for 429 and 503.
    pub retry_after_s: Option<u64>,
}

impl GatewayError {
    fn new(status: StatusCode, kind: &'static str, code: &'static str, message: impl Into<String>) -> Self {
        GatewayError { status, kind, code, message: message.into(), param: None, retry_after_s: None }
    }

    pub fn bad_request(code: &'static str, param: &str, message: impl Into<String>) -> Self {
        let mut e = Self::new(StatusCode::BAD_REQUEST, "invalid_request_error", code, message);
        e.param = Some(param.to_string());
        e
    }

    pub fn unauthenticated(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "authentication_error", code, message)
    }

    pub fn forbidden(code: &'static str, message: impl Into<String>) -> Self {
        let mut e = Self::new(StatusCode::FORBIDDEN, "permission_error", code, message);
        e.param = Some("model".into());
        e
    }

    pub fn model_not_found(model: &str) -> Self {
        let mut e = Self::new(
            StatusCode::NOT_FOUND,
            "invalid_request_error",
            "model_not_found",
            format!(
                "The model `{model}` does not exist or you do not have access to it; `GET /v1/models` lists yours."
            ),
        );
        e.param = Some("model".into());
        e
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "invalid_request_error", "not_found", message)
    }

    pub fn rate_limited(code: &'static str, message: impl Into<String>, retry_after_s: Option<u64>) -> Self {
        let mut e = Self::new(StatusCode::TOO_MANY_REQUESTS, "rate_limit_error", code, message);
        e.retry_after_s = retry_after_s;
        e
    }

    pub fn unavailable(message: impl Into<String>, retry_after_s: u64) -> Self {
        let mut e = Self::new(StatusCode::SERVICE_UNAVAILABLE, "server_error", "no_replica", message);
        e.retry_after_s = Some(retry_after_s);
        e
    }

    /// Usage accounting is behind: refused before any work, so nothing is metered unrecorded.
    pub fn usage_backlog(unflushed: usize, max: usize, retry_after_s: u64) -> Self {
        let mut e = Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "server_error",
            "usage_backlog",
            format!(
                "the gateway has {unflushed} usage records not yet stored (limit {max}): the database is down or slower than the request rate; retry after {retry_after_s} s"
            ),
        );
        e.retry_after_s = Some(retry_after_s);
        e
    }

    pub fn upstream(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_GATEWAY, "server_error", "upstream_error", message)
    }

    pub fn internal() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            "internal",
            "internal error; the gateway log has the details",
        )
    }
}

impl IntoResponse for GatewayError {
    fn into_response(self) -> Response {
        let body =
            json!({"error": {"message": self.message, "type": self.kind, "param": self.param, "code": self.code}});
        let mut response = (self.status, axum::Json(body)).into_response();
        if let Some(s) = self.retry_after_s {
            if let Ok(v) = HeaderValue::from_str(&s.max(1).to_string()) {
                response.headers_mut().insert(axum::http::header::RETRY_AFTER, v);
            }
        }
        response
    }
}
