//! The Gopher quality filter (Rae et al. 2021, "Scaling Language Models", appendix A), as datatrove
//! implements it: word counts, mean word length, symbol ratios, bullet and ellipsis lines, alphabetic
//! words and stop words.

use std::collections::HashSet;

use serde::{Deserialize, Serialize};

use crate::words::{char_len, is_symbol_word, split_words, splitlines};
use crate::{check_fraction, ConfigError, Reason};

/// Thresholds of the Gopher quality rules; defaults are datatrove's. A rule whose threshold is
/// `None` does not run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GopherQuality {
    /// Fewest non-symbol words a document may have.
    pub min_doc_words: Option<usize>,
    /// Most non-symbol words a document may have.
    pub max_doc_words: Option<usize>,
    /// Smallest mean length (characters) of the non-symbol words.
    pub min_avg_word_length: Option<f64>,
    /// Largest mean length (characters) of the non-symbol words.
    pub max_avg_word_length: Option<f64>,
    /// Largest ratio of `#` characters, and separately of ellipses, to words.
    pub max_symbol_word_ratio: Option<f64>,
    /// Largest fraction of lines starting with a bullet (`•` or `-`).
    pub max_bullet_lines_ratio: Option<f64>,
    /// Largest fraction of lines ending with an ellipsis.
    pub max_ellipsis_lines_ratio: Option<f64>,
    /// Smallest fraction of words holding at least one letter. (datatrove calls it
    /// `max_non_alpha_words_ratio`, but it is a lower bound on alphabetic words.)
    pub min_alpha_words_ratio: Option<f64>,
    /// Fewest different stop words a document must contain (datatrove counts the set: "the the"
    /// is one).
    pub min_stop_words: Option<usize>,
    /// The stop words (matched case-sensitively, as datatrove does).
    pub stop_words: Vec<String>,
}

impl Default for GopherQuality {
    fn default() -> Self {
        Self {
            min_doc_words: Some(50),
            max_doc_words: Some(100_000),
            min_avg_word_length: Some(3.0),
            max_avg_word_length: Some(10.0),
            max_symbol_word_ratio: Some(0.1),
            max_bullet_lines_ratio: Some(0.9),
            max_ellipsis_lines_ratio: Some(0.3),
            min_alpha_words_ratio: Some(0.8),
            min_stop_words: Some(2),
            stop_words: ["the", "be", "to", "of", "and", "that", "have", "with"].map(String::from).to_vec(),
        }
    }
}

impl GopherQuality {
    /// Checks the ratios are fractions.
    pub fn validate(&self) -> Result<(), ConfigError> {
        for (field, value) in [
            ("max_bullet_lines_ratio", self.max_bullet_lines_ratio),
            ("max_ellipsis_lines_ratio", self.max_ellipsis_lines_ratio),
            ("min_alpha_words_ratio", self.min_alpha_words_ratio),
        ] {
            if let Some(v) = value {
                check_fraction(field, v)?;
            }
        }
        Ok(())
    }

