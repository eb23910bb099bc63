//! Essential matrix on bearing rays: construction from a pose, the minimal five-point solver
//! (re-exported from `five_point`), a linear eight-point fit projected onto the essential manifold,
//! a Sampson-weighted refinement, the ray-space Sampson residual and the four-fold decomposition.
//!
//! Conventions: rays are unit `Vector3<f64>` in camera coordinates (x right, y down, z forward; any
//! direction allowed, `z <= 0` included). The relative pose maps camera-1 coordinates to camera-2
//! coordinates, `X2 = R X1 + t`, and `E = [t]x R`, so that `b2^T E b1 = 0`.
//!
//! References: H. C. Longuet-Higgins, "A computer algorithm for reconstructing a scene from two
//! projections", Nature 293, 1981 (linear eight-point); R. Hartley and A. Zisserman, "Multiple View
//! Geometry", 2nd ed., 2004, section 9.6 (decomposition) and 11.4.3 (Sampson error); P. D. Sampson,
//! "Fitting conic sections to 'very scattered' data", CGIP 18, 1982.

use nalgebra::{Matrix3, Rotation3, Unit, Vector3};

use super::linalg::{epipolar_normal_matrix, mat3_from_row_major, project_to_essential, skew, smallest_eigenvector9};

pub use super::five_point::{five_point, five_point_into};

/// `E = [t]x R` for `X2 = R X1 + t` (not normalised).
pub fn from_pose(rotation: &Rotation3<f64>, translation: &Vector3<f64>) -> Matrix3<f64> {
    skew(translation) * rotation.matrix()
}

/// The algebraic residual `c = b2^T E b1` and the squared tangent-plane gradient norm
/// `d = |P1 E^T b2|^2 + |P2 E b1|^2` of the Sampson distance on rays: `|c| / sqrt(d)`.
#[inline]
pub(crate) fn sampson_terms(e: &Matrix3<f64>, b1: &Vector3<f64>, b2: &Vector3<f64>) -> (f64, f64) {
    let eb1 = e * b1;
    let etb2 = e.tr_mul(b2);
    let c = b2.dot(&eb1);
    let g1 = etb2 - b1 * b1.dot(&etb2);
    let g2 = eb1 - b2 * c;
    (c, g1.norm_squared() + g2.norm_squared())
}

/// First-order (Sampson) distance of a ray pair to the epipolar constraint `b2^T E b1 = 0`, with the
/// rays perturbed in the tangent planes of the unit sphere:
///
/// `r = |b2^T E b1| / sqrt(|P1 E^T b2|^2 + |P2 E b1|^2)`, with `P_k = I - b_k b_k^T`.
///
/// For unit rays a tangent perturbation of length `d` is a rotation of the ray by `d` radians, so
/// `r` is the smallest joint angular displacement of both rays (root of the sum of squares, in
/// radians) that satisfies the constraint, to first order. Near the optical axis of a pinhole camera
/// it equals the usual pixel Sampson distance divided by the focal length in pixels, so a pixel
/// threshold becomes `threshold_px / focal_px`. Invariant to the scale of `E`; rays must be unit.
#[inline]
pub fn sampson_error_rad(e: &Matrix3<f64>, b1: &Vector3<f64>, b2: &Vector3<f64>) -> f64 {
    let (c, d) = sampson_terms(e, b1, b2);
    if d > 0.0 {
        (c * c / d).sqrt()
    } else if c == 0.0 {
        0.0
    } else {
        f64::INFINITY
    }
}

/// Squared tangent-plane gradient norm of the constraint (the Sampson denominator).
#[inline]
fn sampson_denominator(e: &Matrix3<f64>, b1: &Vector3<f64>, b2: &Vector3<f64>) -> f64 {
    let eb1 = e * b1;
    let etb2 = e.tr_mul(b2);
    let g1 = etb2 - b1 * b1.dot(&etb2);
    let g2 = eb1 - b2 * b2.dot(&eb1);
    g1.norm_squared() + g2.norm_squared()
}

