//! Why a job waits, in words a person can act on.
//!
//! Computed from the fleet as it stood when the job was considered (after the placements ahead of
//! it in this cycle), and only for jobs that did not fit, so the cost stays off the happy path.
//! Each message names the blocking resource, the amount asked for and the best the fleet offers.

use crate::fleet::{Fleet, Gpu, Needs, Node, WHOLE};

const NO_NODES: &str = "no schedulable node (all nodes are cordoned, draining or not ready)";

/// The reason a job with `replicas` replicas could not be placed, given that `fits_now`
/// replicas would fit across the fleet (fewer than `replicas`).
pub(crate) fn capacity(fleet: &Fleet, needs: &Needs, replicas: u32, fits_now: u64) -> String {
    let (Some(group), Some(cap)) = (&needs.res.spread_group, needs.res.max_replicas_per_node) else {
        return without_spread(fleet, needs, replicas, fits_now);
    };
    let full = (0..fleet.nodes.len())
        .filter(|&i| fleet.spread_room(i, needs) == 0 && fleet.nodes[i].fit(needs).is_some())
        .count();
    if full > 0 && fits_now == 0 {
        let nodes = if full == 1 { "the one node" } else { "every node" };
        return format!(
            "{nodes} with room for it already holds as many replicas of {group} as one node may ({cap}, max_replicas_per_node); it starts when a node with room joins or one of those replicas ends"
        );
    }
    format!(
        "{}; replicas of {group}: at most {cap} per node (max_replicas_per_node), counting those running",
        without_spread(fleet, needs, replicas, fits_now)
    )
}

/// [`capacity`] for a request without a spread group's limit, or for the part that is not it.
fn without_spread(fleet: &Fleet, needs: &Needs, replicas: u32, fits_now: u64) -> String {
    if fleet.nodes.is_empty() {
        return NO_NODES.to_string();
    }
    if needs.gpu != Gpu::None && !needs.allowed.iter().any(|&a| a) {
        return no_such_model(fleet, needs);
    }
    if !needs.res.node_labels.is_empty() && !fleet.nodes.iter().any(|n| needs.res.allows_node(&n.view.labels)) {
        let wanted: Vec<String> = needs.res.node_labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
        return format!(
            "needs a node labelled {}; no schedulable node is (agents add labels with --label; they detect vLLM, SGLang and llama.cpp's server themselves)",
            wanted.join(",")
        );
    }
    if replicas > 1 && fits_now > 0 {
        let (verb, noun) = if fits_now == 1 { ("fits", "replica") } else { ("fit", "replicas") };
        return format!(
            "needs {replicas} replicas of {}; only {fits_now} {noun} {verb} now ({})",
            replica_desc(needs),
            best_offer(fleet, needs)
        );
    }
    gpu_shortfall(fleet, needs)
        .or_else(|| cpu_or_memory_shortfall(fleet, needs))
        .unwrap_or_else(|| not_together(fleet, needs))
}

/// The requested chip models exist nowhere in the fleet (or the fleet has no GPUs at all).
fn no_such_model(fleet: &Fleet, needs: &Needs) -> String {
    let wanted = &needs.res.gpu_models;
    if wanted.is_empty() || fleet.models.is_empty() {
        return format!("needs {} but no schedulable node has a GPU", gpu_desc(needs));
    }
    let wanted: Vec<&str> = wanted.iter().map(String::as_str).collect();
    format!("no node has a GPU of model {}; models in the fleet: {}", either(&wanted), fleet.models.join(", "))
}

/// The GPU part alone does not fit on any node.
fn gpu_shortfall(fleet: &Fleet, needs: &Needs) -> Option<String> {
    match needs.gpu {
        Gpu::None => None,
        Gpu::Whole(n) => {
            let desc = gpu_desc(needs);
            let (most, node) = best_node(fleet, |nd| installed_block(nd, needs));
            if most < u64::from(n) {
                return Some(format!("needs {desc} on one node; no schedulable node has more than {most} ({node})"));
            }
            let (block, node) = best_node(fleet, |nd| free_block(nd, needs));
            if block >= u64::from(n) {
                return None;
            }
            Some(if block == 0 {
                format!("needs {desc} on one node; no allowed GPU is fully free on any node")
            } else {
                format!("needs {desc} on one node; the largest free block is {block} on {node}")
            })
        }
        Gpu::Share(m) => {
            let (most, node) = best_node(fleet, |nd| share_room(nd, needs));
            (most < u64::from(m))
                .then(|| format!("needs {}; the most free on any allowed device is {most} on {node}", gpu_desc(needs)))
        }
    }
}

fn cpu_or_memory_shortfall(fleet: &Fleet, needs: &Needs) -> Option<String> {
    let (cpu, node) = best_node(fleet, |n| n.cpu);
    if cpu < needs.cpu {
        return Some(format!(
            "needs {} milli-CPU per replica; the most free on any node is {cpu} on {node}",
            needs.cpu
        ));
    }
    let (mem, node) = best_node(fleet, |n| n.mem);
    (mem < needs.mem).then(|| {
        format!("needs {} MiB memory per replica; the most free on any node is {mem} MiB on {node}", needs.mem)
    })
}

