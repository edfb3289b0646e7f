//! Running a pipeline: scan (document stages, dedup keys), deduplicate, write — each phase
//! checkpointed per input file so a killed run resumes where it stopped.
//!
//! Deduplication must see every input before any output is final, hence three phases:
//! 1. *Scan*, input files in parallel and lines in parallel batches: parse, run the document
//!    stages, and keep the survivors (`.docs`) with their dedup keys (`.sig`) and the file's stats.
//! 2. *Dedup*: read all keys (small: an id, a hash and the band keys per document), cluster, decide
//!    which documents go. Pure and deterministic, so it is simply recomputed on resume.
//! 3. *Write*, input files in parallel: stream each `.docs` file into output shards, skipping the
//!    duplicates, then mark the file done.
//!
//! Memory is bounded by the batches in flight plus phase 2's keys, never by the corpus.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use strata_clean::dedup::{content_hash, exact_clusters, near_clusters, Cluster, DedupKey, MinHasher};

use crate::checkpoint::{read_docs, read_sigs, write_atomic, DocsWriter, SigWriter, Signatures};
use crate::config::Pipeline;
use crate::error::{Error, Result};
use crate::input::{resolve_inputs, DocReader, Fields, InputFile};
use crate::output::ShardWriter;
use crate::progress::Progress;
use crate::report::{ClusterReport, FileStats, InputSummary, OutputSummary, Report, StageStats};
use crate::stages::DocStages;
use crate::tokens::{LoadedTokenizer, Manifest, TokenShard, TokenWriter};

/// Lines parsed and processed together; bounds memory per file in flight.
const BATCH_LINES: usize = 512;

/// How a run is invoked, on top of the pipeline file.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Replaces `[input].paths` (resolved against the current directory).
    pub inputs: Option<Vec<PathBuf>>,
    /// Replaces `[output].dir`.
    pub output: Option<PathBuf>,
    /// Draw a progress bar on stderr.
    pub progress: bool,
    /// Worker threads (default: one per core).
    pub threads: Option<usize>,
    /// Test hook standing in for a kill: stop once this many files finished the given phase.
    pub stop_after_files: Option<(Phase, usize)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Scan,
    Write,
}

/// Runs `pipeline` and returns its report (also written to `DIR/report.json` and `report.txt`).
pub fn run_pipeline(pipeline: &Pipeline, options: &RunOptions) -> Result<Report> {
    with_threads(options.threads, || run_inner(pipeline, options))
}

/// Runs `work` on a pool of `threads` workers, or on rayon's global pool (one per core).
fn with_threads<T: Send>(threads: Option<usize>, work: impl FnOnce() -> Result<T> + Send) -> Result<T> {
    match threads {
        Some(n) => rayon::ThreadPoolBuilder::new()
            .num_threads(n.max(1))
            .build()
            .map_err(|e| Error::Io { path: PathBuf::from("<thread pool>"), source: std::io::Error::other(e) })?
            .install(work),
        None => work(),
    }
}

/// Where a run keeps its checkpoints, inside the output directory.
const WORK_DIR: &str = ".strata-work";

#[derive(Serialize, Deserialize, PartialEq)]
struct State {
    fingerprint: String,
}

/// What phase 3 leaves per input file.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Done {
    shards: Vec<String>,
    documents: u64,
    bytes: u64,
    #[serde(default)]
    tokens: Option<TokenShard>,
}

struct Layout {
    out: PathBuf,
    work: PathBuf,
}

impl Layout {
    fn scan(&self, i: usize, ext: &str) -> PathBuf {
        self.work.join(format!("{i:05}.{ext}"))
    }
}

/// What a run works on: its input files, in order (a file's index names its checkpoints), and
/// where it writes.
pub(crate) struct Setup {
    pub files: Vec<InputFile>,
    layout: Layout,
    pub fingerprint: String,
}

impl Setup {
    /// Whether phase 1 has finished for input file `i`.
    pub fn scanned(&self, i: usize) -> bool {
        self.layout.scan(i, "json").exists()
    }
}