/// Weighted algebraic least squares over `n` correspondences given by `get(k) -> (b1, b2, weight)`,
/// projected onto the essential manifold.
fn linear_weighted(
    n: usize,
    get: impl Fn(usize) -> (Vector3<f64>, Vector3<f64>, f64),
) -> Option<Matrix3<f64>> {
    if n < 8 {
        return None;
    }
    let ata = epipolar_normal_matrix(n, get);
    let v = smallest_eigenvector9(&ata)?;
    project_to_essential(&mat3_from_row_major(&v))
}

/// Linear (eight-point) essential matrix from `n >= 8` ray pairs: algebraic least squares on
/// `b2^T E b1 = 0`, then the closest matrix with singular values `(1, 1, 0)` (unit Frobenius norm
/// `sqrt 2` scaled to 1). Unit rays need no further normalisation. `None` for fewer than eight
/// pairs, mismatched lengths or a degenerate configuration (more than one null vector, e.g. pure
/// rotation).
pub fn linear(b1: &[Vector3<f64>], b2: &[Vector3<f64>]) -> Option<Matrix3<f64>> {
    if b1.len() != b2.len() {
        return None;
    }
    linear_weighted(b1.len(), |k| (b1[k], b2[k], 1.0))
}

/// Refines `e` on the pairs `subset` by iteratively reweighted linear least squares (weights: the
/// inverse Sampson denominator of the previous estimate, so the weighted algebraic cost approximates
/// the sum of squared [`sampson_error_rad`]), `iterations` rounds. `None` for fewer than eight pairs
/// or a degenerate configuration.
pub fn refine_sampson(
    e: &Matrix3<f64>,
    b1: &[Vector3<f64>],
    b2: &[Vector3<f64>],
    subset: &[usize],
    iterations: usize,
) -> Option<Matrix3<f64>> {
    let mut cur = *e;
    let mut ok = false;
    for _ in 0..iterations.max(1) {
        let next = linear_weighted(subset.len(), |k| {
            let i = subset[k];
            let d = sampson_denominator(&cur, &b1[i], &b2[i]);
            (b1[i], b2[i], if d > 1e-24 { 1.0 / d } else { 1e24 })
        })?;
        cur = next;
        ok = true;
    }
    ok.then_some(cur)
}

/// A rotation and a unit translation direction, `X2 = R X1 + t`.
pub type PoseCandidate = (Rotation3<f64>, Unit<Vector3<f64>>);

