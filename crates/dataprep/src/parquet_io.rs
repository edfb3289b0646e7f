//! Parquet input and output: the documents of a Parquet file (the format Hugging Face datasets and
//! datatrove write) and shards of string columns: id, text and the other fields as JSON.
//!
//! The id and text columns are read row by row through the `parquet` crate's record API, and,
//! when the pipeline keeps other fields, the other columns too, as JSON; otherwise only the two
//! (a projection), so columns of other types are never decoded. A row's number (from 1) stands
//! where a JSON Lines file has its line number. Shards carry the kept fields as one `metadata`
//! column of JSON text.

use std::fs::File;
use std::io::BufWriter;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use parquet::basic::{Compression as PageCompression, GzipLevel, ZstdLevel};
use parquet::data_type::{ByteArray, ByteArrayType};
use parquet::file::properties::WriterProperties;
use parquet::file::reader::{FileReader, SerializedFileReader};
use parquet::file::writer::SerializedFileWriter;
use parquet::record::reader::RowIter;
use parquet::record::Field;
use parquet::schema::types::Type;

use crate::config::Compression;
use crate::error::{Error, Result};
use crate::input::{BadInput, BadKind, Fields, InputFile, Pending};
use crate::json_str::push_json_str;

/// Every Parquet file starts (and ends) with these four bytes.
pub const MAGIC: [u8; 4] = *b"PAR1";

/// The documents of one Parquet file, in row order.
pub struct ParquetReader {
    rows: Option<RowIter<'static>>,
    name: String,
    text_field: String,
    /// The position of the id and text columns in a projected row (id is absent when the file
    /// has no such column).
    id_at: Option<usize>,
    text_at: usize,
    row: u64,
    total_rows: u64,
    size: u64,
    counter: Arc<AtomicU64>,
    reported: u64,
    done: bool,
    /// A problem with the whole file, returned by the first batch.
    file_error: Option<BadInput>,
}

impl ParquetReader {
    pub fn open(file: &InputFile, fields: Fields<'_>, counter: Arc<AtomicU64>) -> Result<Self> {
        let raw = File::open(&file.path).map_err(Error::io(&file.path))?;
        let mut reader = Self {
            rows: None,
            name: file.name.clone(),
            text_field: fields.text.to_string(),
            id_at: None,
            text_at: 0,
            row: 0,
            total_rows: 0,
            size: file.size,
            counter,
            reported: 0,
            done: false,
            file_error: None,
        };
        let parsed = match SerializedFileReader::new(raw) {
            Ok(parsed) => parsed,
            Err(e) => {
                reader.file_error =
                    Some(reader.bad(0, BadKind::Unreadable, format!("not a readable Parquet file: {e}")));
                return Ok(reader);
            }
        };
        let meta = parsed.metadata().file_metadata();
        reader.total_rows = meta.num_rows().max(0) as u64;
        let root = meta.schema_descr().root_schema();
        let (root_name, columns) = (root.name().to_string(), root.get_fields().to_vec());
        let position = |name: &str| columns.iter().position(|c| c.name() == name);
        let Some(text) = position(fields.text) else {
            let names: Vec<&str> = columns.iter().map(|c| c.name()).collect();
            let detail = format!(
                "no `{}` column (the file has: {}); set `input.text_field` to the column that holds the text",
                fields.text,
                names.join(", ")
            );
            reader.file_error = Some(reader.bad(0, BadKind::MissingText, detail));
            return Ok(reader);
        };
        // A projection keeps the file's root name and column order.
        let id = position(fields.id);
        let mut keep = if fields.keep_others { (0..columns.len()).collect() } else { vec![text] };
        if !fields.keep_others {
            keep.extend(id);
            keep.sort_unstable();
        }
        reader.text_at = keep.iter().position(|&c| c == text).unwrap_or(0);
        reader.id_at = id.and_then(|id| keep.iter().position(|&c| c == id));
        let projection = Type::group_type_builder(&root_name)
            .with_fields(keep.iter().map(|&c| columns[c].clone()).collect())
            .build()
            .map_err(|e| Error::io(&file.path)(std::io::Error::other(e)))?;
        match RowIter::from_file_into(Box::new(parsed)).project(Some(projection)) {
            Ok(rows) => reader.rows = Some(rows),
            Err(e) => reader.file_error = Some(reader.bad(0, BadKind::Unreadable, e.to_string())),
        }
        Ok(reader)
    }