/// Resolves inputs and output, and prepares the output directory (see [`prepare`]); `own` limits
/// the clean-up of half-written files to those input files (a scan running beside others).
pub(crate) fn setup(pipeline: &Pipeline, options: &RunOptions, own: Option<&[usize]>) -> Result<Setup> {
    let files = match &options.inputs {
        Some(paths) => resolve_inputs(paths, Path::new(""))?,
        None => resolve_inputs(&pipeline.input.paths, &pipeline.base_dir)?,
    };
    if files.is_empty() {
        return Err(config_error("input.paths", "no input files (set `paths` or pass --input)"));
    }
    let out = match (&options.output, &pipeline.output.dir) {
        (Some(dir), _) => dir.clone(),
        (None, Some(dir)) => pipeline.base_dir.join(dir),
        (None, None) => return Err(config_error("output.dir", "no output directory (set `dir` or pass --output)")),
    };
    let layout = Layout { work: out.join(WORK_DIR), out };
    let fingerprint = prepare(&layout, pipeline, &files, own)?;
    Ok(Setup { files, layout, fingerprint })
}

fn config_error(path: &str, message: &str) -> Error {
    Error::Config { file: "pipeline".into(), path: path.into(), message: message.into() }
}

/// The loaded stages of a pipeline; loading checks every stage's settings before any work.
struct Loaded {
    stages: DocStages,
    minhasher: Option<MinHasher>,
    tokenizer: Option<LoadedTokenizer>,
}

fn load(pipeline: &Pipeline) -> Result<Loaded> {
    let stages = DocStages::new(&pipeline.doc_stages, &pipeline.base_dir)
        .map_err(|(path, message)| config_error(&path, &message))?;
    let minhasher = match &pipeline.minhash {
        Some(c) => Some(MinHasher::new(c).map_err(|e| config_error("stages", &e.to_string()))?),
        None => None,
    };
    let tokenizer = match &pipeline.tokenize {
        Some(c) => Some(
            LoadedTokenizer::load(c, &pipeline.base_dir).map_err(|(path, message)| config_error(&path, &message))?,
        ),
        None => None,
    };
    Ok(Loaded { stages, minhasher, tokenizer })
}

/// Checks the pipeline and its inputs and prepares the output directory, without any work:
/// what a coordinator does before it hands the scan to other processes.
pub(crate) fn check(pipeline: &Pipeline, options: &RunOptions) -> Result<Setup> {
    let setup = setup(pipeline, options, None)?;
    load(pipeline)?;
    Ok(setup)
}

/// Phase 1 only, for the input files `only` (indexes into the resolved inputs): one shard of a
/// run on the cluster. Files already scanned are skipped; several such scans may share one
/// output directory as long as no file is in two of them.
pub fn scan_part(pipeline: &Pipeline, options: &RunOptions, only: &[usize]) -> Result<usize> {
    let work = || {
        let setup = setup(pipeline, options, Some(only))?;
        if let Some(&bad) = only.iter().find(|&&i| i >= setup.files.len()) {
            let message = format!("input file {bad} does not exist: the run has {} input files", setup.files.len());
            return Err(config_error("input.paths", &message));
        }
        let loaded = load(pipeline)?;
        let wanted: Vec<usize> = only.iter().copied().filter(|&i| !setup.scanned(i)).collect();
        let bytes = wanted.iter().map(|&i| setup.files[i].size).sum();
        let progress = Progress::new(options.progress, bytes);
        let scan = Scan {
            pipeline,
            stages: &loaded.stages,
            minhasher: loaded.minhasher.as_ref(),
            layout: &setup.layout,
            progress: &progress,
        };
        wanted.par_iter().try_for_each(|&i| scan.file(i, &setup.files[i]))?;
        progress.finish_scan();
        Ok(wanted.len())
    };
    with_threads(options.threads, work)
}

