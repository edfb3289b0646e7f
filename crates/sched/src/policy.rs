//! Placement policies: which node (and which devices on it) one replica goes to.
//!
//! Every policy sees the same feasible set — the nodes where [`Node::fit`] succeeds, the same
//! check the control plane's scheduler uses — and differs only in how it ranks them. The
//! baselines follow FGD's reference simulator (Weng et al., ATC'23) closely enough to reproduce
//! its published numbers: integer node scores, and ties broken by a random but fixed order of
//! the nodes (its nodes carry a random-permutation name prefix and its patched scheduler takes the
//! first best node by name). That fixed order matters: it packs tied pods onto the same nodes;
//! breaking each tie afresh at random costs FGD about four points of allocation on openb. All
//! randomness comes from the seeded [`Rng`]. `classic` is the control plane's own best fit.
//! `strata` is FGD with the costs of [`crate::strata`] counted as fragment.

use crate::fleet::{Choice, Fleet, Gpu, Needs, Node, WHOLE};
use crate::frag::{FragModel, Take};
use crate::index::FitIndex;
use crate::mix::TaskMix;
use crate::rng::Rng;
use crate::scores::{Room, ScoreCache};
use crate::strata::Costs;
use serde::{Deserialize, Serialize};
use std::cmp::Ordering;

/// A placement policy for single replicas.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Policy {
    /// Strata's policy: FGD's score with CPU-stranded GPUs and broken homes of scarce shapes
    /// counted as fragment.
    Strata,
    /// Fragmentation gradient descent (Weng et al., ATC'23), as in the authors' simulator.
    Fgd,
    /// Least CPU and GPU left over, equally weighted (FGD's `BestFit` baseline).
    BestFit,
    /// Shared GPUs first, then partly used nodes, then empty ones (FGD's `GpuPacking` baseline).
    GpuPacking,
    /// A uniformly random feasible node and device (FGD's `Random` baseline).
    Random,
    /// The control plane's best fit: preferred model, tightest device, least left over.
    Classic,
}

impl Policy {
    pub const ALL: [Policy; 6] =
        [Policy::Strata, Policy::Fgd, Policy::BestFit, Policy::GpuPacking, Policy::Random, Policy::Classic];

    pub fn name(self) -> &'static str {
        match self {
            Policy::Strata => "strata",
            Policy::Fgd => "fgd",
            Policy::BestFit => "bestfit",
            Policy::GpuPacking => "gpupacking",
            Policy::Random => "random",
            Policy::Classic => "classic",
        }
    }

    /// One line for `--help`.
    pub fn about(self) -> &'static str {
        match self {
            Policy::Strata => "FGD, also counting GPUs the node's CPU cannot feed and broken homes of rare shapes",
            Policy::Fgd => "fragmentation gradient descent, Weng et al. ATC'23, as in the authors' simulator",
            Policy::BestFit => "least CPU + GPU left over, integer scores, random ties (FGD's BestFit baseline)",
            Policy::GpuPacking => "shared GPUs, then used nodes, then free nodes (FGD's GpuPacking baseline)",
            Policy::Random => "a uniformly random feasible node and device (FGD's Random baseline)",
            Policy::Classic => "the control plane's best fit: tightest device, least left, lowest node id",
        }
    }

    pub fn parse(name: &str) -> Option<Policy> {
        Policy::ALL.into_iter().find(|p| p.name().eq_ignore_ascii_case(name))
    }
}

/// One feasible node with the devices the policy would take there and its rank.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Candidate {
    pub node: usize,
    pub choice: Choice,
    /// Larger is better.
    pub key: f64,
}

/// A policy with its state: the random stream and, for fragmentation-aware policies, the
/// typical-task model and each node's current fragmentation.
pub(crate) struct Chooser {
    policy: Policy,
    rng: Rng,
    frag: FragModel,
    /// Fragmentation of each node as it stands; `None` until computed or after it changed.
    node_frag: Vec<Option<f64>>,
    /// A seeded random rank per node: among tied nodes the lowest rank wins. The reference
    /// simulator does the same by prefixing node names with a random permutation and taking
    /// the first best node in name order.
    rank: Vec<usize>,
    /// Strata's extra costs; `None` for the other policies.
    costs: Option<Costs>,
    /// Best fit without a scan, for `classic` in a [`crate::Placer`] and in the control plane's
    /// cycle, which report every change ([`Chooser::sync`]).
    index: Option<FitIndex>,
    /// Whether to build `index` on the first choice (the control plane's cycle: a cycle with
    /// nothing to place pays nothing for it).
    index_on_demand: bool,
    /// Scores kept between placements, for the scoring policies in a [`crate::Placer`].
    scores: Option<ScoreCache>,
}

