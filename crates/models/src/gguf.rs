//! A GGUF header and metadata reader that refuses bad files instead of crashing.
//!
//! It reads the magic, version (2 and 3, little-endian), the metadata key/values (arrays
//! included) and the tensor table, and stops before the tensor data. Every length read from the
//! file is bounded before anything is allocated for it, so a corrupt or hostile file ends in a
//! [`GgufError`] naming what was wrong and where, never in a panic or an enormous allocation.
//! The reader is pure: it takes any `Read`, and the tests feed it hand-built byte buffers.

use std::collections::BTreeMap;
use std::io::Read;

const MAGIC: &[u8; 4] = b"GGUF";
/// Longest string accepted (chat templates are the longest, tens of KB).
pub const MAX_STRING_BYTES: u64 = 1 << 20;
/// Most elements in one array (vocabularies are up to a few hundred thousand).
pub const MAX_ARRAY_LEN: u64 = 1 << 24;
pub const MAX_METADATA_ENTRIES: u64 = 1 << 16;
pub const MAX_TENSORS: u64 = 1 << 20;
/// ggml's limit on tensor dimensions.
pub const MAX_DIMS: u32 = 4;
const MAX_ARRAY_NESTING: usize = 2;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum GgufError {
    #[error("not a GGUF file (the first bytes are {found:?}, not \"GGUF\")")]
    BadMagic { found: Vec<u8> },
    #[error("GGUF version {0} is not supported (2 and 3 are); re-convert the model with a current llama.cpp")]
    UnsupportedVersion(u32),
    #[error("the file ends early, while reading {what} at byte {offset}: it is truncated")]
    Truncated { what: &'static str, offset: u64 },
    #[error("{what} at byte {offset} is {value}, more than the limit {limit}: the file is corrupt")]
    TooLarge { what: &'static str, offset: u64, value: u64, limit: u64 },
    #[error("unknown metadata value type {0} for key {1:?}")]
    UnknownValueType(u32, String),
    #[error("a string at byte {offset} is not UTF-8")]
    NotUtf8 { offset: u64 },
    #[error("read error: {0}")]
    Io(String),
}

/// A metadata value as stored in the file.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    U8(u8),
    I8(i8),
    U16(u16),
    I16(i16),
    U32(u32),
    I32(i32),
    F32(f32),
    Bool(bool),
    String(String),
    Array(Vec<Value>),
    U64(u64),
    I64(i64),
    F64(f64),
}

impl Value {
    /// Any integer type as u64, when it is non-negative.
    pub fn as_u64(&self) -> Option<u64> {
        match *self {
            Value::U8(v) => Some(u64::from(v)),
            Value::U16(v) => Some(u64::from(v)),
            Value::U32(v) => Some(u64::from(v)),
            Value::U64(v) => Some(v),
            Value::I8(v) => u64::try_from(v).ok(),
            Value::I16(v) => u64::try_from(v).ok(),
            Value::I32(v) => u64::try_from(v).ok(),
            Value::I64(v) => u64::try_from(v).ok(),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        if let Value::String(s) = self {
            Some(s)
        } else {
            None
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TensorInfo {
    pub name: String,
    pub dims: Vec<u64>,
    pub ggml_type: u32,
    pub offset: u64,
}

impl TensorInfo {
    pub fn elements(&self) -> u64 {
        self.dims.iter().fold(1u64, |n, d| n.saturating_mul(*d))
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct GgufHeader {
    pub version: u32,
    pub metadata: BTreeMap<String, Value>,
    pub tensors: Vec<TensorInfo>,
}

impl GgufHeader {
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.metadata.get(key)
    }
}

/// Reads the header, metadata and tensor table from the start of a GGUF file.
pub fn read_header(input: impl Read) -> Result<GgufHeader, GgufError> {
    let mut r = Reader { input, offset: 0 };
    let mut magic = [0u8; 4];
    r.exact(&mut magic, "the magic")?;
    if &magic != MAGIC {
        return Err(GgufError::BadMagic { found: magic.to_vec() });
    }
    let version = r.u32("the version")?;
    if !(2..=3).contains(&version) {
        return Err(GgufError::UnsupportedVersion(version));
    }
    let tensor_count = r.bounded_u64("the tensor count", MAX_TENSORS)?;
    let kv_count = r.bounded_u64("the metadata count", MAX_METADATA_ENTRIES)?;
    let mut metadata = BTreeMap::new();
    for _ in 0..kv_count {
        let key = r.string("a metadata key")?;
        let value_type = r.u32("a value type")?;
        let value = r.value(value_type, &key, 0)?;
        metadata.insert(key, value);
    }
    let mut tensors = Vec::new();
    for _ in 0..tensor_count {
        let name = r.string("a tensor name")?;
        let n_dims = r.u32("a tensor's dimension count")?;
        if n_dims > MAX_DIMS {
            return Err(GgufError::TooLarge {
                what: "a tensor's dimension count",
                offset: r.offset,
                value: u64::from(n_dims),
                limit: u64::from(MAX_DIMS),
            });
        }
        let mut dims = Vec::with_capacity(n_dims as usize);
        for _ in 0..n_dims {
            dims.push(r.u64("a tensor dimension")?);
        }
        let ggml_type = r.u32("a tensor type")?;
        let offset = r.u64("a tensor offset")?;
        tensors.push(TensorInfo { name, dims, ggml_type, offset });
    }
    Ok(GgufHeader { version, metadata, tensors })
}

struct Reader<R> {
    input: R,
    offset: u64,
}

impl<R: Read> Reader<R> {
    fn exact(&mut self, buf: &mut [u8], what: &'static str) -> Result<(), GgufError> {
        match self.input.read_exact(buf) {
            Ok(()) => {
                self.offset += buf.len() as u64;
                Ok(())
            }
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                Err(GgufError::Truncated { what, offset: self.offset })
            }
            Err(e) => Err(GgufError::Io(e.to_string())),
        }
    }

    fn array<const N: usize>(&mut self, what: &'static str) -> Result<[u8; N], GgufError> {
        let mut b = [0u8; N];
        self.exact(&mut b, what)?;
        Ok(b)
    }

    fn u32(&mut self, what: &'static str) -> Result<u32, GgufError> {
        Ok(u32::from_le_bytes(self.array(what)?))
    }

    fn u64(&mut self, what: &'static str) -> Result<u64, GgufError> {
        Ok(u64::from_le_bytes(self.array(what)?))
    }

    fn bounded_u64(&mut self, what: &'static str, limit: u64) -> Result<u64, GgufError> {
        let offset = self.offset;
        let value = self.u64(what)?;
        if value > limit {
            return Err(GgufError::TooLarge { what, offset, value, limit });
        }
        Ok(value)
    }

    fn string(&mut self, what: &'static str) -> Result<String, GgufError> {
        let len = self.bounded_u64(what, MAX_STRING_BYTES)?;
        let start = self.offset;
        let mut bytes = vec![0u8; len as usize];
        self.exact(&mut bytes, what)?;
        String::from_utf8(bytes).map_err(|_| GgufError::NotUtf8 { offset: start })
    }

    fn value(&mut self, value_type: u32, key: &str, depth: usize) -> Result<Value, GgufError> {
        const WHAT: &str = "a metadata value";
        Ok(match value_type {
            0 => Value::U8(u8::from_le_bytes(self.array(WHAT)?)),
            1 => Value::I8(i8::from_le_bytes(self.array(WHAT)?)),
            2 => Value::U16(u16::from_le_bytes(self.array(WHAT)?)),
            3 => Value::I16(i16::from_le_bytes(self.array(WHAT)?)),
            4 => Value::U32(u32::from_le_bytes(self.array(WHAT)?)),
            5 => Value::I32(i32::from_le_bytes(self.array(WHAT)?)),
            6 => Value::F32(f32::from_le_bytes(self.array(WHAT)?)),
            7 => Value::Bool(self.array::<1>(WHAT)?[0] != 0),
            8 => Value::String(self.string(WHAT)?),
            9 => {
                let offset = self.offset;
                if depth >= MAX_ARRAY_NESTING {
                    return Err(GgufError::TooLarge {
                        what: "array nesting",
                        offset,
                        value: depth as u64 + 1,
                        limit: MAX_ARRAY_NESTING as u64,
                    });
                }
                let element_type = self.u32("an array's element type")?;
                let len = self.bounded_u64("an array length", MAX_ARRAY_LEN)?;
                // Capacity grows with what is actually read, so a lying length cannot allocate.
                let mut items = Vec::with_capacity((len as usize).min(4096));
                for _ in 0..len {
                    items.push(self.value(element_type, key, depth + 1)?);
                }
                Value::Array(items)
            }
            10 => Value::U64(u64::from_le_bytes(self.array(WHAT)?)),
            11 => Value::I64(i64::from_le_bytes(self.array(WHAT)?)),
            12 => Value::F64(f64::from_le_bytes(self.array(WHAT)?)),
            other => return Err(GgufError::UnknownValueType(other, key.to_string())),
        })
    }
}
