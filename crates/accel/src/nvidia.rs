//! NVIDIA devices through NVML, loaded at run time so that one agent binary runs on any node,
//! with or without the driver.

use crate::sysfs::{canonical_pci_bus_id, read_numa_node};
use crate::AcceleratorUsage;
use nvml_wrapper::error::NvmlError;
use nvml_wrapper::Nvml;
use std::ffi::OsStr;
use std::path::Path;
use strata_domain::{Accelerator, Vendor};

const MIB: u64 = 1024 * 1024;

/// Words that name the maker or the product line rather than the chip.
const VENDOR_WORDS: &[&str] = &["NVIDIA", "TESLA", "GEFORCE", "QUADRO"];

/// Product-line prefixes that say nothing alone (`RTX 4090`): they are kept with the next word.
const LINE_PREFIXES: &[&str] = &["RTX", "GTX", "TITAN"];

/// Marketed memory sizes in GiB. NVML reports usable memory, a little under the marketed size
/// (an H100 80GB shows 81559 MiB), so the report is snapped to the nearest of these.
const COMMON_GIB: &[u64] =
    &[1, 2, 3, 4, 5, 6, 8, 10, 11, 12, 16, 20, 24, 32, 40, 48, 64, 80, 94, 96, 120, 128, 141, 144, 180, 192, 256, 288];

/// Turns an NVML device name into the model the scheduler matches on, `<FAMILY>-<N>GB`:
/// `NVIDIA H100 80GB HBM3` → `H100-80GB`, `Tesla V100-SXM2-16GB` → `V100-16GB`.
/// The memory size comes from the name when it has one, else from `memory_mib`; a `memory_mib` of
/// 0 means unknown and leaves the size off.
pub fn normalize_nvidia_model(name: &str, memory_mib: u64) -> String {
    let parts: Vec<String> = name
        .split_whitespace()
        .map(str::to_ascii_uppercase)
        .filter(|w| !VENDOR_WORDS.contains(&w.as_str()))
        .flat_map(|w| w.split(['-', '_']).map(str::to_owned).collect::<Vec<_>>())
        .map(|p| p.chars().filter(char::is_ascii_alphanumeric).collect::<String>())
        .filter(|p| !p.is_empty())
        .collect();
    let named_gib = parts.iter().find_map(|p| parse_gib(p));
    let mut words = parts.iter().filter(|p| parse_gib(p).is_none());
    let family = match words.next() {
        Some(line) if LINE_PREFIXES.contains(&line.as_str()) => match words.next() {
            Some(model) => format!("{line}-{model}"),
            None => line.clone(),
        },
        Some(first) => first.clone(),
        None => "NVIDIA-GPU".to_owned(),
    };
    match named_gib.or_else(|| nominal_gib(memory_mib)) {
        Some(gib) => format!("{family}-{gib}GB"),
        None => family,
    }
}

/// `80GB` → 80.
fn parse_gib(part: &str) -> Option<u64> {
    part.strip_suffix("GB")?.parse().ok().filter(|n| *n > 0)
}

/// The marketed size for a reported size: the nearest common size when within 12%, otherwise
/// the reported size rounded to whole GiB (an unusual part should not be mislabelled).
fn nominal_gib(memory_mib: u64) -> Option<u64> {
    if memory_mib == 0 {
        return None;
    }
    let nearest = COMMON_GIB.iter().copied().min_by_key(|gib| (gib * 1024).abs_diff(memory_mib))?;
    if (nearest * 1024).abs_diff(memory_mib) * 100 <= memory_mib * 12 {
        Some(nearest)
    } else {
        Some(((memory_mib + 512) / 1024).max(1))
    }
}

/// Loads NVML. The default name is the unversioned `libnvidia-ml.so`, which only the CUDA
/// development packages install; driver-only nodes have just `libnvidia-ml.so.1`, so try it too.
fn init() -> Result<Nvml, NvmlError> {
    Nvml::init().or_else(|_| Nvml::builder().lib_path(OsStr::new("libnvidia-ml.so.1")).init())
}

/// The NVIDIA devices on this node; none, with one info line, where NVML cannot be loaded.
pub(crate) fn discover(root: &Path) -> Vec<Accelerator> {
    let nvml = match init() {
        Ok(nvml) => nvml,
        Err(err) => {
            tracing::info!("NVML not available ({err}); skipping NVIDIA discovery");
            return Vec::new();
        }
    };
    let count = match nvml.device_count() {
        Ok(count) => count,
        Err(err) => {
            tracing::warn!("NVML loaded but cannot count devices ({err}); skipping NVIDIA discovery");
            return Vec::new();
        }
    };
    (0..count).filter_map(|index| describe(&nvml, index, root)).collect()
}

