//! The control plane's cycle: priority order with fair share across tenants, quotas, preemption,
//! EASY backfill, all-or-nothing gangs, best-fit placement.
//!
//! Jobs are taken in order (`fair.rs`). One that does not fit may stop running work it has
//! grounds to stop (`preempt.rs`); otherwise it waits with a reason, and the first such job gets a
//! reservation that the jobs behind it may not delay (`backfill.rs`) — without runtime estimates
//! there is none, and a job that does not fit never blocks the jobs behind it. A gang goes on one
//! node if any can hold it, else within one rack, else anywhere, using as few nodes as possible.

use crate::backfill::Reservation;
use crate::fair::FairOrder;
use crate::fleet::{Fleet, Gpu, Needs, Score, Taken};
use crate::model::{
    Decisions, GpuAssignment, HeldReplica, PendingJob, Placement, Preemption, ReplicaPlacement, RunningJob, SchedInput,
    Waiting,
};
use crate::policy::Chooser;
use crate::preempt::{Grounds, Search, Stops, Victims};
use crate::quota::{Demand, Quotas};
use crate::reason;
use std::cmp::Reverse;
use std::collections::BTreeMap;
use strata_domain::GpuMillis;

/// Decides, for every pending job, where it runs now or why it waits, and which running jobs
/// to stop to make room.
pub fn schedule(input: &SchedInput) -> Decisions {
    // Best fit for single replicas through an index kept current from the fleet's change log,
    // instead of a scan of every node per job; victims found by bisection.
    schedule_with(input, Chooser::live(), Search::Bisect)
}

/// [`schedule`] with every single replica placed by a scan of every node instead of the index,
/// and victims added one at a time until the job fits: the reference the fast paths are tested
/// against (the decisions must be identical).
#[doc(hidden)]
pub fn schedule_by_scan(input: &SchedInput) -> Decisions {
    schedule_with(input, Chooser::classic(), Search::OneByOne)
}

