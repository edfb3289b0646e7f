//! The `strata data` commands: `run` a pipeline file, print an `example` one.

use std::path::PathBuf;

use anyhow::Context;

use crate::config::{Pipeline, EXAMPLE};
use crate::run::{run_pipeline, RunOptions};

#[derive(Debug, clap::Subcommand)]
pub enum DataCommand {
    /// Run a pipeline file: clean, filter, deduplicate; shards and report.json in the output
    /// directory. A run killed part-way resumes when started again.
    Run(RunArgs),
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
}

/// Runs a `strata data` command.
pub fn run(cmd: DataCommand) -> anyhow::Result<()> {
    match cmd {
        DataCommand::Example => {
            print!("{EXAMPLE}");
            Ok(())
        }
        DataCommand::Run(args) => {
            let pipeline = Pipeline::load(&args.pipeline)?;
            let options = RunOptions {
                inputs: (!args.input.is_empty()).then_some(args.input),
                output: args.output,
                progress: !args.no_progress,
                threads: args.threads,
                stop_after_files: None,
            };
            let report =
                run_pipeline(&pipeline, &options).with_context(|| format!("running {}", args.pipeline.display()))?;
            print!("{}", report.summary());
            Ok(())
        }
    }
}
