//! Parquet in and out: the committed corpus converted to Parquet (with the id column last and
//! columns the run must skip) gives the same documents, stages and duplicates as the JSON Lines
//! run, written as Parquet shards; bad Parquet files are counted like bad JSON lines.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Read;
use std::path::Path;
use std::sync::Arc;

use parquet::data_type::{ByteArray, ByteArrayType, Int64Type};
use parquet::file::properties::WriterProperties;
use parquet::file::reader::{FileReader, SerializedFileReader};
use parquet::file::writer::SerializedFileWriter;
use parquet::record::Field;
use parquet::schema::parser::parse_message_type;
use strata_dataprep::{run_pipeline, BadKind, Compression, Format, Pipeline, Report, RunOptions};

const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data");

/// One document of a test file: `None` text is written as a null.
struct Row<'a> {
    id: Option<&'a str>,
    text: Option<&'a str>,
}

/// Writes `rows` with the text first, two columns to skip, and the id last.
fn write_parquet(path: &Path, rows: &[Row<'_>]) {
    let schema = parse_message_type(
        "message doc { optional binary text (UTF8); optional binary source (UTF8); required int64 n; \
         optional binary id (UTF8); }",
    )
    .unwrap();
    let file = std::fs::File::create(path).unwrap();
    let mut writer =
        SerializedFileWriter::new(file, Arc::new(schema), Arc::new(WriterProperties::builder().build())).unwrap();
    let mut group = writer.next_row_group().unwrap();
    let strings = |get: &dyn Fn(&Row<'_>) -> Option<String>| {
        let values: Vec<ByteArray> = rows.iter().filter_map(get).map(|s| ByteArray::from(s.as_str())).collect();
        let levels: Vec<i16> = rows.iter().map(|r| i16::from(get(r).is_some())).collect();
        (values, levels)
    };
    for column in 0..4 {
        let mut writer = group.next_column().unwrap().unwrap();
        if column == 2 {
            let n: Vec<i64> = (0..rows.len() as i64).collect();
            writer.typed::<Int64Type>().write_batch(&n, None, None).unwrap();
        } else {
            let (values, levels) = match column {
                0 => strings(&|r| r.text.map(str::to_string)),
                1 => strings(&|_| Some("web".to_string())),
                _ => strings(&|r| r.id.map(str::to_string)),
            };
            writer.typed::<ByteArrayType>().write_batch(&values, Some(&levels), None).unwrap();
        }
        writer.close().unwrap();
    }
    group.close().unwrap();
    writer.close().unwrap();
}

/// The corpus's good files, each as JSON Lines and as Parquet, in two directories.
fn corpora(dir: &Path) -> (std::path::PathBuf, std::path::PathBuf) {
    let (jsonl, parquet) = (dir.join("jsonl"), dir.join("parquet"));
    std::fs::create_dir_all(&jsonl).unwrap();
    std::fs::create_dir_all(&parquet).unwrap();
    for name in ["a", "b", "c"] {
        let text = std::fs::read_to_string(Path::new(DATA).join(format!("corpus/{name}.jsonl"))).unwrap();
        std::fs::write(jsonl.join(format!("{name}.jsonl")), &text).unwrap();
        let docs: Vec<serde_json::Value> =
            text.lines().filter(|l| !l.trim().is_empty()).map(|l| serde_json::from_str(l).unwrap()).collect();
        // The corpus has a numeric id; a Parquet id column holds strings.
        let ids: Vec<Option<String>> = docs
            .iter()
            .map(|d| d["id"].as_str().map(str::to_string).or_else(|| d["id"].as_u64().map(|n| n.to_string())))
            .collect();
        let rows: Vec<Row<'_>> =
            docs.iter().zip(&ids).map(|(d, id)| Row { id: id.as_deref(), text: d["text"].as_str() }).collect();
        write_parquet(&parquet.join(format!("{name}.parquet")), &rows);
    }
    (jsonl, parquet)
}

fn pipeline() -> Pipeline {
    Pipeline::load(&Path::new(DATA).join("pipeline.toml")).unwrap()
}

fn run(pipeline: &Pipeline, input: &Path, out: &Path) -> Report {
    let options = RunOptions {
        inputs: Some(vec![input.to_path_buf()]),
        output: Some(out.to_path_buf()),
        threads: Some(2),
        ..Default::default()
    };
    run_pipeline(pipeline, &options).unwrap()
}

/// Every `(id, text)` of a Parquet shard, in order.
fn parquet_docs(path: &Path) -> Vec<(String, String)> {
    let reader = SerializedFileReader::new(std::fs::File::open(path).unwrap()).unwrap();
    reader
        .get_row_iter(None)
        .unwrap()
        .map(|row| {
            let columns = row.unwrap().into_columns();
            let get = |name: &str| match &columns.iter().find(|(n, _)| n == name).unwrap().1 {
                Field::Str(s) => s.clone(),
                other => panic!("{name} is {other}"),
            };
            (get("id"), get("text"))
        })
        .collect()
}

fn jsonl_docs(path: &Path) -> Vec<(String, String)> {
    let mut text = String::new();
    zstd::Decoder::new(std::fs::File::open(path).unwrap()).unwrap().read_to_string(&mut text).unwrap();
    text.lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            (v["id"].as_str().unwrap().to_string(), v["text"].as_str().unwrap().to_string())
        })
        .collect()
}

