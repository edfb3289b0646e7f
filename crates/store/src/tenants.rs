//! Tenants and their API keys. Keys are stored as SHA-256 digests only.

use crate::rows::TenantRow;
use crate::{Result, Store, StoreError};
use sqlx::Row;

const TENANT_COLUMNS: &str = "id, name, quota, created_ms";

impl Store {
    /// Creates a tenant and its first key in one transaction; a taken name is a `Conflict`.
    pub async fn create_tenant(
        &self,
        name: &str,
        quota_json: &str,
        key_sha256: &str,
        now_ms: i64,
    ) -> Result<(TenantRow, i64)> {
        let mut tx = self.write.begin().await?;
        let inserted = sqlx::query(&format!(
            "INSERT INTO tenants (name, quota, created_ms) VALUES ($1, $2, $3) ON CONFLICT (name) DO NOTHING RETURNING {TENANT_COLUMNS}"
        ))
        .bind(name)
        .bind(quota_json)
        .bind(now_ms)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = inserted else {
            return Err(StoreError::Conflict(format!("tenant {name:?}")));
        };
        let tenant = TenantRow::decode(&row)?;
        let key_id = insert_key(&mut tx, tenant.id.0, key_sha256, now_ms).await?;
        tx.commit().await?;
        Ok((tenant, key_id))
    }

    /// Makes sure a tenant exists (no key); used for the built-in `default` tenant.
    pub async fn ensure_tenant(&self, name: &str, now_ms: i64) -> Result<TenantRow> {
        sqlx::query(
            "INSERT INTO tenants (name, quota, created_ms) VALUES ($1, '{}', $2) ON CONFLICT (name) DO NOTHING",
        )
        .bind(name)
        .bind(now_ms)
        .execute(&self.write)
        .await?;
        self.tenant_by_name(name).await?.ok_or_else(|| StoreError::Corrupt(format!("tenant {name:?} vanished")))
    }

    pub async fn create_key(&self, tenant_id: i64, key_sha256: &str, now_ms: i64) -> Result<i64> {
        let mut tx = self.write.begin().await?;
        let id = insert_key(&mut tx, tenant_id, key_sha256, now_ms).await?;
        tx.commit().await?;
        Ok(id)
    }

    /// Revokes a key; returns false when there is no such live key for that tenant.
    pub async fn revoke_key(&self, tenant_id: i64, key_id: i64, now_ms: i64) -> Result<bool> {
        let done =
            sqlx::query("UPDATE api_keys SET revoked_ms = $1 WHERE id = $2 AND tenant_id = $3 AND revoked_ms IS NULL")
                .bind(now_ms)
                .bind(key_id)
                .bind(tenant_id)
                .execute(&self.write)
                .await?;
        Ok(done.rows_affected() == 1)
    }

    /// The tenant a live key belongs to.
    pub async fn tenant_for_key(&self, key_sha256: &str) -> Result<Option<TenantRow>> {
        let row = sqlx::query(
            "SELECT t.id, t.name, t.quota, t.created_ms FROM api_keys k JOIN tenants t ON t.id = k.tenant_id WHERE k.secret_sha256 = $1 AND k.revoked_ms IS NULL",
        )
        .bind(key_sha256)
        .fetch_optional(&self.read)
        .await?;
        row.as_ref().map(TenantRow::decode).transpose()
    }

    pub async fn tenant_by_name(&self, name: &str) -> Result<Option<TenantRow>> {
        let row = sqlx::query(&format!("SELECT {TENANT_COLUMNS} FROM tenants WHERE name = $1"))
            .bind(name)
            .fetch_optional(&self.read)
            .await?;
        row.as_ref().map(TenantRow::decode).transpose()
    }

    pub async fn tenants(&self) -> Result<Vec<TenantRow>> {
        let rows =
            sqlx::query(&format!("SELECT {TENANT_COLUMNS} FROM tenants ORDER BY id")).fetch_all(&self.read).await?;
        rows.iter().map(TenantRow::decode).collect()
    }

    pub async fn set_quota(&self, name: &str, quota_json: &str) -> Result<Option<TenantRow>> {
        let row = sqlx::query(&format!("UPDATE tenants SET quota = $1 WHERE name = $2 RETURNING {TENANT_COLUMNS}"))
            .bind(quota_json)
            .bind(name)
            .fetch_optional(&self.write)
            .await?;
        row.as_ref().map(TenantRow::decode).transpose()
    }
}

async fn insert_key(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    tenant_id: i64,
    key_sha256: &str,
    now_ms: i64,
) -> Result<i64> {
    let row =
        sqlx::query("INSERT INTO api_keys (tenant_id, secret_sha256, created_ms) VALUES ($1, $2, $3) RETURNING id")
            .bind(tenant_id)
            .bind(key_sha256)
            .bind(now_ms)
            .fetch_one(&mut **tx)
            .await?;
    Ok(row.try_get::<i64, _>("id")?)
}
