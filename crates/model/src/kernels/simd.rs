//! Vectorisable element-wise math for the fused CPU kernels: `exp` and `erf` as branch-free
//! polynomials (so LLVM turns the loops into AVX-512 / AVX2 code), and lane-parallel reductions.
//!
//! Each public function is compiled three times (AVX-512, AVX2+FMA, baseline) and picks one at run
//! time: the body is an `#[inline(always)]` function, inlined into `#[target_feature]` wrappers.
//!
//! `exp`: Cody-Waite range reduction `x = n ln2 + r`, `|r| <= ln2/2`, and the degree-6 minimax
//! polynomial of Cephes' `expf` (S. Moshier, Cephes Math Library), relative error about 1e-7 on
//! `[-87, 88]`; inputs are clamped to that range (so `exp(-inf)` gives 1.6e-38 instead of 0, which
//! no softmax or Gaussian factor here can tell apart). `erf`: Abramowitz & Stegun 7.1.26, absolute
//! error below 1.5e-7 (below 5e-7 in f32 arithmetic).

// The lane loops index fixed-size accumulator arrays on purpose: that is what vectorises.
#![allow(clippy::needless_range_loop)]

macro_rules! multiversion {
    ($(#[$m:meta])* $vis:vis fn $name:ident($($arg:ident : $ty:ty),* $(,)?) $(-> $ret:ty)? $body:block) => {
        $(#[$m])*
        $vis fn $name($($arg: $ty),*) $(-> $ret)? {
            #[inline(always)]
            fn inner($($arg: $ty),*) $(-> $ret)? $body
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx512f,avx512vl,avx512dq,avx512bw,avx2,fma")]
                unsafe fn v4($($arg: $ty),*) $(-> $ret)? { inner($($arg),*) }
                #[target_feature(enable = "avx2,fma")]
                unsafe fn v3($($arg: $ty),*) $(-> $ret)? { inner($($arg),*) }
                if $crate::kernels::simd::has_avx512() {
                    // SAFETY: the CPU supports every feature `v4` is compiled for.
                    return unsafe { v4($($arg),*) };
                }
                if $crate::kernels::simd::has_avx2() {
                    // SAFETY: as above for `v3`.
                    return unsafe { v3($($arg),*) };
                }
            }
            inner($($arg),*)
        }
    };
}
pub(crate) use multiversion;

#[cfg(target_arch = "x86_64")]
pub(crate) fn has_avx512() -> bool {
    std::is_x86_feature_detected!("avx512f")
        && std::is_x86_feature_detected!("avx512vl")
        && std::is_x86_feature_detected!("avx512dq")
        && std::is_x86_feature_detected!("avx512bw")
        && has_avx2()
}

#[cfg(target_arch = "x86_64")]
pub(crate) fn has_avx2() -> bool {
    std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma")
}

const LANES: usize = 16;

/// `e^x` (see the module docs for range and accuracy).
#[inline(always)]
pub fn exp(x: f32) -> f32 {
    const LOG2E: f32 = std::f32::consts::LOG2_E;
    const LN2_HI: f32 = 0.693_359_4;
    const LN2_LO: f32 = -2.121_944_4e-4;
    // 1.5 * 2^23: adding it rounds to the nearest integer, which lands in the low mantissa bits.
    const ROUND: f32 = 12_582_912.0;
    let x = x.clamp(-87.0, 88.0);
    let t = x * LOG2E + ROUND;
    let n = t - ROUND;
    let r = x - n * LN2_HI - n * LN2_LO;
    let mut p = 1.987_569_2e-4;
    p = p * r + 1.398_199_9e-3;
    p = p * r + 8.333_452e-3;
    p = p * r + 4.166_579_6e-2;
    p = p * r + 1.666_666_5e-1;
    p = p * r + 0.5; // Cephes: 5.0000001201e-1, which rounds to 0.5 in f32
    let e = p * r * r + r + 1.0;
    let k = (t.to_bits() as i32).wrapping_sub(0x4B40_0000);
    e * f32::from_bits(((k + 127) << 23) as u32)
}

/// `erf(x)` (Abramowitz & Stegun 7.1.26) given `e = exp(-x^2)`, which callers often need too.
#[inline(always)]
pub fn erf_with(x: f32, e: f32) -> f32 {
    let a = x.abs();
    let t = 1.0 / (1.0 + 0.327_591_1 * a);
    let poly = t * (0.254_829_6 + t * (-0.284_496_72 + t * (1.421_413_8 + t * (-1.453_152 + t * 1.061_405_4))));
    (1.0 - poly * e).copysign(x)
}

/// Sum of a slice with 16 independent accumulators (vectorises without reassociation flags).
#[inline(always)]
pub fn sum(xs: &[f32]) -> f32 {
    let mut acc = [0f32; LANES];
    let chunks = xs.chunks_exact(LANES);
    let tail = chunks.remainder();
    for c in chunks {
        for l in 0..LANES {
            acc[l] += c[l];
        }
    }
    acc.iter().sum::<f32>() + tail.iter().sum::<f32>()
}

/// Dot product with 16 independent accumulators.
#[inline(always)]
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let mut acc = [0f32; LANES];
    let ca = a.chunks_exact(LANES);
    let cb = b.chunks_exact(LANES);
    let tail: f32 = ca.remainder().iter().zip(cb.remainder()).map(|(x, y)| x * y).sum();
    for (x, y) in ca.zip(cb) {
        for l in 0..LANES {
            acc[l] += x[l] * y[l];
        }
    }
    acc.iter().sum::<f32>() + tail
}

