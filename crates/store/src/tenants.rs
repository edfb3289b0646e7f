//! Tenants and their API keys. Keys are stored as SHA-256 digests only.

use crate::keys::{insert_key, NewKey};
use crate::rows::TenantRow;
use crate::{Result, Store, StoreError};

const TENANT_COLUMNS: &str = "id, name, quota, limits, created_ms";

impl Store {
    /// Creates a tenant and its first key in one transaction; a taken name is a `Conflict`.
    pub async fn create_tenant(
        &self,
        name: &str,
        quota_json: &str,
        key: &NewKey,
        now_ms: i64,
    ) -> Result<(TenantRow, i64)> {
        let mut tx = self.write.begin().await?;
        let inserted = sqlx::query(&format!(
            "INSERT INTO tenants (name, quota, created_ms, updated_ms) VALUES ($1, $2, $3, $3) ON CONFLICT (name) DO NOTHING RETURNING {TENANT_COLUMNS}"
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
        let key_id = insert_key(&mut tx, tenant.id.0, key, now_ms).await?;
        tx.commit().await?;
        Ok((tenant, key_id))
    }

    /// Makes sure a tenant exists (no key); used for the built-in `default` tenant.
    pub async fn ensure_tenant(&self, name: &str, now_ms: i64) -> Result<TenantRow> {
        sqlx::query(
            "INSERT INTO tenants (name, quota, created_ms, updated_ms) VALUES ($1, '{}', $2, $2) ON CONFLICT (name) DO NOTHING",
        )
        .bind(name)
        .bind(now_ms)
        .execute(&self.write)
        .await?;
        self.tenant_by_name(name).await?.ok_or_else(|| StoreError::Corrupt(format!("tenant {name:?} vanished")))
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

    /// Sets a tenant's gateway limits (requests and tokens per minute, budget); every gateway
    /// replica picks the change up at its next refresh.
    pub async fn set_tenant_limits(&self, name: &str, limits_json: &str, now_ms: i64) -> Result<Option<TenantRow>> {
        let row = sqlx::query(&format!(
            "UPDATE tenants SET limits = $1, updated_ms = $2 WHERE name = $3 RETURNING {TENANT_COLUMNS}"
        ))
        .bind(limits_json)
        .bind(now_ms)
        .bind(name)
        .fetch_optional(&self.write)
        .await?;
        row.as_ref().map(TenantRow::decode).transpose()
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
