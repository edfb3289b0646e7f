//! Whole-crate tests: discovery over a fake root, emulation after real devices, and this machine.

use super::*;
use std::fs;
use std::path::Path;

fn write(path: &Path, content: &str) {
    fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    fs::write(path, content).expect("write");
}

/// A root with procfs facts and one AMD MI210 as card0.
fn fake_root() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    write(&root.join("proc/meminfo"), "MemTotal:       65536000 kB\nMemFree: 1 kB\n");
    write(&root.join("proc/sys/kernel/hostname"), "fake-node\n");
    let dev = root.join("sys/class/drm/card0/device");
    write(&dev.join("vendor"), "0x1002\n");
    write(&dev.join("device"), "0x740f\n");
    write(&dev.join("mem_info_vram_total"), &format!("{}\n", 64u64 << 30));
    write(&dev.join("mem_info_vram_used"), &format!("{}\n", 2u64 << 30));
    write(&dev.join("gpu_busy_percent"), "90\n");
    dir
}

fn opts(root: &Path, emulate: Option<&str>) -> DiscoveryOptions {
    DiscoveryOptions {
        emulate: emulate.map(|s| s.parse().expect("valid spec")),
        sysfs_root: root.to_path_buf(),
        skip_nvml: true,
        hostname_override: None,
        labels: BTreeMap::from([("rack".to_owned(), "r12".to_owned())]),
        ..DiscoveryOptions::default()
    }
}

#[test]
fn declared_cpu_and_memory_replace_the_discovered_ones() {
    let dir = fake_root();
    let o =
        DiscoveryOptions { cpu_cores_override: Some(96), memory_mib_override: Some(1 << 20), ..opts(dir.path(), None) };
    let inv = discover(&o);
    assert_eq!((inv.cpu_cores, inv.memory_mib), (96, 1 << 20));
}

#[test]
fn discovers_host_facts_real_and_emulated_devices() {
    let dir = fake_root();
    let inv = discover(&opts(dir.path(), Some("2xH100-80GB,1x910B")));
    assert_eq!(inv.hostname, "fake-node");
    assert_eq!(inv.memory_mib, 64000);
    assert!(inv.cpu_cores >= 1);
    assert_eq!(inv.rack(), Some("r12"));

    let summary: Vec<(u32, Vendor, &str, u64, bool)> =
        inv.accelerators.iter().map(|a| (a.index, a.vendor, a.model.as_str(), a.memory_mib, a.emulated)).collect();
    assert_eq!(
        summary,
        vec![
            (0, Vendor::Amd, "MI210", 65536, false),
            (1, Vendor::Nvidia, "H100-80GB", 81920, true),
            (2, Vendor::Nvidia, "H100-80GB", 81920, true),
            (3, Vendor::Ascend, "910B", 65536, true),
        ]
    );
}

#[test]
fn emulated_devices_start_at_zero_without_real_ones() {
    let dir = tempfile::tempdir().expect("tempdir");
    let inv = discover(&opts(dir.path(), Some("4xA100-40GB, 2xMI300X, 1xM2-ULTRA")));
    let idx: Vec<u32> = inv.accelerators.iter().map(|a| a.index).collect();
    assert_eq!(idx, (0..7).collect::<Vec<_>>());
    assert!(inv.accelerators.iter().all(|a| a.emulated));
    assert_eq!(inv.accelerators[0].memory_mib, 40 * 1024);
    assert_eq!(inv.accelerators[4].vendor, Vendor::Amd);
    assert_eq!(inv.accelerators[6].vendor, Vendor::Apple);
    // No meminfo in this root: memory degrades to 0 rather than failing.
    assert_eq!(inv.memory_mib, 0);
}

#[test]
fn hostname_override_is_used() {
    let dir = fake_root();
    let mut o = opts(dir.path(), None);
    o.hostname_override = Some("gpu-07".into());
    assert_eq!(discover(&o).hostname, "gpu-07");
}

#[test]
fn usage_is_measured_for_real_devices_only() {
    let dir = fake_root();
    let o = opts(dir.path(), Some("1xH100"));
    let inv = discover(&o);
    let usage = sample_usage(&o, &inv);
    assert_eq!(
        usage,
        vec![
            AcceleratorUsage { index: 0, utilization_percent: Some(90), memory_used_mib: Some(2048) },
            AcceleratorUsage { index: 1, utilization_percent: None, memory_used_mib: None },
        ]
    );
    let json = serde_json::to_value(&usage[0]).expect("serialize");
    assert_eq!(json["utilization_percent"], 90);
}

#[test]
fn discover_on_this_machine_never_fails() {
    let o = DiscoveryOptions { skip_nvml: false, ..DiscoveryOptions::default() };
    assert_eq!(o.sysfs_root, Path::new("/"));
    let inv = discover(&o);
    assert!(inv.cpu_cores >= 1);
    assert!(!inv.hostname.is_empty());
    assert!(inv.accelerators.iter().all(|a| !a.emulated));
    // Sampling what was found (possibly nothing) must not fail either.
    assert_eq!(sample_usage(&o, &inv).len(), inv.accelerators.len());
}
