//! The FineWeb rules (Penedo et al. 2024), as datatrove's `FineWebQualityFilter` applies them:
//! lines ending in punctuation, short lines, characters in duplicated lines, list-like documents.

use serde::{Deserialize, Serialize};

use crate::words::{char_len, split_words};
use crate::{check_fraction, ConfigError, Reason};

/// Thresholds of the FineWeb rules; defaults are datatrove's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FineWebQuality {
    /// Smallest fraction of lines ending in one of `stop_chars`.
    pub line_punct_thr: f64,
    /// Do not apply `line_punct_thr` when no line at all ends in punctuation.
    pub line_punct_exclude_zero: bool,
    /// Largest fraction of short lines.
    pub short_line_thr: f64,
    /// A line of at most this many characters is short.
    pub short_line_length: usize,
    /// Largest fraction of characters (newlines aside) in lines that repeat an earlier line.
    pub char_duplicates_ratio: f64,
    /// Largest ratio of newlines to words (lists and menus have many).
    pub new_line_ratio: f64,
    /// The characters that end a sentence.
    pub stop_chars: String,
}

impl Default for FineWebQuality {
    fn default() -> Self {
        Self {
            line_punct_thr: 0.12,
            line_punct_exclude_zero: false,
            short_line_thr: 0.67,
            short_line_length: 30,
            char_duplicates_ratio: 0.01,
            new_line_ratio: 0.3,
            stop_chars: ".!?…。！？‼⁇⁈⁉։؟۔।॥።፧".to_string(),
        }
    }
}

impl FineWebQuality {
    /// Checks the fractions.
    pub fn validate(&self) -> Result<(), ConfigError> {
        check_fraction("line_punct_thr", self.line_punct_thr)?;
        check_fraction("short_line_thr", self.short_line_thr)?;
        check_fraction("char_duplicates_ratio", self.char_duplicates_ratio)?;
        if self.stop_chars.is_empty() {
            return Err(ConfigError { field: "stop_chars", value: "\"\"".into(), expected: "at least one character" });
        }
        Ok(())
    }

    /// Keeps the document (`Ok`) or says which rule removes it.
    pub fn check(&self, text: &str) -> Result<(), Reason> {
        let lines: Vec<&str> = text.split('\n').filter(|l| !l.trim().is_empty()).collect();
        if lines.is_empty() {
            return Err(Reason::Empty);
        }
        let n_lines = lines.len() as f64;
        let punct = lines.iter().filter(|l| l.chars().next_back().is_some_and(|c| self.stop_chars.contains(c))).count();
        let ratio = punct as f64 / n_lines;
        if ratio < self.line_punct_thr && !(punct == 0 && self.line_punct_exclude_zero) {
            return Err(Reason::FineWebLinePunctRatio);
        }
        let short = lines.iter().filter(|l| char_len(l) <= self.short_line_length).count();
        if short as f64 / n_lines > self.short_line_thr {
            return Err(Reason::FineWebShortLineRatio);
        }
        let mut seen = std::collections::HashSet::with_capacity(lines.len());
        let dup_chars: usize = lines.iter().filter(|l| !seen.insert(**l)).map(|l| char_len(l)).sum();
        let chars_without_newlines = char_len(text) - text.matches('\n').count();
        if dup_chars as f64 / chars_without_newlines.max(1) as f64 > self.char_duplicates_ratio {
            return Err(Reason::FineWebCharDupRatio);
        }
        let n_words = split_words(text).len();
        if text.matches('\n').count() as f64 / n_words.max(1) as f64 > self.new_line_ratio {
            return Err(Reason::FineWebListRatio);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(text: &str, expected: Result<(), Reason>) {
        assert_eq!(FineWebQuality::default().check(text), expected, "text {text:?}");
    }

    const PROSE: &str = "The committee met on Tuesday to discuss the budget for the coming year.\n\
        Several members raised concerns about the cost of repairing the old bridge.\n\
        A vote was postponed until engineers could deliver a full report.";

    #[test]
    fn keeps_prose() {
        check(PROSE, Ok(()));
    }

    #[test]
    fn removes_empty_and_unpunctuated() {
        check(" \n \n", Err(Reason::Empty));
        check(
            "Home about us contact the team\nproducts and services for everyone here",
            Err(Reason::FineWebLinePunctRatio),
        );
    }

    #[test]
    fn removes_short_lines_duplicates_and_lists() {
        check(
            &format!("{PROSE}\nHome.\nAbout.\nShop.\nCart.\nHelp.\nLogin.\nMore."),
            Err(Reason::FineWebShortLineRatio),
        );
        check(
            &format!("{PROSE}\nA vote was postponed until engineers could deliver a full report."),
            Err(Reason::FineWebCharDupRatio),
        );
        let list = "Apples.\nPears.\nPlums.\nFigs.";
        let lenient = FineWebQuality { short_line_thr: 1.0, ..Default::default() };
        assert_eq!(lenient.check(list), Err(Reason::FineWebListRatio));
    }
}
