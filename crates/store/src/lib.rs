//! The control plane's durable state: one repository layer over SQLite and PostgreSQL.
//!
//! Both databases are reached through sqlx's `Any` driver with the same SQL (`$N` placeholders,
//! which SQLite accepts too), so every query is written once and the same test suite runs
//! against both. The schema differs only in type names; each backend has its own migrations.
//!
//! SQLite allows one writer at a time, so for SQLite writes go through a pool of one connection
//! and reads through a separate pool: writers queue in the pool instead of failing with
//! `SQLITE_BUSY`, and readers never wait for them (WAL mode). PostgreSQL uses one pool for both.
//!
//! Invariant: every write that the API acknowledges is committed before the acknowledgement,
//! and every multi-row change (placing a gang, requeueing a job) is one transaction.

mod connect;
mod deployments;
mod fresh;
mod jobs;
mod keys;
mod logs;
mod nodes;
mod rows;
mod sched_state;
mod tasks;
mod tenants;
mod usage;

pub use connect::{Backend, Store};
pub use deployments::{DeploymentLoad, DeploymentRow, ReplicaRow};
pub use fresh::fresh_database_url;
pub use jobs::{JobFilter, NewJob};
pub use keys::{GatewayKeyRow, KeyRow, NewKey, DEFAULT_PROJECT};
pub use rows::{EventRow, JobRow, LogChunk, NodeRow, TaskRow, TenantRow};
pub use sched_state::{node_view, Held, SchedSnapshot};
pub use tasks::TaskUpdate;
pub use usage::{UsageFilter, UsageGroup, UsageTotal};

/// What went wrong talking to the database.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("stored document is corrupt: {0}")]
    Corrupt(String),
    #[error("{0} already exists")]
    Conflict(String),
    #[error("unsupported database URL {0:?}: use sqlite://PATH or postgres://USER@HOST:PORT/DB")]
    UnsupportedUrl(String),
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Rows per multi-row statement: at up to 10 parameters a row, far below SQLite's (32,766) and
/// PostgreSQL's (65,535) limits on parameters per statement.
pub(crate) const ROWS_PER_STATEMENT: usize = 500;

/// Writes the parameters of one long statement in the order they are bound: `$1, $2, …` on
/// PostgreSQL, `?` on SQLite — SQLite looks a named parameter (`$N`) up by walking a list, so
/// binding thousands of them is quadratic, while anonymous ones bind in constant time. An
/// anonymous parameter cannot be referred to twice: a value used twice is bound twice.
pub(crate) struct Params {
    backend: Backend,
    next: usize,
}

impl Params {
    pub fn new(backend: Backend) -> Self {
        Params { backend, next: 1 }
    }

    /// The next parameter.
    pub fn one(&mut self) -> String {
        let n = self.next;
        self.next += 1;
        match self.backend {
            Backend::Sqlite => "?".to_string(),
            Backend::Postgres => format!("${n}"),
        }
    }

    /// The next `n` parameters, comma-separated.
    pub fn list(&mut self, n: usize) -> String {
        (0..n).map(|_| self.one()).collect::<Vec<_>>().join(", ")
    }
}

pub(crate) fn to_json<T: serde::Serialize>(value: &T) -> Result<String> {
    serde_json::to_string(value).map_err(|e| StoreError::Corrupt(e.to_string()))
}

pub(crate) fn from_json<T: serde::de::DeserializeOwned>(text: &str, what: &str) -> Result<T> {
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt(format!("{what}: {e}")))
}