/// Maximum of a slice (`-inf` when empty).
#[inline(always)]
pub fn max(xs: &[f32]) -> f32 {
    let mut acc = [f32::NEG_INFINITY; LANES];
    let chunks = xs.chunks_exact(LANES);
    let tail = chunks.remainder();
    for c in chunks {
        for l in 0..LANES {
            acc[l] = if c[l] > acc[l] { c[l] } else { acc[l] };
        }
    }
    acc.iter().chain(tail).fold(f32::NEG_INFINITY, |m, &v| if v > m { v } else { m })
}

multiversion! {
    /// In place `row[j] = exp(row[j] + bias[j] - max)` with `max` the row's maximum of
    /// `row + bias`; returns `(max, sum of the exponentials)`.
    pub fn softmax_row(row: &mut [f32], bias: &[f32]) -> (f32, f32) {
        for (r, b) in row.iter_mut().zip(bias) {
            *r += *b;
        }
        let m = max(row);
        for r in row.iter_mut() {
            *r = exp(*r - m);
        }
        (m, sum(row))
    }
}

multiversion! {
    /// In place `row[j] = exp(row[j] + bias[j] - shift)`.
    pub fn exp_row_shifted(row: &mut [f32], bias: &[f32], shift: f32) {
        for (r, b) in row.iter_mut().zip(bias) {
            *r = exp(*r + *b - shift);
        }
    }
}

multiversion! {
    /// In place `row[j] *= s`.
    pub fn scale_row(row: &mut [f32], s: f32) {
        for r in row.iter_mut() {
            *r *= s;
        }
    }
}

multiversion! {
    /// `ds[j] = p[j] * (dp[j] - d)` written over `p` (the softmax backward of one row).
    pub fn softmax_grad_row(p: &mut [f32], dp: &[f32], d: f32) {
        for (p, g) in p.iter_mut().zip(dp) {
            *p *= *g - d;
        }
    }
}

multiversion! {
    /// Dot product of two rows.
    pub fn dot_row(a: &[f32], b: &[f32]) -> f32 {
        dot(a, b)
    }
}

const FRAC_1_SQRT_2: f32 = std::f32::consts::FRAC_1_SQRT_2;
const FRAC_1_SQRT_2PI: f32 = 0.398_942_3;