/// The authors' normalisation constants for BestFit (milli-CPU and milli-GPU of the largest node).
const MAX_SPEC_CPU: f64 = 128_000.0;
const MAX_SPEC_GPU: f64 = 8_000.0;

impl Chooser {
    /// A chooser for `fleet` as it stands; `mix` is the workload's task distribution.
    pub fn new(policy: Policy, seed: u64, mix: &TaskMix, fleet: &Fleet) -> Self {
        let nodes = fleet.nodes.len();
        let mut rng = Rng::new(seed);
        let mut rank: Vec<usize> = (0..nodes).collect();
        rng.shuffle(&mut rank);
        let frag = FragModel::new(mix, &fleet.models);
        let costs = (policy == Policy::Strata).then(|| Costs::new(mix, fleet));
        let index = (policy == Policy::Classic).then(|| FitIndex::new(fleet));
        // Random draws among the feasible nodes afresh each time: nothing to keep.
        let scores = (!matches!(policy, Policy::Classic | Policy::Random)).then(|| {
            let free_mem: Vec<u64> = fleet.nodes.iter().map(|n| n.mem).collect();
            ScoreCache::new(rank.clone(), &free_mem, fleet.nodes.iter().map(Room::of).collect())
        });
        Chooser { policy, rng, frag, node_frag: vec![None; nodes], rank, costs, index, scores, index_on_demand: false }
    }

    /// The control plane's policy for one cycle's fleet: best fit through the index, built on
    /// first use and kept current by [`Chooser::sync`] before each choice.
    pub fn live() -> Self {
        Chooser { index_on_demand: true, ..Chooser::classic() }
    }

    /// The control plane's policy without an index: for trial copies of a fleet, which are
    /// asked one question or two and thrown away.
    pub fn classic() -> Self {
        let frag = FragModel::new(&TaskMix::default(), &[]);
        Chooser {
            policy: Policy::Classic,
            rng: Rng::new(0),
            frag,
            node_frag: Vec::new(),
            rank: Vec::new(),
            costs: None,
            index: None,
            scores: None,
            index_on_demand: false,
        }
    }

    /// The index's best-fit node for `needs`, if this chooser has an index and it can answer
    /// (`Some(None)`: no node fits).
    pub fn indexed_best(&mut self, fleet: &Fleet, needs: &Needs) -> Option<Option<(usize, Choice)>> {
        self.index(fleet)?.best(fleet, needs, |_| true)
    }

    /// The nodes that could hold one replica, if this chooser's index can tell (see
    /// [`FitIndex::candidates`]); `None` means every node.
    pub fn candidates(&mut self, fleet: &Fleet, needs: &Needs) -> Option<Vec<usize>> {
        self.index(fleet)?.candidates(fleet, needs)
    }

    /// The best-fit index, built on first use where it is made on demand.
    fn index(&mut self, fleet: &Fleet) -> Option<&mut FitIndex> {
        if self.index_on_demand && self.index.is_none() {
            self.index = Some(FitIndex::new(fleet));
        }
        self.index.as_mut()
    }

    /// Learns every change to `fleet` since the last sync (the fleet logs each one), so that
    /// kept state — index, scores, fragmentation — describes the fleet as it stands.
    pub fn sync(&mut self, fleet: &mut Fleet) {
        for node in fleet.take_changed() {
            self.touched(fleet, node);
        }
    }

    /// Where one replica goes, or `None` if no node can take it now.
    pub fn choose(&mut self, fleet: &Fleet, needs: &Needs) -> Option<(usize, Choice)> {
        self.choose_where(fleet, needs, |_| true)
    }

