//! The web console: served beside the API, the endpoints it added (fleet history, the model
//! registry), and its end-to-end journey in headless Chromium (`crates/console/e2e/journey.mjs`),
//! which skips with a reason where node, Chromium or playwright-core is missing.

use crate::harness::{smollm2_available, submit, user_models_dir, wait_for, Cluster};
use crate::journey::{free_port, nix_kill, up_with};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};
use strata_api::fleet::FleetHistory;
use strata_api::models::ModelList;
use strata_client::Client;

fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap()
}

#[tokio::test]
async fn the_console_is_served_beside_the_api() {
    let c = Cluster::start().await;
    let http = no_redirects();
    let root = http.get(format!("{}/", c.url)).send().await.unwrap();
    assert!(root.status().is_redirection(), "{}", root.status());
    assert_eq!(root.headers()["location"], "/console/");
    for page in ["/console/", "/console/jobs", "/console/jobs/1", "/console/playground", "/console/signin"] {
        let res = http.get(format!("{}{page}", c.url)).send().await.unwrap();
        assert_eq!(res.status(), 200, "{page}");
        assert_eq!(res.headers()["content-type"], "text/html; charset=utf-8");
        assert!(res.text().await.unwrap().contains("/console/assets/js/app.js"));
    }
    let js = http.get(format!("{}/console/assets/js/api.js", c.url)).send().await.unwrap();
    assert_eq!(js.headers()["content-type"], "text/javascript; charset=utf-8");
    // The console took no paths from the API or the gateway.
    let api = http.get(format!("{}/api/v1/nope", c.url)).send().await.unwrap();
    assert_eq!(api.status(), 404);
    assert!(api.text().await.unwrap().contains("openapi.json"));
    let models = http.get(format!("{}/v1/models", c.url)).send().await.unwrap();
    assert_eq!(models.status(), 401);
    // What it added to the API is documented like the rest.
    let spec: serde_json::Value =
        http.get(format!("{}/api/v1/openapi.json", c.url)).send().await.unwrap().json().await.unwrap();
    for path in ["/api/v1/fleet/history", "/api/v1/models"] {
        assert!(spec["paths"].get(path).is_some(), "OpenAPI lacks {path}");
    }
}

async fn history(client: &Client, since: Option<i64>) -> FleetHistory {
    let q = since.map_or_else(String::new, |s| format!("?since_ms={s}"));
    client.get(&format!("/fleet/history{q}")).await.unwrap()
}

#[tokio::test]
async fn fleet_history_samples_allocation_and_each_tenants_queue() {
    let mut c = Cluster::start_with_env(&[("STRATA_FLEET_SAMPLE_MS", "200")]).await;
    c.add_agent("h", "2xH100-80GB", &[]).await;
    let created = c.admin.create_tenant(&serde_json::from_value(serde_json::json!({"name": "team-h"})).unwrap()).await;
    let tenant = Client::new(&c.url, &created.unwrap().key);
    let mut busy = submit(&["sleep", "60"]);
    busy.gpu_milli = Some(2000);
    let busy = c.admin.submit_job(&busy).await.unwrap();
    let mut waits = submit(&["true"]);
    waits.gpu_milli = Some(1000);
    tenant.submit_job(&waits).await.unwrap();

    let admin = c.admin.clone();
    let seen = wait_for("a sample with both GPUs held and the tenant's job queued", Duration::from_secs(20), || {
        let a = admin.clone();
        async move {
            let h = history(&a, None).await;
            h.samples.into_iter().rev().find(|s| {
                let held = s.gpus.iter().find(|g| g.model == "H100-80GB").map(|g| (g.total, g.allocated_milli));
                held == Some((2, 2000)) && s.pending == 1 && s.running == 1
            })
        }
    })
    .await;
    let h = history(&c.admin, None).await;
    assert_eq!(h.interval_ms, 200);
    assert!(h.samples.windows(2).all(|w| w[0].at_ms <= w[1].at_ms), "oldest first");
    // A tenant sees the fleet's chips but only its own queue.
    let mine = history(&tenant, Some(seen.at_ms - 1)).await;
    let own = mine.samples.iter().find(|s| s.at_ms == seen.at_ms).expect("the same sample");
    assert_eq!((own.pending, own.running), (1, 0));
    assert_eq!(own.gpus, seen.gpus);
    // `since_ms` gives only later samples, for incremental polling.
    let later = history(&c.admin, Some(seen.at_ms)).await;
    assert!(later.samples.iter().all(|s| s.at_ms > seen.at_ms));
    c.admin.cancel_job(busy.id.0).await.unwrap();
    let join = Client::new(&c.url, c.join_token.trim());
    let refused = join.get::<FleetHistory>("/fleet/history").await.unwrap_err();
    assert_eq!(refused.code(), Some(strata_domain::ErrorCode::Forbidden));
}

/// A registry with one model whose numbers make the estimate easy to check by hand.
fn write_registry(dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    let registry = serde_json::json!({"models": [{
        "name": "tiny", "file": "tiny.gguf", "sha256": "00", "file_bytes": 100 << 20, "source": "test",
        "architecture": "llama", "display_name": "Tiny", "quantization": "Q4_1", "parameters": 135_000_000u64,
        "context_length": 8192, "layers": 30, "kv_heads": 3, "kv_bytes_per_token": 1 << 20,
        "has_chat_template": true
    }]});
    std::fs::write(dir.join("registry.json"), registry.to_string()).unwrap();
}

