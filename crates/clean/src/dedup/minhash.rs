//! MinHash signatures over word shingles and their LSH band keys, computed as datatrove computes
//! them, so that the same seed gives the same signatures and the same candidate pairs: its
//! `simplify_text`, words joined by single spaces into shingles, xxh64 of each shingle, and the
//! permutations `((a·h + b) mod 2⁶⁴) mod (2⁶¹ − 1)` with `a` and `b` drawn by numpy's
//! `RandomState(seed)`.

use serde::{Deserialize, Serialize};
use xxhash_rust::xxh3::xxh3_64_with_seed;
use xxhash_rust::xxh64::xxh64;

use super::numpy_random::RandomState;
#[cfg(test)]
use super::simplify::simplify_ascii;
use super::simplify::{ascii_words, Simplifier};
use crate::words::split_words;
use crate::ConfigError;

/// MinHash parameters; defaults are datatrove's (5-word shingles, 14 bands × 8 rows = 112 hashes,
/// which puts the 50 % detection point near Jaccard similarity 0.72).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MinHashConfig {
    /// Words per shingle.
    pub shingle_size: usize,
    /// LSH bands; two documents sharing all rows of any band are candidates.
    pub bands: usize,
    /// Hashes per band. The signature has `bands × rows` hashes.
    pub rows: usize,
    /// Seed of the hash permutations, numpy's `RandomState` seed as datatrove's `MinhashConfig`
    /// takes it: runs to be compared must use the same.
    pub seed: u64,
}

impl Default for MinHashConfig {
    fn default() -> Self {
        Self { shingle_size: 5, bands: 14, rows: 8, seed: 1 }
    }
}

impl MinHashConfig {
    pub fn num_hashes(&self) -> usize {
        self.bands * self.rows
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        for (field, value) in [("shingle_size", self.shingle_size), ("bands", self.bands), ("rows", self.rows)] {
            if value == 0 || value > 1024 {
                return Err(ConfigError { field, value: value.to_string(), expected: "between 1 and 1024" });
            }
        }
        if u32::try_from(self.seed).is_err() {
            return Err(ConfigError {
                field: "seed",
                value: self.seed.to_string(),
                expected: "below 2^32 (numpy's RandomState seeds)",
            });
        }
        Ok(())
    }
}

const MERSENNE_61: u64 = (1 << 61) - 1;

/// Computes signatures and band keys for one configuration; build once, share across threads.
#[derive(Debug, Clone)]
pub struct MinHasher {
    config: MinHashConfig,
    /// Permutation `i` maps `h` to `((a[i]·h + b[i]) mod 2⁶⁴) mod (2⁶¹ − 1)`.
    a: Vec<u64>,
    b: Vec<u64>,
    simplifier: Simplifier,
}

impl MinHasher {
    pub fn new(config: &MinHashConfig) -> Result<Self, ConfigError> {
        config.validate()?;
        // Validated: the seed fits.
        let mut random = RandomState::new(config.seed as u32);
        let n = config.num_hashes();
        // datatrove draws all the a's, then all the b's.
        let a = (0..n).map(|_| random.randint_u64(1, MERSENNE_61)).collect();
        let b = (0..n).map(|_| random.randint_u64(0, MERSENNE_61)).collect();
        let simplifier = Simplifier::new().map_err(|e| ConfigError {
            field: "minhash",
            value: e.to_string(),
            expected: "patterns the regex crate compiles (a bug if seen)",
        })?;
        Ok(Self { config: config.clone(), a, b, simplifier })
    }

    pub fn config(&self) -> &MinHashConfig {
        &self.config
    }

