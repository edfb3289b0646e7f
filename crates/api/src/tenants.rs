//! Tenants and their keys on the wire.

use serde::{Deserialize, Serialize};
pub use strata_domain::Quota;
use strata_domain::TenantId;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Tenant {
    pub id: TenantId,
    pub name: String,
    pub quota: Quota,
    /// Gateway limits for the whole tenant.
    #[serde(default)]
    pub limits: crate::keys::Limits,
    pub created_at_ms: i64,
}

/// `POST /api/v1/tenants`
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateTenant {
    /// Lowercase letters, digits and `-`, 1..63 characters.
    pub name: String,
    #[serde(default)]
    pub quota: Quota,
    #[serde(default)]
    pub limits: crate::keys::Limits,
}

/// The answer to creating a tenant or a key: the secret is shown here once and never again.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CreatedKey {
    pub tenant: Tenant,
    pub key_id: i64,
    pub key: String,
    pub info: crate::keys::KeyInfo,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TenantList {
    pub tenants: Vec<Tenant>,
}

/// Who the caller is, as the server sees their token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct WhoAmI {
    pub admin: bool,
    pub tenant: Option<String>,
}

/// Checks a tenant name: what a DNS label allows, so names work in URLs and hostnames.
pub fn valid_tenant_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 63
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !name.starts_with('-')
        && !name.ends_with('-')
}
