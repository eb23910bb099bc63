//! Anti-aliased procedural texture for the ground plane (used by [`crate::road::RoadNetwork`]):
//! value noise, box-filtered coverage of stripes, dashes, discs and hairlines, and the asphalt,
//! concrete and grass materials built from them.
//!
//! Everything is a pure function of the world position `(x, y)` and a per-world seed (through the
//! integer hashes of [`crate::rng`]), so the texture is anchored to the world: the same ground
//! point has the same colour in every frame and camera, which is what lets a feature matcher track
//! it. Each pattern is box-filtered over the pixel's ground footprint `f` (a half width, metres):
//! edges become linear ramps of width `2 f` (exact box filtering of a step), and any detail whose
//! scale falls below about twice the footprint fades to its mean (the classic "clamping" approach
//! to procedural anti-aliasing, Ebert et al., *Texturing and Modeling: A Procedural Approach*).
//! All functions here are allocation-free and branch out of work that the footprint hides.

use crate::rng::{hash2, unit, unit2};

/// Cell index of `x` in cells of `size` metres.
#[inline(always)]
fn cell(x: f64, size: f64) -> f64 {
    ffloor(x * (1.0 / size))
}

/// `1.5 * 2^52`: adding it rounds an `f64` to an integer held in the low mantissa bits.
const ROUND_MAGIC: f64 = 6_755_399_441_055_744.0;

/// `(x.floor(), x.floor() as i32)` in a few instructions: no libm call (the baseline x86-64
/// target has no rounding instruction) and no saturating conversion. Exact for |x| < 2^31.
#[inline(always)]
pub fn floor_i(x: f64) -> (f64, i32) {
    let r = x + ROUND_MAGIC;
    let mut i = r.to_bits() as i32;
    let mut t = r - ROUND_MAGIC;
    if t > x {
        t -= 1.0;
        i = i.wrapping_sub(1);
    }
    (t, i)
}

/// `x.floor()` (see [`floor_i`]).
#[inline(always)]
pub fn ffloor(x: f64) -> f64 {
    floor_i(x).0
}

/// Cheap lattice hash for value noise, mapped to [0, 1) (two multiplies; plenty for texture).
#[inline(always)]
fn lattice(ix: i32, iy: i32, seed: u32) -> f64 {
    let mut h = ((ix as u32) ^ (iy as u32).rotate_left(16) ^ seed).wrapping_mul(0x9E37_79B1);
    h ^= h >> 15;
    h = h.wrapping_mul(0x85EB_CA6B);
    (h >> 8) as f64 * (1.0 / (1u32 << 24) as f64)
}

/// Smooth Hermite step from 0 at `e0` to 1 at `e1`.
#[inline(always)]
pub fn smoothstep(e0: f64, e1: f64, x: f64) -> f64 {
    let t = ((x - e0) / (e1 - e0)).clamp(0.0, 1.0);
    t * t * (3.0 - 2.0 * t)
}

/// Weight of a detail of scale `lambda` seen with footprint half-width `f`: 1 when the detail
/// spans at least 4 footprints, 0 below 2, smooth in between.
#[inline(always)]
pub fn detail_weight(lambda: f64, f: f64) -> f64 {
    smoothstep(2.0 * f, 4.0 * f, lambda)
}

/// Fraction of the window `[t - f, t + f]` covered by the interval `[a, b]` (box filter of an
/// indicator function).
#[inline(always)]
pub fn interval_coverage(t: f64, a: f64, b: f64, f: f64) -> f64 {
    (((t + f).min(b) - (t - f).max(a)).max(0.0) / (2.0 * f)).min(1.0)
}

/// Box-filtered coverage of a periodic pattern painted where `t mod period` lies in `[0, on)`.
#[inline(always)]
pub fn periodic_coverage(t: f64, period: f64, on: f64, f: f64) -> f64 {
    if f > 4.0 * period {
        return on / period;
    }
    let integral = |x: f64| {
        let k = ffloor(x / period);
        k * on + (x - k * period).min(on)
    };
    ((integral(t + f) - integral(t - f)) / (2.0 * f)).clamp(0.0, 1.0)
}

