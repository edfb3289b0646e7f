//! `strata data run --on-cluster`: the committed data corpus scanned by jobs on two agents, then
//! deduplicated and written by the coordinator — the same bytes as a local run.

use crate::harness::{logs, Cluster, BIN};
use std::path::Path;
use std::process::Command;
use strata_api::jobs::JobQuery;
use strata_domain::JobState;

const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../dataprep/tests/data");

/// Runs `strata data run …` in `dir` to completion; returns stdout, or panics with both streams.
async fn data_run(dir: &Path, args: &[&str]) -> String {
    let (dir, args): (std::path::PathBuf, Vec<String>) =
        (dir.to_path_buf(), args.iter().map(|a| a.to_string()).collect());
    tokio::task::spawn_blocking(move || {
        let out = Command::new(BIN)
            .args(["data", "run"])
            .args(&args)
            .current_dir(&dir)
            .env_remove("STRATA_SERVER")
            .env_remove("STRATA_TOKEN")
            .env_remove("STRATA_DATA_DIR")
            .output()
            .unwrap();
        let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        assert!(out.status.success(), "strata data run {args:?} failed:\n{stdout}\n{stderr}");
        stdout.into_owned()
    })
    .await
    .unwrap()
}

/// Every file of an output directory but the run's own checkpoints, with the report's timing zeroed.
fn outputs(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            let mut bytes = std::fs::read(&p).unwrap();
            if name == "report.json" {
                let mut report: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
                report["elapsed_secs"] = 0.into();
                bytes = serde_json::to_vec_pretty(&report).unwrap();
            }
            (name, bytes)
        })
        .filter(|(name, _)| name != "report.txt") // prints the elapsed time
        .collect();
    files.sort();
    files
}

#[tokio::test]
async fn a_pipeline_on_the_cluster_writes_what_a_local_run_writes() {
    let mut c = Cluster::start().await;
    for name in ["data-a", "data-b"] {
        c.add_agent(name, "1xT4-16GB", &["--cpu-cores", "2", "--memory-mib", "4096"]).await;
    }
    let work = c.path("work");
    std::fs::create_dir_all(work.join("corpus")).unwrap();
    for entry in std::fs::read_dir(Path::new(DATA).join("corpus")).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, work.join("corpus").join(path.file_name().unwrap())).unwrap();
    }
    std::fs::copy(Path::new(DATA).join("pipeline.toml"), work.join("pipeline.toml")).unwrap();

    data_run(&work, &["pipeline.toml", "--output", "local", "--no-progress"]).await;
    let token = c.admin_token();
    let cluster_args = [
        "pipeline.toml",
        "--output",
        "cluster",
        "--no-progress",
        "--on-cluster",
        "--shards",
        "3",
        "--server",
        &c.url,
        "--token",
        &token,
    ];
    let printed = data_run(&work, &cluster_args).await;
    assert!(printed.contains("scanned on the cluster by jobs"), "{printed}");

    let jobs = c.admin.jobs(&JobQuery::default()).await.unwrap().jobs;
    let scans: Vec<_> = jobs.iter().filter(|j| j.name.starts_with("data-scan ")).collect();
    assert_eq!(scans.len(), 3, "one job per shard: {:?}", jobs.iter().map(|j| &j.name).collect::<Vec<_>>());
    assert!(scans.iter().all(|j| j.state == JobState::Succeeded), "{}", c.logs());
    // The jobs did the scanning (the coordinator only merged): together they scanned all 5 files.
    let mut scanned = 0;
    for job in &scans {
        let out = logs(&c.admin, job.id.0, None).await;
        let n: usize = out.split_whitespace().nth(1).and_then(|n| n.parse().ok()).unwrap_or_else(|| panic!("{out}"));
        assert!(out.starts_with("scanned "), "{out}");
        scanned += n;
    }
    assert_eq!(scanned, 5);
    let local = outputs(&work.join("local"));
    assert!(
        local.iter().filter(|(n, _)| n.starts_with("part-")).count() >= 3,
        "{:?}",
        local.iter().map(|f| &f.0).collect::<Vec<_>>()
    );
    assert_eq!(
        outputs(&work.join("cluster")),
        local,
        "the cluster run's shards and report differ from the local run's"
    );

    // Again: every file is scanned already, so no job is submitted, and nothing changes.
    let again = data_run(&work, &cluster_args).await;
    assert!(again.contains("(none needed)"), "{again}");
    assert_eq!(c.admin.jobs(&JobQuery::default()).await.unwrap().jobs.len(), jobs.len());
    assert_eq!(outputs(&work.join("cluster")), local);

    // The output removed, the same run scans again on the cluster: the earlier jobs of the same
    // shards have ended, so new ones are submitted instead of the old ones being reported.
    std::fs::remove_dir_all(work.join("cluster")).unwrap();
    let rebuilt = data_run(&work, &cluster_args).await;
    assert!(!rebuilt.contains("(none needed)"), "{rebuilt}");
    let all = c.admin.jobs(&JobQuery::default()).await.unwrap().jobs;
    assert_eq!(all.len(), jobs.len() + 3, "three new scan jobs");
    assert!(all.iter().all(|j| j.state == JobState::Succeeded), "{}", c.logs());
    assert_eq!(outputs(&work.join("cluster")), local);
}