fn run_inner(pipeline: &Pipeline, options: &RunOptions) -> Result<Report> {
    let started = Instant::now();
    let Setup { files, layout, .. } = setup(pipeline, options, None)?;
    let Loaded { stages, minhasher, tokenizer } = load(pipeline)?;
    let total_bytes = files.iter().map(|f| f.size).sum();
    let progress = Progress::new(options.progress, total_bytes);
    let scan = Scan { pipeline, stages: &stages, minhasher: minhasher.as_ref(), layout: &layout, progress: &progress };
    let finished = AtomicUsize::new(0);
    files.par_iter().enumerate().try_for_each(|(i, file)| {
        if layout.scan(i, "json").exists() {
            progress.skip(file.size);
            return Ok(());
        }
        check_stop(options, Phase::Scan, &finished)?;
        scan.file(i, file)?;
        finished.fetch_add(1, Ordering::SeqCst);
        Ok(())
    })?;
    progress.finish_scan();

    let mut file_stats = Vec::with_capacity(files.len());
    for i in 0..files.len() {
        let path = layout.scan(i, "json");
        let bytes = std::fs::read(&path).map_err(Error::io(&path))?;
        let stats: FileStats = serde_json::from_slice(&bytes)
            .map_err(|e| Error::Checkpoint { path: path.clone(), message: e.to_string() })?;
        file_stats.push(stats);
    }
    let dedup = deduplicate(pipeline, &layout, files.len())?;

    let write_progress =
        progress.writing(dedup.kept.iter().map(|k| k.iter().filter(|&&keep| keep).count() as u64).sum());
    let finished = AtomicUsize::new(0);
    let done: Vec<Done> = files
        .par_iter()
        .enumerate()
        .map(|(i, _)| {
            let marker = layout.scan(i, "done");
            if let Ok(bytes) = std::fs::read(&marker) {
                if let Ok(done) = serde_json::from_slice::<Done>(&bytes) {
                    write_progress.inc(done.documents);
                    return Ok(done);
                }
            }
            check_stop(options, Phase::Write, &finished)?;
            let done = write_file(pipeline, &layout, i, &dedup.kept[i], tokenizer.as_ref(), &write_progress)?;
            let json = serde_json::to_vec(&done).unwrap_or_default();
            write_atomic(&marker, &json)?;
            finished.fetch_add(1, Ordering::SeqCst);
            Ok(done)
        })
        .collect::<Result<_>>()?;
    write_progress.finish_and_clear();
    for i in 0..files.len() {
        // The surviving texts are in the shards now; the keys and stats stay for a rerun.
        let _ = std::fs::remove_file(layout.scan(i, "docs"));
    }

    if let Some(loaded) = &tokenizer {
        let manifest = Manifest::new(loaded, done.iter().filter_map(|d| d.tokens.clone()).collect());
        let json = serde_json::to_vec_pretty(&manifest).unwrap_or_default();
        write_atomic(&layout.out.join("tokens.json"), &json)?;
    }
    let report = build_report(&files, file_stats, dedup.stages, done, started);
    let json = serde_json::to_vec_pretty(&report).unwrap_or_default();
    write_atomic(&layout.out.join("report.json"), &json)?;
    write_atomic(&layout.out.join("report.txt"), report.summary().as_bytes())?;
    Ok(report)
}

fn check_stop(options: &RunOptions, phase: Phase, finished: &AtomicUsize) -> Result<()> {
    match options.stop_after_files {
        Some((p, n)) if p == phase && finished.load(Ordering::SeqCst) >= n => Err(Error::Interrupted {
            phase: match phase {
                Phase::Scan => "scan",
                Phase::Write => "write",
            },
            files: n,
        }),
        _ => Ok(()),
    }
}

/// The version of the `.docs`/`.sig` files a run keeps between its phases (2: `.docs` records
/// carry the other fields).
const WORK_FORMAT: u32 = 2;

