//! The usage ledger's gateway side: every finished request becomes a `UsageRecord`, appended to
//! a journal file before the response completes and inserted into the database in batches off
//! the request path. A SIGKILL between the two loses nothing: the next start replays the
//! journal (inserts are idempotent by request id). The journal is truncated only when every
//! record in it is in the database.
//!
//! Spending per budgeted key and tenant is kept here too: settled spending (the database's sum
//! plus what this gateway has not flushed yet) and reservations of requests in flight.
//! Refreshing from the database after each flush keeps gateway replicas within one flush
//! interval of each other.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Seek, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use strata_domain::UsageRecord;
use strata_gateway_core::{Budget, BudgetRefusal, Scope};
use strata_store::Store;

struct Journal {
    file: File,
    /// Records written to the file and not yet inserted.
    queue: Vec<UsageRecord>,
    /// Records taken by a flush in progress.
    flushing: usize,
}

pub struct Ledger {
    path: PathBuf,
    journal: Mutex<Journal>,
    budgets: Mutex<HashMap<Scope, Budget>>,
}

fn scopes_of(r: &UsageRecord) -> [Option<Scope>; 2] {
    [r.key_id.map(Scope::Key), Some(Scope::Tenant(r.tenant_id))]
}

impl Ledger {
    /// Opens the journal at `path`, first inserting whatever a previous run left in it.
    pub async fn open(path: &Path, store: &Store) -> anyhow::Result<Ledger> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let leftover = read_journal(path)?;
        if !leftover.is_empty() {
            let inserted = store.insert_usage(&leftover).await?;
            tracing::info!(records = leftover.len(), inserted, "replayed the usage journal of the previous run");
        }
        let file = OpenOptions::new().create(true).append(true).open(path)?;
        file.set_len(0)?;
        Ok(Ledger {
            path: path.to_path_buf(),
            journal: Mutex::new(Journal { file, queue: Vec::new(), flushing: 0 }),
            budgets: Mutex::new(HashMap::new()),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The budgeted scopes among `scopes` (with their limits) that this gateway has not loaded
    /// the spending of yet.
    pub fn missing(&self, scopes: &[(Scope, Option<i64>)]) -> Vec<Scope> {
        let Ok(budgets) = self.budgets.lock() else { return Vec::new() };
        scopes.iter().filter(|(s, limit)| limit.is_some() && !budgets.contains_key(s)).map(|(s, _)| *s).collect()
    }

    /// Starts tracking a scope's budget with what the database says it spent.
    pub fn load(&self, scope: Scope, limit: i64, db_spent: i64) {
        let Ok(mut budgets) = self.budgets.lock() else { return };
        let mut unflushed = 0;
        if let Ok(journal) = self.journal.lock() {
            unflushed = journal.queue.iter().filter(|r| scopes_of(r).contains(&Some(scope))).map(|r| r.cost_pico).sum();
        }
        budgets.entry(scope).or_insert_with(|| Budget::new(Some(limit), db_spent + unflushed));
    }

    /// Reserves `amount` on every scope with a limit (the caller's current one), or refuses
    /// without reserving anything. Scopes must have been `load`ed.
    pub fn reserve(&self, scopes: &[(Scope, Option<i64>)], amount: i64) -> Result<(), (Scope, BudgetRefusal)> {
        let Ok(mut budgets) = self.budgets.lock() else { return Ok(()) };
        for (scope, limit) in scopes {
            if let (Some(limit), Some(b)) = (limit, budgets.get_mut(scope)) {
                b.limit_pico = Some(*limit);
                b.check(amount).map_err(|r| (*scope, r))?;
            }
        }
        for (scope, limit) in scopes {
            if let (Some(_), Some(b)) = (limit, budgets.get_mut(scope)) {
                b.reserved_pico += amount;
            }
        }
        Ok(())
    }

    /// Journals a finished request and settles its reservation. Returns once the record is in
    /// the journal file (the kernel's page cache: it survives the process).
    pub fn record(&self, record: UsageRecord, reserved: i64) {
        let Ok(mut budgets) = self.budgets.lock() else { return };
        for scope in scopes_of(&record).into_iter().flatten() {
            if let Some(b) = budgets.get_mut(&scope) {
                b.settle(reserved, record.cost_pico);
            }
        }
        let Ok(mut journal) = self.journal.lock() else { return };
        match serde_json::to_vec(&record) {
            Ok(mut line) => {
                line.push(b'\n');
                if let Err(e) = journal.file.write_all(&line) {
                    tracing::error!(error = %e, path = %self.path.display(), "cannot write the usage journal; the record is kept in memory only");
                }
            }
            Err(e) => tracing::error!(error = %e, "cannot encode a usage record"),
        }
        journal.queue.push(record);
    }

    /// Inserts journaled records; truncates the journal when everything in it is stored.
    pub async fn flush(&self, store: &Store) -> anyhow::Result<usize> {
        let batch = {
            let mut journal = self.journal.lock().map_err(|_| anyhow::anyhow!("journal poisoned"))?;
            let batch = std::mem::take(&mut journal.queue);
            journal.flushing = batch.len();
            batch
        };
        if batch.is_empty() {
            return Ok(0);
        }
        let result = store.insert_usage(&batch).await;
        let mut journal = self.journal.lock().map_err(|_| anyhow::anyhow!("journal poisoned"))?;
        journal.flushing = 0;
        match result {
            Ok(_) => {
                if journal.queue.is_empty() {
                    journal.file.set_len(0)?;
                    journal.file.rewind()?;
                }
                Ok(batch.len())
            }
            Err(e) => {
                // Keep them, in order, for the next flush.
                let newer = std::mem::replace(&mut journal.queue, batch);
                journal.queue.extend(newer);
                Err(e.into())
            }
        }
    }

    /// Records not yet in the database.
    pub fn unflushed(&self) -> usize {
        self.journal.lock().map(|j| j.queue.len() + j.flushing).unwrap_or(0)
    }

    /// Sets the settled spending of budgeted scopes from the database's sums, adding what this
    /// gateway journaled but has not inserted yet. Scopes not in `limits` lose their budget.
    pub fn refresh_budgets(&self, limits: &HashMap<Scope, i64>, db_spent: &HashMap<Scope, i64>) {
        let Ok(mut budgets) = self.budgets.lock() else { return };
        let mut unflushed: HashMap<Scope, i64> = HashMap::new();
        if let Ok(journal) = self.journal.lock() {
            for r in &journal.queue {
                for scope in scopes_of(r).into_iter().flatten() {
                    *unflushed.entry(scope).or_default() += r.cost_pico;
                }
            }
        }
        budgets.retain(|scope, _| limits.contains_key(scope));
        for (scope, limit) in limits {
            let spent = db_spent.get(scope).copied().unwrap_or(0) + unflushed.get(scope).copied().unwrap_or(0);
            let budget = budgets.entry(*scope).or_insert_with(|| Budget::new(Some(*limit), spent));
            budget.limit_pico = Some(*limit);
            budget.spent_pico = spent;
        }
    }

    /// The budget of a scope as this gateway sees it.
    pub fn budget(&self, scope: Scope) -> Option<Budget> {
        self.budgets.lock().ok().and_then(|b| b.get(&scope).cloned())
    }
}

/// Every whole record in a journal; a torn last line (the process died mid-write) is skipped.
fn read_journal(path: &Path) -> anyhow::Result<Vec<UsageRecord>> {
    let file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e.into()),
    };
    let mut records = Vec::new();
    for line in BufReader::new(file).lines() {
        let line = line?;
        match serde_json::from_str::<UsageRecord>(&line) {
            Ok(r) => records.push(r),
            Err(e) if !line.trim().is_empty() => {
                tracing::warn!(error = %e, path = %path.display(), "skipping a torn usage journal line")
            }
            Err(_) => {}
        }
    }
    Ok(records)
}
