//! Image quality metrics on RGB frames in [0, 1]: PSNR and SSIM (Wang et al. 2004: Gaussian window
//! 11x11, sigma 1.5, K1 0.01, K2 0.03, averaged over the three channels; `valid` region only, as
//! scikit-image's `structural_similarity(..., gaussian_weights=True, use_sample_covariance=False)`).

/// Mean squared error between two equally sized buffers.
pub fn mse(a: &[f32], b: &[f32]) -> f64 {
    assert_eq!(a.len(), b.len());
    let s: f64 = a.iter().zip(b).map(|(x, y)| ((x - y) as f64).powi(2)).sum();
    s / a.len().max(1) as f64
}

/// PSNR in dB for data range 1 (infinite for identical inputs).
pub fn psnr_from_mse(mse: f64) -> f64 {
    if mse <= 0.0 {
        f64::INFINITY
    } else {
        -10.0 * mse.log10()
    }
}

const RADIUS: usize = 5;

fn gaussian() -> [f64; 2 * RADIUS + 1] {
    let mut k = [0.0; 2 * RADIUS + 1];
    let mut s = 0.0;
    for (i, v) in k.iter_mut().enumerate() {
        let d = i as f64 - RADIUS as f64;
        *v = (-d * d / (2.0 * 1.5 * 1.5)).exp();
        s += *v;
    }
    k.iter_mut().for_each(|v| *v /= s);
    k
}

/// Separable Gaussian filter over the valid region: `w x h` plane to `(w-10) x (h-10)`.
fn filter_valid(p: &[f64], w: usize, h: usize, k: &[f64; 2 * RADIUS + 1], tmp: &mut Vec<f64>, out: &mut Vec<f64>) {
    let ow = w - 2 * RADIUS;
    let oh = h - 2 * RADIUS;
    tmp.clear();
    tmp.resize(ow * h, 0.0);
    for y in 0..h {
        let row = &p[y * w..(y + 1) * w];
        for x in 0..ow {
            tmp[y * ow + x] = k.iter().zip(&row[x..x + 2 * RADIUS + 1]).map(|(a, b)| a * b).sum();
        }
    }
    out.clear();
    out.resize(ow * oh, 0.0);
    for y in 0..oh {
        for (j, kj) in k.iter().enumerate() {
            let src = &tmp[(y + j) * ow..(y + j + 1) * ow];
            let dst = &mut out[y * ow..(y + 1) * ow];
            for (d, s) in dst.iter_mut().zip(src) {
                *d += kj * s;
            }
        }
    }
}

/// Mean SSIM of two interleaved RGB images (`w * h * 3` values in [0, 1]).
pub fn ssim_rgb(a: &[f32], b: &[f32], w: usize, h: usize) -> f64 {
    assert_eq!(a.len(), w * h * 3);
    assert_eq!(b.len(), w * h * 3);
    assert!(w > 2 * RADIUS && h > 2 * RADIUS, "SSIM needs images larger than its 11x11 window");
    let k = gaussian();
    let (c1, c2) = (0.01f64.powi(2), 0.03f64.powi(2));
    let n = w * h;
    let mut total = 0.0;
    let (mut tmp, mut mu_a, mut mu_b, mut s_aa, mut s_bb, mut s_ab) = (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut plane = vec![0.0f64; n];
    for c in 0..3 {
        let pa: Vec<f64> = (0..n).map(|i| a[i * 3 + c] as f64).collect();
        let pb: Vec<f64> = (0..n).map(|i| b[i * 3 + c] as f64).collect();
        filter_valid(&pa, w, h, &k, &mut tmp, &mut mu_a);
        filter_valid(&pb, w, h, &k, &mut tmp, &mut mu_b);
        plane.iter_mut().zip(&pa).for_each(|(d, x)| *d = x * x);
        filter_valid(&plane, w, h, &k, &mut tmp, &mut s_aa);
        plane.iter_mut().zip(&pb).for_each(|(d, x)| *d = x * x);
        filter_valid(&plane, w, h, &k, &mut tmp, &mut s_bb);
        plane.iter_mut().zip(pa.iter().zip(&pb)).for_each(|(d, (x, y))| *d = x * y);
        filter_valid(&plane, w, h, &k, &mut tmp, &mut s_ab);
        let mut sum = 0.0;
        for i in 0..mu_a.len() {
            let (ma, mb) = (mu_a[i], mu_b[i]);
            let va = s_aa[i] - ma * ma;
            let vb = s_bb[i] - mb * mb;
            let cov = s_ab[i] - ma * mb;
            sum += ((2.0 * ma * mb + c1) * (2.0 * cov + c2)) / ((ma * ma + mb * mb + c1) * (va + vb + c2));
        }
        total += sum / mu_a.len() as f64;
    }
    total / 3.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn noise(n: usize, seed: u64) -> Vec<f32> {
        let mut g = crate::rng::SplitMix64::new(seed);
        (0..n).map(|_| g.unit() as f32).collect()
    }

    #[test]
    fn identical_images_are_perfect() {
        let a = noise(32 * 24 * 3, 1);
        assert_eq!(ssim_rgb(&a, &a, 32, 24), 1.0);
        assert!(psnr_from_mse(mse(&a, &a)).is_infinite());
    }

    #[test]
    fn psnr_of_a_constant_offset() {
        let a = vec![0.5f32; 300];
        let b = vec![0.6f32; 300];
        assert!((psnr_from_mse(mse(&a, &b)) - 20.0).abs() < 1e-4);
    }

    #[test]
    fn ssim_falls_with_noise_and_ignores_nothing() {
        let a: Vec<f32> = (0..40 * 30 * 3).map(|i| (i / 3 % 40) as f32 / 40.0).collect();
        let n = noise(a.len(), 2);
        let small: Vec<f32> = a.iter().zip(&n).map(|(x, r)| x + 0.02 * (r - 0.5)).collect();
        let large: Vec<f32> = a.iter().zip(&n).map(|(x, r)| x + 0.4 * (r - 0.5)).collect();
        let s1 = ssim_rgb(&a, &small, 40, 30);
        let s2 = ssim_rgb(&a, &large, 40, 30);
        assert!(s1 > 0.9 && s1 < 1.0, "{s1}");
        assert!(s2 < 0.5, "{s2}");
        // A uniform brightness shift changes the luminance term only.
        let shifted: Vec<f32> = a.iter().map(|x| x + 0.1).collect();
        let s3 = ssim_rgb(&a, &shifted, 40, 30);
        assert!(s3 > 0.8 && s3 < 1.0, "{s3}");
    }
}
