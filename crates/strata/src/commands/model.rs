//! `strata model pull|ls`: the local model cache.

use super::{data_dir, print, table};
use crate::cli::{ModelCommand, ModelLsArgs, ModelPullArgs};
use anyhow::{anyhow, Context};
use strata_models::{catalog, models_dir, Registry};

pub async fn run(cmd: ModelCommand) -> anyhow::Result<()> {
    match cmd {
        // Downloading and hashing ~100 MB is blocking work: off the async workers.
        ModelCommand::Pull(args) => tokio::task::spawn_blocking(move || pull(args)).await?,
        ModelCommand::Ls(args) => ls(args),
    }
}

fn pull(args: ModelPullArgs) -> anyhow::Result<()> {
    let source = catalog::find(&args.name).ok_or_else(|| {
        anyhow!("no model named {:?} in the catalog; known: {}", args.name, catalog::names().join(", "))
    })?;
    let dir = models_dir(&data_dir(&args.data.data_dir));
    let entry = strata_models::pull::pull(&dir, source, &mut |line| eprintln!("{line}"))
        .with_context(|| format!("pulling {}", args.name))?;
    println!("{} → {}", entry.name, dir.join(&entry.file).display());
    Ok(())
}

/// Pulls a catalogued model into `dir` off the async workers, printing its stages.
pub async fn pull_blocking(dir: &std::path::Path, name: &str) -> anyhow::Result<strata_models::ModelEntry> {
    let source = catalog::find(name)
        .ok_or_else(|| anyhow!("no model named {name:?} in the catalog; known: {}", catalog::names().join(", ")))?;
    let dir = dir.to_path_buf();
    let name = name.to_string();
    tokio::task::spawn_blocking(move || {
        strata_models::pull::pull(&dir, source, &mut |line| eprintln!("  {line}"))
            .with_context(|| format!("pulling {name}"))
    })
    .await?
}

fn ls(args: ModelLsArgs) -> anyhow::Result<()> {
    let dir = models_dir(&data_dir(&args.data.data_dir));
    let registry = Registry::load(&dir)?;
    print(args.output, &registry.models, |models| {
        let rows = models
            .iter()
            .map(|m| {
                vec![
                    m.name.clone(),
                    m.info.architecture.clone(),
                    m.info.quantization.clone(),
                    format!("{:.0}M", m.info.parameters as f64 / 1e6),
                    m.info.context_length.to_string(),
                    format!("{:.0} MB", m.file_bytes as f64 / 1e6),
                    format!("{} KiB", m.info.kv_bytes_per_token / 1024),
                ]
            })
            .collect();
        table(&["NAME", "ARCH", "QUANT", "PARAMS", "CONTEXT", "SIZE", "KV/TOKEN"], rows)
    })
}
