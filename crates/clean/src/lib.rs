//! Pure cleaning stages for training corpora.
//!
//! Every function here is synchronous, deterministic and free of IO: text goes in, a verdict, a
//! cleaned text or a signature comes out. The `strata-dataprep` shell reads and writes files, runs
//! these stages in parallel and keeps the report; this crate knows nothing about files, threads or
//! clocks, so the same input gives the same output on a laptop and on the fleet.
//!
//! The stages, in the order a pipeline usually runs them:
//! - [`normalize`]: Unicode NFC, control characters, whitespace.
//! - Quality filters, each a config struct whose defaults are datatrove's (and the papers'):
//!   [`GopherQuality`], [`GopherRepetition`], [`C4Quality`], [`FineWebQuality`]. A removed document
//!   carries a [`Reason`].
//! - [`LanguageFilter`]: keep documents in the wanted languages (whatlang's detector).
//! - [`PiiScrubber`]: e-mail addresses, phone numbers, IP addresses, Luhn-checked card numbers and
//!   common secrets replaced by typed placeholders such as `<EMAIL>`, with counts.
//! - Deduplication ([`dedup`]): exact (hash of the normalised text) and near-duplicate MinHash LSH,
//!   clustered by union-find, one document kept per cluster chosen by id, independent of input order.

mod c4;
pub mod dedup;
mod document;
pub mod fasttext;
mod fineweb;
mod gopher_quality;
mod gopher_repetition;
mod hashing;
mod language;
mod language_fasttext;
mod ngram_table;
mod normalize;
mod pii;
mod punctuation;
mod reason;
mod words;

pub use c4::C4Quality;
pub use document::Document;
pub use fineweb::FineWebQuality;
pub use gopher_quality::GopherQuality;
pub use gopher_repetition::GopherRepetition;
pub use language::LanguageFilter;
pub use language_fasttext::FastTextLanguage;
pub use normalize::{normalize, NormalizeConfig};
pub use pii::{luhn_valid, PiiConfig, PiiCounts, PiiKind, PiiScrubber};
pub use reason::Reason;
pub use words::split_words;

/// A PII pattern that does not compile (only possible through a bug here, but not a panic).
pub type PatternError = regex::Error;

/// A threshold outside its valid range, found when a config is checked.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("`{field}` is {value}: {expected}")]
pub struct ConfigError {
    /// The field's name inside its config struct.
    pub field: &'static str,
    /// The offending value, as written.
    pub value: String,
    /// What a valid value looks like.
    pub expected: &'static str,
}

/// Checks that a fraction lies in `0..=1`.
pub(crate) fn check_fraction(field: &'static str, value: f64) -> Result<(), ConfigError> {
    if (0.0..=1.0).contains(&value) {
        Ok(())
    } else {
        Err(ConfigError { field, value: value.to_string(), expected: "a fraction between 0 and 1" })
    }
}
