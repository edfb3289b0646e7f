//! Jobs: submission, queries, events, cancellation.

use crate::rows::{EventRow, JobRow, JOB_COLUMNS};
use crate::{to_json, Backend, Params, Result, Store, StoreError, ROWS_PER_STATEMENT};
use sqlx::{Any, Row, Transaction};
use std::collections::{HashMap, VecDeque};
use strata_domain::{JobId, JobSpec, JobState, TenantId};

/// A job to insert.
#[derive(Debug, Clone)]
pub struct NewJob {
    pub tenant: TenantId,
    pub tenant_name: String,
    pub spec: JobSpec,
    pub idempotency_key: Option<String>,
    /// The deployment this job is a replica of.
    pub deployment_id: Option<i64>,
}

/// Filters for listing jobs, newest first.
#[derive(Debug, Clone, Default)]
pub struct JobFilter {
    pub tenant: Option<TenantId>,
    pub state: Option<JobState>,
    pub name_contains: Option<String>,
    /// Only ids below this one (the next page).
    pub before_id: Option<i64>,
    pub limit: i64,
}

impl Store {
    /// Inserts jobs in one transaction (one commit for a whole batch is what makes bulk
    /// submission fast). A job whose idempotency key the tenant used before is not inserted
    /// again; the first job with that key is returned in its place.
    pub async fn insert_jobs(&self, jobs: &[NewJob], now_ms: i64) -> Result<Vec<JobRow>> {
        let mut tx = self.write.begin().await?;
        let mut rows = Vec::with_capacity(jobs.len());
        let mut rest = jobs;
        while let Some(first) = rest.first() {
            // Jobs without an idempotency key cannot conflict: runs of them go in multi-row
            // statements. A keyed job may name an earlier one, so it is inserted alone.
            let run = rest.iter().take(ROWS_PER_STATEMENT).take_while(|j| j.idempotency_key.is_none()).count();
            if run == 0 {
                rows.push(insert_keyed(&mut tx, first, now_ms).await?);
                rest = &rest[1..];
                continue;
            }
            let (unkeyed, after) = rest.split_at(run);
            rows.extend(insert_unkeyed(&mut tx, self.backend(), unkeyed, now_ms).await?);
            rest = after;
        }
        tx.commit().await?;
        Ok(rows)
    }

    pub async fn job(&self, id: JobId) -> Result<Option<JobRow>> {
        let row = sqlx::query(&format!(
            "SELECT {JOB_COLUMNS} FROM jobs j JOIN tenants t ON t.id = j.tenant_id WHERE j.id = $1"
        ))
        .bind(id.0)
        .fetch_optional(&self.read)
        .await?;
        row.as_ref().map(JobRow::decode).transpose()
    }

    pub async fn jobs(&self, filter: &JobFilter) -> Result<Vec<JobRow>> {
        let mut sql = format!("SELECT {JOB_COLUMNS} FROM jobs j JOIN tenants t ON t.id = j.tenant_id WHERE 1 = 1");
        let mut n = 0;
        let mut next = || {
            n += 1;
            format!("${n}")
        };
        if filter.tenant.is_some() {
            sql += &format!(" AND j.tenant_id = {}", next());
        }
        if filter.state.is_some() {
            sql += &format!(" AND j.state = {}", next());
        }
        if filter.name_contains.is_some() {
            sql += &format!(" AND j.name LIKE {}", next());
        }
        if filter.before_id.is_some() {
            sql += &format!(" AND j.id < {}", next());
        }
        sql += &format!(" ORDER BY j.id DESC LIMIT {}", next());
        let mut query = sqlx::query(&sql);
        if let Some(t) = filter.tenant {
            query = query.bind(t.0);
        }
        if let Some(s) = filter.state {
            query = query.bind(s.as_str());
        }
        if let Some(name) = &filter.name_contains {
            query = query.bind(format!("%{name}%"));
        }
        if let Some(id) = filter.before_id {
            query = query.bind(id);
        }
        let rows = query.bind(filter.limit).fetch_all(&self.read).await?;
        rows.iter().map(JobRow::decode).collect()
    }

    /// Counts jobs per state, for metrics.
    pub async fn job_counts(&self) -> Result<Vec<(String, i64)>> {
        let rows = sqlx::query("SELECT state, COUNT(*) AS n FROM jobs GROUP BY state").fetch_all(&self.read).await?;
        rows.iter().map(|r| Ok((r.try_get::<String, _>("state")?, r.try_get::<i64, _>("n")?))).collect()
    }

