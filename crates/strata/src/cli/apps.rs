//! The command line of the applications layer: keys, usage, deployments.

use super::{Conn, ConnOnly};
use clap::{Args, Subcommand};

#[derive(Subcommand, Debug)]
pub enum KeyCommand {
    /// Create an API key (the secret is printed once).
    #[command(
        after_help = "Examples:\n  strata key create --tenant team-a\n  strata key create --tenant team-a --models smollm2 --rpm 60 --tpm 20000 --budget-usd 5 --name chatbot\n  strata key create --tenant team-a --expires-in 7d --output json   # {\"key\": \"sk-strata-…\", …}"
    )]
    Create(KeyCreateArgs),
    /// List a tenant's keys (never their secrets).
    Ls(KeyTenantArgs),
    /// Revoke a key; every gateway refuses it within a second.
    Revoke(KeyRevokeArgs),
}

#[derive(Args, Debug)]
pub struct KeyTenantArgs {
    #[command(flatten)]
    pub conn: Conn,
    /// The tenant (default: the tenant of the key in --token).
    #[arg(long)]
    pub tenant: Option<String>,
}

#[derive(Args, Debug)]
pub struct KeyCreateArgs {
    #[command(flatten)]
    pub conn: Conn,
    /// The tenant (default: the tenant of the key in --token).
    #[arg(long)]
    pub tenant: Option<String>,
    /// The project the key belongs to (created when new).
    #[arg(long)]
    pub project: Option<String>,
    /// A name for people.
    #[arg(long)]
    pub name: Option<String>,
    /// Models the key may call (comma-separated; default: all).
    #[arg(long, value_delimiter = ',')]
    pub models: Vec<String>,
    /// Requests per minute.
    #[arg(long)]
    pub rpm: Option<u64>,
    /// Tokens per minute.
    #[arg(long)]
    pub tpm: Option<u64>,
    /// Spending limit in US dollars.
    #[arg(long)]
    pub budget_usd: Option<f64>,
    /// Lifetime: 3600, 90m, 12h, 30d.
    #[arg(long, value_parser = parse_duration_s)]
    pub expires_in: Option<u64>,
}

#[derive(Args, Debug)]
pub struct KeyRevokeArgs {
    #[command(flatten)]
    pub conn: Conn,
    /// The key's id (`strata key ls`).
    pub id: i64,
    /// The tenant (default: the tenant of the key in --token).
    #[arg(long)]
    pub tenant: Option<String>,
}

#[derive(Args, Debug)]
#[command(
    after_help = "Examples:\n  strata usage\n  strata usage --tenant team-a --by model\n  strata usage --key 3 --since 24h --by hour\n  strata usage --tenant team-a --output json"
)]
pub struct UsageArgs {
    #[command(flatten)]
    pub conn: Conn,
    #[arg(long)]
    pub tenant: Option<String>,
    /// A key's id.
    #[arg(long)]
    pub key: Option<i64>,
    #[arg(long)]
    pub model: Option<String>,
    /// Only usage newer than this: 15m, 24h, 7d.
    #[arg(long, value_parser = parse_duration_s)]
    pub since: Option<u64>,
    /// Group rows by model, key, tenant, hour or day.
    #[arg(long)]
    pub by: Option<String>,
}

