//! Small readers for sysfs and procfs files, which are one value per file and may vanish at any time.

use std::path::Path;

/// The file's content without surrounding whitespace, or `None` when it cannot be read: a missing
/// attribute is normal (older kernels, other drivers), so callers treat it as "unknown".
pub(crate) fn read_trimmed(path: &Path) -> Option<String> {
    std::fs::read_to_string(path).ok().map(|s| s.trim().to_owned())
}

/// A decimal integer attribute such as `mem_info_vram_total`.
pub(crate) fn read_u64(path: &Path) -> Option<u64> {
    read_trimmed(path)?.parse().ok()
}

/// The kernel writes `-1` when the platform has no NUMA information; that is "unknown", not node -1.
pub(crate) fn read_numa_node(path: &Path) -> Option<i32> {
    read_trimmed(path)?.parse::<i32>().ok().filter(|n| *n >= 0)
}

/// Turns a PCI bus id as NVML prints it (`00000000:3B:00.0`, eight-digit domain, upper case) into
/// the form sysfs names its directories with (`0000:3b:00.0`), so that both sources agree.
pub(crate) fn canonical_pci_bus_id(raw: &str) -> String {
    let lower = raw.trim().to_ascii_lowercase();
    match lower.split_once(':') {
        Some((domain, rest)) if domain.len() > 4 && domain.chars().all(|c| c.is_ascii_hexdigit()) => {
            format!("{}:{rest}", &domain[domain.len() - 4..])
        }
        _ => lower,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pci_bus_ids_are_put_in_sysfs_form() {
        assert_eq!(canonical_pci_bus_id("00000000:3B:00.0"), "0000:3b:00.0");
        assert_eq!(canonical_pci_bus_id("0000:3b:00.0"), "0000:3b:00.0");
        assert_eq!(canonical_pci_bus_id(" 0001:AF:00.1\n"), "0001:af:00.1");
    }

    #[test]
    fn numa_minus_one_means_unknown() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("numa_node");
        std::fs::write(&file, "-1\n").expect("write");
        assert_eq!(read_numa_node(&file), None);
        std::fs::write(&file, "1\n").expect("write");
        assert_eq!(read_numa_node(&file), Some(1));
        assert_eq!(read_numa_node(&dir.path().join("missing")), None);
    }
}
