//! The document: an id and its text, the unit every stage works on.

/// One document of a corpus.
///
/// The id is whatever the input called it (numbers are turned into their decimal text); it is what
/// reports name and what deduplication orders by when it picks the document to keep.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Document {
    pub id: String,
    pub text: String,
}

impl Document {
    pub fn new(id: impl Into<String>, text: impl Into<String>) -> Self {
        Self { id: id.into(), text: text.into() }
    }
}