    /// [`Chooser::choose`] among the nodes `open` lets in (say, those where fewer than a
    /// density limit of the same application run). A request's spread group closes the nodes
    /// that hold as many of the group's replicas as its limit allows, whatever `open` says.
    pub fn choose_where(
        &mut self,
        fleet: &Fleet,
        needs: &Needs,
        open: impl Fn(usize) -> bool,
    ) -> Option<(usize, Choice)> {
        let spreads = needs.spreads();
        let open = |node: usize| open(node) && (!spreads || fleet.spread_room(node, needs) > 0);
        if self.policy == Policy::Classic {
            return match self.index(fleet).and_then(|ix| ix.best(fleet, needs, open)) {
                Some(found) => found,
                None => classic_where(fleet, needs, open),
            };
        }
        let best = match self.scores.take() {
            Some(mut cache) => {
                // Scored as if no memory were needed; each node's memory is checked here.
                let memoryless = Needs { mem: 0, allowed: needs.allowed.clone(), pref: needs.pref.clone(), ..*needs };
                let best = cache.best(
                    needs,
                    fleet.nodes.len(),
                    |i| self.evaluate(fleet, &memoryless, i).map(|c| (c.key, c.choice)),
                    |node| fleet.nodes[node].mem >= needs.mem && open(node),
                );
                self.scores = Some(cache);
                best.map(|(node, key, choice)| Candidate { node, choice, key })
            }
            None => {
                let cands = self.ranked(fleet, needs);
                self.best_of(cands.into_iter().filter(|c| open(c.node)))
            }
        }?;
        let choice = match (self.policy, needs.gpu) {
            (Policy::Random, Gpu::Share(m)) => self.random_device(&fleet.nodes[best.node], needs, m),
            _ => best.choice,
        };
        Some((best.node, choice))
    }

    /// The best candidate: highest key; ties go to the lowest seeded rank, or for `random` to a
    /// uniform draw.
    fn best_of(&mut self, cands: impl Iterator<Item = Candidate>) -> Option<Candidate> {
        let mut best: Option<Candidate> = None;
        let mut ties = 0u64;
        for c in cands {
            match best.map(|b| c.key.total_cmp(&b.key)) {
                None | Some(Ordering::Greater) => {
                    best = Some(c);
                    ties = 1;
                }
                Some(Ordering::Equal) if self.policy == Policy::Random => {
                    // Reservoir sampling: each feasible node ends up chosen with equal chance,
                    // as the reference `RandomScore` draws one per pod.
                    ties += 1;
                    if self.rng.below(ties) == 0 {
                        best = Some(c);
                    }
                }
                Some(Ordering::Equal) => {
                    if best.is_some_and(|b| self.rank[c.node] < self.rank[b.node]) {
                        best = Some(c);
                    }
                }
                Some(Ordering::Less) => {}
            }
        }
        best
    }

    /// Every feasible node tied for the best rank (for comparing decisions with another scheduler).
    /// Nodes closed to the request's spread group are left out, as [`Chooser::choose_where`] does.
    pub fn best_set(&mut self, fleet: &Fleet, needs: &Needs) -> Vec<usize> {
        let open = |node: usize| !needs.spreads() || fleet.spread_room(node, needs) > 0;
        if self.policy == Policy::Classic {
            return classic_where(fleet, needs, open).map(|(i, _)| vec![i]).unwrap_or_default();
        }
        let mut cands = self.ranked(fleet, needs);
        cands.retain(|c| open(c.node));
        let Some(top) = cands.iter().map(|c| c.key).max_by(f64::total_cmp) else { return Vec::new() };
        cands.iter().filter(|c| c.key.total_cmp(&top) == Ordering::Equal).map(|c| c.node).collect()
    }

    /// Every feasible node with its rank.
    fn ranked(&mut self, fleet: &Fleet, needs: &Needs) -> Vec<Candidate> {
        (0..fleet.nodes.len()).filter_map(|i| self.evaluate(fleet, needs, i)).collect()
    }

    /// Forgets a node's cached fragmentation, and re-indexes it, after its free capacity changed.
    pub fn touched(&mut self, fleet: &Fleet, node: usize) {
        if let Some(f) = self.node_frag.get_mut(node) {
            *f = None;
        }
        if let Some(ix) = self.index.as_mut() {
            ix.refresh(fleet, node);
        }
        if let Some(cache) = self.scores.as_mut() {
            cache.touched(node, fleet.nodes.len(), fleet.nodes[node].mem, Room::of(&fleet.nodes[node]));
        }
    }

    /// FGD's fragmentation (milli-GPU) of one node as it stands.
    pub fn node_frag(&mut self, fleet: &Fleet, node: usize) -> f64 {
        if let Some(Some(f)) = self.node_frag.get(node) {
            return *f;
        }
        let f = self.frag.now(&fleet.nodes[node]);
        if let Some(slot) = self.node_frag.get_mut(node) {
            *slot = Some(f);
        }
        f
    }

