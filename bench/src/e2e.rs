//! S4 end to end: jobs/s from submit to running through the real control plane with durable
//! commits, with several emulated agents; API latency with 10,000 queued jobs; and how fast the
//! control plane alone places a full queue once agents join.
//!
//! `bash bench/e2e.sh` builds the release binary and runs this; set DATABASE_URL to a
//! PostgreSQL server to measure that backend instead of SQLite. Prints our figures beside the
//! peers' published ones (BENCHMARKS.md S4), with ratios.

use anyhow::{bail, Context};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use strata_api::jobs::{JobQuery, SubmitJob};
use strata_client::Client;
struct Killer(Vec<Child>);
impl Drop for Killer {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn job(i: usize) -> SubmitJob {
    SubmitJob {
        name: Some(format!("bench-{i}")),
        command: vec!["true".into()],
        env: Default::default(),
        workdir: None,
        replicas: None,
        cpu_milli: Some(1),
        memory_mib: Some(1),
        gpu_milli: None,
        gpu_models: vec![],
        preferred_gpu_models: vec![],
        priority: None,
        max_retries: None,
        checkpoint_dir: None,
        preemptible: None,
        runtime_estimate_s: None,
        tenant: None,
        idempotency_key: None,
        node_labels: Default::default(),
        max_replicas_per_node: None,
        spread_group: None,
    }
}

async fn start_server(
    bin: &str,
    dir: &std::path::Path,
    procs: &mut Killer,
) -> anyhow::Result<(String, Client, String)> {
    std::fs::create_dir_all(dir)?;
    let database_url = strata_store::fresh_database_url(dir).await?;
    let data = dir.join("server");
    let log = std::fs::File::create(dir.join("server.log"))?;
    procs.0.push(
        Command::new(bin)
            .args(["server", "--listen", "127.0.0.1:0", "--data-dir", data.to_str().context("path")?])
            .args(["--database-url", &database_url, "--heartbeat-interval-ms", "200", "--schedule-interval-ms", "50"])
            .env("STRATA_LOG", std::env::var("STRATA_LOG").unwrap_or_else(|_| "info".into()))
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()?,
    );
    let start = Instant::now();
    let url = loop {
        if let Ok(u) = std::fs::read_to_string(data.join("server.url")) {
            break u;
        }
        if start.elapsed() > Duration::from_secs(30) {
            bail!("server did not start; see {}", dir.join("server.log").display());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let admin = Client::new(&url, std::fs::read_to_string(data.join("admin.token"))?.trim());
    let join = std::fs::read_to_string(data.join("join.token"))?;
    Ok((url, admin, join))
}

/// Jobs per request in the batched run of part 1 (`POST /api/v1/jobs/batch`).
const BATCH: usize = 100;

/// Starts `agents` emulated 8-GPU agents against `url`, with `extra` arguments.
fn spawn_agents(
    bin: &str,
    url: &str,
    join: &str,
    dir: &std::path::Path,
    agents: usize,
    extra: &[&str],
    procs: &mut Killer,
) -> anyhow::Result<()> {
    for i in 0..agents {
        let data = dir.join(format!("agent{i}"));
        procs.0.push(
            Command::new(bin)
                .args(["agent", "--server", url, "--token", join.trim(), "--name", &format!("bench-{i}")])
                .args(["--emulate", "8xH100-80GB", "--data-dir", data.to_str().context("path")?])
                .args(extra)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()?,
        );
    }
    Ok(())
}

/// A fresh server and agents; `jobs` submitted (`batch` per request; 64 clients for single
/// jobs, 8 for batches); prints submit, submit → placed and submit → succeeded rates and
/// returns submit → placed in jobs/s.
async fn submit_to_done(
    bin: &str,
    dir: &std::path::Path,
    agents: usize,
    jobs: usize,
    batch: usize,
) -> anyhow::Result<f64> {
    let mut procs = Killer(Vec::new());
    let (url, admin, join) = start_server(bin, dir, &mut procs).await?;
    spawn_agents(bin, &url, &join, dir, agents, &[], &mut procs)?;
    while admin.nodes().await?.nodes.len() < agents {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let clients = if batch > 1 { 8 } else { 64 };
    let start = Instant::now();
    let (submit_wall, lat, _) = burst(&admin, jobs, clients, 0, batch).await?;
    let mut placed_at = None;
    loop {
        let pending = count(&admin, "pending").await?;
        if pending == 0 && placed_at.is_none() {
            placed_at = Some(start.elapsed().as_secs_f64());
        }
        let done = count(&admin, "succeeded").await?;
        if done == jobs {
            break;
        }
        if start.elapsed() > Duration::from_secs(600) {
            bail!("only {done} of {jobs} finished in 10 minutes");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let all_done = start.elapsed().as_secs_f64();
    let placed = placed_at.unwrap_or(all_done);
    let per = if batch > 1 { format!("batches of {batch}") } else { "one job per request".to_string() };
    println!(
        "submit ({clients} clients, {per}): {:.0} jobs/s; latency per request p50 {:.2} ms, p99 {:.2} ms",
        jobs as f64 / submit_wall,
        percentile(&lat, 0.5),
        percentile(&lat, 0.99)
    );
    println!("  submit → placed (all {jobs}): {placed:.2} s = {:.0} jobs/s", jobs as f64 / placed);
    println!(
        "  submit → succeeded (all {jobs}, real processes): {all_done:.2} s = {:.0} jobs/s",
        jobs as f64 / all_done
    );
    let metrics = reqwest::get(format!("{url}/metrics")).await?.text().await?;
    for line in metrics.lines().filter(|l| {
        l.starts_with("strata_scheduler_cycle_seconds_sum") || l.starts_with("strata_scheduler_cycle_seconds_count")
    }) {
        println!("  {line}");
    }
    Ok(jobs as f64 / placed)
}

/// Submits `n` jobs with `concurrency` clients, `batch` per request; returns (wall seconds,
/// sorted latencies per request in ms, ids).
async fn burst(
    admin: &Client,
    n: usize,
    concurrency: usize,
    offset: usize,
    batch: usize,
) -> anyhow::Result<(f64, Vec<f64>, Vec<i64>)> {
    let next = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..concurrency {
        let (c, next) = (admin.clone(), next.clone());
        workers.push(tokio::spawn(async move {
            let mut out = Vec::new();
            loop {
                let i = next.fetch_add(batch, Ordering::Relaxed);
                if i >= n {
                    return Ok::<_, anyhow::Error>(out);
                }
                let t = Instant::now();
                if batch == 1 {
                    let job = c.submit_job(&job(offset + i)).await?;
                    out.push((t.elapsed().as_secs_f64() * 1e3, vec![job.id.0]));
                } else {
                    let jobs: Vec<_> = (i..n.min(i + batch)).map(|k| job(offset + k)).collect();
                    let done = c.submit_jobs(&jobs).await?;
                    out.push((t.elapsed().as_secs_f64() * 1e3, done.iter().map(|j| j.id.0).collect()));
                }
            }
        }));
    }
    let mut lat = Vec::new();
    let mut ids = Vec::new();
    for w in workers {
        for (l, batch_ids) in w.await?? {
            lat.push(l);
            ids.extend(batch_ids);
        }
    }
    let wall = start.elapsed().as_secs_f64();
    lat.sort_by(f64::total_cmp);
    Ok((wall, lat, ids))
}

async fn count(admin: &Client, state: &str) -> anyhow::Result<usize> {
    let mut n = 0;
    let mut after = None;
    loop {
        let page =
            admin.jobs(&JobQuery { state: Some(state.into()), after, limit: Some(1000), ..Default::default() }).await?;
        n += page.jobs.len();
        match page.next_after {
            Some(a) => after = Some(a.0),
            None => return Ok(n),
        }
    }
}

async fn timed<F, Fut, T>(samples: usize, concurrency: usize, f: F) -> anyhow::Result<Vec<f64>>
where
    F: Fn(usize) -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = anyhow::Result<T>> + Send,
{
    let next = Arc::new(AtomicUsize::new(0));
    let mut workers = Vec::new();
    for _ in 0..concurrency {
        let (f, next) = (f.clone(), next.clone());
        workers.push(tokio::spawn(async move {
            let mut out = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= samples {
                    return Ok::<_, anyhow::Error>(out);
                }
                let t = Instant::now();
                f(i).await?;
                out.push(t.elapsed().as_secs_f64() * 1e3);
            }
        }));
    }
    let mut all = Vec::new();
    for w in workers {
        all.extend(w.await??);
    }
    all.sort_by(f64::total_cmp);
    Ok(all)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let bin = std::env::var("STRATA_BIN").unwrap_or_else(|_| "target/release/strata".into());
    let jobs: usize = std::env::var("JOBS").ok().and_then(|v| v.parse().ok()).unwrap_or(5000);
    let agents: usize = std::env::var("AGENTS").ok().and_then(|v| v.parse().ok()).unwrap_or(4);
    let backend = if std::env::var("DATABASE_URL").is_ok_and(|u| !u.is_empty()) { "postgres" } else { "sqlite" };
    // BENCH_DIR=path keeps the servers' logs and databases there for a look afterwards.
    let guard = tempfile::Builder::new().prefix("strata-bench").tempdir()?;
    let root = std::env::var_os("BENCH_DIR").map_or_else(|| guard.path().to_path_buf(), std::path::PathBuf::from);
    println!("# S4 end to end — {backend}, {agents} emulated agents, {jobs} jobs");

    // Part 1: submit → running → done with agents, one job per request, then in batches.
    let place_rate = submit_to_done(&bin, &root.join("a"), agents, jobs, 1).await?;
    let batched_rate = submit_to_done(&bin, &root.join("a-batch"), agents, jobs, BATCH).await?;

    // Part 2: API latency with 10,000 queued jobs (no agents: everything stays pending).
    let mut procs = Killer(Vec::new());
    let (_, admin, join_b) = start_server(&bin, &root.join("b"), &mut procs).await?;
    let (fill_wall, _, ids) = burst(&admin, 10_000, 64, 0, 1).await?;
    println!("queued 10,000 jobs in {fill_wall:.1} s");
    let ids = Arc::new(ids);
    let a = admin.clone();
    let list = timed(200, 8, move |_| {
        let a = a.clone();
        async move { Ok(a.jobs(&JobQuery { limit: Some(100), ..Default::default() }).await?) }
    })
    .await?;
    let (a, i2) = (admin.clone(), ids.clone());
    let show = timed(2000, 8, move |i| {
        let (a, ids) = (a.clone(), i2.clone());
        async move { Ok(a.job(ids[i * 7 % ids.len()]).await?) }
    })
    .await?;
    let a = admin.clone();
    let submit = timed(1000, 8, move |i| {
        let a = a.clone();
        async move { Ok(a.submit_job(&job(20_000 + i)).await?) }
    })
    .await?;
    for (name, l) in [("GET /jobs?limit=100", &list), ("GET /jobs/{id}", &show), ("POST /jobs", &submit)] {
        println!(
            "{name:<22} p50 {:>7.2} ms  p99 {:>7.2} ms  (8 clients, {} requests)",
            percentile(l, 0.5),
            percentile(l, 0.99),
            l.len()
        );
    }

    // Part 3: the control plane alone — a full queue (the 11,000 jobs above), then agents join:
    // how fast do cycles place and commit it, without submissions competing for the cores?
    let queued = count(&admin, "pending").await?;
    let start = Instant::now();
    // Room for the whole queue at once (a job asks 1 milli-CPU): placing, not waiting for
    // capacity, is what this part measures.
    spawn_agents(&bin, admin.base(), &join_b, &root.join("b"), agents, &["--cpu-cores", "64"], &mut procs)?;
    while admin.nodes().await?.nodes.len() < agents {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let joined = start.elapsed().as_secs_f64();
    while count(&admin, "pending").await? > 0 {
        if start.elapsed() > Duration::from_secs(600) {
            bail!("the queue was not placed in 10 minutes");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let drained = start.elapsed().as_secs_f64() - joined;
    println!(
        "queued → placed ({queued} queued, {agents} agents joined in {joined:.2} s): {drained:.2} s = {:.0} jobs/s",
        queued as f64 / drained
    );
    drop(procs);

    println!("\n| system | jobs/s | Strata's ratio (single / batched) |");
    println!("| --- | --- | --- |");
    println!("(against submit → placed, one job per request: {place_rate:.0} jobs/s; in batches of {BATCH}: {batched_rate:.0} jobs/s)");
    for (peer, rate) in [
        ("Slurm (sustained)", 500.0),
        ("GKE (130k nodes)", 1000.0),
        ("YuniKorn (best)", 833.0),
        ("Kueue (admitted)", 40.0),
        ("target (S4)", 5000.0),
    ] {
        println!("| {peer} | {rate:.0} | {:.2}× / {:.2}× |", place_rate / rate, batched_rate / rate);
    }
    Ok(())
}
