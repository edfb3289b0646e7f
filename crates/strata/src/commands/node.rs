//! `strata node …`

use super::{ago, client, print, table};
use crate::cli::NodeCommand;
use strata_api::nodes::{Node, NodeList, NodeState};

pub async fn run(cmd: NodeCommand) -> anyhow::Result<()> {
    match cmd {
        NodeCommand::Ls(args) => {
            let list = client(&args.conn)?.nodes().await?;
            print(args.conn.output, &list, render_list)
        }
        NodeCommand::Show(args) => {
            let node = client(&args.conn)?.node(&args.node).await?;
            print(args.conn.output, &node, render_node)
        }
        NodeCommand::Cordon(args) => action(args, "cordon").await,
        NodeCommand::Uncordon(args) => action(args, "uncordon").await,
        NodeCommand::Drain(args) => action(args, "drain").await,
    }
}

async fn action(args: crate::cli::NodeArgs, verb: &str) -> anyhow::Result<()> {
    let node = client(&args.conn)?.node_action(&args.node, verb).await?;
    print(args.conn.output, &node, |n| format!("node {} {}\n", n.name, status(n)))
}

fn status(n: &Node) -> &'static str {
    match (n.state, n.draining, n.cordoned) {
        (NodeState::NotReady, _, _) => "not-ready",
        (_, true, _) => "draining",
        (_, _, true) => "cordoned",
        _ => "ready",
    }
}

/// "8×H100-80GB (emulated), 4×A100-40GB"
fn accelerators(n: &Node) -> String {
    let mut groups: Vec<(String, bool, usize)> = Vec::new();
    for a in &n.inventory.accelerators {
        match groups.iter_mut().find(|g| g.0 == a.model && g.1 == a.emulated) {
            Some(g) => g.2 += 1,
            None => groups.push((a.model.clone(), a.emulated, 1)),
        }
    }
    if groups.is_empty() {
        return "-".into();
    }
    groups
        .iter()
        .map(|(m, e, c)| format!("{c}×{m}{}", if *e { " (emulated)" } else { "" }))
        .collect::<Vec<_>>()
        .join(", ")
}

fn gpu_alloc(n: &Node) -> String {
    let total = n.inventory.accelerators.len();
    if total == 0 {
        return "-".into();
    }
    let milli: u32 = n.allocated.gpu_milli.iter().map(|d| d.milli).sum();
    format!("{:.1}/{total}", f64::from(milli) / 1000.0)
}

fn render_list(list: &NodeList) -> String {
    let rows = list
        .nodes
        .iter()
        .map(|n| {
            vec![
                n.id.to_string(),
                n.name.clone(),
                status(n).to_string(),
                accelerators(n),
                gpu_alloc(n),
                format!("{:.1}/{}", n.allocated.cpu_milli as f64 / 1000.0, n.inventory.cpu_cores),
                format!("{}/{}", n.allocated.memory_mib, n.inventory.memory_mib),
                n.allocated.tasks.to_string(),
                ago(n.last_heartbeat_ms),
            ]
        })
        .collect();
    table(&["ID", "NAME", "STATE", "ACCELERATORS", "GPU", "CPU", "MEM MiB", "TASKS", "HEARTBEAT"], rows)
}

fn render_node(n: &Node) -> String {
    let mut s = format!(
        "node {}  {}  ({})\naddress:   {}\ncpu:       {} cores, {:.1} allocated\nmemory:    {} MiB, {} allocated\n",
        n.id,
        n.name,
        status(n),
        n.address,
        n.inventory.cpu_cores,
        n.allocated.cpu_milli as f64 / 1000.0,
        n.inventory.memory_mib,
        n.allocated.memory_mib
    );
    if !n.inventory.labels.is_empty() {
        let labels: Vec<String> = n.inventory.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
        s += &format!("labels:    {}\n", labels.join(", "));
    }
    let rows = n
        .inventory
        .accelerators
        .iter()
        .map(|a| {
            let used = n.allocated.gpu_milli.iter().find(|d| d.index == a.index).map_or(0, |d| d.milli);
            let util = n.usage.iter().find(|u| u.index == a.index).and_then(|u| u.utilization_percent);
            vec![
                a.index.to_string(),
                format!("{:?}", a.vendor).to_lowercase(),
                a.model.clone(),
                a.memory_mib.to_string(),
                format!("{used}/1000"),
                util.map_or("-".into(), |u| format!("{u}%")),
                a.pci_bus_id.clone().unwrap_or_else(|| "-".into()),
                if a.emulated { "yes".into() } else { "no".into() },
            ]
        })
        .collect();
    s += &table(&["GPU", "VENDOR", "MODEL", "MEM MiB", "ALLOCATED", "UTIL", "PCI", "EMULATED"], rows);
    s
}
