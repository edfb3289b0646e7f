//! Reading inputs: resolving paths, recognising plain/gzip/zstd by their first bytes, splitting
//! lines, and turning each line into a document or a counted [`BadInput`].
//!
//! Reading is sequential per file (decompression is a stream) and cheap; parsing JSON is the
//! costly part and is done by [`parse_line`] on many lines in parallel.

use std::fmt;
use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use serde::de::{DeserializeSeed, IgnoredAny, MapAccess, Visitor};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::error::{Error, Result};
use crate::json_str::push_json_str;

/// One input file: how reports name it, where it is, its size on disk.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct InputFile {
    /// The path as the pipeline or the command line wrote it (a directory's files joined to it).
    pub name: String,
    #[serde(skip)]
    pub path: PathBuf,
    pub size: u64,
    #[serde(skip)]
    pub modified_ns: u128,
}

/// Expands directories (their files, by name) and resolves relative paths against `base`.
pub fn resolve_inputs(paths: &[PathBuf], base: &Path) -> Result<Vec<InputFile>> {
    let mut files = Vec::new();
    for written in paths {
        let path = if written.is_absolute() { written.clone() } else { base.join(written) };
        let meta = std::fs::metadata(&path).map_err(Error::io(&path))?;
        if meta.is_dir() {
            let mut entries: Vec<(String, PathBuf)> = Vec::new();
            for entry in std::fs::read_dir(&path).map_err(Error::io(&path))? {
                let entry = entry.map_err(Error::io(&path))?;
                let file_name = entry.file_name().to_string_lossy().into_owned();
                if entry.file_type().map_err(Error::io(entry.path()))?.is_file() && !file_name.starts_with('.') {
                    entries.push((file_name, entry.path()));
                }
            }
            entries.sort();
            for (file_name, full) in entries {
                files.push(input_file(written.join(file_name).display().to_string(), full)?);
            }
        } else {
            files.push(input_file(written.display().to_string(), path)?);
        }
    }
    Ok(files)
}

fn input_file(name: String, path: PathBuf) -> Result<InputFile> {
    let meta = std::fs::metadata(&path).map_err(Error::io(&path))?;
    let modified_ns =
        meta.modified().ok().and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok()).map_or(0, |d| d.as_nanos());
    Ok(InputFile { name, path, size: meta.len(), modified_ns })
}

/// What was wrong with an input line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BadKind {
    EmptyFile,
    InvalidUtf8,
    MalformedJson,
    MissingText,
    /// The file could not be read or decompressed from this line on.
    Unreadable,
}

impl BadKind {
    pub fn name(self) -> &'static str {
        match self {
            BadKind::EmptyFile => "empty_file",
            BadKind::InvalidUtf8 => "invalid_utf8",
            BadKind::MalformedJson => "malformed_json",
            BadKind::MissingText => "missing_text",
            BadKind::Unreadable => "unreadable",
        }
    }
}

/// A bad line (or file: line 0), reported with where it is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BadInput {
    pub file: String,
    pub line: u64,
    pub kind: BadKind,
    pub detail: String,
}

impl fmt::Display for BadInput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}: {}", self.file, self.line, self.kind.name(), self.detail)
    }
}

/// A document as read, before any stage.
#[derive(Debug, Clone, PartialEq)]
pub struct RawDoc {
    pub line: u64,
    pub id: String,
    pub text: String,
    /// The input's other fields as JSON object members (`"lang":"en","meta":{…}`, no braces),
    /// written back beside the id and text; empty when there are none or they are not kept.
    pub meta: String,
}

/// A unit of input waiting for the stages: a JSON line still to parse, or a Parquet row already
/// read (parsing JSON is the costly part, so lines are parsed in parallel).
pub enum Pending {
    Line(u64, Vec<u8>),
    Row(std::result::Result<RawDoc, BadInput>),
}

impl Pending {
    pub fn into_doc(self, file: &str, fields: Fields<'_>) -> std::result::Result<RawDoc, BadInput> {
        match self {
            Pending::Line(line, bytes) => parse_line(file, line, &bytes, fields),
            Pending::Row(row) => row,
        }
    }
}

/// Reads any input file, by what its first bytes say it is.
pub enum DocReader {
    Lines(LineReader),
    Parquet(Box<crate::parquet_io::ParquetReader>),
}

