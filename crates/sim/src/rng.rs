//! Small deterministic random numbers: a seedable generator for world generation and stateless
//! integer hashes for world-anchored procedural texture.
//!
//! [`Rng`] is xoshiro256** (Blackman and Vigna, "Scrambled linear pseudorandom number generators",
//! 2018) seeded through SplitMix64 (Steele, Lea and Flood, "Fast splittable pseudorandom number
//! generators", 2014). It depends on nothing but its seed: no global state, no clock, no platform
//! differences, so the same seed always gives the same world. [`Rng::fork`] derives an independent
//! stream from a label, so drawing more numbers for one part of a world (say, buildings) never
//! shifts what another part (say, traffic) gets.
//!
//! [`hash2`] maps integer lattice coordinates to well-mixed `u32`s (the finaliser of MurmurHash3);
//! the ground texture uses it so that every pattern is a pure function of the world position and
//! therefore identical in every frame and camera.

/// SplitMix64 step: advances `state` and returns the next output.
fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// 64-bit FNV-1a of a label (stable across platforms and Rust versions, unlike `DefaultHasher`).
fn fnv1a64(label: &str) -> u64 {
    label.bytes().fold(0xCBF2_9CE4_8422_2325_u64, |h, b| (h ^ b as u64).wrapping_mul(0x0000_0100_0000_01B3))
}

/// xoshiro256** pseudorandom generator.
#[derive(Debug, Clone)]
pub struct Rng {
    s: [u64; 4],
}

impl Rng {
    /// A generator seeded from `seed` (any value, including 0, is fine).
    pub fn new(seed: u64) -> Self {
        let mut sm = seed;
        let s = [splitmix64(&mut sm), splitmix64(&mut sm), splitmix64(&mut sm), splitmix64(&mut sm)];
        Self { s }
    }

    /// An independent stream for the sub-task named `label`, derived from this generator's
    /// current state without advancing it.
    pub fn fork(&self, label: &str) -> Self {
        let mixed = self.s[0] ^ self.s[1].rotate_left(17) ^ self.s[2].rotate_left(31) ^ self.s[3].rotate_left(47);
        Self::new(mixed ^ fnv1a64(label))
    }

    pub fn next_u64(&mut self) -> u64 {
        let result = self.s[1].wrapping_mul(5).rotate_left(7).wrapping_mul(9);
        let t = self.s[1] << 17;
        self.s[2] ^= self.s[0];
        self.s[3] ^= self.s[1];
        self.s[1] ^= self.s[2];
        self.s[0] ^= self.s[3];
        self.s[2] ^= t;
        self.s[3] = self.s[3].rotate_left(45);
        result
    }

    pub fn next_u32(&mut self) -> u32 {
        (self.next_u64() >> 32) as u32
    }

    /// Uniform in [0, 1) with 53 random bits.
    pub fn f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Uniform in [lo, hi).
    pub fn range(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.f64()
    }

    /// Uniform integer in [lo, hi] (inclusive). Requires `lo <= hi`.
    pub fn int(&mut self, lo: i64, hi: i64) -> i64 {
        debug_assert!(lo <= hi);
        let span = (hi - lo) as u64 + 1;
        // Lemire's multiply-shift; the bias for spans this small is far below anything visible.
        lo + ((self.next_u64() as u128 * span as u128) >> 64) as i64
    }

    /// Uniform index in [0, n). Requires `n > 0`.
    pub fn index(&mut self, n: usize) -> usize {
        self.int(0, n as i64 - 1) as usize
    }

    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        self.f64() < p
    }

    /// -1.0 or 1.0 with equal probability.
    pub fn sign(&mut self) -> f64 {
        if self.chance(0.5) {
            1.0
        } else {
            -1.0
        }
    }

    /// A uniformly chosen element. Requires a non-empty slice.
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.index(items.len())]
    }

    /// An index drawn with probability proportional to `weights` (non-negative, not all zero).
    pub fn weighted(&mut self, weights: &[f64]) -> usize {
        let total: f64 = weights.iter().sum();
        let mut x = self.f64() * total;
        for (i, w) in weights.iter().enumerate() {
            if x < *w {
                return i;
            }
            x -= w;
        }
        // Rounding left a sliver: the last option that can be drawn at all.
        weights.iter().rposition(|&w| w > 0.0).unwrap_or(0)
    }
}

/// Hash of a 2D integer lattice point and a seed (the renderer's texture hash).
pub use crate::texture::hash3 as hash2;

/// Maps a hash to [0, 1) in f64 (the f32 texture value is exact: a 24-bit integer times 2^-24).
#[inline(always)]
pub fn unit(h: u32) -> f64 {
    f64::from(crate::texture::unit(h))
}

/// A second, decorrelated [0, 1) value from the same hash.
#[inline(always)]
pub fn unit2(h: u32) -> f64 {
    unit(crate::texture::hash_u32(h ^ 0x68E3_1DA4))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_stream_and_forks_are_independent() {
        let mut a = Rng::new(42);
        let mut b = Rng::new(42);
        let xs: Vec<u64> = (0..16).map(|_| a.next_u64()).collect();
        let ys: Vec<u64> = (0..16).map(|_| b.next_u64()).collect();
        assert_eq!(xs, ys);
        let mut c = Rng::new(43);
        assert_ne!(xs[0], c.next_u64());
        let base = Rng::new(7);
        let mut f1 = base.fork("traffic");
        let mut f2 = base.fork("traffic");
        let mut f3 = base.fork("buildings");
        assert_eq!(f1.next_u64(), f2.next_u64());
        assert_ne!(base.fork("traffic").next_u64(), f3.next_u64());
    }

    #[test]
    fn ranges_and_distributions() {
        let mut r = Rng::new(1);
        let mut mean = 0.0;
        for _ in 0..10_000 {
            let x = r.range(2.0, 5.0);
            assert!((2.0..5.0).contains(&x));
            let k = r.int(-3, 3);
            assert!((-3..=3).contains(&k));
            mean += r.f64();
        }
        mean /= 10_000.0;
        assert!((mean - 0.5).abs() < 0.02, "mean {mean}");
        let w = [0.0, 1.0, 0.0];
        assert!((0..100).all(|_| r.weighted(&w) == 1));
        assert!((0..1000).all(|_| r.weighted(&[0.5, 0.5, 0.0]) < 2));
        assert!((0..1000).all(|i| (0.0..1.0).contains(&unit(hash2(i, -i, 3)))));
    }
}
