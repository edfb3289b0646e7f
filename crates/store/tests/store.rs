//! The repository against a real database: SQLite, or PostgreSQL when `DATABASE_URL` is set.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use strata_domain::{CpuMillis, GpuRequest, Inventory, JobSpec, JobState, MemoryMib, ReplicaResources, TaskState};
use strata_sched::{GpuAssignment, Placement, ReplicaPlacement};
use strata_store::{fresh_database_url, JobFilter, NewJob, Store, TaskUpdate};

async fn store() -> (Store, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let url = fresh_database_url(dir.path()).await.unwrap();
    (Store::connect(&url).await.unwrap(), dir)
}

fn spec(name: &str, replicas: u32, max_retries: u32) -> JobSpec {
    JobSpec {
        name: name.into(),
        command: vec!["true".into()],
        env: Default::default(),
        workdir: None,
        replicas,
        resources: ReplicaResources {
            cpu_milli: CpuMillis(1000),
            memory_mib: MemoryMib(256),
            gpu_milli: GpuRequest::Whole(1),
            gpu_models: vec![],
            preferred_gpu_models: vec![],
            node_labels: Default::default(),
            max_replicas_per_node: None,
            spread_group: None,
        },
        priority: 0,
        max_retries,
        checkpoint_dir: None,
        preemptible: true,
        runtime_estimate_s: None,
    }
}

fn inventory(host: &str) -> Inventory {
    Inventory {
        hostname: host.into(),
        cpu_cores: 8,
        memory_mib: 16384,
        accelerators: vec![],
        labels: Default::default(),
    }
}

#[tokio::test]
async fn settings_are_written_once() {
    let (store, _dir) = store().await;
    assert!(store.init_setting("admin", "a").await.unwrap());
    assert!(!store.init_setting("admin", "b").await.unwrap());
    assert_eq!(store.setting("admin").await.unwrap().as_deref(), Some("a"));
}

#[tokio::test]
async fn idempotency_key_returns_the_first_job() {
    let (store, _dir) = store().await;
    let tenant = store.ensure_tenant("default", 1).await.unwrap();
    let s = spec("train", 1, 0);
    let new = [NewJob {
        tenant: tenant.id,
        tenant_name: "default".into(),
        spec: s,
        idempotency_key: Some("k1".into()),
        deployment_id: None,
    }];
    let first = store.insert_jobs(&new, 10).await.unwrap();
    let again = store.insert_jobs(&new, 20).await.unwrap();
    assert_eq!(first[0].id, again[0].id);
    let all = store.jobs(&JobFilter { limit: 100, ..Default::default() }).await.unwrap();
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].state, JobState::Pending);
    assert_eq!(all[0].tenant_name, "default");
}

#[tokio::test]
async fn failed_replica_requeues_gang_then_fails_when_retries_run_out() {
    let (store, _dir) = store().await;
    let tenant = store.ensure_tenant("default", 1).await.unwrap();
    let node = store.register_node("n1", "127.0.0.1", &inventory("n1"), 1).await.unwrap();
    let s = spec("gang", 2, 1);
    let job = store
        .insert_jobs(
            &[NewJob {
                tenant: tenant.id,
                tenant_name: "default".into(),
                spec: s.clone(),
                idempotency_key: None,
                deployment_id: None,
            }],
            1,
        )
        .await
        .unwrap()[0]
        .id;
    let place = |_: ()| {
        let r = ReplicaPlacement {
            node: node.id,
            gpus: vec![GpuAssignment { index: 0, milli: strata_domain::GpuMillis(1000) }],
        };
        (Placement { job, replicas: vec![r.clone(), r] }, "test".to_string())
    };
    for attempt in 1..=2u32 {
        assert_eq!(store.apply_placements(&[place(())], 2).await.unwrap(), vec![job]);
        let tasks = store.tasks_of(job, attempt).await.unwrap();
        assert_eq!(tasks.len(), 2);
        let fail = TaskUpdate {
            task_id: tasks[1].id,
            state: TaskState::Failed,
            exit_code: Some(3),
            message: None,
            port: None,
        };
        store.report_tasks(node.id, &[fail], 3).await.unwrap();
        let after = store.job(job).await.unwrap().unwrap();
        let sibling = store.task(tasks[0].id).await.unwrap().unwrap();
        assert_eq!(sibling.state, TaskState::Cancelled, "the gang stops as a whole");
        if attempt == 1 {
            assert_eq!(after.state, JobState::Pending);
            assert!(after.reason.unwrap().contains("exited with code 3"));
        } else {
            assert_eq!(after.state, JobState::Failed);
        }
    }
    let kinds: Vec<String> = store.events(job).await.unwrap().into_iter().map(|e| e.kind).collect();
    assert_eq!(kinds, ["submitted", "placed", "requeued", "placed", "failed"]);
    let row = store.job(job).await.unwrap().unwrap();
    let current = store.current_tasks(&[row]).await.unwrap();
    assert_eq!(current.iter().map(|t| (t.attempt, t.replica)).collect::<Vec<_>>(), [(2, 0), (2, 1)]);
}

