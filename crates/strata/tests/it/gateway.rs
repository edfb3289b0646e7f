//! The OpenAI-compatible gateway on a real server: keys, errors, limits, budgets, revocation,
//! usage records that survive a SIGKILL — none of which needs a model — and, when SmolLM2 is in
//! the model cache, deployments served end to end: chat and streaming, metering and cost,
//! scale from zero, and a replica killed under load.

use crate::harness::{smollm2_available, wait_for, Cluster};
use futures::future::join_all;
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::time::Duration;
use strata_api::deployments::CreateDeployment;
use strata_api::keys::CreateKey;
use strata_api::tenants::{CreateTenant, Quota};
use strata_api::usage::UsageQuery;

fn chat_body(model: &str, max_tokens: u64) -> Value {
    json!({"model": model, "max_tokens": max_tokens, "temperature": 0,
           "messages": [{"role": "system", "content": "You are a helpful assistant."},
                        {"role": "user", "content": "What is the capital of France?"}]})
}

async fn post(
    http: &reqwest::Client,
    url: &str,
    key: &str,
    body: &Value,
) -> (StatusCode, reqwest::header::HeaderMap, Value) {
    let r = http.post(format!("{url}/v1/chat/completions")).bearer_auth(key).json(body).send().await.unwrap();
    let (status, headers) = (r.status(), r.headers().clone());
    (status, headers, r.json().await.unwrap_or(Value::Null))
}

/// A deployment that never gets a replica (no agent runs): requests to it are metered and
/// answered 503 after the (shortened) cold-start wait.
fn ghost(name: &str) -> CreateDeployment {
    CreateDeployment {
        model: "smollm2".into(),
        name: Some(name.into()),
        replicas: Some(0),
        min_replicas: Some(0),
        max_replicas: Some(1),
        memory_mib: Some(512),
        price_input_per_mtok: Some(1.0),
        price_output_per_mtok: Some(2.0),
        ..CreateDeployment::default()
    }
}

async fn tenant(c: &Cluster, name: &str) {
    c.admin
        .create_tenant(&CreateTenant { name: name.into(), quota: Quota::default(), limits: Default::default() })
        .await
        .unwrap();
}

async fn key(c: &Cluster, tenant: &str, req: CreateKey) -> (i64, String) {
    let k = c.admin.create_key(tenant, &req).await.unwrap();
    (k.key_id, k.key)
}

