//! The error envelope every endpoint answers with.

use serde::{Deserialize, Serialize};
use strata_domain::ErrorCode;

/// `{"error": {"code": "...", "message": "...", "field": "..."}}`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ErrorBody {
    pub error: ApiError,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ApiError {
    pub code: ErrorCode,
    /// What was wrong and how to fix it, for a person.
    pub message: String,
    /// The request field at fault, when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self { code, message: message.into(), field: None }
    }

    pub fn field(code: ErrorCode, field: &str, message: impl Into<String>) -> Self {
        Self { code, message: message.into(), field: Some(field.to_string()) }
    }

    /// The same error for job `index` of a batch: its field becomes `jobs[index].field` and the
    /// message says which job it was.
    pub fn in_batch(self, index: usize) -> Self {
        let field = Some(match &self.field {
            Some(f) => format!("jobs[{index}].{f}"),
            None => format!("jobs[{index}]"),
        });
        Self { message: format!("job {index} of the batch: {}", self.message), field, ..self }
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code.as_str(), self.message)
    }
}

impl std::error::Error for ApiError {}