    /// The signature: for each permutation, the smallest permuted shingle hash; `None` for a text
    /// without words. A text of fewer words than a shingle is one shingle of all its words
    /// (datatrove gives it no signature, so it never finds such short duplicates).
    pub fn signature(&self, text: &str) -> Option<Vec<u64>> {
        // Shingles are the words joined by single spaces, as datatrove's `" ".join(ngram)`;
        // joining all words once makes every shingle a slice of one string.
        let (joined, bounds) = if text.is_ascii() {
            ascii_words(text)
        } else {
            let simple = self.simplifier.simplify(text);
            let words = split_words(&simple);
            let mut joined = String::with_capacity(simple.len() + words.len());
            let mut bounds = Vec::with_capacity(words.len());
            for w in &words {
                if !joined.is_empty() {
                    joined.push(' ');
                }
                bounds.push((joined.len(), joined.len() + w.len()));
                joined.push_str(w);
            }
            (joined.into_bytes(), bounds)
        };
        if bounds.is_empty() {
            return None;
        }
        let n = self.config.shingle_size.min(bounds.len());
        // Repeated shingles are permuted again rather than sorted out first: they cannot lower a
        // minimum, and sorting every document's hashes cost more than the repeats do.
        let hashes: Vec<u64> = bounds.windows(n).map(|w| xxh64(&joined[w[0].0..w[n - 1].1], 0)).collect();
        let mut sig = vec![u64::MAX; self.a.len()];
        permute_min(&mut sig, &self.a, &self.b, &hashes);
        Some(sig)
    }

    /// One key per band: a hash of the band's rows.
    pub fn band_keys(&self, signature: &[u64]) -> Vec<u64> {
        signature
            .chunks(self.config.rows)
            .enumerate()
            .map(|(band, rows)| {
                let bytes: Vec<u8> = rows.iter().flat_map(|r| r.to_le_bytes()).collect();
                xxh3_64_with_seed(&bytes, band as u64)
            })
            .collect()
    }

    /// The band keys of `text`. A text without words has no signature; its keys come from its
    /// bytes, so it meets only texts equal to it (which are duplicates by any measure).
    pub fn band_keys_of(&self, text: &str) -> Vec<u64> {
        match self.signature(text) {
            Some(sig) => self.band_keys(&sig),
            None => (0..self.config.bands as u64).map(|band| xxh3_64_with_seed(text.as_bytes(), !band)).collect(),
        }
    }

    /// datatrove's `simplify_text` (see `simplify.rs`).
    #[cfg(test)]
    fn simplify(&self, text: &str) -> String {
        if text.is_ascii() {
            return simplify_ascii(text);
        }
        self.simplifier.simplify(text)
    }
}

