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

/// How [`Victims::plan`] finds the shortest run of cheapest victims after which a job fits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Search {
    /// Bisection over the run's length.
    Bisect,
    /// One victim more at a time: the reference bisection is tested against.
    OneByOne,
}

pub(crate) struct Victims<'a> {
    search: Search,
    running: Vec<&'a RunningJob>,
    stopped: Vec<bool>,
    /// The preemptible running jobs, cheapest victim first (work lost if stopped now, in
    /// milli-GPU·ms then milli-CPU·ms, …): the same for every claimant of a cycle, so sorted
    /// once, not per waiting job.
    cheapest_first: Vec<usize>,
    /// The tenants with preemptible running jobs, the lowest priority among each one's, and
    /// per running job its tenant's place in the list.
    tenant_list: Vec<TenantId>,
    lowest_priority: Vec<i32>,
    tenant_of: Vec<usize>,
    /// Milli-GPUs in use per (tenant, chip model), running work only.
    use_by_model: BTreeMap<(TenantId, &'a str), u64>,
    tenants: BTreeMap<TenantId, &'a TenantLimits>,
    /// The chip models running jobs use, numbered, and per running job the numbers of its
    /// models: the victim test compares numbers, not names, for every running job.
    models: Vec<&'a str>,
    models_of: Vec<Vec<usize>>,
}

/// Victims chosen for one job, not yet stopped.
pub(crate) struct Stops {
    pub victims: Vec<(usize, Grounds)>,
}