fn schedule_with(input: &SchedInput, mut best_fit: Chooser, search: Search) -> Decisions {
    let mut fleet = Fleet::new(&input.nodes);
    fleet.count_running(&input.running);
    let mut quotas = Quotas::new(&input.tenants);
    let mut order = FairOrder::new(input);
    let mut victims = Victims::new(&input.running, &input.tenants, input.now_ms, search);
    let mut reservation: Option<Reservation> = None;
    // Jobs that failed since the fleet last changed, by shape: a long queue is mostly the same few
    // shapes waiting, and each would fail again for the same reason (the search for victims
    // included), so the reason is reused. Cleared by every placement.
    let mut failed: BTreeMap<ShapeKey, Vec<(&PendingJob, String)>> = BTreeMap::new();
    // The capacity part of those reasons depends on even less (replicas and resources): shared
    // by jobs that differ only in tenant, priority or estimate. Cleared with `failed`.
    let mut capacity_reasons: Vec<(&PendingJob, String)> = Vec::new();

    let mut out = Decisions::default();
    while let Some(job) = order.next() {
        let known = failed.get(&shape_key(job)).and_then(|v| v.iter().find(|(f, _)| f.resources == job.resources));
        if let Some((_, reason)) = known {
            out.waiting.push(Waiting { job: job.id, reason: reason.clone() });
            continue;
        }
        let demand = Demand::of(job);
        let needs = fleet.needs(&job.resources);
        let mut plan = None;
        // Whether a failure is down to the job's shape and the fleet alone, so that the same shape
        // would fail alike (not so after victims were found).
        let mut by_shape = true;
        let placed = match place_job(&mut fleet, &mut best_fit, &quotas, job, &needs, &mut capacity_reasons) {
            Ok(replicas) => Ok(replicas),
            Err(Refusal::Quota(reason)) => Err(reason),
            Err(Refusal::Capacity(reason)) => {
                plan = make_room(&mut fleet, &mut victims, job, &needs);
                match plan.as_ref() {
                    Some(_) => {
                        by_shape = false;
                        place_gang(&mut fleet, &needs, job.replicas, &mut best_fit).map_err(|_| reason)
                    }
                    None => Err(reason),
                }
            }
        };
        let placed = placed.and_then(|replicas| {
            let held = held_by(&fleet, &needs, &replicas);
            let admitted = reservation.as_mut().is_none_or(|r| r.admits(job, input.now_ms, &held));
            match reservation.as_ref() {
                Some(r) if !admitted => {
                    for h in &held {
                        fleet.release(h);
                    }
                    Err(format!(
                        "fits now, but starting it would delay job {} (first in line, due to start at about {}); a runtime estimate that ends by then lets it backfill",
                        r.job, clock(r.start_ms)
                    ))
                }
                _ => Ok((replicas, held)),
            }
        });
        match placed {
            Ok((replicas, held)) => {
                failed.clear();
                capacity_reasons.clear();
                if let Some(plan) = plan.take() {
                    for &(v, grounds) in &plan.victims {
                        let r = victims.job(v);
                        let d = Demand::held(r);
                        quotas.release(r.tenant, &d);
                        order.release(r.tenant, &d);
                        if let Some(res) = reservation.as_mut() {
                            res.stopped(r);
                        }
                        let reason = preemption_reason(&victims, r, job, grounds);
                        out.preemptions.push(Preemption { job: r.id, for_job: job.id, reason });
                    }
                }
                quotas.charge(job.tenant, &demand);
                order.charge(job.tenant, &demand);
                for h in &held {
                    if let Some(m) = h.gpus.first().and_then(|g| fleet.model_of(h.node, g.index)) {
                        victims.charge(job.tenant, m, h.gpu_milli());
                    }
                }
                out.placements.push(Placement { job: job.id, replicas });
            }
            Err(reason) => {
                if let Some(plan) = plan.take() {
                    victims.restart(&mut fleet, &plan);
                }
                if by_shape {
                    failed.entry(shape_key(job)).or_default().push((job, reason.clone()));
                }
                let reason = match reservation {
                    None if !victims.is_empty() => {
                        reservation = Reservation::plan(&fleet, victims.still_running().collect(), job, |f| {
                            let needs = f.needs(&job.resources);
                            place_gang(f, &needs, job.replicas, &mut Chooser::classic()).is_ok()
                        });
                        match &reservation {
                            Some(r) => format!(
                                "{reason}; first in line: expected to start at about {}, when running jobs end; jobs behind it start first only if they do not delay that",
                                clock(r.start_ms)
                            ),
                            None => reason,
                        }
                    }
                    _ => reason,
                };
                out.waiting.push(Waiting { job: job.id, reason });
            }
        }
    }
    out
}

/// Jobs the scheduler cannot tell apart when placing have the same tenant (quota, fair share,
/// victims), priority (victims), runtime estimate (backfill), replicas — this key — and the
/// same resources.
type ShapeKey = (strata_domain::TenantId, i32, Option<u64>, u32);

fn shape_key(j: &PendingJob) -> ShapeKey {
    (j.tenant, j.priority, j.runtime_estimate_ms, j.replicas)
}

/// Why a job could not be placed: its quota (nothing to do but wait for its own work to end) or
/// the fleet's free capacity (stopping other work, or waiting, may help).
enum Refusal {
    Quota(String),
    Capacity(String),
}

fn place_job<'j>(
    fleet: &mut Fleet,
    best_fit: &mut Chooser,
    quotas: &Quotas,
    job: &'j PendingJob,
    needs: &Needs,
    reasons: &mut Vec<(&'j PendingJob, String)>,
) -> Result<Vec<ReplicaPlacement>, Refusal> {
    if job.replicas == 0 {
        return Err(Refusal::Quota("asks for 0 replicas; there is nothing to place".to_string()));
    }
    // Quota first: if the tenant may not run it, free capacity is beside the point.
    quotas.check(job.tenant, &Demand::of(job)).map_err(Refusal::Quota)?;
    place_gang(fleet, needs, job.replicas, best_fit).map_err(|fits_now| {
        let known = reasons.iter().find(|(j, _)| j.replicas == job.replicas && j.resources == job.resources);
        let reason = match known {
            Some((_, r)) => r.clone(),
            None => {
                let mut r = reason::capacity(fleet, needs, job.replicas, fits_now);
                // A spread group's limit is explained by `reason::capacity` itself.
                if let Some(cap) = needs.res.max_replicas_per_node.filter(|_| job.replicas > 1 && !needs.spreads()) {
                    r.push_str(&format!(
                        "; at most {cap} of its replicas may share a node (max_replicas_per_node), which counts in what fits"
                    ));
                }
                reasons.push((job, r.clone()));
                r
            }
        };
        Refusal::Capacity(reason)
    })
}

