//! Readers for the Alibaba openb GPU traces (`cluster-trace-gpu-v2023`): the node list and the
//! pod lists, parsed in one step into validated rows.
//!
//! The files are plain comma-separated values without quoting, so a line is split on commas and
//! every field is checked where it stands; an error names the file, the line and the column
//! (1-based character position of the field) and says what was expected.

use std::path::{Path, PathBuf};
use strata_domain::{CpuMillis, GpuMillis, GpuRequest, MemoryMib, ReplicaResources};
use strata_sched::TaskShape;

#[derive(Debug, thiserror::Error)]
pub enum TraceError {
    #[error("{}: {source}", file.display())]
    Io { file: PathBuf, source: std::io::Error },
    #[error("{}:{line}:{column}: {message}", file.display())]
    Row { file: PathBuf, line: usize, column: usize, message: String },
}

/// One GPU node: `sn,cpu_milli,memory_mib,gpu,model`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenbNode {
    pub name: String,
    pub cpu_milli: u64,
    pub memory_mib: u64,
    pub gpus: u32,
    pub model: String,
}

/// One pod: `name,cpu_milli,memory_mib,num_gpu,gpu_milli[,gpu_spec,…]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenbPod {
    pub name: String,
    pub cpu_milli: u64,
    pub memory_mib: u64,
    pub gpu: GpuRequest,
    /// Allowed chip models (`A|B` in the trace); empty means any.
    pub gpu_spec: Vec<String>,
}

impl OpenbPod {
    pub fn resources(&self) -> ReplicaResources {
        ReplicaResources {
            cpu_milli: CpuMillis(self.cpu_milli),
            memory_mib: MemoryMib(self.memory_mib),
            gpu_milli: self.gpu,
            gpu_models: self.gpu_spec.clone(),
            preferred_gpu_models: Vec::new(),
            node_labels: Default::default(),
            max_replicas_per_node: None,
            spread_group: None,
        }
    }

    pub fn shape(&self) -> TaskShape {
        TaskShape::new(self.cpu_milli, self.gpu, self.gpu_spec.clone())
    }

    /// All milli-GPU the pod asks for.
    pub fn total_gpu_milli(&self) -> u64 {
        u64::from(self.gpu.total_milli().0)
    }

    /// Milli-GPU per device (1000 for whole devices): what FGD's inflation compares to its target.
    pub fn per_gpu_milli(&self) -> u64 {
        match self.gpu {
            GpuRequest::None => 0,
            GpuRequest::Fraction(m) => u64::from(m.0),
            GpuRequest::Whole(_) => 1000,
        }
    }
}

const NODE_COLUMNS: [&str; 5] = ["sn", "cpu_milli", "memory_mib", "gpu", "model"];
const POD_COLUMNS: [&str; 5] = ["name", "cpu_milli", "memory_mib", "num_gpu", "gpu_milli"];

pub fn read_nodes(path: &Path) -> Result<Vec<OpenbNode>, TraceError> {
    let text = read(path)?;
    parse_nodes(path, &text)
}

/// The Alibaba spot-GPU node inventory (`alibaba_spot_gpu_v2026/node_info_df.csv`:
/// `gpu_model,gpu_capacity_num,cpu_num,node_name`), as nodes of the openb kind. The inventory
/// lists no memory: each node gets openb's 4 GiB per core, so memory binds as rarely as there.
pub fn read_spot_nodes(path: &Path) -> Result<Vec<OpenbNode>, TraceError> {
    let text = read(path)?;
    parse_spot_nodes(path, &text)
}

const SPOT_COLUMNS: [&str; 4] = ["gpu_model", "gpu_capacity_num", "cpu_num", "node_name"];
const SPOT_MIB_PER_CORE: u64 = 4096;

pub fn parse_spot_nodes(path: &Path, text: &str) -> Result<Vec<OpenbNode>, TraceError> {
    let mut rows = Rows::new(path, text, &SPOT_COLUMNS)?;
    let mut nodes = Vec::new();
    while let Some(row) = rows.next_row()? {
        let cores: u64 = row.number(2)?;
        nodes.push(OpenbNode {
            name: format!("spot-{}", row.text(3)?),
            cpu_milli: cores * 1000,
            memory_mib: cores * SPOT_MIB_PER_CORE,
            gpus: row.number(1)?,
            model: row.text(0)?.to_string(),
        });
    }
    Ok(nodes)
}

pub fn read_pods(path: &Path) -> Result<Vec<OpenbPod>, TraceError> {
    let text = read(path)?;
    parse_pods(path, &text)
}

