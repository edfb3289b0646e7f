//! The pipeline file: raw TOML parsed into a validated [`Pipeline`] in one step, before any work.
//!
//! Unknown fields are rejected and every error names the path of the bad field
//! (`stages[1].min_doc_words`), so a typo fails the run at once instead of silently using a default.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use strata_clean::dedup::MinHashConfig;
use strata_clean::{
    C4Quality, FineWebQuality, GopherQuality, GopherRepetition, LanguageFilter, NormalizeConfig, PiiConfig,
};

use crate::error::{Error, Result};
use crate::tokens::TokenizeConfig;

/// The pipeline file as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPipeline {
    input: InputConfig,
    output: OutputConfig,
    #[serde(default)]
    stages: Vec<StageConfig>,
    #[serde(default)]
    tokenize: Option<TokenizeConfig>,
}

/// `[input]`: which files, which fields.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InputConfig {
    /// Files or directories (every file directly inside, by name). Relative paths are relative to
    /// the pipeline file.
    #[serde(default)]
    pub paths: Vec<PathBuf>,
    #[serde(default = "default_id_field")]
    pub id_field: String,
    #[serde(default = "default_text_field")]
    pub text_field: String,
    /// Stop at the first bad line instead of counting it.
    #[serde(default)]
    pub strict: bool,
    /// Write each document's other fields (or Parquet columns) back beside its id and text, as
    /// read; `false` writes the id and text alone.
    #[serde(default = "default_true")]
    pub keep_fields: bool,
}

/// `[output]`: where and how shards are written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutputConfig {
    /// The output directory (relative to the pipeline file); `--output` overrides it.
    #[serde(default)]
    pub dir: Option<PathBuf>,
    /// JSON Lines or Parquet shards.
    #[serde(default)]
    pub format: Format,
    /// For JSON Lines the whole file's compression; for Parquet its pages'.
    #[serde(default)]
    pub compression: Compression,
    /// A shard is closed after this many documents.
    #[serde(default = "default_max_docs_per_shard")]
    pub max_docs_per_shard: usize,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Compression {
    None,
    Gzip,
    #[default]
    Zstd,
}

/// The shards' file format.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    #[default]
    Jsonl,
    /// Two string columns named by `id_field` and `text_field`.
    Parquet,
}

impl OutputConfig {
    /// The shards' file-name extension.
    pub fn extension(&self) -> &'static str {
        match (self.format, self.compression) {
            (Format::Parquet, _) => "parquet",
            (Format::Jsonl, Compression::None) => "jsonl",
            (Format::Jsonl, Compression::Gzip) => "jsonl.gz",
            (Format::Jsonl, Compression::Zstd) => "jsonl.zst",
        }
    }
}

/// One `[[stages]]` entry, chosen by its `type`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum StageConfig {
    Normalize(NormalizeConfig),
    GopherQuality(GopherQuality),
    GopherRepetition(GopherRepetition),
    C4(C4Quality),
    Fineweb(FineWebQuality),
    Language(LanguageFilter),
    Pii(PiiConfig),
    ExactDedup(ExactDedupConfig),
    MinhashDedup(MinHashConfig),
}

impl StageConfig {
    pub fn name(&self) -> &'static str {
        match self {
            StageConfig::Normalize(_) => "normalize",
            StageConfig::GopherQuality(_) => "gopher_quality",
            StageConfig::GopherRepetition(_) => "gopher_repetition",
            StageConfig::C4(_) => "c4",
            StageConfig::Fineweb(_) => "fineweb",
            StageConfig::Language(_) => "language",
            StageConfig::Pii(_) => "pii",
            StageConfig::ExactDedup(_) => "exact_dedup",
            StageConfig::MinhashDedup(_) => "minhash_dedup",
        }
    }

    fn is_dedup(&self) -> bool {
        matches!(self, StageConfig::ExactDedup(_) | StageConfig::MinhashDedup(_))
    }
}

/// Exact deduplication has nothing to tune; the table exists so it can be listed as a stage.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExactDedupConfig {}

/// A validated pipeline: inputs resolved, document stages first, deduplication last.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Pipeline {
    pub input: InputConfig,
    pub output: OutputConfig,
    /// Stages applied to each document on its own, in order.
    pub doc_stages: Vec<StageConfig>,
    pub exact_dedup: bool,
    pub minhash: Option<MinHashConfig>,
    /// Token shards to write beside the text shards, when set.
    pub tokenize: Option<TokenizeConfig>,
    /// Where relative paths in the file are resolved from.
    #[serde(skip)]
    pub base_dir: PathBuf,
}

fn default_true() -> bool {
    true
}
fn default_id_field() -> String {
    "id".into()
}
fn default_text_field() -> String {
    "text".into()
}
fn default_max_docs_per_shard() -> usize {
    100_000
}