#[tokio::test]
async fn requests_are_refused_with_openai_errors_naming_what_was_wrong() {
    let c = Cluster::start_with_env(&[("STRATA_COLD_START_TIMEOUT_MS", "300")]).await;
    let http = reqwest::Client::new();
    let url = c.url.clone();
    c.admin.create_deployment(&ghost("ghost")).await.unwrap();
    tenant(&c, "team-a").await;
    tenant(&c, "team-b").await;

    // Authentication.
    let r = http.post(format!("{url}/v1/chat/completions")).json(&chat_body("ghost", 4)).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["type"], "authentication_error");
    let (status, _, v) = post(&http, &url, "sk-strata-nope", &chat_body("ghost", 4)).await;
    assert_eq!((status, v["error"]["code"].as_str()), (StatusCode::UNAUTHORIZED, Some("invalid_api_key")));

    // A key made a moment ago works at once (no wait for the cache refresh).
    let (open_id, open) = key(&c, "team-a", CreateKey::default()).await;
    // Bad requests name the parameter.
    let r = http.post(format!("{url}/v1/chat/completions")).bearer_auth(&open).body("{not json").send().await.unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let v: Value = r.json().await.unwrap();
    assert_eq!(
        (v["error"]["type"].as_str(), v["error"]["code"].as_str()),
        (Some("invalid_request_error"), Some("invalid_json"))
    );
    let (status, _, v) = post(&http, &url, &open, &json!({"messages": []})).await;
    assert_eq!((status, v["error"]["param"].as_str()), (StatusCode::BAD_REQUEST, Some("model")));
    let (status, _, v) = post(&http, &url, &open, &json!({"model": "ghost", "messages": [], "max_tokens": -1})).await;
    assert_eq!((status, v["error"]["param"].as_str()), (StatusCode::BAD_REQUEST, Some("max_tokens")));
    // An unknown model is 404 model_not_found.
    let (status, _, v) = post(&http, &url, &open, &chat_body("no-such-model", 4)).await;
    assert_eq!((status, v["error"]["code"].as_str()), (StatusCode::NOT_FOUND, Some("model_not_found")));

    // A key scoped to other models may not call this one (403), and lists only its own.
    let (_, scoped) = key(&c, "team-a", CreateKey { models: Some(vec!["other".into()]), ..Default::default() }).await;
    let (status, _, v) = post(&http, &url, &scoped, &chat_body("ghost", 4)).await;
    assert_eq!((status, v["error"]["type"].as_str()), (StatusCode::FORBIDDEN, Some("permission_error")));
    let listed: Value =
        http.get(format!("{url}/v1/models")).bearer_auth(&scoped).send().await.unwrap().json().await.unwrap();
    assert_eq!(listed["data"].as_array().unwrap().len(), 0, "{listed}");
    let listed: Value =
        http.get(format!("{url}/v1/models")).bearer_auth(&open).send().await.unwrap().json().await.unwrap();
    assert_eq!(listed["data"][0]["id"], "ghost");

    // A tenant's own deployment is invisible to other tenants.
    let (_, b_key) = key(&c, "team-b", CreateKey::default()).await;
    let mut private = ghost("team-b-only");
    private.tenant = Some("team-b".into());
    c.admin.create_deployment(&private).await.unwrap();
    let (status, _, _) = post(&http, &url, &open, &chat_body("team-b-only", 4)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // No replica comes up (no agent): held for the cold-start wait, then 503 with Retry-After.
    let started = std::time::Instant::now();
    let (status, headers, v) = post(&http, &url, &b_key, &chat_body("team-b-only", 4)).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{v}");
    assert!(started.elapsed() >= Duration::from_millis(250), "the request was held for the cold start");
    assert!(headers.contains_key("retry-after"));

    // Requests per minute: the second request in the minute is refused with the limit named.
    let (rpm_id, rpm) = key(&c, "team-a", CreateKey { rpm: Some(1), ..Default::default() }).await;
    let (status, _, _) = post(&http, &url, &rpm, &chat_body("ghost", 4)).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    let (status, headers, v) = post(&http, &url, &rpm, &chat_body("ghost", 4)).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(v["error"]["code"], "rate_limit_requests");
    assert!(v["error"]["message"].as_str().unwrap().contains(&format!("key {rpm_id}")), "{v}");
    let retry: u64 = headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry));

    // Tokens per minute: max_tokens beyond the minute's allowance can never pass.
    let (_, tpm) = key(&c, "team-a", CreateKey { tpm: Some(100), ..Default::default() }).await;
    let (status, headers, v) = post(&http, &url, &tpm, &chat_body("ghost", 500)).await;
    assert_eq!((status, v["error"]["code"].as_str()), (StatusCode::TOO_MANY_REQUESTS, Some("rate_limit_tokens")));
    assert!(!headers.contains_key("retry-after"), "waiting does not help a request larger than the limit");

    // A budget that the request could exceed refuses it before it runs.
    let (_, broke) = key(&c, "team-a", CreateKey { budget_usd: Some(0.0), ..Default::default() }).await;
    let (status, _, v) = post(&http, &url, &broke, &chat_body("ghost", 16)).await;
    assert_eq!((status, v["error"]["code"].as_str()), (StatusCode::TOO_MANY_REQUESTS, Some("insufficient_quota")));

    // Revocation takes effect within a second.
    c.admin.revoke_key("team-a", open_id).await.unwrap();
    let revoked_at = std::time::Instant::now();
    wait_for("revocation to reach the gateway", Duration::from_secs(1), || {
        let (http, url, open) = (http.clone(), url.clone(), open.clone());
        async move {
            let r = http.get(format!("{url}/v1/models")).bearer_auth(&open).send().await.ok()?;
            (r.status() == StatusCode::UNAUTHORIZED).then_some(())
        }
    })
    .await;
    assert!(revoked_at.elapsed() < Duration::from_secs(1));

    // Every request that named a deployment has its record, with its status (those refused
    // before, as malformed or forbidden, have none); refused ones cost nothing.
    let usage = wait_for("usage records", Duration::from_secs(5), || {
        let admin = c.admin.clone();
        async move {
            let q = UsageQuery { tenant: Some("team-a".into()), group_by: Some("key".into()), ..Default::default() };
            let r = admin.usage(&q).await.ok()?;
            (r.total.requests >= 4).then_some(r)
        }
    })
    .await;
    assert_eq!((usage.total.requests, usage.total.errors, usage.total.cost_pico_usd), (4, 4, 0));
    let rpm_row = usage.rows.iter().find(|r| r.group == rpm_id.to_string()).unwrap();
    assert_eq!(rpm_row.requests, 2);
}

