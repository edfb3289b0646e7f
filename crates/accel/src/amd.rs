//! AMD GPUs through the amdgpu driver's sysfs attributes, which need no library on the node.

use crate::sysfs::{read_numa_node, read_trimmed, read_u64};
use crate::AcceleratorUsage;
use std::path::{Path, PathBuf};
use strata_domain::{Accelerator, Vendor};

const AMD_PCI_VENDOR: &str = "0x1002";
const MIB: u64 = 1024 * 1024;

/// Words in `product_name` that name the maker or line rather than the chip.
const VENDOR_WORDS: &[&str] = &["AMD", "INSTINCT"];

/// The `device/` directories of AMD cards, in card-number order, which is the order ROCm
/// numbers them in for `HIP_VISIBLE_DEVICES`.
fn amd_cards(root: &Path) -> Vec<PathBuf> {
    let drm = root.join("sys/class/drm");
    let Ok(entries) = std::fs::read_dir(&drm) else {
        return Vec::new();
    };
    let mut cards: Vec<(u32, PathBuf)> = entries
        .filter_map(Result::ok)
        .filter_map(|e| {
            // `card0-DP-1` and friends are display connectors of card0, not devices.
            let number = e.file_name().to_str()?.strip_prefix("card")?.parse::<u32>().ok()?;
            Some((number, e.path().join("device")))
        })
        .filter(|(_, dev)| read_trimmed(&dev.join("vendor")).is_some_and(|v| v.eq_ignore_ascii_case(AMD_PCI_VENDOR)))
        .collect();
    cards.sort_by_key(|(number, _)| *number);
    cards.into_iter().map(|(_, dev)| dev).collect()
}

/// The AMD GPUs under `root`.
pub(crate) fn discover(root: &Path) -> Vec<Accelerator> {
    amd_cards(root)
        .iter()
        .zip(0u32..)
        .map(|(dev, index)| Accelerator {
            index,
            vendor: Vendor::Amd,
            model: model(dev),
            memory_mib: read_u64(&dev.join("mem_info_vram_total")).map_or(0, |b| b / MIB),
            pci_bus_id: pci_bus_id(dev),
            numa_node: read_numa_node(&dev.join("numa_node")),
            emulated: false,
        })
        .collect()
}

/// Busy percentage and VRAM use of the given AMD indices; `None` where the card or attribute is gone.
pub(crate) fn usage(root: &Path, indices: &[u32]) -> Vec<AcceleratorUsage> {
    let cards = amd_cards(root);
    indices
        .iter()
        .map(|&index| {
            let dev = usize::try_from(index).ok().and_then(|i| cards.get(i));
            AcceleratorUsage {
                index,
                utilization_percent: dev
                    .and_then(|d| read_u64(&d.join("gpu_busy_percent")))
                    .and_then(|p| u32::try_from(p).ok()),
                memory_used_mib: dev.and_then(|d| read_u64(&d.join("mem_info_vram_used"))).map(|b| b / MIB),
            }
        })
        .collect()
}

/// `product_name` when the board has one (many consumer boards leave it empty), else the PCI
/// device id looked up in a table of data-centre parts, else `AMD-<device id>`.
fn model(dev: &Path) -> String {
    if let Some(name) = read_trimmed(&dev.join("product_name")).and_then(|n| normalize_product_name(&n)) {
        return name;
    }
    let id = read_trimmed(&dev.join("device")).unwrap_or_default().to_ascii_lowercase();
    let id = id.strip_prefix("0x").unwrap_or(&id);
    model_for_device_id(id).map_or_else(
        || {
            if id.is_empty() {
                "AMD-GPU".to_owned()
            } else {
                format!("AMD-{}", id.to_ascii_uppercase())
            }
        },
        str::to_owned,
    )
}

/// `AMD Instinct MI300X` → `MI300X`.
fn normalize_product_name(name: &str) -> Option<String> {
    let words: Vec<String> = name
        .split_whitespace()
        .map(|w| w.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '-').collect::<String>())
        .map(|w| w.to_ascii_uppercase())
        .filter(|w| !w.is_empty() && !VENDOR_WORDS.contains(&w.as_str()))
        .collect();
    (!words.is_empty()).then(|| words.join("-"))
}

/// PCI device ids (lower-case hex, no `0x`) of common Instinct parts.
fn model_for_device_id(id: &str) -> Option<&'static str> {
    Some(match id {
        "74a1" => "MI300X",
        "74a0" => "MI300A",
        "74a5" => "MI325X",
        "740f" => "MI210",
        "7408" => "MI250X",
        "740c" => "MI250",
        "738c" => "MI100",
        "66a1" => "MI50",
        _ => return None,
    })
}

