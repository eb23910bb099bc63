//! Small, allocation-free helpers for procedural, world-anchored, anti-aliased texture (`f32`):
//! integer hashes, value noise, footprint-filtered fractal noise and box-filtered coverage of
//! intervals and periodic stripes. Used by the renderer's materials.
//!
//! Filtering follows the "clamping" approach to procedural anti-aliasing (Ebert et al., *Texturing
//! and Modeling: A Procedural Approach*): an edge is box-filtered over the pixel footprint
//! (a linear ramp), and a detail finer than about twice the footprint fades to its mean.

/// Mixes a 32-bit value (MurmurHash3 finaliser).
#[inline(always)]
pub fn hash_u32(mut h: u32) -> u32 {
    h ^= h >> 16;
    h = h.wrapping_mul(0x85EB_CA6B);
    h ^= h >> 13;
    h = h.wrapping_mul(0xC2B2_AE35);
    h ^ (h >> 16)
}

/// Hash of a 2D integer lattice point and a seed.
#[inline(always)]
pub fn hash3(x: i32, y: i32, seed: u32) -> u32 {
    hash_u32((x as u32).wrapping_mul(0x27D4_EB2D) ^ (y as u32).wrapping_mul(0x1656_67B1) ^ seed.wrapping_mul(0x9E37_79B9))
}

/// Maps a hash to [0, 1).
#[inline(always)]
pub fn unit(h: u32) -> f32 {
    (h >> 8) as f32 * (1.0 / (1u32 << 24) as f32)
}

#[inline(always)]
pub fn mix3(a: [f32; 3], b: [f32; 3], t: f32) -> [f32; 3] {
    [a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t, a[2] + (b[2] - a[2]) * t]
}

#[inline(always)]
pub fn scale3(a: [f32; 3], k: f32) -> [f32; 3] {
    [a[0] * k, a[1] * k, a[2] * k]
}

#[inline(always)]
fn smoothstep(e0: f32, e1: f32, x: f32) -> f32 {
    let t = ((x - e0) / (e1 - e0)).clamp(0.0, 1.0);
    t * t * (3.0 - 2.0 * t)
}

/// Fraction of the window `[x - r, x + r]` covered by `[a, b]` (box filter of an indicator).
#[inline(always)]
pub fn box_coverage(x: f32, a: f32, b: f32, r: f32) -> f32 {
    let r = r.max(1e-6);
    (((x + r).min(b) - (x - r).max(a)).max(0.0) / (2.0 * r)).min(1.0)
}

/// Box-filtered coverage of stripes of period `period` painted over the first `duty` fraction of
/// each period, with filter radius `r`.
#[inline(always)]
pub fn periodic_coverage(x: f32, period: f32, duty: f32, r: f32) -> f32 {
    let r = r.max(1e-6);
    if r > 4.0 * period {
        return duty;
    }
    let on = duty * period;
    let integral = |t: f32| {
        let k = floor_f32(t / period);
        k * on + (t - k * period).min(on)
    };
    ((integral(x + r) - integral(x - r)) / (2.0 * r)).clamp(0.0, 1.0)
}

/// `x.floor()` without a libm call (baseline x86-64 has no rounding instruction). Exact for
/// |x| < 2^31, which covers every texture coordinate here.
#[inline(always)]
pub fn floor_f32(x: f32) -> f32 {
    let t = x as i32 as f32;
    if t > x {
        t - 1.0
    } else {
        t
    }
}

/// 2D value noise in [0, 1] on a unit lattice with smoothstep interpolation.
#[inline(always)]
pub fn value_noise(x: f32, y: f32, seed: u32) -> f32 {
    let (fx, fy) = (floor_f32(x), floor_f32(y));
    let (ix, iy) = (fx as i32, fy as i32);
    let (tx, ty) = (x - fx, y - fy);
    let (sx, sy) = (tx * tx * (3.0 - 2.0 * tx), ty * ty * (3.0 - 2.0 * ty));
    // The four corner hashes `hash3(ix + a, iy + b, seed)`, written lane-wise so that they
    // vectorise: (ix + 1) K = ix K + K in wrapping arithmetic.
    let kx = (ix as u32).wrapping_mul(0x27D4_EB2D);
    let s = seed.wrapping_mul(0x9E37_79B9);
    let ky0 = (iy as u32).wrapping_mul(0x1656_67B1) ^ s;
    let ky1 = (iy as u32).wrapping_add(1).wrapping_mul(0x1656_67B1) ^ s;
    let kx1 = kx.wrapping_add(0x27D4_EB2D);
    let v = unit4([kx ^ ky0, kx1 ^ ky0, kx ^ ky1, kx1 ^ ky1]);
    let top = v[0] + (v[1] - v[0]) * sx;
    let bot = v[2] + (v[3] - v[2]) * sx;
    top + (bot - top) * sy
}

