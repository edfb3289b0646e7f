//! Hashers for the filters' own tables. std's SipHash resists chosen collisions, which these do
//! not need (keys come from one document, and the worst a crafted document can do is be slow),
//! and it was a quarter of the Gopher repetition filter's time.

use std::hash::{BuildHasherDefault, Hasher};

use xxhash_rust::xxh3::xxh3_64_with_seed;

/// For keys that are already 64-bit hashes (the rolling n-gram hashes): one multiply spreads
/// them over the table's bits. Bytes (another key type) go through xxh3.
#[derive(Default)]
pub(crate) struct QuickHasher(u64);

impl Hasher for QuickHasher {
    fn write(&mut self, bytes: &[u8]) {
        self.0 = xxh3_64_with_seed(bytes, self.0);
    }

    fn write_u8(&mut self, b: u8) {
        self.write_u64(u64::from(b));
    }

    fn write_u64(&mut self, x: u64) {
        let h = (self.0 ^ x).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        self.0 = h ^ (h >> 32);
    }

    fn write_usize(&mut self, x: usize) {
        self.write_u64(x as u64);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

pub(crate) type Quick = BuildHasherDefault<QuickHasher>;

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn tells_keys_apart_as_a_set_must() {
        let lines = ["a", "b", "a", "", "ab", "b"];
        let mut seen: HashSet<&str, Quick> = HashSet::default();
        let repeats = lines.iter().filter(|l| !seen.insert(l)).count();
        assert_eq!(repeats, 2);
        let mut ids: HashSet<u64, Quick> = HashSet::default();
        assert!((0..10_000u64).all(|i| ids.insert(i << 40)));
    }
}