    /// Ranks one node for the replica, or `None` if it does not fit there.
    pub fn evaluate(&mut self, fleet: &Fleet, needs: &Needs, i: usize) -> Option<Candidate> {
        let node = &fleet.nodes[i];
        let fit = node.fit(needs)?;
        let (choice, key) = match self.policy {
            Policy::Classic | Policy::Random => (fit.choice, 0.0),
            Policy::BestFit => (fit.choice, best_fit_score(node, needs)),
            Policy::GpuPacking => (fit.choice, packing_score(node, needs)),
            Policy::Fgd | Policy::Strata => self.fgd(fleet, needs, i, fit.choice),
        };
        Some(Candidate { node: i, choice, key })
    }

    /// FGD: `sigmoid(Δfrag / 1000) × 100`, truncated to an integer as the reference plugin does;
    /// for a share, the device with the best score (the first on ties). Strata adds its costs to
    /// the fragmentation before and after, and is otherwise FGD: the same quantisation, so that
    /// nodes with nearly equal costs still tie and go by the seeded order, which packs.
    fn fgd(&mut self, fleet: &Fleet, needs: &Needs, i: usize, fit: Choice) -> (Choice, f64) {
        let before = self.node_frag(fleet, i);
        let node = &fleet.nodes[i];
        let (choice, after) = match needs.gpu {
            Gpu::Share(m) => {
                let mut best: Option<(f64, f64, usize)> = None;
                for (pos, d) in node.gpus.iter().enumerate() {
                    if needs.allowed[d.model] && d.free >= m {
                        let after = self.frag.after(node, needs.cpu, Take::Share { pos, milli: m });
                        let s = quantise(before - after);
                        if best.is_none_or(|(b, _, _)| s > b) {
                            best = Some((s, after, pos));
                        }
                    }
                }
                match best {
                    Some((_, after, pos)) => (Choice::Device(pos), after),
                    None => return (fit, f64::MIN),
                }
            }
            _ => (fit, self.frag.after(node, needs.cpu, take_of(fit, needs))),
        };
        let Some(costs) = self.costs.as_mut() else { return (choice, quantise(before - after)) };
        let free: u64 = node.gpus.iter().map(|d| u64::from(d.free)).sum();
        let cpu_left = node.cpu.saturating_sub(needs.cpu);
        let gpu_left = free.saturating_sub(requested_milli(needs));
        let before = before + costs.stranded(node.cpu, free);
        let after =
            after + costs.stranded(cpu_left, gpu_left) + costs.homes_lost(fleet, i, needs.cpu, take_of(choice, needs));
        (choice, quantise(before - after))
    }

    /// A uniformly random allowed device with room for the share (reservoir over devices).
    fn random_device(&mut self, node: &Node, needs: &Needs, m: u32) -> Choice {
        let mut chosen = None;
        let mut seen = 0u64;
        for (pos, d) in node.gpus.iter().enumerate() {
            if needs.allowed[d.model] && d.free >= m {
                seen += 1;
                if self.rng.below(seen) == 0 {
                    chosen = Some(pos);
                }
            }
        }
        chosen.map_or(Choice::NoGpu, Choice::Device)
    }
}

/// The control plane's rule: smallest [`crate::fleet::Score`], then lowest node position. What
/// the index is tested against; the code itself goes through [`classic_where`].
#[cfg(test)]
pub(crate) fn classic(fleet: &Fleet, needs: &Needs) -> Option<(usize, Choice)> {
    classic_where(fleet, needs, |_| true)
}

/// [`classic`] among the nodes `open` lets in.
pub(crate) fn classic_where(fleet: &Fleet, needs: &Needs, open: impl Fn(usize) -> bool) -> Option<(usize, Choice)> {
    fleet
        .nodes
        .iter()
        .enumerate()
        .filter(|&(i, _)| open(i))
        .filter_map(|(i, n)| n.fit(needs).map(|f| (f.score, i, f.choice)))
        .min_by_key(|&(score, i, _)| (score, i))
        .map(|(_, i, choice)| (i, choice))
}

/// FGD's score for a fragmentation decrease of `delta` milli-GPU: `sigmoid(delta / 1000) × 100`,
/// truncated.
fn quantise(delta: f64) -> f64 {
    (sigmoid(delta / 1000.0) * 100.0).trunc()
}

fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

/// What a fit's choice takes, for the fragmentation model.
fn take_of(choice: Choice, needs: &Needs) -> Take {
    match (choice, needs.gpu) {
        (Choice::Device(pos), Gpu::Share(milli)) => Take::Share { pos, milli },
        (Choice::Model(model), Gpu::Whole(n)) => Take::Whole { model, n },
        _ => Take::Nothing,
    }
}

