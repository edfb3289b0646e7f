//! Tasks (one replica of one attempt on one node): placement, reports from agents, node loss,
//! and settling the job that owns them — each change one transaction.

use crate::jobs::{insert_event, insert_events};
use crate::rows::{JobRow, TaskRow, JOB_COLUMNS, TASK_COLUMNS};
use crate::{from_json, to_json, Params, Result, Store, ROWS_PER_STATEMENT};
use sqlx::{Any, Row, Transaction};
use strata_domain::lifecycle::{settle, TaskOutcome, Verdict};
use strata_domain::{JobId, NodeId, TaskState};
use strata_sched::Placement;

/// A task's state as an agent reported it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskUpdate {
    pub task_id: i64,
    pub state: TaskState,
    pub exit_code: Option<i32>,
    pub message: Option<String>,
    /// The port the task listens on, once the agent says.
    pub port: Option<u16>,
}

const TASK_FROM: &str = "FROM tasks k JOIN nodes n ON n.id = k.node_id";

impl Store {
    /// Tasks of one attempt of a job, in rank order.
    pub async fn tasks_of(&self, job: JobId, attempt: u32) -> Result<Vec<TaskRow>> {
        let rows = sqlx::query(&format!(
            "SELECT {TASK_COLUMNS} {TASK_FROM} WHERE k.job_id = $1 AND k.attempt = $2 ORDER BY k.replica"
        ))
        .bind(job.0)
        .bind(i64::from(attempt))
        .fetch_all(&self.read)
        .await?;
        rows.iter().map(TaskRow::decode).collect()
    }

    /// Tasks of several jobs' current attempts (for listing jobs with their placement).
    pub async fn current_tasks(&self, jobs: &[JobRow]) -> Result<Vec<TaskRow>> {
        let placed: Vec<&JobRow> = jobs.iter().filter(|j| j.attempt > 0).collect();
        if placed.is_empty() {
            return Ok(Vec::new());
        }
        // One query for the page: `job_id IN ($1, …)`, then keep each job's current attempt.
        let sql = format!(
            "SELECT {TASK_COLUMNS} {TASK_FROM} WHERE k.job_id IN ({}) ORDER BY k.job_id, k.replica",
            Params::new(self.backend()).list(placed.len())
        );
        let mut query = sqlx::query(&sql);
        for job in &placed {
            query = query.bind(job.id.0);
        }
        let rows = query.fetch_all(&self.read).await?;
        let mut tasks = Vec::with_capacity(rows.len());
        for row in &rows {
            let task = TaskRow::decode(row)?;
            if placed.iter().any(|j| j.id == task.job_id && j.attempt == task.attempt) {
                tasks.push(task);
            }
        }
        Ok(tasks)
    }

    pub async fn task(&self, id: i64) -> Result<Option<TaskRow>> {
        let row = sqlx::query(&format!("SELECT {TASK_COLUMNS} {TASK_FROM} WHERE k.id = $1"))
            .bind(id)
            .fetch_optional(&self.read)
            .await?;
        row.as_ref().map(TaskRow::decode).transpose()
    }

    /// Tasks on a node that its agent should run or is running.
    pub async fn node_tasks(&self, node: NodeId, ids: &[i64]) -> Result<Vec<TaskRow>> {
        let mut rows = sqlx::query(&format!(
            "SELECT {TASK_COLUMNS} {TASK_FROM} WHERE k.node_id = $1 AND k.state IN ('assigned', 'running')"
        ))
        .bind(node.0)
        .fetch_all(&self.read)
        .await?
        .iter()
        .map(TaskRow::decode)
        .collect::<Result<Vec<_>>>()?;
        for id in ids {
            if !rows.iter().any(|t| t.id == *id) {
                if let Some(task) = self.task(*id).await? {
                    rows.push(task);
                }
            }
        }
        Ok(rows)
    }