/// Stops (on `fleet`) the cheapest running jobs after which `job` fits, if any may be stopped.
fn make_room(fleet: &mut Fleet, victims: &mut Victims, job: &PendingJob, needs: &Needs) -> Option<Stops> {
    if victims.is_empty() {
        return None;
    }
    let plan = victims.plan(fleet, job, needs, |f| {
        if job.replicas == 1 {
            // One replica fits if any node fits it: no copy of the fleet needed.
            return Chooser::classic().choose(f, needs).is_some();
        }
        gang_fits(f, needs, job.replicas)
    })?;
    victims.stop(fleet, &plan);
    Some(plan)
}

fn preemption_reason(victims: &Victims, r: &RunningJob, job: &PendingJob, grounds: Grounds) -> String {
    match grounds {
        Grounds::Priority => format!(
            "preempted by job {} of the same tenant (priority {} over {}); requeued",
            job.id, job.priority, r.priority
        ),
        Grounds::Reclaim => format!(
            "preempted: tenant {} was borrowing GPUs beyond its nominal quota, and tenant {} reclaimed them for job {}; requeued",
            victims.tenant_name(r.tenant),
            victims.tenant_name(job.tenant),
            job.id
        ),
    }
}

/// A time of day in UTC, `HH:MM UTC`: enough for a person reading a reason.
fn clock(ms: i64) -> String {
    let minutes = ms.div_euclid(60_000).rem_euclid(24 * 60);
    format!("{:02}:{:02} UTC", minutes / 60, minutes % 60)
}

/// What each replica of a placement holds, as a running job would report it.
fn held_by(fleet: &Fleet, needs: &Needs, replicas: &[ReplicaPlacement]) -> Vec<HeldReplica> {
    replicas
        .iter()
        .map(|r| HeldReplica {
            node: r.node,
            gpu_model: r.gpus.first().and_then(|g| fleet.model_of(r.node, g.index)).map(str::to_string),
            cpu_milli: needs.cpu,
            memory_mib: needs.mem,
            gpus: r.gpus.clone(),
            spread_group: needs.res.spread_group.clone(),
        })
        .collect()
}

/// Where a gang goes: (position in `Fleet::nodes`, replicas on it), in rank order.
type Plan = Vec<(usize, u32)>;

/// How many replicas of the gang one node could hold, and how full it would be after.
struct Eval {
    node: usize,
    count: u32,
    score: Score,
}

/// Whether [`place_gang`] would place all `r` replicas: exactly when the nodes together hold `r`
/// (a plan over every node then always exists), so it is asked without copying the fleet or
/// placing anything — the victim search asks it once per victim it tries.
fn gang_fits(fleet: &Fleet, needs: &Needs, r: u32) -> bool {
    let mut total = 0u64;
    for node in 0..fleet.nodes.len() {
        if let Some((count, _)) = fleet.capacity(node, needs, r) {
            total += u64::from(count);
            if total >= u64::from(r) {
                return true;
            }
        }
    }
    false
}

/// Places all `r` replicas or none. `Err` carries how many replicas would fit now (for the reason).
/// A single replica goes where `chooser` says; `chooser` must have been made for this `fleet`
/// (or keep no state: [`Chooser::classic`]).
pub(crate) fn place_gang(
    fleet: &mut Fleet,
    needs: &Needs,
    r: u32,
    chooser: &mut Chooser,
) -> Result<Vec<ReplicaPlacement>, u64> {
    chooser.sync(fleet);
    if r == 1 {
        // The common case: the same single-replica choice the simulator's `Placer` makes, with
        // the control plane's best-fit policy; no simulation or allocation per node.
        let (i, choice) = chooser.choose(fleet, needs).ok_or(0u64)?;
        let taken = fleet.apply(i, needs, choice);
        return Ok(vec![replica(fleet, i, &taken)]);
    }

    if let Some(node) = one_node_by_index(fleet, needs, r, chooser) {
        return commit(fleet, needs, &vec![(node, r)]).ok_or(u64::from(r));
    }
    // Every node that fits one replica; the chooser's index, where it has one, skips those whose
    // devices cannot (most of a busy fleet).
    let eval = |node: usize| fleet.capacity(node, needs, r).map(|(count, score)| Eval { node, count, score });
    let evals: Vec<Eval> = match chooser.candidates(fleet, needs) {
        Some(nodes) => nodes.into_iter().filter_map(eval).collect(),
        None => (0..fleet.nodes.len()).filter_map(eval).collect(),
    };
    let total: u64 = evals.iter().map(|e| u64::from(e.count)).sum();
    if total < u64::from(r) {
        return Err(total);
    }
    let plan = choose_plan(fleet, &evals, r).ok_or(total)?;
    commit(fleet, needs, &plan).ok_or(total)
}

