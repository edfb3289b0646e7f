//! Text normalisation: Unicode NFC, control characters, whitespace.
//!
//! Runs first so that every later stage (filters, PII patterns, the exact-dedup hash) sees one
//! spelling of the same text: `é` composed, no stray `\u{0}` or BOM, one space between words, at
//! most one blank line between paragraphs.

use serde::{Deserialize, Serialize};
use unicode_normalization::{is_nfc_quick, IsNormalized, UnicodeNormalization};

/// Which normalisations run. All are on by default.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NormalizeConfig {
    /// Compose characters (Unicode NFC).
    pub nfc: bool,
    /// Drop control characters other than newline and tab, and invisible format characters (BOM,
    /// zero-width space) that only split words apart.
    pub remove_control: bool,
    /// Line endings to `\n`; every other whitespace to one space; no spaces at the ends of lines;
    /// at most one blank line in a row; none at the ends of the text.
    pub whitespace: bool,
}

impl Default for NormalizeConfig {
    fn default() -> Self {
        Self { nfc: true, remove_control: true, whitespace: true }
    }
}

/// Normalises `text` as `config` says.
pub fn normalize(text: &str, config: &NormalizeConfig) -> String {
    let composed;
    let text = if config.nfc && is_nfc_quick(text.chars()) != IsNormalized::Yes {
        composed = text.nfc().collect::<String>();
        composed.as_str()
    } else {
        text
    };
    let mut out = String::with_capacity(text.len());
    // Whitespace seen but not yet written: written as one space (or newlines) only when a visible
    // character follows, which trims line ends and the end of the text for free.
    let mut pending_space = false;
    let mut pending_newlines = 0usize;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if config.remove_control && is_removable(c) {
            continue;
        }
        if !config.whitespace {
            out.push(c);
            continue;
        }
        match c {
            '\r' => {
                if chars.peek() == Some(&'\n') {
                    chars.next();
                }
                pending_newlines += 1;
                pending_space = false;
            }
            '\n' | '\u{2028}' | '\u{2029}' | '\u{85}' => {
                pending_newlines += 1;
                pending_space = false;
            }
            c if c.is_whitespace() => pending_space = true,
            c => {
                if pending_newlines > 0 {
                    if !out.is_empty() {
                        out.push_str(if pending_newlines > 1 { "\n\n" } else { "\n" });
                    }
                } else if pending_space && !out.is_empty() {
                    out.push(' ');
                }
                pending_newlines = 0;
                pending_space = false;
                out.push(c);
            }
        }
    }
    out
}

fn is_removable(c: char) -> bool {
    (c.is_control() && !matches!(c, '\n' | '\t' | '\r' | '\u{85}'))
        || matches!(c, '\u{feff}' | '\u{200b}' | '\u{2060}' | '\u{00ad}')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(input: &str, expected: &str) {
        assert_eq!(normalize(input, &NormalizeConfig::default()), expected, "input {input:?}");
    }

    #[test]
    fn composes_to_nfc() {
        check("cafe\u{301}", "café");
    }

    #[test]
    fn drops_control_and_invisible_characters() {
        check("\u{feff}he\u{0}llo\u{7}\u{200b} world", "hello world");
    }

    #[test]
    fn collapses_whitespace_and_blank_lines() {
        check("  a \t\u{a0} b  \r\n\r\n\r\n\n  c  \n", "a b\n\nc");
        check("one\r\ntwo\rthree", "one\ntwo\nthree");
        check(" \n\t ", "");
    }

    #[test]
    fn each_step_can_be_turned_off() {
        let off = NormalizeConfig { nfc: false, remove_control: false, whitespace: false };
        assert_eq!(normalize(" a\u{0}  b ", &off), " a\u{0}  b ");
        let only_ws = NormalizeConfig { nfc: false, remove_control: false, whitespace: true };
        assert_eq!(normalize("cafe\u{301}  x", &only_ws), "cafe\u{301} x");
    }

    #[test]
    fn is_idempotent() {
        let cfg = NormalizeConfig::default();
        let once = normalize(" x\u{a0}\u{a0}y\n\n\n\nz\u{feff} ", &cfg);
        assert_eq!(normalize(&once, &cfg), once);
    }
}
