//! Jobs on agents: output, gangs, node loss.

use crate::harness::{logs, submit, wait_done, wait_for, Cluster};
use std::collections::BTreeMap;
use std::time::Duration;
use strata_domain::{JobState, TaskState};

#[tokio::test]
async fn job_runs_and_its_logs_are_read_back() {
    let mut c = Cluster::start().await;
    c.add_agent("solo", "2xA100-40GB", &[]).await;
    let mut req = submit(&["sh", "-c", "echo hello from rank $RANK on $CUDA_VISIBLE_DEVICES; echo to-stderr >&2"]);
    req.gpu_milli = Some(1000);
    let job = c.admin.submit_job(&req).await.unwrap();
    assert_eq!(job.state, JobState::Pending);
    let done = wait_done(&c.admin, job.id.0, Duration::from_secs(30)).await;
    assert_eq!(done.state, JobState::Succeeded, "{}", c.logs());
    assert_eq!(done.tasks[0].exit_code, Some(0));
    let out = logs(&c.admin, job.id.0, None).await;
    assert!(out.contains("hello from rank 0 on 0\n"), "{out}");
    assert!(out.contains("to-stderr"), "{out}");
    let kinds: Vec<String> = c.admin.job_events(job.id.0).await.unwrap().into_iter().map(|e| e.kind).collect();
    assert_eq!(kinds, ["submitted", "placed", "succeeded"]);
}

#[tokio::test]
async fn a_batch_is_stored_in_order_and_every_job_runs() {
    let mut c = Cluster::start().await;
    c.add_agent("solo", "1xT4", &[]).await;
    let batch: Vec<_> = (0..5).map(|i| submit(&["sh", "-c", &format!("echo batch job {i}")])).collect();
    let jobs = c.admin.submit_jobs(&batch).await.unwrap();
    assert_eq!(jobs.len(), 5);
    assert!(jobs.windows(2).all(|w| w[0].id.0 < w[1].id.0), "ids in submission order: {jobs:?}");
    for (i, job) in jobs.iter().enumerate() {
        let done = wait_done(&c.admin, job.id.0, Duration::from_secs(30)).await;
        assert_eq!(done.state, JobState::Succeeded, "{}", c.logs());
        assert_eq!(logs(&c.admin, job.id.0, None).await, format!("batch job {i}\n"));
    }
}

#[tokio::test]
async fn failing_job_reports_its_exit_code_and_retries() {
    let mut c = Cluster::start().await;
    c.add_agent("solo", "1xT4", &[]).await;
    let mut req = submit(&["sh", "-c", "echo attempt $STRATA_ATTEMPT; exit 3"]);
    req.max_retries = Some(1);
    let job = c.admin.submit_job(&req).await.unwrap();
    let done = wait_done(&c.admin, job.id.0, Duration::from_secs(30)).await;
    assert_eq!(done.state, JobState::Failed);
    assert_eq!(done.attempt, 2, "one retry after the first failure");
    assert_eq!(done.tasks[0].exit_code, Some(3));
    assert!(done.reason.unwrap().contains("exited with code 3"));
}