/// The node a whole gang goes on when one node can hold it, found by the index without
/// evaluating every node — where that is exact: whole-GPU replicas on a fleet whose nodes carry
/// one chip model each. There, `r` replicas of `n` GPUs fit on a node exactly when one replica of
/// `r·n` GPUs and `r` times the CPU and memory does, and the score of the last of the `r`
/// ([`Node::capacity`]) is that one replica's score, so the tightest node that holds the gang
/// ([`choose_plan`]'s one-node choice) is the index's best fit for the sum. `None` when no node
/// holds it, or the index cannot say (the caller evaluates every node).
fn one_node_by_index(fleet: &Fleet, needs: &Needs, r: u32, chooser: &mut Chooser) -> Option<usize> {
    let Gpu::Whole(n) = needs.gpu else { return None };
    // A spread group's replicas already on a node lower what it holds, which the index does not know.
    if !fleet.single_model || needs.spreads() || needs.res.max_replicas_per_node.is_some_and(|cap| cap < r) {
        return None;
    }
    let whole = Needs {
        cpu: needs.cpu.checked_mul(u64::from(r))?,
        mem: needs.mem.checked_mul(u64::from(r))?,
        gpu: Gpu::Whole(n.checked_mul(r)?),
        allowed: needs.allowed.clone(),
        pref: needs.pref.clone(),
        res: needs.res,
    };
    chooser.indexed_best(fleet, &whole).flatten().map(|(node, _)| node)
}

/// One node if possible, else the best single rack, else the whole fleet.
fn choose_plan(fleet: &Fleet, evals: &[Eval], r: u32) -> Option<Plan> {
    // One node: the tightest that holds all `r` (fewest replicas room, then score, then
    // position) — what `fewest_nodes` would pick, found without sorting every node.
    if let Some(e) = evals.iter().filter(|e| e.count >= r).min_by_key(|e| (e.count, e.score, e.node)) {
        return Some(vec![(e.node, r)]);
    }
    let first = evals.first()?;
    // The evaluations grouped by rack in one flat list (a counting sort: racks are few and
    // interned), instead of a list per rack.
    let mut start = vec![0usize; fleet.racks.len() + 1];
    for e in evals {
        if let Some(rack) = fleet.nodes[e.node].rack {
            start[rack + 1] += 1;
        }
    }
    for i in 1..start.len() {
        start[i] += start[i - 1];
    }
    let mut next = start.clone();
    let mut grouped: Vec<&Eval> = vec![first; start[fleet.racks.len()]];
    for e in evals {
        if let Some(rack) = fleet.nodes[e.node].rack {
            grouped[next[rack]] = e;
            next[rack] += 1;
        }
    }
    // Fewest nodes, then the rack with the least room left (best fit); racks are in name order,
    // which breaks the remaining ties.
    let mut best: Option<((usize, u64), Plan)> = None;
    for rack in 0..fleet.racks.len() {
        let members = &mut grouped[start[rack]..start[rack + 1]];
        let room: u64 = members.iter().map(|e| u64::from(e.count)).sum();
        if room < u64::from(r) {
            continue;
        }
        if let Some(plan) = fewest_nodes(members, r) {
            let key = (plan.len(), room);
            if best.as_ref().is_none_or(|(k, _)| key < *k) {
                best = Some((key, plan));
            }
        }
    }
    match best {
        Some((_, plan)) => Some(plan),
        None => fewest_nodes(&mut evals.iter().collect::<Vec<_>>(), r),
    }
}

