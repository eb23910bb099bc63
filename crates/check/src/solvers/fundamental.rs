//! Fundamental matrix in pixel coordinates: normalised eight-point (least squares for more points),
//! seven-point, Sampson-weighted refinement and residuals.
//!
//! Convention: pixel points are `Point2<f64>` (x right, y down), `x = (u, v, 1)`, and
//! `x2^T F x1 = 0`. Returned matrices have unit Frobenius norm (sign arbitrary).
//!
//! References: R. Hartley, "In defense of the eight-point algorithm", IEEE TPAMI 19(6), 1997
//! (isotropic normalisation, rank-2 enforcement by SVD); R. Hartley and A. Zisserman, "Multiple View
//! Geometry", 2nd ed., 2004, section 11.1.2 (seven-point algorithm, cubic `det(a F1 + F2) = 0`) and
//! 11.4.3 (Sampson error); P. D. Sampson, CGIP 18, 1982.

use nalgebra::{Matrix3, Point2, Vector3};

use super::linalg::{
    epipolar_normal_matrix, mat3_from_row_major, null_space_rref, real_roots, smallest_eigenvector9,
    MAX_DEG,
};

/// Isotropic normalisation (Hartley 1997): centroid to the origin, mean distance `sqrt 2`.
fn normalizer(n: usize, get: impl Fn(usize) -> Point2<f64>) -> Option<Matrix3<f64>> {
    if n == 0 {
        return None;
    }
    let (mut cx, mut cy) = (0.0, 0.0);
    for k in 0..n {
        let p = get(k);
        cx += p.x;
        cy += p.y;
    }
    cx /= n as f64;
    cy /= n as f64;
    let mut d = 0.0;
    for k in 0..n {
        let p = get(k);
        d += ((p.x - cx).powi(2) + (p.y - cy).powi(2)).sqrt();
    }
    d /= n as f64;
    if !(d > 0.0 && d.is_finite()) {
        return None;
    }
    let s = std::f64::consts::SQRT_2 / d;
    Some(Matrix3::new(
        s,
        0.0,
        -s * cx,
        0.0,
        s,
        -s * cy,
        0.0,
        0.0,
        1.0,
    ))
}

#[inline]
fn apply(t: &Matrix3<f64>, p: &Point2<f64>) -> Vector3<f64> {
    Vector3::new(
        t[(0, 0)] * p.x + t[(0, 2)],
        t[(1, 1)] * p.y + t[(1, 2)],
        1.0,
    )
}

fn denormalize(fh: &Matrix3<f64>, t1: &Matrix3<f64>, t2: &Matrix3<f64>) -> Option<Matrix3<f64>> {
    let f = t2.transpose() * fh * t1;
    let n = f.norm();
    (n > 0.0 && n.is_finite()).then(|| f / n)
}

fn enforce_rank2(f: &Matrix3<f64>) -> Option<Matrix3<f64>> {
    let svd = f.svd(true, true);
    let (u, vt) = (svd.u?, svd.v_t?);
    let s = svd.singular_values;
    Some(u * Matrix3::from_diagonal(&Vector3::new(s[0], s[1], 0.0)) * vt)
}

/// Weighted normalised eight-point over `get(k) -> (x1, x2, weight)`, `k < n`.
fn eight_point_weighted(
    n: usize,
    get: impl Fn(usize) -> (Point2<f64>, Point2<f64>, f64),
) -> Option<Matrix3<f64>> {
    if n < 8 {
        return None;
    }
    let t1 = normalizer(n, |k| get(k).0)?;
    let t2 = normalizer(n, |k| get(k).1)?;
    let ata = epipolar_normal_matrix(n, |k| {
        let (p1, p2, w) = get(k);
        (apply(&t1, &p1), apply(&t2, &p2), w)
    });
    let v = smallest_eigenvector9(&ata)?;
    let fh = enforce_rank2(&mat3_from_row_major(&v))?;
    denormalize(&fh, &t1, &t2)
}

/// Normalised eight-point algorithm (Hartley 1997) on `n >= 8` matches (least squares for more),
/// rank 2 enforced. `None` for fewer than eight matches, mismatched lengths or a degenerate
/// configuration (null space of dimension above one).
pub fn eight_point(x1: &[Point2<f64>], x2: &[Point2<f64>]) -> Option<Matrix3<f64>> {
    if x1.len() != x2.len() {
        return None;
    }
    eight_point_weighted(x1.len(), |k| (x1[k], x2[k], 1.0))
}