#[tokio::test]
async fn sigkill_of_the_gateway_loses_no_completed_requests_usage() {
    // No flush before the kill: every record must come back from the journal.
    let mut c =
        Cluster::start_with_env(&[("STRATA_COLD_START_TIMEOUT_MS", "50"), ("STRATA_USAGE_FLUSH_MS", "600000")]).await;
    let http = reqwest::Client::new();
    c.admin.create_deployment(&ghost("ghost")).await.unwrap();
    tenant(&c, "team-a").await;
    let (_, k) = key(&c, "team-a", CreateKey::default()).await;
    let body = chat_body("ghost", 4);
    let answered = join_all((0..12).map(|_| post(&http, &c.url, &k, &body))).await;
    assert!(answered.iter().all(|(s, _, _)| *s == StatusCode::SERVICE_UNAVAILABLE));
    let q = UsageQuery { tenant: Some("team-a".into()), ..Default::default() };
    assert_eq!(c.admin.usage(&q).await.unwrap().total.requests, 0, "nothing was flushed before the kill");
    c.kill_server();
    c.start_server().await;
    let usage = c.admin.usage(&q).await.unwrap();
    assert_eq!(usage.total.requests, 12, "every answered request's record survived the SIGKILL");
    // Replaying again (another restart) stores nothing twice.
    c.kill_server();
    c.start_server().await;
    assert_eq!(c.admin.usage(&q).await.unwrap().total.requests, 12);
}

#[tokio::test]
async fn a_gateway_whose_usage_cannot_be_stored_refuses_new_requests_instead_of_growing() {
    // No flush for ten minutes and room for five unstored records.
    let c = Cluster::start_with_env(&[
        ("STRATA_COLD_START_TIMEOUT_MS", "50"),
        ("STRATA_USAGE_FLUSH_MS", "600000"),
        ("STRATA_USAGE_BACKLOG_MAX", "5"),
    ])
    .await;
    let http = reqwest::Client::new();
    c.admin.create_deployment(&ghost("ghost")).await.unwrap();
    tenant(&c, "team-a").await;
    let (_, k) = key(&c, "team-a", CreateKey::default()).await;
    let body = chat_body("ghost", 4);
    for _ in 0..5 {
        let (status, _, v) = post(&http, &c.url, &k, &body).await;
        assert_eq!((status, v["error"]["code"].as_str()), (StatusCode::SERVICE_UNAVAILABLE, Some("no_replica")));
    }
    for _ in 0..3 {
        let (status, headers, v) = post(&http, &c.url, &k, &body).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{v}");
        assert_eq!(v["error"]["code"], "usage_backlog", "{v}");
        assert!(v["error"]["message"].as_str().unwrap().contains("5 usage records not yet stored"), "{v}");
        assert_eq!(headers.get("retry-after").unwrap(), "1");
    }
    let metrics = http.get(format!("{}/metrics", c.url)).send().await.unwrap().text().await.unwrap();
    assert!(metrics.contains("strata_gateway_usage_backlog_refusals_total 3"), "{metrics}");
    assert!(metrics.contains("strata_gateway_usage_unflushed 5"), "{metrics}");
}

/// An agent with room for two SmolLM2 replicas.
async fn model_cluster() -> Cluster {
    let mut c = Cluster::start_with_env(&[("STRATA_COLD_START_TIMEOUT_MS", "120000")]).await;
    c.add_agent("cpu-1", "1xT4-16GB", &["--cpu-cores", "4", "--memory-mib", "16000"]).await;
    c
}

fn smollm2(name: &str, replicas: u32, min: u32) -> CreateDeployment {
    CreateDeployment {
        model: "smollm2".into(),
        name: Some(name.into()),
        replicas: Some(replicas),
        min_replicas: Some(min),
        max_replicas: Some(replicas.max(1)),
        threads: Some(1),
        context: Some(2048),
        slots: Some(4),
        price_input_per_mtok: Some(1.0),
        price_output_per_mtok: Some(2.0),
        ..CreateDeployment::default()
    }
}

