//! Group commit for job submissions. Each submission waits for its commit before it is
//! acknowledged, but concurrent submissions share one transaction: a SQLite commit (or a
//! PostgreSQL round trip) costs about the same for one job as for hundreds, so under load the
//! server writes in batches of whatever arrived while the previous batch was committing. A batch
//! request's jobs travel together and are never split across transactions.

use crate::error::AppError;
use crate::state::now_ms;
use std::sync::Arc;
use strata_store::{JobRow, NewJob, Store};
use tokio::sync::{mpsc, oneshot, Notify};
use tokio::task::JoinHandle;

/// Most jobs per transaction, requests kept whole: keeps one commit's latency, and what one
/// failed commit refuses, bounded.
const MAX_BATCH: usize = 1024;
/// Submissions waiting for the writer before new ones wait for room (backpressure).
const QUEUE: usize = 8192;

type Reply = oneshot::Sender<Result<Vec<JobRow>, String>>;

#[derive(Clone)]
pub struct Submitter {
    tx: mpsc::Sender<(Vec<NewJob>, Reply)>,
}

impl Submitter {
    /// Starts the writer. It stops once every `Submitter` clone is dropped, after committing
    /// what was queued.
    pub fn spawn(store: Store, wake: Arc<Notify>) -> (Submitter, JoinHandle<()>) {
        let (tx, rx) = mpsc::channel(QUEUE);
        (Submitter { tx }, tokio::spawn(write_batches(store, rx, wake)))
    }

    /// Inserts the job; returns once it is committed.
    pub async fn submit(&self, job: NewJob) -> Result<JobRow, AppError> {
        let mut rows = self.submit_all(vec![job]).await?;
        rows.pop().ok_or_else(|| AppError::Internal(anyhow::anyhow!("the job writer answered with no job")))
    }

    /// Inserts the jobs in one transaction, all or none; returns their rows in order once committed.
    pub async fn submit_all(&self, jobs: Vec<NewJob>) -> Result<Vec<JobRow>, AppError> {
        let (reply, answer) = oneshot::channel();
        self.tx.send((jobs, reply)).await.map_err(|_| AppError::Internal(anyhow::anyhow!("the job writer stopped")))?;
        match answer.await {
            Ok(Ok(rows)) => Ok(rows),
            Ok(Err(e)) => Err(AppError::Internal(anyhow::anyhow!("storing the job failed: {e}"))),
            Err(_) => Err(AppError::Internal(anyhow::anyhow!("the job writer stopped"))),
        }
    }
}

async fn write_batches(store: Store, mut rx: mpsc::Receiver<(Vec<NewJob>, Reply)>, wake: Arc<Notify>) {
    let mut jobs = Vec::with_capacity(MAX_BATCH);
    // Each request's reply and how many of `jobs` are its.
    let mut replies: Vec<(Reply, usize)> = Vec::new();
    // A request taken that would have made the transaction larger than `MAX_BATCH`: it starts
    // the next one (a request is never split; one larger than `MAX_BATCH` goes alone).
    let mut held: Option<(Vec<NewJob>, Reply)> = None;
    loop {
        let first = match held.take() {
            Some(request) => request,
            None => match rx.recv().await {
                Some(request) => request,
                None => return,
            },
        };
        replies.push((first.1, first.0.len()));
        jobs.extend(first.0);
        while jobs.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok((more, reply)) if jobs.len() + more.len() <= MAX_BATCH => {
                    replies.push((reply, more.len()));
                    jobs.extend(more);
                }
                Ok(request) => {
                    held = Some(request);
                    break;
                }
                Err(_) => break,
            }
        }
        match store.insert_jobs(&jobs, now_ms()).await {
            Ok(rows) => {
                let mut rows = rows.into_iter();
                for (reply, n) in replies.drain(..) {
                    // A client that went away no longer needs its answer; the jobs stay.
                    let _ = reply.send(Ok(rows.by_ref().take(n).collect()));
                }
                wake.notify_one();
            }
            Err(e) => {
                tracing::error!(error = %e, jobs = jobs.len(), "job batch not stored");
                for (reply, _) in replies.drain(..) {
                    let _ = reply.send(Err(e.to_string()));
                }
            }
        }
        jobs.clear();
    }
}
