//! `strata-sim`: the simulator alone, for benchmark scripts — the same commands as `strata sim`
//! without linking the server, the agent and llama.cpp, so a release build takes seconds.

use clap::Parser;

#[derive(Debug, Parser)]
#[command(name = "strata-sim", about = "Replay public cluster traces through Strata's scheduler")]
struct Cli {
    #[command(subcommand)]
    command: strata_sim::SimCommand,
}

fn main() -> anyhow::Result<()> {
    strata_sim::run(Cli::parse().command)
}
