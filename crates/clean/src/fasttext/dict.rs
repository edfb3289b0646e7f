//! fastText's dictionary: known words and labels, and how a line becomes input rows (the word's
//! own row, then its hashed character n-grams, then hashed word n-grams).

use std::cell::RefCell;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};

use super::buckets::{Modulo, Pruned};
use super::cache::{TokenCache, BATCH};
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
    ids: HashMap<Vec<u8>, usize, Fast>,
    nwords: usize,
    pub(super) labels: Vec<String>,
    pub(super) label_counts: Vec<i64>,
    /// `% bucket`, for character n-grams.
    modulo: Modulo,
    /// A quantized model keeps only some hashed n-gram rows: bucket → row after the words.
    /// `None`: not pruned, every bucket has its row.
    pruned: Option<Pruned>,
    /// Tells this dictionary's entries in the per-thread token cache from another model's.
    serial: u64,
}

/// FNV-1a for the dictionary's map: its keys are short and not chosen by an attacker who could
/// profit from collisions (a slow document is the worst case), and SipHash was a fifth of the
/// language filter's time.
#[derive(Default)]
pub(super) struct FnvHasher(u64);

impl Hasher for FnvHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut h = if self.0 == 0 { 0xcbf2_9ce4_8422_2325 } else { self.0 };
        for &b in bytes {
            h = (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3);
        }
        self.0 = h;
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

type Fast = BuildHasherDefault<FnvHasher>;

static SERIALS: AtomicU64 = AtomicU64::new(0);

