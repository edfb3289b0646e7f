//! `strata key …` and `strata usage`.

use super::{ago, client, print, table};
use crate::cli::{KeyCommand, UsageArgs};
use strata_api::keys::{CreateKey, KeyInfo, KeyList};
use strata_api::usage::{UsageQuery, UsageReport, UsageRow};
use strata_client::Client;

/// The tenant named by `--tenant`, else the one the token belongs to.
async fn tenant_of(c: &Client, explicit: &Option<String>) -> anyhow::Result<String> {
    if let Some(t) = explicit {
        return Ok(t.clone());
    }
    match c.whoami().await?.tenant {
        Some(t) => Ok(t),
        None => anyhow::bail!("name the tenant with --tenant NAME (the admin token belongs to no tenant)"),
    }
}

fn limits_text(k: &KeyInfo) -> String {
    let mut parts = Vec::new();
    if let Some(r) = k.limits.rpm {
        parts.push(format!("{r} rpm"));
    }
    if let Some(t) = k.limits.tpm {
        parts.push(format!("{t} tpm"));
    }
    if let Some(b) = k.limits.budget_usd {
        parts.push(format!("${b} budget"));
    }
    if parts.is_empty() {
        "-".into()
    } else {
        parts.join(", ")
    }
}

fn key_state(k: &KeyInfo) -> String {
    match (k.revoked_at_ms, k.expires_at_ms) {
        (Some(at), _) => format!("revoked {}", ago(at)),
        (None, Some(exp)) => format!("expires {}", exp),
        (None, None) => "live".into(),
    }
}

pub async fn run(cmd: KeyCommand) -> anyhow::Result<()> {
    match cmd {
        KeyCommand::Create(args) => {
            let c = client(&args.conn)?;
            let tenant = tenant_of(&c, &args.tenant).await?;
            let req = CreateKey {
                name: args.name.clone(),
                project: args.project.clone(),
                models: (!args.models.is_empty()).then(|| args.models.clone()),
                rpm: args.rpm,
                tpm: args.tpm,
                budget_usd: args.budget_usd,
                expires_in_s: args.expires_in,
            };
            let created = c.create_key(&tenant, &req).await?;
            print(args.conn.output, &created, |k| {
                format!(
                    "API key {} for tenant {} (project {}), shown once:\n{}\nlimits: {}; models: {}\n",
                    k.key_id,
                    k.tenant.name,
                    k.info.project.as_deref().unwrap_or("default"),
                    k.key,
                    limits_text(&k.info),
                    k.info.models.as_ref().map_or("all".into(), |m| m.join(","))
                )
            })
        }
        KeyCommand::Ls(args) => {
            let c = client(&args.conn)?;
            let tenant = tenant_of(&c, &args.tenant).await?;
            let list = c.keys(&tenant).await?;
            print(args.conn.output, &list, |l: &KeyList| {
                let rows = l
                    .keys
                    .iter()
                    .map(|k| {
                        vec![
                            k.id.to_string(),
                            k.name.clone(),
                            k.hint.clone(),
                            k.project.clone().unwrap_or_default(),
                            k.models.as_ref().map_or("all".into(), |m| m.join(",")),
                            limits_text(k),
                            key_state(k),
                        ]
                    })
                    .collect();
                table(&["ID", "NAME", "KEY", "PROJECT", "MODELS", "LIMITS", "STATE"], rows)
            })
        }
        KeyCommand::Revoke(args) => {
            let c = client(&args.conn)?;
            let tenant = tenant_of(&c, &args.tenant).await?;
            c.revoke_key(&tenant, args.id).await?;
            print(args.conn.output, &serde_json::json!({"revoked": args.id, "tenant": tenant}), |_| {
                format!("key {} of tenant {tenant} revoked\n", args.id)
            })
        }
    }
}

fn usage_row(group_title: &str, r: &UsageRow) -> Vec<String> {
    vec![
        if r.group.is_empty() { group_title.to_string() } else { r.group.clone() },
        r.requests.to_string(),
        r.errors.to_string(),
        r.prompt_tokens.to_string(),
        r.completion_tokens.to_string(),
        format!("${:.6}", r.cost_usd),
        format!("{:.1}", r.mean_latency_ms),
    ]
}

pub async fn usage(args: UsageArgs) -> anyhow::Result<()> {
    let c = client(&args.conn)?;
    let now =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0);
    let query = UsageQuery {
        tenant: args.tenant.clone(),
        key: args.key,
        model: args.model.clone(),
        since_ms: args.since.map(|s| now - s as i64 * 1000),
        until_ms: None,
        group_by: args.by.clone(),
    };
    let report = c.usage(&query).await?;
    print(args.conn.output, &report, |r: &UsageReport| {
        let mut rows: Vec<Vec<String>> = r.rows.iter().map(|row| usage_row("", row)).collect();
        rows.push(usage_row("TOTAL", &r.total));
        let by = args.by.as_deref().unwrap_or("").to_uppercase();
        table(
            &[
                if by.is_empty() { "" } else { &by },
                "REQUESTS",
                "ERRORS",
                "PROMPT TOK",
                "COMPLETION TOK",
                "COST",
                "MEAN MS",
            ],
            rows,
        )
    })
}
