//! Nodes: registration, heartbeats, cordon and drain, readiness.

use crate::rows::NodeRow;
use crate::{to_json, Result, Store, StoreError};
use strata_domain::{Inventory, NodeId};

const NODE_COLUMNS: &str =
    "id, name, address, inventory, usage, state, cordoned, draining, registered_ms, last_heartbeat_ms";

impl Store {
    /// Registers a node, or refreshes it when an agent of that name registered before: a
    /// restarted agent is the same node, keeping its id, cordon and history.
    pub async fn register_node(
        &self,
        name: &str,
        address: &str,
        inventory: &Inventory,
        now_ms: i64,
    ) -> Result<NodeRow> {
        let row = sqlx::query(&format!(
            "INSERT INTO nodes (name, address, inventory, usage, state, cordoned, draining, registered_ms, last_heartbeat_ms) \
             VALUES ($1, $2, $3, '[]', 'ready', 0, 0, $4, $4) \
             ON CONFLICT (name) DO UPDATE SET address = $2, inventory = $3, state = 'ready', last_heartbeat_ms = $4 \
             RETURNING {NODE_COLUMNS}"
        ))
        .bind(name)
        .bind(address)
        .bind(to_json(inventory)?)
        .bind(now_ms)
        .fetch_one(&self.write)
        .await?;
        NodeRow::decode(&row)
    }

    /// Records a heartbeat; returns the node, or `None` when the id is unknown (the agent must
    /// register again). A node that was not ready becomes ready.
    pub async fn heartbeat(&self, node: NodeId, usage_json: &str, now_ms: i64) -> Result<Option<NodeRow>> {
        let row = sqlx::query(&format!(
            "UPDATE nodes SET usage = $1, last_heartbeat_ms = $2, state = 'ready' WHERE id = $3 RETURNING {NODE_COLUMNS}"
        ))
        .bind(usage_json)
        .bind(now_ms)
        .bind(node.0)
        .fetch_optional(&self.write)
        .await?;
        row.as_ref().map(NodeRow::decode).transpose()
    }

    pub async fn nodes(&self) -> Result<Vec<NodeRow>> {
        let rows = sqlx::query(&format!("SELECT {NODE_COLUMNS} FROM nodes ORDER BY id")).fetch_all(&self.read).await?;
        rows.iter().map(NodeRow::decode).collect()
    }

    /// A node by id (all digits) or by name.
    pub async fn node(&self, id_or_name: &str) -> Result<Option<NodeRow>> {
        let row = match id_or_name.parse::<i64>() {
            Ok(id) => {
                sqlx::query(&format!("SELECT {NODE_COLUMNS} FROM nodes WHERE id = $1"))
                    .bind(id)
                    .fetch_optional(&self.read)
                    .await?
            }
            Err(_) => {
                sqlx::query(&format!("SELECT {NODE_COLUMNS} FROM nodes WHERE name = $1"))
                    .bind(id_or_name)
                    .fetch_optional(&self.read)
                    .await?
            }
        };
        row.as_ref().map(NodeRow::decode).transpose()
    }

    /// Sets the cordon and drain flags (uncordon clears both).
    pub async fn set_node_flags(&self, node: NodeId, cordoned: bool, draining: bool) -> Result<NodeRow> {
        let row = sqlx::query(&format!(
            "UPDATE nodes SET cordoned = $1, draining = $2 WHERE id = $3 RETURNING {NODE_COLUMNS}"
        ))
        .bind(i64::from(cordoned))
        .bind(i64::from(draining))
        .bind(node.0)
        .fetch_optional(&self.write)
        .await?;
        let row = row.ok_or_else(|| StoreError::Corrupt(format!("node {node} vanished")))?;
        NodeRow::decode(&row)
    }

    /// Marks every ready node whose last heartbeat is older than `cutoff_ms` as not ready and
    /// returns them.
    pub async fn mark_stale_nodes(&self, cutoff_ms: i64) -> Result<Vec<NodeRow>> {
        let rows = sqlx::query(&format!(
            "UPDATE nodes SET state = 'not_ready' WHERE state = 'ready' AND last_heartbeat_ms < $1 RETURNING {NODE_COLUMNS}"
        ))
        .bind(cutoff_ms)
        .fetch_all(&self.write)
        .await?;
        rows.iter().map(NodeRow::decode).collect()
    }
}
