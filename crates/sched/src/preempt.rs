//! Preemption: making room for a pending job by stopping running ones, which are requeued.
//!
//! Who may be stopped for whom:
//! - a lower-priority job of the same tenant — priority orders a tenant's own work; it does not
//!   let one tenant push another aside;
//! - a job of another tenant that is borrowing the chip model it runs on (its tenant uses more of
//!   that model than its nominal quota), when the pending job's tenant stays within its own
//!   nominal quota of that model — the owner reclaiming what it lent.
//!
//! Never a job marked not preemptible. Victims are the cheapest that make the job fit: fewest
//! GPU-hours of work lost since their last checkpoint, then fewest CPU-hours, then the lowest
//! priority, then the most recently started, then the highest id.

use crate::fleet::{Fleet, Needs};
use crate::model::{PendingJob, RunningJob, TenantLimits};
use crate::quota::Demand;
use std::collections::BTreeMap;
use strata_domain::TenantId;

/// Why a victim may be stopped; becomes its requeue reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Grounds {
    Priority,
    Reclaim,
}

pub(crate) struct Victims<'a> {
    running: Vec<&'a RunningJob>,
    stopped: Vec<bool>,
    /// Work lost if stopped now, in (milli-GPU·ms, milli-CPU·ms).
    cost: Vec<(u128, u128)>,
    /// Milli-GPUs in use per (tenant, chip model), running work only.
    use_by_model: BTreeMap<(TenantId, &'a str), u64>,
    tenants: BTreeMap<TenantId, &'a TenantLimits>,
}

/// Victims chosen for one job, not yet stopped.
pub(crate) struct Stops {
    pub victims: Vec<(usize, Grounds)>,
}

impl<'a> Victims<'a> {
    pub fn new(running: &'a [RunningJob], tenants: &'a [TenantLimits], now_ms: i64) -> Self {
        let mut running: Vec<&RunningJob> = running.iter().collect();
        running.sort_by_key(|r| r.id);
        let mut use_by_model: BTreeMap<(TenantId, &str), u64> = BTreeMap::new();
        let cost = running
            .iter()
            .map(|r| {
                let lost_ms = u128::try_from((now_ms - r.progress_since_ms).max(0)).unwrap_or(0);
                let d = Demand::held(r);
                (u128::from(d.gpu) * lost_ms, u128::from(d.cpu) * lost_ms)
            })
            .collect();
        for r in &running {
            for h in &r.replicas {
                if let Some(model) = h.gpu_model.as_deref() {
                    *use_by_model.entry((r.tenant, model)).or_default() += h.gpu_milli();
                }
            }
        }
        let stopped = vec![false; running.len()];
        Victims { running, stopped, cost, use_by_model, tenants: tenants.iter().map(|t| (t.tenant, t)).collect() }
    }

    pub fn is_empty(&self) -> bool {
        self.running.is_empty()
    }

