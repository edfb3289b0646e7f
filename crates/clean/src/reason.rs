//! Why a filter removed a document: one stable code per rule, the names datatrove reports.

use std::fmt;

/// The rule that removed a document. `Display` gives the stable code reports group by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Reason {
    // Gopher quality.
    GopherShortDoc,
    GopherLongDoc,
    GopherBelowAvgWordLength,
    GopherAboveAvgWordLength,
    GopherTooManyHashes,
    GopherTooManyEllipsis,
    GopherTooManyBullets,
    GopherTooManyEndEllipsis,
    GopherBelowAlphaThreshold,
    GopherNotEnoughStopWords,
    // Gopher repetition.
    DupParaFrac,
    DupParaCharFrac,
    DupLineFrac,
    DupLineCharFrac,
    /// The most frequent n-gram (n given) covers too much of the text.
    TopNGram(u8),
    /// Repeated n-grams (n given) cover too much of the text.
    DuplicatedNGrams(u8),
    // C4.
    C4LoremIpsum,
    C4CurlyBracket,
    C4TooFewSentences,
    /// Nothing left to judge (datatrove's FineWeb and Gopher repetition filters both say `empty`).
    Empty,
    // FineWeb.
    FineWebLinePunctRatio,
    FineWebShortLineRatio,
    FineWebCharDupRatio,
    FineWebListRatio,
    // Language.
    LanguageUnknown,
    LanguageNotWanted,
    LanguageLowConfidence,
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let code = match self {
            Reason::GopherShortDoc => "gopher_short_doc",
            Reason::GopherLongDoc => "gopher_long_doc",
            Reason::GopherBelowAvgWordLength => "gopher_below_avg_threshold",
            Reason::GopherAboveAvgWordLength => "gopher_above_avg_threshold",
            Reason::GopherTooManyHashes => "gopher_too_many_hashes",
            Reason::GopherTooManyEllipsis => "gopher_too_many_ellipsis",
            Reason::GopherTooManyBullets => "gopher_too_many_bullets",
            Reason::GopherTooManyEndEllipsis => "gopher_too_many_end_ellipsis",
            Reason::GopherBelowAlphaThreshold => "gopher_below_alpha_threshold",
            Reason::GopherNotEnoughStopWords => "gopher_enough_stop_words",
            Reason::DupParaFrac => "dup_para_frac",
            Reason::DupParaCharFrac => "dup_para_char_frac",
            Reason::DupLineFrac => "dup_line_frac",
            Reason::DupLineCharFrac => "dup_line_char_frac",
            Reason::TopNGram(n) => return write!(f, "top_{n}_gram"),
            Reason::DuplicatedNGrams(n) => return write!(f, "duplicated_{n}_n_grams"),
            Reason::C4LoremIpsum => "lorem_ipsum",
            Reason::C4CurlyBracket => "curly_bracket",
            Reason::C4TooFewSentences => "too_few_sentences",
            Reason::Empty => "empty",
            Reason::FineWebLinePunctRatio => "line_punct_ratio",
            Reason::FineWebShortLineRatio => "short_line_ratio",
            Reason::FineWebCharDupRatio => "char_dup_ratio",
            Reason::FineWebListRatio => "list_ratio",
            Reason::LanguageUnknown => "language_unknown",
            Reason::LanguageNotWanted => "language_not_wanted",
            Reason::LanguageLowConfidence => "language_low_confidence",
        };
        f.write_str(code)
    }
}