#[test]
fn parquet_in_and_out_keeps_what_the_jsonl_run_keeps() {
    let dir = tempfile::tempdir().unwrap();
    let (jsonl, parquet) = corpora(dir.path());
    let from_jsonl = run(&pipeline(), &jsonl, &dir.path().join("out-jsonl"));
    let mut as_parquet = pipeline();
    as_parquet.output.format = Format::Parquet;
    let out = dir.path().join("out-parquet");
    let from_parquet = run(&as_parquet, &parquet, &out);

    assert!(from_parquet.input.bad.is_empty(), "{:?}", from_parquet.input.bad_lines);
    assert_eq!(from_parquet.stages, from_jsonl.stages, "every stage removes the same documents for the same reasons");
    assert_eq!(from_parquet.input.documents, from_jsonl.input.documents);
    assert_eq!(from_parquet.input.bytes, from_jsonl.input.bytes);
    assert!(from_parquet.input.bad.is_empty(), "{:?}", from_parquet.input.bad_lines);
    assert!(from_parquet.output.shards.iter().all(|s| s.ends_with(".parquet")), "{:?}", from_parquet.output.shards);
    assert_eq!(from_parquet.output.shards.len(), from_jsonl.output.shards.len(), "rotated after 3 documents");
    let read = |report: &Report, out: &Path, read: fn(&Path) -> Vec<(String, String)>| {
        report.output.shards.iter().flat_map(|s| read(&out.join(s))).collect::<Vec<_>>()
    };
    let expected = read(&from_jsonl, &dir.path().join("out-jsonl"), jsonl_docs);
    assert!(expected.len() >= 5, "the golden run keeps documents: {}", expected.len());
    assert_eq!(read(&from_parquet, &out, parquet_docs), expected);

    // The columns the stages skip come back, per row, as the metadata column's JSON.
    let metas: Vec<serde_json::Value> = from_parquet
        .output
        .shards
        .iter()
        .flat_map(|s| column(&out.join(s), "metadata"))
        .map(|m| serde_json::from_str(&m).unwrap())
        .collect();
    assert_eq!(metas.len(), expected.len());
    assert!(
        metas.iter().all(|m| m["source"] == "web" && m["n"].is_u64() && m.as_object().unwrap().len() == 2),
        "{metas:?}"
    );
    let mut bare = as_parquet.clone();
    bare.input.keep_fields = false;
    let bare_out = dir.path().join("out-bare");
    let report = run(&bare, &parquet, &bare_out);
    let reader =
        SerializedFileReader::new(std::fs::File::open(bare_out.join(&report.output.shards[0])).unwrap()).unwrap();
    assert_eq!(
        reader.metadata().file_metadata().schema_descr().num_columns(),
        2,
        "keep_fields = false: id and text only"
    );
}