    /// Appends up to `max` rows to `out`, each a document or why it is not one. Returns a
    /// [`BadInput`] for a file that cannot be read (from that row on) or has no rows.
    pub fn next_batch(&mut self, max: usize, out: &mut Vec<Pending>) -> Option<BadInput> {
        if let Some(bad) = self.file_error.take() {
            self.done = true;
            return Some(bad);
        }
        let Some(mut rows) = self.rows.take() else {
            self.done = true;
            return None;
        };
        let mut failure = None;
        while out.len() < max {
            match rows.next() {
                None => {
                    self.done = true;
                    break;
                }
                Some(Err(e)) => {
                    self.done = true;
                    failure = Some(BadInput {
                        file: self.name.clone(),
                        line: self.row + 1,
                        kind: BadKind::Unreadable,
                        detail: e.to_string(),
                    });
                    break;
                }
                Some(Ok(row)) => {
                    self.row += 1;
                    let mut columns = row.into_columns();
                    let doc = self.document(&mut columns);
                    out.push(Pending::Row(doc));
                }
            }
        }
        if !self.done {
            self.rows = Some(rows);
        } else if self.row == 0 && failure.is_none() {
            failure = Some(self.bad(0, BadKind::EmptyFile, "no rows in the file".into()));
        }
        let read = if self.done { self.size } else { self.size * self.row / self.total_rows.max(1) };
        self.counter.fetch_add(read.saturating_sub(self.reported), Ordering::Relaxed);
        self.reported = read;
        failure
    }

    pub fn is_done(&self) -> bool {
        self.done
    }

    fn document(&self, columns: &mut [(String, Field)]) -> std::result::Result<crate::input::RawDoc, BadInput> {
        let line = self.row;
        let text = match std::mem::replace(&mut columns[self.text_at].1, Field::Null) {
            Field::Str(s) => s,
            Field::Bytes(b) => match String::from_utf8(b.data().to_vec()) {
                Ok(s) => s,
                Err(e) => return Err(self.bad(line, BadKind::InvalidUtf8, e.to_string())),
            },
            Field::Null => return Err(self.bad(line, BadKind::MissingText, format!("`{}` is null", self.text_field))),
            other => {
                let detail = format!("`{}` is not a string but {other}", self.text_field);
                return Err(self.bad(line, BadKind::MissingText, detail));
            }
        };
        let id = match self.id_at.map(|at| &columns[at].1) {
            Some(Field::Str(s)) => s.clone(),
            Some(Field::Null) | None => format!("{}:{line}", self.name),
            Some(other) => other.to_string(),
        };
        let mut meta = Vec::new();
        for (at, (name, field)) in columns.iter().enumerate() {
            if at == self.text_at || Some(at) == self.id_at {
                continue;
            }
            if !meta.is_empty() {
                meta.push(b',');
            }
            push_json_str(&mut meta, name);
            meta.push(b':');
            // Writing JSON into a Vec cannot fail.
            let _ = serde_json::to_writer(&mut meta, &field.to_json_value());
        }
        let meta = String::from_utf8(meta).unwrap_or_default();
        Ok(crate::input::RawDoc { line, id, text, meta })
    }

    fn bad(&self, line: u64, kind: BadKind, detail: String) -> BadInput {
        BadInput { file: self.name.clone(), line, kind, detail }
    }
}

/// Documents per row group: small enough that a reader's memory stays bounded, large enough that
/// a column chunk compresses well.
const ROW_GROUP_DOCS: usize = 4096;
/// Text bytes per row group, whichever limit comes first.
const ROW_GROUP_BYTES: usize = 32 << 20;

