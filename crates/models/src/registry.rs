//! The registry: `registry.json` in the models directory, one entry per pulled model.
//!
//! Written whole to a temporary file and renamed, so a crash leaves the old registry or the new
//! one, never half of either.

use crate::gguf::GgufError;
use crate::info::{InfoError, ModelInfo};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

pub const REGISTRY_FILE: &str = "registry.json";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelEntry {
    pub name: String,
    /// The file's name inside the models directory.
    pub file: String,
    pub sha256: String,
    pub file_bytes: u64,
    /// Where it came from (a pip requirement).
    pub source: String,
    #[serde(flatten)]
    pub info: ModelInfo,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Registry {
    pub models: Vec<ModelEntry>,
}

#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("{path}: {message}")]
    Io { path: PathBuf, message: String },
    #[error("{path} is not a usable model file: {source}")]
    Gguf { path: PathBuf, source: GgufError },
    #[error("{path}: {source}")]
    Info { path: PathBuf, source: InfoError },
    #[error("the registry {path} is corrupt: {message}")]
    Corrupt { path: PathBuf, message: String },
    #[error(
        "no model {name:?} in {dir}; pull it with `strata model pull {name}` (known: {known}) or pass a .gguf path"
    )]
    Unknown { name: String, dir: PathBuf, known: String },
    #[error("{0}")]
    Pull(String),
}

impl RegistryError {
    pub fn io(path: &Path, e: std::io::Error) -> Self {
        Self::Io { path: path.to_path_buf(), message: e.to_string() }
    }
}

impl Registry {
    /// The registry in `dir`; empty when there is none yet.
    pub fn load(dir: &Path) -> Result<Self, RegistryError> {
        let path = dir.join(REGISTRY_FILE);
        match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map_err(|e| RegistryError::Corrupt { path: path.clone(), message: e.to_string() }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Self::default()),
            Err(e) => Err(RegistryError::io(&path, e)),
        }
    }

    pub fn save(&self, dir: &Path) -> Result<(), RegistryError> {
        std::fs::create_dir_all(dir).map_err(|e| RegistryError::io(dir, e))?;
        let path = dir.join(REGISTRY_FILE);
        let tmp = dir.join(format!("{REGISTRY_FILE}.tmp"));
        let json = serde_json::to_vec_pretty(self)
            .map_err(|e| RegistryError::Corrupt { path: path.clone(), message: e.to_string() })?;
        std::fs::write(&tmp, json).map_err(|e| RegistryError::io(&tmp, e))?;
        std::fs::rename(&tmp, &path).map_err(|e| RegistryError::io(&path, e))
    }

    /// Adds or replaces the entry with the same name.
    pub fn upsert(&mut self, entry: ModelEntry) {
        self.models.retain(|m| m.name != entry.name);
        self.models.push(entry);
        self.models.sort_by(|a, b| a.name.cmp(&b.name));
    }

    pub fn get(&self, name: &str) -> Option<&ModelEntry> {
        self.models.iter().find(|m| m.name == name)
    }
}

/// A model to serve: a registered name, or a path to a GGUF file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    pub name: String,
    pub path: PathBuf,
}

/// `smollm2` → the registered file; `./x.gguf` or any existing file → itself, named by its stem.
pub fn resolve(dir: &Path, model: &str) -> Result<Resolved, RegistryError> {
    let as_path = Path::new(model);
    if as_path.is_file() {
        let name = as_path.file_stem().map_or_else(|| model.to_string(), |s| s.to_string_lossy().into_owned());
        return Ok(Resolved { name, path: as_path.to_path_buf() });
    }
    let registry = Registry::load(dir)?;
    match registry.get(model) {
        Some(entry) => Ok(Resolved { name: entry.name.clone(), path: dir.join(&entry.file) }),
        None => Err(RegistryError::Unknown {
            name: model.to_string(),
            dir: dir.to_path_buf(),
            known: crate::catalog::names().join(", "),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(name: &str) -> ModelEntry {
        ModelEntry {
            name: name.into(),
            file: format!("{name}.gguf"),
            sha256: "00".into(),
            file_bytes: 1,
            source: "test".into(),
            info: ModelInfo {
                architecture: "llama".into(),
                display_name: None,
                quantization: "Q4_1".into(),
                parameters: 1,
                context_length: 8,
                layers: 1,
                kv_heads: 1,
                kv_bytes_per_token: 4,
                has_chat_template: false,
            },
        }
    }

    #[test]
    fn entries_round_trip_and_resolve_by_name() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(Registry::load(dir.path()).unwrap(), Registry::default());
        let mut r = Registry::default();
        r.upsert(entry("b"));
        r.upsert(entry("a"));
        r.upsert(entry("b"));
        r.save(dir.path()).unwrap();
        let loaded = Registry::load(dir.path()).unwrap();
        assert_eq!(loaded.models.iter().map(|m| m.name.as_str()).collect::<Vec<_>>(), ["a", "b"]);
        assert_eq!(resolve(dir.path(), "a").unwrap().path, dir.path().join("a.gguf"));
        let err = resolve(dir.path(), "nope").unwrap_err().to_string();
        assert!(err.contains("strata model pull nope"), "{err}");
    }
}
