//! Tokenization into token shards: a real Hugging Face tokenizer (a word-level one built here and
//! saved as `tokenizer.json`) over the committed corpus; the manifest must agree with the text
//! shards document for document and token for token.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::io::Read;
use std::path::Path;

use sha2::{Digest, Sha256};
use strata_dataprep::{run_pipeline, Error, Manifest, Pipeline, RunOptions};
use tokenizers::models::wordlevel::WordLevel;
use tokenizers::pre_tokenizers::whitespace::Whitespace;
use tokenizers::Tokenizer;

const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data");

fn write_tokenizer(path: &Path) {
    let words = ["[UNK]", "<eos>", "the", "of", "and", "a", "to", "in", "is", "was", "for", "on", "that", "with", "."];
    let vocab: HashMap<String, u32> = words.iter().enumerate().map(|(i, w)| (w.to_string(), i as u32)).collect();
    let model = WordLevel::builder().vocab(vocab.into_iter().collect()).unk_token("[UNK]".into()).build().unwrap();
    let mut tokenizer = Tokenizer::new(model);
    tokenizer.with_pre_tokenizer(Some(Whitespace {}));
    tokenizer.save(path, false).unwrap();
}

fn setup(tokenize: &str) -> (tempfile::TempDir, Pipeline) {
    let dir = tempfile::tempdir().unwrap();
    let corpus = dir.path().join("corpus");
    std::fs::create_dir(&corpus).unwrap();
    for name in ["a.jsonl", "b.jsonl", "c.jsonl"] {
        std::fs::copy(Path::new(DATA).join("corpus").join(name), corpus.join(name)).unwrap();
    }
    write_tokenizer(&dir.path().join("tokenizer.json"));
    let text = std::fs::read_to_string(Path::new(DATA).join("pipeline.toml")).unwrap() + tokenize;
    std::fs::write(dir.path().join("pipeline.toml"), text).unwrap();
    let pipeline = Pipeline::load(&dir.path().join("pipeline.toml")).unwrap();
    (dir, pipeline)
}

#[test]
fn token_shards_match_the_text_shards() {
    let (dir, pipeline) = setup("\n[tokenize]\ntokenizer = \"tokenizer.json\"\neos_token = \"<eos>\"\n");
    let out = dir.path().join("out");
    let options = RunOptions { output: Some(out.clone()), threads: Some(2), ..Default::default() };
    let report = run_pipeline(&pipeline, &options).unwrap();
    let manifest: Manifest = serde_json::from_slice(&std::fs::read(out.join("tokens.json")).unwrap()).unwrap();
    assert_eq!(manifest.dtype, "u16");
    assert_eq!(manifest.eos_token_id, Some(1));
    assert_eq!(manifest.documents, report.output.documents);
    assert!(manifest.documents > 0);

    // Re-tokenize every kept text and compare with the shards, byte for byte.
    let tokenizer = Tokenizer::from_file(dir.path().join("tokenizer.json")).unwrap();
    let mut expected: Vec<u8> = Vec::new();
    let mut shards = report.output.shards.clone();
    shards.sort();
    for shard in &shards {
        let mut text = String::new();
        zstd::Decoder::new(std::fs::File::open(out.join(shard)).unwrap()).unwrap().read_to_string(&mut text).unwrap();
        for line in text.lines() {
            let doc: serde_json::Value = serde_json::from_str(line).unwrap();
            let ids = tokenizer.encode(doc["text"].as_str().unwrap(), false).unwrap().get_ids().to_vec();
            for id in ids.into_iter().chain([1]) {
                expected.extend_from_slice(&(id as u16).to_le_bytes());
            }
        }
    }
    let mut actual = Vec::new();
    let mut tokens = 0;
    for shard in &manifest.shards {
        let bytes = std::fs::read(out.join(&shard.file)).unwrap();
        assert_eq!(hex::encode(Sha256::digest(&bytes)), shard.sha256, "{} hash", shard.file);
        assert_eq!(bytes.len() as u64, shard.tokens * 2);
        tokens += shard.tokens;
        actual.extend(bytes);
    }
    assert_eq!(tokens, manifest.tokens);
    assert_eq!(actual, expected, "the token shards hold the kept texts' tokens in shard order");
}

#[test]
fn an_unknown_eos_token_fails_before_any_work() {
    let (dir, pipeline) = setup("\n[tokenize]\ntokenizer = \"tokenizer.json\"\neos_token = \"</s>\"\n");
    let out = dir.path().join("out");
    let options = RunOptions { output: Some(out.clone()), ..Default::default() };
    match run_pipeline(&pipeline, &options) {
        Err(Error::Config { path, message, .. }) => {
            assert_eq!(path, "tokenize.eos_token");
            assert!(message.contains("not in the tokenizer's vocabulary"), "{message}");
        }
        other => panic!("expected a config error, got {other:?}"),
    }
    assert!(!out.join("tokens.json").exists());
}

#[test]
fn a_tokenizer_must_be_named_once_and_a_bad_gguf_is_refused_by_field() {
    for (tokenize, field, words) in [
        ("tokenizer = \"tokenizer.json\"\ngguf = \"m.gguf\"\n", "tokenize", "exactly one"),
        ("eos_token = \"<eos>\"\n", "tokenize", "exactly one"),
        ("gguf = \"tokenizer.json\"\n", "tokenize.gguf", "not a GGUF file"),
        ("gguf = \"missing.gguf\"\n", "tokenize.gguf", "cannot open"),
    ] {
        let (dir, pipeline) = setup(&format!("\n[tokenize]\n{tokenize}"));
        let options = RunOptions { output: Some(dir.path().join("out")), ..Default::default() };
        match run_pipeline(&pipeline, &options) {
            Err(Error::Config { path, message, .. }) => {
                assert_eq!(path, field, "{tokenize}");
                assert!(message.contains(words), "{tokenize}: {message}");
            }
            other => panic!("{tokenize}: expected a config error, got {other:?}"),
        }
    }
}
