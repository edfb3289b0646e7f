//! The long-running commands: `up`, `server`, `agent`.

use super::{data_dir, SERVER_URL_FILE};
use crate::cli::{AgentArgs, ServerArgs, TimingArgs, UpArgs};
use anyhow::{anyhow, Context};
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;
use strata_accel::{DiscoveryOptions, EmulationSpec};
use strata_agent::AgentConfig;
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

async fn bind_server(
    dir: &Path,
    listen: SocketAddr,
    database_url: String,
    timing: Timing,
) -> anyhow::Result<(Server, String)> {
    let server = Server::bind(ServerConfig { listen, database_url, data_dir: dir.to_path_buf(), timing }).await?;
    let url = format!("http://{}", server.local_addr()?);
    std::fs::write(dir.join(SERVER_URL_FILE), &url)
        .with_context(|| format!("recording the URL in {}", dir.display()))?;
    Ok((server, url))
}

pub async fn up(args: UpArgs) -> anyhow::Result<()> {
    let dir = data_dir(&args.data.data_dir);
    let emulate = emulation(&args.emulate)?;
    let database_url = format!("sqlite://{}", dir.join("strata.db").display());
    let listen = SocketAddr::from(([127, 0, 0, 1], args.port));
    let timing_args =
        TimingArgs { heartbeat_interval_ms: 1000, heartbeat_timeout_ms: 15000, schedule_interval_ms: 500 };
    let (server, url) = bind_server(&dir, listen, database_url, timing(&timing_args)).await?;
    let join_token = match &server.new_secrets {
        Some((_, join)) => join.clone(),
        None => std::fs::read_to_string(dir.join("join.token")).context("reading join.token")?.trim().to_string(),
    };
    let stop = CancellationToken::new();
    stop_on_signals(stop.clone());
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
    };
    let agent_task = tokio::spawn(strata_agent::run(agent, stop.clone()));
    println!("Strata is up.");
    println!("  API           {url}/api/v1   (OpenAPI: {url}/api/v1/openapi.json)");
    println!("  metrics       {url}/metrics");
    println!("  {admin_line}");
    println!("  data          {}", dir.display());
    println!(
        "Try: strata node ls · strata job submit -- echo hello · strata job logs 1 -f   (Ctrl-C stops everything)"
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
    let (server, url) = bind_server(&dir, args.listen, database_url.clone(), timing(&args.timing)).await?;
    if let Some((admin, join)) = &server.new_secrets {
        println!("admin token  {admin}");
        println!("join token   {join}");
        println!("(shown once; also saved in {})", dir.display());
    }
    tracing::info!(%url, database = %strata_server::redact(&database_url), "control plane listening");
    let stop = CancellationToken::new();
    stop_on_signals(stop.clone());
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
    };
    let stop = CancellationToken::new();
    stop_on_signals(stop.clone());
    strata_agent::run(config, stop).await
}