impl DocReader {
    pub fn open(file: &InputFile, fields: Fields<'_>, counter: Arc<AtomicU64>) -> Result<Self> {
        let mut head = [0u8; 4];
        let n = File::open(&file.path).and_then(|mut f| f.read(&mut head)).map_err(Error::io(&file.path))?;
        if n == 4 && head == crate::parquet_io::MAGIC {
            return Ok(DocReader::Parquet(Box::new(crate::parquet_io::ParquetReader::open(file, fields, counter)?)));
        }
        Ok(DocReader::Lines(LineReader::open(file, counter)?))
    }

    /// Appends up to `max` documents to `out`; see [`LineReader::next_batch`].
    pub fn next_batch(&mut self, max: usize, out: &mut Vec<Pending>) -> Option<BadInput> {
        match self {
            DocReader::Lines(r) => r.next_batch(max, out),
            DocReader::Parquet(r) => r.next_batch(max, out),
        }
    }

    pub fn is_done(&self) -> bool {
        match self {
            DocReader::Lines(r) => r.is_done(),
            DocReader::Parquet(r) => r.is_done(),
        }
    }
}

/// Reads one file's lines in batches.
pub struct LineReader {
    inner: Box<dyn BufRead + Send>,
    name: String,
    line: u64,
    non_blank: u64,
    done: bool,
}

/// Counts bytes read from disk (before decompression) for the progress bar.
struct Counting<R> {
    inner: R,
    counter: Arc<AtomicU64>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.counter.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];
const ZSTD_MAGIC: [u8; 4] = [0x28, 0xb5, 0x2f, 0xfd];

impl LineReader {
    pub fn open(file: &InputFile, counter: Arc<AtomicU64>) -> Result<Self> {
        let raw = File::open(&file.path).map_err(Error::io(&file.path))?;
        let mut buffered = BufReader::with_capacity(1 << 16, Counting { inner: raw, counter });
        let head = buffered.fill_buf().map_err(Error::io(&file.path))?.to_vec();
        let inner: Box<dyn BufRead + Send> = if head.starts_with(&GZIP_MAGIC) {
            Box::new(BufReader::with_capacity(1 << 16, flate2::bufread::MultiGzDecoder::new(buffered)))
        } else if head.starts_with(&ZSTD_MAGIC) {
            let decoder = zstd::Decoder::with_buffer(buffered).map_err(Error::io(&file.path))?;
            Box::new(BufReader::with_capacity(1 << 16, decoder))
        } else {
            Box::new(buffered)
        };
        Ok(Self { inner, name: file.name.clone(), line: 0, non_blank: 0, done: false })
    }

    /// Appends up to `max` non-blank lines (with their 1-based numbers) to `out`. Returns a
    /// [`BadInput`] for a read error (after which the file is done) or, at the end, for a file
    /// without a single non-blank line.
    pub fn next_batch(&mut self, max: usize, out: &mut Vec<Pending>) -> Option<BadInput> {
        while out.len() < max && !self.done {
            let mut buf = Vec::new();
            match self.inner.read_until(b'\n', &mut buf) {
                Ok(0) => {
                    self.done = true;
                    if self.non_blank == 0 {
                        return Some(self.bad(0, BadKind::EmptyFile, "no documents in the file".into()));
                    }
                }
                Ok(_) => {
                    self.line += 1;
                    if buf.iter().all(u8::is_ascii_whitespace) {
                        continue;
                    }
                    self.non_blank += 1;
                    out.push(Pending::Line(self.line, buf));
                }
                Err(e) => {
                    self.done = true;
                    return Some(self.bad(self.line + 1, BadKind::Unreadable, e.to_string()));
                }
            }
        }
        None
    }

    pub fn is_done(&self) -> bool {
        self.done
    }

    fn bad(&self, line: u64, kind: BadKind, detail: String) -> BadInput {
        BadInput { file: self.name.clone(), line, kind, detail }
    }
}

/// Which fields hold the id and the text, and whether the others are kept.
#[derive(Debug, Clone, Copy)]
pub struct Fields<'a> {
    pub id: &'a str,
    pub text: &'a str,
    pub keep_others: bool,
}

