//! A typed client for `/api/v1`. Errors from the server come back as the server's own
//! [`ApiError`] (code, message, field), so callers show the server's explanation unchanged.

use futures::{Stream, StreamExt};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::time::Duration;
use strata_api::agent::{Heartbeat, HeartbeatReply, Register, Registered};
use strata_api::deployments::{CreateDeployment, Deployment, DeploymentList, ScaleDeployment};
use strata_api::jobs::{Job, JobEvent, JobList, JobQuery, LogQuery, SubmitJob, SubmitJobs, SubmittedJobs};
use strata_api::keys::{CreateKey, KeyList, Limits};
use strata_api::nodes::{Node, NodeList};
use strata_api::tenants::{CreateTenant, CreatedKey, Quota, Tenant, TenantList, WhoAmI};
use strata_api::usage::{UsageQuery, UsageReport};
use strata_api::{ApiError, ErrorBody};

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The server answered with an error.
    #[error("{status}: {error}")]
    Api { status: u16, error: ApiError },
    /// The server could not be reached, or answered with something that is not the API.
    #[error("cannot talk to the server at {url}: {source}")]
    Transport { url: String, source: reqwest::Error },
    #[error("unexpected answer from {url} ({status}): {body}")]
    Unexpected { url: String, status: u16, body: String },
}

impl ClientError {
    /// The server's error code, when it answered with one.
    pub fn code(&self) -> Option<strata_domain::ErrorCode> {
        match self {
            ClientError::Api { error, .. } => Some(error.code),
            _ => None,
        }
    }
}

pub type Result<T> = std::result::Result<T, ClientError>;

#[derive(Clone)]
pub struct Client {
    base: String,
    token: String,
    http: reqwest::Client,
}

