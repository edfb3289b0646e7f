//! API keys: stored as SHA-256 digests only, each in a project of its tenant, optionally limited
//! to some models, with per-minute limits, a budget and an expiry. Every change stamps
//! `updated_ms`, which is how gateway replicas find changes (a revocation) without re-reading
//! every key.

use crate::rows::TenantRow;
use crate::{Result, Store};
use sqlx::any::AnyRow;
use sqlx::Row;

/// The project a key lands in when none is named.
pub const DEFAULT_PROJECT: &str = "default";

/// A key to insert. Documents are JSON the store does not interpret.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NewKey {
    pub sha256: String,
    pub name: String,
    /// The last characters of the secret, for people.
    pub hint: String,
    pub project: Option<String>,
    /// A JSON array of model names; `None` allows every model.
    pub models_json: Option<String>,
    pub limits_json: String,
    pub expires_ms: Option<i64>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct KeyRow {
    pub id: i64,
    pub tenant_id: i64,
    pub tenant_name: String,
    pub project_id: Option<i64>,
    pub project_name: Option<String>,
    pub name: String,
    pub hint: String,
    pub models_json: Option<String>,
    pub limits_json: String,
    pub created_ms: i64,
    pub expires_ms: Option<i64>,
    pub revoked_ms: Option<i64>,
}

/// A key as a gateway caches it: the key, its tenant's limits, and the digest to look it up by.
#[derive(Debug, Clone, PartialEq)]
pub struct GatewayKeyRow {
    pub key: KeyRow,
    pub sha256: String,
    pub tenant_limits_json: String,
    pub updated_ms: i64,
}

const KEY_COLUMNS: &str = "k.id, k.tenant_id, t.name AS tenant_name, k.project_id, p.name AS project_name, k.name, k.hint, k.models, k.limits, k.created_ms, k.expires_ms, k.revoked_ms";
const KEY_FROM: &str = "api_keys k JOIN tenants t ON t.id = k.tenant_id LEFT JOIN projects p ON p.id = k.project_id";

impl KeyRow {
    fn decode(row: &AnyRow) -> Result<Self> {
        Ok(KeyRow {
            id: row.try_get("id")?,
            tenant_id: row.try_get("tenant_id")?,
            tenant_name: row.try_get("tenant_name")?,
            project_id: row.try_get("project_id")?,
            project_name: row.try_get("project_name")?,
            name: row.try_get("name")?,
            hint: row.try_get("hint")?,
            models_json: row.try_get("models")?,
            limits_json: row.try_get("limits")?,
            created_ms: row.try_get("created_ms")?,
            expires_ms: row.try_get("expires_ms")?,
            revoked_ms: row.try_get("revoked_ms")?,
        })
    }

    pub fn is_live(&self, now_ms: i64) -> bool {
        self.revoked_ms.is_none() && self.expires_ms.is_none_or(|e| e > now_ms)
    }
}

/// What `gateway_key*` select beside the key's columns.
const GATEWAY_COLUMNS: &str = "k.secret_sha256, t.limits AS tenant_limits, \
    CASE WHEN k.updated_ms > t.updated_ms THEN k.updated_ms ELSE t.updated_ms END AS changed_ms";

impl GatewayKeyRow {
    fn decode(row: &AnyRow) -> Result<Self> {
        Ok(GatewayKeyRow {
            key: KeyRow::decode(row)?,
            sha256: row.try_get("secret_sha256")?,
            tenant_limits_json: row.try_get("tenant_limits")?,
            updated_ms: row.try_get("changed_ms")?,
        })
    }
}

/// Inserts a key (and its project when new) inside the caller's transaction.
pub(crate) async fn insert_key(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    tenant_id: i64,
    key: &NewKey,
    now_ms: i64,
) -> Result<i64> {
    let project = key.project.as_deref().unwrap_or(DEFAULT_PROJECT);
    sqlx::query("INSERT INTO projects (tenant_id, name, created_ms) VALUES ($1, $2, $3) ON CONFLICT (tenant_id, name) DO NOTHING")
        .bind(tenant_id)
        .bind(project)
        .bind(now_ms)
        .execute(&mut **tx)
        .await?;
    let project_id: i64 = sqlx::query("SELECT id FROM projects WHERE tenant_id = $1 AND name = $2")
        .bind(tenant_id)
        .bind(project)
        .fetch_one(&mut **tx)
        .await?
        .try_get("id")?;
    let row = sqlx::query(
        "INSERT INTO api_keys (tenant_id, project_id, secret_sha256, name, hint, models, limits, expires_ms, created_ms, updated_ms) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9) RETURNING id",
    )
    .bind(tenant_id)
    .bind(project_id)
    .bind(&key.sha256)
    .bind(&key.name)
    .bind(&key.hint)
    .bind(key.models_json.as_deref())
    .bind(&key.limits_json)
    .bind(key.expires_ms)
    .bind(now_ms)
    .fetch_one(&mut **tx)
    .await?;
    Ok(row.try_get::<i64, _>("id")?)
}