async fn wait_ready(c: &Cluster, name: &str, replicas: u32) {
    wait_for(&format!("{replicas} ready replica(s) of {name}"), Duration::from_secs(90), || {
        let admin = c.admin.clone();
        let name = name.to_string();
        async move { (admin.deployment(&name).await.ok()?.ready_replicas >= replicas).then_some(()) }
    })
    .await;
}

#[tokio::test]
async fn a_deployment_serves_chat_and_streams_through_the_gateway_with_exact_cost() {
    if !smollm2_available("gateway e2e") {
        return;
    }
    let c = model_cluster().await;
    c.admin.create_deployment(&smollm2("smollm2", 1, 1)).await.unwrap();
    wait_ready(&c, "smollm2", 1).await;
    tenant(&c, "team-a").await;
    let (_, k) =
        key(&c, "team-a", CreateKey { models: Some(vec!["smollm2".into()]), tpm: Some(100_000), ..Default::default() })
            .await;
    let http = reqwest::Client::new();

    let (status, headers, v) = post(&http, &c.url, &k, &chat_body("smollm2", 24)).await;
    assert_eq!(status, StatusCode::OK, "{v}\n{}", c.logs());
    assert!(v["choices"][0]["message"]["content"].as_str().unwrap().contains("Paris"), "{v}");
    assert!(headers.contains_key("x-request-id"));
    let (p1, c1) = (v["usage"]["prompt_tokens"].as_u64().unwrap(), v["usage"]["completion_tokens"].as_u64().unwrap());

    // Streaming: chunks as they come, no usage chunk unless asked for, then [DONE].
    let mut body = chat_body("smollm2", 8);
    body["stream"] = json!(true);
    let text = http
        .post(format!("{}/v1/chat/completions", c.url))
        .bearer_auth(&k)
        .json(&body)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let events: Vec<&str> = text.lines().filter_map(|l| l.strip_prefix("data: ")).collect();
    assert_eq!(events.last(), Some(&"[DONE]"), "{text}");
    assert!(!text.contains("\"usage\":{"), "the client did not ask for usage: {text}");
    body["stream_options"] = json!({"include_usage": true});
    let text = http
        .post(format!("{}/v1/chat/completions", c.url))
        .bearer_auth(&k)
        .json(&body)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let usage_chunk: Value = text
        .lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .filter_map(|d| serde_json::from_str::<Value>(d).ok())
        .find(|v| v["usage"].is_object())
        .expect("a usage chunk");
    let (p3, c3) = (
        usage_chunk["usage"]["prompt_tokens"].as_u64().unwrap(),
        usage_chunk["usage"]["completion_tokens"].as_u64().unwrap(),
    );

    // The ledger has all three, at the deployment's prices to the pico-dollar.
    let usage = wait_for("three usage records", Duration::from_secs(5), || {
        let admin = c.admin.clone();
        async move {
            let r = admin.usage(&UsageQuery { tenant: Some("team-a".into()), ..Default::default() }).await.ok()?;
            (r.total.requests == 3).then_some(r)
        }
    })
    .await;
    assert_eq!(usage.total.errors, 0);
    assert!(usage.total.prompt_tokens >= p1 + p3);
    assert!(usage.total.completion_tokens >= c1 + c3);
    let expected = (usage.total.prompt_tokens * 1_000_000 + usage.total.completion_tokens * 2_000_000) as i64;
    assert_eq!(usage.total.cost_pico_usd, expected);
    let metrics = http.get(format!("{}/metrics", c.url)).send().await.unwrap().text().await.unwrap();
    assert!(
        metrics.contains("strata_gateway_requests_total{model=\"smollm2\",status=\"200\",caller=\"tenant\"} 3"),
        "{metrics}"
    );
}

