//! numpy's legacy `RandomState` (MT19937 seeded by `init_genrand`) and the one draw datatrove
//! makes from it, `randint(low, high, dtype=np.uint64)`, so that a seed gives the permutations
//! datatrove's MinHash uses.

const N: usize = 624;
const M: usize = 397;

pub(crate) struct RandomState {
    mt: [u32; N],
    next: usize,
}

impl RandomState {
    /// `np.random.RandomState(seed)` for an integer seed.
    pub(crate) fn new(seed: u32) -> Self {
        let mut mt = [0u32; N];
        mt[0] = seed;
        for i in 1..N {
            mt[i] = 1_812_433_253u32.wrapping_mul(mt[i - 1] ^ (mt[i - 1] >> 30)).wrapping_add(i as u32);
        }
        Self { mt, next: N }
    }

    fn next_u32(&mut self) -> u32 {
        if self.next >= N {
            self.twist();
        }
        let mut y = self.mt[self.next];
        self.next += 1;
        y ^= y >> 11;
        y ^= (y << 7) & 0x9d2c_5680;
        y ^= (y << 15) & 0xefc6_0000;
        y ^ (y >> 18)
    }

    fn twist(&mut self) {
        for i in 0..N {
            let y = (self.mt[i] & 0x8000_0000) | (self.mt[(i + 1) % N] & 0x7fff_ffff);
            let mut v = self.mt[(i + M) % N] ^ (y >> 1);
            if y & 1 != 0 {
                v ^= 0x9908_b0df;
            }
            self.mt[i] = v;
        }
        self.next = 0;
    }

    /// numpy's 64-bit draw: two 32-bit outputs, the first one high.
    fn next_u64(&mut self) -> u64 {
        let high = u64::from(self.next_u32());
        (high << 32) | u64::from(self.next_u32())
    }

    /// `randint(low, high, dtype=np.uint64)` for a range wider than 32 bits: numpy's legacy
    /// masked rejection sampling (draw, keep the bits below the range's top bit, retry if over).
    pub(crate) fn randint_u64(&mut self, low: u64, high: u64) -> u64 {
        debug_assert!(high - low > 1 << 32, "narrower ranges take numpy's 32-bit path, not copied");
        let range = high - low - 1;
        let mask = u64::MAX >> range.leading_zeros();
        loop {
            let v = self.next_u64() & mask;
            if v <= range {
                return low + v;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_outputs_are_mt19937s() {
        // The reference MT19937 with init_genrand(5489) starts 3499211612, 581869302.
        let mut r = RandomState::new(5489);
        assert_eq!((r.next_u32(), r.next_u32()), (3_499_211_612, 581_869_302));
    }
}
