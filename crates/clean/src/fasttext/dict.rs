//! fastText's dictionary: known words and labels, and how a line becomes input rows (the word's
//! own row, then its hashed character n-grams, then hashed word n-grams).

use std::collections::HashMap;

use super::read::Cursor;
use super::ModelError;

const EOS: &[u8] = b"</s>";
const LABEL_PREFIX: &[u8] = b"__label__";

/// The arguments tokenization needs, from the model's header.
pub(super) struct Args {
    pub word_ngrams: i32,
    pub bucket: i32,
    pub minn: i32,
    pub maxn: i32,
}

pub(super) struct Dictionary {
    args: Args,
    /// Entry index by its bytes: words are `0..nwords`, labels after.
    ids: HashMap<Vec<u8>, usize>,
    nwords: usize,
    pub(super) labels: Vec<String>,
    pub(super) label_counts: Vec<i64>,
    /// A quantized model keeps only some hashed n-gram rows: bucket → row after the words.
    /// `None`: not pruned, every bucket has its row.
    pruned: Option<HashMap<i32, usize>>,
}

impl Dictionary {
    pub(super) fn read(c: &mut Cursor, args: Args) -> Result<Self, ModelError> {
        if args.bucket <= 0 && args.maxn > 0 {
            return Err(ModelError::Invalid(0, "character n-grams without hash buckets"));
        }
        let (size, nwords, nlabels) = (c.len32()?, c.len32()?, c.len32()?);
        let _tokens = c.i64()?;
        let prune_size = c.i64()?;
        if nwords + nlabels != size || nlabels == 0 {
            return Err(ModelError::Invalid(0, "a dictionary whose counts disagree or that has no labels"));
        }
        let (mut ids, mut labels, mut label_counts) = (HashMap::with_capacity(size), Vec::new(), Vec::new());
        for i in 0..size {
            let word = c.cstr()?.to_vec();
            let count = c.i64()?;
            let kind = c.u8()?;
            if (kind == 1) != (i >= nwords) {
                return Err(ModelError::Invalid(0, "labels not after the words"));
            }
            if kind == 1 {
                labels.push(String::from_utf8_lossy(&word).into_owned());
                label_counts.push(count);
            }
            ids.insert(word, i);
        }
        // -1 is fastText's "not pruned"; otherwise that many (bucket, row) pairs follow.
        let pruned = if prune_size < 0 {
            None
        } else {
            let mut map = HashMap::new();
            for _ in 0..prune_size {
                let (bucket, row) = (c.i32()?, c.len32()?);
                map.insert(bucket, row);
            }
            Some(map)
        };
        Ok(Self { args, ids, nwords, labels, label_counts, pruned })
    }

    /// The input rows of one line: tokens cut at ASCII whitespace and NUL (bytes, as fastText
    /// reads them), a `</s>` at the end for the newline its Python `predict` appends.
    pub(super) fn line_ids(&self, text: &str) -> Vec<usize> {
        let mut rows = Vec::new();
        let mut word_hashes = Vec::new();
        let tokens = text
            .as_bytes()
            .split(|b| matches!(b, b' ' | b'\n' | b'\r' | b'\t' | 0x0b | 0x0c | 0))
            .filter(|t| !t.is_empty())
            .chain([EOS]);
        for token in tokens {
            let id = self.ids.get(token).copied();
            let is_label = match id {
                Some(i) => i >= self.nwords,
                None => token.starts_with(LABEL_PREFIX),
            };
            if is_label {
                continue;
            }
            if let Some(i) = id {
                rows.push(i);
            }
            if token != EOS {
                self.char_ngrams(token, &mut rows);
            }
            word_hashes.push(hash(token) as i32);
        }
        self.word_ngrams(&word_hashes, &mut rows);
        rows
    }

    /// Character n-grams of `<token>` of `minn..=maxn` characters (UTF-8 aware), except the
    /// lone `<` and `>`.
    fn char_ngrams(&self, token: &[u8], rows: &mut Vec<usize>) {
        if self.args.maxn <= 0 {
            return;
        }
        let word: Vec<u8> = [b"<".as_slice(), token, b">"].concat();
        let (minn, maxn) = (self.args.minn as usize, self.args.maxn as usize);
        let continuation = |b: u8| b & 0xC0 == 0x80;
        for i in 0..word.len() {
            if continuation(word[i]) {
                continue;
            }
            let (mut j, mut n) = (i, 1);
            while j < word.len() && n <= maxn {
                j += 1;
                while j < word.len() && continuation(word[j]) {
                    j += 1;
                }
                if n >= minn && !(n == 1 && (i == 0 || j == word.len())) {
                    self.push_bucket((hash(&word[i..j]) % self.args.bucket as u32) as i32, rows);
                }
                n += 1;
            }
        }
    }

    /// Hashes of `word_ngrams` consecutive words, fastText's way (its word hashes are signed
    /// 32-bit and widen with their sign).
    fn word_ngrams(&self, hashes: &[i32], rows: &mut Vec<usize>) {
        let n = self.args.word_ngrams.max(1) as usize;
        for i in 0..hashes.len() {
            let mut h = i64::from(hashes[i]) as u64;
            for &next in hashes.iter().take(i + n).skip(i + 1) {
                h = h.wrapping_mul(116_049_371).wrapping_add(i64::from(next) as u64);
                self.push_bucket((h % self.args.bucket as u64) as i32, rows);
            }
        }
    }

    fn push_bucket(&self, bucket: i32, rows: &mut Vec<usize>) {
        match &self.pruned {
            None => rows.push(self.nwords + bucket as usize),
            Some(map) => {
                if let Some(&row) = map.get(&bucket) {
                    rows.push(self.nwords + row);
                }
            }
        }
    }
}

/// FNV-1a over the bytes, each widened as a signed char (what fastText's `hash` does).
pub(super) fn hash(bytes: &[u8]) -> u32 {
    bytes.iter().fold(2_166_136_261u32, |h, &b| (h ^ (b as i8 as i32 as u32)).wrapping_mul(16_777_619))
}