/// One string column of a Parquet shard, in order.
fn column(path: &Path, name: &str) -> Vec<String> {
    let reader = SerializedFileReader::new(std::fs::File::open(path).unwrap()).unwrap();
    reader
        .get_row_iter(None)
        .unwrap()
        .map(|row| match &row.unwrap().into_columns().into_iter().find(|(n, _)| n == name).unwrap().1 {
            Field::Str(s) => s.clone(),
            other => panic!("{name} is {other}"),
        })
        .collect()
}

#[test]
fn every_page_compression_reads_back() {
    let dir = tempfile::tempdir().unwrap();
    let (_, parquet) = corpora(dir.path());
    let mut reference = None;
    for compression in [Compression::None, Compression::Gzip, Compression::Zstd] {
        let mut p = pipeline();
        p.output.format = Format::Parquet;
        p.output.compression = compression;
        let out = dir.path().join(format!("out-{compression:?}"));
        let report = run(&p, &parquet, &out);
        let docs: Vec<_> = report.output.shards.iter().flat_map(|s| parquet_docs(&out.join(s))).collect();
        assert!(!docs.is_empty());
        assert_eq!(reference.get_or_insert_with(|| docs.clone()), &docs, "{compression:?}");
    }
}

#[test]
fn bad_parquet_files_are_counted_with_file_and_row() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in");
    std::fs::create_dir(&input).unwrap();
    let long = "Plain words in a sentence that is long enough to be a document of some kind here. ".repeat(8);
    write_parquet(
        &input.join("1-nulls.parquet"),
        &[Row { id: None, text: Some(&long) }, Row { id: Some("x2"), text: None }],
    );
    write_parquet(&input.join("2-empty.parquet"), &[]);
    // A file with the magic but cut short: its footer is gone.
    let mut cut = std::fs::read(input.join("1-nulls.parquet")).unwrap();
    cut.truncate(cut.len() / 2);
    std::fs::write(input.join("3-cut.parquet"), cut).unwrap();
    // No stages: every readable document comes out.
    std::fs::write(dir.path().join("p.toml"), "[input]\n[output]\nformat = \"parquet\"\n").unwrap();
    let p = Pipeline::load(&dir.path().join("p.toml")).unwrap();
    let out = dir.path().join("out");
    let report = run(&p, &input, &out);
    let bad: Vec<(String, u64, BadKind)> = report
        .input
        .bad_lines
        .iter()
        .map(|b| (Path::new(&b.file).file_name().unwrap().to_string_lossy().into_owned(), b.line, b.kind))
        .collect();
    assert_eq!(
        bad,
        vec![
            ("1-nulls.parquet".into(), 2, BadKind::MissingText),
            ("2-empty.parquet".into(), 0, BadKind::EmptyFile),
            ("3-cut.parquet".into(), 0, BadKind::Unreadable),
        ]
    );
    assert_eq!(report.input.documents, 1);
    let docs: Vec<_> = report.output.shards.iter().flat_map(|s| parquet_docs(&out.join(s))).collect();
    assert_eq!(docs.len(), 1);
    assert!(docs[0].0.ends_with("1-nulls.parquet:1"), "a null id falls back to FILE:ROW: {}", docs[0].0);
    assert_eq!(docs[0].1, long);

    // A text column of another name is named in the error, with the columns the file has.
    let mut wrong = p.clone();
    wrong.input.text_field = "body".into();
    let report = run(&wrong, &input.join("1-nulls.parquet"), &dir.path().join("out-wrong"));
    let b = &report.input.bad_lines[0];
    assert_eq!((b.line, b.kind), (0, BadKind::MissingText));
    assert!(b.detail.contains("no `body` column") && b.detail.contains("text, source, n, id"), "{}", b.detail);
}