fn describe(nvml: &Nvml, index: u32, root: &Path) -> Option<Accelerator> {
    let device = nvml
        .device_by_index(index)
        .map_err(|err| tracing::warn!(index, "skipping NVIDIA device NVML cannot open: {err}"))
        .ok()?;
    // A device with an unreadable attribute is still usable, so degrade rather than drop it.
    let memory_mib = device.memory_info().map_or(0, |m| m.total / MIB);
    let name = device.name().unwrap_or_else(|err| {
        tracing::warn!(index, "NVML cannot name device: {err}");
        String::new()
    });
    let pci_bus_id = device.pci_info().ok().map(|p| canonical_pci_bus_id(&p.bus_id));
    let numa_node = pci_bus_id
        .as_deref()
        .and_then(|id| read_numa_node(&root.join("sys/bus/pci/devices").join(id).join("numa_node")));
    Some(Accelerator {
        index,
        vendor: Vendor::Nvidia,
        model: normalize_nvidia_model(&name, memory_mib),
        memory_mib,
        pci_bus_id,
        numa_node,
        emulated: false,
    })
}

/// Current utilisation and memory use of the given NVML indices; all `None` without NVML.
pub(crate) fn usage(indices: &[u32]) -> Vec<AcceleratorUsage> {
    let nvml = init().map_err(|err| tracing::debug!("NVML not available for usage sampling: {err}")).ok();
    indices
        .iter()
        .map(|&index| {
            let device = nvml.as_ref().and_then(|n| n.device_by_index(index).ok());
            AcceleratorUsage {
                index,
                utilization_percent: device.as_ref().and_then(|d| d.utilization_rates().ok()).map(|u| u.gpu),
                memory_used_mib: device.as_ref().and_then(|d| d.memory_info().ok()).map(|m| m.used / MIB),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_with_memory_in_them() {
        assert_eq!(normalize_nvidia_model("NVIDIA H100 80GB HBM3", 81559), "H100-80GB");
        assert_eq!(normalize_nvidia_model("NVIDIA A100-SXM4-40GB", 40960), "A100-40GB");
        assert_eq!(normalize_nvidia_model("NVIDIA A100-SXM4-80GB", 81920), "A100-80GB");
        assert_eq!(normalize_nvidia_model("Tesla V100-SXM2-16GB", 16160), "V100-16GB");
        assert_eq!(normalize_nvidia_model("NVIDIA A100 80GB PCIe", 81920), "A100-80GB");
    }

    #[test]
    fn names_without_memory_take_it_from_the_device() {
        assert_eq!(normalize_nvidia_model("NVIDIA H100 PCIe", 81559), "H100-80GB");
        assert_eq!(normalize_nvidia_model("NVIDIA H100 NVL", 95830), "H100-94GB");
        assert_eq!(normalize_nvidia_model("NVIDIA H200", 143771), "H200-141GB");
        assert_eq!(normalize_nvidia_model("Tesla T4", 15360), "T4-16GB");
        assert_eq!(normalize_nvidia_model("NVIDIA A10G", 23028), "A10G-24GB");
        assert_eq!(normalize_nvidia_model("NVIDIA L40S", 46068), "L40S-48GB");
        assert_eq!(normalize_nvidia_model("NVIDIA B200", 183359), "B200-180GB");
    }

    #[test]
    fn product_lines_keep_their_number() {
        assert_eq!(normalize_nvidia_model("NVIDIA GeForce RTX 4090", 24564), "RTX-4090-24GB");
        assert_eq!(normalize_nvidia_model("NVIDIA RTX A6000", 49140), "RTX-A6000-48GB");
        assert_eq!(normalize_nvidia_model("Quadro RTX 8000", 48601), "RTX-8000-48GB");
    }

    #[test]
    fn odd_inputs_still_give_a_usable_name() {
        assert_eq!(normalize_nvidia_model("", 0), "NVIDIA-GPU");
        assert_eq!(normalize_nvidia_model("NVIDIA", 16384), "NVIDIA-GPU-16GB");
        assert_eq!(normalize_nvidia_model("nvidia h100 (80gb)", 0), "H100-80GB");
        assert_eq!(normalize_nvidia_model("NVIDIA H100", 0), "H100");
        // Far from any common size: the reported size is kept rather than snapped.
        assert_eq!(normalize_nvidia_model("NVIDIA X1", 700 * 1024), "X1-700GB");
    }

    #[test]
    fn discovery_without_a_driver_is_empty_not_an_error() {
        // This test machine has no NVIDIA driver; on one that does, any count is fine.
        let found = discover(Path::new("/"));
        assert!(found.iter().all(|a| a.vendor == Vendor::Nvidia && !a.emulated));
    }
}
