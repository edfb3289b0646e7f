//! Tokenization into binary token shards a training job reads directly: each kept document's
//! token ids, little-endian, `u16` when the vocabulary fits in 16 bits and `u32` otherwise, with
//! the end-of-text token between documents when one is named. One shard per input file, written
//! beside that file's JSONL shards (same `part-FFFFF-` prefix, so a resumed run replaces a
//! partial one with the text shards), and `tokens.json`, the manifest: documents, tokens and a
//! SHA-256 per shard.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tokenizers::Tokenizer;

use crate::checkpoint::tmp_path;
use crate::error::{Error, Result};

/// `[tokenize]` in a pipeline file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenizeConfig {
    /// A Hugging Face `tokenizer.json`, relative to the pipeline file.
    #[serde(default)]
    pub tokenizer: Option<PathBuf>,
    /// Or a GGUF model file whose own vocabulary tokenizes the corpus (byte-level BPE models).
    #[serde(default)]
    pub gguf: Option<PathBuf>,
    /// Appended after every document (e.g. `<|endoftext|>`); must be in the vocabulary.
    #[serde(default)]
    pub eos_token: Option<String>,
}

/// A tokenizer loaded and checked before any work.
pub struct LoadedTokenizer {
    tokenizer: Tokenizer,
    eos: Option<u32>,
    vocab_size: usize,
    source: String,
}

impl LoadedTokenizer {
    /// Loads the tokenizer; errors name the `tokenize.*` field at fault.
    pub fn load(config: &TokenizeConfig, base_dir: &Path) -> std::result::Result<Self, (String, String)> {
        let (tokenizer, path) = match (&config.tokenizer, &config.gguf) {
            (Some(json), None) => {
                let path = base_dir.join(json);
                let t = Tokenizer::from_file(&path)
                    .map_err(|e| ("tokenize.tokenizer".to_string(), format!("cannot load {}: {e}", path.display())))?;
                (t, path)
            }
            (None, Some(gguf)) => {
                let path = base_dir.join(gguf);
                let t = crate::gguf_vocab::tokenizer_from_gguf(&path).map_err(|e| ("tokenize.gguf".to_string(), e))?;
                (t, path)
            }
            _ => {
                return Err((
                    "tokenize".to_string(),
                    "name exactly one of `tokenizer` (a tokenizer.json) or `gguf` (a model file)".to_string(),
                ))
            }
        };
        let eos = match &config.eos_token {
            None => None,
            Some(token) => Some(tokenizer.token_to_id(token).ok_or_else(|| {
                ("tokenize.eos_token".to_string(), format!("{token:?} is not in the tokenizer's vocabulary"))
            })?),
        };
        let vocab_size = tokenizer.get_vocab_size(true);
        Ok(Self { tokenizer, eos, vocab_size, source: path.display().to_string() })
    }

    /// Two bytes per token when every id fits.
    pub fn wide(&self) -> bool {
        self.vocab_size > 1 << 16
    }

    pub fn dtype(&self) -> &'static str {
        if self.wide() {
            "u32"
        } else {
            "u16"
        }
    }

    /// The file name of input file `file_index`'s token shard.
    pub fn shard_name(&self, prefix: &str) -> String {
        format!("{prefix}tokens.{}", self.dtype())
    }
}

/// What one token shard holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TokenShard {
    pub file: String,
    pub documents: u64,
    pub tokens: u64,
    pub sha256: String,
}

/// Writes one input file's token shard (under a temporary name until finished).
pub struct TokenWriter<'a> {
    loaded: &'a LoadedTokenizer,
    name: String,
    path: PathBuf,
    out: BufWriter<File>,
    hasher: Sha256,
    documents: u64,
    tokens: u64,
    buf: Vec<u8>,
}

impl<'a> TokenWriter<'a> {
    pub fn new(loaded: &'a LoadedTokenizer, dir: &Path, prefix: &str) -> Result<Self> {
        let name = loaded.shard_name(prefix);
        let path = dir.join(&name);
        let tmp = tmp_path(&path);
        let out = BufWriter::with_capacity(1 << 16, File::create(&tmp).map_err(Error::io(&tmp))?);
        Ok(Self { loaded, name, path, out, hasher: Sha256::new(), documents: 0, tokens: 0, buf: Vec::new() })
    }

    pub fn write(&mut self, text: &str) -> Result<()> {
        let encoding =
            self.loaded.tokenizer.encode(text, false).map_err(|e| Error::Tokenize { message: e.to_string() })?;
        self.buf.clear();
        let ids = encoding.get_ids().iter().copied().chain(self.loaded.eos);
        let mut n = 0u64;
        for id in ids {
            if self.loaded.wide() {
                self.buf.extend_from_slice(&id.to_le_bytes());
            } else {
                // Ids are below the vocabulary size, which fits in 16 bits here.
                self.buf.extend_from_slice(&(id as u16).to_le_bytes());
            }
            n += 1;
        }
        self.hasher.update(&self.buf);
        self.out.write_all(&self.buf).map_err(Error::io(tmp_path(&self.path)))?;
        self.documents += 1;
        self.tokens += n;
        Ok(())
    }

    pub fn finish(self) -> Result<TokenShard> {
        let tmp = tmp_path(&self.path);
        let file = self.out.into_inner().map_err(|e| Error::io(&tmp)(e.into_error()))?;
        file.sync_all().map_err(Error::io(&tmp))?;
        std::fs::rename(&tmp, &self.path).map_err(Error::io(&self.path))?;
        Ok(TokenShard {
            file: self.name,
            documents: self.documents,
            tokens: self.tokens,
            sha256: hex::encode(self.hasher.finalize()),
        })
    }
}

/// `tokens.json`: what a training job needs to read the shards.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub tokenizer: String,
    pub vocab_size: usize,
    pub dtype: String,
    pub eos_token_id: Option<u32>,
    pub documents: u64,
    pub tokens: u64,
    pub shards: Vec<TokenShard>,
}

impl Manifest {
    pub fn new(loaded: &LoadedTokenizer, shards: Vec<TokenShard>) -> Self {
        Manifest {
            tokenizer: loaded.source.clone(),
            vocab_size: loaded.vocab_size,
            dtype: loaded.dtype().to_string(),
            eos_token_id: loaded.eos,
            documents: shards.iter().map(|s| s.documents).sum(),
            tokens: shards.iter().map(|s| s.tokens).sum(),
            shards,
        }
    }
}
