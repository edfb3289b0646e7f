//! datatrove's `simplify_text`, which MinHash shingles: lowercase; numbers to `0`; its
//! punctuation to spaces; whitespace runs to one space, trimmed; NFD with nonspacing marks removed.
//!
//! Done literally (regex, then NFD over the whole text) it was a sixth of MinHash's time, for the
//! fifth of documents with any non-ASCII character, most with only a few. So one pass over the
//! characters does the same thing character by character, and the literal path runs only for the
//! texts where a character's treatment depends on its neighbours (see [`Simplifier::one_pass`]).

use regex::Regex;
use unicode_normalization::char::canonical_combining_class;
use unicode_normalization::UnicodeNormalization;

use crate::punctuation::is_punctuation;

#[derive(Debug, Clone)]
pub(super) struct Simplifier {
    /// datatrove's `NUMBERS_PATTERN`: a number, with one decimal part, becomes `0`.
    numbers: Regex,
    /// Nonspacing marks (category Mn only), which datatrove drops after NFD.
    marks: Regex,
}

/// The decimal separators of `NUMBERS_PATTERN` besides `.` and `,`.
const SEPARATORS: [char; 5] = ['،', '٫', '⎖', '⎗', '⎘'];

impl Simplifier {
    pub(super) fn new() -> Result<Self, regex::Error> {
        Ok(Self { numbers: Regex::new(r"\p{Nd}+([.,،٫⎖⎗⎘]\p{Nd}+)?")?, marks: Regex::new(r"\p{Mn}+")? })
    }

    pub(super) fn simplify(&self, text: &str) -> String {
        self.one_pass(text).unwrap_or_else(|| self.literal(text))
    }

    /// The steps in datatrove's order, each over the whole text.
    pub(super) fn literal(&self, text: &str) -> String {
        let lower = text.to_lowercase();
        let numbered = self.numbers.replace_all(&lower, "0");
        let mut spaced = String::with_capacity(numbered.len());
        let mut space = false;
        for c in numbered.chars() {
            if c.is_whitespace() || is_punctuation(c) {
                space = true;
            } else {
                if space && !spaced.is_empty() {
                    spaced.push(' ');
                }
                space = false;
                spaced.push(c);
            }
        }
        let decomposed: String = spaced.nfd().collect();
        self.marks.replace_all(&decomposed, "").trim().to_string()
    }

    /// The same steps character by character, which gives the same text when no character looks
    /// at its neighbours: `None` (take the literal path) for a text with `Σ` (lowercased by its
    /// position), a non-ASCII digit or separator (the number pattern spans characters), or a
    /// character whose decomposition keeps a combining character that is not a nonspacing mark
    /// (NFD would reorder it with its neighbours' marks). ASCII digits are the pattern's ASCII case.
    pub(super) fn one_pass(&self, text: &str) -> Option<String> {
        let bytes = text.as_bytes();
        let mut out = String::with_capacity(text.len());
        // `any`: a character was kept before NFD (the literal path's `!spaced.is_empty()`), even
        // if only marks that NFD then removes.
        let (mut i, mut space, mut any) = (0, false, false);
        let mut keep = |out: &mut String, space: &mut bool| {
            if *space && any {
                out.push(' ');
            }
            *space = false;
            any = true;
        };
        while i < bytes.len() {
            let b = bytes[i];
            if b.is_ascii_digit() {
                keep(&mut out, &mut space);
                i += digits(&bytes[i..]);
                if i + 1 < bytes.len() && matches!(bytes[i], b'.' | b',') && bytes[i + 1].is_ascii_digit() {
                    i += 1 + digits(&bytes[i + 1..]);
                }
                out.push('0');
                continue;
            }
            if b.is_ascii() {
                // Every ASCII character but a letter or digit is whitespace or in datatrove's
                // punctuation (the controls are).
                if b.is_ascii_alphabetic() {
                    keep(&mut out, &mut space);
                    out.push(char::from(b.to_ascii_lowercase()));
                } else {
                    space = true;
                }
                i += 1;
                continue;
            }
            let c = text[i..].chars().next()?;
            i += c.len_utf8();
            if c == 'Σ' || c.is_numeric() || SEPARATORS.contains(&c) {
                return None;
            }
            for l in c.to_lowercase() {
                if l.is_whitespace() || is_punctuation(l) {
                    space = true;
                    continue;
                }
                keep(&mut out, &mut space);
                for d in std::iter::once(l).nfd() {
                    let mut buf = [0; 4];
                    if self.marks.is_match(d.encode_utf8(&mut buf)) {
                        continue;
                    }
                    if canonical_combining_class(d) != 0 {
                        return None;
                    }
                    out.push(d);
                }
            }
        }
        let trimmed = out.trim();
        Some(if trimmed.len() == out.len() { out } else { trimmed.to_string() })
    }
}