impl Store {
    pub async fn create_key(&self, tenant_id: i64, key: &NewKey, now_ms: i64) -> Result<i64> {
        let mut tx = self.write.begin().await?;
        let id = insert_key(&mut tx, tenant_id, key, now_ms).await?;
        tx.commit().await?;
        Ok(id)
    }

    /// Revokes a key; returns false when there is no such live key for that tenant.
    pub async fn revoke_key(&self, tenant_id: i64, key_id: i64, now_ms: i64) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE api_keys SET revoked_ms = $1, updated_ms = $1 WHERE id = $2 AND tenant_id = $3 AND revoked_ms IS NULL",
        )
        .bind(now_ms)
        .bind(key_id)
        .bind(tenant_id)
        .execute(&self.write)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// The tenant a live, unexpired key belongs to.
    pub async fn tenant_for_key(&self, key_sha256: &str, now_ms: i64) -> Result<Option<TenantRow>> {
        let row = sqlx::query(
            "SELECT t.id, t.name, t.quota, t.limits, t.created_ms FROM api_keys k JOIN tenants t ON t.id = k.tenant_id \
             WHERE k.secret_sha256 = $1 AND k.revoked_ms IS NULL AND (k.expires_ms IS NULL OR k.expires_ms > $2)",
        )
        .bind(key_sha256)
        .bind(now_ms)
        .fetch_optional(&self.read)
        .await?;
        row.as_ref().map(TenantRow::decode).transpose()
    }

    /// A tenant's keys, newest last; revoked ones included (they say when).
    pub async fn keys_of_tenant(&self, tenant_id: i64) -> Result<Vec<KeyRow>> {
        let rows = sqlx::query(&format!("SELECT {KEY_COLUMNS} FROM {KEY_FROM} WHERE k.tenant_id = $1 ORDER BY k.id"))
            .bind(tenant_id)
            .fetch_all(&self.read)
            .await?;
        rows.iter().map(KeyRow::decode).collect()
    }

    pub async fn key(&self, key_id: i64) -> Result<Option<KeyRow>> {
        let row = sqlx::query(&format!("SELECT {KEY_COLUMNS} FROM {KEY_FROM} WHERE k.id = $1"))
            .bind(key_id)
            .fetch_optional(&self.read)
            .await?;
        row.as_ref().map(KeyRow::decode).transpose()
    }

    /// Keys whose row or whose tenant changed at or after `since_ms` (all keys for 0), with
    /// what a gateway needs to authorise and limit requests. Revoked keys are included so that
    /// a gateway drops them.
    pub async fn gateway_keys_since(&self, since_ms: i64) -> Result<Vec<GatewayKeyRow>> {
        let rows = sqlx::query(&format!(
            "SELECT {KEY_COLUMNS}, {GATEWAY_COLUMNS} FROM {KEY_FROM} WHERE k.updated_ms >= $1 OR t.updated_ms >= $1 ORDER BY k.id"
        ))
        .bind(since_ms)
        .fetch_all(&self.read)
        .await?;
        rows.iter().map(GatewayKeyRow::decode).collect()
    }

    /// One key by the digest of its secret, live or not, as `gateway_keys_since` returns it.
    pub async fn gateway_key(&self, sha256: &str) -> Result<Option<GatewayKeyRow>> {
        let row =
            sqlx::query(&format!("SELECT {KEY_COLUMNS}, {GATEWAY_COLUMNS} FROM {KEY_FROM} WHERE k.secret_sha256 = $1"))
                .bind(sha256)
                .fetch_optional(&self.read)
                .await?;
        row.as_ref().map(GatewayKeyRow::decode).transpose()
    }

    /// Project names of a tenant.
    pub async fn projects_of_tenant(&self, tenant_id: i64) -> Result<Vec<(i64, String)>> {
        let rows = sqlx::query("SELECT id, name FROM projects WHERE tenant_id = $1 ORDER BY id")
            .bind(tenant_id)
            .fetch_all(&self.read)
            .await?;
        rows.iter().map(|r| Ok((r.try_get("id")?, r.try_get("name")?))).collect()
    }
}
