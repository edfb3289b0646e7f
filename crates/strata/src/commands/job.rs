//! `strata job …`

use super::{ago, client, print, table};
use crate::cli::{JobCommand, SubmitArgs, SubmitBatchArgs};
use anyhow::{bail, Context};
use futures::StreamExt;
use std::io::Write;
use strata_api::jobs::{Job, JobList, JobQuery, LogQuery, SubmitJob};

pub async fn run(cmd: JobCommand) -> anyhow::Result<()> {
    match cmd {
        JobCommand::Submit(args) => submit(*args).await,
        JobCommand::SubmitBatch(args) => submit_batch(args).await,
        JobCommand::Ls(args) => {
            let c = client(&args.conn)?;
            let q = JobQuery { state: args.state, tenant: args.tenant, limit: Some(args.limit), ..Default::default() };
            let list = c.jobs(&q).await?;
            print(args.conn.output, &list, render_list)
        }
        JobCommand::Show(args) => {
            let c = client(&args.conn)?;
            let job = c.job(args.id).await?;
            match args.conn.output {
                crate::cli::Output::Json => print(args.conn.output, &job, |_| String::new()),
                crate::cli::Output::Table => {
                    let events = c.job_events(args.id).await?;
                    print!("{}", render_job(&job));
                    println!("events:");
                    for e in events {
                        println!("  {:>8}  {:<10} {}", ago(e.at_ms), e.kind, e.message);
                    }
                    Ok(())
                }
            }
        }
        JobCommand::Logs(args) => {
            let c = client(&args.conn)?;
            let q = LogQuery { follow: Some(args.follow), replica: args.replica, stream: args.stream, attempt: None };
            let mut stream = Box::pin(c.job_logs(args.id, &q).await?);
            let mut out = std::io::stdout().lock();
            while let Some(chunk) = stream.next().await {
                out.write_all(&chunk.context("reading the log stream")?)?;
                out.flush()?;
            }
            Ok(())
        }
        JobCommand::Cancel(args) => {
            let c = client(&args.conn)?;
            let job = c.cancel_job(args.id).await?;
            print(args.conn.output, &job, |j| format!("job {} {}\n", j.id, j.state))
        }
    }
}

/// "0.5" → 500, "2" → 2000: exact decimal to thousandths, without going through floats.
pub fn milli(flag: &str, text: &str) -> anyhow::Result<i64> {
    let (whole, frac) = text.trim().split_once('.').unwrap_or((text.trim(), ""));
    if whole.is_empty() && frac.is_empty()
        || !whole.chars().all(|c| c.is_ascii_digit())
        || !frac.chars().all(|c| c.is_ascii_digit())
    {
        bail!("{flag} {text:?} is not a non-negative number like 2 or 0.25");
    }
    if frac.len() > 3 {
        bail!("{flag} {text:?} has more precision than a thousandth");
    }
    let whole: i64 =
        if whole.is_empty() { 0 } else { whole.parse().with_context(|| format!("{flag} {text:?} is too large"))? };
    let frac: i64 = format!("{frac:0<3}").parse().unwrap_or(0);
    whole.checked_mul(1000).and_then(|w| w.checked_add(frac)).with_context(|| format!("{flag} {text:?} is too large"))
}

async fn submit(args: SubmitArgs) -> anyhow::Result<()> {
    let c = client(&args.conn)?;
    let req = SubmitJob {
        name: args.name,
        command: args.command,
        env: args.env.into_iter().collect(),
        workdir: args.workdir,
        replicas: Some(args.replicas),
        cpu_milli: Some(milli("--cpu", &args.cpu)?),
        memory_mib: Some(args.memory),
        gpu_milli: Some(milli("--gpus", &args.gpus)?),
        gpu_models: args.gpu_models,
        preferred_gpu_models: args.preferred_gpu_models,
        priority: Some(args.priority),
        max_retries: Some(args.max_retries),
        checkpoint_dir: args.checkpoint_dir,
        tenant: args.tenant,
        idempotency_key: None,
        node_labels: args.node_labels.into_iter().collect(),
        preemptible: Some(!args.not_preemptible),
        runtime_estimate_s: args.runtime_estimate.map(|s| i64::try_from(s).unwrap_or(i64::MAX)),
        max_replicas_per_node: args.max_replicas_per_node,
        spread_group: args.spread_group,
    };
    let job = c.submit_job(&req).await?;
    print(args.conn.output, &job, |j| format!("job {} submitted ({})\n", j.id, j.state))
}

/// Jobs per `POST /api/v1/jobs/batch` (the server's limit).
const BATCH: usize = strata_api::jobs::MAX_BATCH_JOBS;
/// Bytes of job JSON per request: a quarter of what the server takes, so that jobs with long
/// commands or environments go in more, smaller requests instead of being refused.
const BATCH_BYTES: usize = 8 * 1024 * 1024;

