//! The portable counter-based PRNG (SplitMix64) of models.json / portable_rng.py.
//!
//! Every host-side random number in xlatrain (initial parameters, synthetic data, data order)
//! comes from here. It is counter based: value `i` of a stream is a pure function of
//! `(seed, i)`, so any element can be produced in O(1) without generating the ones before it.
//! That is what lets a data cursor jump to batch `k` directly, and what makes our initial
//! parameters and batches bit-identical to the JAX reference trainer's.
//!
//! All arithmetic is on `u64` and wraps modulo 2^64.

/// The SplitMix64 increment (2^64 / golden ratio).
pub const GOLDEN: u64 = 0x9E37_79B9_7F4A_7C15;

const MIX_MUL_1: u64 = 0xBF58_476D_1CE4_E5B9;
const MIX_MUL_2: u64 = 0x94D0_49BB_1331_11EB;

/// The SplitMix64 finaliser: a bijection on `u64` with good avalanche.
#[inline]
pub fn mix(z: u64) -> u64 {
    let z = (z ^ (z >> 30)).wrapping_mul(MIX_MUL_1);
    let z = (z ^ (z >> 27)).wrapping_mul(MIX_MUL_2);
    z ^ (z >> 31)
}

/// Element `index` of the stream of `seed`: `mix(seed + (index + 1) * GOLDEN)`.
#[inline]
pub fn stream_at(seed: u64, index: u64) -> u64 {
    mix(seed.wrapping_add(index.wrapping_add(1).wrapping_mul(GOLDEN)))
}

/// The first `n` elements of the stream of `seed`.
pub fn stream(seed: u64, n: usize) -> Vec<u64> {
    Stream::new(seed, 0).take(n).collect()
}

/// The stream of `seed` starting at element `offset`, as an iterator that does not allocate.
pub fn stream_from(seed: u64, offset: u64) -> Stream {
    Stream::new(seed, offset)
}

/// A child seed: `derive(seed, k) == stream(seed, k + 1)[k]`.
#[inline]
pub fn derive(seed: u64, k: u64) -> u64 {
    stream_at(seed, k)
}

/// The top 24 bits of `z` as a uniform value in `[0, 1)`. The result is an `f64` that is exactly
/// representable in `f32` (24 significant bits), so converting it to `f32` never rounds.
#[inline]
pub fn u01(z: u64) -> f64 {
    (z >> 40) as f64 * (1.0 / (1u64 << 24) as f64)
}

/// `n` values uniform in `[-bound, bound)`: `f32((2 * u01(z_i) - 1) * bound)` computed in `f64`
/// with one final rounding to `f32`, `z = stream(seed, n)`.
pub fn uniform_init(seed: u64, n: usize, bound: f64) -> Vec<f32> {
    Stream::new(seed, 0)
        .take(n)
        .map(|z| ((2.0 * u01(z) - 1.0) * bound) as f32)
        .collect()
}

/// `n` values normal with mean 0 and standard deviation `std` (Box-Muller over pairs of the
/// stream of `seed`; the uniform of the logarithm is shifted off 0).
pub fn normal_init(seed: u64, n: usize, std: f64) -> Vec<f32> {
    let mut z = Stream::new(seed, 0);
    (0..n)
        .map(|_| {
            let u1 = u01(z.next().unwrap_or(0)) + 0.5 / (1u64 << 24) as f64;
            let u2 = u01(z.next().unwrap_or(0));
            let r = (-2.0 * u1.ln()).sqrt();
            (r * (2.0 * std::f64::consts::PI * u2).cos() * std) as f32
        })
        .collect()
}

/// Stream tag of the device key: `root_key(seed)` is drawn from `derive(seed, ROOT_KEY_TAG)`.
pub const ROOT_KEY_TAG: u64 = 0x6b65_795f_726f_6f74; // "key_root"

/// The device PRNG root key for a run seeded with `seed` (`--seed`):
/// `[derive(r, 0), derive(r, 1)]` with `r = derive(seed, ROOT_KEY_TAG)`.
///
/// It is the 128-bit state of a THREE_FRY `rng_bit_generator` (two `u64` words), used for
/// device-side randomness such as dropout; the device program splits it per step. Going through a
/// dedicated tag keeps the key apart from the host streams, which use small indices of their
/// seeds (the synthetic MLP data derives batch `s` from `derive(data_seed, s)`, and the default
/// training and data seeds are both 42).
pub fn root_key(seed: u64) -> [u64; 2] {
    let root = derive(seed, ROOT_KEY_TAG);
    [derive(root, 0), derive(root, 1)]
}

/// An iterator over a SplitMix64 stream from a given position. Cloning it forks the position.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stream {
    seed: u64,
    next_index: u64,
}

impl Stream {
    pub fn new(seed: u64, offset: u64) -> Self {
        Stream {
            seed,
            next_index: offset,
        }
    }

    /// The index of the element the next call to `next` returns.
    pub fn position(&self) -> u64 {
        self.next_index
    }
}

impl Iterator for Stream {
    type Item = u64;

    #[inline]
    fn next(&mut self) -> Option<u64> {
        let z = stream_at(self.seed, self.next_index);
        self.next_index = self.next_index.wrapping_add(1);
        Some(z)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (usize::MAX, None)
    }

    fn nth(&mut self, n: usize) -> Option<u64> {
        self.next_index = self.next_index.wrapping_add(n as u64);
        self.next()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derive_is_the_kth_stream_element() {
        let s = stream(99, 10);
        for (k, z) in s.iter().enumerate() {
            assert_eq!(derive(99, k as u64), *z);
        }
    }

    #[test]
    fn stream_from_offset_equals_the_tail_of_the_stream() {
        let whole = stream(5, 20);
        let tail: Vec<u64> = stream_from(5, 7).take(13).collect();
        assert_eq!(&whole[7..], &tail[..]);
        assert_eq!(stream_from(5, 0).nth(11), Some(whole[11]));
    }

    #[test]
    fn u01_is_exact_in_f32_and_in_unit_interval() {
        for z in stream(1, 1000) {
            let u = u01(z);
            assert!((0.0..1.0).contains(&u));
            assert_eq!(u as f32 as f64, u);
        }
        assert_eq!(u01(u64::MAX), 1.0 - 2f64.powi(-24));
    }
}
