//! The Gopher repetition filter (Rae et al. 2021, table A1), as datatrove implements it: duplicated
//! lines and paragraphs, the most frequent short n-grams and the share of repeated long n-grams.

use std::collections::HashSet;

use serde::{Deserialize, Serialize};

use crate::hashing::Quick;
use crate::ngram_table::NgramTable;
use crate::words::{char_len, split_words};
use crate::{check_fraction, ConfigError, Reason};

/// Thresholds of the repetition rules; defaults are datatrove's (the paper's). A fraction set to
/// `None`, or an empty n-gram list, turns its rule off.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GopherRepetition {
    /// Largest fraction of lines that repeat an earlier line.
    pub dup_line_frac: Option<f64>,
    /// Largest fraction of paragraphs that repeat an earlier paragraph.
    pub dup_para_frac: Option<f64>,
    /// Largest fraction of characters in repeated lines.
    pub dup_line_char_frac: Option<f64>,
    /// Largest fraction of characters in repeated paragraphs.
    pub dup_para_char_frac: Option<f64>,
    /// `(n, fraction)`: the most frequent n-gram may cover at most this fraction of the characters.
    pub top_n_grams: Vec<(u8, f64)>,
    /// `(n, fraction)`: n-grams seen before may cover at most this fraction of the characters.
    pub dup_n_grams: Vec<(u8, f64)>,
}

impl Default for GopherRepetition {
    fn default() -> Self {
        Self {
            dup_line_frac: Some(0.3),
            dup_para_frac: Some(0.3),
            dup_line_char_frac: Some(0.2),
            dup_para_char_frac: Some(0.2),
            top_n_grams: vec![(2, 0.2), (3, 0.18), (4, 0.16)],
            dup_n_grams: vec![(5, 0.15), (6, 0.14), (7, 0.13), (8, 0.12), (9, 0.11), (10, 0.10)],
        }
    }
}

impl GopherRepetition {
    /// Checks the fractions and that every n is at least 1.
    pub fn validate(&self) -> Result<(), ConfigError> {
        for (field, value) in [
            ("dup_line_frac", self.dup_line_frac),
            ("dup_para_frac", self.dup_para_frac),
            ("dup_line_char_frac", self.dup_line_char_frac),
            ("dup_para_char_frac", self.dup_para_char_frac),
        ] {
            if let Some(v) = value {
                check_fraction(field, v)?;
            }
        }
        for (field, list) in [("top_n_grams", &self.top_n_grams), ("dup_n_grams", &self.dup_n_grams)] {
            for &(n, frac) in list {
                if n == 0 {
                    return Err(ConfigError { field, value: "0".into(), expected: "n-gram sizes of at least 1" });
                }
                check_fraction(field, frac)?;
            }
        }
        Ok(())
    }

    /// Keeps the document (`Ok`) or says which rule removes it.
    pub fn check(&self, text: &str) -> Result<(), Reason> {
        if text.is_empty() {
            return Err(Reason::Empty);
        }
        let text_chars = char_len(text) as f64;
        let paragraphs = paragraphs(text);
        let (dup, dup_chars) = duplicates(&paragraphs);
        if self.dup_para_frac.is_some_and(|max| dup as f64 / paragraphs.len() as f64 > max) {
            return Err(Reason::DupParaFrac);
        }
        if self.dup_para_char_frac.is_some_and(|max| dup_chars as f64 / text_chars > max) {
            return Err(Reason::DupParaCharFrac);
        }
        let lines = lines(text);
        let (dup, dup_chars) = duplicates(&lines);
        if self.dup_line_frac.is_some_and(|max| dup as f64 / lines.len() as f64 > max) {
            return Err(Reason::DupLineFrac);
        }
        if self.dup_line_char_frac.is_some_and(|max| dup_chars as f64 / text_chars > max) {
            return Err(Reason::DupLineCharFrac);
        }
        if self.top_n_grams.is_empty() && self.dup_n_grams.is_empty() {
            return Ok(());
        }
        let words = Words::new(&split_words(text));
        // One table and one hash buffer for every n.
        let (mut table, mut hashes) = (NgramTable::default(), Vec::new());
        for &(n, max) in &self.top_n_grams {
            if words.top_ngram_chars(n as usize, &mut table, &mut hashes) as f64 / text_chars > max {
                return Err(Reason::TopNGram(n));
            }
        }
        for &(n, max) in &self.dup_n_grams {
            if words.repeated_ngram_chars(n as usize, &mut table, &mut hashes) as f64 / text_chars > max {
                return Err(Reason::DuplicatedNGrams(n));
            }
        }
        Ok(())
    }
}

