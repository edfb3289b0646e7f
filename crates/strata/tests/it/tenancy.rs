//! Tenants see and touch only their own jobs.

use crate::harness::{submit, Cluster};
use strata_api::jobs::JobQuery;
use strata_api::tenants::{CreateTenant, Quota};
use strata_client::Client;
use strata_domain::ErrorCode;

#[tokio::test]
async fn tenant_cannot_see_or_cancel_another_tenants_jobs() {
    let c = Cluster::start().await;
    let a = c
        .admin
        .create_tenant(&CreateTenant { name: "team-a".into(), quota: Quota::default(), limits: Default::default() })
        .await
        .unwrap();
    let b = c
        .admin
        .create_tenant(&CreateTenant { name: "team-b".into(), quota: Quota::default(), limits: Default::default() })
        .await
        .unwrap();
    assert!(a.key.starts_with("sk-strata-"));
    let (ka, kb) = (Client::new(&c.url, &a.key), Client::new(&c.url, &b.key));

    let job = ka.submit_job(&submit(&["true"])).await.unwrap();
    assert_eq!(job.tenant_name, "team-a");
    assert!(kb.jobs(&JobQuery::default()).await.unwrap().jobs.is_empty());
    assert_eq!(ka.jobs(&JobQuery::default()).await.unwrap().jobs.len(), 1);
    assert_eq!(kb.job(job.id.0).await.unwrap_err().code(), Some(ErrorCode::NotFound));
    assert_eq!(kb.cancel_job(job.id.0).await.unwrap_err().code(), Some(ErrorCode::NotFound));
    assert_eq!(ka.job(job.id.0).await.unwrap().state, strata_domain::JobState::Pending, "B's cancel changed nothing");

    // A tenant submits only for itself and cannot administer.
    let mut as_b = submit(&["true"]);
    as_b.tenant = Some("team-b".into());
    assert_eq!(ka.submit_job(&as_b).await.unwrap_err().code(), Some(ErrorCode::Forbidden));
    assert_eq!(ka.tenants().await.unwrap_err().code(), Some(ErrorCode::Forbidden));
    assert_eq!(ka.node_action("x", "drain").await.unwrap_err().code(), Some(ErrorCode::Forbidden));

    // The admin sees everything and filters by tenant.
    let all = c.admin.jobs(&JobQuery { tenant: Some("team-a".into()), ..Default::default() }).await.unwrap();
    assert_eq!(all.jobs.len(), 1);
    // A wrong key is refused, with a hint.
    let bad = Client::new(&c.url, "sk-strata-nope");
    assert_eq!(bad.jobs(&JobQuery::default()).await.unwrap_err().code(), Some(ErrorCode::Unauthenticated));
}

#[tokio::test]
async fn quota_keeps_a_tenant_waiting_with_a_reason() {
    let mut c = Cluster::start().await;
    c.add_agent("solo", "4xA100-40GB", &[]).await;
    let quota = Quota { gpu_milli: Some(1000), ..Default::default() };
    let t =
        c.admin.create_tenant(&CreateTenant { name: "small".into(), quota, limits: Default::default() }).await.unwrap();
    let k = Client::new(&c.url, &t.key);
    let mut first = submit(&["sleep", "30"]);
    first.gpu_milli = Some(1000);
    let first = k.submit_job(&first).await.unwrap();
    let mut second = submit(&["true"]);
    second.gpu_milli = Some(1000);
    let second = k.submit_job(&second).await.unwrap();
    let waiting = crate::harness::wait_for("a quota reason", std::time::Duration::from_secs(20), || {
        let k = k.clone();
        async move { k.job(second.id.0).await.ok().filter(|j| j.reason.as_deref().is_some_and(|r| r.contains("quota"))) }
    })
    .await;
    assert_eq!(waiting.state, strata_domain::JobState::Pending);
    assert_eq!(k.job(first.id.0).await.unwrap().state, strata_domain::JobState::Running);
}
