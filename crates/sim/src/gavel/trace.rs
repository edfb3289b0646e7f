//! Readers for Gavel's inputs (Narayanan et al., OSDI'20): the throughput matrix
//! (`simulation_throughputs.json`) and the Philly-derived msr traces (`traces/msr/seed=N/<vc>.trace`).
//!
//! Both become validated rows in one step. A malformed trace row is named by file, line and column
//! (1-based character position of the field); a JSON syntax error by the line and column serde_json
//! reports; a well-formed JSON key that is not Gavel's `('<model>', <scale factor>)` by its key.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum GavelError {
    #[error("{}: {source}", file.display())]
    Io { file: PathBuf, source: std::io::Error },
    #[error("{}:{line}:{column}: {message}", file.display())]
    Row { file: PathBuf, line: usize, column: usize, message: String },
    #[error("{}: {message}", file.display())]
    Shape { file: PathBuf, message: String },
}

/// The chip classes we read from the matrix, in this order everywhere.
pub const CHIPS: [&str; 3] = ["k80", "p100", "v100"];

/// Isolated throughput (steps/s of the whole gang) per `(job type, scale factor)` and chip class.
#[derive(Debug, Clone, PartialEq)]
pub struct Throughputs {
    pub table: BTreeMap<(String, u32), [f64; 3]>,
    /// Entries for two jobs sharing one GPU (read and counted; space sharing is not simulated).
    pub shared_pairs: usize,
}

impl Throughputs {
    pub fn get(&self, job_type: &str, scale_factor: u32) -> Option<[f64; 3]> {
        self.table.get(&(job_type.to_string(), scale_factor)).copied()
    }

    /// The gang's speed: measured if the matrix has `(job type, scale factor)`, else the largest
    /// measured smaller gang scaled linearly. The msr traces ask for gangs the matrix never measured
    /// (Recommendation × 4, anything × 16); linear scaling is optimistic, and the same for every policy.
    pub fn gang(&self, job_type: &str, scale_factor: u32) -> Option<[f64; 3]> {
        if let Some(t) = self.get(job_type, scale_factor) {
            return Some(t);
        }
        let (sf, t) = self
            .table
            .range((job_type.to_string(), 0)..(job_type.to_string(), scale_factor))
            .next_back()
            .map(|((_, sf), t)| (*sf, *t))?;
        let k = f64::from(scale_factor) / f64::from(sf.max(1));
        Some(t.map(|x| x * k))
    }

    /// Single-GPU job types, sorted by name: what Gavel's generator samples from.
    pub fn single_gpu_types(&self) -> Vec<String> {
        self.table.keys().filter(|(_, sf)| *sf == 1).map(|(t, _)| t.clone()).collect()
    }
}

pub fn read_throughputs(path: &Path) -> Result<Throughputs, GavelError> {
    let text = read(path)?;
    parse_throughputs(path, &text)
}

pub fn parse_throughputs(path: &Path, text: &str) -> Result<Throughputs, GavelError> {
    let root: serde_json::Value = serde_json::from_str(text).map_err(|e| GavelError::Row {
        file: path.to_path_buf(),
        line: e.line(),
        column: e.column(),
        message: e.to_string(),
    })?;
    let shape = |message: String| GavelError::Shape { file: path.to_path_buf(), message };
    let mut table: BTreeMap<(String, u32), [f64; 3]> = BTreeMap::new();
    let mut shared_pairs = 0;
    for (ci, chip) in CHIPS.iter().enumerate() {
        let per_job = root
            .get(chip)
            .and_then(|v| v.as_object())
            .ok_or_else(|| shape(format!("no object for chip `{chip}` at the top level")))?;
        for (key, entry) in per_job {
            let (job_type, sf) = parse_key(key)
                .ok_or_else(|| shape(format!("{chip}: key `{key}` is not `('<job type>', <scale factor>)`")))?;
            let isolated = entry
                .get("null")
                .and_then(|v| v.as_f64())
                .filter(|t| t.is_finite() && *t >= 0.0)
                .ok_or_else(|| shape(format!("{chip}.{key}: no non-negative number under \"null\"")))?;
            shared_pairs += entry.as_object().map_or(0, |o| o.len().saturating_sub(1));
            table.entry((job_type, sf)).or_insert([f64::NAN; 3])[ci] = isolated;
        }
    }
    // A job type measured on some chips only cannot be placed everywhere: keep only complete rows.
    table.retain(|_, t| t.iter().all(|x| x.is_finite()));
    Ok(Throughputs { table, shared_pairs })
}

/// `('ResNet-18 (batch size 16)', 1)` → (`ResNet-18 (batch size 16)`, 1).
fn parse_key(key: &str) -> Option<(String, u32)> {
    let inner = key.strip_prefix("('")?.strip_suffix(')')?;
    let (name, sf) = inner.rsplit_once("',")?;
    Some((name.to_string(), sf.trim().parse().ok()?))
}

/// One msr trace row, validated.
#[derive(Debug, Clone, PartialEq)]
pub struct MsrJob {
    pub job_type: String,
    pub total_steps: f64,
    pub arrival_s: f64,
    pub scale_factor: u32,
}