    /// Writes one scheduling cycle's placements: each job still pending becomes running with a
    /// new attempt and one task per replica. A job cancelled since the cycle read it is skipped.
    /// Returns the jobs placed, in placement order. One transaction; a few multi-row statements
    /// per [`ROWS_PER_STATEMENT`] jobs rather than three or more per job, since with thousands of
    /// placements per cycle the statements, not the rows, are what the commit costs.
    pub async fn apply_placements(&self, placements: &[(Placement, String)], now_ms: i64) -> Result<Vec<JobId>> {
        let mut tx = self.write.begin().await?;
        let mut placed = Vec::new();
        for chunk in placements.chunks(ROWS_PER_STATEMENT) {
            // Claim the jobs still pending; each claimed job's new attempt and its spec.
            let mut params = Params::new(self.backend());
            let sql = format!(
                "UPDATE jobs SET state = 'running', attempt = attempt + 1, reason = NULL, updated_ms = {} WHERE state = 'pending' AND id IN ({}) RETURNING id, attempt, spec",
                params.one(),
                params.list(chunk.len())
            );
            let mut claim = sqlx::query(&sql).bind(now_ms);
            for (p, _) in chunk {
                claim = claim.bind(p.job.0);
            }
            let mut claimed = std::collections::HashMap::new();
            for row in claim.fetch_all(&mut *tx).await? {
                let spec: strata_domain::JobSpec = from_json(&row.try_get::<String, _>("spec")?, "job spec")?;
                claimed.insert(row.try_get::<i64, _>("id")?, (row.try_get::<i64, _>("attempt")?, spec.resources));
            }
            let mut tasks = Vec::new();
            let mut events = Vec::new();
            for (placement, summary) in chunk {
                // `remove`: a job listed twice is placed once, as when each claim was its own UPDATE.
                let Some((attempt, resources)) = claimed.remove(&placement.job.0) else { continue };
                for (replica, at) in placement.replicas.iter().enumerate() {
                    let gpu_milli = at.gpus.iter().map(|g| i64::from(g.milli.0)).sum::<i64>();
                    tasks.push((
                        placement.job,
                        attempt,
                        replica as i64,
                        at.node,
                        to_json(&at.gpus)?,
                        resources.clone(),
                        gpu_milli,
                    ));
                }
                events.push((placement.job, format!("attempt {attempt}: {summary}")));
                placed.push(placement.job);
            }
            for rows in tasks.chunks(ROWS_PER_STATEMENT) {
                let mut params = Params::new(self.backend());
                let values: Vec<String> = (0..rows.len())
                    .map(|_| format!("({}, 'assigned', NULL, NULL, {})", params.list(8), params.list(2)))
                    .collect();
                let sql = format!(
                    "INSERT INTO tasks (job_id, attempt, replica, node_id, gpus, cpu_milli, memory_mib, gpu_milli, state, exit_code, message, created_ms, updated_ms) VALUES {}",
                    values.join(", ")
                );
                let mut insert = sqlx::query(&sql);
                for (job, attempt, replica, node, gpus, resources, gpu_milli) in rows {
                    insert = insert
                        .bind(job.0)
                        .bind(*attempt)
                        .bind(*replica)
                        .bind(node.0)
                        .bind(gpus.as_str())
                        .bind(resources.cpu_milli.0 as i64)
                        .bind(resources.memory_mib.0 as i64)
                        .bind(*gpu_milli)
                        .bind(now_ms)
                        .bind(now_ms);
                }
                insert.execute(&mut *tx).await?;
            }
            let events: Vec<(JobId, &str)> = events.iter().map(|(job, m)| (*job, m.as_str())).collect();
            insert_events(&mut tx, self.backend(), now_ms, "placed", &events).await?;
        }
        tx.commit().await?;
        Ok(placed)
    }

    /// Records why pending jobs wait; only rows whose reason changed are written, one statement
    /// per distinct reason and [`ROWS_PER_STATEMENT`] jobs (a long queue waits for few reasons).
    pub async fn set_reasons(&self, reasons: &[(JobId, String)]) -> Result<()> {
        if reasons.is_empty() {
            return Ok(());
        }
        let mut by_reason: std::collections::BTreeMap<&str, Vec<JobId>> = std::collections::BTreeMap::new();
        for (job, reason) in reasons {
            by_reason.entry(reason.as_str()).or_default().push(*job);
        }
        let mut tx = self.write.begin().await?;
        for (reason, jobs) in by_reason {
            for chunk in jobs.chunks(ROWS_PER_STATEMENT) {
                let mut params = Params::new(self.backend());
                let sql = format!(
                    "UPDATE jobs SET reason = {} WHERE state = 'pending' AND id IN ({})",
                    params.one(),
                    params.list(chunk.len())
                );
                let mut update = sqlx::query(&sql).bind(reason);
                for job in chunk {
                    update = update.bind(job.0);
                }
                update.execute(&mut *tx).await?;
            }
        }
        tx.commit().await?;
        Ok(())
    }

