//! The one error type of the model server, answered in OpenAI's envelope:
//! `{"error": {"message", "type", "param", "code"}}`. 4xx say what was wrong and name the field;
//! 5xx are generic to the client and logged once here.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApiError {
    /// A bad request body; `param` names the offending field.
    #[error("{message}")]
    Invalid { message: String, param: Option<String> },
    #[error("the model {0:?} is not served here")]
    UnknownModel(String),
    #[error("{0}")]
    Overloaded(String),
    #[error("{0}")]
    Internal(String),
}

impl ApiError {
    pub fn invalid(param: &str, message: impl Into<String>) -> Self {
        Self::Invalid { message: message.into(), param: Some(param.to_string()) }
    }

    fn parts(&self) -> (StatusCode, &'static str, Option<&str>, &'static str) {
        match self {
            Self::Invalid { param, .. } => {
                (StatusCode::BAD_REQUEST, "invalid_request_error", param.as_deref(), "invalid_value")
            }
            Self::UnknownModel(_) => (StatusCode::NOT_FOUND, "invalid_request_error", Some("model"), "model_not_found"),
            Self::Overloaded(_) => (StatusCode::SERVICE_UNAVAILABLE, "server_error", None, "overloaded"),
            Self::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "server_error", None, "internal_error"),
        }
    }

    pub fn body(&self) -> serde_json::Value {
        let (_, kind, param, code) = self.parts();
        let message = match self {
            Self::Internal(_) => "the server failed to process the request".to_string(),
            other => other.to_string(),
        };
        json!({ "error": { "message": message, "type": kind, "param": param, "code": code } })
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, ..) = self.parts();
        if let Self::Internal(detail) = &self {
            tracing::error!(error = %detail, "request failed");
        }
        (status, axum::Json(self.body())).into_response()
    }
}
