//! The application developer's journey: `strata up`, a tenant and keys from the CLI, then the
//! official `openai` Python package (installed by `.ci/run`) against the gateway — chat,
//! streaming, completions, embeddings, models, every error type, the rate limit — then usage
//! and cost from the CLI, and a revoked key refused within a second.

use crate::harness::{smollm2_available, spawn_env, user_models_dir, wait_for, KillTasksOnDrop};
use crate::journey::{cli, free_port, json};
use std::process::Command;
use std::time::{Duration, Instant};

fn python_has_openai() -> bool {
    let ok = Command::new("python3").args(["-c", "import openai"]).status().is_ok_and(|s| s.success());
    if !ok {
        eprintln!("openai journey skipped: `import openai` fails — `python3 -m pip install openai` (CI does)");
    }
    ok
}

#[tokio::test]
async fn the_openai_client_needs_nothing_but_base_url_and_key() {
    if !smollm2_available("openai journey") || !python_has_openai() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let _tasks = KillTasksOnDrop(tmp.path().to_path_buf());
    let dir = tmp.path().join("data");
    let port = free_port();
    let env = [("STRATA_MODELS".to_string(), user_models_dir().display().to_string())];
    let _up = spawn_env(
        &["up", "--data-dir", dir.to_str().unwrap(), "--port", &port.to_string()],
        &tmp.path().join("up.log"),
        &env,
    );
    let d = dir.clone();
    wait_for("strata up to serve smollm2", Duration::from_secs(90), || {
        let d = d.clone();
        async move {
            let (ok, out, _) = cli(&d, &["deployment", "ls", "-o", "json"]);
            let v: serde_json::Value = serde_json::from_str(&out).ok()?;
            (ok && v["deployments"][0]["ready_replicas"] == 1).then_some(())
        }
    })
    .await;

    let (ok, _, err) = cli(&dir, &["tenant", "create", "team-a"]);
    assert!(ok, "{err}");
    let rpm = 8;
    let key = json(&dir, &["key", "create", "--tenant", "team-a", "--rpm", &rpm.to_string(), "--output", "json"]);
    let scoped = json(&dir, &["key", "create", "--tenant", "team-a", "--models", "other", "--output", "json"]);
    let secret = key["key"].as_str().unwrap().to_string();
    let base = format!("http://127.0.0.1:{port}/v1");

    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/python/openai_journey.py");
    let out = Command::new("python3")
        .arg(script)
        .env("BASE_URL", &base)
        .env("KEY", &secret)
        .env("SCOPED_KEY", scoped["key"].as_str().unwrap())
        .env("MODEL", "smollm2")
        .env("LIMIT_RPM", rpm.to_string())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "the openai journey failed:\n{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    let seen: serde_json::Value = serde_json::from_str(stdout.lines().last().unwrap()).unwrap();
    assert!(seen["chat"].as_str().unwrap().contains("Paris"));
    assert!(seen["embedding_dims"].as_u64().unwrap() > 0);
    assert_eq!(seen["not_found"], "model_not_found");
    assert_eq!(seen["bad_request"], "max_tokens");
    assert_eq!(seen["permission"], "model_not_allowed");
    assert_eq!(seen["authentication"], "invalid_api_key");
    assert_eq!(seen["rate_limit"]["code"], "rate_limit_requests");
    assert!(seen["rate_limit"]["retry_after"].as_str().is_some());

    // Usage and cost, from the CLI.
    let usage = wait_for("usage in the ledger", Duration::from_secs(5), || {
        let d = dir.clone();
        async move {
            let v = json(&d, &["usage", "--tenant", "team-a", "--output", "json"]);
            (v["total"]["requests"].as_u64()? >= rpm).then_some(v)
        }
    })
    .await;
    assert!(usage["total"]["cost_usd"].as_f64().unwrap() > 0.0, "{usage}");
    assert!(usage["total"]["completion_tokens"].as_u64().unwrap() > 0);

    // Revoked: refused within a second.
    let id = key["key_id"].as_i64().unwrap().to_string();
    let (ok, _, err) = cli(&dir, &["key", "revoke", &id, "--tenant", "team-a"]);
    assert!(ok, "{err}");
    let revoked = Instant::now();
    let http = reqwest::Client::new();
    wait_for("the revoked key to be refused", Duration::from_secs(1), || {
        let (http, base, secret) = (http.clone(), base.clone(), secret.clone());
        async move {
            let r = http.get(format!("{base}/models")).bearer_auth(&secret).send().await.ok()?;
            (r.status() == reqwest::StatusCode::UNAUTHORIZED).then_some(())
        }
    })
    .await;
    assert!(revoked.elapsed() < Duration::from_secs(1));
}