/// `simplify_text` of ASCII text and its words, in one pass: the simplified bytes (only
/// lowercase letters, `0` for each number and single spaces between words) and each word's
/// bounds in them. Every ASCII character but a letter or digit is whitespace or in datatrove's
/// punctuation, so words are the runs of letters and digits, each number, `\d+([.,]\d+)?`,
/// becoming `0`; simplifying first and then looking for the spaces read the text twice.
pub(super) fn ascii_words(text: &str) -> (Vec<u8>, Vec<(usize, usize)>) {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut bounds = Vec::with_capacity(bytes.len() / 5 + 1);
    let mut i = 0;
    loop {
        while i < bytes.len() && !bytes[i].is_ascii_alphanumeric() {
            i += 1;
        }
        if i == bytes.len() {
            return (out, bounds);
        }
        if !out.is_empty() {
            out.push(b' ');
        }
        let start = out.len();
        while i < bytes.len() {
            let c = bytes[i];
            if c.is_ascii_alphabetic() {
                out.push(c.to_ascii_lowercase());
                i += 1;
            } else if c.is_ascii_digit() {
                i += digits(&bytes[i..]);
                if i + 1 < bytes.len() && matches!(bytes[i], b'.' | b',') && bytes[i + 1].is_ascii_digit() {
                    i += 1 + digits(&bytes[i + 1..]);
                }
                out.push(b'0');
            } else {
                break;
            }
        }
        bounds.push((start, out.len()));
    }
}

/// `simplify_text` for ASCII text, in one pass: every ASCII punctuation character is in
/// datatrove's set, and there are no marks to remove. What [`ascii_words`] did in two passes
/// (this, then a scan for the spaces), kept as its reference.
#[cfg(test)]
pub(super) fn simplify_ascii(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let (mut i, mut space) = (0, false);
    while i < bytes.len() {
        let c = bytes[i];
        if c.is_ascii_alphanumeric() {
            if space && !out.is_empty() {
                out.push(' ');
            }
            space = false;
            if c.is_ascii_digit() {
                // `\d+([.,]\d+)?` is one number.
                i += digits(&bytes[i..]);
                if i + 1 < bytes.len() && matches!(bytes[i], b'.' | b',') && bytes[i + 1].is_ascii_digit() {
                    i += 1 + digits(&bytes[i + 1..]);
                }
                out.push('0');
                continue;
            }
            out.push(c.to_ascii_lowercase() as char);
        } else {
            // Everything else is punctuation or whitespace (tab and newline are whitespace).
            space = true;
        }
        i += 1;
    }
    out
}

fn digits(bytes: &[u8]) -> usize {
    bytes.iter().take_while(|b| b.is_ascii_digit()).count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ascii_but_letters_and_digits_is_space_or_punctuation() {
        assert!((0u8..128).filter(|b| !b.is_ascii_alphanumeric()).all(|b| {
            let c = char::from(b);
            c.is_whitespace() || is_punctuation(c)
        }));
    }

    #[test]
    fn one_pass_is_the_literal_path() {
        let s = Simplifier::new().unwrap();
        for text in [
            "Héllo, WORLD!! 42 times… 3.14 and 1,000,000 § x_y __init__ İstanbul",
            "  Version 3.14.15, (c) 2024-2025\tFoo_BAR\n",
            "Straße ─── © café Ärger 12.5% naïve — “quoted” ‘x’ a\u{a0}b",
            "\u{301}\u{301} leading marks, then a\u{301}\u{302} ǅ ﬁ Ǆ \u{212a}elvin",
            "Москва́ 2024 г. Ключ",
        ] {
            assert_eq!(s.one_pass(text).as_deref(), Some(s.literal(text).as_str()), "{text:?}");
        }
        // Where a character depends on its neighbours, the literal path is taken.
        for text in ["ΣΑΣ", "١٢٣", "3،5", "x\u{1d165}\u{301}"] {
            assert_eq!(s.one_pass(text), None, "{text:?}");
        }
        assert_eq!(s.simplify("ΣΑΣ 3,5"), "σας 0");
    }

    proptest::proptest! {
        /// The fused pass gives the two-pass text, its words the space-separated runs; and the
        /// ASCII pass is the literal path.
        #[test]
        fn ascii_words_are_the_simplified_runs(text in "[aZ19 .,_\n\x01]{0,40}|[\x00-\x7f]{0,60}") {
            let simple = simplify_ascii(&text);
            let (bytes, bounds) = ascii_words(&text);
            proptest::prop_assert_eq!(std::str::from_utf8(&bytes).unwrap(), simple.as_str());
            let runs: Vec<&str> = simple.split(' ').filter(|w| !w.is_empty()).collect();
            let words: Vec<&str> = bounds.iter().map(|&(a, b)| &simple[a..b]).collect();
            proptest::prop_assert_eq!(words, runs);
            proptest::prop_assert_eq!(simple, Simplifier::new().unwrap().literal(&text));
        }

        #[test]
        fn one_pass_agrees_on_mixed_text(text in "[a-zA-Z0-9 .,_\n\t\x01\x7f!§©─’—éÉëßİΣσςАяǅﬁ\u{a0}\u{301}\u{327}\u{1d165}١،Ⅻ½ㄱ가]{0,40}") {
            let s = Simplifier::new().unwrap();
            if let Some(fast) = s.one_pass(&text) {
                proptest::prop_assert_eq!(fast, s.literal(&text));
            }
        }
    }
}
