//! The main user journey through the CLI: `strata up`, see the fleet, submit, follow the logs,
//! create a tenant, stop with Ctrl-C, start again on the same data directory.

use crate::harness::{spawn_env, wait_for, BIN};
use std::process::Command;
use std::time::Duration;

pub(crate) fn cli(dir: &std::path::Path, args: &[&str]) -> (bool, String, String) {
    let out = Command::new(BIN)
        .args(args)
        .env("STRATA_DATA_DIR", dir)
        .env_remove("STRATA_SERVER")
        .env_remove("STRATA_TOKEN")
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

pub(crate) fn json(dir: &std::path::Path, args: &[&str]) -> serde_json::Value {
    let (ok, out, err) = cli(dir, args);
    assert!(ok, "strata {args:?} failed: {err}");
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("strata {args:?} printed no JSON ({e}): {out}"))
}

pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

async fn up(dir: &std::path::Path, port: u16) -> crate::harness::Proc {
    // The model is the openai journey's business (openai_client.rs); this one is about jobs.
    up_with(dir, port, &["--no-model"], &[]).await
}

/// `strata up` on `port` with four emulated H100s, once its node is ready; its log is beside `dir`.
pub(crate) async fn up_with(
    dir: &std::path::Path,
    port: u16,
    extra: &[&str],
    env: &[(String, String)],
) -> crate::harness::Proc {
    let log = dir.with_extension(format!("{port}.log"));
    let port = port.to_string();
    let mut args = vec!["up", "--data-dir", dir.to_str().unwrap(), "--port", &port, "--emulate", "4xH100-80GB"];
    args.extend(extra);
    let p = spawn_env(&args, &log, env);
    let d = dir.to_path_buf();
    wait_for("strata up to have a ready node", Duration::from_secs(60), || {
        let d = d.clone();
        async move {
            let (ok, out, _) = cli(&d, &["node", "ls", "-o", "json"]);
            (ok && out.contains("\"ready\"")).then_some(())
        }
    })
    .await;
    p
}

#[tokio::test]
async fn up_submit_follow_logs_and_resume() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let port = free_port();
    let mut first = up(&dir, port).await;

    let nodes = json(&dir, &["node", "ls", "--output", "json"]);
    let accelerators = nodes["nodes"][0]["inventory"]["accelerators"].as_array().unwrap();
    assert_eq!(accelerators.len(), 4);
    assert!(accelerators.iter().all(|a| a["emulated"] == true && a["model"] == "H100-80GB"));

    let job = json(
        &dir,
        &[
            "job",
            "submit",
            "--gpus",
            "2",
            "--name",
            "hello",
            "--output",
            "json",
            "--",
            "sh",
            "-c",
            "echo hi from $CUDA_VISIBLE_DEVICES",
        ],
    );
    let id = job["id"].as_i64().unwrap().to_string();
    let (ok, out, err) = cli(&dir, &["job", "logs", &id, "--follow"]);
    assert!(ok, "{err}");
    assert_eq!(out, "hi from 0,1\n");
    let shown = json(&dir, &["job", "show", &id, "--output", "json"]);
    assert_eq!(shown["id"].as_i64().unwrap().to_string(), id);
    assert_eq!(shown["state"], "succeeded");
    let (ok, table, _) = cli(&dir, &["job", "ls"]);
    assert!(ok && table.contains("hello") && table.contains("succeeded"), "{table}");

    // A tenant key sees none of the admin's default-tenant jobs.
    let created = json(&dir, &["tenant", "create", "team-x", "--gpu-milli", "2000", "-o", "json"]);
    let key = created["key"].as_str().unwrap();
    let mine = json(&dir, &["job", "ls", "-o", "json", "--token", key]);
    assert_eq!(mine["jobs"].as_array().unwrap().len(), 0);

    // Bad input from the CLI is explained, with the server's words.
    let (ok, _, err) = cli(&dir, &["job", "submit", "--gpus", "1.5", "--", "true"]);
    assert!(!ok && err.contains("neither a share"), "{err}");

    // Many jobs from a JSON Lines file; a refused batch names its line and stores nothing.
    let sweep = tmp.path().join("sweep.jsonl");
    std::fs::write(
        &sweep,
        "{\"command\": [\"true\"], \"name\": \"sweep-a\"}\n\n{\"command\": [\"true\"], \"name\": \"sweep-b\"}\n",
    )
    .unwrap();
    let done = json(&dir, &["job", "submit-batch", sweep.to_str().unwrap(), "-o", "json"]);
    let names: Vec<&str> = done.as_array().unwrap().iter().map(|j| j["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["sweep-a", "sweep-b"]);
    std::fs::write(
        &sweep,
        "{\"command\": [\"true\"], \"name\": \"never\"}\n{\"command\": [\"true\"], \"cpu_milli\": -1}\n",
    )
    .unwrap();
    let (ok, _, err) = cli(&dir, &["job", "submit-batch", sweep.to_str().unwrap()]);
    assert!(!ok && err.contains("sweep.jsonl:2: lines 1–2 were refused together; nothing was submitted"), "{err}");
    assert!(err.contains("cpu_milli"), "{err}");
    let (_, table, _) = cli(&dir, &["job", "ls"]);
    assert!(table.contains("sweep-b") && !table.contains("never"), "{table}");

    // Ctrl-C stops everything cleanly.
    nix_kill(first.pid(), "INT");
    let status = wait_for("strata up to exit", Duration::from_secs(20), || {
        let s = first.child.try_wait().unwrap();
        async move { s }
    })
    .await;
    assert!(status.success(), "strata up exited with {status}");

    // A second `strata up` on the same data directory resumes the same state.
    let _second = up(&dir, port).await;
    let again = json(&dir, &["job", "show", &id, "-o", "json"]);
    assert_eq!(again["state"], "succeeded");
    let tenants = json(&dir, &["tenant", "ls", "-o", "json"]);
    assert!(tenants["tenants"].as_array().unwrap().iter().any(|t| t["name"] == "team-x"));
}

pub(crate) fn nix_kill(pid: i32, signal: &str) {
    let ok = Command::new("kill").args([&format!("-{signal}"), &pid.to_string()]).status().unwrap().success();
    assert!(ok, "kill -{signal} {pid}");
}