/// The four `(R, t)` pairs with `E ~ [t]x R`: `R in {U W V^T, U W^T V^T}`, `t = +-u3` (unit), from the
/// SVD `E = U diag(1, 1, 0) V^T` with `det U = det V = +1` (Hartley & Zisserman, result 9.19).
/// Order: `(R_a, +t), (R_a, -t), (R_b, +t), (R_b, -t)`. The physically valid one is chosen by
/// cheirality (see `pose::recover`). `None` only if the SVD fails.
pub fn decompose(e: &Matrix3<f64>) -> Option<[PoseCandidate; 4]> {
    let svd = e.svd(true, true);
    let (mut u, mut vt) = (svd.u?, svd.v_t?);
    if u.determinant() < 0.0 {
        u = -u;
    }
    if vt.determinant() < 0.0 {
        vt = -vt;
    }
    let w = Matrix3::new(0.0, -1.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 1.0);
    let ra = Rotation3::from_matrix_unchecked(u * w * vt);
    let rb = Rotation3::from_matrix_unchecked(u * w.transpose() * vt);
    let t = Unit::new_normalize(u.column(2).into_owned());
    Some([(ra, t), (ra, -t), (rb, t), (rb, -t)])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::SplitMix64;
    use crate::solvers::synth;

    #[test]
    fn five_point_recovers_true_essential_wide_fov() {
        let mut rng = SplitMix64::new(11);
        let trials = 1000;
        let mut ok = 0;
        let mut behind = 0;
        for _ in 0..trials {
            let s = synth::scene(&mut rng, 5, 100.0, 0.0);
            behind += s.b1.iter().filter(|b| b.z <= 0.0).count();
            let e_true = from_pose(&s.rotation, &s.translation);
            let sols = five_point(&s.b1, &s.b2);
            assert!(sols.len() <= 10);
            if sols.iter().any(|e| synth::same_up_to_scale(e, &e_true, 1e-6)) {
                ok += 1;
            }
        }
        assert!(behind > 100, "the test must exercise rays with z <= 0");
        assert!(
            ok >= 990,
            "five-point matched the true E in {ok}/{trials} trials"
        );
    }

    #[test]
    fn five_point_solutions_satisfy_constraints() {
        let mut rng = SplitMix64::new(5);
        for _ in 0..200 {
            let s = synth::scene(&mut rng, 5, 100.0, 0.0);
            for e in five_point(&s.b1, &s.b2) {
                for (a, b) in s.b1.iter().zip(&s.b2) {
                    assert!(b.dot(&(e * a)).abs() < 1e-7);
                }
                let sv = e.singular_values();
                let mut sv = [sv[0], sv[1], sv[2]];
                sv.sort_by(|a, b| b.total_cmp(a));
                assert!((sv[0] - sv[1]).abs() < 1e-6 * sv[0] && sv[2] < 1e-6 * sv[0]);
            }
        }
        assert!(five_point(&[Vector3::z(); 4], &[Vector3::z(); 4]).is_empty());
    }

    #[test]
    fn linear_is_exact_without_noise_and_sampson_measures_angles() {
        let mut rng = SplitMix64::new(3);
        for _ in 0..100 {
            let s = synth::scene(&mut rng, 30, 100.0, 0.0);
            let e_true = from_pose(&s.rotation, &s.translation);
            let e = linear(&s.b1, &s.b2).expect("generic");
            assert!(synth::same_up_to_scale(&e, &e_true, 1e-8));
            for (a, b) in s.b1.iter().zip(&s.b2) {
                assert!(sampson_error_rad(&e, a, b) < 1e-9);
            }
        }
        // Moving the second ray by a small angle across the epipolar plane: the Sampson distance is
        // that angle over sqrt(2) when both rays are orthogonal to E's "gradient" split evenly, and
        // at most the angle in general.
        let s = synth::scene(&mut rng, 50, 60.0, 0.0);
        let e = from_pose(&s.rotation, &s.translation);
        for (a, b) in s.b1.iter().zip(&s.b2) {
            let n = (e * a).normalize(); // epipolar plane normal in camera 2
            let axis = b.cross(&n).normalize();
            let moved = Rotation3::from_axis_angle(&Unit::new_normalize(axis), 1e-3) * b;
            let r = sampson_error_rad(&e, a, &moved);
            assert!(r <= 1.0001e-3 && r > 0.2e-3, "{r}");
        }
    }

    #[test]
    fn decomposition_contains_true_pose() {
        let mut rng = SplitMix64::new(8);
        for _ in 0..200 {
            let s = synth::scene(&mut rng, 5, 100.0, 0.0);
            let e = from_pose(&s.rotation, &s.translation);
            let cands = decompose(&e).expect("svd");
            let tdir = s.translation.normalize();
            let hit = cands.iter().any(|(r, t)| {
                synth::rotation_angle_between(r, &s.rotation) < 1e-9
                    && (t.into_inner() - tdir).norm() < 1e-9
            });
            assert!(hit);
            for (r, _) in &cands {
                assert!((r.matrix().determinant() - 1.0).abs() < 1e-9);
            }
        }
    }

    #[test]
    fn refine_sampson_lowers_sampson_cost() {
        let mut rng = SplitMix64::new(21);
        let mut better = 0;
        for _ in 0..50 {
            let s = synth::scene(&mut rng, 200, 100.0, 1e-3);
            let all: Vec<usize> = (0..s.b1.len()).collect();
            let lin = linear(&s.b1, &s.b2).expect("generic");
            let refined = refine_sampson(&lin, &s.b1, &s.b2, &all, 3).expect("generic");
            let cost = |e: &Matrix3<f64>| -> f64 {
                s.b1.iter()
                    .zip(&s.b2)
                    .map(|(a, b)| sampson_error_rad(e, a, b).powi(2))
                    .sum()
            };
            if cost(&refined) <= cost(&lin) * (1.0 + 1e-9) {
                better += 1;
            }
            let e_true = from_pose(&s.rotation, &s.translation);
            assert!(synth::same_up_to_scale(&refined, &e_true, 0.05));
        }
        assert!(better >= 45, "{better}");
    }
}
