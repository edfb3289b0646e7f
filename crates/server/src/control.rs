//! The control loops: leader election and the scheduling loop that only the leader runs.
//!
//! With SQLite there is one server, and it leads. With PostgreSQL, every server tries to take a
//! session-level advisory lock on a connection of its own; the one that holds it schedules, the
//! others serve the API and try again every second. A leader that dies drops its connection,
//! PostgreSQL releases the lock, and a follower takes over.

use crate::state::{now_ms, AppState};
use sqlx::{Connection, Row};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};
use strata_sched::{Decisions, Placement};
use strata_store::Backend;
use tokio_util::sync::CancellationToken;

const LEADER_LOCK_KEY: i64 = 0x5374_7261_7461; // "Strata"

/// Runs until `stop` is cancelled: wins leadership, then schedules while it holds it.
pub async fn run(state: AppState, stop: CancellationToken) {
    loop {
        if stop.is_cancelled() {
            return;
        }
        match state.store.backend() {
            Backend::Sqlite => {
                state.leader.store(true, Ordering::Relaxed);
                state.metrics.leader.set(1);
                schedule_loop(&state, &stop, None).await;
                return;
            }
            Backend::Postgres => match try_lead(&state).await {
                Ok(Some(conn)) => {
                    tracing::info!("this server now runs the scheduler (advisory lock taken)");
                    state.leader.store(true, Ordering::Relaxed);
                    state.metrics.leader.set(1);
                    schedule_loop(&state, &stop, Some(conn)).await;
                    state.leader.store(false, Ordering::Relaxed);
                    state.metrics.leader.set(0);
                    tracing::warn!("this server no longer runs the scheduler");
                }
                Ok(None) => {}
                Err(e) => tracing::warn!(error = %e, "could not try the scheduler lock"),
            },
        }
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
        }
    }
}

async fn try_lead(state: &AppState) -> anyhow::Result<Option<sqlx::AnyConnection>> {
    let mut conn = state.store.dedicated_connection().await?.detach();
    let row =
        sqlx::query("SELECT pg_try_advisory_lock($1) AS locked").bind(LEADER_LOCK_KEY).fetch_one(&mut conn).await?;
    if row.try_get::<bool, _>("locked")? {
        Ok(Some(conn))
    } else {
        conn.close().await.ok();
        Ok(None)
    }
}

/// Schedules until stopped or, with a lock connection, until that connection fails.
async fn schedule_loop(state: &AppState, stop: &CancellationToken, mut lock: Option<sqlx::AnyConnection>) {
    let mut last_lock_check = Instant::now();
    loop {
        tokio::select! {
            _ = stop.cancelled() => {
                if let Some(conn) = lock.take() {
                    conn.close().await.ok();
                }
                return;
            }
            _ = state.wake.notified() => {}
            _ = tokio::time::sleep(state.timing.schedule_interval) => {}
        }
        if let Some(conn) = lock.as_mut() {
            if last_lock_check.elapsed() > Duration::from_secs(1) {
                if let Err(e) = conn.ping().await {
                    tracing::error!(error = %e, "lost the scheduler lock's connection");
                    return;
                }
                last_lock_check = Instant::now();
            }
        }
        if let Err(e) = cycle(state).await {
            tracing::error!(error = format!("{e:#}"), "scheduling cycle failed");
        }
    }
}

/// One cycle: retire silent nodes, read the state, decide, write the decisions.
pub async fn cycle(state: &AppState) -> anyhow::Result<()> {
    let started = Instant::now();
    let now = now_ms();
    let cutoff = now - state.timing.heartbeat_timeout.as_millis() as i64;
    for node in state.store.mark_stale_nodes(cutoff).await? {
        let jobs = state.store.lose_node_tasks(node.id, &[], "its node stopped answering heartbeats", now).await?;
        tracing::warn!(node = %node.name, jobs, "node not ready: no heartbeat");
    }
    let snapshot = state.store.sched_snapshot(now, now as u64).await?;
    if snapshot.input.pending.is_empty() {
        return Ok(());
    }
    let read_ms = started.elapsed().as_millis() as u64;
    let decisions: Decisions = strata_sched::schedule(&snapshot.input);
    let decide_ms = started.elapsed().as_millis() as u64 - read_ms;
    // Victims first: their tasks are marked stopped (agents kill them) before the jobs that
    // take their capacity are assigned. A crash in between leaves those jobs pending, to be
    // placed by the next cycle; nothing is lost.
    if !decisions.preemptions.is_empty() {
        let victims: Vec<_> = decisions.preemptions.iter().map(|p| (p.job, p.reason.clone())).collect();
        let n = state.store.preempt_jobs(&victims, now).await?;
        state.metrics.preemptions.inc_by(n as u64);
        for p in &decisions.preemptions {
            tracing::info!(job = %p.job, for_job = %p.for_job, reason = %p.reason, "preempted");
        }
    }
    let placements: Vec<(Placement, String)> = decisions
        .placements
        .into_iter()
        .map(|p| {
            let summary = summarize(&p, &snapshot.node_names);
            (p, summary)
        })
        .collect();
    let placed = state.store.apply_placements(&placements, now).await?;
    state.metrics.placements.inc_by(placed.len() as u64);
    let changed: Vec<_> = decisions
        .waiting
        .into_iter()
        .filter(|w| snapshot.reasons.get(&w.job).and_then(|r| r.as_deref()) != Some(w.reason.as_str()))
        .map(|w| (w.job, w.reason))
        .collect();
    state.store.set_reasons(&changed).await?;
    state.metrics.cycle_seconds.observe(started.elapsed().as_secs_f64());
    tracing::debug!(
        pending = snapshot.input.pending.len(),
        placed = placed.len(),
        reasons_changed = changed.len(),
        read_ms,
        decide_ms,
        total_ms = started.elapsed().as_millis() as u64,
        "scheduling cycle"
    );
    Ok(())
}

fn summarize(p: &Placement, names: &std::collections::BTreeMap<strata_domain::NodeId, String>) -> String {
    p.replicas
        .iter()
        .enumerate()
        .map(|(rank, r)| {
            let node = names.get(&r.node).map_or("?", String::as_str);
            if r.gpus.is_empty() {
                format!("rank {rank} on {node}")
            } else {
                let gpus: Vec<String> =
                    r.gpus
                        .iter()
                        .map(|g| {
                            if g.milli.0 == 1000 {
                                g.index.to_string()
                            } else {
                                format!("{}({}m)", g.index, g.milli.0)
                            }
                        })
                        .collect();
                format!("rank {rank} on {node} GPU {}", gpus.join(","))
            }
        })
        .collect::<Vec<_>>()
        .join("; ")
}