fn env_of(text: &str) -> BTreeMap<String, String> {
    text.lines().filter_map(|l| l.split_once('=')).map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

#[tokio::test]
async fn gang_across_two_agents_gets_consistent_rendezvous_env() {
    let mut c = Cluster::start().await;
    c.add_agent("gpu-a", "1xH100-80GB", &["--label", "rack=r1"]).await;
    c.add_agent("gpu-b", "1xH100-80GB", &["--label", "rack=r1"]).await;
    let mut req = submit(&["sh", "-c", "for v in RANK WORLD_SIZE LOCAL_RANK MASTER_ADDR MASTER_PORT CUDA_VISIBLE_DEVICES STRATA_JOB_ID; do eval echo $v=\\$$v; done"]);
    req.replicas = Some(2);
    req.gpu_milli = Some(1000);
    let job = c.admin.submit_job(&req).await.unwrap();
    let done = wait_done(&c.admin, job.id.0, Duration::from_secs(30)).await;
    assert_eq!(done.state, JobState::Succeeded, "{}", c.logs());
    let nodes: Vec<&str> = done.tasks.iter().map(|t| t.node_name.as_str()).collect();
    assert!(nodes.contains(&"gpu-a") && nodes.contains(&"gpu-b"), "one replica per node: {nodes:?}");
    let r0 = env_of(&logs(&c.admin, job.id.0, Some(0)).await);
    let r1 = env_of(&logs(&c.admin, job.id.0, Some(1)).await);
    assert_eq!(r0["RANK"], "0");
    assert_eq!(r1["RANK"], "1");
    for r in [&r0, &r1] {
        assert_eq!(r["WORLD_SIZE"], "2");
        assert_eq!(r["LOCAL_RANK"], "0");
        assert_eq!(r["MASTER_ADDR"], "127.0.0.1");
        assert_eq!(r["CUDA_VISIBLE_DEVICES"], "0");
        assert_eq!(r["STRATA_JOB_ID"], job.id.0.to_string());
    }
    assert_eq!(r0["MASTER_PORT"], r1["MASTER_PORT"]);
}

#[tokio::test]
async fn killed_agent_job_is_requeued_and_finishes_on_another_node() {
    let mut c = Cluster::start().await;
    c.add_agent("first", "1xA100-40GB", &[]).await;
    let mut req = submit(&["sh", "-c", "sleep 2; echo finished on $STRATA_NODE"]);
    req.gpu_milli = Some(1000);
    req.max_retries = Some(2);
    let job = c.admin.submit_job(&req).await.unwrap();
    let id = job.id.0;
    let admin = c.admin.clone();
    wait_for("job running on first", Duration::from_secs(20), || {
        let a = admin.clone();
        async move { a.job(id).await.ok().filter(|j| j.tasks.iter().any(|t| t.state == TaskState::Running)) }
    })
    .await;
    // Now a second node joins and the first dies without a word.
    c.add_agent("second", "1xA100-40GB", &[]).await;
    c.agents[0].kill();
    let done = wait_done(&c.admin, id, Duration::from_secs(40)).await;
    assert_eq!(done.state, JobState::Succeeded, "{}", c.logs());
    assert_eq!(done.tasks[0].node_name, "second");
    let events = c.admin.job_events(id).await.unwrap();
    let requeued = events.iter().find(|e| e.kind == "requeued").expect("a requeued event");
    assert!(requeued.message.contains("was lost"), "{}", requeued.message);
    assert!(logs(&c.admin, id, None).await.contains("finished on second"));
    let first = c.admin.node("first").await.unwrap();
    assert_eq!(first.state, strata_api::nodes::NodeState::NotReady);
}

#[tokio::test]
async fn cancel_stops_a_running_job() {
    let mut c = Cluster::start().await;
    c.add_agent("solo", "1xT4", &[]).await;
    let job = c.admin.submit_job(&submit(&["sleep", "60"])).await.unwrap();
    let id = job.id.0;
    let admin = c.admin.clone();
    wait_for("job running", Duration::from_secs(20), || {
        let a = admin.clone();
        async move { a.job(id).await.ok().filter(|j| j.tasks.iter().any(|t| t.state == TaskState::Running)) }
    })
    .await;
    let task = c.admin.job(id).await.unwrap().tasks[0].id;
    let pgid_file = c.path("agent-solo").join("agent-solo").join("tasks").join(task.to_string()).join("pgid");
    let pgid = std::fs::read_to_string(&pgid_file).unwrap();
    let cancelled = c.admin.cancel_job(id).await.unwrap();
    assert_eq!(cancelled.state, JobState::Cancelled);
    assert_eq!(c.admin.node("solo").await.unwrap().allocated.tasks, 0, "a cancelled job holds nothing");
    // The agent is told at its next heartbeat and SIGTERMs the process group.
    wait_for("the process to be gone", Duration::from_secs(10), || {
        let pgid = pgid.clone();
        async move {
            let alive = std::process::Command::new("kill")
                .args(["-0", pgid.trim()])
                .stderr(std::process::Stdio::null())
                .status()
                .unwrap()
                .success();
            (!alive).then_some(())
        }
    })
    .await;
    let again = c.admin.cancel_job(id).await.unwrap_err();
    assert_eq!(again.code(), Some(strata_domain::ErrorCode::Conflict));
}

#[tokio::test]
async fn restarted_agent_reports_its_old_tasks_lost_and_they_run_again() {
    let mut c = Cluster::start().await;
    c.add_agent("phoenix", "1xL4", &[]).await;
    let mut req = submit(&["sh", "-c", "echo attempt $STRATA_ATTEMPT; sleep 30"]);
    req.max_retries = Some(1);
    let id = c.admin.submit_job(&req).await.unwrap().id.0;
    let admin = c.admin.clone();
    let running = |attempt: u32| {
        let a = admin.clone();
        move || {
            let a = a.clone();
            async move {
                a.job(id)
                    .await
                    .ok()
                    .filter(|j| j.attempt == attempt && j.tasks.iter().all(|t| t.state == TaskState::Running))
            }
        }
    };
    let first = wait_for("attempt 1 running", Duration::from_secs(20), running(1)).await;
    let task = first.tasks[0].id;
    let pgid_file = c.path("agent-phoenix").join("agent-phoenix").join("tasks").join(task.to_string()).join("pgid");
    let pgid = std::fs::read_to_string(&pgid_file).unwrap();
    // SIGKILL the agent and start it again at once, well before the heartbeat timeout.
    c.agents[0].kill();
    c.restart_agent(0);
    wait_for("attempt 2 running", Duration::from_secs(20), running(2)).await;
    let events = c.admin.job_events(id).await.unwrap();
    assert!(
        events.iter().any(|e| e.kind == "requeued" && e.message.contains("its agent restarted without it")),
        "{events:?}"
    );
    let stat = std::fs::read_to_string(format!("/proc/{}/stat", pgid.trim())).unwrap_or_default();
    // Gone, or a zombie waiting for init to reap it (its parent, the old agent, is dead).
    let state = stat.rsplit(')').next().unwrap_or("").split_whitespace().next().unwrap_or("gone").to_string();
    assert!(
        state == "gone" || state == "Z",
        "the restarted agent stopped the process its previous run left behind (state {state}): {stat}"
    );
    c.admin.cancel_job(id).await.unwrap();
}

#[tokio::test]
async fn a_higher_priority_job_preempts_a_running_one_which_is_requeued_and_runs_again() {
    let mut c = Cluster::start().await;
    c.add_agent("solo", "1xT4", &[]).await;
    let mut low = submit(&["sh", "-c", "echo attempt $STRATA_ATTEMPT; sleep 60"]);
    low.gpu_milli = Some(1000);
    let low = c.admin.submit_job(&low).await.unwrap().id.0;
    let admin = c.admin.clone();
    let running = move |id: i64, attempt: u32| {
        let a = admin.clone();
        async move {
            a.job(id)
                .await
                .ok()
                .filter(|j| j.attempt == attempt && j.tasks.iter().any(|t| t.state == TaskState::Running))
        }
    };
    wait_for("the low-priority job running", Duration::from_secs(20), || running(low, 1)).await;

    let mut high = submit(&["echo", "urgent"]);
    high.gpu_milli = Some(1000);
    high.priority = Some(5);
    let high = c.admin.submit_job(&high).await.unwrap().id.0;
    let done = wait_done(&c.admin, high, Duration::from_secs(30)).await;
    assert_eq!(done.state, JobState::Succeeded, "{}", c.logs());

    // The preempted job went back to the queue, not to failed, and starts again afterwards.
    let again = wait_for("the preempted job running again", Duration::from_secs(30), || running(low, 2)).await;
    assert_eq!(again.state, JobState::Running);
    let events = c.admin.job_events(low).await.unwrap();
    let preempted = events.iter().find(|e| e.kind == "preempted").expect("a preempted event");
    assert!(preempted.message.contains(&format!("preempted by job {high}")), "{}", preempted.message);
    let kinds: Vec<&str> = events.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(kinds, ["submitted", "placed", "preempted", "placed"]);
    let metrics = reqwest::get(format!("{}/metrics", c.url)).await.unwrap().text().await.unwrap();
    assert!(metrics.contains("strata_scheduler_preemptions_total 1"), "{metrics}");
    c.admin.cancel_job(low).await.unwrap();
}

#[tokio::test]
async fn jobs_in_one_spread_group_never_share_a_node_beyond_its_limit() {
    let mut c = Cluster::start().await;
    c.add_agent("solo", "1xT4", &["--cpu-cores", "8", "--memory-mib", "8000"]).await;
    let ps = || {
        let mut r = submit(&["sleep", "60"]);
        r.max_replicas_per_node = Some(1);
        r.spread_group = Some("ps".into());
        r
    };
    let first = c.admin.submit_job(&ps()).await.unwrap();
    assert_eq!(first.spec.resources.spread_group.as_deref(), Some("default/ps"), "scoped by tenant");
    let admin = c.admin.clone();
    let running = move |id: i64| {
        let a = admin.clone();
        async move { a.job(id).await.ok().filter(|j| j.tasks.iter().any(|t| t.state == TaskState::Running)) }
    };
    wait_for("the first job running", Duration::from_secs(20), || running(first.id.0)).await;
    // Both would fit on the node; the group's limit counts the running one.
    let second = c.admin.submit_job(&ps()).await.unwrap().id.0;
    let admin = c.admin.clone();
    let reason = wait_for("the second job's reason", Duration::from_secs(20), || {
        let a = admin.clone();
        async move { a.job(second).await.ok()?.reason.filter(|r| r.contains("max_replicas_per_node")) }
    })
    .await;
    assert!(reason.contains("already holds as many replicas of default/ps as one node may (1,"), "{reason}");
    let other = c.admin.submit_job(&submit(&["true"])).await.unwrap();
    assert_eq!(wait_done(&c.admin, other.id.0, Duration::from_secs(30)).await.state, JobState::Succeeded);
    c.admin.cancel_job(first.id.0).await.unwrap();
    wait_for("the second job running once the first ends", Duration::from_secs(30), || running(second)).await;
    c.admin.cancel_job(second).await.unwrap();
}
