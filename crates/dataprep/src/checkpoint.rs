//! Checkpoint files of a run, all written to a temporary name and renamed into place, so a file
//! that exists is complete: a killed run leaves at worst a `.tmp` file, which the next run removes.
//!
//! Phase 1 leaves per input file: the documents that survived the document stages (`.docs`, zstd
//! records), their dedup keys and LSH band keys (`.sig`), and the file's stats (`.json`, written
//! last: its presence marks the file done). Phase 3 leaves a `.done` marker per input file once
//! all its output shards are in place.

use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

const SIG_MAGIC: &[u8; 8] = b"STRSIG1\n";

/// Writes `bytes` to `path` through a temporary file and a rename.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = tmp_path(path);
    std::fs::write(&tmp, bytes).map_err(Error::io(&tmp))?;
    std::fs::rename(&tmp, path).map_err(Error::io(path))
}

pub fn tmp_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().map(|n| n.to_os_string()).unwrap_or_default();
    name.push(".tmp");
    path.with_file_name(name)
}

/// Streams records to a temporary file; [`RecordWriter::finish`] renames it into place.
pub struct RecordWriter<W: Write> {
    out: W,
    tmp: PathBuf,
    path: PathBuf,
}

fn create(path: &Path) -> Result<(BufWriter<File>, PathBuf)> {
    let tmp = tmp_path(path);
    let file = File::create(&tmp).map_err(Error::io(&tmp))?;
    Ok((BufWriter::with_capacity(1 << 16, file), tmp))
}

/// Surviving documents: `u32` id length, id, `u32` text length, text, `u32` length and the other
/// fields kept (JSON object members, often empty); zstd-compressed.
pub type DocsWriter = RecordWriter<zstd::Encoder<'static, BufWriter<File>>>;

/// zstd's fast level −3 for `.docs`: they live from phase 1 to phase 3 of one run, so speed
/// matters more than size. Level 1 was 10 % of a MinHash run's time; −3 is about twice as fast,
/// for files a third larger, and is read back exactly as before.
const DOCS_LEVEL: i32 = -3;

impl DocsWriter {
    pub fn create_docs(path: &Path) -> Result<Self> {
        let (out, tmp) = create(path)?;
        let out = zstd::Encoder::new(out, DOCS_LEVEL).map_err(Error::io(&tmp))?;
        Ok(Self { out, tmp, path: path.to_path_buf() })
    }

    pub fn doc(&mut self, id: &str, text: &str, meta: &str) -> Result<()> {
        let io = Error::io(&self.tmp);
        write_str(&mut self.out, id)
            .and_then(|()| write_str(&mut self.out, text))
            .and_then(|()| write_str(&mut self.out, meta))
            .map_err(io)
    }

    pub fn finish(self) -> Result<()> {
        let inner = self.out.finish().map_err(Error::io(&self.tmp))?;
        finish_file(inner, &self.tmp, &self.path)
    }
}

/// Dedup records: `u32` id length, id, `u128` content hash, `u64` text bytes, `bands` × `u64`
/// band keys.
pub type SigWriter = RecordWriter<BufWriter<File>>;

impl SigWriter {
    pub fn create_sig(path: &Path, bands: usize) -> Result<Self> {
        let (mut out, tmp) = create(path)?;
        out.write_all(SIG_MAGIC)
            .and_then(|()| out.write_all(&(bands as u32).to_le_bytes()))
            .map_err(Error::io(&tmp))?;
        Ok(Self { out, tmp, path: path.to_path_buf() })
    }

    pub fn sig(&mut self, id: &str, content: u128, bytes: u64, band_keys: &[u64]) -> Result<()> {
        let io = Error::io(&self.tmp);
        let mut write = || -> std::io::Result<()> {
            write_str(&mut self.out, id)?;
            self.out.write_all(&content.to_le_bytes())?;
            self.out.write_all(&bytes.to_le_bytes())?;
            for k in band_keys {
                self.out.write_all(&k.to_le_bytes())?;
            }
            Ok(())
        };
        write().map_err(io)
    }

    pub fn finish(self) -> Result<()> {
        finish_file(self.out, &self.tmp, &self.path)
    }
}

fn finish_file(out: BufWriter<File>, tmp: &Path, path: &Path) -> Result<()> {
    let file = out.into_inner().map_err(|e| Error::Io { path: tmp.to_path_buf(), source: e.into_error() })?;
    file.sync_all().map_err(Error::io(tmp))?;
    std::fs::rename(tmp, path).map_err(Error::io(path))
}

