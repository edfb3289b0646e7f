//! `strata tenant …`

use super::{client, print, table};
use crate::cli::{TenantCommand, TenantCreateArgs};
use strata_api::keys::{CreateKey, Limits};
use strata_api::tenants::{CreateTenant, Quota, TenantList};

fn quota(args: &TenantCreateArgs) -> Quota {
    Quota {
        gpu_milli: args.gpu_milli,
        cpu_milli: args.cpu_milli,
        memory_mib: args.memory_mib,
        nominal_gpu_milli: args.nominal_gpus.iter().cloned().collect(),
    }
}

fn gateway_limits(args: &TenantCreateArgs) -> Limits {
    Limits { rpm: args.rpm, tpm: args.tpm, budget_usd: args.budget_usd }
}

fn limit(v: Option<u64>) -> String {
    v.map_or("unlimited".into(), |v| v.to_string())
}

pub async fn run(cmd: TenantCommand) -> anyhow::Result<()> {
    match cmd {
        TenantCommand::Create(args) => {
            let c = client(&args.conn)?;
            let req = CreateTenant { name: args.name.clone(), quota: quota(&args), limits: gateway_limits(&args) };
            let created = c.create_tenant(&req).await?;
            print(args.conn.output, &created, |k| {
                format!("tenant {} created\nAPI key (shown once): {}\n", k.tenant.name, k.key)
            })
        }
        TenantCommand::Ls(args) => {
            let list = client(&args.conn)?.tenants().await?;
            print(args.conn.output, &list, |l: &TenantList| {
                let rows = l
                    .tenants
                    .iter()
                    .map(|t| {
                        vec![
                            t.id.to_string(),
                            t.name.clone(),
                            limit(t.quota.gpu_milli),
                            limit(t.quota.cpu_milli),
                            limit(t.quota.memory_mib),
                        ]
                    })
                    .collect();
                table(&["ID", "NAME", "GPU MILLI", "CPU MILLI", "MEMORY MiB"], rows)
            })
        }
        TenantCommand::Quota(args) => {
            let t = client(&args.conn)?.set_quota(&args.name, &quota(&args)).await?;
            print(args.conn.output, &t, |t| {
                format!(
                    "tenant {}: gpu_milli {}, cpu_milli {}, memory_mib {}\n",
                    t.name,
                    limit(t.quota.gpu_milli),
                    limit(t.quota.cpu_milli),
                    limit(t.quota.memory_mib)
                )
            })
        }
        TenantCommand::Limits(args) => {
            let t = client(&args.conn)?.set_limits(&args.name, &gateway_limits(&args)).await?;
            print(args.conn.output, &t, |t| {
                format!(
                    "tenant {}: {} requests/min, {} tokens/min, budget {}\n",
                    t.name,
                    limit(t.limits.rpm),
                    limit(t.limits.tpm),
                    t.limits.budget_usd.map_or("unlimited".into(), |b| format!("${b}"))
                )
            })
        }
        TenantCommand::Key(args) => {
            let k = client(&args.conn)?.create_key(&args.name, &CreateKey::default()).await?;
            print(args.conn.output, &k, |k| {
                format!("API key {} for {} (shown once): {}\n", k.key_id, k.tenant.name, k.key)
            })
        }
    }
}
