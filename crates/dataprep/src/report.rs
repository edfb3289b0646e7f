//! The run report: per stage, documents and bytes in and out, removals by reason with example ids,
//! PII counts and duplicate clusters; written as `report.json` and as a readable `report.txt`.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use crate::input::{BadInput, BadKind};

/// How many example ids a reason keeps, and how many bad lines the report lists.
pub const EXAMPLES_PER_REASON: usize = 3;
pub const BAD_LINES_LISTED: usize = 100;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Removal {
    pub count: u64,
    /// The first ids removed for this reason, in input order.
    pub examples: Vec<String>,
}

/// One stage's numbers.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StageStats {
    pub stage: String,
    pub documents_in: u64,
    pub documents_out: u64,
    pub bytes_in: u64,
    pub bytes_out: u64,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub removed: BTreeMap<String, Removal>,
    /// PII replaced, by kind.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub pii: BTreeMap<String, u64>,
    /// Duplicate clusters: the kept id and the removed ones.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub clusters: Vec<ClusterReport>,
    /// Every id removed as a duplicate, in cluster order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub duplicates: Vec<String>,
}

impl StageStats {
    pub fn new(stage: &str) -> Self {
        Self { stage: stage.to_string(), ..Default::default() }
    }

    pub fn remove(&mut self, reason: String, id: &str) {
        let entry = self.removed.entry(reason).or_default();
        entry.count += 1;
        if entry.examples.len() < EXAMPLES_PER_REASON {
            entry.examples.push(id.to_string());
        }
    }

    /// Adds `other` (a later file's numbers) to these.
    pub fn merge(&mut self, other: &StageStats) {
        self.documents_in += other.documents_in;
        self.documents_out += other.documents_out;
        self.bytes_in += other.bytes_in;
        self.bytes_out += other.bytes_out;
        for (reason, r) in &other.removed {
            let entry = self.removed.entry(reason.clone()).or_default();
            entry.count += r.count;
            let room = EXAMPLES_PER_REASON.saturating_sub(entry.examples.len());
            entry.examples.extend(r.examples.iter().take(room).cloned());
        }
        for (kind, n) in &other.pii {
            *self.pii.entry(kind.clone()).or_default() += n;
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClusterReport {
    pub kept: String,
    pub removed: Vec<String>,
}

/// What phase 1 learned about one input file; kept as its checkpoint.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FileStats {
    pub file: String,
    pub lines: u64,
    pub documents: u64,
    pub bytes: u64,
    pub bad: BTreeMap<BadKind, u64>,
    pub bad_lines: Vec<BadInput>,
    pub stages: Vec<StageStats>,
}

impl FileStats {
    pub fn record_bad(&mut self, bad: BadInput) {
        *self.bad.entry(bad.kind).or_default() += 1;
        if self.bad_lines.len() < BAD_LINES_LISTED {
            self.bad_lines.push(bad);
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct InputSummary {
    pub files: u64,
    pub file_bytes: u64,
    /// Non-blank lines read.
    pub lines: u64,
    pub documents: u64,
    /// Text bytes of the documents read.
    pub bytes: u64,
    pub bad: BTreeMap<BadKind, u64>,
    /// The first bad lines, with file and line.
    pub bad_lines: Vec<BadInput>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct OutputSummary {
    pub documents: u64,
    pub bytes: u64,
    pub shards: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub input: InputSummary,
    pub stages: Vec<StageStats>,
    pub output: OutputSummary,
    /// Wall time of this invocation (a resumed run counts only its own part).
    pub elapsed_secs: f64,
}

impl Report {
    /// A summary for people.
    pub fn summary(&self) -> String {
        let mut s = String::new();
        let i = &self.input;
        let _ = writeln!(
            s,
            "input: {} files ({}), {} documents ({} of text)",
            i.files,
            mb(i.file_bytes),
            i.documents,
            mb(i.bytes)
        );
        if !i.bad.is_empty() {
            let bad: Vec<String> = i.bad.iter().map(|(k, n)| format!("{} {n}", k.name())).collect();
            let _ = writeln!(s, "bad input: {}", bad.join(", "));
            for b in i.bad_lines.iter().take(10) {
                let _ = writeln!(s, "  {b}");
            }
        }
        let _ =
            writeln!(s, "{:<20} {:>10} {:>10} {:>10} {:>12}", "stage", "docs in", "docs out", "removed", "bytes out");
        for st in &self.stages {
            let _ = writeln!(
                s,
                "{:<20} {:>10} {:>10} {:>10} {:>12}",
                st.stage,
                st.documents_in,
                st.documents_out,
                st.documents_in - st.documents_out.min(st.documents_in),
                st.bytes_out
            );
            for (reason, r) in &st.removed {
                let _ = writeln!(s, "    {reason:<28} {:>8}  e.g. {}", r.count, r.examples.join(", "));
            }
            for (kind, n) in &st.pii {
                let _ = writeln!(s, "    {kind:<28} {n:>8} replaced");
            }
            if !st.clusters.is_empty() {
                let _ = writeln!(s, "    {} clusters, {} duplicates removed", st.clusters.len(), st.duplicates.len());
            }
        }
        let _ = writeln!(
            s,
            "output: {} documents ({}) in {} shards; {:.2} s",
            self.output.documents,
            mb(self.output.bytes),
            self.output.shards.len(),
            self.elapsed_secs
        );
        s
    }
}

fn mb(bytes: u64) -> String {
    format!("{:.2} MB", bytes as f64 / 1e6)
}
