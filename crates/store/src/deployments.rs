//! Deployments: models served through the gateway, each backed by one job per replica. The
//! store keeps the document and the replica count asked for; the leader's reconciler turns the
//! count into jobs, and gateways read the replicas that run.

use crate::{Result, Store, StoreError};
use sqlx::any::AnyRow;
use sqlx::Row;
use strata_domain::JobId;

#[derive(Debug, Clone, PartialEq)]
pub struct DeploymentRow {
    pub id: i64,
    pub name: String,
    pub tenant_id: i64,
    pub tenant_name: String,
    /// The deployment document (`strata_api::deployments::DeploymentSpec` as JSON).
    pub spec_json: String,
    /// Replicas asked for now (by a person or the autoscaler).
    pub replicas: u32,
    pub last_scale_ms: i64,
    pub created_ms: i64,
    pub updated_ms: i64,
}

const DEPLOYMENT_COLUMNS: &str =
    "d.id, d.name, d.tenant_id, t.name AS tenant_name, d.spec, d.replicas, d.last_scale_ms, d.created_ms, d.updated_ms";
const DEPLOYMENT_FROM: &str = "deployments d JOIN tenants t ON t.id = d.tenant_id";

impl DeploymentRow {
    fn decode(row: &AnyRow) -> Result<Self> {
        Ok(DeploymentRow {
            id: row.try_get("id")?,
            name: row.try_get("name")?,
            tenant_id: row.try_get("tenant_id")?,
            tenant_name: row.try_get("tenant_name")?,
            spec_json: row.try_get("spec")?,
            replicas: row.try_get::<i64, _>("replicas")? as u32,
            last_scale_ms: row.try_get("last_scale_ms")?,
            created_ms: row.try_get("created_ms")?,
            updated_ms: row.try_get("updated_ms")?,
        })
    }
}

/// A replica a gateway may route to: a running task of a deployment's job with its address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplicaRow {
    pub deployment_id: i64,
    pub job_id: i64,
    pub task_id: i64,
    pub node_name: String,
    pub address: String,
    pub port: Option<u16>,
    /// The leader's health check passes.
    pub ready: bool,
    pub started_ms: i64,
}

/// The summed load gateways reported for a deployment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DeploymentLoad {
    pub in_flight: u32,
    pub last_request_ms: Option<i64>,
}