    /// Pending and running jobs per tenant, for the fleet history's queue chart.
    pub async fn active_job_counts_by_tenant(&self) -> Result<Vec<(TenantId, u32, u32)>> {
        let rows = sqlx::query(
            "SELECT tenant_id, \
                    CAST(SUM(CASE WHEN state = 'pending' THEN 1 ELSE 0 END) AS BIGINT) AS pending, \
                    CAST(SUM(CASE WHEN state = 'running' THEN 1 ELSE 0 END) AS BIGINT) AS running \
             FROM jobs WHERE state IN ('pending', 'running') GROUP BY tenant_id ORDER BY tenant_id",
        )
        .fetch_all(&self.read)
        .await?;
        rows.iter()
            .map(|r| {
                let n = |c: &str| r.try_get::<i64, _>(c).map(|v| v.max(0) as u32);
                Ok((TenantId(r.try_get("tenant_id")?), n("pending")?, n("running")?))
            })
            .collect()
    }

    pub async fn events(&self, job: JobId) -> Result<Vec<EventRow>> {
        let rows = sqlx::query("SELECT at_ms, kind, message FROM job_events WHERE job_id = $1 ORDER BY id")
            .bind(job.0)
            .fetch_all(&self.read)
            .await?;
        rows.iter()
            .map(|r| {
                Ok(EventRow { at_ms: r.try_get("at_ms")?, kind: r.try_get("kind")?, message: r.try_get("message")? })
            })
            .collect()
    }

    /// Cancels a job that has not finished: the job becomes `cancelled` and its active tasks
    /// are marked cancelled, which their agents learn at the next heartbeat. Returns the job
    /// as it is afterwards; a finished job is returned unchanged.
    pub async fn cancel_job(&self, id: JobId, now_ms: i64) -> Result<Option<JobRow>> {
        let mut tx = self.write.begin().await?;
        let done = sqlx::query("UPDATE jobs SET state = 'cancelled', reason = NULL, updated_ms = $1 WHERE id = $2 AND state IN ('pending', 'running')")
            .bind(now_ms)
            .bind(id.0)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 1 {
            sqlx::query("UPDATE tasks SET state = 'cancelled', message = 'job cancelled', updated_ms = $1 WHERE job_id = $2 AND state IN ('assigned', 'running')")
                .bind(now_ms)
                .bind(id.0)
                .execute(&mut *tx)
                .await?;
            insert_event(&mut tx, id, now_ms, "cancelled", "job cancelled").await?;
        }
        tx.commit().await?;
        self.job(id).await
    }
}

/// A job just inserted, as the API shows it.
fn new_row(job: &NewJob, id: JobId, now_ms: i64) -> JobRow {
    JobRow {
        id,
        tenant_id: job.tenant,
        tenant_name: job.tenant_name.clone(),
        spec: job.spec.clone(),
        state: JobState::Pending,
        priority: job.spec.priority,
        attempt: 0,
        reason: None,
        created_ms: now_ms,
        updated_ms: now_ms,
    }
}

/// Inserts a job with an idempotency key, or returns the tenant's earlier job with that key.
async fn insert_keyed(tx: &mut Transaction<'_, Any>, job: &NewJob, now_ms: i64) -> Result<JobRow> {
    let inserted = sqlx::query(
        "INSERT INTO jobs (tenant_id, name, spec, state, priority, attempt, failures, reason, idempotency_key, created_ms, updated_ms, deployment_id) \
         VALUES ($1, $2, $3, 'pending', $4, 0, 0, NULL, $5, $6, $6, $7) \
         ON CONFLICT (tenant_id, idempotency_key) DO NOTHING RETURNING id",
    )
    .bind(job.tenant.0)
    .bind(&job.spec.name)
    .bind(to_json(&job.spec)?)
    .bind(i64::from(job.spec.priority))
    .bind(job.idempotency_key.as_deref())
    .bind(now_ms)
    .bind(job.deployment_id)
    .fetch_optional(&mut **tx)
    .await?;
    match inserted {
        Some(row) => {
            let id = JobId(row.try_get("id")?);
            insert_event(tx, id, now_ms, "submitted", "job submitted").await?;
            Ok(new_row(job, id, now_ms))
        }
        // The tenant used this idempotency key before: answer with that job.
        None => {
            let row = sqlx::query(&format!(
                "SELECT {JOB_COLUMNS} FROM jobs j JOIN tenants t ON t.id = j.tenant_id WHERE j.tenant_id = $1 AND j.idempotency_key = $2"
            ))
            .bind(job.tenant.0)
            .bind(job.idempotency_key.as_deref())
            .fetch_one(&mut **tx)
            .await?;
            JobRow::decode(&row)
        }
    }
}

