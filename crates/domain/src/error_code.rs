//! The catalog of stable error codes. Clients match on these strings; never rename one.

use serde::{Deserialize, Serialize};

/// A stable, machine-readable reason for a refused request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The body is not valid JSON, or a field has the wrong type.
    MalformedJson,
    /// The body names a field the API does not know.
    UnknownField,
    /// A field has a value outside what the API accepts.
    InvalidField,
    /// Resources that no node could ever provide to one replica, or a gang larger than the fleet.
    Unsatisfiable,
    /// A chip model that no node in the fleet has.
    UnknownGpuModel,
    /// No credentials, or credentials that match no key.
    Unauthenticated,
    /// Valid credentials that may not do this.
    Forbidden,
    NotFound,
    /// The request conflicts with the resource's state (cancelling a finished job, a duplicate name).
    Conflict,
    /// The request body is larger than the endpoint accepts.
    TooLarge,
    /// Something broke on the server; details are in its log, not in the response.
    Internal,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::MalformedJson => "malformed_json",
            ErrorCode::UnknownField => "unknown_field",
            ErrorCode::InvalidField => "invalid_field",
            ErrorCode::Unsatisfiable => "unsatisfiable",
            ErrorCode::UnknownGpuModel => "unknown_gpu_model",
            ErrorCode::Unauthenticated => "unauthenticated",
            ErrorCode::Forbidden => "forbidden",
            ErrorCode::NotFound => "not_found",
            ErrorCode::Conflict => "conflict",
            ErrorCode::TooLarge => "too_large",
            ErrorCode::Internal => "internal",
        }
    }

    /// The HTTP status every shell uses for this code; decided here once.
    pub fn http_status(self) -> u16 {
        match self {
            ErrorCode::MalformedJson
            | ErrorCode::UnknownField
            | ErrorCode::InvalidField
            | ErrorCode::Unsatisfiable
            | ErrorCode::UnknownGpuModel => 400,
            ErrorCode::Unauthenticated => 401,
            ErrorCode::Forbidden => 403,
            ErrorCode::NotFound => 404,
            ErrorCode::Conflict => 409,
            ErrorCode::TooLarge => 413,
            ErrorCode::Internal => 500,
        }
    }
}