impl Store {
    /// Creates a deployment; a live deployment with the same name is a `Conflict`.
    pub async fn create_deployment(
        &self,
        name: &str,
        tenant_id: i64,
        spec_json: &str,
        replicas: u32,
        now_ms: i64,
    ) -> Result<DeploymentRow> {
        let mut tx = self.write.begin().await?;
        let taken = sqlx::query("SELECT id FROM deployments WHERE name = $1 AND deleted_ms IS NULL")
            .bind(name)
            .fetch_optional(&mut *tx)
            .await?;
        if taken.is_some() {
            return Err(StoreError::Conflict(format!("deployment {name:?}")));
        }
        let inserted = sqlx::query(
            "INSERT INTO deployments (name, tenant_id, spec, replicas, last_scale_ms, created_ms, updated_ms) \
             VALUES ($1, $2, $3, $4, $5, $5, $5) RETURNING id",
        )
        .bind(name)
        .bind(tenant_id)
        .bind(spec_json)
        .bind(i64::from(replicas))
        .bind(now_ms)
        .fetch_one(&mut *tx)
        .await;
        let id: i64 = match inserted {
            Ok(row) => row.try_get("id")?,
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
                return Err(StoreError::Conflict(format!("deployment {name:?}")))
            }
            Err(e) => return Err(e.into()),
        };
        tx.commit().await?;
        self.deployment_by_id(id).await?.ok_or_else(|| StoreError::Corrupt(format!("deployment {id} vanished")))
    }

    pub async fn deployment_by_id(&self, id: i64) -> Result<Option<DeploymentRow>> {
        let row = sqlx::query(&format!("SELECT {DEPLOYMENT_COLUMNS} FROM {DEPLOYMENT_FROM} WHERE d.id = $1"))
            .bind(id)
            .fetch_optional(&self.read)
            .await?;
        row.as_ref().map(DeploymentRow::decode).transpose()
    }

    /// The live deployment with this name.
    pub async fn deployment(&self, name: &str) -> Result<Option<DeploymentRow>> {
        let row = sqlx::query(&format!(
            "SELECT {DEPLOYMENT_COLUMNS} FROM {DEPLOYMENT_FROM} WHERE d.name = $1 AND d.deleted_ms IS NULL"
        ))
        .bind(name)
        .fetch_optional(&self.read)
        .await?;
        row.as_ref().map(DeploymentRow::decode).transpose()
    }

    /// Live deployments, by name.
    pub async fn deployments(&self) -> Result<Vec<DeploymentRow>> {
        let rows = sqlx::query(&format!(
            "SELECT {DEPLOYMENT_COLUMNS} FROM {DEPLOYMENT_FROM} WHERE d.deleted_ms IS NULL ORDER BY d.name"
        ))
        .fetch_all(&self.read)
        .await?;
        rows.iter().map(DeploymentRow::decode).collect()
    }

    pub async fn update_deployment_spec(&self, id: i64, spec_json: &str, now_ms: i64) -> Result<()> {
        sqlx::query("UPDATE deployments SET spec = $1, updated_ms = $2 WHERE id = $3")
            .bind(spec_json)
            .bind(now_ms)
            .bind(id)
            .execute(&self.write)
            .await?;
        Ok(())
    }

    /// Sets the replica count asked for; a no-op (and no timestamp change) when it is already so.
    pub async fn set_deployment_replicas(&self, id: i64, replicas: u32, now_ms: i64) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE deployments SET replicas = $1, last_scale_ms = $2, updated_ms = $2 WHERE id = $3 AND replicas <> $1",
        )
        .bind(i64::from(replicas))
        .bind(now_ms)
        .bind(id)
        .execute(&self.write)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Marks a deployment deleted; the reconciler stops its replicas.
    pub async fn delete_deployment(&self, id: i64, now_ms: i64) -> Result<()> {
        sqlx::query("UPDATE deployments SET deleted_ms = $1, replicas = 0, updated_ms = $1 WHERE id = $2")
            .bind(now_ms)
            .bind(id)
            .execute(&self.write)
            .await?;
        Ok(())
    }

    /// Ids and states of a deployment's pending and running jobs, oldest first; and of jobs of
    /// deleted deployments, which the reconciler stops.
    pub async fn deployment_jobs(&self, deployment_id: i64) -> Result<Vec<(JobId, String)>> {
        let rows = sqlx::query(
            "SELECT id, state FROM jobs WHERE deployment_id = $1 AND state IN ('pending', 'running') ORDER BY id",
        )
        .bind(deployment_id)
        .fetch_all(&self.read)
        .await?;
        rows.iter().map(|r| Ok((JobId(r.try_get("id")?), r.try_get("state")?))).collect()
    }

    /// Active jobs whose deployment was deleted.
    pub async fn orphaned_deployment_jobs(&self) -> Result<Vec<JobId>> {
        let rows = sqlx::query(
            "SELECT j.id FROM jobs j JOIN deployments d ON d.id = j.deployment_id \
             WHERE d.deleted_ms IS NOT NULL AND j.state IN ('pending', 'running')",
        )
        .fetch_all(&self.read)
        .await?;
        rows.iter().map(|r| Ok(JobId(r.try_get("id")?))).collect()
    }

    /// Every running replica of every live deployment, with where it listens.
    pub async fn replicas(&self) -> Result<Vec<ReplicaRow>> {
        let rows = sqlx::query(
            "SELECT j.deployment_id, k.job_id, k.id AS task_id, n.name AS node_name, n.address, k.port, k.ready, k.created_ms \
             FROM tasks k JOIN jobs j ON j.id = k.job_id JOIN nodes n ON n.id = k.node_id \
             JOIN deployments d ON d.id = j.deployment_id \
             WHERE d.deleted_ms IS NULL AND k.state = 'running' ORDER BY k.id",
        )
        .fetch_all(&self.read)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(ReplicaRow {
                    deployment_id: r.try_get("deployment_id")?,
                    job_id: r.try_get("job_id")?,
                    task_id: r.try_get("task_id")?,
                    node_name: r.try_get("node_name")?,
                    address: r.try_get("address")?,
                    port: r.try_get::<Option<i64>, _>("port")?.map(|p| p as u16),
                    ready: r.try_get::<i64, _>("ready")? != 0,
                    started_ms: r.try_get("created_ms")?,
                })
            })
            .collect()
    }

    pub async fn set_task_ready(&self, task_id: i64, ready: bool) -> Result<()> {
        sqlx::query("UPDATE tasks SET ready = $1 WHERE id = $2")
            .bind(ready as i64)
            .bind(task_id)
            .execute(&self.write)
            .await?;
        Ok(())
    }

    /// Records what one gateway sees of a deployment's load now.
    pub async fn report_deployment_load(
        &self,
        gateway: &str,
        loads: &[(i64, DeploymentLoad)],
        now_ms: i64,
    ) -> Result<()> {
        if loads.is_empty() {
            return Ok(());
        }
        let mut tx = self.write.begin().await?;
        for (deployment_id, load) in loads {
            sqlx::query(
                "INSERT INTO deployment_load (deployment_id, gateway, in_flight, last_request_ms, updated_ms) VALUES ($1, $2, $3, $4, $5) \
                 ON CONFLICT (deployment_id, gateway) DO UPDATE SET in_flight = $3, last_request_ms = $4, updated_ms = $5",
            )
            .bind(deployment_id)
            .bind(gateway)
            .bind(i64::from(load.in_flight))
            .bind(load.last_request_ms)
            .bind(now_ms)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// The load of a deployment summed over gateways that reported since `fresh_since_ms`
    /// (for in-flight requests) and over all of them (for the last request time).
    pub async fn deployment_load(&self, deployment_id: i64, fresh_since_ms: i64) -> Result<DeploymentLoad> {
        let row = sqlx::query(
            "SELECT CAST(COALESCE(SUM(CASE WHEN updated_ms >= $2 THEN in_flight ELSE 0 END), 0) AS BIGINT) AS in_flight, \
             MAX(last_request_ms) AS last_request_ms FROM deployment_load WHERE deployment_id = $1",
        )
        .bind(deployment_id)
        .bind(fresh_since_ms)
        .fetch_one(&self.read)
        .await?;
        Ok(DeploymentLoad {
            in_flight: row.try_get::<i64, _>("in_flight")?.max(0) as u32,
            last_request_ms: row.try_get("last_request_ms")?,
        })
    }
}
