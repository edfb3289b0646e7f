//! End-to-end runs of the data pipeline on the small committed corpus in `tests/data`: the golden
//! run, resuming after a kill, bad input, and a foreign output directory.
//!
//! `UPDATE_GOLDEN=1 cargo test -p strata-dataprep --test e2e` rewrites the golden files.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use strata_dataprep::{plan_cluster, run_pipeline, scan_part, BadKind, Error, Phase, Pipeline, Report, RunOptions};

const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data");

/// Copies the corpus and pipeline into a fresh directory, compressing `b` with gzip and `c`
/// with zstd so all three readers are exercised.
fn workspace() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let corpus = dir.path().join("corpus");
    std::fs::create_dir(&corpus).unwrap();
    for name in ["a.jsonl", "b.jsonl", "c.jsonl", "bad.jsonl", "empty.jsonl"] {
        let bytes = std::fs::read(Path::new(DATA).join("corpus").join(name)).unwrap();
        match name {
            "b.jsonl" => {
                let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
                gz.write_all(&bytes).unwrap();
                std::fs::write(corpus.join("b.jsonl.gz"), gz.finish().unwrap()).unwrap();
            }
            "c.jsonl" => std::fs::write(corpus.join("c.jsonl.zst"), zstd::encode_all(&bytes[..], 3).unwrap()).unwrap(),
            _ => std::fs::write(corpus.join(name), bytes).unwrap(),
        }
    }
    std::fs::copy(Path::new(DATA).join("pipeline.toml"), dir.path().join("pipeline.toml")).unwrap();
    dir
}

fn pipeline(dir: &Path) -> Pipeline {
    Pipeline::load(&dir.join("pipeline.toml")).unwrap()
}

fn options(out: &Path) -> RunOptions {
    RunOptions { output: Some(out.to_path_buf()), threads: Some(2), ..Default::default() }
}

/// Every output document, shard by shard, as JSON lines.
fn output_lines(out: &Path, report: &Report) -> String {
    let mut all = String::new();
    for shard in &report.output.shards {
        let file = std::fs::File::open(out.join(shard)).unwrap();
        let mut text = String::new();
        zstd::Decoder::new(file).unwrap().read_to_string(&mut text).unwrap();
        all.push_str(&text);
    }
    all
}

/// The report without its timing, for comparisons.
fn report_json(report: &Report) -> String {
    let mut report = report.clone();
    report.elapsed_secs = 0.0;
    serde_json::to_string_pretty(&report).unwrap() + "\n"
}

fn golden(name: &str, actual: &str) {
    let path = PathBuf::from(DATA).join("expected").join(name);
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, actual).unwrap();
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(expected == actual, "{name} differs from the golden file; rerun with UPDATE_GOLDEN=1 and review the diff");
}