/// In real sysfs `device` is a link whose target is named after the bus id; `uevent` also has it
/// and serves where the link is missing.
fn pci_bus_id(dev: &Path) -> Option<String> {
    if let Some(name) = std::fs::read_link(dev).ok().and_then(|t| t.file_name()?.to_str().map(str::to_owned)) {
        return Some(name.to_ascii_lowercase());
    }
    let uevent = read_trimmed(&dev.join("uevent"))?;
    uevent.lines().find_map(|l| l.strip_prefix("PCI_SLOT_NAME=")).map(|s| s.trim().to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    fn write(path: &Path, content: &str) {
        fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        fs::write(path, content).expect("write");
    }

    /// A sysfs tree with an NVIDIA card, three AMD cards (one reached through a link, as in real
    /// sysfs), a connector and a render node.
    fn fake_sysfs() -> tempfile::TempDir {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path();
        let drm = root.join("sys/class/drm");

        write(&drm.join("card0/device/vendor"), "0x10de\n");

        let pci = root.join("sys/devices/pci0000:c0/0000:C1:00.0");
        write(&pci.join("vendor"), "0x1002\n");
        write(&pci.join("device"), "0x74a1\n");
        write(&pci.join("product_name"), "AMD Instinct MI300X\n");
        write(&pci.join("mem_info_vram_total"), &format!("{}\n", 192 * 1024 * MIB));
        write(&pci.join("mem_info_vram_used"), &format!("{}\n", 1024 * MIB));
        write(&pci.join("gpu_busy_percent"), "37\n");
        write(&pci.join("numa_node"), "1\n");
        fs::create_dir_all(drm.join("card1")).expect("mkdir");
        std::os::unix::fs::symlink(&pci, drm.join("card1/device")).expect("symlink");
        // A connector of card1: its `device` also points at the card, and must not count twice.
        fs::create_dir_all(drm.join("card1-DP-1")).expect("mkdir");
        std::os::unix::fs::symlink(&pci, drm.join("card1-DP-1/device")).expect("symlink");

        let card10 = drm.join("card10/device");
        write(&card10.join("vendor"), "0x1002\n");
        write(&card10.join("device"), "0x740f\n");
        write(&card10.join("mem_info_vram_total"), &format!("{}\n", 64 * 1024 * MIB));
        write(&card10.join("numa_node"), "-1\n");
        write(&card10.join("uevent"), "DRIVER=amdgpu\nPCI_SLOT_NAME=0000:03:00.0\n");

        let card2 = drm.join("card2/device");
        write(&card2.join("vendor"), "0x1002\n");
        write(&card2.join("device"), "0x744c\n");
        write(&card2.join("product_name"), "\n");

        fs::create_dir_all(drm.join("renderD128")).expect("mkdir");
        dir
    }

    #[test]
    fn discovers_amd_cards_in_card_order() {
        let dir = fake_sysfs();
        let found = discover(dir.path());
        assert_eq!(found.len(), 3, "{found:#?}");
        assert_eq!(
            found[0],
            Accelerator {
                index: 0,
                vendor: Vendor::Amd,
                model: "MI300X".into(),
                memory_mib: 192 * 1024,
                pci_bus_id: Some("0000:c1:00.0".into()),
                numa_node: Some(1),
                emulated: false,
            }
        );
        // card2 sorts before card10; an empty product_name falls back to the device id.
        assert_eq!((found[1].index, found[1].model.as_str()), (1, "AMD-744C"));
        assert_eq!(found[1].memory_mib, 0);
        assert_eq!(found[1].pci_bus_id, None);
        assert_eq!(
            found[2],
            Accelerator {
                index: 2,
                vendor: Vendor::Amd,
                model: "MI210".into(),
                memory_mib: 64 * 1024,
                pci_bus_id: Some("0000:03:00.0".into()),
                numa_node: None,
                emulated: false,
            }
        );
    }

    #[test]
    fn usage_reads_busy_percent_and_vram_used() {
        let dir = fake_sysfs();
        let got = usage(dir.path(), &[0, 2, 9]);
        assert_eq!(got[0].utilization_percent, Some(37));
        assert_eq!(got[0].memory_used_mib, Some(1024));
        assert_eq!((got[1].index, got[1].utilization_percent, got[1].memory_used_mib), (2, None, None));
        assert_eq!((got[2].index, got[2].utilization_percent), (9, None));
    }

    #[test]
    fn missing_drm_directory_means_no_cards() {
        let dir = tempfile::tempdir().expect("tempdir");
        assert!(discover(dir.path()).is_empty());
    }

    #[test]
    fn product_names_are_normalised() {
        assert_eq!(normalize_product_name("AMD Instinct MI300X"), Some("MI300X".into()));
        assert_eq!(normalize_product_name("AMD Radeon RX 7900 XTX"), Some("RADEON-RX-7900-XTX".into()));
        assert_eq!(normalize_product_name("  "), None);
    }
}
