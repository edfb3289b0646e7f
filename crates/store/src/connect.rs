//! Opening the database and running migrations.

use crate::{Result, StoreError};
use sqlx::any::{install_default_drivers, AnyPoolOptions};
use sqlx::{AnyPool, Executor};
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// The repository. Cheap to clone; clones share the pools.
#[derive(Clone)]
pub struct Store {
    pub(crate) read: AnyPool,
    pub(crate) write: AnyPool,
    backend: Backend,
    /// Scheduling fields of the specs of jobs recently queued or running (see `SpecCache`).
    pub(crate) specs: std::sync::Arc<std::sync::Mutex<crate::sched_state::SpecCache>>,
}

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// WAL lets readers run beside the writer. synchronous=NORMAL in WAL mode loses nothing on a
/// process crash (SIGKILL); only an OS crash can drop the last commits, the trade every
/// embedded control plane makes. A 16 MiB page cache per connection (SQLite's default is 2 MiB)
/// keeps the hot index pages of the job and usage tables in memory.
async fn sqlite_pragmas(conn: &mut sqlx::AnyConnection) -> Result<(), sqlx::Error> {
    conn.execute("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA busy_timeout = 10000; PRAGMA foreign_keys = ON; PRAGMA cache_size = -16384;")
        .await?;
    Ok(())
}

impl Store {
    /// Opens `sqlite://PATH` (created if missing) or `postgres://…` and brings the schema up to
    /// date. Several servers may call this on one PostgreSQL at once: sqlx serialises migrations
    /// with an advisory lock.
    pub async fn connect(url: &str) -> Result<Store> {
        install_default_drivers();
        let store = if url.starts_with("sqlite:") {
            let url = if url.contains('?') { url.to_string() } else { format!("{url}?mode=rwc") };
            let write = AnyPoolOptions::new()
                .max_connections(1)
                .acquire_timeout(Duration::from_secs(60))
                .after_connect(|conn, _| Box::pin(sqlite_pragmas(conn)))
                .connect(&url)
                .await?;
            SQLITE_MIGRATIONS.run(&write).await?;
            let read = AnyPoolOptions::new()
                .max_connections(4)
                .after_connect(|conn, _| Box::pin(sqlite_pragmas(conn)))
                .connect(&url)
                .await?;
            Store { read, write, backend: Backend::Sqlite, specs: Default::default() }
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            let pool =
                AnyPoolOptions::new().max_connections(16).acquire_timeout(Duration::from_secs(30)).connect(url).await?;
            POSTGRES_MIGRATIONS.run(&pool).await?;
            Store { read: pool.clone(), write: pool, backend: Backend::Postgres, specs: Default::default() }
        } else {
            return Err(StoreError::UnsupportedUrl(url.to_string()));
        };
        Ok(store)
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// A connection of its own, outside the pools, for holding a session-scoped lock.
    pub async fn dedicated_connection(&self) -> Result<sqlx::pool::PoolConnection<sqlx::Any>> {
        Ok(self.write.acquire().await?)
    }

    pub async fn close(&self) {
        self.read.close().await;
        self.write.close().await;
    }

    pub async fn setting(&self, key: &str) -> Result<Option<String>> {
        let value: Option<(String,)> =
            sqlx::query_as("SELECT value FROM settings WHERE key = $1").bind(key).fetch_optional(&self.read).await?;
        Ok(value.map(|v| v.0))
    }

    /// Stores `value` unless the key has one; returns whether this call stored it. Two servers
    /// starting at once agree on one value.
    pub async fn init_setting(&self, key: &str, value: &str) -> Result<bool> {
        let done = sqlx::query("INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING")
            .bind(key)
            .bind(value)
            .execute(&self.write)
            .await?;
        Ok(done.rows_affected() == 1)
    }
}