/// Approximate box-filtered coverage of a disc of `radius` at distance `r` from its centre:
/// a ramp of width `2 f` across the rim, and total area preserved once the disc is smaller than
/// the footprint.
#[inline(always)]
pub fn disc_coverage(r: f64, radius: f64, f: f64) -> f64 {
    let ramp = ((radius + f - r) / (2.0 * f)).clamp(0.0, 1.0);
    if f > radius {
        ramp * (radius * radius) / (f * f)
    } else {
        ramp
    }
}

/// Distance from `p` to the segment `a`-`b`.
#[inline(always)]
pub fn segment_distance(p: [f64; 2], a: [f64; 2], b: [f64; 2]) -> f64 {
    let (abx, aby) = (b[0] - a[0], b[1] - a[1]);
    let (apx, apy) = (p[0] - a[0], p[1] - a[1]);
    let len2 = abx * abx + aby * aby;
    let t = if len2 > 0.0 { ((apx * abx + apy * aby) / len2).clamp(0.0, 1.0) } else { 0.0 };
    let (dx, dy) = (apx - t * abx, apy - t * aby);
    (dx * dx + dy * dy).sqrt()
}

/// 2D value noise in [-1, 1] with lattice spacing 1 and C1 (smoothstep) interpolation.
#[inline(always)]
pub fn value_noise(x: f64, y: f64, seed: u32) -> f64 {
    let ((fx, ix), (fy, iy)) = (floor_i(x), floor_i(y));
    let (tx, ty) = (x - fx, y - fy);
    let (sx, sy) = (tx * tx * (3.0 - 2.0 * tx), ty * ty * (3.0 - 2.0 * ty));
    let a = lattice(ix, iy, seed);
    let b = lattice(ix.wrapping_add(1), iy, seed);
    let c = lattice(ix, iy.wrapping_add(1), seed);
    let d = lattice(ix.wrapping_add(1), iy.wrapping_add(1), seed);
    let top = a + (b - a) * sx;
    let bot = c + (d - c) * sx;
    2.0 * (top + (bot - top) * sy) - 1.0
}

/// Sum of value-noise octaves `(wavelength_m, amplitude)`, each faded out when the footprint
/// hides it (see [`detail_weight`]).
#[inline(always)]
pub fn fbm(x: f64, y: f64, f: f64, octaves: &[(f64, f64)], seed: u32) -> f64 {
    let inv_2f = 0.5 / f;
    let mut sum = 0.0;
    for (i, &(lambda, amp)) in octaves.iter().enumerate() {
        // detail_weight(lambda, f) with the division hoisted.
        let t = ((lambda - 2.0 * f) * inv_2f).clamp(0.0, 1.0);
        if t <= 0.0 {
            continue;
        }
        let w = t * t * (3.0 - 2.0 * t);
        let k = 1.0 / lambda; // constant-folded for constant tables
        sum += w * amp * value_noise(x * k, y * k, seed.wrapping_add(i as u32 * 0x3C6E_F372));
    }
    sum
}

/// Four value-noise lanes in [-1, 1] at once (SSE2, `f32`; [`crate::texture::value_noise4`]):
/// lane `l` samples the lattice of spacing `1 / k[l]` metres at `(x, y)` with seed `seeds[l]`.
/// World coordinates are scaled in `f64` before rounding to `f32`, so the lattice position keeps
/// sub-millimetre precision anywhere in a world.
#[inline(always)]
pub fn noise4(x: f64, y: f64, k: [f64; 4], seeds: [u32; 4]) -> [f64; 4] {
    let v = crate::texture::value_noise4(k.map(|k| (x * k) as f32), k.map(|k| (y * k) as f32), seeds);
    v.map(|v| 2.0 * v as f64 - 1.0)
}

/// [`fbm`] for up to four octaves, their noise evaluated together by [`noise4`] (lane `i` is
/// octave `i`; coarsest first, so once the first octave is filtered away all are).
#[inline(always)]
pub fn fbm4<const N: usize>(x: f64, y: f64, f: f64, octaves: &[(f64, f64); N], seed: u32) -> f64 {
    const { assert!(N >= 1 && N <= 4) };
    let inv_2f = 0.5 / f;
    let (mut w, mut k, mut seeds) = ([0.0f64; 4], [0.0f64; 4], [0u32; 4]);
    for (i, &(lambda, amp)) in octaves.iter().enumerate() {
        let t = ((lambda - 2.0 * f) * inv_2f).clamp(0.0, 1.0);
        w[i] = t * t * (3.0 - 2.0 * t) * amp;
        k[i] = 1.0 / lambda;
        seeds[i] = seed.wrapping_add(i as u32 * 0x3C6E_F372);
    }
    if w.iter().all(|&w| w <= 0.0) {
        return 0.0;
    }
    let n = noise4(x, y, k, seeds);
    w[0] * n[0] + w[1] * n[1] + w[2] * n[2] + w[3] * n[3]
}

