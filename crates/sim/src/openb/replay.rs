//! `strata sim openb-replay`: our policy on the exact arrival order of the authors' simulator
//! (`idx,pod,base_pod,result,node`), compared decision by decision.
//!
//! Two comparisons, because one divergence changes every later state:
//! - *forced*: before each pod we ask which nodes our policy ranks best, then apply the authors'
//!   choice, so every decision is judged from the same state as theirs. Their scheduler breaks
//!   ties at random, so a decision agrees when their node is among our best-ranked nodes.
//! - *free*: our own choices all the way, in their order; the final allocation and the first
//!   failure show whether the differences matter.

use super::run::Workload;
use super::PolicyArg;
use anyhow::{bail, Context};
use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::PathBuf;
use strata_domain::NodeId;
use strata_sched::{Placer, Policy};

#[derive(Debug, Clone, clap::Args)]
pub struct ReplayArgs {
    /// Node list: `sn,cpu_milli,memory_mib,gpu,model`.
    #[arg(long)]
    pub nodes: PathBuf,
    /// The pod list the placements were made from.
    #[arg(long)]
    pub pods: PathBuf,
    /// The authors' placements: `idx,pod,base_pod,result,node`.
    #[arg(long)]
    pub placements: PathBuf,
    /// Our policy to compare with theirs.
    #[arg(long, value_enum, default_value_t = PolicyArg(Policy::Fgd))]
    pub policy: PolicyArg,
    /// Seed for our policy's tie-breaking.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Also write the report to this file.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

/// One line of the authors' placements.
#[derive(Debug, Clone)]
pub struct Decision {
    pub pod: usize,
    pub tuned: bool,
    /// Their node, or `None` when the pod failed.
    pub node: Option<NodeId>,
}

pub fn read_decisions(args: &ReplayArgs, w: &Workload) -> anyhow::Result<Vec<Decision>> {
    let path = &args.placements;
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let pods: HashMap<&str, usize> = w.pods.iter().enumerate().map(|(i, p)| (p.name.as_str(), i)).collect();
    let nodes: HashMap<&str, usize> = w.node_names.iter().enumerate().map(|(i, n)| (n.as_str(), i)).collect();
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate().skip(1) {
        let f: Vec<&str> = line.split(',').collect();
        let at = |c: usize| {
            format!("{}:{}:{}", path.display(), i + 1, f.iter().take(c).map(|x| x.len() + 1).sum::<usize>() + 1)
        };
        if f.len() < 5 {
            bail!("{}: expected 5 fields (idx,pod,base_pod,result,node), found {}", at(f.len()), f.len());
        }
        let Some(&pod) = pods.get(f[2]) else { bail!("{}: pod `{}` is not in {}", at(2), f[2], args.pods.display()) };
        let node = match f[3] {
            "scheduled" => match nodes.get(f[4]) {
                Some(&n) => Some(NodeId(n as i64)),
                None => bail!("{}: node `{}` is not in {}", at(4), f[4], args.nodes.display()),
            },
            "failed" => None,
            other => bail!("{}: result `{other}` is neither `scheduled` nor `failed`", at(3)),
        };
        out.push(Decision { pod, tuned: f[1] != f[2], node });
    }
    Ok(out)
}

pub fn run(args: &ReplayArgs) -> anyhow::Result<()> {
    let w = Workload::load(&args.nodes, &args.pods)?;
    let decisions = read_decisions(args, &w)?;
    let report = compare(&w, args.policy.0, args.seed, &decisions);
    if let Some(out) = &args.out {
        std::fs::write(out, &report).with_context(|| format!("writing {}", out.display()))?;
    }
    print!("{report}");
    Ok(())
}

/// The comparison report, in markdown.
pub fn compare(w: &Workload, policy: Policy, seed: u64, decisions: &[Decision]) -> String {
    let capacity = w.capacity_milli().max(1) as f64;
    // Forced: their choices, our ranking of each state.
    let mut forced = Placer::new(&w.nodes, policy, &w.mix, seed);
    let (mut placed, mut agree, mut tie_sum, mut both_fail, mut we_fail, mut they_fail) =
        (0u64, 0u64, 0u64, 0u64, 0u64, 0u64);
    for d in decisions {
        let res = w.pods[d.pod].resources();
        let best = forced.best_nodes(&res);
        match d.node {
            Some(node) => {
                placed += 1;
                tie_sum += best.len() as u64;
                if best.contains(&node) {
                    agree += 1;
                } else if best.is_empty() {
                    we_fail += 1;
                }
                forced.place_on(&res, node);
            }
            None if best.is_empty() => both_fail += 1,
            None => they_fail += 1,
        }
    }
    // Free: our own choices in their order.
    let mut free = Placer::new(&w.nodes, policy, &w.mix, seed);
    let (mut same_node, mut same_result, mut arrived, mut first_fail, mut failed) = (0u64, 0u64, 0u64, None, 0u64);
    let mut their_alloc = 0u64;
    for d in decisions {
        let pod = &w.pods[d.pod];
        arrived += pod.total_gpu_milli();
        let ours = free.place(&pod.resources()).map(|r| r.node);
        if d.node.is_some() {
            their_alloc += pod.total_gpu_milli();
        }
        same_node += u64::from(ours.is_some() && ours == d.node);
        same_result += u64::from(ours.is_some() == d.node.is_some());
        if ours.is_none() {
            failed += 1;
            first_fail = first_fail.or(Some(100.0 * arrived as f64 / capacity));
        }
    }
    let n = decisions.len().max(1) as f64;
    let originals = decisions.iter().filter(|d| !d.tuned).count();
    let mut s = String::new();
    let _ = writeln!(s, "# Replay of the authors' placements: {}, our policy `{}`\n", w.name, policy.name());
    let _ = writeln!(
        s,
        "{} arrivals ({} originals + {} tuned); our inflation gives {} arrivals for seed 42.\n",
        decisions.len(),
        originals,
        decisions.len() - originals,
        w.arrivals(1.3, 42).len()
    );
    let _ = writeln!(s, "Forced (same state before every decision):");
    let _ = writeln!(
        s,
        "- their node among our best-ranked nodes: {agree} of {placed} placed pods ({:.2}%), {:.1} nodes tied on average",
        100.0 * agree as f64 / placed.max(1) as f64,
        tie_sum as f64 / placed.max(1) as f64
    );
    let _ = writeln!(s, "- they placed, we found no node: {we_fail}; they failed and so did we: {both_fail}; they failed, we had a node: {they_fail}");
    let _ = writeln!(s, "\nFree (our own choices in their order):");
    let _ = writeln!(
        s,
        "- same node: {same_node} ({:.2}%); same outcome (placed/failed): {same_result} ({:.2}%)",
        100.0 * same_node as f64 / n,
        100.0 * same_result as f64 / n
    );
    let _ = writeln!(
        s,
        "- GPU allocation at the end: ours {:.2}%, theirs {:.2}%; failed pods: ours {failed}, theirs {}",
        100.0 * free.gpu_allocated_milli() as f64 / capacity,
        100.0 * their_alloc as f64 / capacity,
        decisions.iter().filter(|d| d.node.is_none()).count()
    );
    if let Some(p) = first_fail {
        let _ = writeln!(s, "- our first failure at {p:.2}% arrived GPU demand");
    }
    s
}