/// Paragraphs as datatrove cuts them, `re.split(r"\n{2,}", text.strip())`: never empty (a blank
/// text is one empty paragraph).
fn paragraphs(text: &str) -> Vec<&str> {
    let text = text.trim_matches(|c: char| c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c));
    let bytes = text.as_bytes();
    let (mut out, mut start, mut i) = (Vec::new(), 0, 0);
    while i < bytes.len() {
        if bytes[i] != b'\n' {
            i += 1;
            continue;
        }
        let run = bytes[i..].iter().take_while(|&&b| b == b'\n').count();
        if run >= 2 {
            out.push(&text[start..i]);
            start = i + run;
        }
        i += run;
    }
    out.push(&text[start..]);
    out
}

/// Lines as datatrove cuts them, `re.split("\n+", text)`: no empty line inside, but an empty
/// first or last one when the text starts or ends with a newline (they count, as in datatrove).
fn lines(text: &str) -> Vec<&str> {
    let parts: Vec<&str> = text.split('\n').collect();
    let last = parts.len() - 1;
    parts.into_iter().enumerate().filter(|&(i, p)| !p.is_empty() || i == 0 || i == last).map(|(_, p)| p).collect()
}

/// How many elements repeat an earlier one, and how many characters those repeats hold.
fn duplicates(elements: &[&str]) -> (usize, usize) {
    let mut seen: HashSet<&str, Quick> = HashSet::with_capacity_and_hasher(elements.len(), Quick::default());
    let (mut dup, mut chars) = (0, 0);
    for el in elements {
        if !seen.insert(*el) {
            dup += 1;
            chars += char_len(el);
        }
    }
    (dup, chars)
}

/// Words as 64-bit hashes with their lengths, so n-grams are compared by a rolling hash instead of
/// by building a string per n-gram.
struct Words {
    hashes: Vec<u64>,
    /// `prefix_chars[i]` is the number of characters in the first `i` words.
    prefix_chars: Vec<usize>,
}

/// Multiplier of the polynomial rolling hash (odd, so multiplying is a bijection on `u64`).
const ROLL: u64 = 0x9E37_79B9_7F4A_7C15;

impl Words {
    fn new(words: &[&str]) -> Self {
        let hashes = words.iter().map(|w| xxhash_rust::xxh3::xxh3_64(w.as_bytes())).collect();
        let mut prefix_chars = Vec::with_capacity(words.len() + 1);
        prefix_chars.push(0);
        let mut total = 0;
        for w in words {
            total += char_len(w);
            prefix_chars.push(total);
        }
        Self { hashes, prefix_chars }
    }

    /// Hashes of every n-gram, in order, into `out` (empty when there are fewer than `n` words).
    fn ngram_hashes(&self, n: usize, out: &mut Vec<u64>) {
        out.clear();
        let len = self.hashes.len();
        if n == 0 || len < n {
            return;
        }
        let top_power = (1..n).fold(1u64, |p, _| p.wrapping_mul(ROLL));
        let mut h = self.hashes[..n].iter().fold(0u64, |h, &w| h.wrapping_mul(ROLL).wrapping_add(w));
        out.push(h);
        for i in n..len {
            h = h
                .wrapping_sub(self.hashes[i - n].wrapping_mul(top_power))
                .wrapping_mul(ROLL)
                .wrapping_add(self.hashes[i]);
            out.push(h);
        }
    }

