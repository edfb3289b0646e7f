//! Writing GGUF files (v3, little-endian, as llama.cpp's writer does): metadata from
//! [`Value`]s and F32 tensors. Used to make tiny models with random weights for tests, so the
//! real llama.cpp path — loader, tokenizer, decode — runs without a downloaded model.

use crate::gguf::Value;
use std::io::Write;

/// Where tensor data starts and how each tensor is padded (GGUF's default `general.alignment`).
const ALIGNMENT: u64 = 32;
/// ggml's type id for 32-bit floats.
const GGML_TYPE_F32: u32 = 0;

/// A tensor to write: its name, its dimensions (innermost first, as ggml counts them), values.
pub struct Tensor {
    pub name: String,
    pub dims: Vec<u64>,
    pub data: Vec<f32>,
}

fn type_id(v: &Value) -> u32 {
    match v {
        Value::U8(_) => 0,
        Value::I8(_) => 1,
        Value::U16(_) => 2,
        Value::I16(_) => 3,
        Value::U32(_) => 4,
        Value::I32(_) => 5,
        Value::F32(_) => 6,
        Value::Bool(_) => 7,
        Value::String(_) => 8,
        Value::Array(_) => 9,
        Value::U64(_) => 10,
        Value::I64(_) => 11,
        Value::F64(_) => 12,
    }
}

fn put_string(out: &mut Vec<u8>, s: &str) {
    out.extend((s.len() as u64).to_le_bytes());
    out.extend(s.as_bytes());
}

fn put_value(out: &mut Vec<u8>, v: &Value) {
    match v {
        Value::U8(x) => out.push(*x),
        Value::I8(x) => out.extend(x.to_le_bytes()),
        Value::U16(x) => out.extend(x.to_le_bytes()),
        Value::I16(x) => out.extend(x.to_le_bytes()),
        Value::U32(x) => out.extend(x.to_le_bytes()),
        Value::I32(x) => out.extend(x.to_le_bytes()),
        Value::F32(x) => out.extend(x.to_le_bytes()),
        Value::Bool(x) => out.push(u8::from(*x)),
        Value::String(s) => put_string(out, s),
        Value::Array(items) => {
            // An empty array still names a type; strings are what empty arrays hold in practice.
            let t = items.first().map_or(8, type_id);
            out.extend(t.to_le_bytes());
            out.extend((items.len() as u64).to_le_bytes());
            for item in items {
                put_value(out, item);
            }
        }
        Value::U64(x) => out.extend(x.to_le_bytes()),
        Value::I64(x) => out.extend(x.to_le_bytes()),
        Value::F64(x) => out.extend(x.to_le_bytes()),
    }
}

fn pad(n: u64) -> u64 {
    n.div_ceil(ALIGNMENT) * ALIGNMENT
}

/// The whole file: header, metadata, tensor table, padding, tensor data.
pub fn encode<K: AsRef<str>>(metadata: &[(K, Value)], tensors: &[Tensor]) -> Vec<u8> {
    let mut out = b"GGUF".to_vec();
    out.extend(3u32.to_le_bytes());
    out.extend((tensors.len() as u64).to_le_bytes());
    out.extend((metadata.len() as u64).to_le_bytes());
    for (key, value) in metadata {
        put_string(&mut out, key.as_ref());
        out.extend(type_id(value).to_le_bytes());
        put_value(&mut out, value);
    }
    let mut offset = 0u64;
    for t in tensors {
        put_string(&mut out, &t.name);
        out.extend((t.dims.len() as u32).to_le_bytes());
        for d in &t.dims {
            out.extend(d.to_le_bytes());
        }
        out.extend(GGML_TYPE_F32.to_le_bytes());
        out.extend(offset.to_le_bytes());
        offset = pad(offset + 4 * t.data.len() as u64);
    }
    out.resize(pad(out.len() as u64) as usize, 0);
    for t in tensors {
        for x in &t.data {
            out.extend(x.to_le_bytes());
        }
        out.resize(pad(out.len() as u64) as usize, 0);
    }
    out
}

/// Writes the file to `path` (whole, then renamed: never half a model under the name).
pub fn write<K: AsRef<str>>(
    path: &std::path::Path,
    metadata: &[(K, Value)],
    tensors: &[Tensor],
) -> std::io::Result<()> {
    let tmp = path.with_extension("gguf.partial");
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(&encode(metadata, tensors))?;
    f.sync_all()?;
    std::fs::rename(tmp, path)
}
