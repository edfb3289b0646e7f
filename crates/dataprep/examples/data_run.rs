//! `strata data` without the rest of the binary (no llama.cpp to build): for benchmarks and
//! format checks, `cargo run --release -p strata-dataprep --example data_run -- run P.toml`.

use clap::Parser;

#[derive(Parser)]
struct Cli {
    #[command(subcommand)]
    command: strata_dataprep::DataCommand,
}

fn main() -> anyhow::Result<()> {
    strata_dataprep::run(Cli::parse().command)
}
