//! The usage journal against a real SQLite store: what a gateway journaled and did not flush is
//! inserted by the next start, a torn last line is skipped, and replays store nothing twice.

#![allow(clippy::unwrap_used)]

use std::io::Write;
use strata_domain::UsageRecord;
use strata_gateway::Ledger;
use strata_gateway_core::Scope;
use strata_store::{Store, UsageFilter, UsageGroup};

fn record(id: &str, tenant: i64, cost: i64) -> UsageRecord {
    UsageRecord {
        request_id: id.into(),
        at_ms: 1,
        tenant_id: tenant,
        project_id: None,
        key_id: Some(7),
        model: "m".into(),
        deployment_id: None,
        replica: None,
        endpoint: "chat".into(),
        prompt_tokens: 3,
        completion_tokens: 4,
        cost_pico: cost,
        latency_ms: 5,
        ttft_ms: None,
        status: 200,
        streamed: false,
    }
}

async fn total(store: &Store) -> (u64, i64) {
    let t = store.usage_totals(&UsageFilter::default(), UsageGroup::Total).await.unwrap();
    t.first().map_or((0, 0), |t| (t.requests, t.cost_pico))
}

#[tokio::test]
async fn unflushed_records_survive_a_restart_and_replays_are_idempotent() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::connect(&format!("sqlite://{}", dir.path().join("db").display())).await.unwrap();
    let tenant = store.ensure_tenant("t", 0).await.unwrap().id.0;
    let journal = dir.path().join("usage.journal");

    let ledger = Ledger::open(&journal, &store).await.unwrap();
    ledger.record(record("a", tenant, 10), 0);
    ledger.record(record("b", tenant, 20), 0);
    assert_eq!(ledger.flush(&store).await.unwrap(), 2);
    assert_eq!(std::fs::metadata(&journal).unwrap().len(), 0, "a fully flushed journal is emptied");
    ledger.record(record("c", tenant, 30), 0);
    assert_eq!(total(&store).await, (2, 30));
    drop(ledger); // as if killed: "c" is only in the journal

    // A torn last line, as a SIGKILL mid-write leaves it.
    let mut f = std::fs::OpenOptions::new().append(true).open(&journal).unwrap();
    f.write_all(br#"{"request_id":"torn","at_ms""#).unwrap();
    drop(f);

    let ledger = Ledger::open(&journal, &store).await.unwrap();
    assert_eq!(total(&store).await, (3, 60), "c replayed, the torn line skipped");
    // The same record journaled again (a replay of a replay) is stored once.
    ledger.record(record("c", tenant, 30), 0);
    ledger.flush(&store).await.unwrap();
    assert_eq!(total(&store).await, (3, 60));
}

#[tokio::test]
async fn a_budget_counts_spending_not_yet_flushed_and_refuses_before_the_limit() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::connect(&format!("sqlite://{}", dir.path().join("db").display())).await.unwrap();
    let tenant = store.ensure_tenant("t", 0).await.unwrap().id.0;
    let ledger = Ledger::open(&dir.path().join("j"), &store).await.unwrap();
    let key = [(Scope::Key(7), Some(100))];
    ledger.load(Scope::Key(7), 100, 0);
    ledger.reserve(&key, 60).unwrap();
    ledger.record(record("a", tenant, 50), 60);
    // 50 spent (unflushed), nothing reserved: 50 more fit, 51 do not.
    assert!(ledger.reserve(&key, 51).is_err());
    ledger.reserve(&key, 50).unwrap();
    // After a flush the database's sum takes over; the reservation still counts.
    ledger.flush(&store).await.unwrap();
    let limits = [(Scope::Key(7), 100)].into_iter().collect();
    let spent = [(Scope::Key(7), 50)].into_iter().collect();
    ledger.refresh_budgets(&limits, &spent);
    let b = ledger.budget(Scope::Key(7)).unwrap();
    assert_eq!((b.spent_pico, b.reserved_pico), (50, 50));
    assert!(ledger.reserve(&key, 1).is_err());
}

#[tokio::test]
async fn sealed_segments_left_by_a_crash_are_replayed_in_order_and_removed() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::connect(&format!("sqlite://{}", dir.path().join("db").display())).await.unwrap();
    let tenant = store.ensure_tenant("t", 0).await.unwrap().id.0;
    let journal = dir.path().join("usage.journal");
    // As a SIGKILL between sealing and inserting leaves them: two segments and a live journal.
    for (file, id) in [("usage.journal.3", "s3"), ("usage.journal.10", "s10"), ("usage.journal", "live")] {
        let line = serde_json::to_string(&record(id, tenant, 1)).unwrap() + "\n";
        std::fs::write(dir.path().join(file), line).unwrap();
    }
    let ledger = Ledger::open(&journal, &store).await.unwrap();
    assert_eq!(total(&store).await, (3, 3));
    let left: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert!(!left.iter().any(|n| n.starts_with("usage.journal.")), "{left:?}");
    // Under load, each flush seals what it takes: the journal never grows without bound.
    for i in 0..3 {
        ledger.record(record(&format!("r{i}"), tenant, 1), 0);
        ledger.flush(&store).await.unwrap();
        assert_eq!(std::fs::metadata(&journal).unwrap().len(), 0);
    }
    assert_eq!(total(&store).await, (6, 6));
}

#[tokio::test]
async fn spending_totals_follow_inserted_records_and_ignore_replays() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::connect(&format!("sqlite://{}", dir.path().join("db").display())).await.unwrap();
    let a = store.ensure_tenant("a", 0).await.unwrap().id.0;
    let b = store.ensure_tenant("b", 0).await.unwrap().id.0;
    let batch: Vec<UsageRecord> =
        (0..1200).map(|i| record(&format!("r{i}"), if i % 3 == 0 { b } else { a }, 5)).collect();
    assert_eq!(store.insert_usage(&batch).await.unwrap(), 1200);
    // The same records again (a journal replayed after a crash), and two new ones.
    let mut again = batch.clone();
    again.push(record("new-1", a, 100));
    again.push(record("new-2", b, 1000));
    assert_eq!(store.insert_usage(&again).await.unwrap(), 2);
    let mut by_tenant = store.spend_by_tenant(&[a, b]).await.unwrap();
    by_tenant.sort();
    assert_eq!(by_tenant, vec![(a, 800 * 5 + 100), (b, 400 * 5 + 1000)]);
    assert_eq!(store.spend_by_key(&[7, 8]).await.unwrap(), vec![(7, 1200 * 5 + 1100)]);
}
