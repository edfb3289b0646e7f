//! MinHash signatures over word shingles and their LSH band keys, as datatrove computes them
//! (simplified text, word n-grams, `(a·h + b) mod (2⁶¹ − 1)` permutations).

use serde::{Deserialize, Serialize};
use unicode_normalization::char::is_combining_mark;
use unicode_normalization::UnicodeNormalization;
use xxhash_rust::xxh3::{xxh3_64, xxh3_64_with_seed};

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
    /// Seed of the hash permutations: runs to be compared must use the same.
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
        Ok(())
    }
}

const MERSENNE_61: u64 = (1 << 61) - 1;

/// Computes signatures and band keys for one configuration; build once, share across threads.
#[derive(Debug, Clone)]
pub struct MinHasher {
    config: MinHashConfig,
    /// Permutation `i` maps `h` to `(a[i]·h + b[i]) mod (2⁶¹ − 1)`.
    a: Vec<u64>,
    b: Vec<u64>,
}

impl MinHasher {
    pub fn new(config: &MinHashConfig) -> Result<Self, ConfigError> {
        config.validate()?;
        let mut state = config.seed;
        let mut draw = |lo: u64| loop {
            let v = splitmix64(&mut state) & MERSENNE_61;
            if v >= lo && v < MERSENNE_61 {
                return v;
            }
        };
        let n = config.num_hashes();
        let a = (0..n).map(|_| draw(1)).collect();
        let b = (0..n).map(|_| draw(0)).collect();
        Ok(Self { config: config.clone(), a, b })
    }

    pub fn config(&self) -> &MinHashConfig {
        &self.config
    }

    /// The signature: for each permutation, the smallest permuted shingle hash. A text without
    /// words has a signature of `u64::MAX`s.
    pub fn signature(&self, text: &str) -> Vec<u64> {
        let mut sig = vec![u64::MAX; self.a.len()];
        let simple = simplify(text);
        let mut starts = Vec::new();
        let mut ends = Vec::new();
        let mut in_word = false;
        for (i, c) in simple.char_indices() {
            match (c == ' ', in_word) {
                (true, true) => {
                    ends.push(i);
                    in_word = false;
                }
                (false, false) => {
                    starts.push(i);
                    in_word = true;
                }
                _ => {}
            }
        }
        if in_word {
            ends.push(simple.len());
        }
        let n = self.config.shingle_size;
        let count = starts.len().saturating_sub(n) + 1;
        if starts.is_empty() {
            return sig;
        }
        for i in 0..count.min(starts.len()) {
            let last = (i + n).min(starts.len()) - 1;
            let h = xxh3_64(&simple.as_bytes()[starts[i]..ends[last]]) % MERSENNE_61;
            for ((s, &a), &b) in sig.iter_mut().zip(&self.a).zip(&self.b) {
                let v = add_mod(mul_mod(a, h), b);
                if v < *s {
                    *s = v;
                }
            }
        }
        sig
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
}

/// Estimated Jaccard similarity of two signatures: the fraction of equal positions.
pub fn similarity(a: &[u64], b: &[u64]) -> f64 {
    let equal = a.iter().zip(b).filter(|(x, y)| x == y).count();
    equal as f64 / a.len().max(1) as f64
}

/// datatrove's `simplify_text`: lowercase, accents removed, digits to `0`, punctuation to spaces,
/// one space between words.
fn simplify(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut space = false;
    for c in text.nfd().filter(|c| !is_combining_mark(*c)) {
        if c.is_alphanumeric() {
            if space && !out.is_empty() {
                out.push(' ');
            }
            space = false;
            if c.is_numeric() {
                out.push('0');
            } else {
                out.extend(c.to_lowercase());
            }
        } else {
            space = true;
        }
    }
    out
}

fn mul_mod(a: u64, b: u64) -> u64 {
    let p = u128::from(a) * u128::from(b);
    let r = (p as u64 & MERSENNE_61) + (p >> 61) as u64;
    if r >= MERSENNE_61 {
        r - MERSENNE_61
    } else {
        r
    }
}

fn add_mod(a: u64, b: u64) -> u64 {
    let r = a + b;
    if r >= MERSENNE_61 {
        r - MERSENNE_61
    } else {
        r
    }
}

fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
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
        assert_eq!(simplify("Héllo, WORLD!! 42 times…"), "hello world 00 times");
    }

    #[test]
    fn identical_and_near_texts_agree_unrelated_do_not() {
        let h = hasher();
        let a = h.signature(TEXT);
        assert_eq!(a, h.signature(&TEXT.to_uppercase()));
        let near = h.signature(&TEXT.replace("thunder", "drums"));
        let far = h.signature("A completely different text about cooking pasta with garlic, oil and chili flakes.");
        assert!(similarity(&a, &near) > 0.8, "{}", similarity(&a, &near));
        assert!(similarity(&a, &far) < 0.1);
        let shared = h.band_keys(&a).iter().zip(h.band_keys(&near)).filter(|(x, y)| **x == *y).count();
        assert!(shared > 0);
    }

    #[test]
    fn short_texts_are_one_shingle() {
        let h = hasher();
        assert_eq!(h.signature("two words"), h.signature("Two, words!"));
        assert_ne!(h.signature("two words"), h.signature("two birds"));
        assert!(h.signature("  ...  ").iter().all(|&v| v == u64::MAX));
    }

    #[test]
    fn mul_mod_matches_u128_reference() {
        for (a, b) in [(MERSENNE_61 - 1, MERSENNE_61 - 1), (12345, 67890), (1 << 60, 3)] {
            assert_eq!(u128::from(mul_mod(a, b)), u128::from(a) * u128::from(b) % u128::from(MERSENNE_61));
        }
    }

    #[test]
    fn rejects_zero_bands() {
        assert!(MinHasher::new(&MinHashConfig { bands: 0, ..Default::default() }).is_err());
    }
}
