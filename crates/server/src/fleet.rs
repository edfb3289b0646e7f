//! A short-lived cache of the fleet's inventories for admission checks, so a burst of
//! submissions does not read every node's inventory once per job. Stale by at most `MAX_AGE`
//! or until a node registers, whichever comes first: admission only refuses jobs that no state
//! of the fleet could run, so a slightly old view errs on the side of accepting.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use strata_domain::Inventory;
use strata_store::Store;

const MAX_AGE: Duration = Duration::from_secs(2);

#[derive(Default)]
pub struct FleetCache {
    cached: Mutex<Option<(Instant, Arc<Vec<Inventory>>)>>,
}

impl FleetCache {
    pub async fn inventories(&self, store: &Store) -> strata_store::Result<Arc<Vec<Inventory>>> {
        if let Ok(guard) = self.cached.lock() {
            if let Some((at, fleet)) = guard.as_ref() {
                if at.elapsed() < MAX_AGE {
                    return Ok(fleet.clone());
                }
            }
        }
        let fleet: Arc<Vec<Inventory>> = Arc::new(store.nodes().await?.into_iter().map(|n| n.inventory).collect());
        if let Ok(mut guard) = self.cached.lock() {
            *guard = Some((Instant::now(), fleet.clone()));
        }
        Ok(fleet)
    }

    /// Forgets the cached view (a node joined or changed).
    pub fn invalidate(&self) {
        if let Ok(mut guard) = self.cached.lock() {
            *guard = None;
        }
    }
}
