//! Health, metrics, the OpenAPI document, and scheduler leadership across servers.

use crate::harness::{wait_for, Cluster};
use std::time::Duration;

#[tokio::test]
async fn health_metrics_and_openapi_are_served() {
    let mut c = Cluster::start().await;
    c.add_agent("m", "2xH100-80GB", &[]).await;
    let health: serde_json::Value = reqwest::get(format!("{}/healthz", c.url)).await.unwrap().json().await.unwrap();
    assert_eq!(health["status"], "ok");
    let expected_db = if c.database_url.starts_with("postgres") { "postgres" } else { "sqlite" };
    assert_eq!(health["database"], expected_db);
    let metrics = reqwest::get(format!("{}/metrics", c.url)).await.unwrap().text().await.unwrap();
    assert!(metrics.contains("strata_gpus{model=\"H100-80GB\"} 2"), "{metrics}");
    assert!(metrics.contains("strata_nodes{state=\"ready\"} 1"), "{metrics}");
    let spec: serde_json::Value =
        reqwest::get(format!("{}/api/v1/openapi.json", c.url)).await.unwrap().json().await.unwrap();
    assert!(spec["openapi"].as_str().unwrap().starts_with("3."));
    for path in [
        "/api/v1/jobs",
        "/api/v1/jobs/{id}/logs",
        "/api/v1/nodes/{node}/drain",
        "/api/v1/tenants",
        "/api/v1/agent/heartbeat",
    ] {
        assert!(spec["paths"].get(path).is_some(), "OpenAPI lacks {path}");
    }
    assert!(spec["components"]["schemas"].get("SubmitJob").is_some());
}

async fn leader(url: &str) -> Option<bool> {
    let h: serde_json::Value = reqwest::get(format!("{url}/healthz")).await.ok()?.json().await.ok()?;
    h["scheduler_leader"].as_bool()
}

/// With PostgreSQL, exactly one of several servers schedules, and another takes over when it
/// dies. With SQLite there is one server, and it leads.
#[tokio::test]
async fn exactly_one_server_leads_and_a_follower_takes_over() {
    let mut c = Cluster::start().await;
    let first = c.url.clone();
    wait_for("the first server to lead", Duration::from_secs(20), || {
        let u = first.clone();
        async move { leader(&u).await.filter(|l| *l) }
    })
    .await;
    if !c.database_url.starts_with("postgres") {
        return;
    }
    let (_second, second) = c.spawn_server("second").await;
    let s = second.clone();
    wait_for("second server up", Duration::from_secs(30), || {
        let s = s.clone();
        async move { leader(&s).await }
    })
    .await;
    assert_eq!(leader(&second).await, Some(false), "only one leader");
    assert_eq!(leader(&first).await, Some(true));
    // The second server serves the API too, with the shared admin token.
    let client = strata_client::Client::new(
        &second,
        std::fs::read_to_string(c.path("server").join("admin.token")).unwrap().trim(),
    );
    assert!(client.whoami().await.unwrap().admin);
    c.kill_server();
    wait_for("the follower to take over", Duration::from_secs(20), || {
        let s = second.clone();
        async move { leader(&s).await.filter(|l| *l) }
    })
    .await;
    // And the new leader schedules: a job submitted to it gets placed.
    c.url = second.clone();
    c.admin = client.clone();
    c.add_agent("after", "1xT4", &[]).await;
    let job = client.submit_job(&crate::harness::submit(&["true"])).await.unwrap();
    let done = crate::harness::wait_done(&client, job.id.0, Duration::from_secs(30)).await;
    assert_eq!(done.state, strata_domain::JobState::Succeeded, "{}", c.logs());
}