/// Creates the directories, checks a resumed run is the same run, and removes what a killed run
/// left half-written.
fn prepare(layout: &Layout, pipeline: &Pipeline, files: &[InputFile], own: Option<&[usize]>) -> Result<String> {
    std::fs::create_dir_all(&layout.work).map_err(Error::io(&layout.work))?;
    // The work files' format is part of the run: a run started by a build that wrote them
    // differently is refused, not misread.
    let mut id = format!("{:032x}|work format {WORK_FORMAT}", pipeline.fingerprint());
    for f in files {
        id.push_str(&format!("|{}|{}|{}", f.name, f.size, f.modified_ns));
    }
    let state = State { fingerprint: format!("{:032x}", xxhash_rust::xxh3::xxh3_128(id.as_bytes())) };
    let state_path = layout.work.join("state.json");
    match std::fs::read(&state_path) {
        Ok(bytes) => {
            if serde_json::from_slice::<State>(&bytes).ok().as_ref() != Some(&state) {
                return Err(Error::ForeignRun { dir: layout.out.clone() });
            }
        }
        Err(_) => write_atomic(&state_path, &serde_json::to_vec(&state).unwrap_or_default())?,
    }
    let owned = |path: &Path| match own {
        None => true,
        Some(own) => {
            let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            own.iter().any(|i| name.starts_with(&format!("{i:05}.")))
        }
    };
    for dir in [&layout.out, &layout.work] {
        for entry in std::fs::read_dir(dir).map_err(Error::io(dir))? {
            let path = entry.map_err(Error::io(dir))?.path();
            if path.extension().is_some_and(|e| e == "tmp") && owned(&path) {
                std::fs::remove_file(&path).map_err(Error::io(&path))?;
            }
        }
    }
    Ok(state.fingerprint)
}

/// Phase 1 for one file.
struct Scan<'a> {
    pipeline: &'a Pipeline,
    stages: &'a DocStages,
    minhasher: Option<&'a MinHasher>,
    layout: &'a Layout,
    progress: &'a Progress,
}

/// One processed line: a bad line, or a document with what the stages made of it.
type LineOutcome =
    std::result::Result<(String, String, usize, crate::stages::Processed, u128, Vec<u64>), crate::input::BadInput>;

impl Scan<'_> {
    fn file(&self, i: usize, file: &InputFile) -> Result<()> {
        let strict = self.pipeline.input.strict;
        let input = &self.pipeline.input;
        let fields = Fields { id: &input.id_field, text: &input.text_field, keep_others: input.keep_fields };
        let mut stats = FileStats {
            file: file.name.clone(),
            stages: self.pipeline.doc_stages.iter().map(|s| StageStats::new(s.name())).collect(),
            ..Default::default()
        };
        let counter = Arc::new(AtomicU64::new(0));
        let mut reader = DocReader::open(file, fields, counter.clone())?;
        let bands = self.minhasher.map_or(0, |m| m.config().bands);
        let mut docs = DocsWriter::create_docs(&self.layout.scan(i, "docs"))?;
        let mut sigs = SigWriter::create_sig(&self.layout.scan(i, "sig"), bands)?;
        let mut batch = Vec::with_capacity(BATCH_LINES);
        let mut reported_bytes = 0;
        loop {
            let bad_read = reader.next_batch(BATCH_LINES, &mut batch);
            let read_now = batch.len() as u64;
            let outcomes: Vec<LineOutcome> = batch
                .par_drain(..)
                .map(|pending| {
                    let doc = pending.into_doc(&file.name, fields)?;
                    let bytes_in = doc.text.len();
                    let processed = self.stages.process(doc.text);
                    let (content, band_keys) = match (&processed.removed, self.minhasher) {
                        (None, Some(m)) => (content_hash(&processed.text), m.band_keys_of(&processed.text)),
                        (None, None) => (content_hash(&processed.text), Vec::new()),
                        (Some(_), _) => (0, Vec::new()),
                    };
                    Ok((doc.id, doc.meta, bytes_in, processed, content, band_keys))
                })
                .collect();
            let (mut kept, mut removed) = (0, 0);
            for outcome in outcomes {
                stats.lines += 1;
                let (id, meta, bytes_in, processed, content, band_keys) = match outcome {
                    Ok(ok) => ok,
                    Err(bad) if strict => return Err(Error::BadInput(bad)),
                    Err(bad) => {
                        stats.record_bad(bad);
                        continue;
                    }
                };
                stats.documents += 1;
                stats.bytes += bytes_in as u64;
                record_stages(&mut stats.stages, &id, bytes_in, &processed);
                if processed.removed.is_none() {
                    docs.doc(&id, &processed.text, &meta)?;
                    sigs.sig(&id, content, processed.text.len() as u64, &band_keys)?;
                    kept += 1;
                } else {
                    removed += 1;
                }
            }
            if let Some(bad) = bad_read {
                if strict {
                    return Err(Error::BadInput(bad));
                }
                stats.record_bad(bad);
            }
            let read = counter.load(Ordering::Relaxed);
            self.progress.scanned(read_now, read - reported_bytes, kept, removed);
            reported_bytes = read;
            if reader.is_done() && read_now == 0 {
                break;
            }
        }
        self.progress.skip(file.size.saturating_sub(reported_bytes));
        docs.finish()?;
        sigs.finish()?;
        let json = serde_json::to_vec(&stats).unwrap_or_default();
        write_atomic(&self.layout.scan(i, "json"), &json)
    }
}