#[tokio::test]
async fn the_model_registry_is_listed_with_memory_estimates_per_chip() {
    let models = tempfile::tempdir().unwrap();
    write_registry(models.path());
    let mut c = Cluster::start_with_env(&[("STRATA_MODELS", models.path().to_str().unwrap())]).await;
    c.add_agent("m", "2xA100-40GB", &[]).await;
    let list: ModelList = c.admin.get("/models").await.unwrap();
    let [m] = list.models.as_slice() else { panic!("one model: {list:?}") };
    assert_eq!((m.name.as_str(), m.parameters, m.context_length), ("tiny", 135_000_000, 8192));
    // 100 MiB of weights + 4096 tokens × 1 MiB of KV cache + 256 MiB of overhead.
    assert_eq!((m.default_context, m.memory_mib), (4096, 100 + 4096 + 256));
    let [fit] = m.fits.as_slice() else { panic!("one chip model: {:?}", m.fits) };
    assert_eq!((fit.chip.as_str(), fit.chip_memory_mib), ("A100-40GB", 40960));
    assert_eq!(fit.replicas_per_device, 40960 / 4452);
    assert_eq!(fit.max_context, 8192, "40 GiB holds the model's whole context");
    // Tenants may read it too; it says nothing about anyone's work.
    let created = c.admin.create_tenant(&serde_json::from_value(serde_json::json!({"name": "team-m"})).unwrap()).await;
    let tenant = Client::new(&c.url, &created.unwrap().key);
    assert_eq!(tenant.get::<ModelList>("/models").await.unwrap(), list);
}

fn node_available() -> bool {
    Command::new("node").arg("--version").output().is_ok_and(|o| o.status.success())
}

/// The console's pure JavaScript (SSE parsing, CSV, scales, formatting) under `node --test`.
#[test]
fn console_javascript_units() {
    if !node_available() {
        eprintln!("console_javascript_units skipped: node is not on PATH (apt-get install nodejs)");
        return;
    }
    let out = Command::new("node")
        .args(["--test", "units.test.mjs"])
        .current_dir(workspace().join("crates/console/e2e"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
}

/// Why the browser journey cannot run here, if it cannot.
fn journey_missing(e2e: &Path, chromium: &Path) -> Option<String> {
    if !node_available() {
        return Some("node is not on PATH (apt-get install nodejs npm)".into());
    }
    if !chromium.exists() {
        return Some(format!("{} is missing (apt-get install chromium)", chromium.display()));
    }
    if !e2e.join("node_modules/playwright-core").exists() {
        return Some(format!("playwright-core is not installed (cd {} && npm ci)", e2e.display()));
    }
    None
}

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().unwrap()
}

#[tokio::test]
async fn console_journey_in_headless_chromium() {
    let e2e = workspace().join("crates/console/e2e");
    let chromium = PathBuf::from(std::env::var("STRATA_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into()));
    if let Some(why) = journey_missing(&e2e, &chromium) {
        eprintln!("console_journey_in_headless_chromium skipped: {why}");
        return;
    }
    let has_model = smollm2_available("the console's playground step");
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let port = free_port();
    let env = [
        ("STRATA_MODELS".to_string(), user_models_dir().display().to_string()),
        ("STRATA_FLEET_SAMPLE_MS".to_string(), "1000".to_string()),
    ];
    let extra: &[&str] = if has_model { &[] } else { &["--no-model"] };
    let mut up = up_with(&dir, port, extra, &env).await;
    let log = dir.with_extension(format!("{port}.log"));
    let admin = std::fs::read_to_string(dir.join("admin.token")).unwrap();
    let shots = std::env::var_os("STRATA_SCREENSHOTS")
        .map_or_else(|| workspace().join("target/console-screenshots"), PathBuf::from);
    let _ = std::fs::remove_dir_all(&shots);
    eprintln!("console journey: screenshots go to {}", shots.display());

    let mut child = Command::new("node")
        .arg("journey.mjs")
        .current_dir(&e2e)
        .env("STRATA_URL", format!("http://127.0.0.1:{port}"))
        .env("STRATA_ADMIN_TOKEN", admin.trim())
        .env("STRATA_BIN", crate::harness::BIN)
        .env("STRATA_DATA_DIR", &dir)
        .env("STRATA_SCREENSHOTS", &shots)
        .env("STRATA_CHROMIUM", &chromium)
        .env("STRATA_HAS_MODEL", if has_model { "1" } else { "0" })
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(600);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!(
                "the console journey ran past 10 minutes; strata up's log:\n{}",
                std::fs::read_to_string(&log).unwrap_or_default()
            );
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    // An agent that stops leaves its tasks to its next start, so stop the work first: the
    // deployment's replica is a model server that would outlive the test.
    let client = Client::new(&format!("http://127.0.0.1:{port}"), admin.trim());
    let _ = client.delete_deployment("smollm2").await;
    let running = strata_api::jobs::JobQuery { state: Some("running".into()), ..Default::default() };
    for _ in 0..200 {
        if client.jobs(&running).await.is_ok_and(|l| l.jobs.is_empty()) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    nix_kill(up.pid(), "INT");
    let stopped = Instant::now();
    while up.child.try_wait().unwrap().is_none() && stopped.elapsed() < Duration::from_secs(20) {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        status.success(),
        "the console journey failed ({status}); screenshots in {}; strata up's log:\n{}",
        shots.display(),
        std::fs::read_to_string(&log).unwrap_or_default()
    );
}