#[tokio::test]
async fn a_deployment_at_zero_answers_its_next_request_after_a_cold_start() {
    if !smollm2_available("cold start") {
        return;
    }
    let c = model_cluster().await;
    c.admin.create_deployment(&smollm2("lazy", 0, 0)).await.unwrap();
    let http = reqwest::Client::new();
    let admin_token = std::fs::read_to_string(c.path("server").join("admin.token")).unwrap();
    let (status, _, v) = post(&http, &c.url, admin_token.trim(), &chat_body("lazy", 8)).await;
    assert_eq!(status, StatusCode::OK, "{v}\n{}", c.logs());
    let d = c.admin.deployment("lazy").await.unwrap();
    assert_eq!((d.replicas, d.ready_replicas), (1, 1), "the held request scaled the deployment up");
}

#[tokio::test]
async fn killing_a_replica_under_load_loses_no_request() {
    if !smollm2_available("replica kill") {
        return;
    }
    let c = model_cluster().await;
    c.admin.create_deployment(&smollm2("pair", 2, 2)).await.unwrap();
    wait_ready(&c, "pair", 2).await;
    let admin_token = std::fs::read_to_string(c.path("server").join("admin.token")).unwrap();
    let token = admin_token.trim().to_string();
    let http = reqwest::Client::new();
    let victim = c.admin.deployment("pair").await.unwrap().replica_list[0].endpoint.clone().unwrap();
    let port = victim.rsplit(':').next().unwrap().to_string();
    let body = chat_body("pair", 48);
    let requests = (0..8).map(|_| post(&http, &c.url, &token, &body));
    let kill = async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        let killed =
            std::process::Command::new("pkill").args(["-9", "-f", "--", &format!("--port {port} ")]).status().unwrap();
        assert!(killed.success(), "killed the replica on port {port}");
    };
    let (answers, ()) = tokio::join!(join_all(requests), kill);
    for (status, _, v) in &answers {
        assert_eq!(*status, StatusCode::OK, "{v}\n{}", c.logs());
    }
    // The dead replica is replaced.
    wait_for("the replacement replica", Duration::from_secs(90), || {
        let admin = c.admin.clone();
        let victim = victim.clone();
        async move {
            let d = admin.deployment("pair").await.ok()?;
            (d.ready_replicas == 2 && d.replica_list.iter().all(|r| r.endpoint.as_deref() != Some(victim.as_str())))
                .then_some(())
        }
    })
    .await;
}

#[tokio::test]
async fn external_endpoints_are_routed_to_with_fallbacks_when_one_is_down() {
    if !smollm2_available("external endpoints") {
        return;
    }
    let c = Cluster::start().await;
    // A model server run outside Strata's scheduler, under its own model name.
    let port = crate::journey::free_port();
    let _upstream = crate::harness::spawn_env(
        &[
            "serve",
            "smollm2",
            "--name",
            "their-name",
            "--port",
            &port.to_string(),
            "--threads",
            "1",
            "--context",
            "1024",
        ],
        &c.path("upstream.log"),
        &c.env,
    );
    let http = reqwest::Client::new();
    let base = format!("http://127.0.0.1:{port}");
    wait_for("the external model server", Duration::from_secs(60), || {
        let (http, base) = (http.clone(), base.clone());
        async move { http.get(format!("{base}/healthz")).send().await.ok().filter(|r| r.status().is_success()) }
    })
    .await;
    let external = |name: &str, endpoint: &str, fallbacks: Vec<String>| CreateDeployment {
        model: "their-name".into(),
        name: Some(name.into()),
        endpoints: vec![endpoint.to_string()],
        fallbacks,
        price_input_per_mtok: Some(1.0),
        ..CreateDeployment::default()
    };
    c.admin.create_deployment(&external("ext", &base, vec![])).await.unwrap();
    let dead = format!("http://127.0.0.1:{}", crate::journey::free_port());
    c.admin.create_deployment(&external("flaky", &dead, vec!["ext".into()])).await.unwrap();
    let token = std::fs::read_to_string(c.path("server").join("admin.token")).unwrap();
    for model in ["ext", "flaky"] {
        let (status, _, v) = post(&http, &c.url, token.trim(), &chat_body(model, 16)).await;
        assert_eq!(status, StatusCode::OK, "{model}: {v}");
        assert!(v["choices"][0]["message"]["content"].as_str().unwrap().contains("Paris"), "{v}");
    }
    let d = c.admin.deployment("flaky").await.unwrap();
    assert_eq!((d.spec.backend.as_str(), d.ready_replicas), ("external", 1));
    let scale = c.admin.scale_deployment("ext", &Default::default()).await.unwrap_err();
    assert!(scale.to_string().contains("nothing to scale"), "{scale}");
}