async fn submit_batch(args: SubmitBatchArgs) -> anyhow::Result<()> {
    let name = args.file.display().to_string();
    let text = if name == "-" {
        std::io::read_to_string(std::io::stdin()).context("reading jobs from standard input")?
    } else {
        std::fs::read_to_string(&args.file).with_context(|| format!("reading {name}"))?
    };
    // (line number, bytes, job): every line is checked before anything is sent.
    let mut jobs: Vec<(usize, usize, SubmitJob)> = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let job = serde_json::from_str(line)
            .with_context(|| format!("{name}:{}: not a job (a `POST /api/v1/jobs` body as one JSON object)", i + 1))?;
        jobs.push((i + 1, line.len(), job));
    }
    if jobs.is_empty() {
        bail!("{name} holds no jobs: write one JSON object per line, e.g. {{\"command\": [\"true\"]}}");
    }
    let c = client(&args.conn)?;
    let mut chunks: Vec<&[(usize, usize, SubmitJob)]> = Vec::new();
    let mut rest = &jobs[..];
    while !rest.is_empty() {
        let mut bytes = 0;
        let n = rest
            .iter()
            .take(BATCH)
            .take_while(|(_, b, _)| {
                bytes += b;
                bytes <= BATCH_BYTES
            })
            .count()
            .max(1);
        let (chunk, after) = rest.split_at(n);
        chunks.push(chunk);
        rest = after;
    }
    let mut done: Vec<Job> = Vec::with_capacity(jobs.len());
    for chunk in chunks {
        let batch: Vec<SubmitJob> = chunk.iter().map(|(_, _, j)| j.clone()).collect();
        match c.submit_jobs(&batch).await {
            Ok(submitted) => done.extend(submitted),
            Err(e) => {
                let line = at_fault(&e).and_then(|k| chunk.get(k)).map(|(l, _, _)| format!("{name}:{l}: "));
                let (first, last) = (chunk[0].0, chunk[chunk.len() - 1].0);
                let kept = if done.is_empty() {
                    "nothing was submitted".to_string()
                } else {
                    format!("the {} jobs before line {first} were submitted", done.len())
                };
                return Err(e).context(format!(
                    "{}lines {first}–{last} were refused together; {kept}",
                    line.unwrap_or_default()
                ));
            }
        }
    }
    print(args.conn.output, &done, |jobs| {
        let (first, last) = (jobs.first().map(|j| j.id.0), jobs.last().map(|j| j.id.0));
        format!("{} jobs submitted (first id {}, last id {})\n", jobs.len(), first.unwrap_or(0), last.unwrap_or(0))
    })
}

/// Which job of a batch the server refused, from the error's field (`jobs[3].cpu_milli`).
fn at_fault(e: &strata_client::ClientError) -> Option<usize> {
    let strata_client::ClientError::Api { error, .. } = e else { return None };
    error.field.as_deref()?.strip_prefix("jobs[")?.split(']').next()?.parse().ok()
}

fn gpus(job: &Job) -> String {
    let m = job.spec.resources.gpu_milli.total_milli().0;
    match m {
        0 => "-".into(),
        1..=999 => format!("0.{m:03}").trim_end_matches('0').to_string(),
        _ => format!("{}", m / 1000),
    }
}

fn placement(job: &Job) -> String {
    if job.tasks.is_empty() {
        return job.reason.clone().unwrap_or_default();
    }
    let mut nodes: Vec<&str> = job.tasks.iter().map(|t| t.node_name.as_str()).collect();
    nodes.dedup();
    nodes.join(",")
}

fn render_list(list: &JobList) -> String {
    let rows = list
        .jobs
        .iter()
        .map(|j| {
            vec![
                j.id.to_string(),
                j.tenant_name.clone(),
                j.name.clone(),
                j.state.to_string(),
                format!("{}×{}", j.spec.replicas, gpus(j)),
                ago(j.created_at_ms),
                placement(j),
            ]
        })
        .collect();
    table(&["ID", "TENANT", "NAME", "STATE", "GANG×GPU", "AGE", "NODES / WHY PENDING"], rows)
}

fn render_job(j: &Job) -> String {
    let r = &j.spec.resources;
    let mut s = format!(
        "job {}  {}  ({})\ntenant:    {}\ncommand:   {}\nresources: {} replica(s) × {} milli-CPU, {} MiB, {} milli-GPU{}\nattempt:   {}\n",
        j.id,
        j.name,
        j.state,
        j.tenant_name,
        j.spec.command.join(" "),
        j.spec.replicas,
        r.cpu_milli.0,
        r.memory_mib.0,
        r.gpu_milli.total_milli().0,
        if r.gpu_models.is_empty() { String::new() } else { format!(" on {}", r.gpu_models.join("|")) },
        j.attempt,
    );
    if let Some(reason) = &j.reason {
        s += &format!("reason:    {reason}\n");
    }
    for t in &j.tasks {
        let devices: Vec<String> = t.gpus.iter().map(|g| g.index.to_string()).collect();
        s += &format!(
            "  rank {}  {}  gpus [{}]  {}{}\n",
            t.replica,
            t.node_name,
            devices.join(","),
            t.state.as_str(),
            t.exit_code.map(|c| format!(" (exit {c})")).unwrap_or_default()
        );
    }
    s
}

#[cfg(test)]
mod tests {
    use super::milli;

    #[test]
    fn milli_parses_exact_decimals() {
        assert_eq!(milli("--gpus", "0.5").unwrap(), 500);
        assert_eq!(milli("--gpus", "2").unwrap(), 2000);
        assert_eq!(milli("--cpu", ".25").unwrap(), 250);
        assert!(milli("--gpus", "-1").is_err());
        assert!(milli("--gpus", "0.0001").is_err());
        assert!(milli("--gpus", "abc").is_err());
    }
}