#[tokio::test]
async fn lost_node_requeues_and_snapshot_frees_capacity() {
    let (store, _dir) = store().await;
    let tenant = store.ensure_tenant("default", 1).await.unwrap();
    let node = store.register_node("n1", "127.0.0.1", &inventory("n1"), 1).await.unwrap();
    let s = spec("one", 1, 0);
    let job = store
        .insert_jobs(
            &[NewJob {
                tenant: tenant.id,
                tenant_name: "default".into(),
                spec: s.clone(),
                idempotency_key: None,
                deployment_id: None,
            }],
            1,
        )
        .await
        .unwrap()[0]
        .id;
    let r = ReplicaPlacement { node: node.id, gpus: vec![] };
    store.apply_placements(&[(Placement { job, replicas: vec![r] }, "x".into())], 2).await.unwrap();
    let snap = store.sched_snapshot(3, 0).await.unwrap();
    assert_eq!(snap.input.nodes[0].free_cpu, CpuMillis(7000));
    assert!(snap.input.pending.is_empty());
    let stale = store.mark_stale_nodes(100).await.unwrap();
    assert_eq!(stale.len(), 1);
    store.lose_node_tasks(node.id, &[], "node stopped answering", 101).await.unwrap();
    // max_retries 0: a lost replica fails the job.
    assert_eq!(store.job(job).await.unwrap().unwrap().state, JobState::Failed);
    let snap = store.sched_snapshot(102, 0).await.unwrap();
    assert!(snap.input.nodes.is_empty(), "a not-ready node is not schedulable");
}

#[tokio::test]
async fn log_chunks_are_stored_once_and_read_in_order() {
    let (store, _dir) = store().await;
    let tenant = store.ensure_tenant("default", 1).await.unwrap();
    let node = store.register_node("n1", "127.0.0.1", &inventory("n1"), 1).await.unwrap();
    let s = spec("logs", 1, 0);
    let job = store
        .insert_jobs(
            &[NewJob {
                tenant: tenant.id,
                tenant_name: "default".into(),
                spec: s.clone(),
                idempotency_key: None,
                deployment_id: None,
            }],
            1,
        )
        .await
        .unwrap()[0]
        .id;
    store
        .apply_placements(
            &[(Placement { job, replicas: vec![ReplicaPlacement { node: node.id, gpus: vec![] }] }, "x".into())],
            2,
        )
        .await
        .unwrap();
    let task = store.tasks_of(job, 1).await.unwrap()[0].id;
    store.append_log(task, "stdout", 0, b"hello ").await.unwrap();
    store.append_log(task, "stdout", 0, b"hello ").await.unwrap();
    store.append_log(task, "stdout", 6, b"world\n").await.unwrap();
    let chunks = store.log_chunks(job, 1, None, None, 0).await.unwrap();
    let text: Vec<u8> = chunks.iter().flat_map(|c| c.data.clone()).collect();
    assert_eq!(text, b"hello world\n");
    let later = store.log_chunks(job, 1, None, None, chunks[0].id).await.unwrap();
    assert_eq!(later.len(), 1);
}
