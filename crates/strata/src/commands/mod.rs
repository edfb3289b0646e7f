//! Subcommand implementations.

mod chat;
mod data;
mod deploy;
mod job;
mod keys;
mod model;
mod node;
mod run;
mod serve;
mod tenant;

use crate::cli::{Command, Conn, Output};
use anyhow::{bail, Context};
use serde::Serialize;
use std::path::PathBuf;
use strata_client::Client;

pub async fn run(command: Command) -> anyhow::Result<()> {
    match command {
        Command::Up(args) => run::up(args).await,
        Command::Server(args) => run::server(args).await,
        Command::Agent(args) => run::agent(args).await,
        Command::Job(cmd) => job::run(cmd).await,
        Command::Node(cmd) => node::run(cmd).await,
        Command::Tenant(cmd) => tenant::run(cmd).await,
        Command::Key(cmd) => keys::run(cmd).await,
        Command::Usage(args) => keys::usage(args).await,
        Command::Deploy(args) => deploy::deploy(*args).await,
        Command::Deployment(cmd) => deploy::run(cmd).await,
        Command::Data(strata_dataprep::DataCommand::Run(args)) if args.on_cluster => data::on_cluster(*args).await,
        // CPU-bound and synchronous (rayon inside): off the async workers.
        Command::Data(cmd) => tokio::task::spawn_blocking(move || strata_dataprep::run(cmd)).await?,
        Command::Sim(cmd) => tokio::task::spawn_blocking(move || strata_sim::run(cmd)).await?,
        Command::Model(cmd) => model::run(cmd).await,
        Command::Serve(args) => serve::run(args).await,
        Command::Chat(args) => chat::run(args).await,
    }
}

/// `--data-dir`, else `$HOME/.strata`.
pub fn data_dir(explicit: &Option<PathBuf>) -> PathBuf {
    explicit.clone().unwrap_or_else(|| {
        std::env::var_os("HOME").map_or_else(|| PathBuf::from(".strata"), |home| PathBuf::from(home).join(".strata"))
    })
}

/// The file in which `strata up` and `strata server` record where they listen.
pub const SERVER_URL_FILE: &str = "server.url";

/// A client for the server named by flags or environment, else the one recorded in the data
/// directory, with the admin token found there.
pub fn client(conn: &Conn) -> anyhow::Result<Client> {
    let dir = data_dir(&conn.data.data_dir);
    let server = match &conn.server {
        Some(s) => s.clone(),
        None => {
            std::fs::read_to_string(dir.join(SERVER_URL_FILE)).map(|s| s.trim().to_string()).with_context(|| {
                format!(
                    "no --server given and no server recorded in {} — start one with `strata up`, or pass --server URL",
                    dir.display()
                )
            })?
        }
    };
    let token = match &conn.token {
        Some(t) => t.clone(),
        None => std::fs::read_to_string(dir.join("admin.token")).map(|s| s.trim().to_string()).with_context(|| {
            format!("no --token given and no admin token in {} — pass --token or set STRATA_TOKEN", dir.display())
        })?,
    };
    if token.is_empty() {
        bail!("the token is empty");
    }
    Ok(Client::new(&server, &token))
}

/// Prints `value` as JSON, or as the table `table` renders.
pub fn print<T: Serialize>(output: Output, value: &T, table: impl FnOnce(&T) -> String) -> anyhow::Result<()> {
    match output {
        Output::Json => println!("{}", serde_json::to_string_pretty(value)?),
        Output::Table => print!("{}", table(value)),
    }
    Ok(())
}

/// Left-aligned columns separated by two spaces.
pub fn table(header: &[&str], rows: Vec<Vec<String>>) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in &rows {
        for (i, cell) in row.iter().enumerate() {
            if let Some(w) = widths.get_mut(i) {
                *w = (*w).max(cell.chars().count());
            }
        }
    }
    let line = |cells: Vec<String>| {
        let mut s = String::new();
        for (i, cell) in cells.iter().enumerate() {
            if i + 1 == cells.len() {
                s += cell;
            } else {
                s += &format!("{cell:<w$}  ", w = widths[i]);
            }
        }
        s.trim_end().to_string() + "\n"
    };
    let mut out = line(header.iter().map(|h| h.to_string()).collect());
    for row in rows {
        out += &line(row);
    }
    out
}

/// Milliseconds since the epoch → a short "N s/min/h ago".
pub fn ago(ms: i64) -> String {
    let now =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0);
    let secs = ((now - ms) / 1000).max(0);
    match secs {
        0..=119 => format!("{secs}s ago"),
        120..=7199 => format!("{}m ago", secs / 60),
        _ => format!("{}h ago", secs / 3600),
    }
}