#[inline(always)]
pub fn mix3(a: [f64; 3], b: [f64; 3], t: f64) -> [f64; 3] {
    [a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t, a[2] + (b[2] - a[2]) * t]
}

#[inline(always)]
pub fn scale3(a: [f64; 3], k: f64) -> [f64; 3] {
    [a[0] * k, a[1] * k, a[2] * k]
}

/// Per-world look of the ground materials.
#[derive(Debug, Clone, PartialEq)]
pub struct GroundStyle {
    pub seed: u32,
    /// Mean asphalt albedo.
    pub asphalt: [f64; 3],
    /// Mean sidewalk concrete albedo.
    pub concrete: [f64; 3],
    pub grass: [f64; 3],
    pub dirt: [f64; 3],
    /// Lane-marking paints.
    pub white_paint: [f64; 3],
    pub yellow_paint: [f64; 3],
    /// 0 = dry, 1 = soaked: darkens asphalt and paint.
    pub wetness: f64,
    /// Sidewalk slab length along the road (metres).
    pub slab_m: f64,
    /// Density of asphalt defects (patches, cracks, stains) in [0, 1].
    pub wear: f64,
}

impl GroundStyle {
    /// Asphalt with grain, aggregate, repair patches, cracks, oil stains and manhole covers.
    pub fn asphalt(&self, x: f64, y: f64, f: f64) -> [f64; 3] {
        let seed = self.seed;
        // Tone: smooth variations from 7 m down to 20 cm (wavelength, amplitude); finer grain
        // comes from the aggregate below.
        const OCTAVES: [(f64, f64); 3] = [(7.0, 0.12), (1.1, 0.12), (0.2, 0.15)];
        let mut tone = 1.0 + fbm4(x, y, f, &OCTAVES, seed);

        // Aggregate: one stone per 12 cm cell, light or dark, anti-aliased discs.
        let w_stone = detail_weight(0.12, f);
        if w_stone > 0.0 {
            let ((cx, ix), (cy, iy)) = (floor_i(x * (1.0 / 0.12)), floor_i(y * (1.0 / 0.12)));
            let h = (lattice(ix, iy, seed ^ 0x51ED_270B) * 16_777_216.0) as u32;
            if h & 3 != 0 {
                // 24 random bits: position (2 x 7 bits), radius (5 bits), contrast (1 bit).
                let bits = |shift: u32, n: u32| ((h >> shift) & ((1 << n) - 1)) as f64 / (1u32 << n) as f64;
                let px = (cx + 0.25 + 0.5 * bits(3, 7)) * 0.12;
                let py = (cy + 0.25 + 0.5 * bits(10, 7)) * 0.12;
                let radius = 0.012 + 0.02 * bits(17, 5);
                let r = ((x - px) * (x - px) + (y - py) * (y - py)).sqrt();
                let contrast = if h & (1 << 22) != 0 { 0.55 } else { -0.4 };
                tone += w_stone * contrast * disc_coverage(r, radius, f);
            }
        }

        // Defects, at most one per 6 m cell and confined to it: a repair patch (an
        // axis-aligned rectangle, darker or lighter), a crack (two-segment hairline) or an oil
        // stain (soft dark ellipse).
        const CELL: f64 = 6.0;
        let (cx, cy) = (cell(x, CELL), cell(y, CELL));
        let h = hash2(cx as i32, cy as i32, seed ^ 0x2545_F491);
        let kind = unit(h) / self.wear.max(1e-3);
        if kind < 0.22 {
            let hw = 0.5 + 1.5 * unit2(h);
            let hh = 0.4 + 1.2 * unit(h.rotate_left(7));
            let mx = cx * CELL + hw + (CELL - 2.0 * hw) * unit(h.rotate_left(13));
            let my = cy * CELL + hh + (CELL - 2.0 * hh) * unit(h.rotate_left(19));
            if (x - mx).abs() < hw + f && (y - my).abs() < hh + f {
                let cov = interval_coverage(x, mx - hw, mx + hw, f) * interval_coverage(y, my - hh, my + hh, f);
                let k = if h & 1 == 0 { 0.8 } else { 1.17 };
                tone *= 1.0 + (k - 1.0) * cov;
            }
        } else if kind < 0.5 {
            let p0 = [cx * CELL + 2.4 + 1.2 * unit2(h), cy * CELL + 2.4 + 1.2 * unit(h.rotate_left(3))];
            if (x - p0[0]).abs() < 2.4 + f && (y - p0[1]).abs() < 2.4 + f {
                // Directions from the hash (no trigonometry): a unit vector, then the same
                // turned by up to +-0.45 rad (small-angle sine and cosine).
                let (ux, uy) = (unit(h.rotate_left(17)) - 0.5, unit(h.rotate_left(25)) - 0.5);
                let norm = (ux * ux + uy * uy).sqrt().max(1e-3);
                let (c0, s0) = (ux / norm, uy / norm);
                let b = 0.9 * (unit(h.rotate_left(23)) - 0.5);
                let (sb, cb) = (b - b * b * b / 6.0, 1.0 - 0.5 * b * b);
                let (c1, s1) = (c0 * cb - s0 * sb, s0 * cb + c0 * sb);
                let (l0, l1) = (0.5 + 0.7 * unit(h.rotate_left(27)), 0.4 + 0.8 * unit(h.rotate_left(29)));
                let p1 = [p0[0] + l0 * c0, p0[1] + l0 * s0];
                let p2 = [p1[0] + l1 * c1, p1[1] + l1 * s1];
                let half = 0.005 + 0.006 * unit(h.rotate_left(31));
                let dist = segment_distance([x, y], p0, p1).min(segment_distance([x, y], p1, p2));
                tone *= 1.0 - 0.6 * interval_coverage(dist, -half, half, f);
            }
        } else if kind < 0.7 {
            let (rx, ry) = (0.25 + 0.4 * unit2(h), 0.18 + 0.25 * unit(h.rotate_left(5)));
            let mx = cx * CELL + 0.8 + (CELL - 1.6) * unit(h.rotate_left(9));
            let my = cy * CELL + 0.8 + (CELL - 1.6) * unit(h.rotate_left(21));
            if (x - mx).abs() < rx && (y - my).abs() < ry {
                let rho = (((x - mx) / rx).powi(2) + ((y - my) / ry).powi(2)).sqrt();
                // A stain smaller than the footprint fades (its mean darkening is negligible).
                tone *= 1.0 - 0.38 * detail_weight(rx.min(ry), f) * (1.0 - smoothstep(0.45, 1.0, rho));
            }
        }

        let mut col = scale3(self.asphalt, tone.max(0.2));

        // Manhole covers: iron discs with a concrete rim and a cast grid, in 23 m cells.
        let (cx, cy) = (cell(x, 23.0), cell(y, 23.0));
        let h = hash2(cx as i32, cy as i32, seed ^ 0x3243_F6A8);
        if unit(h) < 0.35 {
            let mx = cx * 23.0 + 1.0 + 21.0 * unit2(h);
            let my = cy * 23.0 + 1.0 + 21.0 * unit(h.rotate_left(15));
            let r = ((x - mx) * (x - mx) + (y - my) * (y - my)).sqrt();
            if r < 0.45 + f {
                let rim = disc_coverage(r, 0.4, f);
                let iron = disc_coverage(r, 0.32, f);
                let grid = 0.5 * (periodic_coverage(x - mx, 0.07, 0.02, f) + periodic_coverage(y - my, 0.07, 0.02, f));
                let iron_col = scale3([0.075, 0.072, 0.07], 1.0 - 0.5 * grid);
                col = mix3(col, [0.2, 0.19, 0.18], rim - iron);
                col = mix3(col, iron_col, iron);
            }
        }
        scale3(col, 1.0 - 0.35 * self.wetness)
    }