/// Every resource is free somewhere, but never all on the same node. Points at the node that
/// comes closest: for GPU jobs the one with the GPUs and the most free CPU.
fn not_together(fleet: &Fleet, needs: &Needs) -> String {
    let head = format!("needs {} on one node; no node has all of it free at once", replica_desc(needs));
    let closest = fleet
        .nodes
        .iter()
        .filter(|n| n.fit_gpu(needs).is_some())
        .min_by_key(|n| (std::cmp::Reverse(n.cpu), std::cmp::Reverse(n.mem)));
    let Some(node) = closest else { return head };
    let mut short = Vec::new();
    if node.cpu < needs.cpu {
        short.push(format!("{} milli-CPU", node.cpu));
    }
    if node.mem < needs.mem {
        short.push(format!("{} MiB memory", node.mem));
    }
    if short.is_empty() {
        return head;
    }
    let has = if needs.gpu == Gpu::None { "has room" } else { "has the GPUs" };
    let short: Vec<&str> = short.iter().map(String::as_str).collect();
    format!("{head} ({} {has} but only {} free)", node.view.name, and_list(&short))
}

/// For a gang that partly fits: the biggest single-node offer of the binding resource.
fn best_offer(fleet: &Fleet, needs: &Needs) -> String {
    match needs.gpu {
        Gpu::Whole(_) => {
            let (block, node) = best_node(fleet, |n| free_block(n, needs));
            format!("largest free block {block} on {node}")
        }
        Gpu::Share(_) => {
            let (most, node) = best_node(fleet, |n| share_room(n, needs));
            format!("most free on any allowed device {most} on {node}")
        }
        Gpu::None => {
            let (cpu, node) = best_node(fleet, |n| n.cpu);
            format!("most free CPU {cpu} milli-CPU on {node}")
        }
    }
}

/// The node with the largest value (lowest node id on ties), by name; ("", 0) if no nodes.
fn best_node<'f>(fleet: &'f Fleet, value: impl Fn(&Node) -> u64) -> (u64, &'f str) {
    let mut best: (u64, &str) = (0, "");
    for n in &fleet.nodes {
        let v = value(n);
        if best.1.is_empty() || v > best.0 {
            best = (v, n.view.name.as_str());
        }
    }
    best
}

/// Most fully free devices of one allowed model on the node.
fn free_block(node: &Node, needs: &Needs) -> u64 {
    count_per_model(node, needs, |free| free == WHOLE)
}

/// Most devices of one allowed model the node has at all, free or not.
fn installed_block(node: &Node, needs: &Needs) -> u64 {
    count_per_model(node, needs, |_| true)
}

fn count_per_model(node: &Node, needs: &Needs, pred: impl Fn(u32) -> bool) -> u64 {
    node.models
        .iter()
        .filter(|&&m| needs.allowed[m])
        .map(|&m| node.gpus.iter().filter(|d| d.model == m && pred(d.free)).count() as u64)
        .max()
        .unwrap_or(0)
}

/// The most free milli-GPU on any one allowed device of the node.
fn share_room(node: &Node, needs: &Needs) -> u64 {
    node.gpus.iter().filter(|d| needs.allowed[d.model]).map(|d| u64::from(d.free)).max().unwrap_or(0)
}

/// "8×H100-80GB", "8×GPU (any model)", "500 milli-GPU on one A100-40GB".
fn gpu_desc(needs: &Needs) -> String {
    let models: Vec<&str> = needs.res.gpu_models.iter().map(String::as_str).collect();
    match (needs.gpu, models.as_slice()) {
        (Gpu::Whole(n), [one]) => format!("{n}×{one}"),
        (Gpu::Whole(n), []) => format!("{n}×GPU (any model)"),
        (Gpu::Whole(n), many) => format!("{n}×GPU ({})", either(many)),
        (Gpu::Share(m), [one]) => format!("{m} milli-GPU on one {one}"),
        (Gpu::Share(m), []) => format!("{m} milli-GPU on one GPU (any model)"),
        (Gpu::Share(m), many) => format!("{m} milli-GPU on one GPU ({})", either(many)),
        (Gpu::None, _) => "no GPU".to_string(),
    }
}

/// Everything one replica asks for: "4×GPU (any model), 32000 milli-CPU and 1024 MiB memory".
fn replica_desc(needs: &Needs) -> String {
    let mut parts = Vec::new();
    if needs.gpu != Gpu::None {
        parts.push(gpu_desc(needs));
    }
    if needs.cpu > 0 || needs.gpu == Gpu::None {
        parts.push(format!("{} milli-CPU", needs.cpu));
    }
    if needs.mem > 0 {
        parts.push(format!("{} MiB memory", needs.mem));
    }
    let parts: Vec<&str> = parts.iter().map(String::as_str).collect();
    and_list(&parts)
}

fn either(items: &[&str]) -> String {
    join_last(items, " or ")
}

fn and_list(items: &[&str]) -> String {
    join_last(items, " and ")
}

/// "a, b and c": commas between all but the last pair.
fn join_last(items: &[&str], last: &str) -> String {
    match items.split_last() {
        None => String::new(),
        Some((tail, [])) => (*tail).to_string(),
        Some((tail, init)) => format!("{}{last}{tail}", init.join(", ")),
    }
}
