//! The host facts every node reports whatever its accelerators: hostname, CPU cores and memory.

use crate::sysfs::read_trimmed;
use std::path::Path;

/// The hostname the node registers under. An operator override wins because container hostnames
/// are often random and meaningless to people.
pub(crate) fn hostname(root: &Path, override_name: Option<&str>) -> String {
    if let Some(name) = override_name.map(str::trim).filter(|n| !n.is_empty()) {
        return name.to_owned();
    }
    read_trimmed(&root.join("proc/sys/kernel/hostname"))
        .filter(|n| !n.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok().filter(|n| !n.is_empty()))
        .unwrap_or_else(|| "localhost".to_owned())
}

/// CPU cores this process may use. `available_parallelism` honours cgroup quotas and affinity,
/// which is what the node can really offer; `/proc/cpuinfo` is the fallback where it fails.
pub(crate) fn cpu_cores(root: &Path) -> u32 {
    if let Ok(n) = std::thread::available_parallelism() {
        return u32::try_from(n.get()).unwrap_or(u32::MAX);
    }
    let from_cpuinfo =
        std::fs::read_to_string(root.join("proc/cpuinfo")).map(|text| count_processors(&text)).unwrap_or(0);
    from_cpuinfo.max(1)
}

fn count_processors(cpuinfo: &str) -> u32 {
    let n = cpuinfo.lines().filter(|l| l.split(':').next().is_some_and(|k| k.trim() == "processor")).count();
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// Total memory in MiB from `MemTotal`; 0 when it cannot be read, which the scheduler treats as
/// "offers no memory" rather than inventing a figure.
pub(crate) fn memory_mib(root: &Path) -> u64 {
    let path = root.join("proc/meminfo");
    match std::fs::read_to_string(&path) {
        Ok(text) => parse_mem_total_mib(&text).unwrap_or_else(|| {
            tracing::warn!(path = %path.display(), "no MemTotal line in meminfo; reporting 0 MiB");
            0
        }),
        Err(err) => {
            tracing::warn!(path = %path.display(), %err, "cannot read meminfo; reporting 0 MiB");
            0
        }
    }
}

fn parse_mem_total_mib(meminfo: &str) -> Option<u64> {
    let line = meminfo.lines().find(|l| l.starts_with("MemTotal:"))?;
    let mut parts = line["MemTotal:".len()..].split_whitespace();
    let value: u64 = parts.next()?.parse().ok()?;
    // The kernel always writes kB (KiB); accept other units defensively.
    let kib = match parts.next().map(str::to_ascii_lowercase).as_deref() {
        None | Some("kb") => value,
        Some("mb") => value * 1024,
        Some("gb") => value * 1024 * 1024,
        Some(_) => return None,
    };
    Some(kib / 1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mem_total_is_read_in_mib() {
        let text = "MemTotal:       32768000 kB\nMemFree:         1000 kB\n";
        assert_eq!(parse_mem_total_mib(text), Some(32000));
        assert_eq!(parse_mem_total_mib("MemFree: 1 kB\n"), None);
        assert_eq!(parse_mem_total_mib("MemTotal: lots kB\n"), None);
    }

    #[test]
    fn memory_falls_back_to_zero_without_meminfo() {
        let dir = tempfile::tempdir().expect("tempdir");
        assert_eq!(memory_mib(dir.path()), 0);
        std::fs::create_dir_all(dir.path().join("proc")).expect("mkdir");
        std::fs::write(dir.path().join("proc/meminfo"), "MemTotal: 2097152 kB\n").expect("write");
        assert_eq!(memory_mib(dir.path()), 2048);
    }

    #[test]
    fn processors_are_counted() {
        let text = "processor\t: 0\nmodel name\t: x\n\nprocessor\t: 1\nmodel name\t: x\n";
        assert_eq!(count_processors(text), 2);
    }

    #[test]
    fn hostname_override_wins_and_file_is_read() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir_all(dir.path().join("proc/sys/kernel")).expect("mkdir");
        std::fs::write(dir.path().join("proc/sys/kernel/hostname"), "gpu-node-7\n").expect("write");
        assert_eq!(hostname(dir.path(), None), "gpu-node-7");
        assert_eq!(hostname(dir.path(), Some("override")), "override");
        assert_eq!(hostname(dir.path(), Some("  ")), "gpu-node-7");
    }
}
