//! The trace simulator: public cluster traces replayed through Strata's scheduler, with reports
//! in the formats the peers publish so our numbers sit beside theirs.
//!
//! It drives the scheduler crate's [`strata_sched::Placer`] — the same single-replica placement
//! code the control plane's `schedule` uses — and, for Gavel's experiment, its round scheduler
//! [`strata_sched::assign_round`]; it never reads a clock: output depends only on the
//! traces, the policy and the seed, byte for byte.

pub mod dlrm;
pub mod gavel;
pub mod openb;
pub mod philly;

use anyhow::Result;

/// `strata sim …`
#[derive(Debug, Clone, clap::Subcommand)]
pub enum SimCommand {
    /// FGD's inflation experiment on an openb node list and pod list (Weng et al., ATC'23).
    Openb(openb::OpenbArgs),
    /// Replay the authors' placement order and compare our decisions with theirs, one by one.
    OpenbReplay(openb::replay::ReplayArgs),
    /// Table of our allocation beside the authors', from a folder of `openb` runs.
    OpenbTable(openb::table::TableArgs),
    /// Gavel's heterogeneity-aware experiment: K80/P100/V100, 6-minute rounds (Narayanan et al., OSDI'20).
    Gavel(gavel::GavelArgs),
    /// Queueing on a Philly-shaped cluster with the control plane's own scheduler (S3).
    Philly(philly::PhillyArgs),
}

pub fn run(cmd: SimCommand) -> Result<()> {
    match cmd {
        SimCommand::Openb(args) => openb::run(&args),
        SimCommand::OpenbReplay(args) => openb::replay::run(&args),
        SimCommand::OpenbTable(args) => openb::table::run(&args),
        SimCommand::Gavel(args) => gavel::run(&args),
        SimCommand::Philly(args) => philly::run(&args),
    }
}