multiversion! {
    /// Exact (erf) GELU: `y = x Phi(x)`.
    pub fn gelu_forward(x: &[f32], y: &mut [f32]) {
        for (y, &x) in y.iter_mut().zip(x) {
            let z = x * FRAC_1_SQRT_2;
            let e = exp(-z * z);
            *y = 0.5 * x * (1.0 + erf_with(z, e));
        }
    }
}

multiversion! {
    /// GELU backward: `dx = dy (Phi(x) + x phi(x))`.
    pub fn gelu_backward(x: &[f32], dy: &[f32], dx: &mut [f32]) {
        for ((dx, &x), &g) in dx.iter_mut().zip(x).zip(dy) {
            let z = x * FRAC_1_SQRT_2;
            let e = exp(-z * z);
            let cdf = 0.5 * (1.0 + erf_with(z, e));
            *dx = g * (cdf + x * FRAC_1_SQRT_2PI * e);
        }
    }
}

multiversion! {
    /// `acc[i] += x[i]^2`.
    pub fn add_squares(acc: &mut [f32], x: &[f32]) {
        for (a, &v) in acc.iter_mut().zip(x) {
            *a += v * v;
        }
    }
}

multiversion! {
    /// `acc[i] = 1 / sqrt(acc[i] / channels + eps)`.
    pub fn inv_rms(acc: &mut [f32], channels: f32, eps: f32) {
        for a in acc.iter_mut() {
            *a = 1.0 / (*a / channels + eps).sqrt();
        }
    }
}

multiversion! {
    /// One channel of RMS norm + SiLU: `y = silu(x * inv * gain)`.
    pub fn norm_silu_forward(x: &[f32], inv: &[f32], gain: f32, y: &mut [f32]) {
        for ((y, &x), &r) in y.iter_mut().zip(x).zip(inv) {
            let u = x * r * gain;
            *y = u / (1.0 + exp(-u));
        }
    }
}

multiversion! {
    /// One channel of the RMS norm + SiLU backward, first pass: writes `dn = dy silu'(u) gain`
    /// into `dn`, adds `dn * n` to `dot`, and returns `sum(dy silu'(u) n)` (this channel's gain
    /// gradient), with `n = x * inv`, `u = n * gain`.
    pub fn norm_silu_backward_pass1(x: &[f32], inv: &[f32], dy: &[f32], gain: f32, dn: &mut [f32], dot: &mut [f32]) -> f32 {
        #[inline(always)]
        fn step(x: f32, r: f32, g: f32, gain: f32, dn: &mut f32, dot: &mut f32) -> f32 {
            let nv = x * r;
            let u = nv * gain;
            let s = 1.0 / (1.0 + exp(-u));
            let du = g * s * (1.0 + u * (1.0 - s));
            *dn = du * gain;
            *dot += *dn * nv;
            du * nv
        }
        let n = x.len().min(inv.len()).min(dy.len()).min(dn.len()).min(dot.len());
        let full = n / LANES * LANES;
        let mut acc = [0f32; LANES];
        // Fixed-size chunks (no bounds checks in the lane loop), so LLVM vectorises it.
        for ((((x, r), g), dn), dot) in x[..full].chunks_exact(LANES).zip(inv[..full].chunks_exact(LANES)).zip(dy[..full].chunks_exact(LANES)).zip(dn[..full].chunks_exact_mut(LANES)).zip(dot[..full].chunks_exact_mut(LANES)) {
            for l in 0..LANES {
                acc[l] += step(x[l], r[l], g[l], gain, &mut dn[l], &mut dot[l]);
            }
        }
        let mut tail = 0.0;
        for i in full..n {
            tail += step(x[i], inv[i], dy[i], gain, &mut dn[i], &mut dot[i]);
        }
        acc.iter().sum::<f32>() + tail
    }
}

