//! One error type for every handler, mapped to a status and the error envelope in one place.
//! 4xx answers say what was wrong and how to fix it; 5xx answers are generic and logged once.

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use strata_api::{ApiError, ErrorBody};
use strata_domain::ErrorCode;

/// A failed request: either the caller's fault (`Api`) or ours (`Internal`).
#[derive(Debug)]
pub enum AppError {
    Api(ApiError),
    Internal(anyhow::Error),
}

pub type AppResult<T> = Result<T, AppError>;

impl AppError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        AppError::Api(ApiError::new(code, message))
    }

    pub fn field(code: ErrorCode, field: &str, message: impl Into<String>) -> Self {
        AppError::Api(ApiError::field(code, field, message))
    }

    pub fn not_found(what: impl std::fmt::Display) -> Self {
        Self::new(ErrorCode::NotFound, format!("{what} does not exist, or belongs to another tenant"))
    }
}

impl From<ApiError> for AppError {
    fn from(e: ApiError) -> Self {
        AppError::Api(e)
    }
}

impl From<strata_store::StoreError> for AppError {
    fn from(e: strata_store::StoreError) -> Self {
        AppError::Internal(e.into())
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let error = match self {
            AppError::Api(e) => e,
            AppError::Internal(e) => {
                tracing::error!(error = format!("{e:#}"), "request failed");
                ApiError::new(ErrorCode::Internal, "internal error; the server log has the details")
            }
        };
        let status = StatusCode::from_u16(error.code.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        (status, axum::Json(ErrorBody { error })).into_response()
    }
}

/// `axum::Json` with rejections in Strata's envelope: an unknown field is `unknown_field`
/// naming the field; anything else unparsable is `malformed_json` with serde's position.
pub struct ApiJson<T>(pub T);

impl<S, T> FromRequest<S> for ApiJson<T>
where
    axum::Json<T>: FromRequest<S, Rejection = JsonRejection>,
    S: Send + Sync,
{
    type Rejection = AppError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(value)) => Ok(ApiJson(value)),
            Err(rejection) => Err(json_rejection(rejection)),
        }
    }
}

fn json_rejection(rejection: JsonRejection) -> AppError {
    if rejection.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
        return AppError::new(
            ErrorCode::TooLarge,
            format!(
                "the request body is too large ({}); send fewer or smaller items per request",
                rejection.body_text()
            ),
        );
    }
    let detail = match &rejection {
        JsonRejection::JsonDataError(e) => {
            std::error::Error::source(e).map_or_else(|| e.body_text(), |s| s.to_string())
        }
        JsonRejection::JsonSyntaxError(e) => {
            std::error::Error::source(e).map_or_else(|| e.body_text(), |s| s.to_string())
        }
        other => other.body_text(),
    };
    if let Some(rest) = detail.split("unknown field `").nth(1) {
        let name = rest.split('`').next().unwrap_or_default();
        // axum reports where in the body it was (`jobs[1].gpus: unknown field …`): the field is
        // named by that path, so an item of a list is told apart from the others.
        let path = detail.split_once(": unknown field `").map(|(p, _)| p).filter(|p| !p.is_empty() && !p.contains(' '));
        let field = path.unwrap_or(name);
        return AppError::field(
            ErrorCode::UnknownField,
            field,
            format!("unknown field {field:?}: {detail}; remove it or check its spelling"),
        );
    }
    AppError::new(ErrorCode::MalformedJson, format!("the request body is not valid for this endpoint: {detail}"))
}

/// `axum::extract::Query` with rejections in Strata's envelope.
pub struct ApiQuery<T>(pub T);

impl<S, T> FromRequestParts<S> for ApiQuery<T>
where
    axum::extract::Query<T>: FromRequestParts<S, Rejection = QueryRejection>,
    S: Send + Sync,
{
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(v)) => Ok(ApiQuery(v)),
            Err(e) => Err(AppError::new(ErrorCode::InvalidField, format!("bad query string: {}", e.body_text()))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::extract::DefaultBodyLimit;
    use axum::routing::post;
    use tower::ServiceExt;

    #[tokio::test]
    async fn an_unknown_field_inside_a_list_is_named_by_its_path() {
        let app = axum::Router::new().route(
            "/",
            post(|ApiJson(v): ApiJson<strata_api::jobs::SubmitJobs>| async move { v.jobs.len().to_string() }),
        );
        let body = r#"{"jobs": [{"command": ["true"]}, {"command": ["true"], "gpus": 8}]}"#;
        let req = Request::post("/").header("content-type", "application/json").body(Body::from(body));
        let resp = app.oneshot(req.unwrap_or_default()).await.unwrap_or_else(|e| match e {});
        assert_eq!(resp.status(), 400);
        let bytes = axum::body::to_bytes(resp.into_body(), 1 << 16).await.unwrap_or_default();
        let body: strata_api::ErrorBody = serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("{e}: {bytes:?}"));
        assert_eq!(body.error.code, ErrorCode::UnknownField);
        assert_eq!(body.error.field.as_deref(), Some("jobs[1].gpus"), "{}", body.error.message);
    }

    #[tokio::test]
    async fn a_body_past_the_limit_is_refused_as_too_large_in_the_envelope() {
        let app = axum::Router::new()
            .route("/", post(|ApiJson(v): ApiJson<serde_json::Value>| async move { v.to_string() }))
            .layer(DefaultBodyLimit::max(64));
        let send = |body: String| {
            let req = Request::post("/").header("content-type", "application/json").body(Body::from(body));
            app.clone().oneshot(req.unwrap_or_default())
        };
        let ok = send(r#"{"a": 1}"#.to_string()).await.unwrap_or_else(|e| match e {});
        assert_eq!(ok.status(), 200);
        let big = send(format!(r#"{{"a": "{}"}}"#, "x".repeat(100))).await.unwrap_or_else(|e| match e {});
        assert_eq!(big.status(), 413);
        let bytes = axum::body::to_bytes(big.into_body(), 1 << 16).await.unwrap_or_default();
        let body: strata_api::ErrorBody = serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("{e}: {bytes:?}"));
        assert_eq!(body.error.code, ErrorCode::TooLarge, "{}", body.error.message);
        assert!(body.error.message.contains("too large"), "{}", body.error.message);
    }
}
