//! What a node has: its accelerators, CPU and memory, as the agent discovered or emulated them.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Who made an accelerator. The scheduler never branches on the vendor; it is there for people
/// and for the agent, which sets the vendor's visible-devices variable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Vendor {
    Nvidia,
    Amd,
    Ascend,
    Apple,
    Intel,
    Other,
}

impl Vendor {
    /// The environment variable that frameworks read to learn which devices they may use.
    pub fn visible_devices_env(self) -> &'static str {
        match self {
            Vendor::Nvidia => "CUDA_VISIBLE_DEVICES",
            Vendor::Amd => "HIP_VISIBLE_DEVICES",
            Vendor::Ascend => "ASCEND_RT_VISIBLE_DEVICES",
            Vendor::Intel => "ZE_AFFINITY_MASK",
            Vendor::Apple | Vendor::Other => "STRATA_VISIBLE_DEVICES",
        }
    }
}

/// One accelerator on a node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Accelerator {
    /// The device index the vendor's runtime uses (what goes into `CUDA_VISIBLE_DEVICES`).
    pub index: u32,
    pub vendor: Vendor,
    /// The chip model as the scheduler matches it, e.g. `H100-80GB`.
    pub model: String,
    pub memory_mib: u64,
    /// PCI bus id such as `0000:3b:00.0`, when known.
    pub pci_bus_id: Option<String>,
    /// NUMA node the device hangs off, when known.
    pub numa_node: Option<i32>,
    /// True for devices declared with `strata agent --emulate`: schedulable, but not real hardware.
    pub emulated: bool,
}

/// Everything a node offers to the scheduler.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Inventory {
    pub hostname: String,
    pub cpu_cores: u32,
    pub memory_mib: u64,
    pub accelerators: Vec<Accelerator>,
    /// Topology and operator labels, e.g. `rack=r12`.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
}

impl Inventory {
    /// The rack label, used by the scheduler to keep gangs close together.
    pub fn rack(&self) -> Option<&str> {
        self.labels.get("rack").map(String::as_str)
    }
}

/// A moment's load on one accelerator; `None` where it cannot be measured (emulated devices,
/// a vanished device, a driver that does not report it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AcceleratorUsage {
    /// The accelerator's index in the inventory.
    pub index: u32,
    pub utilization_percent: Option<u32>,
    pub memory_used_mib: Option<u64>,
}
