//! A Hugging Face tokenizer built from the vocabulary inside a GGUF model file, so a corpus is
//! tokenized exactly as the model will read it without a separate `tokenizer.json`.
//!
//! GGUF stores the tokenizer as metadata: `tokenizer.ggml.model` (`gpt2` for byte-level BPE),
//! the token strings, the merges, token types (3 = control, written literally), and
//! `tokenizer.ggml.pre`, the name of llama.cpp's pre-tokenizer. We rebuild the same
//! `tokenizer.json` document HF would ship and load it with the `tokenizers` crate (writing the
//! document rather than the structs keeps us off `tokenizers`' internal hash-map types).
//! Byte-level BPE with the GPT-2 and SmolLM pre-tokenizers is supported; others (SentencePiece
//! models such as Llama 2 and Gemma) are refused with a message naming the way out.

use serde_json::{json, Map, Value};
use std::path::Path;
use strata_models::gguf::Value as Meta;
use tokenizers::Tokenizer;

const CONTROL: i64 = 3;

fn strings<'a>(header: &'a strata_models::GgufHeader, key: &str) -> Result<Vec<&'a str>, String> {
    match header.get(key) {
        Some(Meta::Array(items)) => items
            .iter()
            .map(|v| v.as_str().ok_or_else(|| format!("{key} holds a value that is not a string")))
            .collect(),
        _ => Err(format!("the model has no {key}")),
    }
}

fn ints(header: &strata_models::GgufHeader, key: &str) -> Vec<i64> {
    match header.get(key) {
        Some(Meta::Array(items)) => items
            .iter()
            .map(|v| match *v {
                Meta::I32(i) => i64::from(i),
                Meta::U32(u) => i64::from(u),
                Meta::I8(i) => i64::from(i),
                _ => 0,
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// The pre-tokenizer of `tokenizer.ggml.pre`, as `tokenizer.json` writes it.
fn pre_tokenizer(pre: &str) -> Result<Value, String> {
    let byte_level = json!({"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": true});
    match pre {
        "gpt2" | "gpt-2" | "default" => Ok(byte_level),
        // SmolLM splits digits one by one before the byte-level split.
        "smollm" => Ok(json!({"type": "Sequence", "pretokenizers": [
            {"type": "Digits", "individual_digits": true}, byte_level]})),
        other => Err(format!(
            "the model's pre-tokenizer {other:?} is not supported from GGUF yet (gpt2 and smollm are); give the model's tokenizer.json instead"
        )),
    }
}

/// Loads the tokenizer of the GGUF file at `path`.
pub fn tokenizer_from_gguf(path: &Path) -> Result<Tokenizer, String> {
    let file = std::fs::File::open(path).map_err(|e| format!("cannot open {}: {e}", path.display()))?;
    let header =
        strata_models::read_header(std::io::BufReader::new(file)).map_err(|e| format!("{}: {e}", path.display()))?;
    let model = header.get("tokenizer.ggml.model").and_then(Meta::as_str).unwrap_or("");
    if model != "gpt2" {
        return Err(format!(
            "the model's tokenizer is {model:?}; only byte-level BPE (\"gpt2\") is read from GGUF yet — give a tokenizer.json instead"
        ));
    }
    let pre = header.get("tokenizer.ggml.pre").and_then(Meta::as_str).unwrap_or("default");
    let tokens = strings(&header, "tokenizer.ggml.tokens")?;
    let merges = strings(&header, "tokenizer.ggml.merges")?;
    let types = ints(&header, "tokenizer.ggml.token_type");
    let vocab: Map<String, Value> = tokens.iter().enumerate().map(|(id, t)| (t.to_string(), json!(id))).collect();
    let added: Vec<Value> = tokens
        .iter()
        .enumerate()
        .filter(|(id, _)| types.get(*id) == Some(&CONTROL))
        .map(|(id, t)| {
            json!({"id": id, "content": t, "single_word": false, "lstrip": false, "rstrip": false,
                   "normalized": false, "special": true})
        })
        .collect();
    let document = json!({
        "version": "1.0",
        "truncation": null,
        "padding": null,
        "added_tokens": added,
        "normalizer": null,
        "pre_tokenizer": pre_tokenizer(pre)?,
        "post_processor": null,
        "decoder": {"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": true},
        "model": {"type": "BPE", "dropout": null, "unk_token": null, "continuing_subword_prefix": null,
                  "end_of_word_suffix": null, "fuse_unk": false, "byte_fallback": false, "ignore_merges": false,
                  "vocab": vocab, "merges": merges},
    });
    document
        .to_string()
        .parse::<Tokenizer>()
        .map_err(|e| format!("{}: the vocabulary does not make a tokenizer: {e}", path.display()))
}
