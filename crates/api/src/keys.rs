//! API keys and gateway limits on the wire.

use crate::error::ApiError;
use serde::{Deserialize, Serialize};
use strata_domain::ErrorCode;

/// Per-minute limits and a budget, for a key or a tenant. Every field is optional; absent
/// means unlimited.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    /// Requests per minute.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rpm: Option<u64>,
    /// Tokens per minute (prompt + completion); a request reserves its `max_tokens` up front.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tpm: Option<u64>,
    /// Spending limit in US dollars over the key's or tenant's lifetime.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub budget_usd: Option<f64>,
}

impl Limits {
    pub fn check(&self, field_prefix: &str) -> Result<(), ApiError> {
        if let Some(b) = self.budget_usd {
            if !b.is_finite() || !(0.0..=1e9).contains(&b) {
                return Err(ApiError::field(
                    ErrorCode::InvalidField,
                    &format!("{field_prefix}budget_usd"),
                    format!("budget_usd must be between 0 and 1e9 dollars, not {b}"),
                ));
            }
        }
        for (name, v) in [("rpm", self.rpm), ("tpm", self.tpm)] {
            if v.is_some_and(|v| v > 1_000_000_000_000) {
                return Err(ApiError::field(
                    ErrorCode::InvalidField,
                    &format!("{field_prefix}{name}"),
                    format!("{name} must be at most 1e12 per minute; leave it out for no limit"),
                ));
            }
        }
        Ok(())
    }

    /// The budget in pico-dollars, as the gateway counts.
    pub fn budget_pico(&self) -> Option<i64> {
        self.budget_usd.map(|usd| (usd * 1e12).round() as i64)
    }
}

/// `POST /api/v1/tenants/{name}/keys`
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateKey {
    /// A name for people ("ci", "chatbot").
    #[serde(default)]
    pub name: Option<String>,
    /// The project the key belongs to; created when new (default `default`).
    #[serde(default)]
    pub project: Option<String>,
    /// Models the key may call; absent allows every model.
    #[serde(default)]
    pub models: Option<Vec<String>>,
    /// Requests per minute for this key.
    #[serde(default)]
    pub rpm: Option<u64>,
    /// Tokens per minute for this key.
    #[serde(default)]
    pub tpm: Option<u64>,
    /// Spending limit for this key in US dollars.
    #[serde(default)]
    pub budget_usd: Option<f64>,
    /// Seconds until the key stops working; absent never expires.
    #[serde(default)]
    pub expires_in_s: Option<u64>,
}

impl CreateKey {
    pub fn limits(&self) -> Limits {
        Limits { rpm: self.rpm, tpm: self.tpm, budget_usd: self.budget_usd }
    }
}

/// A key as listed: never the secret.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct KeyInfo {
    pub id: i64,
    pub tenant: String,
    pub project: Option<String>,
    pub name: String,
    /// The secret's last characters (`…a1b2`), to tell keys apart.
    pub hint: String,
    pub models: Option<Vec<String>>,
    pub limits: Limits,
    pub created_at_ms: i64,
    pub expires_at_ms: Option<i64>,
    pub revoked_at_ms: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct KeyList {
    pub keys: Vec<KeyInfo>,
}

/// Checks a project name the way tenant names are checked.
pub fn valid_project_name(name: &str) -> bool {
    crate::tenants::valid_tenant_name(name)
}