#[tokio::test]
async fn an_engine_deployment_waits_for_a_node_that_has_the_engine_and_says_so() {
    let mut c = Cluster::start().await;
    c.add_agent("plain", "1xT4-16GB", &["--cpu-cores", "4", "--memory-mib", "16000"]).await;
    let req = CreateDeployment {
        model: "/models/llama-3-8b".into(),
        name: Some("llama".into()),
        backend: Some("vllm".into()),
        memory_mib: Some(1024),
        ..CreateDeployment::default()
    };
    c.admin.create_deployment(&req).await.unwrap();
    let pending = wait_for("the replica's reason", Duration::from_secs(10), || {
        let admin = c.admin.clone();
        async move {
            let d = admin.deployment("llama").await.ok()?;
            d.pending.into_iter().find(|p| p.contains("engine.vllm=yes"))
        }
    })
    .await;
    assert!(pending.contains("needs a node labelled engine.vllm=yes"), "{pending}");
    // The job is an ordinary job: the same reason is in the job list.
    let jobs = c.admin.jobs(&Default::default()).await.unwrap();
    assert!(jobs
        .jobs
        .iter()
        .any(|j| j.name == "deploy-llama" && j.reason.as_deref().is_some_and(|r| r.contains("vllm"))));
}

#[tokio::test]
async fn a_deployment_spreads_its_replicas_and_says_why_one_waits() {
    let mut c = Cluster::start().await;
    c.add_agent("only", "1xT4-16GB", &["--cpu-cores", "4", "--memory-mib", "16000"]).await;
    let req = |per_node: u32| CreateDeployment {
        model: "/models/none.gguf".into(),
        name: Some("spread".into()),
        replicas: Some(2),
        memory_mib: Some(1024),
        max_replicas_per_node: Some(per_node),
        ..CreateDeployment::default()
    };
    let bad = c.admin.create_deployment(&req(0)).await.unwrap_err().to_string();
    assert!(bad.contains("max_replicas_per_node must be 1..1024"), "{bad}");
    let external = CreateDeployment { endpoints: vec!["http://127.0.0.1:9".into()], model: "m".into(), ..req(1) };
    let bad = c.admin.create_deployment(&external).await.unwrap_err().to_string();
    assert!(bad.contains("places no replicas"), "{bad}");
    // Both replicas would fit on the one node; the limit lets one run there and says so.
    let d = c.admin.create_deployment(&req(1)).await.unwrap();
    assert_eq!(d.spec.max_replicas_per_node, Some(1));
    let pending = wait_for("the second replica's reason", Duration::from_secs(20), || {
        let admin = c.admin.clone();
        async move {
            let d = admin.deployment("spread").await.ok()?;
            d.pending.into_iter().find(|p| p.contains("max_replicas_per_node"))
        }
    })
    .await;
    assert!(
        pending.contains(&format!("already holds as many replicas of deployment spread #{} as one node may (1,", d.id)),
        "{pending}"
    );
}

#[tokio::test]
async fn a_revoked_key_is_refused_by_every_gateway_replica_within_a_second() {
    let c = Cluster::start().await;
    if !c.database_url.starts_with("postgres") {
        eprintln!("single-replica on SQLite; the PostgreSQL pass runs two gateway replicas");
        return;
    }
    // A second server on the same database: a second gateway replica.
    let (_second, second_url) = c.spawn_server("second").await;
    tenant(&c, "team-a").await;
    let (id, secret) = key(&c, "team-a", CreateKey::default()).await;
    let http = reqwest::Client::new();
    let status = |url: String| {
        let (http, secret) = (http.clone(), secret.clone());
        async move { http.get(format!("{url}/v1/models")).bearer_auth(&secret).send().await.unwrap().status() }
    };
    assert_eq!(status(second_url.clone()).await, StatusCode::OK, "the key works on the other replica at once");
    c.admin.revoke_key("team-a", id).await.unwrap();
    let revoked = std::time::Instant::now();
    wait_for("the other replica to refuse the key", Duration::from_secs(1), || {
        let f = status(second_url.clone());
        async move { (f.await == StatusCode::UNAUTHORIZED).then_some(()) }
    })
    .await;
    assert!(revoked.elapsed() < Duration::from_secs(1));
}
