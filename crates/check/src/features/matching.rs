//! Brute-force Hamming matching with Lowe's ratio test (Lowe 2004) and a mutual-nearest-neighbour
//! check. Exhaustive `O(N * M)` over contiguous 256-bit descriptors with `count_ones`; large
//! problems split the query descriptors over rayon's threads, which changes nothing in the output.

use rayon::prelude::*;

use super::{Descriptor, Features, Match, MatchConfig};

/// Hamming distance between two 256-bit descriptors.
#[inline(always)]
pub fn hamming(a: &Descriptor, b: &Descriptor) -> u32 {
    (a[0] ^ b[0]).count_ones() + (a[1] ^ b[1]).count_ones() + (a[2] ^ b[2]).count_ones() + (a[3] ^ b[3]).count_ones()
}

/// Nearest neighbour of one query: (index, best distance, second-best distance). Ties keep the lower
/// index; `u32::MAX` distances when `train` is too short.
#[inline]
fn nearest_two(q: &Descriptor, train: &[Descriptor]) -> (u32, u32, u32) {
    let (mut best_i, mut d1, mut d2) = (u32::MAX, u32::MAX, u32::MAX);
    for (j, t) in train.iter().enumerate() {
        let d = hamming(q, t);
        if d < d2 {
            if d < d1 {
                d2 = d1;
                d1 = d;
                best_i = j as u32;
            } else {
                d2 = d;
            }
        }
    }
    (best_i, d1, d2)
}

/// Problems with fewer descriptor pairs than this run on the calling thread.
const PARALLEL_MIN_PAIRS: usize = 1 << 18;

fn all_nearest(query: &[Descriptor], train: &[Descriptor]) -> Vec<(u32, u32, u32)> {
    if query.len().saturating_mul(train.len()) < PARALLEL_MIN_PAIRS {
        query.iter().map(|q| nearest_two(q, train)).collect()
    } else {
        query.par_iter().with_min_len(64).map(|q| nearest_two(q, train)).collect()
    }
}

/// Matches `a` against `b`: for each descriptor of `a` its nearest neighbour in `b`, kept when the
/// distance is at most `max_distance`, passes the ratio test `d1 < ratio * d2` (always passed when
/// `b` has a single descriptor) and, with `mutual`, `a`'s descriptor is also the nearest neighbour of
/// its match in `a`. Output sorted by `a` index; deterministic.
pub fn match_features(a: &Features, b: &Features, cfg: &MatchConfig) -> Vec<Match> {
    match_descriptors(&a.descriptors, &b.descriptors, cfg)
}

/// [`match_features`] on bare descriptor slices.
pub fn match_descriptors(a: &[Descriptor], b: &[Descriptor], cfg: &MatchConfig) -> Vec<Match> {
    if a.is_empty() || b.is_empty() {
        return Vec::new();
    }
    let fwd = all_nearest(a, b);
    let back = if cfg.mutual { all_nearest(b, a) } else { Vec::new() };
    let mut out = Vec::new();
    for (i, &(j, d1, d2)) in fwd.iter().enumerate() {
        if d1 > cfg.max_distance {
            continue;
        }
        if d2 != u32::MAX && (d1 as f32) >= cfg.ratio * d2 as f32 {
            continue;
        }
        if cfg.mutual && back[j as usize].0 != i as u32 {
            continue;
        }
        out.push(Match { a: i as u32, b: j, distance: d1 });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::SplitMix64;

    fn random_desc(rng: &mut SplitMix64) -> Descriptor {
        std::array::from_fn(|_| rng.next_u64())
    }

    /// Flips `n` distinct bits.
    fn flip(d: &Descriptor, n: usize, rng: &mut SplitMix64) -> Descriptor {
        let mut out = *d;
        let mut flipped = 0u64;
        let mut bits = [false; 256];
        while flipped < n as u64 {
            let b = rng.below(256);
            if !bits[b] {
                bits[b] = true;
                out[b >> 6] ^= 1 << (b & 63);
                flipped += 1;
            }
        }
        out
    }

    #[test]
    fn hamming_counts_bits() {
        let a = [0u64, u64::MAX, 0b1011, 0];
        let b = [0u64, 0, 0, 1 << 63];
        assert_eq!(hamming(&a, &b), 64 + 3 + 1);
        assert_eq!(hamming(&a, &a), 0);
    }

    #[test]
    fn recovers_planted_pairs_and_rejects_ambiguous_and_non_mutual() {
        let mut rng = SplitMix64::new(7);
        let a: Vec<Descriptor> = (0..300).map(|_| random_desc(&mut rng)).collect();
        // b[k] = noisy a[perm[k]] for the first 200, then random distractors.
        let perm: Vec<usize> = (0..200).map(|k| (k * 7 + 3) % 300).collect();
        let mut b: Vec<Descriptor> = perm.iter().map(|&i| flip(&a[i], 20, &mut rng)).collect();
        b.extend((0..100).map(|_| random_desc(&mut rng)));
        let cfg = MatchConfig::default();
        let m = match_descriptors(&a, &b, &cfg);
        let correct = m.iter().filter(|m| perm.get(m.b as usize) == Some(&(m.a as usize))).count();
        assert!(correct >= 195, "{correct}");
        assert_eq!(correct, m.len(), "random distractors must not pass the ratio test");

        // Ambiguous: two near-identical candidates fail the ratio test.
        let q = random_desc(&mut rng);
        let twins = vec![flip(&q, 10, &mut rng), flip(&q, 11, &mut rng)];
        assert!(match_descriptors(&[q], &twins, &cfg).is_empty());
        let no_ratio = MatchConfig { ratio: 1.01, ..cfg.clone() };
        assert_eq!(match_descriptors(&[q], &twins, &no_ratio).len(), 1);

        // Non-mutual: a0 and a1 both nearest to b0, but b0 prefers a1.
        let base = random_desc(&mut rng);
        let a2 = vec![flip(&base, 30, &mut rng), flip(&base, 5, &mut rng)];
        let b2 = vec![base, random_desc(&mut rng)];
        let loose = MatchConfig { ratio: 1.01, mutual: false, max_distance: 256 };
        assert_eq!(match_descriptors(&a2, &b2, &loose).len(), 2);
        let m2 = match_descriptors(&a2, &b2, &MatchConfig { mutual: true, ..loose });
        assert_eq!(m2.len(), 1);
        assert_eq!((m2[0].a, m2[0].b), (1, 0));
        // Distance cap.
        let capped = MatchConfig { max_distance: 4, ..loose };
        assert!(match_descriptors(&a2, &b2, &capped).is_empty());
    }

    #[test]
    fn parallel_and_serial_agree() {
        let mut rng = SplitMix64::new(11);
        let a: Vec<Descriptor> = (0..700).map(|_| random_desc(&mut rng)).collect();
        let mut b: Vec<Descriptor> = a.iter().map(|d| flip(d, 40, &mut rng)).collect();
        b.extend((0..100).map(|_| random_desc(&mut rng)));
        assert!(a.len() * b.len() >= PARALLEL_MIN_PAIRS);
        let par = all_nearest(&a, &b);
        let ser: Vec<_> = a.iter().map(|q| nearest_two(q, &b)).collect();
        assert_eq!(par, ser);
    }
}