/// `unit(hash_u32(k))` for four keys at once (SSE2 lanes on x86-64: baseline SSE2 has no 32-bit
/// lane multiply, so it is built from two 32x32->64 multiplies; same bits as the scalar path).
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn unit4(k: [u32; 4]) -> [f32; 4] {
    use std::arch::x86_64::*;
    // SAFETY: SSE2 is part of the x86-64 baseline, so these intrinsics are always available;
    // none of them touches memory.
    unsafe {
        let mullo = |a: __m128i, b: __m128i| {
            let even = _mm_mul_epu32(a, b);
            let odd = _mm_mul_epu32(_mm_srli_epi64::<32>(a), _mm_srli_epi64::<32>(b));
            _mm_unpacklo_epi32(_mm_shuffle_epi32::<0b1000>(even), _mm_shuffle_epi32::<0b1000>(odd))
        };
        let mut h = _mm_set_epi32(k[3] as i32, k[2] as i32, k[1] as i32, k[0] as i32);
        h = _mm_xor_si128(h, _mm_srli_epi32::<16>(h));
        h = mullo(h, _mm_set1_epi32(0x85EB_CA6Bu32 as i32));
        h = _mm_xor_si128(h, _mm_srli_epi32::<13>(h));
        h = mullo(h, _mm_set1_epi32(0xC2B2_AE35u32 as i32));
        h = _mm_xor_si128(h, _mm_srli_epi32::<16>(h));
        // `unit`: the top 24 bits, exactly representable, through a signed conversion.
        let f = _mm_mul_ps(_mm_cvtepi32_ps(_mm_srli_epi32::<8>(h)), _mm_set1_ps(1.0 / (1u32 << 24) as f32));
        [_mm_cvtss_f32(f), _mm_cvtss_f32(_mm_shuffle_ps::<1>(f, f)), _mm_cvtss_f32(_mm_shuffle_ps::<2>(f, f)), _mm_cvtss_f32(_mm_shuffle_ps::<3>(f, f))]
    }
}

#[cfg(not(target_arch = "x86_64"))]
#[inline(always)]
fn unit4(k: [u32; 4]) -> [f32; 4] {
    k.map(|k| unit(hash_u32(k)))
}

/// Fractal value noise in [0, 1] (mean 0.5): `octaves` octaves starting at wavelength
/// `wavelength` (same units as `x`, `y`), each halving the wavelength and amplitude; an octave
/// whose wavelength is below about twice the footprint `fp` fades to the mean.
#[inline(always)]
pub fn fbm_filtered(x: f32, y: f32, wavelength: f32, octaves: u32, fp: f32, seed: u32) -> f32 {
    if octaves == 0 {
        return 0.5;
    }
    let (xs, ys) = (x / wavelength, y / wavelength);
    let (lo, hi) = (2.0 * fp, 4.0 * fp);
    // Octaves that the footprint keeps (the wavelength halves each octave).
    let mut active = 0u32;
    let mut lambda = wavelength;
    while active < octaves && lambda > lo {
        active += 1;
        lambda *= 0.5;
    }
    let (mut lambda, mut amp, mut sum) = (wavelength, 1.0f32, 0.0f32);
    let mut i = 0u32;
    while i < active {
        // Four octaves' noise at once (same arithmetic as `value_noise`, so identical values).
        let mut px = [0.0f32; 4];
        let mut py = [0.0f32; 4];
        let mut seeds = [0u32; 4];
        for l in 0..4 {
            let o = i + l as u32;
            let scale = (1u32 << o.min(30)) as f32;
            px[l] = xs * scale;
            py[l] = ys * scale;
            seeds[l] = seed.wrapping_add(o.wrapping_mul(0x3C6E_F372));
        }
        let v = value_noise4(px, py, seeds);
        for vl in v.iter().take((active - i).min(4) as usize) {
            let w = if lambda >= hi { 1.0 } else { smoothstep(lo, hi, lambda) };
            if w > 0.0 {
                sum += w * amp * (vl - 0.5);
            }
            lambda *= 0.5;
            amp *= 0.5;
        }
        i += 4;
    }
    // 2 - 2 * 0.5^octaves, with 0.5^octaves built from its exponent bits (exact; no powi call).
    let norm = 2.0 - 2.0 * f32::from_bits((127 - octaves.min(126)) << 23);
    0.5 + sum / norm
}

