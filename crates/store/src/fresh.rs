//! Throw-away databases for tests and benchmarks: a new PostgreSQL database on the server named
//! by `DATABASE_URL` when it is set (as `.ci/run` does), else a new SQLite file in `dir`. Every
//! suite that takes its database from here runs against both backends unchanged.

use crate::Result;
use sqlx::any::AnyPoolOptions;
use sqlx::Executor;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// Returns the URL of an empty database that no other caller gets.
pub async fn fresh_database_url(dir: &Path) -> Result<String> {
    match std::env::var("DATABASE_URL") {
        Ok(server) if !server.is_empty() => {
            sqlx::any::install_default_drivers();
            let name = format!(
                "strata_t_{}_{}_{}",
                std::process::id(),
                COUNTER.fetch_add(1, Ordering::Relaxed),
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.subsec_nanos())
                    .unwrap_or(0)
            );
            let admin = AnyPoolOptions::new().max_connections(1).connect(&server).await?;
            admin.execute(format!("CREATE DATABASE {name}").as_str()).await?;
            admin.close().await;
            let base = server.rsplit_once('/').map_or(server.as_str(), |(base, _)| base);
            Ok(format!("{base}/{name}"))
        }
        _ => Ok(format!(
            "sqlite://{}",
            dir.join(format!("strata-{}.db", COUNTER.fetch_add(1, Ordering::Relaxed))).display()
        )),
    }
}
