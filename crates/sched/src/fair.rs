//! The order jobs are considered in: priority first; among jobs of equal priority, dominant
//! resource fairness (DRF, Ghodsi et al., NSDI'11) across tenants — the next job comes from the
//! tenant whose dominant share (its largest fraction of the fleet's GPUs, CPUs or memory) is
//! smallest, counting what it was given earlier in this same cycle. Within a tenant, submission
//! order. Tenants weigh the same.

use crate::model::{PendingJob, SchedInput};
use crate::quota::Demand;
use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, VecDeque};
use strata_domain::{JobId, TenantId};

/// A dominant share in parts per billion: an integer, so the order is exact and the same on
/// every machine.
type Share = u64;

pub(crate) struct FairOrder<'a> {
    /// Priority levels, highest first; each a queue per tenant.
    levels: BTreeMap<Reverse<i32>, BTreeMap<TenantId, VecDeque<&'a PendingJob>>>,
    /// The tenants of the current level, smallest (share, head's submission, head's id) first.
    heap: BinaryHeap<Reverse<(Share, i64, JobId, TenantId)>>,
    level: Option<BTreeMap<TenantId, VecDeque<&'a PendingJob>>>,
    used: BTreeMap<TenantId, [u64; 3]>,
    capacity: [u64; 3],
    /// The tenant whose job `next` returned last: it rejoins the heap on the following call,
    /// after `charge` has counted what that job was given.
    returning: Option<TenantId>,
}

impl<'a> FairOrder<'a> {
    pub fn new(input: &'a SchedInput) -> Self {
        let mut levels: BTreeMap<Reverse<i32>, BTreeMap<TenantId, VecDeque<&PendingJob>>> = BTreeMap::new();
        let mut jobs: Vec<&PendingJob> = input.pending.iter().collect();
        jobs.sort_by_key(|j| (j.submitted_at_ms, j.id));
        for j in jobs {
            levels.entry(Reverse(j.priority)).or_default().entry(j.tenant).or_default().push_back(j);
        }
        let used: BTreeMap<TenantId, [u64; 3]> =
            input.tenants.iter().map(|t| (t.tenant, [t.used_gpu_milli, t.used_cpu_milli, t.used_memory_mib])).collect();
        // The fleet's size: what is free plus what every tenant holds.
        let mut capacity = [0u64; 3];
        for n in &input.nodes {
            capacity[0] += n.gpus.iter().map(|g| u64::from(g.free.0)).sum::<u64>();
            capacity[1] += n.free_cpu.0;
            capacity[2] += n.free_memory.0;
        }
        for u in used.values() {
            for (c, x) in capacity.iter_mut().zip(u) {
                *c += x;
            }
        }
        FairOrder { levels, heap: BinaryHeap::new(), level: None, used, capacity, returning: None }
    }

    fn share(&self, tenant: TenantId) -> Share {
        let used = self.used.get(&tenant).copied().unwrap_or_default();
        used.iter()
            .zip(&self.capacity)
            .filter(|(_, &c)| c > 0)
            .map(|(&u, &c)| ((u128::from(u) * 1_000_000_000) / u128::from(c)) as u64)
            .max()
            .unwrap_or(0)
    }

    fn push(&mut self, tenant: TenantId) {
        let head = self.level.as_ref().and_then(|l| l.get(&tenant)).and_then(|q| q.front());
        if let Some(head) = head {
            let key = (self.share(tenant), head.submitted_at_ms, head.id, tenant);
            self.heap.push(Reverse(key));
        }
    }

    /// The next job to consider.
    pub fn next(&mut self) -> Option<&'a PendingJob> {
        if let Some(t) = self.returning.take() {
            self.push(t);
        }
        loop {
            if let Some(Reverse((_, _, _, tenant))) = self.heap.pop() {
                let job = self.level.as_mut()?.get_mut(&tenant)?.pop_front()?;
                self.returning = Some(tenant);
                return Some(job);
            }
            let (_, tenants) = self.levels.pop_first()?;
            let ids: Vec<TenantId> = tenants.keys().copied().collect();
            self.level = Some(tenants);
            for t in ids {
                self.push(t);
            }
        }
    }

    /// Counts what a placed job was given towards its tenant's share.
    pub fn charge(&mut self, tenant: TenantId, demand: &Demand) {
        let u = self.used.entry(tenant).or_default();
        u[0] += demand.gpu;
        u[1] += demand.cpu;
        u[2] += demand.mem;
    }

    /// Counts what a stopped job gave back.
    pub fn release(&mut self, tenant: TenantId, demand: &Demand) {
        let u = self.used.entry(tenant).or_default();
        u[0] = u[0].saturating_sub(demand.gpu);
        u[1] = u[1].saturating_sub(demand.cpu);
        u[2] = u[2].saturating_sub(demand.mem);
    }
}