    /// Keeps the document (`Ok`) or says which rule removes it.
    pub fn check(&self, text: &str) -> Result<(), Reason> {
        let words = split_words(text);
        let n_words = words.len();
        let mut n_non_symbol = 0usize;
        let mut non_symbol_chars = 0usize;
        for w in &words {
            if !is_symbol_word(w) {
                n_non_symbol += 1;
                non_symbol_chars += char_len(w);
            }
        }
        if self.min_doc_words.is_some_and(|min| n_non_symbol < min) {
            return Err(Reason::GopherShortDoc);
        }
        if self.max_doc_words.is_some_and(|max| n_non_symbol > max) {
            return Err(Reason::GopherLongDoc);
        }
        if n_non_symbol > 0 {
            let avg = non_symbol_chars as f64 / n_non_symbol as f64;
            if self.min_avg_word_length.is_some_and(|min| avg < min) {
                return Err(Reason::GopherBelowAvgWordLength);
            }
            if self.max_avg_word_length.is_some_and(|max| avg > max) {
                return Err(Reason::GopherAboveAvgWordLength);
            }
        }
        if n_words == 0 {
            // Nothing below is defined without words; an empty text only survives when the word
            // count rule is off, and then the other rules have nothing to say about it.
            return Ok(());
        }
        if let Some(max) = self.max_symbol_word_ratio {
            if text.matches('#').count() as f64 / n_words as f64 > max {
                return Err(Reason::GopherTooManyHashes);
            }
            let ellipses = text.matches("...").count() + text.matches('…').count();
            if ellipses as f64 / n_words as f64 > max {
                return Err(Reason::GopherTooManyEllipsis);
            }
        }
        let lines = splitlines(text);
        let n_lines = lines.len().max(1) as f64;
        if let Some(max) = self.max_bullet_lines_ratio {
            let bullets = lines
                .iter()
                .filter(|l| {
                    let l = l.trim_start();
                    l.starts_with('•') || l.starts_with('-')
                })
                .count();
            if bullets as f64 / n_lines > max {
                return Err(Reason::GopherTooManyBullets);
            }
        }
        if let Some(max) = self.max_ellipsis_lines_ratio {
            let ends = lines
                .iter()
                .filter(|l| {
                    let l = l.trim_end();
                    l.ends_with("...") || l.ends_with('…')
                })
                .count();
            if ends as f64 / n_lines > max {
                return Err(Reason::GopherTooManyEndEllipsis);
            }
        }
        if let Some(min) = self.min_alpha_words_ratio {
            let alpha = words.iter().filter(|w| w.chars().any(char::is_alphabetic)).count();
            if (alpha as f64 / n_words as f64) < min {
                return Err(Reason::GopherBelowAlphaThreshold);
            }
        }
        if let Some(min) = self.min_stop_words {
            let mut present = vec![false; self.stop_words.len()];
            for w in &words {
                if let Some(i) = self.stop_words.iter().position(|s| s == w) {
                    present[i] = true;
                }
            }
            // A stop word listed twice in the config still counts once, as in datatrove's set.
            let distinct: HashSet<&str> =
                self.stop_words.iter().zip(&present).filter(|(_, &p)| p).map(|(s, _)| s.as_str()).collect();
            if distinct.len() < min {
                return Err(Reason::GopherNotEnoughStopWords);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A plain English paragraph of 60 words that passes every rule.
    fn good() -> String {
        "The quick brown fox jumps over the lazy dog and then runs with the wind to the river. ".repeat(4)
    }

    fn check(text: &str, expected: Result<(), Reason>) {
        assert_eq!(GopherQuality::default().check(text), expected, "text {text:?}");
    }

    #[test]
    fn keeps_ordinary_prose() {
        check(&good(), Ok(()));
    }

    #[test]
    fn removes_short_and_long_documents() {
        check("The cat and the dog.", Err(Reason::GopherShortDoc));
        let long = GopherQuality { max_doc_words: Some(20), ..Default::default() };
        assert_eq!(long.check(&good()), Err(Reason::GopherLongDoc));
    }

    #[test]
    fn removes_by_mean_word_length() {
        check(&"a b c d e f g h i j the and ".repeat(10), Err(Reason::GopherBelowAvgWordLength));
        check(&"incomprehensibilities incomprehensibilities the ".repeat(30), Err(Reason::GopherAboveAvgWordLength));
    }

    #[test]
    fn removes_hash_and_ellipsis_heavy_text() {
        check(&format!("{} {}", good(), "#tag ".repeat(40)), Err(Reason::GopherTooManyHashes));
        check(&format!("{} {}", good(), "wait... ".repeat(30)), Err(Reason::GopherTooManyEllipsis));
    }

    #[test]
    fn removes_bullet_and_ellipsis_lines() {
        let bullets = format!("{}\n{}", good(), "- item with the words\n".repeat(20));
        check(&bullets, Err(Reason::GopherTooManyBullets));
        let cut = format!("{}\n{}", good(), "and the story goes on…\n".repeat(5));
        check(&cut, Err(Reason::GopherTooManyEndEllipsis));
    }

    #[test]
    fn removes_non_alphabetic_and_stop_word_free_text() {
        check(&format!("{} {}", good(), "1234 5678 ".repeat(20)), Err(Reason::GopherBelowAlphaThreshold));
        check(&"Quick brown foxes jumping over lazy dogs daily. ".repeat(10), Err(Reason::GopherNotEnoughStopWords));
    }

    #[test]
    fn stop_words_are_counted_once_each() {
        // "the" five times is one stop word (datatrove intersects sets); "and" makes two.
        let one = "Quick brown foxes jump over lazy dogs near the river bank daily. ".repeat(5);
        check(&one, Err(Reason::GopherNotEnoughStopWords));
        check(&format!("{one} and"), Ok(()));
    }

    #[test]
    fn symbol_words_are_datatrove_punctuation_only() {
        // 49 words; `§` is not in datatrove's punctuation set, so a "§" token is the 50th word,
        // while "—" is punctuation and is not.
        let text =
            "Words of the story and more words to read here. ".repeat(4) + "Nine more words of them here to count it";
        check(&text, Err(Reason::GopherShortDoc));
        check(&format!("{text} §"), Ok(()));
        check(&format!("{text} —"), Err(Reason::GopherShortDoc));
    }

    #[test]
    fn lines_end_where_python_ends_them() {
        // Carriage returns end lines too (Python's `splitlines`): 30 bullet lines of 31.
        let text = "Intro line of the list\r".to_string() + &"- the item and one more word of it\r".repeat(30);
        check(&text, Err(Reason::GopherTooManyBullets));
    }

    #[test]
    fn rejects_ratios_outside_zero_one() {
        let bad = GopherQuality { min_alpha_words_ratio: Some(1.5), ..Default::default() };
        assert_eq!(bad.validate().map_err(|e| e.field), Err("min_alpha_words_ratio"));
    }
}