/// Parses one line into a document; a missing id becomes `FILE:LINE`.
pub fn parse_line(file: &str, line: u64, bytes: &[u8], fields: Fields<'_>) -> Result<RawDoc, BadInput> {
    let bad = |kind, detail: String| BadInput { file: file.to_string(), line, kind, detail };
    let text = std::str::from_utf8(bytes).map_err(|e| bad(BadKind::InvalidUtf8, e.to_string()))?;
    let mut de = serde_json::Deserializer::from_str(text);
    let (id, body, meta) = fields.deserialize(&mut de).map_err(|e| bad(BadKind::MalformedJson, e.to_string()))?;
    de.end().map_err(|e| bad(BadKind::MalformedJson, e.to_string()))?;
    let text = match body {
        Some(serde_json::Value::String(s)) => s,
        Some(other) => {
            return Err(bad(BadKind::MissingText, format!("`{}` is not a string but {}", fields.text, kind_of(&other))))
        }
        None => return Err(bad(BadKind::MissingText, format!("no `{}` field", fields.text))),
    };
    let id = match id {
        Some(serde_json::Value::String(s)) => s,
        Some(serde_json::Value::Number(n)) => n.to_string(),
        _ => format!("{file}:{line}"),
    };
    Ok(RawDoc { line, id, text, meta })
}

fn kind_of(v: &serde_json::Value) -> &'static str {
    match v {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}

/// The id, the text, and the other fields as object members (see [`RawDoc::meta`]).
type IdAndText = (Option<serde_json::Value>, Option<serde_json::Value>, String);

/// Reads the two fields of interest; the rest are copied as their raw JSON text when kept (never
/// parsed into values: a borrowed [`RawValue`] is a slice of the line) and skipped otherwise.
impl<'de> DeserializeSeed<'de> for Fields<'_> {
    type Value = IdAndText;

    fn deserialize<D: serde::Deserializer<'de>>(self, de: D) -> std::result::Result<Self::Value, D::Error> {
        de.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for Fields<'_> {
    type Value = IdAndText;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> std::result::Result<Self::Value, A::Error> {
        let (mut id, mut text, mut others) = (None, None, Vec::new());
        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            if key == self.text {
                text = Some(map.next_value()?);
            } else if key == self.id {
                id = Some(map.next_value()?);
            } else if self.keep_others {
                let value: &'de RawValue = map.next_value()?;
                if !others.is_empty() {
                    others.push(b',');
                }
                push_json_str(&mut others, &key);
                others.push(b':');
                others.extend_from_slice(value.get().as_bytes());
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        // Keys come from a `&str` and are escaped as JSON; values are slices of valid JSON text.
        let others = String::from_utf8(others).map_err(serde::de::Error::custom)?;
        Ok((id, text, others))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIELDS: Fields<'static> = Fields { id: "id", text: "text", keep_others: true };

    fn parse(line: &[u8]) -> Result<RawDoc, BadKind> {
        parse_line("f.jsonl", 7, line, FIELDS).map_err(|b| b.kind)
    }

    #[test]
    fn parses_documents() {
        let doc = parse(br#"{"id": 12, "meta": {"x": [1, 2]}, "text": "hi\n", "l\u00e4ng": "en"}"#).unwrap();
        assert_eq!((doc.id.as_str(), doc.text.as_str()), ("12", "hi\n"));
        assert_eq!(doc.meta, r#""meta":{"x": [1, 2]},"läng":"en""#, "other fields kept as written");
        let dropped = parse_line("f", 1, br#"{"text": "t", "meta": 1}"#, Fields { keep_others: false, ..FIELDS });
        assert_eq!(dropped.unwrap().meta, "");
        assert_eq!(parse(br#"{"text": "no id"}"#).unwrap().id, "f.jsonl:7");
    }

    #[test]
    fn classifies_bad_lines() {
        assert_eq!(parse(b"{\"id\": 1, \"text\": \"caf\xe9\"}"), Err(BadKind::InvalidUtf8));
        assert_eq!(parse(br#"{"id": 1, "text": "cut"#), Err(BadKind::MalformedJson));
        assert_eq!(parse(br#"[1, 2]"#), Err(BadKind::MalformedJson));
        assert_eq!(parse(br#"{"id": 1} trailing"#), Err(BadKind::MalformedJson));
        assert_eq!(parse(br#"{"id": 1, "body": "x"}"#), Err(BadKind::MissingText));
        assert_eq!(parse(br#"{"id": 1, "text": 5}"#), Err(BadKind::MissingText));
    }
}
