//! The key cache: every live key, by SHA-256 of its secret, with its tenant's limits, so that
//! authorising a request is one hash and one map lookup, never a database query.
//!
//! The cache refreshes from the store every `refresh` interval, reading only keys (or tenants)
//! changed since the last refresh, with an overlap that absorbs clock skew between replicas and
//! late commits; a revoked key disappears at the next refresh, within a second everywhere.

use crate::error::GatewayError;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, RwLock};
use strata_gateway_core::Limits;
use strata_store::{GatewayKeyRow, Store};

/// Changes are re-read for this long after their timestamp.
const OVERLAP_MS: i64 = 5_000;

/// Who is calling, as far as the gateway cares.
#[derive(Debug, Clone, PartialEq)]
pub struct Caller {
    /// `None` for the admin token.
    pub key_id: Option<i64>,
    pub tenant_id: i64,
    pub tenant_name: String,
    pub project_id: Option<i64>,
    /// Models this key may use; `None` is all.
    pub models: Option<Vec<String>>,
    pub key_limits: Limits,
    pub tenant_limits: Limits,
    pub key_budget_pico: Option<i64>,
    pub tenant_budget_pico: Option<i64>,
    pub expires_ms: Option<i64>,
}

impl Caller {
    pub fn may_use(&self, model: &str) -> bool {
        self.models.as_ref().is_none_or(|m| m.iter().any(|x| x == model))
    }
}

pub fn digest(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

fn limits(doc: &strata_api::keys::Limits) -> Limits {
    Limits { rpm: doc.rpm, tpm: doc.tpm }
}

fn caller_of(row: &GatewayKeyRow) -> Caller {
    let key: strata_api::keys::Limits = serde_json::from_str(&row.key.limits_json).unwrap_or_default();
    let tenant: strata_api::keys::Limits = serde_json::from_str(&row.tenant_limits_json).unwrap_or_default();
    Caller {
        key_id: Some(row.key.id),
        tenant_id: row.key.tenant_id,
        tenant_name: row.key.tenant_name.clone(),
        project_id: row.key.project_id,
        models: row.key.models_json.as_deref().and_then(|m| serde_json::from_str(m).ok()),
        key_limits: limits(&key),
        tenant_limits: limits(&tenant),
        key_budget_pico: key.budget_pico(),
        tenant_budget_pico: tenant.budget_pico(),
        expires_ms: row.key.expires_ms,
    }
}

/// How long a digest that matched no live key is answered from memory.
const NEGATIVE_MS: i64 = 1_000;

pub struct KeyCache {
    keys: RwLock<HashMap<String, Arc<Caller>>>,
    /// Digests that matched no live key, until when; so a flood of bad keys costs no queries.
    unknown: std::sync::Mutex<HashMap<String, i64>>,
    watermark: AtomicI64,
    admin: Option<(String, Arc<Caller>)>,
}

impl KeyCache {
    /// `admin`: the admin token's digest and the default tenant, which the admin calls as.
    pub fn new(admin_sha256: Option<String>, default_tenant: (i64, String)) -> KeyCache {
        let admin = admin_sha256.map(|digest| {
            let caller = Caller {
                key_id: None,
                tenant_id: default_tenant.0,
                tenant_name: default_tenant.1,
                project_id: None,
                models: None,
                key_limits: Limits::default(),
                tenant_limits: Limits::default(),
                key_budget_pico: None,
                tenant_budget_pico: None,
                expires_ms: None,
            };
            (digest, Arc::new(caller))
        });
        KeyCache {
            keys: RwLock::new(HashMap::new()),
            unknown: std::sync::Mutex::new(HashMap::new()),
            watermark: AtomicI64::new(0),
            admin,
        }
    }

    /// Reads what changed; returns the callers that were added or changed (for budgets).
    pub async fn refresh(&self, store: &Store) -> anyhow::Result<Vec<Arc<Caller>>> {
        let since = self.watermark.load(Ordering::Relaxed);
        let rows = store.gateway_keys_since(if since == 0 { 0 } else { since - OVERLAP_MS }).await?;
        let now = now_ms();
        let mut changed = Vec::new();
        let mut newest = since;
        {
            let mut keys = self.keys.write().map_err(|_| anyhow::anyhow!("key cache poisoned"))?;
            for row in &rows {
                newest = newest.max(row.updated_ms);
                if row.key.is_live(now) {
                    let caller = Arc::new(caller_of(row));
                    if keys.get(&row.sha256).is_none_or(|c| **c != *caller) {
                        changed.push(caller.clone());
                    }
                    keys.insert(row.sha256.clone(), caller);
                } else {
                    keys.remove(&row.sha256);
                }
            }
        }
        self.watermark.store(newest, Ordering::Relaxed);
        Ok(changed)
    }

    /// Every cached caller (for loading budgets at start).
    pub fn all(&self) -> Vec<Arc<Caller>> {
        self.keys.read().map(|k| k.values().cloned().collect()).unwrap_or_default()
    }

    /// The caller behind an `Authorization: Bearer …` header value. A key created after the
    /// last refresh is looked up in the store once, so it works at once.
    pub async fn authenticate(
        &self,
        store: &Store,
        authorization: Option<&str>,
        now_ms: i64,
    ) -> Result<Arc<Caller>, GatewayError> {
        let Some(token) =
            authorization.and_then(|h| h.strip_prefix("Bearer ")).map(str::trim).filter(|t| !t.is_empty())
        else {
            return Err(GatewayError::unauthenticated(
                "missing_api_key",
                "You didn't provide an API key. Send `Authorization: Bearer sk-strata-…` (create one with `strata key create`).",
            ));
        };
        let hash = digest(token);
        if let Some((admin, caller)) = &self.admin {
            if *admin == hash {
                return Ok(caller.clone());
            }
        }
        let mut found = self.keys.read().ok().and_then(|k| k.get(&hash).cloned());
        if found.is_none() {
            found = self.look_up(store, &hash, now_ms).await;
        }
        match found {
            Some(c) if c.expires_ms.is_some_and(|e| e <= now_ms) => {
                Err(GatewayError::unauthenticated("expired_api_key", "This API key has expired; create a new one."))
            }
            Some(c) => Ok(c),
            None => Err(GatewayError::unauthenticated(
                "invalid_api_key",
                "Incorrect API key provided: it is revoked, mistyped, or for another Strata.",
            )),
        }
    }
}

impl KeyCache {
    async fn look_up(&self, store: &Store, hash: &str, now_ms: i64) -> Option<Arc<Caller>> {
        if let Ok(mut unknown) = self.unknown.lock() {
            if unknown.get(hash).is_some_and(|until| *until > now_ms) {
                return None;
            }
            if unknown.len() > 10_000 {
                unknown.retain(|_, until| *until > now_ms);
            }
        }
        match store.gateway_key(hash).await {
            Ok(Some(row)) if row.key.is_live(now_ms) => {
                let caller = Arc::new(caller_of(&row));
                if let Ok(mut keys) = self.keys.write() {
                    keys.insert(row.sha256.clone(), caller.clone());
                }
                Some(caller)
            }
            Ok(_) => {
                if let Ok(mut unknown) = self.unknown.lock() {
                    unknown.insert(hash.to_string(), now_ms + NEGATIVE_MS);
                }
                None
            }
            Err(e) => {
                tracing::warn!(error = %e, "key lookup failed");
                None
            }
        }
    }
}

pub fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}