/// `sig[i] = min(sig[i], min over h of permutation i of h)`, the loop every shingle goes through
/// and most of MinHash's time. The baseline x86-64 target has no 64-bit vector multiply; where the
/// CPU has AVX-512 (F and DQ) the same loop is compiled for it and runs several times faster.
fn permute_min(sig: &mut [u64], a: &[u64], b: &[u64], hashes: &[u64]) {
    #[cfg(target_arch = "x86_64")]
    if std::is_x86_feature_detected!("avx512f") && std::is_x86_feature_detected!("avx512dq") {
        // SAFETY: the features the function is compiled for were just detected on this CPU.
        #[allow(unsafe_code)]
        unsafe {
            permute_min_avx512(sig, a, b, hashes)
        };
        return;
    }
    permute_min_portable(sig, a, b, hashes);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512dq")]
fn permute_min_avx512(sig: &mut [u64], a: &[u64], b: &[u64], hashes: &[u64]) {
    permute_min_portable(sig, a, b, hashes);
}

/// Lanes of the signature kept in registers while every hash goes through them (one 512-bit
/// vector): the signature is read and written once per document instead of once per hash.
const LANES: usize = 8;

#[inline(always)]
fn permute_min_portable(sig: &mut [u64], a: &[u64], b: &[u64], hashes: &[u64]) {
    let whole = sig.len() / LANES * LANES;
    let (head, tail) = sig.split_at_mut(whole);
    for ((s, a), b) in head.chunks_exact_mut(LANES).zip(a.chunks_exact(LANES)).zip(b.chunks_exact(LANES)) {
        let (mut m, mut av, mut bv) = ([0u64; LANES], [0u64; LANES], [0u64; LANES]);
        m.copy_from_slice(s);
        av.copy_from_slice(a);
        bv.copy_from_slice(b);
        for &h in hashes {
            for l in 0..LANES {
                m[l] = m[l].min(mod_mersenne(h.wrapping_mul(av[l]).wrapping_add(bv[l])));
            }
        }
        s.copy_from_slice(&m);
    }
    for &h in hashes {
        for ((s, &a), &b) in tail.iter_mut().zip(&a[whole..]).zip(&b[whole..]) {
            *s = (*s).min(mod_mersenne(h.wrapping_mul(a).wrapping_add(b)));
        }
    }
}

/// `x mod (2⁶¹ − 1)` without a division: `x = hi·2⁶¹ + lo ≡ hi + lo`.
#[inline(always)]
fn mod_mersenne(x: u64) -> u64 {
    let r = (x & MERSENNE_61) + (x >> 61);
    r.min(r.wrapping_sub(MERSENNE_61))
}

/// Estimated Jaccard similarity of two signatures: the fraction of equal positions.
pub fn similarity(a: &[u64], b: &[u64]) -> f64 {
    let equal = a.iter().zip(b).filter(|(x, y)| x == y).count();
    equal as f64 / a.len().max(1) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hasher() -> MinHasher {
        MinHasher::new(&MinHashConfig::default()).unwrap()
    }

    const TEXT: &str = "The old lighthouse keeper climbed the spiral stairs every evening at dusk, \
        lit the great lamp, and watched the ships pass safely through the narrow strait below. \
        In winter the storms were fierce and the waves broke over the rocks with a sound like thunder.";

    #[test]
    fn simplifies_like_datatrove() {
        // Expected strings are datatrove 0.10's `simplify_text` of the same input.
        let h = hasher();
        assert_eq!(
            h.simplify("Héllo, WORLD!! 42 times… 3.14 and 1,000,000 § x_y __init__ İstanbul ΣΑΣ"),
            "hello world 0 times 0 and 0 0 § x y init istanbul σας"
        );
        assert_eq!(h.simplify("  Version 3.14.15, (c) 2024-2025\tFoo_BAR\n"), "version 0 0 c 0 0 foo bar");
        assert_eq!(simplify_ascii("a1.b 2. 3,4"), "a0 b 0 0");
    }

    #[test]
    fn permutations_are_numpy_randomstate_draws() {
        // datatrove: np.random.RandomState(1).randint(1, 2**61 - 1, dtype=np.uint64, size=112),
        // then the same for the b's from 0.
        let h = hasher();
        assert_eq!(&h.a[..2], &[775169054918279404, 1758426461858698313]);
        assert_eq!(h.a[111], 223865076026037746);
        assert_eq!(&h.b[..3], &[1062448801025099917, 1324811268927594100, 1217488311597731462]);
        assert_eq!(h.b[111], 1097409548522419201);
    }

    #[test]
    fn signatures_equal_datatrove_ones() {
        // MinhashDedupSignature(config=MinhashConfig(), word tokenizer `\w+|[^\w\s]+`) on the
        // same texts: bucket 0's first values and bucket 13's last.
        let h = hasher();
        let sig = h.signature(TEXT).unwrap();
        assert_eq!(&sig[..3], &[110349102305077761, 6122871382663004, 93625448101214130]);
        assert_eq!(sig[111], 17350256350554960);
        let five = h.signature("Two, words! 3.5 §x").unwrap();
        assert_eq!(&five[..2], &[549146245780432140, 791206242538967614]);
    }

    #[test]
    fn identical_and_near_texts_agree_unrelated_do_not() {
        let h = hasher();
        let a = h.signature(TEXT).unwrap();
        assert_eq!(a, h.signature(&TEXT.to_uppercase()).unwrap());
        let near = h.signature(&TEXT.replace("thunder", "drums")).unwrap();
        let far = h.signature("A completely different text about cooking pasta with garlic, oil and chili flakes.");
        assert!(similarity(&a, &near) > 0.8, "{}", similarity(&a, &near));
        assert!(similarity(&a, &far.unwrap()) < 0.1);
        let shared = h.band_keys(&a).iter().zip(h.band_keys(&near)).filter(|(x, y)| **x == *y).count();
        assert!(shared > 0);
    }

    #[test]
    fn short_texts_are_one_shingle_and_wordless_ones_have_none() {
        let h = hasher();
        assert_eq!(h.signature("two words"), h.signature("Two, words!"));
        assert_ne!(h.signature("two words"), h.signature("two birds"));
        assert_eq!(h.signature("  ...  "), None);
        // Wordless texts meet only their equals.
        assert_eq!(h.band_keys_of("..."), h.band_keys_of("..."));
        assert!(h.band_keys_of("...").iter().zip(h.band_keys_of("!!!")).all(|(x, y)| *x != y));
    }

    #[test]
    fn every_permute_loop_agrees() {
        // 112 hashes (whole vectors) and 13 (a vector and a tail of 5).
        for h in [hasher(), MinHasher::new(&MinHashConfig { bands: 13, rows: 1, ..Default::default() }).unwrap()] {
            let hashes: Vec<u64> = (0..50u64).map(|i| xxh64(&i.to_le_bytes(), 0)).collect();
            let mut portable = vec![u64::MAX; h.a.len()];
            permute_min_portable(&mut portable, &h.a, &h.b, &hashes);
            let mut dispatched = vec![u64::MAX; h.a.len()];
            permute_min(&mut dispatched, &h.a, &h.b, &hashes);
            assert_eq!(portable, dispatched);
            let reference =
                |a: u64, b: u64| hashes.iter().map(|&x| (x.wrapping_mul(a).wrapping_add(b)) % MERSENNE_61).min();
            for (i, &got) in portable.iter().enumerate() {
                assert_eq!(Some(got), reference(h.a[i], h.b[i]), "position {i}");
            }
        }
    }

    /// A signature by the definitions, step by step: the literal simplification, `split_words`,
    /// shingles joined by spaces, each distinct one permuted with a `%`.
    fn reference_signature(h: &MinHasher, text: &str) -> Option<Vec<u64>> {
        let simple = h.simplifier.literal(text);
        let words = split_words(&simple);
        if words.is_empty() {
            return None;
        }
        let n = h.config.shingle_size.min(words.len());
        let shingles: std::collections::BTreeSet<u64> =
            words.windows(n).map(|w| xxh64(w.join(" ").as_bytes(), 0)).collect();
        let permuted = |a: u64, b: u64| shingles.iter().map(|&x| x.wrapping_mul(a).wrapping_add(b) % MERSENNE_61).min();
        Some(h.a.iter().zip(&h.b).map(|(&a, &b)| permuted(a, b).unwrap_or(u64::MAX)).collect())
    }

    #[test]
    fn signatures_follow_the_definitions() {
        // Repeated shingles (no longer sorted out before permuting), non-ASCII text with symbols
        // that are words of their own, a mark dropped between two spaces, a leading mark.
        let h = hasher();
        for text in [
            format!("{TEXT} {TEXT} {TEXT}"),
            "Ärger über Straße, café naïve — “quoted” words again über Straße café".to_string(),
            "x©y and © alone, a \u{301} b, \u{301}lead, Москва́ 2024 г. Ключ ключ".to_string(),
            "ǅ ﬁ e\u{301} ΣΑΣ 3,5 Ⅻ ½".to_string(),
            "été".to_string(),
        ] {
            assert_eq!(h.signature(&text), reference_signature(&h, &text), "{text:?}");
        }
    }

    proptest::proptest! {
        #[test]
        fn signatures_follow_the_definitions_on_mixed_text(text in "[a-c0-9 .,_\n!§©─’—éÉß Σς Ая\u{a0}\u{301}\u{327}١Ⅻ]{0,30}") {
            let h = hasher();
            proptest::prop_assert_eq!(h.signature(&text), reference_signature(&h, &text));
        }
    }

    #[test]
    fn mod_mersenne_matches_u128_reference() {
        for x in [0, 1, MERSENNE_61 - 1, MERSENNE_61, MERSENNE_61 + 1, u64::MAX, 12345 << 50] {
            assert_eq!(u128::from(mod_mersenne(x)), u128::from(x) % u128::from(MERSENNE_61), "{x}");
        }
    }

    #[test]
    fn rejects_zero_bands_and_wide_seeds() {
        assert!(MinHasher::new(&MinHashConfig { bands: 0, ..Default::default() }).is_err());
        assert!(MinHasher::new(&MinHashConfig { seed: 1 << 32, ..Default::default() }).is_err());
    }
}
