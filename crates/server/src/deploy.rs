//! The deployment reconciler, run by the leader: sizes each deployment from its load (the pure
//! autoscaler in `strata-gateway-core`), keeps one job per replica, checks the replicas' health,
//! and replaces a replica that stops answering.
//!
//! A replica is a job like any other, so the scheduler places it (by the memory the registry
//! estimates for the model) and every wait has a reason. A replica is routed to only once its
//! `/healthz` answers; one that fails `UNHEALTHY_AFTER` checks in a row is taken out of rotation
//! and its job cancelled, and the next round submits a replacement.

use crate::routes::parse_spec;
use crate::state::{now_ms, AppState};
use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::time::Duration;
use strata_api::deployments::DeploymentSpec;
use strata_domain::{CpuMillis, GpuRequest, JobSpec, MemoryMib, ReplicaResources, TenantId};
use strata_gateway_core::{desired_replicas, ScaleInput, ScalePolicy};
use strata_store::{DeploymentRow, NewJob, ReplicaRow};
use tokio_util::sync::CancellationToken;

/// A gateway's load report counts while it is younger than this.
pub const LOAD_FRESH_MS: i64 = 5_000;
const UNHEALTHY_AFTER: u32 = 3;
/// A replica that never answers its health check within this long is replaced.
const STARTUP_TIMEOUT_MS: i64 = 600_000;
const HEALTH_TIMEOUT: Duration = Duration::from_secs(2);
/// Scheduling priority of serving replicas: above the default training job.
const REPLICA_PRIORITY: i32 = 100;

/// The command an agent runs for a replica. `strata` is the agent's own binary; `{port}` and
/// `{host}` are filled in by the agent with the port it chose and the node's address.
pub fn replica_command(name: &str, spec: &DeploymentSpec) -> Vec<String> {
    let s = |v: &str| v.to_string();
    match spec.backend.as_str() {
        "vllm" => vec![
            s("python3"),
            s("-m"),
            s("vllm.entrypoints.openai.api_server"),
            s("--model"),
            spec.model.clone(),
            s("--served-model-name"),
            s(name),
            s("--host"),
            s("{host}"),
            s("--port"),
            s("{port}"),
        ],
        "sglang" => vec![
            s("python3"),
            s("-m"),
            s("sglang.launch_server"),
            s("--model-path"),
            spec.model.clone(),
            s("--served-model-name"),
            s(name),
            s("--host"),
            s("{host}"),
            s("--port"),
            s("{port}"),
        ],
        "llama.cpp" => vec![
            s("llama-server"),
            s("-m"),
            spec.model.clone(),
            s("--alias"),
            s(name),
            s("--host"),
            s("{host}"),
            s("--port"),
            s("{port}"),
            s("-t"),
            spec.threads.to_string(),
            s("-c"),
            spec.context.to_string(),
            s("-np"),
            spec.slots.to_string(),
        ],
        _ => vec![
            s("strata"),
            s("serve"),
            spec.model.clone(),
            s("--name"),
            s(name),
            s("--host"),
            s("{host}"),
            s("--port"),
            s("{port}"),
            s("--threads"),
            spec.threads.to_string(),
            s("--context"),
            spec.context.to_string(),
            s("--slots"),
            spec.slots.to_string(),
        ],
    }
}

/// The node label an agent sets when it finds an engine installed (see `strata-agent`), which a
/// replica of that engine requires; the built-in server runs anywhere.
pub fn engine_label(backend: &str) -> Option<(String, String)> {
    (backend != "builtin").then(|| (format!("engine.{backend}"), "yes".to_string()))
}

fn replica_job(row: &DeploymentRow, spec: &DeploymentSpec) -> NewJob {
    NewJob {
        tenant: TenantId(row.tenant_id),
        tenant_name: row.tenant_name.clone(),
        spec: JobSpec {
            name: format!("deploy-{}", row.name),
            command: replica_command(&row.name, spec),
            env: Default::default(),
            workdir: None,
            replicas: 1,
            resources: ReplicaResources {
                cpu_milli: CpuMillis(spec.cpu_milli),
                memory_mib: MemoryMib(spec.memory_mib),
                gpu_milli: GpuRequest::try_from(spec.gpu_milli).unwrap_or(GpuRequest::None),
                gpu_models: spec.gpu_models.clone(),
                preferred_gpu_models: Vec::new(),
                node_labels: engine_label(&spec.backend).into_iter().collect(),
                // The replicas are separate jobs; one spread group per deployment makes the
                // limit count all of them on each node. By id too: the replicas of a deleted
                // deployment of the same name, still stopping, are not this one's.
                max_replicas_per_node: spec.max_replicas_per_node,
                spread_group: spec.max_replicas_per_node.map(|_| format!("deployment {} #{}", row.name, row.id)),
            },
            priority: REPLICA_PRIORITY,
            max_retries: 100,
            checkpoint_dir: None,
            preemptible: true,
            runtime_estimate_s: None,
        },
        idempotency_key: None,
        deployment_id: Some(row.id),
    }
}

