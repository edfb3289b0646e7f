//! The C4 rules (Raffel et al. 2020), as datatrove's `C4QualityFilter` applies them: line-level
//! cleaning (lines without terminal punctuation, with too few words, mentioning javascript or a
//! cookie policy are dropped) and document-level removal (lorem ipsum, curly braces, too few
//! sentences).

use serde::{Deserialize, Serialize};

use crate::Reason;

/// Which C4 rules run, with their thresholds; defaults are datatrove's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct C4Quality {
    /// Drop Wikipedia-style citation marks: `[1]`, `[edit]`, `[citation needed]`.
    pub remove_citations: bool,
    /// Drop lines that do not end in `.`, `?`, `!`, `"` or `'` (or that end in `...`).
    pub filter_no_terminal_punct: bool,
    /// Fewest sentences the kept lines must hold, or the document is removed.
    pub min_num_sentences: Option<usize>,
    /// Drop lines with fewer words than this.
    pub min_words_per_line: Option<usize>,
    /// Drop lines holding a word longer than this (characters).
    pub max_word_length: Option<usize>,
    /// Remove documents containing "lorem ipsum".
    pub filter_lorem_ipsum: bool,
    /// Drop lines mentioning "javascript".
    pub filter_javascript: bool,
    /// Remove documents with a `{` (code, not prose).
    pub filter_curly_bracket: bool,
    /// Drop lines about terms of use, privacy or cookie policies.
    pub filter_policy: bool,
}

impl Default for C4Quality {
    fn default() -> Self {
        Self {
            remove_citations: true,
            filter_no_terminal_punct: true,
            min_num_sentences: Some(5),
            min_words_per_line: Some(3),
            max_word_length: Some(1000),
            filter_lorem_ipsum: true,
            filter_javascript: true,
            filter_curly_bracket: true,
            filter_policy: true,
        }
    }
}

const END_PUNCTUATION: [char; 5] = ['.', '?', '!', '"', '\''];
const POLICY_SUBSTRINGS: [&str; 6] =
    ["terms of use", "privacy policy", "cookie policy", "uses cookies", "use of cookies", "use cookies"];

impl C4Quality {
    /// Returns the text made of the kept lines, or the rule that removes the whole document.
    pub fn apply(&self, text: &str) -> Result<String, Reason> {
        let mut kept: Vec<String> = Vec::new();
        let mut sentences = 0usize;
        for line in text.lines() {
            let line = line.trim();
            let n_words = line.split_whitespace().count();
            if let Some(max) = self.max_word_length {
                if line.split_whitespace().any(|w| w.chars().count() > max) {
                    continue;
                }
            }
            let line = if self.remove_citations { remove_citations(line) } else { line.to_string() };
            if self.filter_no_terminal_punct && (!line.ends_with(END_PUNCTUATION) || line.ends_with("...")) {
                continue;
            }
            if self.min_words_per_line.is_some_and(|min| n_words < min) {
                continue;
            }
            let lower = line.to_lowercase();
            if self.filter_lorem_ipsum && lower.contains("lorem ipsum") {
                return Err(Reason::C4LoremIpsum);
            }
            if self.filter_javascript && lower.contains("javascript") {
                continue;
            }
            if self.filter_curly_bracket && line.contains('{') {
                return Err(Reason::C4CurlyBracket);
            }
            if self.filter_policy && POLICY_SUBSTRINGS.iter().any(|p| lower.contains(p)) {
                continue;
            }
            sentences += count_sentences(&line);
            kept.push(line);
        }
        if self.min_num_sentences.is_some_and(|min| sentences < min) {
            return Err(Reason::C4TooFewSentences);
        }
        Ok(kept.join("\n").trim().to_string())
    }
}

/// Removes `[123]`, `[]`, `[edit]` and `[citation needed]`.
fn remove_citations(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut rest = line;
    while let Some(open) = rest.find('[') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        match after.find(']') {
            Some(close) => {
                let inner = &after[..close];
                let citation =
                    inner.bytes().all(|b| b.is_ascii_digit()) || inner == "edit" || inner == "citation needed";
                if !citation {
                    out.push_str(&rest[open..open + 1 + close + 1]);
                }
                rest = &after[close + 1..];
            }
            None => {
                out.push_str(&rest[open..]);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

/// Sentences in a line: runs of `.`, `!` or `?` followed (after closing quotes or brackets) by
/// whitespace or the end, plus a trailing unterminated one. datatrove uses NLTK's Punkt here; this
/// rule agrees with it on ordinary prose and does not know abbreviations.
fn count_sentences(line: &str) -> usize {
    let chars: Vec<char> = line.chars().collect();
    let mut count = 0;
    let mut i = 0;
    let mut open = false;
    while i < chars.len() {
        if matches!(chars[i], '.' | '!' | '?') {
            let mut j = i;
            while j < chars.len() && matches!(chars[j], '.' | '!' | '?' | '"' | '\'' | ')' | ']' | '”' | '’') {
                j += 1;
            }
            if j == chars.len() || chars[j].is_whitespace() {
                count += 1;
                open = false;
            }
            i = j;
        } else {
            if !chars[i].is_whitespace() {
                open = true;
            }
            i += 1;
        }
    }
    count + usize::from(open)
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "The river flooded the valley in spring. Farmers moved their herds uphill. \
        The water receded by June. Crops were planted late that year. The harvest was small but sufficient.";

    fn apply(text: &str) -> Result<String, Reason> {
        C4Quality::default().apply(text)
    }

    #[test]
    fn keeps_prose_and_drops_bad_lines() {
        let text =
            format!("Menu\n{GOOD}\nPlease enable JavaScript to view this page.\nWe use cookies to improve it.\nok.");
        assert_eq!(apply(&text), Ok(GOOD.to_string()));
    }

    #[test]
    fn removes_citations() {
        let text = format!("{GOOD} It was noted[1][citation needed] by all[edit].");
        assert_eq!(apply(&text), Ok(format!("{GOOD} It was noted by all.")));
        assert_eq!(remove_citations("keep [this] and [2]"), "keep [this] and ");
    }

    #[test]
    fn removes_whole_documents() {
        assert_eq!(apply(&format!("{GOOD}\nLorem ipsum dolor sit amet.")), Err(Reason::C4LoremIpsum));
        assert_eq!(apply(&format!("{GOOD}\nfunction f() {{ return 1; }}.")), Err(Reason::C4CurlyBracket));
        assert_eq!(apply("One sentence only here."), Err(Reason::C4TooFewSentences));
        assert_eq!(apply("too short\nno punctuation at all here"), Err(Reason::C4TooFewSentences));
    }

    #[test]
    fn counts_sentences() {
        assert_eq!(count_sentences("One. Two! Three? \"Four.\" Five"), 5);
        assert_eq!(count_sentences("Pi is 3.14 exactly."), 1);
        assert_eq!(count_sentences("Wait... what?!"), 2);
    }
}
