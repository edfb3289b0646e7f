//! `strata data run --on-cluster`: the coordinator. It plans shards of input files
//! (`strata_dataprep::plan_cluster`), submits one scan job per shard, follows them with a
//! progress bar, then runs the pipeline here, which finds every file scanned and only
//! deduplicates and writes. See `strata_dataprep`'s `cluster` module for why that is the same
//! output as a local run.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::{bail, Context};
use strata_api::jobs::{Job, SubmitJob};
use strata_client::Client;
use strata_dataprep::{format_files, plan_cluster, run_pipeline, Pipeline, RunArgs};
use strata_domain::JobState;

use crate::cli::{Conn, DataDir, Output};

/// Scan jobs when `--shards` is not given: one per input file, at most this many.
const DEFAULT_MAX_SHARDS: usize = 16;
const POLL: Duration = Duration::from_millis(300);

pub async fn on_cluster(args: RunArgs) -> anyhow::Result<()> {
    let conn = Conn {
        server: args.server.clone(),
        token: args.token.clone(),
        data: DataDir { data_dir: args.data_dir.clone() },
        output: Output::Table,
    };
    let client = super::client(&conn)?;
    client.whoami().await.with_context(|| format!("cannot reach the server at {}", client.base()))?;
    let pipeline = Pipeline::load(&args.pipeline)?;
    let options = args.options();
    let shards = args.shards.unwrap_or(DEFAULT_MAX_SHARDS);
    if shards == 0 {
        bail!("--shards must be at least 1");
    }
    let plan = {
        let (pipeline, options) = (pipeline.clone(), options.clone());
        tokio::task::spawn_blocking(move || plan_cluster(&pipeline, &options, shards)).await??
    };
    let exe = std::env::current_exe().context("cannot find this program's path for the scan jobs")?;
    let cwd = std::env::current_dir().context("cannot read the current directory")?;
    eprintln!(
        "{} input files: {} scanned already, {} in {} scan jobs on {}",
        plan.files,
        plan.already_scanned,
        plan.shards.iter().map(Vec::len).sum::<usize>(),
        plan.shards.len(),
        client.base()
    );
    let mut jobs = Vec::with_capacity(plan.shards.len());
    for (k, files) in plan.shards.iter().enumerate() {
        let list = format_files(files);
        let mut command: Vec<String> = vec![
            exe.display().to_string(),
            "data".into(),
            "run".into(),
            args.pipeline.display().to_string(),
            "--no-progress".into(),
            "--threads".into(),
            args.cpus_per_shard.to_string(),
            "--scan-files".into(),
            list.clone(),
        ];
        if let Some(out) = &args.output {
            command.extend(["--output".into(), out.display().to_string()]);
        }
        if !args.input.is_empty() {
            command.push("--input".into());
            command.extend(args.input.iter().map(|p| p.display().to_string()));
        }
        let job = SubmitJob {
            name: Some(format!("data-scan {}/{}", k + 1, plan.shards.len())),
            command,
            env: BTreeMap::new(),
            workdir: Some(cwd.display().to_string()),
            replicas: None,
            cpu_milli: Some(i64::from(args.cpus_per_shard) * 1000),
            memory_mib: Some(i64::from(args.memory_per_shard_mib)),
            gpu_milli: None,
            gpu_models: Vec::new(),
            preferred_gpu_models: Vec::new(),
            priority: None,
            max_retries: Some(2),
            checkpoint_dir: None,
            tenant: None,
            // A coordinator restarted while its jobs run finds them instead of starting twins
            // that would write the same checkpoints.
            idempotency_key: Some(format!("data-scan:{}:{list}", plan.fingerprint)),
            node_labels: BTreeMap::new(),
            preemptible: None,
            runtime_estimate_s: None,
            max_replicas_per_node: None,
            spread_group: None,
        };
        let key = job.idempotency_key.clone().unwrap_or_default();
        let mut submitted = client.submit_job(&job).await.context("submitting a scan job")?;
        // A job that has ended is an earlier attempt's: it failed, or it succeeded into an output
        // directory since removed (these files are unscanned). Each retry gets a key of its own,
        // so every attempt is one job and a later rerun follows the same chain to its end.
        while submitted.state.is_terminal() {
            let retry = SubmitJob { idempotency_key: Some(format!("{key}:after-{}", submitted.id)), ..job.clone() };
            submitted = client.submit_job(&retry).await.context("submitting a scan job")?;
        }
        jobs.push(submitted);
    }
    wait_all(&client, &jobs).await?;

    let report = tokio::task::spawn_blocking(move || run_pipeline(&pipeline, &options))
        .await?
        .with_context(|| format!("deduplicating and writing {}", args.pipeline.display()))?;
    print!("{}", report.summary());
    let ids: Vec<String> = jobs.iter().map(|j| j.id.to_string()).collect();
    println!("scanned on the cluster by jobs {}", if ids.is_empty() { "(none needed)".into() } else { ids.join(", ") });
    Ok(())
}

/// Follows the scan jobs until all succeed; the first that fails for good stops the run.
async fn wait_all(client: &Client, jobs: &[Job]) -> anyhow::Result<()> {
    let bar = indicatif::ProgressBar::new(jobs.len() as u64);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{spinner} scan jobs {pos}/{len} done [{elapsed_precise}] {msg}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let mut open: Vec<&Job> = jobs.iter().collect();
    while !open.is_empty() {
        tokio::time::sleep(POLL).await;
        let mut still = Vec::with_capacity(open.len());
        let mut running = 0;
        for job in open {
            let now = client.job(job.id.0).await.with_context(|| format!("following scan job {}", job.id))?;
            match now.state {
                JobState::Succeeded => bar.inc(1),
                JobState::Failed | JobState::Cancelled => {
                    bar.abandon();
                    bail!(
                        "scan job {} ({}) {}: {}; its output: `strata job logs {}`. Run the same command again \
                         to retry: finished files are kept",
                        now.id,
                        now.name,
                        now.state.as_str(),
                        now.reason.unwrap_or_default(),
                        now.id
                    );
                }
                JobState::Running => {
                    running += 1;
                    still.push(job);
                }
                JobState::Pending => still.push(job),
            }
        }
        bar.set_message(format!("{running} running, {} waiting", still.len() - running));
        open = still;
    }
    bar.finish_and_clear();
    Ok(())
}