multiversion! {
    /// Second pass: `dx = inv (dn - n dot / channels)` in place over `dn`.
    pub fn norm_backward_pass2(x: &[f32], inv: &[f32], dot: &[f32], channels: f32, dn: &mut [f32]) {
        for (((d, &x), &r), &s) in dn.iter_mut().zip(x).zip(inv).zip(dot) {
            *d = r * (*d - x * r * s / channels);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exp_matches_std_to_2e7_relative() {
        let mut worst = 0f64;
        let mut x = -87.0f32;
        while x < 88.0 {
            let got = exp(x) as f64;
            let want = (x as f64).exp();
            worst = worst.max(((got - want) / want).abs());
            x += 0.001_3;
        }
        assert!(worst < 2e-7, "worst relative error {worst}");
        assert!(exp(f32::NEG_INFINITY) < 1e-37);
        assert_eq!(exp(0.0), 1.0);
    }

    /// erf by its Taylor series in f64 (accurate to about 1e-9 for |x| <= 4.5).
    fn erf64(x: f64) -> f64 {
        let mut term = x;
        let mut s = x;
        for n in 1..300 {
            term *= -x * x / n as f64;
            s += term / (2 * n + 1) as f64;
        }
        s * 2.0 / std::f64::consts::PI.sqrt()
    }

    #[test]
    fn erf_matches_reference_to_5e7() {
        let mut worst = 0f64;
        let mut x = -4.0f32;
        while x < 4.0 {
            let got = erf_with(x, exp(-x * x)) as f64;
            worst = worst.max((got - erf64(x as f64)).abs());
            x += 0.001_7;
        }
        assert!(worst < 5e-7, "worst absolute error {worst}");
    }

    #[test]
    fn softmax_row_and_reductions() {
        let mut row: Vec<f32> = (0..37).map(|i| (i as f32 * 0.37).sin() * 3.0).collect();
        let bias: Vec<f32> = (0..37).map(|i| if i % 5 == 0 { -1e30 } else { 0.0 }).collect();
        let want: Vec<f64> = row.iter().zip(&bias).map(|(&r, &b)| if b < -1.0 { 0.0 } else { (r as f64).exp() }).collect();
        let total: f64 = want.iter().sum();
        let (m, s) = softmax_row(&mut row, &bias);
        for (j, (&p, &w)) in row.iter().zip(&want).enumerate() {
            let p = p as f64 / s as f64;
            assert!((p - w / total).abs() < 1e-6, "{j}: {p} vs {}", w / total);
        }
        assert!(m <= 3.0 && m > 2.5);
        let a: Vec<f32> = (0..53).map(|i| i as f32).collect();
        assert_eq!(dot_row(&a, &a), (0..53).map(|i| (i * i) as f32).sum::<f32>());
        assert_eq!(max(&a), 52.0);
    }

    #[test]
    fn gelu_matches_f64_reference_and_its_derivative() {
        let xs: Vec<f32> = (0..401).map(|i| -6.0 + i as f32 * 0.03).collect();
        let mut y = vec![0f32; xs.len()];
        gelu_forward(&xs, &mut y);
        let ones = vec![1f32; xs.len()];
        let mut g = vec![0f32; xs.len()];
        gelu_backward(&xs, &ones, &mut g);
        let gelu64 = |x: f64| 0.5 * x * (1.0 + erf64(x / std::f64::consts::SQRT_2));
        for i in 0..xs.len() {
            let x = xs[i] as f64;
            assert!((y[i] as f64 - gelu64(x)).abs() < 1e-6, "gelu({x})");
            let want = 0.5 * (1.0 + erf64(x / std::f64::consts::SQRT_2)) + x * (-0.5 * x * x).exp() / (2.0 * std::f64::consts::PI).sqrt();
            assert!((g[i] as f64 - want).abs() < 1e-6, "gelu'({x}): {} vs {want}", g[i]);
        }
    }

}
