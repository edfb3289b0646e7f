//! Task output, shipped by agents in chunks and read back by the API (also while it grows).

use crate::rows::LogChunk;
use crate::{Result, Store};
use sqlx::Row;
use strata_domain::JobId;

impl Store {
    /// Stores a chunk of a task's stdout or stderr at `offset`. An agent that resends a chunk
    /// after a lost reply stores nothing twice: the chunk's offset is unique per stream.
    pub async fn append_log(&self, task_id: i64, stream: &str, offset: u64, data: &[u8]) -> Result<()> {
        sqlx::query("INSERT INTO task_logs (task_id, stream, byte_offset, data) VALUES ($1, $2, $3, $4) ON CONFLICT (task_id, stream, byte_offset) DO NOTHING")
            .bind(task_id)
            .bind(stream)
            .bind(offset as i64)
            .bind(data)
            .execute(&self.write)
            .await?;
        Ok(())
    }

    /// Chunks of one attempt of a job stored after chunk `after_id`, oldest first.
    pub async fn log_chunks(
        &self,
        job: JobId,
        attempt: u32,
        replica: Option<u32>,
        stream: Option<&str>,
        after_id: i64,
    ) -> Result<Vec<LogChunk>> {
        let rows = sqlx::query(
            "SELECT l.id, l.task_id, k.replica, l.stream, l.data FROM task_logs l JOIN tasks k ON k.id = l.task_id \
             WHERE k.job_id = $1 AND k.attempt = $2 AND l.id > $3 ORDER BY l.id LIMIT 1000",
        )
        .bind(job.0)
        .bind(i64::from(attempt))
        .bind(after_id)
        .fetch_all(&self.read)
        .await?;
        let mut chunks = Vec::with_capacity(rows.len());
        for row in &rows {
            let chunk = LogChunk {
                id: row.try_get("id")?,
                task_id: row.try_get("task_id")?,
                replica: row.try_get::<i64, _>("replica")? as u32,
                stream: row.try_get("stream")?,
                data: row.try_get("data")?,
            };
            let wanted = replica.is_none_or(|r| r == chunk.replica) && stream.is_none_or(|s| s == chunk.stream);
            if wanted {
                chunks.push(chunk);
            } else {
                // Keep the id moving so a follower does not read skipped chunks again.
                chunks.push(LogChunk { data: Vec::new(), ..chunk });
            }
        }
        Ok(chunks)
    }
}