/// Inserts jobs without idempotency keys in one statement, and their `submitted` events in
/// another. The order RETURNING lists the new rows in is not promised, so each id is paired
/// with its job by content (tenant and spec; rows alike in both are interchangeable), the
/// smallest id to the first such job.
async fn insert_unkeyed(
    tx: &mut Transaction<'_, Any>,
    backend: Backend,
    jobs: &[NewJob],
    now_ms: i64,
) -> Result<Vec<JobRow>> {
    let mut params = Params::new(backend);
    let values: Vec<String> = (0..jobs.len())
        .map(|_| format!("({}, 'pending', {}, 0, 0, NULL, NULL, {})", params.list(3), params.one(), params.list(3)))
        .collect();
    let sql = format!(
        "INSERT INTO jobs (tenant_id, name, spec, state, priority, attempt, failures, reason, idempotency_key, created_ms, updated_ms, deployment_id) VALUES {} RETURNING id, tenant_id, spec",
        values.join(", ")
    );
    let specs = jobs.iter().map(|j| to_json(&j.spec)).collect::<Result<Vec<String>>>()?;
    let mut insert = sqlx::query(&sql);
    for (job, spec) in jobs.iter().zip(&specs) {
        insert = insert
            .bind(job.tenant.0)
            .bind(job.spec.name.as_str())
            .bind(spec.as_str())
            .bind(i64::from(job.spec.priority))
            .bind(now_ms)
            .bind(now_ms)
            .bind(job.deployment_id);
    }
    let mut returned = Vec::with_capacity(jobs.len());
    for row in insert.fetch_all(&mut **tx).await? {
        returned.push((
            row.try_get::<i64, _>("id")?,
            row.try_get::<i64, _>("tenant_id")?,
            row.try_get::<String, _>("spec")?,
        ));
    }
    returned.sort_unstable_by_key(|r| r.0);
    let mut by_content: HashMap<(i64, String), VecDeque<i64>> = HashMap::new();
    for (id, tenant, spec) in returned {
        by_content.entry((tenant, spec)).or_default().push_back(id);
    }
    let mut ids = Vec::with_capacity(jobs.len());
    for (job, spec) in jobs.iter().zip(specs) {
        let id = by_content.get_mut(&(job.tenant.0, spec)).and_then(VecDeque::pop_front).ok_or_else(|| {
            StoreError::Corrupt(format!("job {:?} was inserted but its row was not returned", job.spec.name))
        })?;
        ids.push(JobId(id));
    }
    let events: Vec<(JobId, &str)> = ids.iter().map(|&id| (id, "job submitted")).collect();
    insert_events(tx, backend, now_ms, "submitted", &events).await?;
    Ok(jobs.iter().zip(ids).map(|(job, id)| new_row(job, id, now_ms)).collect())
}

/// One event per job, of one kind at one time, in multi-row statements.
pub(crate) async fn insert_events(
    tx: &mut Transaction<'_, Any>,
    backend: Backend,
    at_ms: i64,
    kind: &str,
    events: &[(JobId, &str)],
) -> Result<()> {
    for chunk in events.chunks(ROWS_PER_STATEMENT) {
        let mut params = Params::new(backend);
        let values: Vec<String> = (0..chunk.len()).map(|_| format!("({})", params.list(4))).collect();
        let sql = format!("INSERT INTO job_events (job_id, at_ms, kind, message) VALUES {}", values.join(", "));
        let mut insert = sqlx::query(&sql);
        for (job, message) in chunk {
            insert = insert.bind(job.0).bind(at_ms).bind(kind).bind(*message);
        }
        insert.execute(&mut **tx).await?;
    }
    Ok(())
}

pub(crate) async fn insert_event(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    job: JobId,
    at_ms: i64,
    kind: &str,
    message: &str,
) -> Result<()> {
    sqlx::query("INSERT INTO job_events (job_id, at_ms, kind, message) VALUES ($1, $2, $3, $4)")
        .bind(job.0)
        .bind(at_ms)
        .bind(kind)
        .bind(message)
        .execute(&mut **tx)
        .await?;
    Ok(())
}
