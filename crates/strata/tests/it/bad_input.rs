//! Bad requests get a 4xx with a stable code and a helpful message, and persist nothing.

use crate::harness::{submit, Cluster};
use strata_api::jobs::JobQuery;
use strata_api::ErrorBody;
use strata_domain::ErrorCode;

/// Posts a raw body and returns the status and the error envelope.
async fn post_raw(c: &Cluster, body: &str) -> (u16, ErrorBody) {
    let token = std::fs::read_to_string(c.path("server").join("admin.token")).unwrap();
    let resp = reqwest::Client::new()
        .post(format!("{}/api/v1/jobs", c.url))
        .bearer_auth(token.trim())
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap())
}

#[tokio::test]
async fn malformed_and_unknown_fields_are_named() {
    let c = Cluster::start().await;
    let (status, body) = post_raw(&c, r#"{"command": ["true"], "gpus": 8}"#).await;
    assert_eq!((status, body.error.code), (400, ErrorCode::UnknownField));
    assert_eq!(body.error.field.as_deref(), Some("gpus"));
    assert!(body.error.message.contains("unknown field \"gpus\""), "{}", body.error.message);

    let (status, body) = post_raw(&c, r#"{"command": ["true"], "#).await;
    assert_eq!((status, body.error.code), (400, ErrorCode::MalformedJson));
    let (status, body) = post_raw(&c, r#"{"command": "true"}"#).await;
    assert_eq!((status, body.error.code), (400, ErrorCode::MalformedJson));
    assert!(body.error.message.contains("command"), "{}", body.error.message);
}

#[tokio::test]
async fn absurd_resources_and_unknown_chips_are_refused_and_nothing_is_stored() {
    let mut c = Cluster::start().await;
    c.add_agent("a", "8xH100-80GB", &[]).await;
    c.add_agent("b", "4xA100-40GB", &[]).await;
    let cases: Vec<(strata_api::jobs::SubmitJob, ErrorCode, &str, &str)> = vec![
        (
            {
                let mut r = submit(&["true"]);
                r.cpu_milli = Some(-5);
                r
            },
            ErrorCode::InvalidField,
            "cpu_milli",
            "between 1 and",
        ),
        (
            {
                let mut r = submit(&["true"]);
                r.max_replicas_per_node = Some(0);
                r
            },
            ErrorCode::InvalidField,
            "max_replicas_per_node",
            "between 1 and",
        ),
        (
            {
                let mut r = submit(&["true"]);
                r.spread_group = Some("ps".into());
                r
            },
            ErrorCode::InvalidField,
            "spread_group",
            "needs max_replicas_per_node",
        ),
        (
            {
                let mut r = submit(&["true"]);
                r.max_replicas_per_node = Some(1);
                r.spread_group = Some("a group".into());
                r
            },
            ErrorCode::InvalidField,
            "spread_group",
            "letters, digits or -_.:",
        ),
        (
            {
                let mut r = submit(&["true"]);
                r.gpu_milli = Some(1500);
                r
            },
            ErrorCode::InvalidField,
            "gpu_milli",
            "neither a share",
        ),
        (
            {
                let mut r = submit(&[]);
                r.name = Some("x".into());
                r
            },
            ErrorCode::InvalidField,
            "command",
            "must name a program",
        ),
        (
            {
                let mut r = submit(&["true"]);
                r.replicas = Some(3);
                r.gpu_milli = Some(8000);
                r
            },
            ErrorCode::Unsatisfiable,
            "replicas",
            "holds only 1",
        ),
        (
            {
                let mut r = submit(&["true"]);
                r.memory_mib = Some(10_000_000);
                r
            },
            ErrorCode::Unsatisfiable,
            "replicas",
            "more than any node offers",
        ),
        (
            {
                let mut r = submit(&["true"]);
                r.gpu_milli = Some(1000);
                r.gpu_models = vec!["B200".into()];
                r
            },
            ErrorCode::UnknownGpuModel,
            "gpu_models",
            "A100-40GB, H100-80GB",
        ),
        (
            {
                let mut r = submit(&["true"]);
                r.env.insert("1BAD".into(), "x".into());
                r
            },
            ErrorCode::InvalidField,
            "env",
            "letters, digits",
        ),
    ];
    for (req, code, field, text) in cases {
        let err = c.admin.submit_job(&req).await.unwrap_err();
        let strata_client::ClientError::Api { status, error } = err else { panic!("not an API error: {err}") };
        assert_eq!(status, 400);
        assert_eq!(error.code, code, "{}", error.message);
        assert_eq!(error.field.as_deref(), Some(field));
        assert!(error.message.contains(text), "{:?} should mention {text:?}", error.message);
    }
    assert!(c.admin.jobs(&JobQuery::default()).await.unwrap().jobs.is_empty(), "no refused job was stored");
}

#[tokio::test]
async fn a_batch_with_one_bad_job_stores_none_and_names_the_job() {
    let mut c = Cluster::start().await;
    c.add_agent("a", "2xA100-40GB", &[]).await;
    let api_error = |err: strata_client::ClientError| {
        let strata_client::ClientError::Api { status, error } = err else { panic!("not an API error: {err}") };
        assert_eq!(status, 400);
        error
    };
    let mut bad = submit(&["true"]);
    bad.gpu_milli = Some(1000);
    bad.gpu_models = vec!["B200".into()];
    let err = api_error(c.admin.submit_jobs(&[submit(&["true"]), submit(&["true"]), bad]).await.unwrap_err());
    assert_eq!(err.code, ErrorCode::UnknownGpuModel);
    assert_eq!(err.field.as_deref(), Some("jobs[2].gpu_models"));
    assert!(err.message.starts_with("job 2 of the batch: "), "{}", err.message);

    let err = api_error(c.admin.submit_jobs(&[]).await.unwrap_err());
    assert_eq!((err.code, err.field.as_deref()), (ErrorCode::InvalidField, Some("jobs")));
    let err = api_error(c.admin.submit_jobs(&vec![submit(&["true"]); 1001]).await.unwrap_err());
    assert_eq!((err.code, err.field.as_deref()), (ErrorCode::InvalidField, Some("jobs")));
    assert!(err.message.contains("1 to 1000 jobs, got 1001"), "{}", err.message);
    // A body past the batch limit gets 413 `too_large`: `server::error`'s tests (over a socket the
    // server may close the connection before the client has written the body, so it is checked
    // in process there).
    assert!(c.admin.jobs(&JobQuery::default()).await.unwrap().jobs.is_empty(), "no job of a refused batch was stored");
}

#[tokio::test]
async fn requests_without_credentials_are_refused() {
    let c = Cluster::start().await;
    let resp = reqwest::get(format!("{}/api/v1/jobs", c.url)).await.unwrap();
    assert_eq!(resp.status().as_u16(), 401);
    let body: ErrorBody = resp.json().await.unwrap();
    assert!(body.error.message.contains("Authorization: Bearer"), "{}", body.error.message);
    let resp = reqwest::get(format!("{}/api/v1/nope", c.url)).await.unwrap();
    assert_eq!(resp.status().as_u16(), 404);
}
