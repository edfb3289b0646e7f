//! The GGUF reader against hand-built files: good ones parse, and every bad one — truncated at
//! any byte, wrong magic or version, lying lengths, unknown types — is refused with an error.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use proptest::prelude::*;
use strata_models::gguf::{read_header, GgufError, Value, MAX_STRING_BYTES};
use strata_models::ModelInfo;

/// Writes GGUF bytes the way llama.cpp's writer does (little-endian, v3).
struct Builder {
    version: u32,
    kvs: Vec<Vec<u8>>,
    tensors: Vec<Vec<u8>>,
}

fn string(s: &str) -> Vec<u8> {
    let mut out = (s.len() as u64).to_le_bytes().to_vec();
    out.extend(s.as_bytes());
    out
}

impl Builder {
    fn new() -> Self {
        Self { version: 3, kvs: Vec::new(), tensors: Vec::new() }
    }

    fn kv(mut self, key: &str, value_type: u32, value: Vec<u8>) -> Self {
        let mut b = string(key);
        b.extend(value_type.to_le_bytes());
        b.extend(value);
        self.kvs.push(b);
        self
    }

    fn str(self, key: &str, value: &str) -> Self {
        self.kv(key, 8, string(value))
    }

    fn u32(self, key: &str, value: u32) -> Self {
        self.kv(key, 4, value.to_le_bytes().to_vec())
    }

    fn tensor(mut self, name: &str, dims: &[u64]) -> Self {
        let mut b = string(name);
        b.extend((dims.len() as u32).to_le_bytes());
        for d in dims {
            b.extend(d.to_le_bytes());
        }
        b.extend(3u32.to_le_bytes());
        b.extend(0u64.to_le_bytes());
        self.tensors.push(b);
        self
    }

    fn build(&self) -> Vec<u8> {
        let mut out = b"GGUF".to_vec();
        out.extend(self.version.to_le_bytes());
        out.extend((self.tensors.len() as u64).to_le_bytes());
        out.extend((self.kvs.len() as u64).to_le_bytes());
        for kv in &self.kvs {
            out.extend(kv);
        }
        for t in &self.tensors {
            out.extend(t);
        }
        out
    }
}

/// A small llama-like model: 2 layers, 4 heads of 16 over a 64-wide embedding, 2 KV heads.
fn llama() -> Builder {
    let mut tokens = 8u32.to_le_bytes().to_vec(); // an array of strings
    tokens.extend(2u64.to_le_bytes());
    tokens.extend(string("<s>"));
    tokens.extend(string("hi"));
    Builder::new()
        .str("general.architecture", "llama")
        .str("general.name", "tiny")
        .u32("general.file_type", 3)
        .u32("llama.block_count", 2)
        .u32("llama.attention.head_count", 4)
        .u32("llama.attention.head_count_kv", 2)
        .u32("llama.embedding_length", 64)
        .u32("llama.context_length", 256)
        .kv("tokenizer.ggml.tokens", 9, tokens)
        .str("tokenizer.chat_template", "{{ messages }}")
        .tensor("token_embd.weight", &[64, 2])
        .tensor("output.weight", &[64, 2, 1])
}

#[test]
fn a_good_file_reads_whole() {
    let header = read_header(llama().build().as_slice()).unwrap();
    assert_eq!(header.version, 3);
    assert_eq!(header.get("general.architecture"), Some(&Value::String("llama".into())));
    assert_eq!(
        header.get("tokenizer.ggml.tokens"),
        Some(&Value::Array(vec![Value::String("<s>".into()), Value::String("hi".into())]))
    );
    assert_eq!(header.tensors.len(), 2);
    assert_eq!(header.tensors[1].dims, vec![64, 2, 1]);
}

#[test]
fn model_info_comes_from_the_metadata() {
    let info = ModelInfo::from_header(&read_header(llama().build().as_slice()).unwrap()).unwrap();
    assert_eq!(info.architecture, "llama");
    assert_eq!(info.quantization, "Q4_1");
    assert_eq!(info.parameters, 256);
    assert_eq!(info.context_length, 256);
    // 2 layers × 2 KV heads × (16 + 16) dims × 2 bytes.
    assert_eq!(info.kv_bytes_per_token, 256);
    assert!(info.has_chat_template);
}

#[test]
fn missing_metadata_is_named() {
    let header = read_header(Builder::new().str("general.architecture", "llama").build().as_slice()).unwrap();
    let err = ModelInfo::from_header(&header).unwrap_err().to_string();
    assert!(err.contains("llama.block_count"), "{err}");
}

#[test]
fn every_truncation_is_an_error_not_a_crash() {
    let bytes = llama().build();
    for len in 0..bytes.len() {
        match read_header(&bytes[..len]) {
            Err(GgufError::Truncated { .. }) => {}
            other => panic!("{len} bytes: {other:?}"),
        }
    }
}

fn error_of(bytes: Vec<u8>) -> String {
    read_header(bytes.as_slice()).unwrap_err().to_string()
}

#[test]
fn bad_files_are_refused_with_the_reason() {
    let mut bad_magic = llama().build();
    bad_magic[0] = b'X';
    assert!(error_of(bad_magic).contains("not a GGUF file"));

    let mut v1 = llama();
    v1.version = 1;
    assert!(error_of(v1.build()).contains("version 1 is not supported"));

    let mut huge_string = b"GGUF".to_vec();
    huge_string.extend(3u32.to_le_bytes());
    huge_string.extend(0u64.to_le_bytes());
    huge_string.extend(1u64.to_le_bytes());
    huge_string.extend((MAX_STRING_BYTES + 1).to_le_bytes());
    assert!(error_of(huge_string).contains("more than the limit"));

    assert!(error_of(Builder::new().kv("k", 99, vec![]).build()).contains("unknown metadata value type 99"));

    let five_dims = Builder::new().tensor("t", &[1, 1, 1, 1, 1]).build();
    assert!(error_of(five_dims).contains("dimension count"));

    let mut nested = Vec::new();
    for _ in 0..3 {
        nested.extend(9u32.to_le_bytes());
        nested.extend(1u64.to_le_bytes());
    }
    assert!(error_of(Builder::new().kv("deep", 9, nested).build()).contains("array nesting"));

    let mut lying_array = 0u32.to_le_bytes().to_vec();
    lying_array.extend(1_000_000u64.to_le_bytes());
    assert!(error_of(Builder::new().kv("a", 9, lying_array).build()).contains("truncated"));

    let mut not_utf8 = 2u64.to_le_bytes().to_vec();
    not_utf8.extend([0xff, 0xfe]);
    assert!(error_of(Builder::new().kv("s", 8, not_utf8).build()).contains("not UTF-8"));
}

proptest! {
    /// Whatever the bytes after a valid prefix, the reader returns; it never panics.
    #[test]
    fn arbitrary_bytes_never_crash(tail in prop::collection::vec(any::<u8>(), 0..512), cut in 0usize..200) {
        let mut bytes = llama().build();
        bytes.truncate(cut.min(bytes.len()));
        bytes.extend(tail);
        let _ = read_header(bytes.as_slice());
    }
}