fn write_str(out: &mut impl Write, s: &str) -> std::io::Result<()> {
    let len = u32::try_from(s.len()).map_err(|_| std::io::Error::other("a text longer than 4 GiB"))?;
    out.write_all(&len.to_le_bytes())?;
    out.write_all(s.as_bytes())
}

/// Reads a `.docs` file back, calling `each(ordinal, id, text, other fields)`.
pub fn read_docs(path: &Path, mut each: impl FnMut(usize, String, String, String) -> Result<()>) -> Result<()> {
    let file = File::open(path).map_err(Error::io(path))?;
    let mut r = BufReader::new(zstd::Decoder::new(file).map_err(Error::io(path))?);
    let mut ordinal = 0;
    while let Some(id) = read_str(&mut r, path)? {
        let text = read_str(&mut r, path)?.ok_or_else(|| corrupt(path, "a document without text"))?;
        let meta = read_str(&mut r, path)?.ok_or_else(|| corrupt(path, "a document without its fields"))?;
        each(ordinal, id, text, meta)?;
        ordinal += 1;
    }
    Ok(())
}

/// The dedup records of one input file.
#[derive(Debug, Default)]
pub struct Signatures {
    pub ids: Vec<String>,
    pub contents: Vec<u128>,
    /// Text bytes of each document.
    pub bytes: Vec<u64>,
    /// `bands` keys per document, flat.
    pub band_keys: Vec<u64>,
}

pub fn read_sigs(path: &Path, bands: usize, into: &mut Signatures) -> Result<usize> {
    let file = File::open(path).map_err(Error::io(path))?;
    let mut r = BufReader::with_capacity(1 << 16, file);
    let mut head = [0u8; 12];
    r.read_exact(&mut head).map_err(Error::io(path))?;
    if &head[..8] != SIG_MAGIC || u32::from_le_bytes([head[8], head[9], head[10], head[11]]) as usize != bands {
        return Err(corrupt(path, "wrong header or band count"));
    }
    let mut n = 0;
    while let Some(id) = read_str(&mut r, path)? {
        let mut content = [0u8; 16];
        r.read_exact(&mut content).map_err(Error::io(path))?;
        into.ids.push(id);
        into.contents.push(u128::from_le_bytes(content));
        let mut bytes = [0u8; 8];
        r.read_exact(&mut bytes).map_err(Error::io(path))?;
        into.bytes.push(u64::from_le_bytes(bytes));
        for _ in 0..bands {
            let mut k = [0u8; 8];
            r.read_exact(&mut k).map_err(Error::io(path))?;
            into.band_keys.push(u64::from_le_bytes(k));
        }
        n += 1;
    }
    Ok(n)
}

/// Reads a length-prefixed string; `None` at a clean end of file.
fn read_str(r: &mut impl Read, path: &Path) -> Result<Option<String>> {
    let mut len = [0u8; 4];
    match r.read_exact(&mut len) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(Error::Io { path: path.to_path_buf(), source: e }),
    }
    let mut buf = vec![0u8; u32::from_le_bytes(len) as usize];
    r.read_exact(&mut buf).map_err(Error::io(path))?;
    String::from_utf8(buf).map(Some).map_err(|_| corrupt(path, "a string that is not UTF-8"))
}

fn corrupt(path: &Path, message: &str) -> Error {
    Error::Checkpoint { path: path.to_path_buf(), message: message.to_string() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docs_and_sigs_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let docs = dir.path().join("0.docs");
        let mut w = DocsWriter::create_docs(&docs).unwrap();
        w.doc("a", "first", r#""lang":"en""#).unwrap();
        w.doc("b", "", "").unwrap();
        assert!(!docs.exists(), "visible before finish");
        w.finish().unwrap();
        let mut seen = Vec::new();
        read_docs(&docs, |i, id, text, meta| {
            seen.push((i, id, text, meta));
            Ok(())
        })
        .unwrap();
        assert_eq!(
            seen,
            vec![
                (0, "a".into(), "first".into(), r#""lang":"en""#.into()),
                (1, "b".into(), String::new(), String::new())
            ]
        );

        let sig = dir.path().join("0.sig");
        let mut w = SigWriter::create_sig(&sig, 2).unwrap();
        w.sig("a", 7, 5, &[1, 2]).unwrap();
        w.finish().unwrap();
        let mut s = Signatures::default();
        assert_eq!(read_sigs(&sig, 2, &mut s).unwrap(), 1);
        assert_eq!((s.ids, s.contents, s.bytes, s.band_keys), (vec!["a".to_string()], vec![7], vec![5], vec![1, 2]));
        assert!(read_sigs(&sig, 3, &mut Signatures::default()).is_err());
    }
}