/// Adds one document's passage through the document stages to their stats.
fn record_stages(stages: &mut [StageStats], id: &str, bytes_in: usize, processed: &crate::stages::Processed) {
    let mut bytes = bytes_in as u64;
    for (s, st) in stages.iter_mut().enumerate() {
        st.documents_in += 1;
        st.bytes_in += bytes;
        match processed.bytes_after.get(s) {
            Some(&after) => {
                bytes = after as u64;
                st.documents_out += 1;
                st.bytes_out += bytes;
            }
            None => {
                if let Some((_, reason)) = processed.removed {
                    st.remove(reason.to_string(), id);
                }
                break;
            }
        }
    }
    if processed.pii.total() > 0 {
        if let Some(st) = stages.iter_mut().find(|st| st.stage == "pii") {
            for (kind, n) in processed.pii.iter() {
                *st.pii.entry(kind.name().to_string()).or_default() += n;
            }
        }
    }
}

/// Phase 2's decision: per input file, per surviving document, whether it is kept.
struct Dedup {
    kept: Vec<Vec<bool>>,
    stages: Vec<StageStats>,
}

fn deduplicate(pipeline: &Pipeline, layout: &Layout, n_files: usize) -> Result<Dedup> {
    let bands = pipeline.minhash.as_ref().map_or(0, |m| m.bands);
    let mut sigs = Signatures::default();
    let mut counts = Vec::with_capacity(n_files);
    for i in 0..n_files {
        counts.push(read_sigs(&layout.scan(i, "sig"), bands, &mut sigs)?);
    }
    let n = sigs.ids.len();
    let mut keep = vec![true; n];
    let mut stages = Vec::new();
    let keys: Vec<DedupKey<'_>> =
        sigs.ids.iter().zip(&sigs.contents).map(|(id, &content)| DedupKey { id, content }).collect();
    if pipeline.exact_dedup {
        let clusters = exact_clusters(&keys);
        stages.push(dedup_stats("exact_dedup", &keys, &sigs.bytes, &mut keep, &clusters, |i| i));
    }
    if pipeline.minhash.is_some() {
        let survivors: Vec<usize> = (0..n).filter(|&i| keep[i]).collect();
        let sub_keys: Vec<DedupKey<'_>> = survivors.iter().map(|&i| keys[i]).collect();
        let sub_bands: Vec<u64> =
            survivors.iter().flat_map(|&i| sigs.band_keys[i * bands..(i + 1) * bands].iter().copied()).collect();
        let clusters = near_clusters(&sub_keys, &sub_bands, bands);
        stages.push(dedup_stats("minhash_dedup", &keys, &sigs.bytes, &mut keep, &clusters, |j| survivors[j]));
    }
    let mut kept = Vec::with_capacity(n_files);
    let mut start = 0;
    for count in counts {
        kept.push(keep[start..start + count].to_vec());
        start += count;
    }
    Ok(Dedup { kept, stages })
}