pub fn read_msr(path: &Path) -> Result<Vec<MsrJob>, GavelError> {
    let text = read(path)?;
    parse_msr(path, &text)
}

/// `job_type, command, num_steps_arg, needs_data_dir, total_steps, arrival_time_s, scale_factor`,
/// tab-separated, no header.
pub fn parse_msr(path: &Path, text: &str) -> Result<Vec<MsrJob>, GavelError> {
    let mut jobs = Vec::new();
    for (n, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let err =
            |column: usize, message: String| GavelError::Row { file: path.to_path_buf(), line: n + 1, column, message };
        let mut fields = Vec::with_capacity(7);
        let mut column = 1;
        for f in line.split('\t') {
            fields.push((column, f));
            column += f.chars().count() + 1;
        }
        if fields.len() != 7 {
            return Err(err(1, format!("expected 7 tab-separated fields, found {}", fields.len())));
        }
        let number = |i: usize, what: &str| -> Result<f64, GavelError> {
            let (col, f) = fields[i];
            f.trim()
                .parse::<f64>()
                .ok()
                .filter(|x| x.is_finite() && *x >= 0.0)
                .ok_or_else(|| err(col, format!("{what}: expected a non-negative number, found `{f}`")))
        };
        let (type_col, job_type) = fields[0];
        if job_type.trim().is_empty() {
            return Err(err(type_col, "job_type is empty".to_string()));
        }
        let total_steps = number(4, "total_steps")?;
        let arrival_s = number(5, "arrival_time_s")?;
        let (sf_col, sf) = fields[6];
        let scale_factor = sf
            .trim()
            .parse::<u32>()
            .ok()
            .filter(|&s| s > 0)
            .ok_or_else(|| err(sf_col, format!("scale_factor: expected a positive integer, found `{sf}`")))?;
        jobs.push(MsrJob { job_type: job_type.to_string(), total_steps, arrival_s, scale_factor });
    }
    Ok(jobs)
}

/// Every `<vc>.trace` in a `seed=N` folder, sorted by VC name: `(vc, jobs)`.
pub fn read_msr_dir(dir: &Path) -> Result<Vec<(String, Vec<MsrJob>)>, GavelError> {
    let io = |source| GavelError::Io { file: dir.to_path_buf(), source };
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(io)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "trace"))
        .collect();
    files.sort();
    files
        .iter()
        .map(|f| {
            let vc = f.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
            Ok((vc, read_msr(f)?))
        })
        .collect()
}

fn read(path: &Path) -> Result<String, GavelError> {
    std::fs::read_to_string(path).map_err(|source| GavelError::Io { file: path.to_path_buf(), source })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msr(text: &str) -> String {
        match parse_msr(Path::new("x.trace"), text) {
            Ok(jobs) => format!("{jobs:?}"),
            Err(e) => e.to_string(),
        }
    }

    fn check(text: &str, expected: &str) {
        assert_eq!(msr(text), expected);
    }

    #[test]
    fn msr_rows() {
        check(
            "LM (batch size 5)\tcd x\t-n\t1\t10000\t6.000000\t4\n",
            r#"[MsrJob { job_type: "LM (batch size 5)", total_steps: 10000.0, arrival_s: 6.0, scale_factor: 4 }]"#,
        );
        check(
            "A3C\tcmd\t-n\t1\tmany\t0\t1\n",
            "x.trace:1:14: total_steps: expected a non-negative number, found `many`",
        );
        check("\nA3C\tcmd\t-n\t1\t5\t0\t0\n", "x.trace:2:18: scale_factor: expected a positive integer, found `0`");
        check("A3C\tcmd\t-n\n", "x.trace:1:1: expected 7 tab-separated fields, found 3");
        check(
            "A3C\tcmd\t-n\t1\t5\t-3\t1\n",
            "x.trace:1:16: arrival_time_s: expected a non-negative number, found `-3`",
        );
    }

    #[test]
    fn throughput_matrix() {
        let json = r#"{"k80": {"('A3C', 1)": {"null": 1.5, "('A3C', 1)": [0.7, 0.7]}},
                       "p100": {"('A3C', 1)": {"null": 3.0}, "('LM', 2)": {"null": 9.0}},
                       "v100": {"('A3C', 1)": {"null": 4.0}}}"#;
        let t = parse_throughputs(Path::new("t.json"), json).map_err(|e| e.to_string());
        assert_eq!(
            t.map(|t| (t.get("A3C", 1), t.get("LM", 2), t.shared_pairs, t.single_gpu_types())),
            Ok((Some([1.5, 3.0, 4.0]), None, 1, vec!["A3C".to_string()]))
        );
        let bad = parse_throughputs(Path::new("t.json"), "{\"k80\": {\n  \"x\": ]}}").map_err(|e| e.to_string());
        assert!(matches!(&bad, Err(m) if m.starts_with("t.json:2:8: ")), "{bad:?}");
        let key = parse_throughputs(Path::new("t.json"), r#"{"k80": {"A3C": {"null": 1}}}"#).map_err(|e| e.to_string());
        assert_eq!(key, Err("t.json: k80: key `A3C` is not `('<job type>', <scale factor>)`".to_string()));
    }
}
