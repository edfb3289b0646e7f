//! One open-addressing table of n-gram hashes, emptied and reused for every n of a document.
//!
//! The Gopher repetition filter counts or collects the n-grams of a document nine times (n = 2 to
//! 10); a `HashMap` or `HashSet` per n was nine allocations sized to the document, each touched
//! once, and hashbrown's generic probing around keys that are already hashes.

/// A slot: the key and its count, `count == 0` marking an empty slot, and the index of the
/// key's first occurrence.
#[derive(Clone, Copy, Default)]
struct Slot {
    key: u64,
    count: u32,
    first: u32,
}

#[derive(Default)]
pub(crate) struct NgramTable {
    slots: Vec<Slot>,
    /// `64 - log2(slots.len())`: the home slot is the top bits of `key × FIB`.
    shift: u32,
}

/// 2^64 / φ: multiplying spreads every key bit into the top bits that pick the slot (the rolling
/// n-gram hashes are polynomial, so their low bits depend only on the words' low bits).
const FIB: u64 = 0x9E37_79B9_7F4A_7C15;

impl NgramTable {
    /// Empties the table and sizes it for `keys` keys at most (load at most one half).
    pub(crate) fn reset(&mut self, keys: usize) {
        let size = (2 * keys).next_power_of_two().max(16);
        self.slots.clear();
        self.slots.resize(size, Slot::default());
        self.shift = 64 - size.trailing_zeros();
    }

    /// The slot of `key`: where it is, or the empty slot where it would go.
    #[inline]
    fn slot(&self, key: u64) -> usize {
        let mask = self.slots.len() - 1;
        let mut i = (key.wrapping_mul(FIB) >> self.shift) as usize;
        loop {
            let s = self.slots[i];
            if s.count == 0 || s.key == key {
                return i;
            }
            i = (i + 1) & mask;
        }
    }

    /// Counts one occurrence of `key` at `index`; returns its count so far and the index of its
    /// first occurrence.
    #[inline]
    pub(crate) fn count(&mut self, key: u64, index: usize) -> (u32, usize) {
        let i = self.slot(key);
        let s = &mut self.slots[i];
        if s.count == 0 {
            *s = Slot { key, count: 0, first: index as u32 };
        }
        s.count += 1;
        (s.count, s.first as usize)
    }

    #[inline]
    pub(crate) fn contains(&self, key: u64) -> bool {
        self.slots[self.slot(key)].count != 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn counts_as_a_map_does() {
        let mut table = NgramTable::default();
        // Keys that share their low bits, or their high bits, and a zero key.
        let keys: Vec<u64> = (0..3000u64).map(|i| [i % 97, (i % 89) << 40, 0, i << 58][(i % 4) as usize]).collect();
        for round in 0..2 {
            table.reset(keys.len());
            let mut map: HashMap<u64, (u32, usize)> = HashMap::new();
            for (i, &k) in keys.iter().enumerate() {
                assert_eq!(table.contains(k), map.contains_key(&k), "round {round}");
                let e = map.entry(k).or_insert((0, i));
                e.0 += 1;
                assert_eq!(table.count(k, i), *e);
            }
            assert!(!table.contains(1 << 33));
        }
    }
}
