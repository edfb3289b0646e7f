//! `strata deploy` and `strata deployment …`.

use super::{client, print, table};
use crate::cli::{DeployArgs, DeploymentCommand};
use strata_api::deployments::{CreateDeployment, Deployment, DeploymentList, ScaleDeployment};

fn describe(d: &Deployment) -> String {
    let mut out = format!(
        "deployment {} ({} on {}): {} replica(s) asked, {} ready; min {} max {}; ${}/{} per 1M tokens in/out\n",
        d.name,
        d.spec.model,
        d.spec.backend,
        d.replicas,
        d.ready_replicas,
        d.spec.min_replicas,
        d.spec.max_replicas,
        d.spec.price_input_micro_per_mtok as f64 / 1e6,
        d.spec.price_output_micro_per_mtok as f64 / 1e6,
    );
    out += &format!(
        "  each replica: {} milli-CPU, {} MiB, {} milli-GPU, {} threads, {} context, {} slots\n",
        d.spec.cpu_milli, d.spec.memory_mib, d.spec.gpu_milli, d.spec.threads, d.spec.context, d.spec.slots
    );
    if let Some(cap) = d.spec.max_replicas_per_node {
        out += &format!("  at most {cap} replica(s) on one node\n");
    }
    for r in &d.replica_list {
        out += &format!(
            "  replica job {} on {} at {} — {}\n",
            r.job_id,
            r.node,
            r.endpoint.as_deref().unwrap_or("(starting)"),
            if r.ready { "ready" } else { "starting" }
        );
    }
    for p in &d.pending {
        out += &format!("  waiting: {p}\n");
    }
    out
}

pub async fn deploy(args: DeployArgs) -> anyhow::Result<()> {
    let req = CreateDeployment {
        model: args.model.clone(),
        name: args.name.clone(),
        backend: args.backend.clone(),
        replicas: args.replicas,
        min_replicas: args.min,
        max_replicas: args.max,
        cpu_milli: args.cpu_milli,
        memory_mib: args.memory_mib,
        gpu_milli: args.gpu_milli,
        gpu_models: Vec::new(),
        threads: args.threads,
        context: args.context,
        slots: args.slots,
        target_in_flight: None,
        idle_to_zero_s: args.idle_to_zero,
        price_input_per_mtok: args.price_input,
        price_output_per_mtok: args.price_output,
        fallbacks: args.fallbacks.clone(),
        endpoints: args.endpoints.clone(),
        max_replicas_per_node: args.max_replicas_per_node,
        tenant: args.tenant.clone(),
    };
    let c = client(&args.conn)?;
    let d = c.create_deployment(&req).await?;
    print(args.conn.output, &d, |d| format!("{}call it with model={:?} at {}/v1\n", describe(d), d.name, c.base()))
}

pub async fn run(cmd: DeploymentCommand) -> anyhow::Result<()> {
    match cmd {
        DeploymentCommand::Ls(args) => {
            let list = client(&args.conn)?.deployments().await?;
            print(args.conn.output, &list, |l: &DeploymentList| {
                let rows = l
                    .deployments
                    .iter()
                    .map(|d| {
                        vec![
                            d.name.clone(),
                            d.spec.model.clone(),
                            d.spec.backend.clone(),
                            format!("{}/{}", d.ready_replicas, d.replicas),
                            format!("{}..{}", d.spec.min_replicas, d.spec.max_replicas),
                            d.in_flight.to_string(),
                            d.tenant.clone(),
                        ]
                    })
                    .collect();
                table(&["NAME", "MODEL", "BACKEND", "READY", "SCALE", "IN FLIGHT", "TENANT"], rows)
            })
        }
        DeploymentCommand::Show(args) => {
            let d = client(&args.conn)?.deployment(&args.name).await?;
            print(args.conn.output, &d, describe)
        }
        DeploymentCommand::Scale(args) => {
            let req = ScaleDeployment { replicas: args.replicas, min_replicas: args.min, max_replicas: args.max };
            let d = client(&args.conn)?.scale_deployment(&args.name, &req).await?;
            print(args.conn.output, &d, describe)
        }
        DeploymentCommand::Rm(args) => {
            client(&args.conn)?.delete_deployment(&args.name).await?;
            print(args.conn.output, &serde_json::json!({"deleted": args.name}), |_| {
                format!("deployment {} deleted; its replicas stop\n", args.name)
            })
        }
    }
}