/// Seven-point algorithm into a fixed buffer (no heap allocation): the 2-dimensional null space
/// `a F1 + F2` of the seven (normalised) constraints, then the real roots of the cubic
/// `det(a F1 + F2) = 0`. Returns the number of solutions (0, 1, 2 or 3).
pub fn seven_point_into(
    x1: &[Point2<f64>; 7],
    x2: &[Point2<f64>; 7],
    out: &mut [Matrix3<f64>; 3],
) -> usize {
    let (Some(t1), Some(t2)) = (normalizer(7, |k| x1[k]), normalizer(7, |k| x2[k])) else {
        return 0;
    };
    let mut rows = [[0.0; 9]; 7];
    for (k, row) in rows.iter_mut().enumerate() {
        let (a1, a2) = (apply(&t1, &x1[k]), apply(&t2, &x2[k]));
        for i in 0..3 {
            for j in 0..3 {
                row[3 * i + j] = a2[i] * a1[j];
            }
        }
    }
    let Some([v1, v2]) = null_space_rref::<7, 2>(rows) else {
        return 0;
    };
    let f1 = mat3_from_row_major(&v1);
    let f2 = mat3_from_row_major(&v2);
    // p(a) = det(a F1 + F2) = c0 + c1 a + c2 a^2 + c3 a^3, from its values at 0, 1, -1, 2.
    let p = |a: f64| (f1 * a + f2).determinant();
    let (p0, p1, pm1, p2) = (p(0.0), p(1.0), p(-1.0), p(2.0));
    let c0 = p0;
    let c2 = 0.5 * (p1 + pm1) - c0;
    let s = 0.5 * (p1 - pm1); // c1 + c3
    let q = p2 - c0 - 4.0 * c2; // 2 c1 + 8 c3
    let c3 = (q - 2.0 * s) / 6.0;
    let c1 = s - c3;
    let mut roots = [0.0; MAX_DEG];
    let nr = real_roots(&[c0, c1, c2, c3], &mut roots);
    let mut count = 0;
    for &a in &roots[..nr] {
        if let Some(f) = denormalize(&(f1 * a + f2), &t1, &t2) {
            if count < out.len() {
                out[count] = f;
                count += 1;
            }
        }
    }
    count
}

/// Seven-point algorithm on exactly seven matches (other lengths give no solution): one or three
/// real fundamental matrices (unit Frobenius norm, rank 2).
pub fn seven_point(x1: &[Point2<f64>], x2: &[Point2<f64>]) -> Vec<Matrix3<f64>> {
    let (Ok(a), Ok(b)) = (
        <&[Point2<f64>; 7]>::try_from(x1),
        <&[Point2<f64>; 7]>::try_from(x2),
    ) else {
        return Vec::new();
    };
    let mut out = [Matrix3::zeros(); 3];
    let n = seven_point_into(a, b, &mut out);
    out[..n].to_vec()
}

#[inline]
fn epipolar_terms(f: &Matrix3<f64>, x1: &Point2<f64>, x2: &Point2<f64>) -> (f64, f64, f64) {
    let h1 = Vector3::new(x1.x, x1.y, 1.0);
    let h2 = Vector3::new(x2.x, x2.y, 1.0);
    let fx1 = f * h1;
    let ftx2 = f.tr_mul(&h2);
    let c = h2.dot(&fx1);
    (
        c,
        fx1.x * fx1.x + fx1.y * fx1.y,
        ftx2.x * ftx2.x + ftx2.y * ftx2.y,
    )
}

/// Square root of the Sampson error, in pixels:
/// `|x2^T F x1| / sqrt((F x1)_1^2 + (F x1)_2^2 + (F^T x2)_1^2 + (F^T x2)_2^2)`, the first-order
/// distance of the match `(x1, x2)` in R^4 to the variety `x2^T F x1 = 0` (the root of the sum of
/// the squared corrections of both points). Invariant to the scale of `F`.
#[inline]
pub fn sampson_error_px(f: &Matrix3<f64>, x1: &Point2<f64>, x2: &Point2<f64>) -> f64 {
    let (c, d1, d2) = epipolar_terms(f, x1, x2);
    let d = d1 + d2;
    if d > 0.0 {
        (c * c / d).sqrt()
    } else if c == 0.0 {
        0.0
    } else {
        f64::INFINITY
    }
}