    /// Characters of the n-gram starting at word `i`, words joined by `sep_chars` characters.
    fn ngram_chars(&self, i: usize, n: usize, sep_chars: usize) -> usize {
        self.prefix_chars[i + n] - self.prefix_chars[i] + sep_chars * (n - 1)
    }

    /// Characters covered by the most frequent n-gram (its length, space-joined, times its count);
    /// ties go to the n-gram seen first, as Python's `Counter.most_common` does.
    /// The best is kept as counts grow: the final best has the highest count, and of those the
    /// first n-gram reaches it last with the smallest first index, so it replaces any earlier.
    fn top_ngram_chars(&self, n: usize, table: &mut NgramTable, hashes: &mut Vec<u64>) -> usize {
        self.ngram_hashes(n, hashes);
        table.reset(hashes.len());
        let (mut best, mut best_first) = (0, 0);
        for (i, &h) in hashes.iter().enumerate() {
            let (count, first) = table.count(h, i);
            if count > best || (count == best && first < best_first) {
                (best, best_first) = (count, first);
            }
        }
        if best == 0 {
            return 0;
        }
        self.ngram_chars(best_first, n, 1) * best as usize
    }

    /// Characters in n-grams (words joined without separator) that repeat an earlier n-gram; a
    /// repeat skips its whole n-gram so overlapping repeats are not counted twice.
    fn repeated_ngram_chars(&self, n: usize, table: &mut NgramTable, hashes: &mut Vec<u64>) -> usize {
        self.ngram_hashes(n, hashes);
        table.reset(hashes.len());
        let (mut idx, mut repeated) = (0, 0);
        while idx < hashes.len() {
            if table.contains(hashes[idx]) {
                repeated += self.ngram_chars(idx, n, 0);
                idx += n;
            } else {
                table.count(hashes[idx], idx);
                idx += 1;
            }
        }
        repeated
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(text: &str, expected: Result<(), Reason>) {
        assert_eq!(GopherRepetition::default().check(text), expected, "text {text:?}");
    }

    const PROSE: &str = "Rivers carve valleys over thousands of years while the wind shapes dunes. \
        Farmers learned early which soils held water and which drained too fast for crops. \
        Trade routes followed the rivers because boats carried more than carts ever could.";

    #[test]
    fn keeps_varied_text() {
        check(PROSE, Ok(()));
    }

    #[test]
    fn removes_repeated_paragraphs_and_lines() {
        let para = "Buy now and save big on everything.";
        check(&format!("{PROSE}\n\n{para}\n\n{para}\n\n{para}"), Err(Reason::DupParaFrac));
        let line = "Click here to subscribe to the newsletter today";
        let lines = format!("{PROSE}\n{line}\nOther words here.\n{line}\nMore words there.\n{line}");
        check(&lines, Err(Reason::DupLineFrac));
        let few = GopherRepetition { dup_line_frac: None, ..Default::default() };
        assert_eq!(few.check(&lines), Err(Reason::DupLineCharFrac));
    }

    #[test]
    fn removes_dominant_ngrams() {
        check(&format!("{PROSE} {}", "hot dog ".repeat(40)), Err(Reason::TopNGram(2)));
        let dup = format!("{PROSE} {PROSE} {PROSE}").replace('\n', " ");
        let only_dup = GopherRepetition {
            dup_para_frac: None,
            dup_line_frac: None,
            dup_para_char_frac: None,
            dup_line_char_frac: None,
            top_n_grams: vec![],
            ..Default::default()
        };
        assert_eq!(only_dup.check(&dup), Err(Reason::DuplicatedNGrams(5)));
    }

    #[test]
    fn rolling_hash_matches_direct_hash() {
        let words = Words::new(&["a", "b", "c", "a", "b", "c", "d"]);
        let (mut table, mut h3) = (NgramTable::default(), Vec::new());
        words.ngram_hashes(3, &mut h3);
        assert_eq!(h3.len(), 5);
        assert_eq!(h3[0], h3[3]);
        assert_ne!(h3[0], h3[1]);
        assert_eq!(words.repeated_ngram_chars(3, &mut table, &mut h3), 3);
        assert_eq!(words.top_ngram_chars(2, &mut table, &mut h3), 3 * 2);
    }

    /// The n-gram rules with a `HashMap` and a `HashSet` per n, as before the shared table.
    fn reference(words: &Words, n: usize) -> (usize, usize) {
        use std::collections::HashMap;
        let mut hashes = Vec::new();
        words.ngram_hashes(n, &mut hashes);
        let mut counts: HashMap<u64, (usize, usize)> = HashMap::new();
        for (i, h) in hashes.iter().enumerate() {
            counts.entry(*h).or_insert((0, i)).0 += 1;
        }
        let best = counts.values().max_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)));
        let top = best.map_or(0, |&(count, first)| words.ngram_chars(first, n, 1) * count);
        let mut seen = HashSet::new();
        let (mut idx, mut repeated) = (0, 0);
        while idx < hashes.len() {
            if seen.contains(&hashes[idx]) {
                repeated += words.ngram_chars(idx, n, 0);
                idx += n;
            } else {
                seen.insert(hashes[idx]);
                idx += 1;
            }
        }
        (top, repeated)
    }

    proptest::proptest! {
        /// Few distinct words of different lengths, so n-grams repeat and counts tie.
        #[test]
        fn shared_table_counts_as_maps_did(picks in proptest::collection::vec(0usize..6, 0..300)) {
            let vocab = ["a", "bb", "ccc", "a", "dddd", "é"];
            let text: Vec<&str> = picks.iter().map(|&i| vocab[i]).collect();
            let words = Words::new(&text);
            // One table and buffer through every n, in the filter's order, as `check` uses them.
            let (mut table, mut hashes) = (NgramTable::default(), Vec::new());
            for n in 1..=10 {
                let got = (
                    words.top_ngram_chars(n, &mut table, &mut hashes),
                    words.repeated_ngram_chars(n, &mut table, &mut hashes),
                );
                proptest::prop_assert_eq!(got, reference(&words, n), "n = {}", n);
            }
        }
    }

    #[test]
    fn empty_text_is_removed_as_datatrove_does() {
        check("", Err(Reason::Empty));
    }

    #[test]
    fn splits_like_python_re_split() {
        assert_eq!(paragraphs("  a\n\n\nb\n\n\n\nc\n \n\nd \n"), vec!["a", "b", "c\n ", "d"]);
        assert_eq!(paragraphs(" \n"), vec![""]);
        assert_eq!(lines("\na\n\nb\n"), vec!["", "a", "b", ""]);
        assert_eq!(lines("a"), vec!["a"]);
    }

    #[test]
    fn newlines_at_both_ends_are_a_repeated_empty_line() {
        // datatrove's lines of "\nX\n" are "", X and "" again: one repeat in three lines.
        let only_lines = GopherRepetition { top_n_grams: vec![], dup_n_grams: vec![], ..Default::default() };
        let text = "\nRivers carve deep valleys over thousands of years.\n";
        assert_eq!(only_lines.check(text), Err(Reason::DupLineFrac));
        assert_eq!(only_lines.check(text.trim()), Ok(()));
    }

    #[test]
    fn rejects_zero_sized_ngrams() {
        let bad = GopherRepetition { top_n_grams: vec![(0, 0.1)], ..Default::default() };
        assert_eq!(bad.validate().map_err(|e| e.field), Err("top_n_grams"));
    }
}
