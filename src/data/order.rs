//! Counter-based shuffling: a pseudo-random permutation of `0..n` whose element `i` is computed in
//! O(1) (expected) without materialising the permutation. A data cursor can then jump to any batch
//! of any epoch directly, and every epoch still visits each window exactly once.
//!
//! Construction: a 4-round balanced Feistel network on `2k` bits (`4^k >= n`), with round keys
//! from the SplitMix64 stream, restricted to `0..n` by cycle walking (re-applying the bijection
//! until the value falls inside the range; this terminates because the start lies inside the range
//! and the cycle through it must come back to it).

use crate::rng;

const ROUNDS: u64 = 4;

/// A permutation of `0..len`, determined by `key`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Permutation {
    key: u64,
    len: u64,
    half_bits: u32,
}

impl Permutation {
    /// `len` may be 0 (then nothing can be looked up) or any positive size.
    pub fn new(key: u64, len: u64) -> Self {
        // the smallest even bit width covering 0..len, at least 2
        let bits_needed = 64 - len.saturating_sub(1).leading_zeros();
        let half_bits = bits_needed.div_ceil(2).max(1);
        Permutation {
            key,
            len,
            half_bits,
        }
    }

    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Where position `index` goes. `index` is taken modulo `len`; `len == 0` gives 0.
    pub fn apply(&self, index: u64) -> u64 {
        if self.len <= 1 {
            return 0;
        }
        let mut x = index % self.len;
        loop {
            x = self.feistel(x);
            if x < self.len {
                return x;
            }
        }
    }

    fn feistel(&self, x: u64) -> u64 {
        let mask = (1u64 << self.half_bits) - 1;
        let (mut left, mut right) = (x >> self.half_bits, x & mask);
        for round in 0..ROUNDS {
            let f = rng::stream_at(rng::derive(self.key, round), right) & mask;
            (left, right) = (right, left ^ f);
        }
        (left << self.half_bits) | right
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn is_a_permutation_for_many_sizes() {
        for len in [1u64, 2, 3, 4, 5, 7, 16, 17, 100, 1000, 4097] {
            let p = Permutation::new(len * 31 + 7, len);
            let mut seen = vec![false; len as usize];
            for i in 0..len {
                let j = p.apply(i);
                assert!(j < len, "len {len}: {i} -> {j}");
                assert!(!seen[j as usize], "len {len}: {j} hit twice");
                seen[j as usize] = true;
            }
        }
    }

    #[test]
    fn different_keys_give_different_orders() {
        let a: Vec<u64> = (0..64).map(|i| Permutation::new(1, 64).apply(i)).collect();
        let b: Vec<u64> = (0..64).map(|i| Permutation::new(2, 64).apply(i)).collect();
        assert_ne!(a, b);
        let identity: Vec<u64> = (0..64).collect();
        assert_ne!(a, identity);
    }
}