#[derive(Args, Debug)]
#[command(
    after_help = "Examples:\n  strata deploy smollm2\n  strata deploy smollm2 --replicas 2 --max 4 --threads 2 --price-input 0.05 --price-output 0.10\n  strata deploy smollm2 --name chat-small --min 0 --idle-to-zero 300   # scales to zero when idle\n  strata deploy /models/llama-3-8b --backend vllm --gpu-milli 1000 --memory-mib 24000\n  strata deploy qwen2.5-7b --name qwen --endpoint http://10.0.0.7:8000   # a server run elsewhere"
)]
pub struct DeployArgs {
    #[command(flatten)]
    pub conn: Conn,
    /// A pulled model's name (`smollm2`) or a model path on the nodes.
    pub model: String,
    /// The name clients send as `model` (default: MODEL).
    #[arg(long)]
    pub name: Option<String>,
    /// builtin, vllm, sglang or llama.cpp.
    #[arg(long)]
    pub backend: Option<String>,
    #[arg(long)]
    pub replicas: Option<u32>,
    /// Fewest replicas; 0 lets the deployment scale to zero when idle.
    #[arg(long)]
    pub min: Option<u32>,
    /// Most replicas the autoscaler may start.
    #[arg(long)]
    pub max: Option<u32>,
    /// Model threads per replica.
    #[arg(long)]
    pub threads: Option<u32>,
    /// KV-cache tokens per replica.
    #[arg(long)]
    pub context: Option<u32>,
    /// Concurrent sequences per replica.
    #[arg(long)]
    pub slots: Option<u32>,
    /// CPU milli-cores per replica (default 1000 × threads).
    #[arg(long)]
    pub cpu_milli: Option<u64>,
    /// Memory per replica in MiB (default: the registry's estimate).
    #[arg(long)]
    pub memory_mib: Option<u64>,
    /// Milli-GPUs per replica.
    #[arg(long)]
    pub gpu_milli: Option<u32>,
    /// Dollars per million prompt tokens.
    #[arg(long)]
    pub price_input: Option<f64>,
    /// Dollars per million completion tokens.
    #[arg(long)]
    pub price_output: Option<f64>,
    /// Deployments to use when this one cannot take a request (repeatable).
    #[arg(long = "fallback")]
    pub fallbacks: Vec<String>,
    /// Seconds without requests before scaling to zero (with --min 0).
    #[arg(long)]
    pub idle_to_zero: Option<u64>,
    /// At most this many replicas on one node, so that losing a node loses few of them
    /// (default: as many as fit). Replicas past it wait for another node, and say so.
    #[arg(long)]
    pub max_replicas_per_node: Option<u32>,
    /// Route to an OpenAI-compatible server run elsewhere (http://host:port, repeatable) instead
    /// of starting replicas; MODEL is then the name that server knows the model by.
    #[arg(long = "endpoint")]
    pub endpoints: Vec<String>,
    /// Owning tenant (admin only).
    #[arg(long)]
    pub tenant: Option<String>,
}

#[derive(Subcommand, Debug)]
pub enum DeploymentCommand {
    /// List deployments with their replicas and load.
    Ls(ConnOnly),
    /// One deployment: replicas, where they run, why any wait.
    Show(DeploymentNameArgs),
    /// Change the replica count or the autoscaler's bounds.
    #[command(
        after_help = "Examples:\n  strata deployment scale smollm2 --replicas 3\n  strata deployment scale smollm2 --min 0 --max 4"
    )]
    Scale(DeploymentScaleArgs),
    /// Delete a deployment and stop its replicas.
    Rm(DeploymentNameArgs),
}

#[derive(Args, Debug)]
pub struct DeploymentNameArgs {
    #[command(flatten)]
    pub conn: Conn,
    pub name: String,
}

#[derive(Args, Debug)]
pub struct DeploymentScaleArgs {
    #[command(flatten)]
    pub conn: Conn,
    pub name: String,
    #[arg(long)]
    pub replicas: Option<u32>,
    #[arg(long)]
    pub min: Option<u32>,
    #[arg(long)]
    pub max: Option<u32>,
}

/// `3600`, `90s`, `15m`, `12h`, `30d` → seconds.
pub fn parse_duration_s(s: &str) -> Result<u64, String> {
    let (digits, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let n: u64 = digits.parse().map_err(|_| format!("{s:?} is not a duration such as 90s, 15m, 12h or 30d"))?;
    let scale = match unit {
        "" | "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(format!("{s:?}: the unit must be s, m, h or d")),
    };
    n.checked_mul(scale).filter(|&v| v > 0).ok_or_else(|| format!("{s:?} must be a positive duration"))
}

#[cfg(test)]
mod tests {
    use super::parse_duration_s;

    #[test]
    fn durations_parse_with_units() {
        assert_eq!(parse_duration_s("90"), Ok(90));
        assert_eq!(parse_duration_s("15m"), Ok(900));
        assert_eq!(parse_duration_s("30d"), Ok(2_592_000));
        assert!(parse_duration_s("0").is_err());
        assert!(parse_duration_s("3w").is_err());
        assert!(parse_duration_s("h").is_err());
    }
}
