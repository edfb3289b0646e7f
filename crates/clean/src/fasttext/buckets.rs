//! From a hashed n-gram to its hash bucket and the bucket's input row, without a division or a
//! hash-table probe: these run for every n-gram of every distinct token.

/// `x % d` for a fixed `d`, by Lemire's multiply-and-shift (exact for every 32-bit `x` and `d`).
#[derive(Clone, Copy)]
pub(super) struct Modulo {
    d: u32,
    m: u64,
}

impl Modulo {
    /// `d` must not be 0.
    pub(super) fn new(d: u32) -> Self {
        Self { d, m: (u64::MAX / u64::from(d)).wrapping_add(1) }
    }

    #[inline]
    pub(super) fn of(self, x: u32) -> u32 {
        let low = self.m.wrapping_mul(u64::from(x));
        ((u128::from(low) * u128::from(self.d)) >> 64) as u32
    }
}

/// A quantized model's pruned buckets: which buckets kept a row, as a bitmap with a popcount per
/// 64-bit word before it, and the kept buckets' rows in bucket order. For lid.176.ftz's 2 M
/// buckets that is about 0.6 MB, small enough to stay in cache, where a hash map missed.
pub(super) struct Pruned {
    bits: Vec<u64>,
    before: Vec<u32>,
    rows: Vec<u32>,
}

impl Pruned {
    /// From the file's (bucket, row) pairs; a later pair for the same bucket wins, as a map's
    /// insert would, and buckets outside `0..buckets` can never be asked for, so are dropped.
    pub(super) fn new(buckets: usize, mut pairs: Vec<(i32, u32)>) -> Self {
        pairs.retain(|&(b, _)| b >= 0 && (b as usize) < buckets);
        // Stable: equal buckets stay in file order, and the last of each run is kept.
        pairs.sort_by_key(|&(b, _)| b);
        let mut rows = Vec::with_capacity(pairs.len());
        let mut bits = vec![0u64; buckets.div_ceil(64)];
        for (k, &(b, row)) in pairs.iter().enumerate() {
            if pairs.get(k + 1).is_some_and(|&(next, _)| next == b) {
                continue;
            }
            bits[b as usize / 64] |= 1 << (b % 64);
            rows.push(row);
        }
        let mut before = Vec::with_capacity(bits.len());
        let mut count = 0;
        for w in &bits {
            before.push(count);
            count += w.count_ones();
        }
        Self { bits, before, rows }
    }

    /// Appends the rows kept for `buckets`, in their order. The bitmap words are all loaded
    /// before any is tested: independent loads overlap their cache misses, where testing each
    /// as it came (a branch that depends on a miss) waited for them one by one.
    pub(super) fn extend_rows(&self, buckets: &[u32], rows: &mut Vec<u32>) {
        let mut words = [0u64; 64];
        for chunk in buckets.chunks(64) {
            for (w, &b) in words.iter_mut().zip(chunk) {
                *w = self.bits[b as usize / 64];
            }
            for (&word, &b) in words.iter().zip(chunk) {
                let bit = b % 64;
                if word >> bit & 1 != 0 {
                    let rank = self.before[b as usize / 64] + (word & ((1u64 << bit) - 1)).count_ones();
                    rows.push(self.rows[rank as usize]);
                }
            }
        }
    }

    /// The row kept for `bucket` (which is below the bucket count), if any.
    #[inline]
    pub(super) fn row(&self, bucket: u32) -> Option<u32> {
        let (w, bit) = (bucket as usize / 64, bucket % 64);
        let word = self.bits[w];
        if word >> bit & 1 == 0 {
            return None;
        }
        let rank = self.before[w] + (word & ((1u64 << bit) - 1)).count_ones();
        Some(self.rows[rank as usize])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modulo_is_exact() {
        for d in [1u32, 2, 3, 7, 1000, 2_000_000, 2_147_483_647, u32::MAX] {
            let m = Modulo::new(d);
            for x in [0u32, 1, 2, d - 1, d, d.wrapping_add(1), 123_456_789, 0x8000_0000, u32::MAX - 1, u32::MAX] {
                assert_eq!(m.of(x), x % d, "{x} % {d}");
            }
        }
    }

    #[test]
    fn pruned_rows_are_the_maps() {
        let pairs = vec![(130, 5), (3, 0), (64, 9), (63, 2), (3, 7), (200, 1), (-1, 4), (1000, 3)];
        let p = Pruned::new(300, pairs);
        let got: Vec<(u32, u32)> = (0..300).filter_map(|b| p.row(b).map(|r| (b, r))).collect();
        // The later (3, 7) replaces (3, 0); -1 and 1000 are not buckets of a 300-bucket model.
        assert_eq!(got, [(3, 7), (63, 2), (64, 9), (130, 5), (200, 1)]);
        // In bulk, in the buckets' order, more than one chunk of them.
        let buckets: Vec<u32> = (0..150).map(|i| [200, 3, 4, 64, 130, 63][i % 6]).collect();
        let mut rows = Vec::new();
        p.extend_rows(&buckets, &mut rows);
        let one_by_one: Vec<u32> = buckets.iter().filter_map(|&b| p.row(b)).collect();
        assert_eq!((rows.len(), rows), (125, one_by_one));
    }
}