/// [`value_noise`] at four points with four seeds (bit-identical to four scalar calls).
#[cfg(target_arch = "x86_64")]
#[inline(always)]
pub(crate) fn value_noise4(x: [f32; 4], y: [f32; 4], seed: [u32; 4]) -> [f32; 4] {
    use std::arch::x86_64::*;
    unsafe {
        let mullo = |a: __m128i, b: __m128i| {
            let even = _mm_mul_epu32(a, b);
            let odd = _mm_mul_epu32(_mm_srli_epi64::<32>(a), _mm_srli_epi64::<32>(b));
            _mm_unpacklo_epi32(_mm_shuffle_epi32::<0b1000>(even), _mm_shuffle_epi32::<0b1000>(odd))
        };
        let floor = |v: __m128| {
            let ti = _mm_cvttps_epi32(v);
            let t = _mm_cvtepi32_ps(ti);
            let gt = _mm_cmpgt_ps(t, v);
            (_mm_sub_ps(t, _mm_and_ps(gt, _mm_set1_ps(1.0))), _mm_add_epi32(ti, _mm_castps_si128(gt)))
        };
        let unit = |k: __m128i| {
            let mut h = k;
            h = _mm_xor_si128(h, _mm_srli_epi32::<16>(h));
            h = mullo(h, _mm_set1_epi32(0x85EB_CA6Bu32 as i32));
            h = _mm_xor_si128(h, _mm_srli_epi32::<13>(h));
            h = mullo(h, _mm_set1_epi32(0xC2B2_AE35u32 as i32));
            h = _mm_xor_si128(h, _mm_srli_epi32::<16>(h));
            _mm_mul_ps(_mm_cvtepi32_ps(_mm_srli_epi32::<8>(h)), _mm_set1_ps(1.0 / (1u32 << 24) as f32))
        };
        let vx = _mm_loadu_ps(x.as_ptr());
        let vy = _mm_loadu_ps(y.as_ptr());
        let (fx, ix) = floor(vx);
        let (fy, iy) = floor(vy);
        let (tx, ty) = (_mm_sub_ps(vx, fx), _mm_sub_ps(vy, fy));
        let smooth = |t: __m128| _mm_mul_ps(_mm_mul_ps(t, t), _mm_sub_ps(_mm_set1_ps(3.0), _mm_mul_ps(_mm_set1_ps(2.0), t)));
        let (sx, sy) = (smooth(tx), smooth(ty));
        let cx = _mm_set1_epi32(0x27D4_EB2D);
        let cy = _mm_set1_epi32(0x1656_67B1);
        let kx = mullo(ix, cx);
        let s = mullo(_mm_loadu_si128(seed.as_ptr() as *const __m128i), _mm_set1_epi32(0x9E37_79B9u32 as i32));
        let ky0 = _mm_xor_si128(mullo(iy, cy), s);
        let ky1 = _mm_xor_si128(mullo(_mm_add_epi32(iy, _mm_set1_epi32(1)), cy), s);
        let kx1 = _mm_add_epi32(kx, cx);
        let (a, b) = (unit(_mm_xor_si128(kx, ky0)), unit(_mm_xor_si128(kx1, ky0)));
        let (c, d) = (unit(_mm_xor_si128(kx, ky1)), unit(_mm_xor_si128(kx1, ky1)));
        let top = _mm_add_ps(a, _mm_mul_ps(_mm_sub_ps(b, a), sx));
        let bot = _mm_add_ps(c, _mm_mul_ps(_mm_sub_ps(d, c), sx));
        let v = _mm_add_ps(top, _mm_mul_ps(_mm_sub_ps(bot, top), sy));
        let mut out = [0.0f32; 4];
        _mm_storeu_ps(out.as_mut_ptr(), v);
        out
    }
}

#[cfg(not(target_arch = "x86_64"))]
#[inline(always)]
pub(crate) fn value_noise4(x: [f32; 4], y: [f32; 4], seed: [u32; 4]) -> [f32; 4] {
    [0, 1, 2, 3].map(|l| value_noise(x[l], y[l], seed[l]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn value_noise4_matches_the_scalar_noise() {
        for i in 0..20_000u32 {
            let f = |k: u32| (hash_u32(i.wrapping_mul(4).wrapping_add(k)) as i32 as f32) * 1e-6;
            let (x, y) = ([f(0), f(1), f(2) * 16.0, f(3) * 0.01], [f(4), f(5) * 0.5, f(6) * 8.0, f(7)]);
            let seed = [i, i ^ 0x3C6E_F372, 7, i.wrapping_mul(31)];
            let v = value_noise4(x, y, seed);
            for l in 0..4 {
                assert_eq!(v[l].to_bits(), value_noise(x[l], y[l], seed[l]).to_bits());
            }
        }
    }

    #[test]
    fn unit4_matches_the_scalar_hash() {
        for i in 0..10_000u32 {
            let k = [i.wrapping_mul(0x9E37_79B9), i ^ 0xDEAD_BEEF, !i, i << 7];
            assert_eq!(unit4(k), k.map(|k| unit(hash_u32(k))));
        }
    }

    #[test]
    fn coverage_and_noise_ranges() {
        assert!((box_coverage(0.0, -1.0, 1.0, 0.5) - 1.0).abs() < 1e-6);
        assert!((box_coverage(1.0, -1.0, 1.0, 0.5) - 0.5).abs() < 1e-6);
        assert!((periodic_coverage(0.1, 1.0, 0.5, 0.01) - 1.0).abs() < 1e-6);
        assert!((periodic_coverage(0.3, 1.0, 0.5, 100.0) - 0.5).abs() < 1e-6);
        for i in 0..500 {
            let v = fbm_filtered(i as f32 * 0.37, i as f32 * -0.21, 1.5, 5, 0.01, 3);
            assert!((0.0..=1.0).contains(&v));
            assert!((0.0..1.0).contains(&value_noise(i as f32 * 0.7, 1.3, 9)));
        }
        assert_eq!(fbm_filtered(1.0, 2.0, 0.1, 3, 10.0, 1), 0.5);
    }
}
