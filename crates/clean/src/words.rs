//! Word splitting shared by the filters: runs of word characters and runs of punctuation.
//!
//! datatrove splits words with NLTK's tokenizer; a pure-Rust pipeline cannot load it, so we use the
//! "word-punct" rule (`\w+|[^\w\s]+`): `don't.` is `don`, `'`, `t`, `.`. It keeps punctuation as
//! tokens of its own, which is what the Gopher rules expect when they count "non-symbol words".

/// Splits `text` into word and punctuation tokens, in order.
pub fn split_words(text: &str) -> Vec<&str> {
    let mut words = Vec::with_capacity(text.len() / 5 + 1);
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
    if let Some((s, _)) = start {
        words.push(&text[s..]);
    }
    words
}

/// `\w` in the Unicode sense: letters, digits, marks and the connector `_`.
pub(crate) fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// True when every character of `word` is punctuation or a symbol (datatrove's `PUNCTUATION_SET`).
pub(crate) fn is_symbol_word(word: &str) -> bool {
    word.chars().all(|c| !is_word_char(c) && !c.is_whitespace())
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

    #[test]
    fn symbol_words() {
        assert!(is_symbol_word("..."));
        assert!(is_symbol_word("#"));
        assert!(!is_symbol_word("a1"));
    }
}