/// Covers `r` replicas with as few nodes as possible: take the roomiest nodes until the rest
/// fits on one, then finish on the tightest node that can hold the rest (best fit).
fn fewest_nodes(pool: &mut [&Eval], r: u32) -> Option<Plan> {
    pool.sort_by_key(|e| (Reverse(e.count), e.score, e.node));
    let mut plan = Vec::new();
    let mut remaining = r;
    let mut next = 0;
    while remaining > 0 {
        let head = pool.get(next)?;
        if head.count < remaining {
            plan.push((head.node, head.count));
            remaining -= head.count;
            next += 1;
            continue;
        }
        // Every node in pool[next..] with count >= remaining is a candidate; they are a prefix
        // sorted by count descending, so the tightest is the first of the last count group.
        let mut finish = head;
        for e in &pool[next..] {
            if e.count < remaining {
                break;
            }
            if e.count < finish.count {
                finish = e;
            }
        }
        plan.push((finish.node, remaining));
        remaining = 0;
    }
    Some(plan)
}

/// Applies a plan replica by replica; ranks follow plan order. Rolls back if anything fails to
/// fit (it should not: the plan was computed on this same state with the same fit function).
fn commit(fleet: &mut Fleet, needs: &Needs, plan: &Plan) -> Option<Vec<ReplicaPlacement>> {
    let mut done: Vec<(usize, Taken)> = Vec::new();
    for &(node, k) in plan {
        for _ in 0..k {
            match fleet.nodes[node].fit(needs) {
                Some(fit) => done.push((node, fleet.apply(node, needs, fit.choice))),
                None => {
                    for (n, taken) in done.iter().rev() {
                        fleet.undo(*n, needs, taken);
                    }
                    return None;
                }
            }
        }
    }
    Some(done.iter().map(|(n, taken)| replica(fleet, *n, taken)).collect())
}

pub(crate) fn replica(fleet: &Fleet, node: usize, taken: &Taken) -> ReplicaPlacement {
    let n = &fleet.nodes[node];
    let gpus =
        taken.iter().map(|&(pos, milli)| GpuAssignment { index: n.gpus[pos].index, milli: GpuMillis(milli) }).collect();
    ReplicaPlacement { node: n.view.id, gpus }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{arb_fleet, arb_request, arb_roomy_fleet};
    use proptest::prelude::*;

    proptest! {
        /// The victim search's cheap question gets the answer placing the gang would give.
        #[test]
        fn gang_fits_exactly_when_the_gang_can_be_placed(
            views in prop_oneof![arb_fleet(), arb_roomy_fleet()],
            res in arb_request(),
            r in 2u32..7,
        ) {
            let fleet = Fleet::new(&views);
            let needs = fleet.needs(&res);
            let placed = place_gang(&mut fleet.clone(), &needs, r, &mut Chooser::classic()).is_ok();
            prop_assert_eq!(gang_fits(&fleet, &needs, r), placed);
        }
    }

    fn eval(node: usize, count: u32) -> Eval {
        let score = Score { pref: 0, dev_after: 0, gpu_after: 0, cpu_after: 0, mem_after: 0 };
        Eval { node, count, score }
    }

    #[test]
    fn fewest_nodes_takes_the_roomiest_then_finishes_on_the_tightest() {
        let evals = [eval(0, 1), eval(1, 3), eval(2, 2), eval(3, 3)];
        let plan = fewest_nodes(&mut evals.iter().collect::<Vec<_>>(), 5);
        assert_eq!(plan, Some(vec![(1, 3), (2, 2)]));
        let plan = fewest_nodes(&mut evals.iter().collect::<Vec<_>>(), 4);
        assert_eq!(plan, Some(vec![(1, 3), (0, 1)]));
        let plan = fewest_nodes(&mut evals.iter().collect::<Vec<_>>(), 3);
        assert_eq!(plan, Some(vec![(1, 3)]));
    }

    #[test]
    fn fewest_nodes_gives_up_when_the_pool_is_too_small() {
        let evals = [eval(0, 1), eval(1, 2)];
        assert_eq!(fewest_nodes(&mut evals.iter().collect::<Vec<_>>(), 4), None);
    }
}