impl<'a> Victims<'a> {
    pub fn new(running: &'a [RunningJob], tenants: &'a [TenantLimits], now_ms: i64, search: Search) -> Self {
        let mut running: Vec<&RunningJob> = running.iter().collect();
        running.sort_by_key(|r| r.id);
        let mut use_by_model: BTreeMap<(TenantId, &str), u64> = BTreeMap::new();
        let cost: Vec<(u128, u128)> = running
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
        let tenants = tenants.iter().map(|t| (t.tenant, t)).collect();
        let mut cheapest_first: Vec<usize> = (0..running.len()).collect();
        cheapest_first.sort_by_key(|&v| {
            let r = running[v];
            (cost[v], r.priority, std::cmp::Reverse(r.progress_since_ms), std::cmp::Reverse(r.id))
        });
        cheapest_first.retain(|&v| running[v].preemptible);
        let mut tenant_list: Vec<TenantId> = cheapest_first.iter().map(|&v| running[v].tenant).collect();
        tenant_list.sort_unstable();
        tenant_list.dedup();
        let mut lowest_priority = vec![i32::MAX; tenant_list.len()];
        let tenant_of: Vec<usize> =
            running.iter().map(|r| tenant_list.binary_search(&r.tenant).unwrap_or(usize::MAX)).collect();
        for &v in &cheapest_first {
            let t = tenant_of[v];
            lowest_priority[t] = lowest_priority[t].min(running[v].priority);
        }
        let mut models: Vec<&str> = use_by_model.keys().map(|&(_, m)| m).collect();
        models.sort_unstable();
        models.dedup();
        let models_of = running
            .iter()
            .map(|r| {
                let mut ids: Vec<usize> = r
                    .replicas
                    .iter()
                    .filter_map(|h| h.gpu_model.as_deref())
                    .filter_map(|m| models.binary_search(&m).ok())
                    .collect();
                ids.sort_unstable();
                ids.dedup();
                ids
            })
            .collect();
        Victims {
            search,
            running,
            stopped,
            cheapest_first,
            tenant_list,
            lowest_priority,
            tenant_of,
            use_by_model,
            tenants,
            models,
            models_of,
        }
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

    /// Whether running job `v` may be stopped for `job`, and on what grounds. `lend` is the
    /// numbers of the chip models on which `job`'s tenant may reclaim
    /// ([`Victims::reclaimable_models`]), `over` a memo of whether a tenant borrows a model
    /// beyond its nominal quota.
    fn grounds(
        &self,
        v: usize,
        job: &PendingJob,
        lend: &[usize],
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
        let reclaimable = self.models_of[v].iter().filter(|m| lend.contains(m)).any(|&m| {
            let known = over.iter().find(|&&(t, i, _)| t == r.tenant && i == m).map(|&(_, _, o)| o);
            known.unwrap_or_else(|| {
                let name = self.models[m];
                let o = self.used(r.tenant, name) > self.nominal(r.tenant, name);
                over.push((r.tenant, m, o));
                o
            })
        });
        reclaimable.then_some(Grounds::Reclaim)
    }

    /// The chip models on which `job`'s tenant may take back GPUs from borrowers: the job may
    /// use them, and the tenant stays within its nominal quota of them with the job placed.
    /// Fixed while one job's victims are chosen, so it is worked out once, not per running job.
    fn reclaimable_models(&self, job: &PendingJob, needs: &Needs) -> Vec<usize> {
        let want = u64::from(job.replicas) * u64::from(needs.res.gpu_milli.total_milli().0);
        if want == 0 {
            return Vec::new();
        }
        let Some(limits) = self.tenants.get(&job.tenant) else { return Vec::new() };
        limits
            .nominal_gpu_milli
            .iter()
            .filter(|&(m, &nominal)| needs.res.allows_model(m) && self.used(job.tenant, m) + want <= nominal)
            // A model no running job uses has no borrower to reclaim from.
            .filter_map(|(m, _)| self.models.binary_search(&m.as_str()).ok())
            .collect()
    }

    /// Eligible victims for `job`, cheapest first. Only the running jobs of tenants that can
    /// hold one are tested: the claimant's own, and those borrowing a model it may reclaim —
    /// on a busy fleet most claimants have no victim at all, and finding that out need not
    /// walk every running job.
    fn candidates(&self, job: &PendingJob, needs: &Needs) -> Vec<(usize, Grounds)> {
        let lend = self.reclaimable_models(job, needs);
        let may_hold: Vec<bool> = self
            .tenant_list
            .iter()
            .zip(&self.lowest_priority)
            .map(|(&tenant, &lowest)| {
                if tenant == job.tenant {
                    lowest < job.priority
                } else {
                    lend.iter().any(|&m| {
                        let name = self.models[m];
                        self.used(tenant, name) > self.nominal(tenant, name)
                    })
                }
            })
            .collect();
        if !may_hold.contains(&true) {
            return Vec::new();
        }
        let mut over = Vec::new();
        self.cheapest_first
            .iter()
            .filter(|&&v| may_hold[self.tenant_of[v]])
            .filter_map(|&v| self.grounds(v, job, &lend, &mut over).map(|g| (v, g)))
            .collect()
    }

    /// The cheapest set of victims after whose stopping `fits` holds on `fleet`, or `None`.
    /// Takes victims cheapest first until it fits, then puts back every one (dearest first)
    /// that turns out not to be needed. `fits` must be monotone: stopping more never makes a
    /// job that fitted stop fitting.
    ///
    /// The shortest fitting run of cheapest victims is found by galloping (1, 2, 4, … victims)
    /// and then bisection, rather than by a `fits` after each victim: a check scans the fleet,
    /// and a job that no stopping can help — most of a long queue, every cycle — is told so
    /// after a logarithmic number of checks. The trials run on `fleet` itself, which is left as
    /// it was (its change log aside): a copy of the fleet per waiting job cost more than the
    /// search.
    pub fn plan(
        &self,
        fleet: &mut Fleet,
        job: &PendingJob,
        needs: &Needs,
        fits: impl Fn(&Fleet) -> bool,
    ) -> Option<Stops> {
        let candidates = self.candidates(job, needs);
        if candidates.is_empty() {
            return None;
        }
        // `stopped` of the candidates, cheapest first, are stopped on `fleet`.
        let mut stopped = 0;
        let mut move_to = |fleet: &mut Fleet, k: usize| {
            for &(v, _) in &candidates[stopped.min(k)..stopped.max(k)] {
                for h in &self.running[v].replicas {
                    if k > stopped {
                        fleet.release(h);
                    } else {
                        // What was released on this fleet is free: taking it back succeeds.
                        fleet.take_exact(h);
                    }
                }
            }
            stopped = k;
        };
        let shortest = match self.search {
            Search::Bisect => {
                // Invariant: stopping `lo` does not fit (or lo = 0, untested), `hi` fits.
                let (mut lo, mut hi) = (0, 1);
                let found = loop {
                    move_to(fleet, hi);
                    if fits(fleet) {
                        break true;
                    }
                    if hi == candidates.len() {
                        break false;
                    }
                    (lo, hi) = (hi, (2 * hi).min(candidates.len()));
                };
                while found && hi - lo > 1 {
                    let mid = lo + (hi - lo) / 2;
                    move_to(fleet, mid);
                    if fits(fleet) {
                        hi = mid;
                    } else {
                        lo = mid;
                    }
                }
                found.then_some(hi)
            }
            Search::OneByOne => (1..=candidates.len()).find(|&k| {
                move_to(fleet, k);
                fits(fleet)
            }),
        };
        let Some(shortest) = shortest else {
            move_to(fleet, 0);
            return None;
        };
        move_to(fleet, shortest);
        let mut chosen = candidates[..shortest].to_vec();
        for i in (0..chosen.len()).rev() {
            // Put the victim back: take exactly what it held, and give it back again if the
            // job then no longer fits.
            let held = &self.running[chosen[i].0].replicas;
            let taken = held.iter().take_while(|h| fleet.take_exact(h)).count();
            if taken == held.len() && fits(fleet) {
                chosen.remove(i);
            } else {
                for h in &held[..taken] {
                    fleet.release(h);
                }
            }
        }
        // Leave the fleet as it was; `stop` stops the chosen for real.
        for &(v, _) in &chosen {
            for h in &self.running[v].replicas {
                fleet.take_exact(h);
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
