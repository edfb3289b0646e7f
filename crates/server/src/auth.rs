//! Who is calling: the admin, a tenant (by API key), or an agent (by join token). Secrets are
//! compared as SHA-256 digests; the plain secrets are never stored.

use crate::error::AppError;
use crate::state::AppState;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use rand::RngCore;
use sha2::{Digest, Sha256};
use strata_domain::{ErrorCode, TenantId};
use strata_store::TenantRow;

pub const ADMIN_TOKEN_PREFIX: &str = "strata-admin-";
pub const JOIN_TOKEN_PREFIX: &str = "strata-join-";
pub const TENANT_KEY_PREFIX: &str = "sk-strata-";

/// A new random secret with a prefix that says what it is (so a leaked one is recognisable).
pub fn new_secret(prefix: &str) -> String {
    let mut bytes = [0u8; 24];
    rand::thread_rng().fill_bytes(&mut bytes);
    format!("{prefix}{}", hex::encode(bytes))
}

pub fn digest(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

#[derive(Debug, Clone)]
pub enum Caller {
    Admin,
    Tenant(TenantRow),
    /// An agent holding the join token: may use only the agent protocol.
    Agent,
}

impl Caller {
    /// The tenant whose resources this caller may touch; `None` means all (the admin).
    pub fn tenant_scope(&self) -> Option<TenantId> {
        match self {
            Caller::Tenant(t) => Some(t.id),
            Caller::Admin | Caller::Agent => None,
        }
    }

    pub fn require_admin(&self) -> Result<(), AppError> {
        match self {
            Caller::Admin => Ok(()),
            _ => Err(AppError::new(ErrorCode::Forbidden, "this needs the admin token")),
        }
    }

    /// The admin and tenants may use the REST API; agents only their protocol.
    pub fn require_user(&self) -> Result<(), AppError> {
        match self {
            Caller::Agent => Err(AppError::new(
                ErrorCode::Forbidden,
                "the join token only registers agents; use the admin token or a tenant key",
            )),
            _ => Ok(()),
        }
    }

    /// The admin, or a tenant acting on itself (its keys, its usage).
    pub fn require_admin_or_tenant(&self, tenant_name: &str) -> Result<(), AppError> {
        match self {
            Caller::Admin => Ok(()),
            Caller::Tenant(t) if t.name == tenant_name => Ok(()),
            Caller::Tenant(_) => Err(AppError::not_found(format!("tenant {tenant_name:?}"))),
            Caller::Agent => self.require_user(),
        }
    }

    pub fn require_agent(&self) -> Result<(), AppError> {
        match self {
            Caller::Agent | Caller::Admin => Ok(()),
            Caller::Tenant(_) => {
                Err(AppError::new(ErrorCode::Forbidden, "tenant keys cannot act as agents; use the join token"))
            }
        }
    }
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let header =
            parts.headers.get(axum::http::header::AUTHORIZATION).and_then(|v| v.to_str().ok()).unwrap_or_default();
        let Some(token) = header.strip_prefix("Bearer ").map(str::trim).filter(|t| !t.is_empty()) else {
            return Err(AppError::new(
                ErrorCode::Unauthenticated,
                "missing credentials: send `Authorization: Bearer <token>` with the admin token or a tenant key",
            ));
        };
        let hash = digest(token);
        if hash == state.secrets.admin_sha256 {
            return Ok(Caller::Admin);
        }
        if hash == state.secrets.join_sha256 {
            return Ok(Caller::Agent);
        }
        match state.store.tenant_for_key(&hash, crate::state::now_ms()).await? {
            Some(tenant) => Ok(Caller::Tenant(tenant)),
            None => Err(AppError::new(
                ErrorCode::Unauthenticated,
                "the token matches no live key (revoked, expired, mistyped, or for another server)",
            )),
        }
    }
}
