//! Output shards: JSON Lines (plain, gzip or zstd) or Parquet, rotated after a number of
//! documents, each written under a temporary name and renamed when complete.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use crate::checkpoint::tmp_path;
use crate::config::{Compression, Format, OutputConfig};
use crate::error::{Error, Result};
use crate::json_str::push_json_str;
use crate::parquet_io::ParquetShard;

enum Sink {
    Plain(BufWriter<File>),
    Gzip(flate2::write::GzEncoder<BufWriter<File>>),
    Zstd(zstd::Encoder<'static, BufWriter<File>>),
    Parquet(ParquetShard),
}

impl Sink {
    /// The byte stream of a JSON Lines shard; Parquet takes rows instead.
    fn writer(&mut self) -> Option<&mut dyn Write> {
        match self {
            Sink::Plain(w) => Some(w),
            Sink::Gzip(w) => Some(w),
            Sink::Zstd(w) => Some(w),
            Sink::Parquet(_) => None,
        }
    }

    fn finish(self) -> std::io::Result<()> {
        let buffered = match self {
            Sink::Plain(w) => w,
            Sink::Gzip(w) => w.finish()?,
            Sink::Zstd(w) => w.finish()?,
            Sink::Parquet(p) => return p.finish().map_err(std::io::Error::other),
        };
        let file = buffered.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()
    }
}

/// Writes one input file's kept documents as `part-FFFFF-SSSS.jsonl[.gz|.zst]` shards.
pub struct ShardWriter {
    dir: PathBuf,
    file_index: usize,
    format: Format,
    compression: Compression,
    extension: &'static str,
    max_docs: usize,
    fields: (String, String),
    /// Whether the input's other fields are written (JSON Lines: beside the id and text;
    /// Parquet: as a `metadata` column).
    keep_others: bool,
    current: Option<(Sink, PathBuf, usize)>,
    pub shards: Vec<String>,
    pub documents: u64,
    pub bytes: u64,
    line: Vec<u8>,
}

impl ShardWriter {
    pub fn new(
        dir: &Path,
        file_index: usize,
        output: &OutputConfig,
        fields: (String, String),
        keep_others: bool,
    ) -> Self {
        Self {
            dir: dir.to_path_buf(),
            file_index,
            format: output.format,
            compression: output.compression,
            extension: output.extension(),
            max_docs: output.max_docs_per_shard,
            fields,
            keep_others,
            current: None,
            shards: Vec::new(),
            documents: 0,
            bytes: 0,
            line: Vec::new(),
        }
    }

    /// The shard-name prefix of an input file, to find (and remove) a partial attempt's shards.
    pub fn prefix(file_index: usize) -> String {
        format!("part-{file_index:05}-")
    }

    /// One document; `meta` is its other fields as object members (empty: none).
    pub fn write(&mut self, id: &str, text: &str, meta: &str) -> Result<()> {
        if self.current.as_ref().is_some_and(|(_, _, n)| *n >= self.max_docs) {
            self.close()?;
        }
        if self.current.is_none() {
            self.open()?;
        }
        if let Some((Sink::Parquet(shard), path, n)) = self.current.as_mut() {
            shard.push(id, text, meta).map_err(|e| Error::io(tmp_path(path))(std::io::Error::other(e)))?;
            *n += 1;
            self.documents += 1;
            self.bytes += text.len() as u64;
            return Ok(());
        }
        self.line.clear();
        self.line.push(b'{');
        push_json_str(&mut self.line, &self.fields.0);
        self.line.push(b':');
        push_json_str(&mut self.line, id);
        self.line.push(b',');
        push_json_str(&mut self.line, &self.fields.1);
        self.line.push(b':');
        push_json_str(&mut self.line, text);
        if self.keep_others && !meta.is_empty() {
            self.line.push(b',');
            self.line.extend_from_slice(meta.as_bytes());
        }
        self.line.extend_from_slice(b"}\n");
        if let Some((sink, path, n)) = self.current.as_mut() {
            if let Some(writer) = sink.writer() {
                writer.write_all(&self.line).map_err(Error::io(tmp_path(path)))?;
                *n += 1;
            }
        }
        self.documents += 1;
        self.bytes += text.len() as u64;
        Ok(())
    }

    fn open(&mut self) -> Result<()> {
        let name = format!("{}{:04}.{}", Self::prefix(self.file_index), self.shards.len(), self.extension);
        let path = self.dir.join(&name);
        let tmp = tmp_path(&path);
        if self.format == Format::Parquet {
            let shard = ParquetShard::create(&tmp, &self.fields, self.compression, self.keep_others)?;
            self.shards.push(name);
            self.current = Some((Sink::Parquet(shard), path, 0));
            return Ok(());
        }
        let file = BufWriter::with_capacity(1 << 16, File::create(&tmp).map_err(Error::io(&tmp))?);
        let sink = match self.compression {
            Compression::None => Sink::Plain(file),
            Compression::Gzip => Sink::Gzip(flate2::write::GzEncoder::new(file, flate2::Compression::new(6))),
            Compression::Zstd => Sink::Zstd(zstd::Encoder::new(file, 3).map_err(Error::io(&tmp))?),
        };
        self.shards.push(name);
        self.current = Some((sink, path, 0));
        Ok(())
    }

    fn close(&mut self) -> Result<()> {
        if let Some((sink, path, _)) = self.current.take() {
            let tmp = tmp_path(&path);
            sink.finish().map_err(Error::io(&tmp))?;
            std::fs::rename(&tmp, &path).map_err(Error::io(&path))?;
        }
        Ok(())
    }

    /// Closes the last shard.
    pub fn finish(mut self) -> Result<(Vec<String>, u64, u64)> {
        self.close()?;
        Ok((self.shards, self.documents, self.bytes))
    }
}
