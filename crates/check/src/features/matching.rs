//! Brute-force Hamming matching with Lowe's ratio test (Lowe 2004) and a mutual-nearest-neighbour
//! check. Exhaustive `O(N * M)` over contiguous 256-bit descriptors; one pass finds both the two
//! nearest neighbours of every query and the nearest query of every train descriptor (for the
//! mutual check). Large problems split the queries over rayon's threads, which changes nothing in
//! the output.

use rayon::prelude::*;

use super::{Descriptor, Features, Match, MatchConfig};

/// Hamming distance between two 256-bit descriptors.
#[inline(always)]
pub fn hamming(a: &Descriptor, b: &Descriptor) -> u32 {
    #[cfg(target_feature = "popcnt")]
    {
        (a[0] ^ b[0]).count_ones() + (a[1] ^ b[1]).count_ones() + (a[2] ^ b[2]).count_ones() + (a[3] ^ b[3]).count_ones()
    }
    #[cfg(not(target_feature = "popcnt"))]
    {
        // Without a population-count instruction: the bit-parallel count of each word down to byte
        // counts, summed over the four words before the (single) horizontal add.
        const M1: u64 = 0x5555_5555_5555_5555;
        const M2: u64 = 0x3333_3333_3333_3333;
        const M4: u64 = 0x0F0F_0F0F_0F0F_0F0F;
        const M8: u64 = 0x00FF_00FF_00FF_00FF;
        #[inline(always)]
        fn bytes(x: u64) -> u64 {
            let x = x - ((x >> 1) & M1);
            let x = (x & M2) + ((x >> 2) & M2);
            (x + (x >> 4)) & M4
        }
        // Byte counts <= 8 each, so the four-word sum is <= 32 per byte; pairs of bytes <= 64.
        let s = bytes(a[0] ^ b[0]) + bytes(a[1] ^ b[1]) + bytes(a[2] ^ b[2]) + bytes(a[3] ^ b[3]);
        let s = (s & M8) + ((s >> 8) & M8);
        (s.wrapping_mul(0x0001_0001_0001_0001) >> 48) as u32
    }
}

/// Per query: (index of the nearest train descriptor, best distance, second-best distance); ties keep
/// the lower index; `u32::MAX` where `train` is too short.
type Nearest = (u32, u32, u32);

/// Queries per work item.
const CHUNK: usize = 128;

/// Problems with fewer descriptor pairs than this run on the calling thread.
const PARALLEL_MIN_PAIRS: usize = 1 << 18;

/// One pass over `query x train`: the two nearest train descriptors of every query and, with
/// `columns`, the nearest query of every train descriptor packed as `distance << 32 | query index`
/// (the minimum is the nearest, ties to the lower index). Uses the hardware population count where
/// the CPU has one and the build does not already assume it; the result is the same either way.
fn scan_chunk(first: usize, queries: &[Descriptor], train: &[Descriptor], columns: bool) -> (Vec<Nearest>, Vec<u64>) {
    #[cfg(all(target_arch = "x86_64", not(target_feature = "popcnt")))]
    if std::arch::is_x86_feature_detected!("popcnt") {
        // SAFETY: `scan_chunk_popcnt` only needs the `popcnt` instruction, which the running CPU
        // has (checked just above).
        return unsafe { scan_chunk_popcnt(first, queries, train, columns) };
    }
    scan_chunk_with(first, queries, train, columns, hamming)
}

/// [`scan_chunk_with`] compiled with the `popcnt` instruction (`count_ones` becomes one instruction
/// per word).
#[cfg(all(target_arch = "x86_64", not(target_feature = "popcnt")))]
#[target_feature(enable = "popcnt")]
unsafe fn scan_chunk_popcnt(first: usize, queries: &[Descriptor], train: &[Descriptor], columns: bool) -> (Vec<Nearest>, Vec<u64>) {
    #[inline(always)]
    fn popcnt_distance(a: &Descriptor, b: &Descriptor) -> u32 {
        (a[0] ^ b[0]).count_ones() + (a[1] ^ b[1]).count_ones() + (a[2] ^ b[2]).count_ones() + (a[3] ^ b[3]).count_ones()
    }
    scan_chunk_with(first, queries, train, columns, popcnt_distance)
}

