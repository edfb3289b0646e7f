//! The node agent's accelerator discovery: what a node has, found on the node itself.
//!
//! NVIDIA devices come from NVML, loaded at run time so that nodes without the driver still run
//! the same binary; AMD devices come from the amdgpu driver's sysfs files; CPU and memory from
//! procfs; and `--emulate` adds declared devices for machines that have none. Nothing here fails:
//! a source that is missing contributes nothing, because a node with no GPUs is still a node.

mod amd;
mod emulate;
mod engines;
mod host;
mod nvidia;
mod sysfs;

pub use emulate::{infer_memory_mib, infer_vendor, EmulateParseError, EmulatedGroup, EmulationSpec, MAX_GROUP_COUNT};
pub use nvidia::normalize_nvidia_model;

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use strata_domain::{Inventory, Vendor};

/// What to discover and where to look.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiscoveryOptions {
    /// Declared devices appended after the real ones.
    pub emulate: Option<EmulationSpec>,
    /// Where `/proc` and `/sys` are found: `/` on a node, a fake tree in tests, or the host's
    /// root mounted into a container.
    pub sysfs_root: PathBuf,
    /// Do not load NVML, e.g. where loading a vendor library is unwanted.
    pub skip_nvml: bool,
    /// Register under this name instead of the kernel's hostname.
    pub hostname_override: Option<String>,
    /// Operator labels such as `rack=r12`, passed through to the inventory.
    pub labels: BTreeMap<String, String>,
    /// Label the node with the inference engines found on it (`engine.vllm=yes`, …).
    pub detect_engines: bool,
    /// Declare this many CPU cores instead of the discovered count (emulated fleets, or holding
    /// cores back for the system).
    pub cpu_cores_override: Option<u32>,
    /// Declare this much memory instead of the discovered amount.
    pub memory_mib_override: Option<u64>,
}

impl Default for DiscoveryOptions {
    fn default() -> Self {
        Self {
            emulate: None,
            sysfs_root: PathBuf::from("/"),
            skip_nvml: false,
            hostname_override: None,
            labels: BTreeMap::new(),
            detect_engines: true,
            cpu_cores_override: None,
            memory_mib_override: None,
        }
    }
}

pub use strata_domain::AcceleratorUsage;

/// Everything this node offers: host facts, real accelerators (NVIDIA, then AMD), then emulated
/// ones numbered after the highest real index.
pub fn discover(opts: &DiscoveryOptions) -> Inventory {
    let root = opts.sysfs_root.as_path();
    let mut accelerators = Vec::new();
    if opts.skip_nvml {
        tracing::debug!("NVML skipped by request");
    } else {
        accelerators.extend(nvidia::discover(root));
    }
    accelerators.extend(amd::discover(root));
    if let Some(spec) = &opts.emulate {
        let first = accelerators.iter().map(|a| a.index.saturating_add(1)).max().unwrap_or(0);
        accelerators.extend(spec.accelerators(first));
    }
    let mut labels = if opts.detect_engines { engines::detect() } else { BTreeMap::new() };
    // What the operator says wins over what was detected.
    labels.extend(opts.labels.clone());
    Inventory {
        hostname: host::hostname(root, opts.hostname_override.as_deref()),
        cpu_cores: opts.cpu_cores_override.unwrap_or_else(|| host::cpu_cores(root)),
        memory_mib: opts.memory_mib_override.unwrap_or_else(|| host::memory_mib(root)),
        accelerators,
        labels,
    }
}

/// Current load of every accelerator in `inventory`, in its order. Only real devices are
/// measured; emulated ones, and devices whose source is unavailable, report `None`.
pub fn sample_usage(opts: &DiscoveryOptions, inventory: &Inventory) -> Vec<AcceleratorUsage> {
    let real = |vendor: Vendor| -> Vec<u32> {
        inventory.accelerators.iter().filter(|a| !a.emulated && a.vendor == vendor).map(|a| a.index).collect()
    };
    let mut measured: HashMap<(Vendor, u32), AcceleratorUsage> = HashMap::new();
    let nvidia_indices = real(Vendor::Nvidia);
    if !opts.skip_nvml && !nvidia_indices.is_empty() {
        measured.extend(nvidia::usage(&nvidia_indices).into_iter().map(|u| ((Vendor::Nvidia, u.index), u)));
    }
    let amd_indices = real(Vendor::Amd);
    if !amd_indices.is_empty() {
        measured.extend(amd::usage(&opts.sysfs_root, &amd_indices).into_iter().map(|u| ((Vendor::Amd, u.index), u)));
    }
    inventory
        .accelerators
        .iter()
        .map(|a| {
            let found = (!a.emulated).then(|| measured.remove(&(a.vendor, a.index))).flatten();
            found.unwrap_or(AcceleratorUsage { index: a.index, utilization_percent: None, memory_used_mib: None })
        })
        .collect()
}

#[cfg(test)]
mod tests;