#[test]
fn golden_run() {
    let dir = workspace();
    let out = dir.path().join("out");
    let report = run_pipeline(&pipeline(dir.path()), &options(&out)).unwrap();
    let lines = output_lines(&out, &report);
    golden("output.jsonl", &lines);
    golden("report.json", &report_json(&report));

    // The points the corpus was written to show, checked by name as well as by snapshot.
    let ids: Vec<String> =
        lines.lines().map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["id"].to_string()).collect();
    for kept in ["\"a01\"", "\"a02\"", "\"a00\"", "\"9\""] {
        assert!(ids.contains(&kept.to_string()), "{kept} missing from {ids:?}");
    }
    for gone in ["\"b01\"", "\"b05\"", "\"a03\"", "\"b02\"", "\"a04\"", "\"a05\"", "\"a08\""] {
        assert!(!ids.contains(&gone.to_string()), "{gone} kept");
    }
    assert!(lines.contains("<EMAIL>") && lines.contains("<PHONE>") && lines.contains("<CREDIT_CARD>"));
    let a01: serde_json::Value =
        serde_json::from_str(lines.lines().find(|l| l.contains(r#""id":"a01""#)).unwrap()).unwrap();
    assert_eq!(a01["meta"], serde_json::json!({"tags": ["sea", "history"], "year": 1901}), "other fields kept as read");
    assert!(!lines.contains("4111 1111") && !lines.contains("AKIA"));
    assert_eq!(report.input.bad.get(&BadKind::MalformedJson), Some(&2));
    assert_eq!(report.input.bad.get(&BadKind::MissingText), Some(&2));
    assert_eq!(report.input.bad.get(&BadKind::InvalidUtf8), Some(&1));
    assert_eq!(report.input.bad.get(&BadKind::EmptyFile), Some(&1));
    let bad = &report.input.bad_lines[0];
    assert_eq!((bad.file.as_str(), bad.line), ("corpus/bad.jsonl", 2));
    assert!(out.join("report.txt").exists());
    let on_disk: Report = serde_json::from_slice(&std::fs::read(out.join("report.json")).unwrap()).unwrap();
    assert_eq!(report_json(&on_disk), report_json(&report));

    // Rerunning a finished run changes nothing.
    let again = run_pipeline(&pipeline(dir.path()), &options(&out)).unwrap();
    assert_eq!(report_json(&again), report_json(&report));
}

#[test]
fn resumes_after_a_kill_without_losing_or_duplicating() {
    let dir = workspace();
    let reference_out = dir.path().join("reference");
    let reference = run_pipeline(&pipeline(dir.path()), &options(&reference_out)).unwrap();

    let out = dir.path().join("out");
    let stop = |phase, files| RunOptions { stop_after_files: Some((phase, files)), ..options(&out) };
    let killed = run_pipeline(&pipeline(dir.path()), &stop(Phase::Scan, 2));
    assert!(matches!(killed, Err(Error::Interrupted { .. })), "{killed:?}");
    let killed = run_pipeline(&pipeline(dir.path()), &stop(Phase::Write, 1));
    assert!(matches!(killed, Err(Error::Interrupted { .. })), "{killed:?}");
    // What a kill mid-write leaves: a temporary file and a half-written shard of an unfinished file.
    let unfinished = (0..5).find(|i| !out.join(format!(".strata-work/{i:05}.done")).exists()).unwrap();
    std::fs::write(out.join(format!("part-{unfinished:05}-0000.jsonl.zst")), b"garbage").unwrap();
    std::fs::write(out.join(format!("part-{unfinished:05}-0001.jsonl.zst.tmp")), b"garbage").unwrap();

    let resumed = run_pipeline(&pipeline(dir.path()), &options(&out)).unwrap();
    assert_eq!(report_json(&resumed), report_json(&reference));
    assert_eq!(output_lines(&out, &resumed), output_lines(&reference_out, &reference));
    let mut files: Vec<String> =
        std::fs::read_dir(&out).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    files.sort();
    let mut expected: Vec<String> = reference.output.shards.clone();
    expected.extend([".strata-work", "report.json", "report.txt"].map(String::from));
    expected.sort();
    assert_eq!(files, expected);
}

/// What `--on-cluster` does, with threads standing in for the agents' jobs: shards of files
/// scanned side by side into one output directory, then the merge, equal a local run.
#[test]
fn shards_scanned_apart_then_merged_equal_a_local_run() {
    let dir = workspace();
    let reference_out = dir.path().join("reference");
    let reference = run_pipeline(&pipeline(dir.path()), &options(&reference_out)).unwrap();

    let out = dir.path().join("out");
    let p = pipeline(dir.path());
    let plan = plan_cluster(&p, &options(&out), 3).unwrap();
    assert_eq!((plan.files, plan.already_scanned, plan.shards.len()), (5, 0, 3), "{plan:?}");
    // A scan cleans up only its own files' leftovers: this one belongs to a shard still running.
    let other = plan.shards[2][0];
    let leftover = out.join(format!(".strata-work/{other:05}.docs.tmp"));
    std::fs::write(&leftover, b"being written").unwrap();
    scan_part(&p, &options(&out), &plan.shards[0]).unwrap();
    assert!(leftover.exists(), "a scan removed another shard's file");
    std::thread::scope(|s| {
        for shard in &plan.shards[1..] {
            let (p, opts) = (&p, options(&out));
            s.spawn(move || scan_part(p, &opts, shard).unwrap());
        }
    });
    let again = plan_cluster(&p, &options(&out), 3).unwrap();
    assert_eq!((again.already_scanned, again.shards.len()), (5, 0), "nothing left to hand out");
    assert_eq!(scan_part(&p, &options(&out), &plan.shards[0]).unwrap(), 0, "a repeated shard does no work");
    let err = scan_part(&p, &options(&out), &[7]).unwrap_err();
    assert!(err.to_string().contains("input file 7 does not exist"), "{err}");

    let merged = run_pipeline(&p, &options(&out)).unwrap();
    assert_eq!(report_json(&merged), report_json(&reference));
    assert_eq!(output_lines(&out, &merged), output_lines(&reference_out, &reference));
}

#[test]
fn strict_run_stops_at_the_first_bad_line() {
    let dir = workspace();
    let text = std::fs::read_to_string(dir.path().join("pipeline.toml")).unwrap();
    std::fs::write(dir.path().join("pipeline.toml"), text.replace("[input]\n", "[input]\nstrict = true\n")).unwrap();
    let only_bad =
        RunOptions { inputs: Some(vec![dir.path().join("corpus/bad.jsonl")]), ..options(&dir.path().join("out")) };
    match run_pipeline(&pipeline(dir.path()), &only_bad) {
        Err(Error::BadInput(bad)) => {
            assert_eq!((bad.line, bad.kind), (2, BadKind::MalformedJson));
            assert!(bad.file.ends_with("corpus/bad.jsonl"));
        }
        other => panic!("expected a bad-input error, got {other:?}"),
    }
}

#[test]
fn refuses_an_output_directory_of_another_pipeline() {
    let dir = workspace();
    let out = dir.path().join("out");
    run_pipeline(&pipeline(dir.path()), &options(&out)).unwrap();
    let text = std::fs::read_to_string(dir.path().join("pipeline.toml")).unwrap();
    std::fs::write(dir.path().join("pipeline.toml"), text.replace("max_docs_per_shard = 3", "max_docs_per_shard = 4"))
        .unwrap();
    let err = run_pipeline(&pipeline(dir.path()), &options(&out)).unwrap_err();
    assert!(matches!(err, Error::ForeignRun { .. }), "{err}");
}

#[test]
fn cli_parses_run_and_example() {
    use clap::Parser;
    #[derive(Parser)]
    struct Cli {
        #[command(subcommand)]
        data: strata_dataprep::DataCommand,
    }
    let cli =
        Cli::try_parse_from(["strata", "run", "p.toml", "--input", "a.jsonl", "b.jsonl", "--output", "out"]).unwrap();
    match cli.data {
        strata_dataprep::DataCommand::Run(args) => {
            assert_eq!(args.input, vec![PathBuf::from("a.jsonl"), PathBuf::from("b.jsonl")]);
            assert_eq!(args.output, Some(PathBuf::from("out")));
        }
        strata_dataprep::DataCommand::Example => panic!("parsed as example"),
    }
    assert!(Cli::try_parse_from(["strata", "example"]).is_ok());
    strata_dataprep::Pipeline::parse(strata_dataprep::EXAMPLE, "example", PathBuf::new()).unwrap();
}