/// One Parquet shard being written: rows buffered per row group.
pub struct ParquetShard {
    writer: SerializedFileWriter<BufWriter<File>>,
    ids: Vec<ByteArray>,
    texts: Vec<ByteArray>,
    /// Each document's other fields as a JSON object, when the shard has that column.
    metas: Option<Vec<ByteArray>>,
    buffered_bytes: usize,
}

/// The column that carries the input's other fields, as datatrove names it (unless the id or
/// text is called that).
pub fn metadata_column(fields: &(String, String)) -> &'static str {
    if fields.0 == "metadata" || fields.1 == "metadata" {
        "strata_metadata"
    } else {
        "metadata"
    }
}

impl ParquetShard {
    /// A shard of the id and text columns, and the metadata column when `metadata`.
    pub fn create(path: &Path, fields: &(String, String), compression: Compression, metadata: bool) -> Result<Self> {
        let io = |e: parquet::errors::ParquetError| Error::io(path)(std::io::Error::other(e));
        let mut columns = vec![string_column(&fields.0).map_err(io)?, string_column(&fields.1).map_err(io)?];
        if metadata {
            columns.push(string_column(metadata_column(fields)).map_err(io)?);
        }
        let schema = Type::group_type_builder("schema").with_fields(columns).build().map_err(io)?;
        let page_compression = match compression {
            Compression::None => PageCompression::UNCOMPRESSED,
            Compression::Gzip => PageCompression::GZIP(GzipLevel::default()),
            Compression::Zstd => PageCompression::ZSTD(ZstdLevel::try_new(3).map_err(io)?),
        };
        let props = WriterProperties::builder().set_compression(page_compression).build();
        let file = BufWriter::with_capacity(1 << 16, File::create(path).map_err(Error::io(path))?);
        let writer = SerializedFileWriter::new(file, Arc::new(schema), Arc::new(props)).map_err(io)?;
        let metas = metadata.then(Vec::new);
        Ok(Self { writer, ids: Vec::new(), texts: Vec::new(), metas, buffered_bytes: 0 })
    }

    /// One row; `meta` is object members without braces (see [`crate::input::RawDoc::meta`]).
    pub fn push(&mut self, id: &str, text: &str, meta: &str) -> parquet::errors::Result<()> {
        self.ids.push(ByteArray::from(id));
        self.texts.push(ByteArray::from(text));
        if let Some(metas) = self.metas.as_mut() {
            metas.push(ByteArray::from(format!("{{{meta}}}").into_bytes()));
        }
        self.buffered_bytes += text.len();
        if self.ids.len() >= ROW_GROUP_DOCS || self.buffered_bytes >= ROW_GROUP_BYTES {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> parquet::errors::Result<()> {
        if self.ids.is_empty() {
            return Ok(());
        }
        let mut group = self.writer.next_row_group()?;
        for values in [Some(&self.ids), Some(&self.texts), self.metas.as_ref()].into_iter().flatten() {
            if let Some(mut column) = group.next_column()? {
                column.typed::<ByteArrayType>().write_batch(values, None, None)?;
                column.close()?;
            }
        }
        group.close()?;
        self.ids.clear();
        self.texts.clear();
        if let Some(metas) = self.metas.as_mut() {
            metas.clear();
        }
        self.buffered_bytes = 0;
        Ok(())
    }

    /// Writes the last row group and the footer, and syncs the file.
    pub fn finish(mut self) -> parquet::errors::Result<()> {
        self.flush()?;
        let file = self.writer.into_inner()?;
        let file = file.into_inner().map_err(|e| parquet::errors::ParquetError::External(Box::new(e.into_error())))?;
        file.sync_all().map_err(|e| parquet::errors::ParquetError::External(Box::new(e)))
    }
}

fn string_column(name: &str) -> parquet::errors::Result<Arc<Type>> {
    Ok(Arc::new(
        Type::primitive_type_builder(name, parquet::basic::Type::BYTE_ARRAY)
            .with_repetition(parquet::basic::Repetition::REQUIRED)
            .with_logical_type(Some(parquet::basic::LogicalType::String))
            .build()?,
    ))
}