    /// Sidewalk concrete: per-slab tint, fine grain and dark joints. `(u, v)` are slab-aligned
    /// coordinates (along and across the walk), `column_m` the slab width across.
    pub fn concrete(&self, x: f64, y: f64, u: f64, v: f64, column_m: f64, f: f64) -> [f64; 3] {
        let seed = self.seed ^ 0x7F4A_7C15;
        let (iu, iv) = (ffloor(u / self.slab_m), ffloor(v / column_m));
        let slab = hash2(iu as i32, iv as i32, seed);
        // Per-slab tint and stains fade once slabs shrink below the footprint.
        let w_slab = detail_weight(column_m.min(self.slab_m), f);
        let mut tone = 1.0 + w_slab * 0.14 * (unit(slab) - 0.5);
        const OCTAVES: [(f64, f64); 2] = [(0.4, 0.07), (0.09, 0.08)];
        tone += fbm4(x, y, f, &OCTAVES, seed);
        // Dark stains now and then.
        if unit2(slab) < 0.12 {
            let (cu, cv) = ((iu + 0.5) * self.slab_m, (iv + 0.5) * column_m);
            let rho = ((u - cu).powi(2) + (v - cv).powi(2)).sqrt() / (0.25 * column_m.min(self.slab_m));
            tone *= 1.0 - w_slab * 0.25 * (1.0 - smoothstep(0.5, 1.0, rho));
        }
        // Joints, 1.5 cm wide, centred on the slab boundaries.
        let ju = periodic_coverage(u + 0.0075, self.slab_m, 0.015, f);
        let jv = periodic_coverage(v + 0.0075, column_m, 0.015, f);
        let joint = ju.max(jv);
        tone *= 1.0 - 0.55 * joint;
        scale3(self.concrete, tone * (1.0 - 0.25 * self.wetness))
    }