fn policy(spec: &DeploymentSpec) -> ScalePolicy {
    ScalePolicy {
        min: spec.min_replicas,
        max: spec.max_replicas,
        target_in_flight: spec.target_in_flight,
        scale_down_after_ms: 30_000,
        idle_to_zero_ms: spec.idle_to_zero_s as i64 * 1000,
    }
}

/// Runs while the server lives; acts only while it leads.
pub async fn run(state: AppState, stop: CancellationToken) {
    let client = match reqwest::Client::builder().timeout(HEALTH_TIMEOUT).build() {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "no HTTP client for health checks; deployments are not reconciled");
            return;
        }
    };
    let mut failures: HashMap<i64, u32> = HashMap::new();
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = state.deploy_wake.notified() => {}
            _ = tokio::time::sleep(state.timing.schedule_interval) => {}
        }
        if !state.leader.load(Ordering::Relaxed) {
            continue;
        }
        if let Err(e) = reconcile(&state).await {
            tracing::error!(error = format!("{e:#}"), "deployment reconcile failed");
        }
        if let Err(e) = check_health(&state, &client, &mut failures).await {
            tracing::error!(error = format!("{e:#}"), "replica health checks failed");
        }
    }
}

/// One round: scale, then make the jobs match the replica count.
pub async fn reconcile(state: &AppState) -> anyhow::Result<()> {
    let now = now_ms();
    let mut submitted = false;
    for row in state.store.deployments().await? {
        let spec = parse_spec(&row).map_err(|e| anyhow::anyhow!("{e:?}"))?;
        if !spec.endpoints.is_empty() {
            // Served elsewhere: no jobs, no scaling.
            continue;
        }
        let load = state.store.deployment_load(row.id, now - LOAD_FRESH_MS).await?;
        let input = ScaleInput {
            current: row.replicas,
            in_flight: load.in_flight,
            last_request_ms: load.last_request_ms,
            last_change_ms: row.last_scale_ms,
            now_ms: now,
        };
        let want = desired_replicas(&policy(&spec), &input);
        if want != row.replicas {
            tracing::info!(deployment = %row.name, from = row.replicas, to = want, in_flight = load.in_flight, "autoscaling");
            state.store.set_deployment_replicas(row.id, want, now).await?;
        }
        let jobs = state.store.deployment_jobs(row.id).await?;
        let have = jobs.len() as u32;
        if have < want {
            let new: Vec<NewJob> = (have..want).map(|_| replica_job(&row, &spec)).collect();
            state.store.insert_jobs(&new, now).await?;
            submitted = true;
        } else if have > want {
            // Pending replicas go first, then the newest running ones.
            let mut extra: Vec<_> = jobs.iter().filter(|(_, s)| s == "pending").map(|(j, _)| *j).collect();
            extra.extend(jobs.iter().rev().filter(|(_, s)| s != "pending").map(|(j, _)| *j));
            for job in extra.into_iter().take((have - want) as usize) {
                state.store.cancel_job(job, now).await?;
            }
        }
    }
    for job in state.store.orphaned_deployment_jobs().await? {
        state.store.cancel_job(job, now).await?;
    }
    if submitted {
        state.wake.notify_one();
    }
    Ok(())
}

async fn check_health(
    state: &AppState,
    client: &reqwest::Client,
    failures: &mut HashMap<i64, u32>,
) -> anyhow::Result<()> {
    let replicas: Vec<ReplicaRow> = state.store.replicas().await?.into_iter().filter(|r| r.port.is_some()).collect();
    let checks = replicas.iter().map(|r| {
        let url = format!("http://{}:{}/healthz", r.address, r.port.unwrap_or_default());
        let client = client.clone();
        async move { client.get(url).send().await.is_ok_and(|resp| resp.status().is_success()) }
    });
    let results = futures::future::join_all(checks).await;
    let now = now_ms();
    failures.retain(|task, _| replicas.iter().any(|r| r.task_id == *task));
    for (replica, healthy) in replicas.iter().zip(results) {
        if healthy {
            failures.remove(&replica.task_id);
            if !replica.ready {
                tracing::info!(task = replica.task_id, node = %replica.node_name, "replica ready");
                state.store.set_task_ready(replica.task_id, true).await?;
            }
            continue;
        }
        let count = failures.entry(replica.task_id).or_default();
        *count += 1;
        let timed_out = !replica.ready && now - replica.started_ms > STARTUP_TIMEOUT_MS;
        if (replica.ready && *count >= UNHEALTHY_AFTER) || timed_out {
            tracing::warn!(task = replica.task_id, node = %replica.node_name, "replica unhealthy: out of rotation, replacing it");
            state.store.set_task_ready(replica.task_id, false).await?;
            state.store.cancel_job(strata_domain::JobId(replica.job_id), now).await?;
            state.deploy_wake.notify_one();
        }
    }
    Ok(())
}
