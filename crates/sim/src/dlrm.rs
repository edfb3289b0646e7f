//! Reader for the Alibaba GPU-disaggregated DLRM inference trace
//! (`alibaba_dlrm_inference_v2025/disaggregated_DLRM_trace.csv`, Yang et al., NSDI'25): one row
//! per inference instance, CPU-node (`CN`) or GPU-node (`HN`) role, with a per-node density limit
//! for the instances of one application.
//!
//! Same conventions as the openb readers: validated rows, and an error naming file, line and
//! column. Times are seconds from the trace start; an empty time means before the trace began
//! (creation, scheduling) or after it ended (deletion).

use crate::openb::trace::{read, Row, Rows, TraceError};
use std::path::Path;
use strata_domain::{CpuMillis, GpuRequest, MemoryMib, ReplicaResources};

const COLUMNS: [&str; 17] = [
    "instance_sn",
    "role",
    "app_name",
    "cpu_request",
    "cpu_limit",
    "gpu_request",
    "gpu_limit",
    "rdma_request",
    "rdma_limit",
    "memory_request",
    "memory_limit",
    "disk_request",
    "disk_limit",
    "max_instance_per_node",
    "creation_time",
    "scheduled_time",
    "deletion_time",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Runs on a CPU node.
    Cpu,
    /// Runs on a GPU node (heterogeneous).
    Gpu,
}

#[derive(Debug, Clone, PartialEq)]
pub struct DlrmInstance {
    pub name: String,
    pub role: Role,
    pub app: String,
    pub cores: u32,
    pub gpus: u32,
    /// Share of one RDMA NIC's bandwidth, 0–100.
    pub rdma_pct: u32,
    pub memory_gib: f64,
    /// Instances of the same app allowed on one node; `None` for no limit (`-1` in the trace).
    pub max_per_node: Option<u32>,
    pub created_s: Option<f64>,
    pub scheduled_s: Option<f64>,
    pub deleted_s: Option<f64>,
}

impl DlrmInstance {
    /// What one instance asks of a node (the density limit is not a resource: the caller counts it).
    pub fn resources(&self) -> ReplicaResources {
        ReplicaResources {
            cpu_milli: CpuMillis(u64::from(self.cores) * 1000),
            memory_mib: MemoryMib((self.memory_gib * 1024.0).ceil() as u64),
            gpu_milli: if self.gpus == 0 { GpuRequest::None } else { GpuRequest::Whole(self.gpus) },
            gpu_models: Vec::new(),
            preferred_gpu_models: Vec::new(),
            node_labels: Default::default(),
            max_replicas_per_node: None,
            spread_group: None,
        }
    }
}

pub fn read_instances(path: &Path) -> Result<Vec<DlrmInstance>, TraceError> {
    let text = read(path)?;
    parse_instances(path, &text)
}

pub fn parse_instances(path: &Path, text: &str) -> Result<Vec<DlrmInstance>, TraceError> {
    let mut rows = Rows::new(path, text, &COLUMNS)?;
    let mut out = Vec::new();
    while let Some(row) = rows.next_row()? {
        let role = match row.text(1)? {
            "CN" => Role::Cpu,
            "HN" => Role::Gpu,
            other => return Err(row.error(1, format!("role `{other}` is neither `CN` (CPU node) nor `HN` (GPU node)"))),
        };
        let max_per_node = match row.text(13)? {
            "-1" => None,
            _ => Some(row.number(13)?),
        };
        out.push(DlrmInstance {
            name: row.text(0)?.to_string(),
            role,
            app: row.text(2)?.to_string(),
            cores: row.number(3)?,
            gpus: row.number(5)?,
            rdma_pct: row.number(7)?,
            memory_gib: optional_decimal(&row, 9)?
                .ok_or_else(|| row.error(9, "memory_request is empty; expected GiB, e.g. `120.0`".to_string()))?,
            max_per_node,
            created_s: optional_decimal(&row, 14)?,
            scheduled_s: optional_decimal(&row, 15)?,
            deleted_s: optional_decimal(&row, 16)?,
        });
    }
    Ok(out)
}

/// A non-negative decimal field (seconds or GiB); `None` when empty.
fn optional_decimal(row: &Row, i: usize) -> Result<Option<f64>, TraceError> {
    let text = row.text(i)?;
    if text.is_empty() {
        return Ok(None);
    }
    match text.parse::<f64>() {
        Ok(v) if v.is_finite() && v >= 0.0 => Ok(Some(v)),
        _ => Err(row.error(i, format!("`{text}` is not a non-negative number"))),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    const HEAD: &str = "instance_sn,role,app_name,cpu_request,cpu_limit,gpu_request,gpu_limit,rdma_request,rdma_limit,memory_request,memory_limit,disk_request,disk_limit,max_instance_per_node,creation_time,scheduled_time,deletion_time\n";

    #[test]
    fn instances_parse_with_open_times_and_density_limits() {
        let text = format!(
            "{HEAD}instance_0,HN,app_0,12,12,1,1,25,25,120.0,120.0,640.0,800.0,8,,,\ninstance_9,CN,app_130,64,64,0,0,1,1,320.0,320.0,255.0,300.0,-1,1000594.5,1000600.0,1001235.25\n"
        );
        let v = parse_instances(Path::new("dlrm.csv"), &text).unwrap();
        assert_eq!((v[0].role, v[0].gpus, v[0].max_per_node, v[0].created_s), (Role::Gpu, 1, Some(8), None));
        assert_eq!(v[0].resources().memory_mib, MemoryMib(120 * 1024));
        assert_eq!(v[0].resources().gpu_milli, GpuRequest::Whole(1));
        assert_eq!((v[1].role, v[1].max_per_node, v[1].deleted_s), (Role::Cpu, None, Some(1001235.25)));
        assert_eq!(v[1].resources().gpu_milli, GpuRequest::None);
    }

    #[test]
    fn bad_rows_are_located() {
        let bad_role = format!("{HEAD}i0,XN,app_0,12,12,1,1,25,25,120.0,120.0,640.0,800.0,8,,,\n");
        let e = parse_instances(Path::new("dlrm.csv"), &bad_role).unwrap_err().to_string();
        assert_eq!(e, "dlrm.csv:2:4: role `XN` is neither `CN` (CPU node) nor `HN` (GPU node)");
        let bad_time = format!("{HEAD}i0,HN,app_0,12,12,1,1,25,25,120.0,120.0,640.0,800.0,8,-5,,\n");
        let e = parse_instances(Path::new("dlrm.csv"), &bad_time).unwrap_err().to_string();
        assert!(e.starts_with("dlrm.csv:2:55: `-5` is not a non-negative number"), "{e}");
        let no_memory = format!("{HEAD}i0,HN,app_0,12,12,1,1,25,25,,120.0,640.0,800.0,8,,,\n");
        let e = parse_instances(Path::new("dlrm.csv"), &no_memory).unwrap_err().to_string();
        assert_eq!(e, "dlrm.csv:2:29: memory_request is empty; expected GiB, e.g. `120.0`");
    }

    /// The real trace, where the shared traces are checked out next to the repository.
    #[test]
    fn the_published_trace_reads_whole() {
        let path = Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../../shared/traces/alibaba_dlrm_inference_v2025/disaggregated_DLRM_trace.csv"
        ));
        if !path.exists() {
            eprintln!("skipped: no DLRM trace at {}", path.display());
            return;
        }
        let v = read_instances(path).unwrap();
        assert_eq!(v.len(), 23_871);
        assert_eq!(v.iter().filter(|i| i.role == Role::Gpu).count(), 7_386);
    }
}