/// Applies one dedup stage's clusters to `keep` and describes it; `global` maps a cluster's
/// indexes to positions in `keys`.
fn dedup_stats(
    name: &str,
    keys: &[DedupKey<'_>],
    bytes: &[u64],
    keep: &mut [bool],
    clusters: &[Cluster],
    global: impl Fn(usize) -> usize,
) -> StageStats {
    let mut st = StageStats::new(name);
    for (i, _) in keep.iter().enumerate().filter(|(_, k)| **k) {
        st.documents_in += 1;
        st.bytes_in += bytes[i];
    }
    for c in clusters {
        let removed: Vec<String> = c.removed.iter().map(|&j| keys[global(j)].id.to_string()).collect();
        for &j in &c.removed {
            keep[global(j)] = false;
            st.remove("duplicate".into(), keys[global(j)].id);
        }
        st.duplicates.extend(removed.iter().cloned());
        st.clusters.push(ClusterReport { kept: keys[global(c.kept)].id.to_string(), removed });
    }
    for (i, _) in keep.iter().enumerate().filter(|(_, k)| **k) {
        st.documents_out += 1;
        st.bytes_out += bytes[i];
    }
    st
}

/// Phase 3 for one file: its kept documents into shards.
fn write_file(
    pipeline: &Pipeline,
    layout: &Layout,
    i: usize,
    kept: &[bool],
    tokenizer: Option<&LoadedTokenizer>,
    progress: &indicatif::ProgressBar,
) -> Result<Done> {
    let prefix = ShardWriter::prefix(i);
    for entry in std::fs::read_dir(&layout.out).map_err(Error::io(&layout.out))? {
        let path = entry.map_err(Error::io(&layout.out))?.path();
        if path.file_name().is_some_and(|n| n.to_string_lossy().starts_with(&prefix)) {
            std::fs::remove_file(&path).map_err(Error::io(&path))?;
        }
    }
    let fields = (pipeline.input.id_field.clone(), pipeline.input.text_field.clone());
    let mut shards = ShardWriter::new(&layout.out, i, &pipeline.output, fields, pipeline.input.keep_fields);
    let mut tokens = tokenizer.map(|t| TokenWriter::new(t, &layout.out, &prefix)).transpose()?;
    let docs = layout.scan(i, "docs");
    read_docs(&docs, |ordinal, id, text, meta| {
        if kept.get(ordinal).copied().unwrap_or(false) {
            shards.write(&id, &text, &meta)?;
            if let Some(t) = tokens.as_mut() {
                t.write(&text)?;
            }
            progress.inc(1);
        }
        Ok(())
    })?;
    let tokens = tokens.map(TokenWriter::finish).transpose()?;
    let (shards, documents, bytes) = shards.finish()?;
    Ok(Done { shards, documents, bytes, tokens })
}

fn build_report(
    files: &[InputFile],
    file_stats: Vec<FileStats>,
    dedup_stages: Vec<StageStats>,
    done: Vec<Done>,
    started: Instant,
) -> Report {
    let mut input = InputSummary { files: files.len() as u64, ..Default::default() };
    input.file_bytes = files.iter().map(|f| f.size).sum();
    let mut stages: Vec<StageStats> = Vec::new();
    for fs in file_stats {
        input.lines += fs.lines;
        input.documents += fs.documents;
        input.bytes += fs.bytes;
        for (kind, n) in fs.bad {
            *input.bad.entry(kind).or_default() += n;
        }
        let room = crate::report::BAD_LINES_LISTED.saturating_sub(input.bad_lines.len());
        input.bad_lines.extend(fs.bad_lines.into_iter().take(room));
        if stages.is_empty() {
            stages = fs.stages.iter().map(|s| StageStats::new(&s.stage)).collect();
        }
        for (total, st) in stages.iter_mut().zip(&fs.stages) {
            total.merge(st);
        }
    }
    stages.extend(dedup_stages);
    let mut output = OutputSummary::default();
    for d in done {
        output.documents += d.documents;
        output.bytes += d.bytes;
        output.shards.extend(d.shards);
    }
    Report { input, stages, output, elapsed_secs: started.elapsed().as_secs_f64() }
}