impl Pipeline {
    /// Reads and validates a pipeline file.
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(Error::io(path))?;
        let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
        Self::parse(&text, &path.display().to_string(), base)
    }

    /// Parses and validates pipeline text; `file` only labels errors.
    pub fn parse(text: &str, file: &str, base_dir: PathBuf) -> Result<Self> {
        let config_error = |path: String, message: String| Error::Config { file: file.to_string(), path, message };
        let de = toml::Deserializer::parse(text).map_err(|e| config_error(".".into(), e.to_string()))?;
        let raw: RawPipeline = serde_path_to_error::deserialize(de).map_err(|e| {
            let mut path = e.path().to_string();
            let message = e.into_inner().to_string().trim().to_string();
            // Inside a `[[stages]]` entry serde buffers the table to read its `type` first, which
            // hides the field from the path; the message still names it.
            if let Some(field) = message.split("unknown field `").nth(1).and_then(|rest| rest.split('`').next()) {
                if !path.ends_with(field) {
                    path = format!("{path}.{field}");
                }
            }
            config_error(path, message)
        })?;
        let mut doc_stages = Vec::new();
        let (mut exact_dedup, mut minhash) = (false, None);
        for (i, stage) in raw.stages.into_iter().enumerate() {
            let at = |field: &str| format!("stages[{i}]{}{field}", if field.is_empty() { "" } else { "." });
            if !stage.is_dedup() && (exact_dedup || minhash.is_some()) {
                return Err(config_error(
                    at(""),
                    format!(
                        "`{}` comes after a dedup stage; deduplication runs on the final texts, so list it last",
                        stage.name()
                    ),
                ));
            }
            let checked = match &stage {
                StageConfig::GopherQuality(c) => c.validate(),
                StageConfig::GopherRepetition(c) => c.validate(),
                StageConfig::Fineweb(c) => c.validate(),
                StageConfig::Language(c) => c.validate(),
                StageConfig::MinhashDedup(c) => c.validate(),
                StageConfig::Normalize(_) | StageConfig::C4(_) | StageConfig::Pii(_) | StageConfig::ExactDedup(_) => {
                    Ok(())
                }
            };
            checked.map_err(|e| config_error(at(e.field), e.to_string()))?;
            match stage {
                StageConfig::ExactDedup(_) if exact_dedup => {
                    return Err(config_error(at(""), "exact_dedup listed twice".into()))
                }
                StageConfig::ExactDedup(_) => exact_dedup = true,
                StageConfig::MinhashDedup(_) if minhash.is_some() => {
                    return Err(config_error(at(""), "minhash_dedup listed twice".into()))
                }
                StageConfig::MinhashDedup(c) => minhash = Some(c),
                other => doc_stages.push(other),
            }
        }
        if raw.output.max_docs_per_shard == 0 {
            return Err(config_error("output.max_docs_per_shard".into(), "must be at least 1".into()));
        }
        for (field, value) in [("input.id_field", &raw.input.id_field), ("input.text_field", &raw.input.text_field)] {
            if value.is_empty() {
                return Err(config_error(field.into(), "must not be empty".into()));
            }
        }
        Ok(Pipeline {
            input: raw.input,
            output: raw.output,
            doc_stages,
            exact_dedup,
            minhash,
            tokenize: raw.tokenize,
            base_dir,
        })
    }

    /// A stable fingerprint of everything that decides the output except the output directory, so a
    /// resumed run can tell it is continuing the same work.
    pub fn fingerprint(&self) -> u128 {
        let mut for_hash = self.clone();
        for_hash.output.dir = None;
        let json = serde_json::to_string(&for_hash).unwrap_or_default();
        xxhash_rust::xxh3::xxh3_128(json.as_bytes())
    }
}

/// The commented example `strata data example` prints; a test parses it.
pub const EXAMPLE: &str = include_str!("example.toml");

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Pipeline> {
        Pipeline::parse(text, "test.toml", PathBuf::new())
    }

    fn error_path(text: &str) -> String {
        match parse(text) {
            Err(Error::Config { path, .. }) => path,
            other => panic!("expected a config error, got {other:?}"),
        }
    }

    #[test]
    fn example_is_valid() {
        let p = parse(EXAMPLE).unwrap();
        assert_eq!(p.doc_stages.len(), 7);
        assert!(p.exact_dedup);
        assert_eq!(p.minhash.as_ref().map(MinHashConfig::num_hashes), Some(112));
    }

    #[test]
    fn unknown_language_code_is_named_by_path() {
        let text =
            "[input]\npaths = [\"a.jsonl\"]\n[output]\n[[stages]]\ntype = \"language\"\nlanguages = [\"en\", \"xx\"]\n";
        assert!(error_path(text).starts_with("stages[0].languages"), "{}", error_path(text));
    }

    #[test]
    fn minimal_pipeline_uses_defaults() {
        let p = parse("[input]\npaths = [\"a.jsonl\"]\n[output]\n").unwrap();
        assert_eq!(p.input.text_field, "text");
        assert_eq!(p.output.compression, Compression::Zstd);
        assert!(p.doc_stages.is_empty());
    }

    #[test]
    fn errors_name_the_bad_field() {
        let base = "[input]\npaths = []\n[output]\n";
        assert_eq!(
            error_path(&format!("{base}[[stages]]\ntype = \"gopher_quality\"\nmin_doc_wrds = 3\n")),
            "stages[0].min_doc_wrds"
        );
        assert_eq!(
            error_path(&format!("{base}[[stages]]\ntype = \"gopher_quality\"\nmin_doc_words = \"x\"\n")),
            "stages[0]"
        );
        assert_eq!(error_path(&format!("{base}[[stages]]\ntype = \"sparkle\"\n")), "stages[0].type");
        assert_eq!(error_path("[input]\npaths = []\nstrictt = true\n[output]\n"), "input.strictt");
        assert_eq!(error_path("[input]\npaths = [1]\n[output]\n"), "input.paths[0]");
        assert_eq!(error_path(&format!("{base}compression = \"lz4\"\n")), "output.compression");
        assert_eq!(
            error_path(&format!("{base}[[stages]]\ntype = \"fineweb\"\nshort_line_thr = 2.0\n")),
            "stages[0].short_line_thr"
        );
        assert_eq!(
            error_path(&format!("{base}[[stages]]\ntype = \"minhash_dedup\"\n[[stages]]\ntype = \"pii\"\n")),
            "stages[1]"
        );
    }

    #[test]
    fn config_errors_say_what_is_wrong() {
        let err = parse("[input]\npaths = []\n[output]\n[[stages]]\ntype = \"c4\"\nfilter_lorem = true\n").unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("stages[0]") && msg.contains("filter_lorem"), "{msg}");
    }
}