    pub fn job(&self, v: usize) -> &'a RunningJob {
        self.running[v]
    }

    fn nominal(&self, tenant: TenantId, model: &str) -> u64 {
        self.tenants.get(&tenant).and_then(|t| t.nominal_gpu_milli.get(model)).copied().unwrap_or(0)
    }

    fn used(&self, tenant: TenantId, model: &str) -> u64 {
        self.use_by_model.get(&(tenant, model)).copied().unwrap_or(0)
    }

    /// Whether running job `v` may be stopped for `job`, and on what grounds. `lend` is the chip
    /// models on which `job`'s tenant may reclaim ([`Victims::reclaimable_models`]), `over`
    /// a memo of whether a tenant borrows a model beyond its nominal quota.
    fn grounds(
        &self,
        v: usize,
        job: &PendingJob,
        lend: &[&str],
        over: &mut Vec<(TenantId, usize, bool)>,
    ) -> Option<Grounds> {
        let r = self.running[v];
        if self.stopped[v] || !r.preemptible {
            return None;
        }
        if r.tenant == job.tenant {
            return (r.priority < job.priority).then_some(Grounds::Priority);
        }
        if lend.is_empty() {
            return None;
        }
        let reclaimable = r.replicas.iter().filter_map(|h| h.gpu_model.as_deref()).any(|m| {
            let Some(k) = lend.iter().position(|l| *l == m) else { return false };
            let known = over.iter().find(|&&(t, i, _)| t == r.tenant && i == k).map(|&(_, _, o)| o);
            known.unwrap_or_else(|| {
                let o = self.used(r.tenant, m) > self.nominal(r.tenant, m);
                over.push((r.tenant, k, o));
                o
            })
        });
        reclaimable.then_some(Grounds::Reclaim)
    }

    /// The chip models on which `job`'s tenant may take back GPUs from borrowers: the job may
    /// use them, and the tenant stays within its nominal quota of them with the job placed.
    /// Fixed while one job's victims are chosen, so it is worked out once, not per running job.
    fn reclaimable_models(&self, job: &PendingJob, needs: &Needs) -> Vec<&'a str> {
        let want = u64::from(job.replicas) * u64::from(needs.res.gpu_milli.total_milli().0);
        if want == 0 {
            return Vec::new();
        }
        let Some(limits) = self.tenants.get(&job.tenant) else { return Vec::new() };
        limits
            .nominal_gpu_milli
            .iter()
            .filter(|&(m, &nominal)| needs.res.allows_model(m) && self.used(job.tenant, m) + want <= nominal)
            .map(|(m, _)| m.as_str())
            .collect()
    }

    /// Eligible victims for `job`, cheapest first.
    fn candidates(&self, job: &PendingJob, needs: &Needs) -> Vec<(usize, Grounds)> {
        let lend = self.reclaimable_models(job, needs);
        let mut over = Vec::new();
        let mut c: Vec<(usize, Grounds)> =
            (0..self.running.len()).filter_map(|v| self.grounds(v, job, &lend, &mut over).map(|g| (v, g))).collect();
        c.sort_by_key(|&(v, _)| {
            let r = self.running[v];
            (self.cost[v], r.priority, std::cmp::Reverse(r.progress_since_ms), std::cmp::Reverse(r.id))
        });
        c
    }

    /// The cheapest set of victims after whose stopping `fits` holds on `fleet`, or `None`.
    /// Takes victims cheapest first until it fits, then puts back every one (dearest first)
    /// that turns out not to be needed.
    pub fn plan(&self, fleet: &Fleet, job: &PendingJob, needs: &Needs, fits: impl Fn(&Fleet) -> bool) -> Option<Stops> {
        let candidates = self.candidates(job, needs);
        if candidates.is_empty() {
            return None;
        }
        let mut scratch = fleet.clone();
        let mut chosen = Vec::new();
        for &(v, g) in &candidates {
            for h in &self.running[v].replicas {
                scratch.release(h);
            }
            chosen.push((v, g));
            if fits(&scratch) {
                break;
            }
        }
        if !fits(&scratch) {
            return None;
        }
        for i in (0..chosen.len()).rev() {
            // Put the victim back on `scratch` itself (no copy per try): take exactly what it
            // held, and give it back again if the job then no longer fits.
            let held = &self.running[chosen[i].0].replicas;
            let taken = held.iter().take_while(|h| scratch.take_exact(h)).count();
            if taken == held.len() && fits(&scratch) {
                chosen.remove(i);
            } else {
                for h in &held[..taken] {
                    scratch.release(h);
                }
            }
        }
        Some(Stops { victims: chosen })
    }

    /// Stops the plan's victims on `fleet`: their capacity is free for the rest of the cycle.
    pub fn stop(&mut self, fleet: &mut Fleet, plan: &Stops) {
        self.set_stopped(fleet, plan, true);
    }

    /// Undoes [`Victims::stop`] (the job the room was made for could not be placed after all).
    pub fn restart(&mut self, fleet: &mut Fleet, plan: &Stops) {
        self.set_stopped(fleet, plan, false);
    }

    fn set_stopped(&mut self, fleet: &mut Fleet, plan: &Stops, stop: bool) {
        for &(v, _) in &plan.victims {
            let r = self.running[v];
            for h in &r.replicas {
                if stop {
                    fleet.release(h);
                } else {
                    fleet.take_exact(h);
                }
                if let Some(m) = h.gpu_model.as_deref() {
                    let u = self.use_by_model.entry((r.tenant, m)).or_default();
                    *u = if stop { u.saturating_sub(h.gpu_milli()) } else { *u + h.gpu_milli() };
                }
            }
            self.stopped[v] = stop;
        }
    }

    /// Counts GPUs a job placed this cycle uses towards its tenant's use of their model.
    pub fn charge(&mut self, tenant: TenantId, model: &'a str, milli: u64) {
        *self.use_by_model.entry((tenant, model)).or_default() += milli;
    }

    /// Running jobs not stopped this cycle, in id order.
    pub fn still_running(&self) -> impl Iterator<Item = &'a RunningJob> + '_ {
        self.running.iter().zip(&self.stopped).filter(|(_, s)| !**s).map(|(r, _)| *r)
    }

    pub fn tenant_name(&self, t: TenantId) -> String {
        self.tenants.get(&t).map_or_else(|| t.to_string(), |l| l.display_name())
    }
}