impl Client {
    /// `base` is the server's root URL, e.g. `http://127.0.0.1:7100`.
    pub fn new(base: &str, token: &str) -> Self {
        let http = reqwest::Client::builder().connect_timeout(Duration::from_secs(5)).build().unwrap_or_default();
        Client { base: base.trim_end_matches('/').to_string(), token: token.to_string(), http }
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    fn url(&self, path: &str) -> String {
        format!("{}/api/v1{path}", self.base)
    }

    async fn send<T: DeserializeOwned>(&self, req: reqwest::RequestBuilder, url: String) -> Result<T> {
        let resp = req
            .bearer_auth(&self.token)
            .send()
            .await
            .map_err(|source| ClientError::Transport { url: url.clone(), source })?;
        decode(resp, url).await
    }

    pub async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T> {
        let url = self.url(path);
        self.send(self.http.get(&url), url).await
    }

    pub async fn post<B: Serialize, T: DeserializeOwned>(&self, path: &str, body: &B) -> Result<T> {
        let url = self.url(path);
        self.send(self.http.post(&url).json(body), url).await
    }

    /// A DELETE answered with 204.
    async fn delete(&self, path: &str) -> Result<()> {
        let url = self.url(path);
        let resp = self
            .http
            .delete(&url)
            .bearer_auth(&self.token)
            .send()
            .await
            .map_err(|source| ClientError::Transport { url: url.clone(), source })?;
        if !resp.status().is_success() {
            return Err(error_from(resp, url).await);
        }
        Ok(())
    }

    async fn post_empty<T: DeserializeOwned>(&self, path: &str) -> Result<T> {
        let url = self.url(path);
        self.send(self.http.post(&url), url).await
    }

    // Jobs.
    pub async fn submit_job(&self, job: &SubmitJob) -> Result<Job> {
        self.post("/jobs", job).await
    }
    /// Up to 1,000 jobs in one request and one transaction: all stored, in order, or none.
    pub async fn submit_jobs(&self, jobs: &[SubmitJob]) -> Result<Vec<Job>> {
        let done: SubmittedJobs = self.post("/jobs/batch", &SubmitJobs { jobs: jobs.to_vec() }).await?;
        Ok(done.jobs)
    }
    pub async fn jobs(&self, q: &JobQuery) -> Result<JobList> {
        let url = self.url("/jobs");
        self.send(self.http.get(&url).query(q), url).await
    }
    pub async fn job(&self, id: i64) -> Result<Job> {
        self.get(&format!("/jobs/{id}")).await
    }
    pub async fn cancel_job(&self, id: i64) -> Result<Job> {
        self.post_empty(&format!("/jobs/{id}/cancel")).await
    }
    pub async fn job_events(&self, id: i64) -> Result<Vec<JobEvent>> {
        self.get(&format!("/jobs/{id}/events")).await
    }

    /// The job's output as a stream of byte chunks (with `follow`, until the job ends).
    pub async fn job_logs(&self, id: i64, q: &LogQuery) -> Result<impl Stream<Item = reqwest::Result<Vec<u8>>>> {
        let url = self.url(&format!("/jobs/{id}/logs"));
        let resp = self
            .http
            .get(&url)
            .query(q)
            .bearer_auth(&self.token)
            .send()
            .await
            .map_err(|source| ClientError::Transport { url: url.clone(), source })?;
        if !resp.status().is_success() {
            return Err(error_from(resp, url).await);
        }
        Ok(resp.bytes_stream().map(|chunk| chunk.map(|b| b.to_vec())))
    }

    // Nodes.
    pub async fn nodes(&self) -> Result<NodeList> {
        self.get("/nodes").await
    }
    pub async fn node(&self, node: &str) -> Result<Node> {
        self.get(&format!("/nodes/{node}")).await
    }
    /// `action` is `cordon`, `uncordon` or `drain`.
    pub async fn node_action(&self, node: &str, action: &str) -> Result<Node> {
        self.post_empty(&format!("/nodes/{node}/{action}")).await
    }

    // Tenants.
    pub async fn create_tenant(&self, req: &CreateTenant) -> Result<CreatedKey> {
        self.post("/tenants", req).await
    }
    pub async fn tenants(&self) -> Result<TenantList> {
        self.get("/tenants").await
    }
    pub async fn set_quota(&self, tenant: &str, quota: &Quota) -> Result<Tenant> {
        let url = self.url(&format!("/tenants/{tenant}/quota"));
        self.send(self.http.put(&url).json(quota), url).await
    }
    pub async fn set_limits(&self, tenant: &str, limits: &Limits) -> Result<Tenant> {
        let url = self.url(&format!("/tenants/{tenant}/limits"));
        self.send(self.http.put(&url).json(limits), url).await
    }

    // Keys.
    pub async fn create_key(&self, tenant: &str, req: &CreateKey) -> Result<CreatedKey> {
        self.post(&format!("/tenants/{tenant}/keys"), req).await
    }
    pub async fn keys(&self, tenant: &str) -> Result<KeyList> {
        self.get(&format!("/tenants/{tenant}/keys")).await
    }
    pub async fn revoke_key(&self, tenant: &str, key_id: i64) -> Result<()> {
        self.delete(&format!("/tenants/{tenant}/keys/{key_id}")).await
    }

    // Deployments.
    pub async fn create_deployment(&self, req: &CreateDeployment) -> Result<Deployment> {
        self.post("/deployments", req).await
    }
    pub async fn deployments(&self) -> Result<DeploymentList> {
        self.get("/deployments").await
    }
    pub async fn deployment(&self, name: &str) -> Result<Deployment> {
        self.get(&format!("/deployments/{name}")).await
    }
    pub async fn scale_deployment(&self, name: &str, req: &ScaleDeployment) -> Result<Deployment> {
        self.post(&format!("/deployments/{name}/scale"), req).await
    }
    pub async fn delete_deployment(&self, name: &str) -> Result<()> {
        self.delete(&format!("/deployments/{name}")).await
    }

    // Usage.
    pub async fn usage(&self, q: &UsageQuery) -> Result<UsageReport> {
        let url = self.url("/usage");
        self.send(self.http.get(&url).query(q), url).await
    }
    pub async fn whoami(&self) -> Result<WhoAmI> {
        self.get("/whoami").await
    }

    // Agent protocol.
    pub async fn register(&self, req: &Register) -> Result<Registered> {
        self.post("/agent/register", req).await
    }
    pub async fn heartbeat(&self, hb: &Heartbeat) -> Result<HeartbeatReply> {
        self.post("/agent/heartbeat", hb).await
    }
    pub async fn upload_log(&self, task_id: i64, stream: &str, offset: u64, data: Vec<u8>) -> Result<()> {
        let url = self.url(&format!("/agent/tasks/{task_id}/logs"));
        let resp = self
            .http
            .post(&url)
            .query(&[("stream", stream.to_string()), ("offset", offset.to_string())])
            .bearer_auth(&self.token)
            .body(data)
            .send()
            .await
            .map_err(|source| ClientError::Transport { url: url.clone(), source })?;
        if resp.status().is_success() {
            Ok(())
        } else {
            Err(error_from(resp, url).await)
        }
    }
}

async fn decode<T: DeserializeOwned>(resp: reqwest::Response, url: String) -> Result<T> {
    let status = resp.status();
    if !status.is_success() {
        return Err(error_from(resp, url).await);
    }
    let text = resp.text().await.map_err(|source| ClientError::Transport { url: url.clone(), source })?;
    serde_json::from_str(&text).map_err(|_| ClientError::Unexpected {
        url,
        status: status.as_u16(),
        body: text.chars().take(500).collect(),
    })
}

async fn error_from(resp: reqwest::Response, url: String) -> ClientError {
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap_or_default();
    match serde_json::from_str::<ErrorBody>(&text) {
        Ok(body) => ClientError::Api { status, error: body.error },
        Err(_) => ClientError::Unexpected { url, status, body: text.chars().take(500).collect() },
    }
}
