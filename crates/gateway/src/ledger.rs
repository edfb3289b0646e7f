//! The usage ledger's gateway side: every finished request becomes a `UsageRecord`, appended to
//! a journal file before the response completes and inserted into the database in batches off
//! the request path. A SIGKILL between the two loses nothing: the next start replays the
//! journal (inserts are idempotent by request id). Each flush seals the journal as a numbered
//! segment and starts a new one; a segment is deleted once its records are committed, so the
//! journal stays small under any load.
//!
//! Spending per budgeted key and tenant is kept here too: settled spending (the database's sum
//! plus what this gateway has not flushed yet) and reservations of requests in flight.
//! Refreshing from the database after each flush keeps gateway replicas within one flush
//! interval of each other.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use strata_domain::UsageRecord;
use strata_gateway_core::{Budget, BudgetRefusal, Scope};
use strata_store::Store;

struct Journal {
    file: File,
    /// Records written to the journal and not yet inserted.
    queue: Vec<UsageRecord>,
    /// Records taken by a flush in progress.
    flushing: usize,
    /// Sealed segments whose records a failed flush put back in the queue.
    sealed: Vec<PathBuf>,
    next_segment: u64,
}

/// `usage.journal.N`: a sealed segment.
fn segment(path: &Path, n: u64) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(format!(".{n}"));
    path.with_file_name(name)
}

/// The journal and its sealed segments, oldest first.
fn journal_files(path: &Path) -> Vec<PathBuf> {
    let prefix = format!("{}.", path.file_name().unwrap_or_default().to_string_lossy());
    let mut segments: Vec<(u64, PathBuf)> = path
        .parent()
        .and_then(|d| std::fs::read_dir(d).ok())
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            name.strip_prefix(&prefix).and_then(|n| n.parse::<u64>().ok()).map(|n| (n, e.path()))
        })
        .collect();
    segments.sort();
    let mut files: Vec<PathBuf> = segments.into_iter().map(|(_, p)| p).collect();
    files.push(path.to_path_buf());
    files
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
        let files = journal_files(path);
        let mut leftover = Vec::new();
        for f in &files {
            leftover.extend(read_journal(f)?);
        }
        if !leftover.is_empty() {
            let inserted = store.insert_usage(&leftover).await?;
            tracing::info!(records = leftover.len(), inserted, "replayed the usage journal of the previous run");
        }
        for f in &files[..files.len() - 1] {
            std::fs::remove_file(f)?;
        }
        let file = OpenOptions::new().create(true).append(true).open(path)?;
        file.set_len(0)?;
        Ok(Ledger {
            path: path.to_path_buf(),
            journal: Mutex::new(Journal { file, queue: Vec::new(), flushing: 0, sealed: Vec::new(), next_segment: 0 }),
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

    /// Inserts journaled records: seals the journal as a segment first, so records that arrive
    /// meanwhile go to a fresh file, and deletes the segments once their records are committed.
    pub async fn flush(&self, store: &Store) -> anyhow::Result<usize> {
        let (batch, segments) = {
            let mut journal = self.journal.lock().map_err(|_| anyhow::anyhow!("journal poisoned"))?;
            if journal.queue.is_empty() {
                return Ok(0);
            }
            let sealed = segment(&self.path, journal.next_segment);
            journal.next_segment += 1;
            std::fs::rename(&self.path, &sealed)?;
            journal.file = OpenOptions::new().create(true).append(true).open(&self.path)?;
            let mut segments = std::mem::take(&mut journal.sealed);
            segments.push(sealed);
            let batch = std::mem::take(&mut journal.queue);
            journal.flushing = batch.len();
            (batch, segments)
        };
        let result = store.insert_usage(&batch).await;
        let mut journal = self.journal.lock().map_err(|_| anyhow::anyhow!("journal poisoned"))?;
        journal.flushing = 0;
        match result {
            Ok(_) => {
                drop(journal);
                for s in &segments {
                    if let Err(e) = std::fs::remove_file(s) {
                        tracing::warn!(error = %e, path = %s.display(), "cannot remove a flushed journal segment");
                    }
                }
                Ok(batch.len())
            }
            Err(e) => {
                // Keep them, in order, for the next flush; their segments stay until then.
                let newer = std::mem::replace(&mut journal.queue, batch);
                journal.queue.extend(newer);
                journal.sealed = segments;
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
