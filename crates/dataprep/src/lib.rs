//! The data-preparation shell: pipeline files, JSON Lines readers and writers, resumable runs,
//! reports and the `strata data` commands.
//!
//! The cleaning itself lives in the pure `strata-clean` crate; this crate does the IO around it.
//! A run reads a pipeline file ([`Pipeline`]: inputs, field names, stages, output), checks it
//! before any work, then scans the inputs in parallel, deduplicates across all of them and writes
//! output shards with `report.json` (see [`run`] for the phases and how a killed run resumes).

mod checkpoint;
mod cli;
mod cluster;
mod config;
mod error;
mod gguf_vocab;
mod input;
mod json_str;
mod output;
mod parquet_io;
mod progress;
mod report;
mod run;
mod stages;
mod tokens;

pub use gguf_vocab::tokenizer_from_gguf;

pub use cli::{run, DataCommand, RunArgs};
pub use cluster::{balance, format_files, parse_files, plan_cluster, ClusterPlan};
pub use config::{Compression, Format, InputConfig, OutputConfig, Pipeline, StageConfig, EXAMPLE};
pub use error::{Error, Result};
pub use input::{BadInput, BadKind};
pub use report::{ClusterReport, InputSummary, OutputSummary, Removal, Report, StageStats};
pub use run::{run_pipeline, scan_part, Phase, RunOptions};
pub use tokens::{Manifest, TokenShard, TokenizeConfig};
