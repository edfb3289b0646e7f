//! Crash safety: a server SIGKILLed during a burst of submissions loses no acknowledged job and
//! duplicates none.

use crate::harness::{submit, Cluster};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use strata_api::jobs::JobQuery;

#[tokio::test]
async fn sigkill_during_a_burst_of_1000_submissions_keeps_every_acknowledged_job_once() {
    let mut c = Cluster::start().await;
    let acked: Arc<Mutex<BTreeMap<String, i64>>> = Arc::default();
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut workers = Vec::new();
    for _ in 0..16 {
        let (client, acked, next) = (c.admin.clone(), acked.clone(), next.clone());
        workers.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if i >= 1000 {
                    return;
                }
                let mut req = submit(&["true"]);
                req.name = Some(format!("burst-{i}"));
                match client.submit_job(&req).await {
                    Ok(job) => {
                        acked.lock().unwrap().insert(format!("burst-{i}"), job.id.0);
                    }
                    // The server died under us: this submission was never acknowledged.
                    Err(_) => return,
                }
            }
        }));
    }
    // Kill the server part-way through the burst.
    let watcher = acked.clone();
    crate::harness::wait_for("some acknowledgements", Duration::from_secs(60), || {
        let n = watcher.lock().unwrap().len();
        async move { (n >= 300).then_some(()) }
    })
    .await;
    c.kill_server();
    for w in workers {
        w.await.unwrap();
    }
    let acked = acked.lock().unwrap().clone();
    assert!(acked.len() >= 300 && acked.len() < 1000, "the kill landed mid-burst ({} acked)", acked.len());

    c.start_server().await;
    let mut stored: BTreeMap<String, Vec<i64>> = BTreeMap::new();
    let mut after = None;
    loop {
        let page = c.admin.jobs(&JobQuery { after, limit: Some(1000), ..Default::default() }).await.unwrap();
        for j in &page.jobs {
            stored.entry(j.name.clone()).or_default().push(j.id.0);
        }
        match page.next_after {
            Some(n) => after = Some(n.0),
            None => break,
        }
    }
    for (name, id) in &acked {
        assert_eq!(stored.get(name), Some(&vec![*id]), "acknowledged job {name} (id {id}) must exist exactly once");
    }
    let duplicated: Vec<_> = stored.iter().filter(|(_, ids)| ids.len() > 1).collect();
    assert!(duplicated.is_empty(), "duplicated jobs: {duplicated:?}");
}