pub(crate) fn read(path: &Path) -> Result<String, TraceError> {
    std::fs::read_to_string(path).map_err(|source| TraceError::Io { file: path.to_path_buf(), source })
}

pub fn parse_nodes(path: &Path, text: &str) -> Result<Vec<OpenbNode>, TraceError> {
    let mut rows = Rows::new(path, text, &NODE_COLUMNS)?;
    let mut nodes = Vec::new();
    while let Some(row) = rows.next_row()? {
        nodes.push(OpenbNode {
            name: row.text(0)?.to_string(),
            cpu_milli: row.number(1)?,
            memory_mib: row.number(2)?,
            gpus: row.number(3)?,
            model: row.text(4)?.to_string(),
        });
    }
    Ok(nodes)
}

pub fn parse_pods(path: &Path, text: &str) -> Result<Vec<OpenbPod>, TraceError> {
    let mut rows = Rows::new(path, text, &POD_COLUMNS)?;
    let spec_col = rows.header.iter().position(|h| *h == "gpu_spec");
    let mut pods = Vec::new();
    while let Some(row) = rows.next_row()? {
        let num_gpu: u32 = row.number(3)?;
        let gpu_milli: u32 = row.number(4)?;
        let gpu = match (num_gpu, gpu_milli) {
            (0, _) | (_, 0) => GpuRequest::None,
            (1, m @ 1..=999) => GpuRequest::Fraction(GpuMillis(m)),
            (n, 1000) if n <= GpuRequest::MAX_DEVICES => GpuRequest::Whole(n),
            (n, m) => {
                return Err(row.error(
                    if m > 1000 { 4 } else { 3 },
                    format!(
                    "num_gpu {n} with gpu_milli {m}: expected a share of one GPU (1 × 1..999) or whole GPUs (n × 1000)"
                ),
                ))
            }
        };
        let gpu_spec = match spec_col {
            Some(c) => row.text(c)?.split('|').filter(|s| !s.is_empty()).map(str::to_string).collect(),
            None => Vec::new(),
        };
        pods.push(OpenbPod {
            name: row.text(0)?.to_string(),
            cpu_milli: row.number(1)?,
            memory_mib: row.number(2)?,
            gpu,
            gpu_spec,
        });
    }
    Ok(pods)
}

/// Lines of a headed CSV file, with positions for error messages.
pub(crate) struct Rows<'t> {
    path: &'t Path,
    lines: std::iter::Enumerate<std::str::Lines<'t>>,
    header: Vec<&'t str>,
}

pub(crate) struct Row<'t> {
    path: &'t Path,
    line: usize,
    fields: Vec<(usize, &'t str)>,
}

impl<'t> Rows<'t> {
    pub(crate) fn new(path: &'t Path, text: &'t str, required: &[&str]) -> Result<Self, TraceError> {
        let mut lines = text.lines().enumerate();
        let head = lines.next().map(|(_, l)| l).unwrap_or("");
        let header: Vec<&str> = head.split(',').map(str::trim).collect();
        for (i, want) in required.iter().enumerate() {
            if header.get(i) != Some(want) {
                let column = header.iter().take(i).map(|h| h.len() + 1).sum::<usize>() + 1;
                let found = header.get(i).copied().unwrap_or("end of line");
                return Err(TraceError::Row {
                    file: path.to_path_buf(),
                    line: 1,
                    column,
                    message: format!("header: expected column {} to be `{want}`, found `{found}`", i + 1),
                });
            }
        }
        Ok(Rows { path, lines, header })
    }

    pub(crate) fn next_row(&mut self) -> Result<Option<Row<'t>>, TraceError> {
        for (i, line) in self.lines.by_ref() {
            if line.trim().is_empty() {
                continue;
            }
            let mut fields = Vec::new();
            let mut column = 1;
            for f in line.split(',') {
                fields.push((column, f.trim()));
                column += f.len() + 1;
            }
            let row = Row { path: self.path, line: i + 1, fields };
            if row.fields.len() < self.header.len() {
                let at = line.len() + 1;
                let want = self.header.len();
                let got = row.fields.len();
                return Err(row.error_at(at, format!("expected {want} fields, found {got}")));
            }
            return Ok(Some(row));
        }
        Ok(None)
    }
}