fn requested_milli(needs: &Needs) -> u64 {
    match needs.gpu {
        Gpu::None => 0,
        Gpu::Share(m) => u64::from(m),
        Gpu::Whole(n) => u64::from(n) * u64::from(WHOLE),
    }
}

/// FGD's BestFit: `(1 − ½·cpu_left/128000 − ½·gpu_left/8000) × 100`, truncated.
fn best_fit_score(node: &Node, needs: &Needs) -> f64 {
    let gpu_free: u64 = node.gpus.iter().map(|d| u64::from(d.free)).sum();
    let cpu_left = node.cpu.saturating_sub(needs.cpu) as f64;
    let gpu_left = gpu_free.saturating_sub(requested_milli(needs)) as f64;
    ((1.0 - (0.5 * cpu_left / MAX_SPEC_CPU + 0.5 * gpu_left / MAX_SPEC_GPU)) * 100.0).trunc()
}

/// FGD's GpuPacking: 50..100 for a share on a shared GPU (fuller is better), 33..50 when whole
/// devices of a used node are needed, 0..33 for an untouched node; CPU tasks score 0 everywhere.
fn packing_score(node: &Node, needs: &Needs) -> f64 {
    if needs.gpu == Gpu::None {
        return 0.0;
    }
    let fully_free = node.gpus.iter().filter(|d| d.free == WHOLE).count() as i64;
    if fully_free == node.gpus.len() as i64 {
        return (33 - fully_free).max(fully_free) as f64;
    }
    // Devices the task would take: tightest first, as the reference plugin sorts them.
    let (per_dev, count) = match needs.gpu {
        Gpu::Share(m) => (m, 1),
        Gpu::Whole(n) => (WHOLE, n),
        Gpu::None => (0, 0),
    };
    let mut frees: Vec<u32> =
        node.gpus.iter().filter(|d| needs.allowed[d.model] && d.free >= per_dev).map(|d| d.free).collect();
    frees.sort_unstable();
    frees.truncate(count as usize);
    let whole_used = frees.iter().filter(|&&f| f == WHOLE).count() as i64;
    if whole_used > 0 {
        return (50 - whole_used).max(33) as f64;
    }
    let ratio: i64 = frees.iter().map(|&f| i64::from(f) * 100 / 1000).sum();
    (100 - ratio / 10).max(50) as f64
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mix::TaskShape;
    use crate::testing::{arb_fleet, arb_request};
    use proptest::prelude::*;

    proptest! {
        /// With scores kept between placements (and read from their tournament tree, by its
        /// best-first search past refused nodes, or by the scan it falls back to), every scoring
        /// policy decides exactly as when it scores every node afresh.
        #[test]
        fn kept_scores_decide_as_fresh_ones(
            views in arb_fleet(),
            requests in prop::collection::vec(arb_request(), 1..30),
            seed in any::<u64>(),
            closed in 0usize..4,
            steps_before_scan in prop_oneof![0usize..4, Just(super::super::scores::STEPS_BEFORE_SCAN)],
        ) {
            let shapes = requests.iter().map(|r| TaskShape::new(r.cpu_milli.0, r.gpu_milli, r.gpu_models.clone()));
            let mix = TaskMix::typical(shapes, 95.0);
            // Some nodes closed, as a density limit closes them: every `closed`-th (none for 0).
            let open = |node: usize| closed == 0 || !node.is_multiple_of(closed + 1);
            for policy in [Policy::Strata, Policy::Fgd, Policy::BestFit, Policy::GpuPacking] {
                let mut fleet = Fleet::new(&views);
                let mut kept = Chooser::new(policy, seed, &mix, &fleet);
                if let Some(cache) = kept.scores.as_mut() {
                    cache.set_steps_before_scan(steps_before_scan);
                }
                let mut fresh = Chooser::new(policy, seed, &mix, &fleet);
                fresh.scores = None;
                for res in &requests {
                    let needs = fleet.needs(res);
                    let decided = kept.choose_where(&fleet, &needs, open);
                    prop_assert_eq!(decided, fresh.choose_where(&fleet, &needs, open), "{} on {:?}", policy.name(), res);
                    if let Some((pos, choice)) = decided {
                        fleet.apply(pos, &needs, choice);
                        kept.touched(&fleet, pos);
                        fresh.touched(&fleet, pos);
                    }
                }
            }
        }
    }
}