/// The body of [`scan_chunk`] for a given distance function (inlined into each caller so that the
/// distance is compiled with the caller's target features).
#[inline(always)]
fn scan_chunk_with(
    first: usize,
    queries: &[Descriptor],
    train: &[Descriptor],
    columns: bool,
    distance: impl Fn(&Descriptor, &Descriptor) -> u32,
) -> (Vec<Nearest>, Vec<u64>) {
    let mut rows = Vec::with_capacity(queries.len());
    let mut cols = if columns { vec![u64::MAX; train.len()] } else { Vec::new() };
    for (qi, q) in queries.iter().enumerate() {
        let (mut best_i, mut d1, mut d2) = (u32::MAX, u32::MAX, u32::MAX);
        let tag = (first + qi) as u64;
        let mut visit = |j: usize, d: u32| {
            if d < d2 {
                if d < d1 {
                    d2 = d1;
                    d1 = d;
                    best_i = j as u32;
                } else {
                    d2 = d;
                }
            }
        };
        if columns {
            for (j, (t, col)) in train.iter().zip(cols.iter_mut()).enumerate() {
                let d = distance(q, t);
                *col = (*col).min((d as u64) << 32 | tag);
                visit(j, d);
            }
        } else {
            for (j, t) in train.iter().enumerate() {
                visit(j, distance(q, t));
            }
        }
        rows.push((best_i, d1, d2));
    }
    (rows, cols)
}

/// Nearest neighbours in both directions (the second only with `mutual`): per query of `a` its
/// [`Nearest`] in `b`, per descriptor of `b` the index of its nearest in `a`. Independent of the
/// thread count: chunks are concatenated in order and columns merged by a minimum.
fn nearest_both(a: &[Descriptor], b: &[Descriptor], mutual: bool) -> (Vec<Nearest>, Vec<u32>) {
    let parts: Vec<(Vec<Nearest>, Vec<u64>)> = if a.len().saturating_mul(b.len()) < PARALLEL_MIN_PAIRS {
        a.chunks(CHUNK).enumerate().map(|(c, qs)| scan_chunk(c * CHUNK, qs, b, mutual)).collect()
    } else {
        a.par_chunks(CHUNK).enumerate().map(|(c, qs)| scan_chunk(c * CHUNK, qs, b, mutual)).collect()
    };
    let mut rows = Vec::with_capacity(a.len());
    let mut cols = if mutual { vec![u64::MAX; b.len()] } else { Vec::new() };
    for (r, c) in parts {
        rows.extend(r);
        for (dst, src) in cols.iter_mut().zip(c) {
            *dst = (*dst).min(src);
        }
    }
    let back = cols.iter().map(|&k| (k & 0xFFFF_FFFF) as u32).collect();
    (rows, back)
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
    let (fwd, back) = nearest_both(a, b, cfg.mutual);
    let mut out = Vec::new();
    for (i, &(j, d1, d2)) in fwd.iter().enumerate() {
        if d1 > cfg.max_distance {
            continue;
        }
        if d2 != u32::MAX && (d1 as f32) >= cfg.ratio * d2 as f32 {
            continue;
        }
        if cfg.mutual && back[j as usize] != i as u32 {
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
    fn hamming_matches_count_ones() {
        let mut rng = SplitMix64::new(3);
        for _ in 0..1000 {
            let (a, b) = (random_desc(&mut rng), random_desc(&mut rng));
            let direct: u32 = a.iter().zip(&b).map(|(x, y)| (x ^ y).count_ones()).sum();
            assert_eq!(hamming(&a, &b), direct);
        }
        assert_eq!(hamming(&[0; 4], &[u64::MAX; 4]), 256);
    }

    /// The plain two-pass definition the single pass must reproduce.
    fn reference(a: &[Descriptor], b: &[Descriptor]) -> (Vec<Nearest>, Vec<u32>) {
        let nearest = |q: &Descriptor, train: &[Descriptor]| {
            let mut v: Vec<(u32, u32)> = train.iter().enumerate().map(|(j, t)| (hamming(q, t), j as u32)).collect();
            v.sort();
            (v[0].1, v[0].0, v.get(1).map_or(u32::MAX, |x| x.0))
        };
        (a.iter().map(|q| nearest(q, b)).collect(), b.iter().map(|q| nearest(q, a).0).collect())
    }

    #[test]
    fn single_pass_parallel_agrees_with_reference() {
        let mut rng = SplitMix64::new(11);
        let a: Vec<Descriptor> = (0..700).map(|_| random_desc(&mut rng)).collect();
        let mut b: Vec<Descriptor> = a.iter().map(|d| flip(d, 40, &mut rng)).collect();
        b.extend((0..100).map(|_| random_desc(&mut rng)));
        // Exact duplicates exercise the tie rule.
        b.push(b[5]);
        let mut a = a;
        a.push(a[9]);
        assert!(a.len() * b.len() >= PARALLEL_MIN_PAIRS);
        assert_eq!(nearest_both(&a, &b, true), reference(&a, &b));
        let small = &a[..300];
        assert!(small.len() * b.len() < PARALLEL_MIN_PAIRS);
        assert_eq!(nearest_both(small, &b, true), reference(small, &b));
    }
}