impl<'t> Row<'t> {
    pub(crate) fn text(&self, i: usize) -> Result<&'t str, TraceError> {
        self.fields.get(i).map(|&(_, f)| f).ok_or_else(|| self.error(i, "missing field".to_string()))
    }

    pub(crate) fn number<N: std::str::FromStr>(&self, i: usize) -> Result<N, TraceError>
    where
        N::Err: std::fmt::Display,
    {
        let text = self.text(i)?;
        text.parse().map_err(|e| self.error(i, format!("`{text}` is not a non-negative integer ({e})")))
    }

    pub(crate) fn error(&self, field: usize, message: String) -> TraceError {
        let column = self.fields.get(field).map_or(1, |&(c, _)| c);
        self.error_at(column, message)
    }

    fn error_at(&self, column: usize, message: String) -> TraceError {
        TraceError::Row { file: self.path.to_path_buf(), line: self.line, column, message }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn err(result: Result<Vec<OpenbPod>, TraceError>) -> String {
        match result {
            Ok(p) => panic!("expected an error, got {p:?}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn pods_parse_with_and_without_spec() {
        let text = "name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec\np0,1000,2048,1,460,\np1,8000,1024,2,1000,V100M16|V100M32\np2,500,64,0,0,\n";
        let pods = parse_pods(Path::new("p.csv"), text).unwrap();
        assert_eq!(pods[0].gpu, GpuRequest::Fraction(GpuMillis(460)));
        assert_eq!(pods[1].gpu, GpuRequest::Whole(2));
        assert_eq!(pods[1].gpu_spec, vec!["V100M16", "V100M32"]);
        assert_eq!(pods[2].gpu, GpuRequest::None);
        let short = "name,cpu_milli,memory_mib,num_gpu,gpu_milli\np0,1000,2048,4,1000\n";
        assert_eq!(parse_pods(Path::new("m.csv"), short).unwrap()[0].gpu, GpuRequest::Whole(4));
    }

    #[test]
    fn spot_inventory_rows_become_nodes_and_bad_ones_are_located() {
        let text = "gpu_model,gpu_capacity_num,cpu_num,node_name\nA10,1,128,2\nH800,8,192,3\n";
        let nodes = parse_spot_nodes(Path::new("spot.csv"), text).unwrap();
        assert_eq!(
            nodes[1],
            OpenbNode {
                name: "spot-3".into(),
                cpu_milli: 192_000,
                memory_mib: 192 * 4096,
                gpus: 8,
                model: "H800".into()
            }
        );
        let bad = "gpu_model,gpu_capacity_num,cpu_num,node_name\nA10,one,128,2\n";
        let e = parse_spot_nodes(Path::new("spot.csv"), bad).unwrap_err().to_string();
        assert!(e.starts_with("spot.csv:2:5: `one` is not a non-negative integer"), "{e}");
        let header = parse_spot_nodes(Path::new("spot.csv"), "sn,cpu_milli\n").unwrap_err().to_string();
        assert!(header.starts_with("spot.csv:1:1: header: expected column 1 to be `gpu_model`"), "{header}");
    }

    #[test]
    fn errors_name_file_line_and_column() {
        let head = "name,cpu_milli,memory_mib,num_gpu,gpu_milli\n";
        let bad_number = format!("{head}p0,1000,2048,1,460\np1,12x0,2048,1,460\n");
        assert_eq!(
            err(parse_pods(Path::new("pods.csv"), &bad_number)),
            "pods.csv:3:4: `12x0` is not a non-negative integer (invalid digit found in string)"
        );
        let short = format!("{head}p0,1000,2048\n");
        assert_eq!(err(parse_pods(Path::new("pods.csv"), &short)), "pods.csv:2:13: expected 5 fields, found 3");
        let share = format!("{head}p0,1000,2048,2,500\n");
        assert!(
            err(parse_pods(Path::new("pods.csv"), &share)).starts_with("pods.csv:2:14: num_gpu 2 with gpu_milli 500")
        );
        let header = "name,cpu,memory_mib,num_gpu,gpu_milli\n";
        assert_eq!(
            err(parse_pods(Path::new("pods.csv"), header)),
            "pods.csv:1:6: header: expected column 2 to be `cpu_milli`, found `cpu`"
        );
    }

    #[test]
    fn nodes_parse() {
        let text = "sn,cpu_milli,memory_mib,gpu,model\nn0,64000,262144,2,P100\n";
        let nodes = parse_nodes(Path::new("n.csv"), text).unwrap();
        assert_eq!(
            nodes,
            vec![OpenbNode { name: "n0".into(), cpu_milli: 64000, memory_mib: 262144, gpus: 2, model: "P100".into() }]
        );
        let bad = "sn,cpu_milli,memory_mib,gpu,model\nn0,64000,262144,-2,P100\n";
        let e = parse_nodes(Path::new("n.csv"), bad).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(e.starts_with("n.csv:2:17: `-2` is not"), "{e}");
    }
}
