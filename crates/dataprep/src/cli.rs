//! The `strata data` commands: `run` a pipeline file, print an `example` one.

use std::path::PathBuf;

use anyhow::Context;

use crate::cluster::parse_files;
use crate::config::{Pipeline, EXAMPLE};
use crate::run::{run_pipeline, scan_part, RunOptions};

#[derive(Debug, clap::Subcommand)]
pub enum DataCommand {
    /// Run a pipeline file: clean, filter, deduplicate; shards and report.json in the output
    /// directory. A run killed part-way resumes when started again.
    Run(Box<RunArgs>),
    /// Print a commented example pipeline with every stage and its default thresholds.
    Example,
}

#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// The pipeline file (TOML); `strata data example` prints one.
    pub pipeline: PathBuf,
    /// Input files or directories, replacing the file's `[input].paths`.
    #[arg(long, num_args = 1..)]
    pub input: Vec<PathBuf>,
    /// Output directory, replacing the file's `[output].dir`.
    #[arg(long)]
    pub output: Option<PathBuf>,
    /// Worker threads (default: one per core).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Do not draw the progress bar.
    #[arg(long)]
    pub no_progress: bool,
    /// Scan the input files in parallel as jobs on the cluster's agents, then deduplicate and
    /// write here (the same output as a local run). The output directory must be on storage
    /// the agents share with this machine.
    #[arg(long)]
    pub on_cluster: bool,
    /// With --on-cluster: at most this many scan jobs (default: one per input file, at most 16).
    #[arg(long, requires = "on_cluster")]
    pub shards: Option<usize>,
    /// With --on-cluster: CPU cores each scan job asks for (and the threads it runs).
    #[arg(long, default_value_t = 1, requires = "on_cluster")]
    pub cpus_per_shard: u32,
    /// With --on-cluster: memory each scan job asks for, in MiB.
    #[arg(long, default_value_t = 1024, requires = "on_cluster")]
    pub memory_per_shard_mib: u32,
    /// With --on-cluster: the server (default: the one `strata up` recorded in the data directory).
    #[arg(long, env = "STRATA_SERVER")]
    pub server: Option<String>,
    /// With --on-cluster: admin token or tenant key (default: the admin token in the data directory).
    #[arg(long, env = "STRATA_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// With --on-cluster: where `strata up` keeps its state (to find the server and token).
    #[arg(long, env = "STRATA_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// Scan only these input files (indexes, `0,3,7`) and stop: one shard of an --on-cluster run.
    #[arg(long, hide = true, conflicts_with = "on_cluster")]
    pub scan_files: Option<String>,
}

impl RunArgs {
    /// The run's options as the command line gives them.
    pub fn options(&self) -> RunOptions {
        RunOptions {
            inputs: (!self.input.is_empty()).then(|| self.input.clone()),
            output: self.output.clone(),
            progress: !self.no_progress,
            threads: self.threads,
            stop_after_files: None,
        }
    }
}

/// Runs a `strata data` command.
pub fn run(cmd: DataCommand) -> anyhow::Result<()> {
    match cmd {
        DataCommand::Example => {
            print!("{EXAMPLE}");
            Ok(())
        }
        DataCommand::Run(args) if args.on_cluster => {
            anyhow::bail!("--on-cluster runs through the `strata` binary (`strata data run --on-cluster`)")
        }
        DataCommand::Run(args) => {
            let pipeline = Pipeline::load(&args.pipeline)?;
            let options = args.options();
            if let Some(list) = &args.scan_files {
                let files = parse_files(list)?;
                let scanned = scan_part(&pipeline, &options, &files)
                    .with_context(|| format!("scanning files {list} of {}", args.pipeline.display()))?;
                println!(
                    "scanned {scanned} of {} input files ({} were done already)",
                    files.len(),
                    files.len() - scanned
                );
                return Ok(());
            }
            let report =
                run_pipeline(&pipeline, &options).with_context(|| format!("running {}", args.pipeline.display()))?;
            print!("{}", report.summary());
            Ok(())
        }
    }
}