thread_local! {
    static CACHE: RefCell<TokenCache> = RefCell::new(TokenCache::new());
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
        let (mut ids, mut labels, mut label_counts) =
            (HashMap::with_capacity_and_hasher(size, Fast::default()), Vec::new(), Vec::new());
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
            let mut pairs = Vec::new();
            for _ in 0..prune_size {
                let (bucket, row) = (c.i32()?, c.len32()?);
                let row = u32::try_from(nwords + row).map_err(|_| ModelError::Invalid(0, "a pruned row too large"))?;
                pairs.push((bucket, row));
            }
            Some(Pruned::new(args.bucket.max(0) as usize, pairs))
        };
        if i64::from(args.bucket) + nwords as i64 > i64::from(u32::MAX) {
            return Err(ModelError::Invalid(0, "more input rows than 32 bits count"));
        }
        let modulo = Modulo::new(args.bucket.max(1) as u32);
        let serial = SERIALS.fetch_add(1, Ordering::Relaxed);
        Ok(Self { args, ids, nwords, labels, label_counts, modulo, pruned, serial })
    }

    /// Calls `add` with each input row of one line, in fastText's order, and returns how many:
    /// tokens cut at ASCII whitespace and NUL (bytes, as fastText reads them), a `</s>` at the end
    /// for the newline its Python `predict` appends, then the word n-grams.
    pub(super) fn for_each_row(&self, text: &str, mut add: impl FnMut(usize)) -> usize {
        let mut word_hashes = Vec::new();
        let mut count = 0;
        let tokens = text
            .as_bytes()
            .split(|b| matches!(b, b' ' | b'\n' | b'\r' | b'\t' | 0x0b | 0x0c | 0))
            .filter(|t| !t.is_empty())
            .chain([EOS]);
        let tokens: Vec<&[u8]> = tokens.collect();
        CACHE.with_borrow_mut(|cache| {
            if cache.serial != self.serial {
                cache.clear();
                cache.serial = self.serial;
            }
            for batch in tokens.chunks(BATCH) {
                cache.rows_of(
                    batch,
                    |token, rows| self.token_rows(token, rows),
                    |token, rows| {
                        count += rows.len();
                        rows.iter().for_each(|r| add(r as usize));
                        if self.args.word_ngrams > 1 && !self.is_label(token) {
                            word_hashes.push(hash(token) as i32);
                        }
                    },
                );
            }
        });
        let mut rows = Vec::new();
        self.word_ngrams(&word_hashes, &mut rows);
        rows.iter().for_each(|&r| add(r as usize));
        count + rows.len()
    }

    fn is_label(&self, token: &[u8]) -> bool {
        match self.ids.get(token) {
            Some(&i) => i >= self.nwords,
            None => token.starts_with(LABEL_PREFIX),
        }
    }

    /// One token's rows: its own if it is a known word, then its character n-grams'. Labels
    /// (a token spelled `__label__…`) contribute nothing, as in fastText.
    fn token_rows(&self, token: &[u8], rows: &mut Vec<u32>) {
        // One probe of the dictionary answers both "is it a label" and "is it a word".
        match self.ids.get(token) {
            Some(&i) if i >= self.nwords => return,
            Some(&i) => rows.push(i as u32),
            None if token.starts_with(LABEL_PREFIX) => return,
            None => {}
        }
        if token != EOS {
            self.char_ngrams(token, rows);
        }
    }

    /// Character n-grams of `<token>` of `minn..=maxn` characters (UTF-8 aware), except the
    /// lone `<` and `>`. The hash of each longer n-gram from a start continues the shorter one's
    /// (FNV is a fold over the bytes), so every start is hashed once.
    fn char_ngrams(&self, token: &[u8], rows: &mut Vec<u32>) {
        if self.args.maxn <= 0 {
            return;
        }
        let mut word = Vec::with_capacity(token.len() + 2);
        word.push(b'<');
        word.extend_from_slice(token);
        word.push(b'>');
        let (minn, maxn) = (self.args.minn as usize, self.args.maxn as usize);
        let mut buckets = Vec::with_capacity(word.len() * (maxn + 1 - minn.min(maxn)));
        let continuation = |b: u8| b & 0xC0 == 0x80;
        for i in 0..word.len() {
            if continuation(word[i]) {
                continue;
            }
            let (mut j, mut n, mut h) = (i, 1, FNV_OFFSET);
            while j < word.len() && n <= maxn {
                h = fnv_step(h, word[j]);
                j += 1;
                while j < word.len() && continuation(word[j]) {
                    h = fnv_step(h, word[j]);
                    j += 1;
                }
                if n >= minn && !(n == 1 && (i == 0 || j == word.len())) {
                    buckets.push(self.modulo.of(h));
                }
                n += 1;
            }
        }
        match &self.pruned {
            None => rows.extend(buckets.iter().map(|&b| self.nwords as u32 + b)),
            Some(pruned) => pruned.extend_rows(&buckets, rows),
        }
    }

    /// Hashes of `word_ngrams` consecutive words, fastText's way (its word hashes are signed
    /// 32-bit and widen with their sign).
    fn word_ngrams(&self, hashes: &[i32], rows: &mut Vec<u32>) {
        let n = self.args.word_ngrams.max(1) as usize;
        for i in 0..hashes.len() {
            let mut h = i64::from(hashes[i]) as u64;
            for &next in hashes.iter().take(i + n).skip(i + 1) {
                h = h.wrapping_mul(116_049_371).wrapping_add(i64::from(next) as u64);
                self.push_bucket((h % self.args.bucket as u64) as u32, rows);
            }
        }
    }

    /// Bucket (below the bucket count) → its row, if the model kept one.
    #[inline]
    fn push_bucket(&self, bucket: u32, rows: &mut Vec<u32>) {
        match &self.pruned {
            None => rows.push(self.nwords as u32 + bucket),
            Some(pruned) => rows.extend(pruned.row(bucket)),
        }
    }
}

const FNV_OFFSET: u32 = 2_166_136_261;

/// One byte of fastText's FNV-1a, the byte widened as a signed char.
#[inline]
fn fnv_step(h: u32, b: u8) -> u32 {
    (h ^ (b as i8 as i32 as u32)).wrapping_mul(16_777_619)
}

/// FNV-1a over the bytes, each widened as a signed char (what fastText's `hash` does).
pub(super) fn hash(bytes: &[u8]) -> u32 {
    bytes.iter().fold(FNV_OFFSET, |h, &b| fnv_step(h, b))
}
