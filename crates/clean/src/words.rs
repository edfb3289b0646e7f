//! Word splitting shared by the filters: runs of word characters and runs of punctuation.
//!
//! datatrove splits words with NLTK's tokenizer; a pure-Rust pipeline cannot load it, so we use the
//! "word-punct" rule (`\w+|[^\w\s]+`): `don't.` is `don`, `'`, `t`, `.`. It keeps punctuation as
//! tokens of its own, which is what the Gopher rules expect when they count "non-symbol words".

/// Splits `text` into word and punctuation tokens, in order. ASCII bytes are classified by a
/// table (most text is ASCII, and decoding and Unicode tables were most of the time); other
/// characters by the Unicode rules, so the result is the same as classifying every character.
/// A token is scanned as a run of one class, so the common case is a byte loop with one test.
pub fn split_words(text: &str) -> Vec<&str> {
    let bytes = text.as_bytes();
    let mut words = Vec::with_capacity(text.len() / 5 + 1);
    let mut i = 0;
    while i < bytes.len() {
        let (class, len) = class_at(text, i);
        if class == SPACE {
            i += len;
            continue;
        }
        let start = i;
        i += len;
        while i < bytes.len() {
            let b = bytes[i];
            if b.is_ascii() {
                if ASCII_CLASS[b as usize] != class {
                    break;
                }
                i += 1;
            } else {
                let (next, len) = class_at(text, i);
                if next != class {
                    break;
                }
                i += len;
            }
        }
        words.push(&text[start..i]);
    }
    words
}

const SPACE: u8 = 0;
const PUNCT: u8 = 1;
const WORD: u8 = 2;

/// The class of every ASCII byte: `char::is_whitespace` (tab, newline, vertical tab, form feed,
/// return, space), `\w` (alphanumerics and `_`), or punctuation (the rest, controls included).
const ASCII_CLASS: [u8; 128] = {
    let mut t = [PUNCT; 128];
    let mut b = 0;
    while b < 128 {
        let c = b as u8;
        if matches!(c, b'\t' | b'\n' | 0x0b | 0x0c | b'\r' | b' ') {
            t[b] = SPACE;
        } else if c.is_ascii_alphanumeric() || c == b'_' {
            t[b] = WORD;
        }
        b += 1;
    }
    t
};

/// The class of the character at byte `i` (a character boundary) and its length in bytes.
#[inline]
fn class_at(text: &str, i: usize) -> (u8, usize) {
    let b = text.as_bytes()[i];
    if b.is_ascii() {
        return (ASCII_CLASS[b as usize], 1);
    }
    let c = text[i..].chars().next().unwrap_or_default();
    let class = if c.is_whitespace() {
        SPACE
    } else if is_word_char(c) {
        WORD
    } else {
        PUNCT
    };
    (class, c.len_utf8())
}

/// `\w` in the Unicode sense: letters, digits, marks and the connector `_`.
pub(crate) fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// True when every character of `word` is in datatrove's `PUNCTUATION_SET`. That set is a list,
/// not a Unicode category: `•`, `§` or `→` make a word, `___` does not.
pub(crate) fn is_symbol_word(word: &str) -> bool {
    word.chars().all(crate::punctuation::is_symbol)
}

/// Lines as Python's `str.splitlines()` cuts them, which is what datatrove's line rules count:
/// at `\n`, `\r`, `\r\n`, `\v`, `\f`, `\x1c`–`\x1e`, `\x85`, U+2028 and U+2029. A break at
/// the very end starts no further line; an empty text has no lines.
pub(crate) fn splitlines(text: &str) -> Vec<&str> {
    let mut lines = Vec::new();
    let mut start = 0;
    let mut chars = text.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        if matches!(c, '\n' | '\r' | '\u{b}' | '\u{c}' | '\u{1c}'..='\u{1e}' | '\u{85}' | '\u{2028}' | '\u{2029}') {
            lines.push(&text[start..i]);
            start = i + c.len_utf8();
            if c == '\r' && chars.peek().is_some_and(|&(_, next)| next == '\n') {
                chars.next();
                start += 1;
            }
        }
    }
    if start < text.len() {
        lines.push(&text[start..]);
    }
    lines
}

/// Number of characters, as Python's `len` counts a string.
pub(crate) fn char_len(s: &str) -> usize {
    if s.is_ascii() {
        s.len()
    } else {
        s.chars().count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_words_and_punctuation() {
        assert_eq!(split_words("Don't stop... ok?"), vec!["Don", "'", "t", "stop", "...", "ok", "?"]);
        assert_eq!(split_words("  café  naïve\n"), vec!["café", "naïve"]);
        assert!(split_words(" \n\t").is_empty());
    }

    /// The rule applied to every character, as `split_words` did before its ASCII fast path.
    fn split_by_chars(text: &str) -> Vec<&str> {
        let mut words = Vec::new();
        let mut start: Option<(usize, bool)> = None;
        for (i, c) in text.char_indices() {
            let class = if c.is_whitespace() { None } else { Some(is_word_char(c)) };
            match (start, class) {
                (Some((s, _)), None) => {
                    words.push(&text[s..i]);
                    start = None;
                }
                (Some((s, w)), Some(k)) if w != k => {
                    words.push(&text[s..i]);
                    start = Some((i, k));
                }
                (None, Some(k)) => start = Some((i, k)),
                _ => {}
            }
        }
        words.extend(start.map(|(s, _)| &text[s..]));
        words
    }

    proptest::proptest! {
        #[test]
        fn ascii_fast_path_changes_nothing(text in "[a-zA-Z0-9_ \\t\\n\\r\\x0b\\x0c\\x1c\\x00.,!'é§\u{a0}\u{2028}\u{301}ß١]{0,40}") {
            proptest::prop_assert_eq!(split_words(&text), split_by_chars(&text));
        }

        /// Every ASCII byte, so each entry of the class table is checked against the rule.
        #[test]
        fn ascii_table_is_the_rule(text in "[\\x00-\\x7f]{0,60}") {
            proptest::prop_assert_eq!(split_words(&text), split_by_chars(&text));
        }
    }

    #[test]
    fn symbol_words() {
        assert!(is_symbol_word("..."));
        assert!(is_symbol_word("#"));
        assert!(is_symbol_word("___"));
        assert!(!is_symbol_word("a1"));
        assert!(!is_symbol_word("§"));
        assert!(!is_symbol_word("•"));
    }

    #[test]
    fn splits_lines_as_python_does() {
        assert_eq!(splitlines("a\nb\r\nc\rd\u{2028}e\n"), vec!["a", "b", "c", "d", "e"]);
        assert_eq!(splitlines("a\n\nb"), vec!["a", "", "b"]);
        assert_eq!(splitlines("\n"), vec![""]);
        assert!(splitlines("").is_empty());
    }
}