/// Symmetric epipolar distance in pixels: the root of the sum of the squared distances of `x2` to
/// the epipolar line `F x1` and of `x1` to `F^T x2`.
pub fn symmetric_epipolar_px(f: &Matrix3<f64>, x1: &Point2<f64>, x2: &Point2<f64>) -> f64 {
    let (c, d1, d2) = epipolar_terms(f, x1, x2);
    if d1 > 0.0 && d2 > 0.0 {
        (c * c * (1.0 / d1 + 1.0 / d2)).sqrt()
    } else if c == 0.0 {
        0.0
    } else {
        f64::INFINITY
    }
}

/// Refines `f` on the matches `subset` by iteratively reweighted normalised eight-point (weights:
/// inverse Sampson denominators of the previous estimate), `iterations` rounds; approximately
/// minimises the sum of squared [`sampson_error_px`]. `None` for fewer than eight matches or a
/// degenerate configuration.
pub fn refine_sampson(
    f: &Matrix3<f64>,
    x1: &[Point2<f64>],
    x2: &[Point2<f64>],
    subset: &[usize],
    iterations: usize,
) -> Option<Matrix3<f64>> {
    let mut cur = *f;
    for _ in 0..iterations.max(1) {
        let scale = cur.norm();
        let c = cur / scale;
        cur = eight_point_weighted(subset.len(), |k| {
            let i = subset[k];
            let (_, d1, d2) = epipolar_terms(&c, &x1[i], &x2[i]);
            let d = d1 + d2;
            (x1[i], x2[i], if d > 1e-30 { 1.0 / d } else { 1e30 })
        })?;
    }
    Some(cur)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::SplitMix64;
    use crate::solvers::synth;

    #[test]
    fn eight_point_is_exact_without_noise() {
        let mut rng = SplitMix64::new(1);
        let mut ok = 0;
        for trial in 0..1000 {
            let n = if trial % 2 == 0 { 8 } else { 40 };
            let p = synth::pinhole_pairs(&mut rng, n, 500.0, 0.0);
            if let Some(f) = eight_point(&p.x1, &p.x2) {
                if synth::same_up_to_scale(&f, &p.f, 1e-6) {
                    ok += 1;
                }
                assert!(f.determinant().abs() < 1e-9);
            }
        }
        assert!(ok >= 990, "{ok}/1000");
        assert!(eight_point(&[Point2::origin(); 7], &[Point2::origin(); 7]).is_none());
    }

    #[test]
    fn seven_point_contains_true_f_without_noise() {
        let mut rng = SplitMix64::new(2);
        let mut ok = 0;
        for _ in 0..1000 {
            let p = synth::pinhole_pairs(&mut rng, 7, 500.0, 0.0);
            let sols = seven_point(&p.x1, &p.x2);
            assert!(sols.len() <= 3);
            if sols.iter().any(|f| synth::same_up_to_scale(f, &p.f, 1e-6)) {
                ok += 1;
            }
            for f in &sols {
                for (a, b) in p.x1.iter().zip(&p.x2) {
                    assert!(sampson_error_px(f, a, b) < 1e-6);
                }
            }
        }
        assert!(ok >= 990, "{ok}/1000");
    }

    #[test]
    fn sampson_is_about_the_pixel_noise() {
        let mut rng = SplitMix64::new(4);
        let p = synth::pinhole_pairs(&mut rng, 2000, 500.0, 0.0);
        let mut noisy = p.x2.clone();
        for q in &mut noisy {
            q.x += rng.normal();
            q.y += rng.normal();
        }
        let e: Vec<f64> =
            p.x1.iter()
                .zip(&noisy)
                .map(|(a, b)| sampson_error_px(&p.f, a, b))
                .collect();
        // Noise on x2 only, 1 px per axis: the Sampson distance is about the displacement across the
        // epipolar line, |N(0,1)| scaled by (gradient share in image 2 ~ 1/sqrt 2), RMS ~ 0.71.
        let rms = (e.iter().map(|v| v * v).sum::<f64>() / e.len() as f64).sqrt();
        assert!(rms > 0.5 && rms < 0.9, "{rms}");
        for (a, b) in p.x1.iter().zip(&noisy) {
            assert!(symmetric_epipolar_px(&p.f, a, b) >= sampson_error_px(&p.f, a, b) - 1e-12);
        }
    }

    #[test]
    fn refinement_keeps_exact_solution() {
        let mut rng = SplitMix64::new(6);
        let p = synth::pinhole_pairs(&mut rng, 50, 500.0, 0.0);
        let all: Vec<usize> = (0..50).collect();
        let f = refine_sampson(&p.f, &p.x1, &p.x2, &all, 3).expect("generic");
        assert!(synth::same_up_to_scale(&f, &p.f, 1e-6));
    }
}