    /// Applies an agent's reports for tasks on `node` and settles the jobs they belong to.
    /// Reports for tasks that are already final, or not on this node, change nothing.
    pub async fn report_tasks(&self, node: NodeId, updates: &[TaskUpdate], now_ms: i64) -> Result<()> {
        let mut tx = self.write.begin().await?;
        let mut touched = Vec::new();
        for u in updates {
            let from = if u.state == TaskState::Running { "('assigned')" } else { "('assigned', 'running')" };
            let row = sqlx::query(&format!(
                "UPDATE tasks SET state = $1, exit_code = $2, message = $3, updated_ms = $4, port = COALESCE($7, port) WHERE id = $5 AND node_id = $6 AND state IN {from} RETURNING job_id"
            ))
            .bind(u.state.as_str())
            .bind(u.exit_code.map(i64::from))
            .bind(u.message.as_deref())
            .bind(now_ms)
            .bind(u.task_id)
            .bind(node.0)
            .bind(u.port.map(i64::from))
            .fetch_optional(&mut *tx)
            .await?;
            if let Some(row) = row {
                let job = JobId(row.try_get("job_id")?);
                if !touched.contains(&job) {
                    touched.push(job);
                }
            }
        }
        for job in touched {
            settle_job(&mut tx, job, now_ms).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Marks every active task on `node` lost (its node stopped answering or its agent restarted
    /// without them, `keep` excepted) and settles their jobs: requeued by their retry policy.
    pub async fn lose_node_tasks(&self, node: NodeId, keep: &[i64], message: &str, now_ms: i64) -> Result<usize> {
        let mut tx = self.write.begin().await?;
        let rows = sqlx::query("SELECT id, job_id FROM tasks WHERE node_id = $1 AND state IN ('assigned', 'running')")
            .bind(node.0)
            .fetch_all(&mut *tx)
            .await?;
        let mut jobs = Vec::new();
        for row in &rows {
            let id: i64 = row.try_get("id")?;
            if keep.contains(&id) {
                continue;
            }
            sqlx::query("UPDATE tasks SET state = 'lost', message = $1, updated_ms = $2 WHERE id = $3")
                .bind(message)
                .bind(now_ms)
                .bind(id)
                .execute(&mut *tx)
                .await?;
            let job = JobId(row.try_get("job_id")?);
            if !jobs.contains(&job) {
                jobs.push(job);
            }
        }
        for job in &jobs {
            settle_job(&mut tx, *job, now_ms).await?;
        }
        tx.commit().await?;
        Ok(jobs.len())
    }

    /// Stops running jobs the scheduler preempted and puts them back in the queue, without
    /// counting a failure (they did nothing wrong). Jobs no longer running are left alone.
    /// Returns how many were requeued.
    pub async fn preempt_jobs(&self, jobs: &[(JobId, String)], now_ms: i64) -> Result<usize> {
        let mut tx = self.write.begin().await?;
        let mut requeued = 0;
        for (job, reason) in jobs {
            let updated = sqlx::query(
                "UPDATE jobs SET state = 'pending', reason = $1, updated_ms = $2 WHERE id = $3 AND state = 'running'",
            )
            .bind(reason)
            .bind(now_ms)
            .bind(job.0)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if updated == 0 {
                continue;
            }
            stop_active_tasks(&mut tx, *job, "preempted", now_ms).await?;
            insert_event(&mut tx, *job, now_ms, "preempted", reason).await?;
            requeued += 1;
        }
        tx.commit().await?;
        Ok(requeued)
    }

    /// Moves every job with a task on `node` back to the queue without counting a failure
    /// (the operator drained the node; the work did nothing wrong).
    pub async fn evict_node(&self, node: NodeId, now_ms: i64) -> Result<usize> {
        let mut tx = self.write.begin().await?;
        let rows =
            sqlx::query("SELECT DISTINCT job_id FROM tasks WHERE node_id = $1 AND state IN ('assigned', 'running')")
                .bind(node.0)
                .fetch_all(&mut *tx)
                .await?;
        for row in &rows {
            let job = JobId(row.try_get("job_id")?);
            stop_active_tasks(&mut tx, job, "node drained", now_ms).await?;
            sqlx::query("UPDATE jobs SET state = 'pending', reason = 'requeued: its node was drained', updated_ms = $1 WHERE id = $2 AND state = 'running'")
                .bind(now_ms)
                .bind(job.0)
                .execute(&mut *tx)
                .await?;
            insert_event(&mut tx, job, now_ms, "requeued", "its node was drained").await?;
        }
        tx.commit().await?;
        Ok(rows.len())
    }
}

async fn stop_active_tasks(tx: &mut Transaction<'_, Any>, job: JobId, message: &str, now_ms: i64) -> Result<()> {
    sqlx::query("UPDATE tasks SET state = 'cancelled', message = $1, updated_ms = $2 WHERE job_id = $3 AND state IN ('assigned', 'running')")
        .bind(message)
        .bind(now_ms)
        .bind(job.0)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Brings a running job's state in line with its current attempt's tasks.
async fn settle_job(tx: &mut Transaction<'_, Any>, job: JobId, now_ms: i64) -> Result<()> {
    let row = sqlx::query(&format!(
        "SELECT {JOB_COLUMNS}, j.failures FROM jobs j JOIN tenants t ON t.id = j.tenant_id WHERE j.id = $1"
    ))
    .bind(job.0)
    .fetch_one(&mut **tx)
    .await?;
    let failures = row.try_get::<i64, _>("failures")? as u32;
    let job_row = JobRow::decode(&row)?;
    if job_row.state != strata_domain::JobState::Running {
        return Ok(());
    }
    let tasks = sqlx::query(&format!(
        "SELECT {TASK_COLUMNS} {TASK_FROM} WHERE k.job_id = $1 AND k.attempt = $2 ORDER BY k.replica"
    ))
    .bind(job.0)
    .bind(i64::from(job_row.attempt))
    .fetch_all(&mut **tx)
    .await?
    .iter()
    .map(TaskRow::decode)
    .collect::<Result<Vec<_>>>()?;
    let outcomes: Vec<TaskOutcome<'_>> = tasks
        .iter()
        .map(|t| TaskOutcome {
            replica: t.replica,
            node_name: &t.node_name,
            state: t.state,
            exit_code: t.exit_code,
            message: t.message.as_deref(),
        })
        .collect();
    let set_state = |state: &'static str, reason: Option<String>| {
        sqlx::query("UPDATE jobs SET state = $1, reason = $2, updated_ms = $3 WHERE id = $4")
            .bind(state)
            .bind(reason)
            .bind(now_ms)
            .bind(job.0)
    };
    match settle(&outcomes, failures, job_row.spec.max_retries) {
        Verdict::Unchanged | Verdict::Running => {}
        Verdict::Succeeded => {
            set_state("succeeded", None).execute(&mut **tx).await?;
            insert_event(tx, job, now_ms, "succeeded", "every replica exited with code 0").await?;
        }
        Verdict::Requeue { reason } => {
            stop_active_tasks(tx, job, "a sibling replica failed", now_ms).await?;
            set_state("pending", Some(format!("requeued: {reason}"))).execute(&mut **tx).await?;
            sqlx::query("UPDATE jobs SET failures = failures + 1 WHERE id = $1").bind(job.0).execute(&mut **tx).await?;
            insert_event(tx, job, now_ms, "requeued", &reason).await?;
        }
        Verdict::Failed { reason } => {
            stop_active_tasks(tx, job, "a sibling replica failed", now_ms).await?;
            set_state("failed", Some(reason.clone())).execute(&mut **tx).await?;
            insert_event(tx, job, now_ms, "failed", &reason).await?;
        }
    }
    Ok(())
}