    /// Verge: grass with dry and bare patches.
    pub fn grass(&self, x: f64, y: f64, f: f64) -> [f64; 3] {
        let seed = self.seed ^ 0x1B87_3593;
        // Patches at 9 m and 2.3 m and a 15 cm tone, in one four-lane noise call.
        let w2 = detail_weight(2.3, f);
        let wt = detail_weight(0.15, f) * 0.3;
        let n = noise4(x, y, [1.0 / 9.0, 1.0 / 2.3, 1.0 / 0.15, 0.0], [seed, seed.wrapping_add(1), seed.wrapping_add(3), 0]);
        let (n1, n2) = (n[0], w2 * n[1]);
        let dirt = 0.8 * smoothstep(0.4, 0.8, n1 + 0.3 * n2);
        let dry = 0.5 + 0.5 * n2;
        let base = mix3(self.grass, [self.grass[0] * 1.6, self.grass[1] * 1.15, self.grass[2] * 0.9], dry * 0.6);
        let mut col = mix3(base, self.dirt, dirt);
        let tone = 1.0 + wt * n[2];
        col = scale3(col, tone);
        scale3(col, 1.0 - 0.2 * self.wetness)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn coverage_functions_box_filter_exactly() {
        assert!((interval_coverage(0.0, -1.0, 1.0, 0.5) - 1.0).abs() < 1e-12);
        assert!((interval_coverage(1.0, -1.0, 1.0, 0.5) - 0.5).abs() < 1e-12);
        assert!(interval_coverage(2.0, -1.0, 1.0, 0.5) == 0.0);
        // A thin line seen with a wide footprint keeps its area: 0.1 / 1.0.
        assert!((interval_coverage(0.0, -0.05, 0.05, 0.5) - 0.1).abs() < 1e-12);
        // Dashes 3 on / 6 off: centre of a dash, middle of a gap, mean under a wide footprint.
        assert!((periodic_coverage(1.5, 9.0, 3.0, 0.01) - 1.0).abs() < 1e-12);
        assert!(periodic_coverage(6.0, 9.0, 3.0, 0.01) == 0.0);
        assert!((periodic_coverage(4.0, 9.0, 3.0, 45.0) - 1.0 / 3.0).abs() < 1e-9);
        assert!((periodic_coverage(-7.5, 9.0, 3.0, 0.01) - 1.0).abs() < 1e-12);
        assert!((disc_coverage(0.0, 0.3, 0.01) - 1.0).abs() < 1e-12 && disc_coverage(0.5, 0.3, 0.01) == 0.0);
    }

    #[test]
    fn noise_is_bounded_and_fades_with_footprint() {
        let mut lo: f64 = 1.0;
        let mut hi: f64 = -1.0;
        for i in 0..2000 {
            let v = value_noise(i as f64 * 0.173, i as f64 * -0.311, 9);
            lo = lo.min(v);
            hi = hi.max(v);
        }
        assert!(lo >= -1.0 && hi <= 1.0 && hi - lo > 1.0);
        assert_eq!(fbm(3.0, 4.0, 100.0, &[(1.0, 1.0)], 1), 0.0);
    }
}
