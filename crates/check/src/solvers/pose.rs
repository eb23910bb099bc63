//! Relative pose from an essential matrix: the four-fold decomposition disambiguated by cheirality
//! (points in front of both cameras), R. Hartley and A. Zisserman, "Multiple View Geometry", 2nd ed.,
//! 2004, section 9.6.3; D. Nistér, TPAMI 2004, section 3.4.
//!
//! Convention: `X2 = R X1 + t`, `E = [t]x R`, unit rays in camera coordinates (any direction; "in
//! front" is a positive distance along the ray). Points whose rotation-compensated parallax is below
//! `min_parallax_rad` are not counted for any candidate: their triangulated depth sign is decided by
//! noise (near-infinite depth), and they would favour a wrong candidate as often as the right one.

use nalgebra::{Matrix3, Rotation3, SMatrix, SVector, Unit, Vector3};

use super::essential::{decompose, from_pose};
use super::triangulate::midpoint;

/// Result of [`recover`].
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct RecoveredPose {
    pub rotation: Rotation3<f64>,
    /// Direction of `t` in `X2 = R X1 + t` (camera-2 coordinates of the camera-1 centre, up to scale).
    pub translation_dir: Unit<Vector3<f64>>,
    /// Pairs with enough parallax that triangulate in front of both cameras for this candidate.
    pub in_front: usize,
    /// Pairs with enough parallax for this candidate (the denominator of the cheirality vote).
    pub considered: usize,
    /// `in_front` of the best of the three other candidates.
    pub runner_up_in_front: usize,
}

/// Chooses among the four decompositions of `e` the one with the most points (among `subset`)
/// in front of both cameras. `None` if the SVD fails or no candidate has a point in front.
pub fn recover(
    e: &Matrix3<f64>,
    b1: &[Vector3<f64>],
    b2: &[Vector3<f64>],
    subset: &[usize],
    min_parallax_rad: f64,
) -> Option<RecoveredPose> {
    let cands = decompose(e)?;
    let mut counts = [(0usize, 0usize); 4];
    for (c, (r, t)) in cands.iter().enumerate() {
        let t = t.into_inner();
        for &i in subset {
            let (Some(a), Some(b)) = (b1.get(i), b2.get(i)) else {
                continue;
            };
            let Some(m) = midpoint(r, &t, a, b) else {
                continue;
            };
            if m.parallax_rad < min_parallax_rad {
                continue;
            }
            counts[c].1 += 1;
            if m.range1 > 0.0 && m.range2 > 0.0 {
                counts[c].0 += 1;
            }
        }
    }
    let best = (0..4).max_by_key(|&c| (counts[c].0, usize::MAX - c))?;
    if counts[best].0 == 0 {
        return None;
    }
    let runner_up = (0..4)
        .filter(|&c| c != best)
        .map(|c| counts[c].0)
        .max()
        .unwrap_or(0);
    let (rotation, translation_dir) = cands[best];
    Some(RecoveredPose {
        rotation,
        translation_dir,
        in_front: counts[best].0,
        considered: counts[best].1,
        runner_up_in_front: runner_up,
    })
}

/// Signed Sampson residual (radians) of the constraint for the pose `(R, t)`: the quantity whose
/// absolute value is [`super::essential::sampson_error_rad`].
#[inline]
fn signed_sampson(e: &Matrix3<f64>, b1: &Vector3<f64>, b2: &Vector3<f64>) -> f64 {
    let (c, d) = super::essential::sampson_terms(e, b1, b2);
    if d > 0.0 {
        c / d.sqrt()
    } else {
        0.0
    }
}

fn pose_cost(
    r: &Rotation3<f64>,
    t: &Vector3<f64>,
    b1: &[Vector3<f64>],
    b2: &[Vector3<f64>],
    subset: &[usize],
    cauchy_scale: Option<f64>,
) -> f64 {
    let e = from_pose(r, t);
    subset
        .iter()
        .map(|&i| rho(signed_sampson(&e, &b1[i], &b2[i]), cauchy_scale))
        .sum()
}

/// Squared residual, or the Cauchy loss `s^2 ln(1 + r^2 / s^2)` with scale `s`.
#[inline]
fn rho(r: f64, cauchy_scale: Option<f64>) -> f64 {
    match cauchy_scale {
        Some(s) => s * s * (r * r / (s * s)).ln_1p(),
        None => r * r,
    }
}

/// IRLS weight of the loss: 1, or `1 / (1 + r^2 / s^2)`.
#[inline]
fn weight(r: f64, cauchy_scale: Option<f64>) -> f64 {
    match cauchy_scale {
        Some(s) => 1.0 / (1.0 + r * r / (s * s)),
        None => 1.0,
    }
}

fn perturb(
    r: &Rotation3<f64>,
    t: &Vector3<f64>,
    basis: &[Vector3<f64>; 2],
    d: &SVector<f64, 5>,
) -> (Rotation3<f64>, Vector3<f64>) {
    let r2 = Rotation3::new(Vector3::new(d[0], d[1], d[2])) * r;
    let t2 = (t + basis[0] * d[3] + basis[1] * d[4]).normalize();
    (r2, t2)
}

/// Non-linear least squares refinement of a pose `(R, t)` (5 degrees of freedom: rotation and the
/// translation direction) minimising the sum of squared ray Sampson errors
/// ([`super::essential::sampson_error_rad`]) over `subset`, by Levenberg-Marquardt with a
/// finite-difference Jacobian (K. Levenberg 1944; D. Marquardt 1963). Returns the input when no
/// step lowers the cost. Needs at least six pairs.
pub fn refine_pose(
    rotation: &Rotation3<f64>,
    translation_dir: &Unit<Vector3<f64>>,
    b1: &[Vector3<f64>],
    b2: &[Vector3<f64>],
    subset: &[usize],
    iterations: usize,
) -> (Rotation3<f64>, Unit<Vector3<f64>>) {
    refine_pose_impl(rotation, translation_dir, b1, b2, subset, iterations, None)
}

/// [`refine_pose`] with the Cauchy loss `s^2 ln(1 + r^2 / s^2)` on the Sampson errors (scale
/// `cauchy_scale_rad`, radians) instead of squares, by iteratively reweighted Levenberg-Marquardt:
/// tolerant to outliers in `subset` (used on a generous inlier set during local optimisation).
pub fn refine_pose_robust(
    rotation: &Rotation3<f64>,
    translation_dir: &Unit<Vector3<f64>>,
    b1: &[Vector3<f64>],
    b2: &[Vector3<f64>],
    subset: &[usize],
    iterations: usize,
    cauchy_scale_rad: f64,
) -> (Rotation3<f64>, Unit<Vector3<f64>>) {
    let scale =
        (cauchy_scale_rad > 0.0 && cauchy_scale_rad.is_finite()).then_some(cauchy_scale_rad);
    refine_pose_impl(rotation, translation_dir, b1, b2, subset, iterations, scale)
}

fn refine_pose_impl(
    rotation: &Rotation3<f64>,
    translation_dir: &Unit<Vector3<f64>>,
    b1: &[Vector3<f64>],
    b2: &[Vector3<f64>],
    subset: &[usize],
    iterations: usize,
    cauchy_scale: Option<f64>,
) -> (Rotation3<f64>, Unit<Vector3<f64>>) {
    let mut r = *rotation;
    let mut t = translation_dir.into_inner();
    if subset.len() < 6 || subset.iter().any(|&i| i >= b1.len() || i >= b2.len()) {
        return (r, Unit::new_unchecked(t));
    }
    let mut cost = pose_cost(&r, &t, b1, b2, subset, cauchy_scale);
    let mut lambda = 1e-3;
    let h = 1e-7;
    for _ in 0..iterations {
        // Tangent basis of the translation direction.
        let a = if t.x.abs() < 0.9 {
            Vector3::x()
        } else {
            Vector3::y()
        };
        let u = t.cross(&a).normalize();
        let basis = [u, t.cross(&u)];
        let e0 = from_pose(&r, &t);
        let mut es = [Matrix3::zeros(); 5];
        for (k, ek) in es.iter_mut().enumerate() {
            let mut d = SVector::<f64, 5>::zeros();
            d[k] = h;
            let (rk, tk) = perturb(&r, &t, &basis, &d);
            *ek = from_pose(&rk, &tk);
        }
        let mut jtj = SMatrix::<f64, 5, 5>::zeros();
        let mut jtr = SVector::<f64, 5>::zeros();
        for &i in subset {
            let r0 = signed_sampson(&e0, &b1[i], &b2[i]);
            let mut j = SVector::<f64, 5>::zeros();
            for k in 0..5 {
                j[k] = (signed_sampson(&es[k], &b1[i], &b2[i]) - r0) / h;
            }
            let w = weight(r0, cauchy_scale);
            jtj += j * j.transpose() * w;
            jtr += j * (r0 * w);
        }
        let mut improved = false;
        for _ in 0..8 {
            let mut a = jtj;
            for k in 0..5 {
                a[(k, k)] += lambda * jtj[(k, k)].max(1e-12);
            }
            let Some(step) = a.cholesky().map(|c| c.solve(&(-jtr))) else {
                lambda *= 10.0;
                continue;
            };
            let (rn, tn) = perturb(&r, &t, &basis, &step);
            let cn = pose_cost(&rn, &tn, b1, b2, subset, cauchy_scale);
            if cn < cost {
                let rel = (cost - cn) / cost.max(1e-300);
                r = rn;
                t = tn;
                cost = cn;
                lambda = (lambda * 0.3).max(1e-9);
                improved = rel > 1e-10;
                break;
            }
            lambda *= 10.0;
        }
        if !improved {
            break;
        }
    }
    (r, Unit::new_normalize(t))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::SplitMix64;
    use crate::solvers::{essential, synth};

    #[test]
    fn recover_picks_true_pose() {
        let mut rng = SplitMix64::new(13);
        let mut ok = 0;
        for _ in 0..1000 {
            let s = synth::scene(&mut rng, 30, 100.0, 0.0);
            let e = essential::from_pose(&s.rotation, &s.translation);
            let all: Vec<usize> = (0..s.b1.len()).collect();
            let Some(p) = recover(&e, &s.b1, &s.b2, &all, 1e-4) else {
                continue;
            };
            if synth::rotation_angle_between(&p.rotation, &s.rotation) < 1e-8
                && synth::vector_angle(&p.translation_dir, &s.translation) < 1e-8
                && p.in_front == p.considered
            {
                ok += 1;
            }
        }
        assert!(ok >= 995, "{ok}/1000");
    }

    #[test]
    fn recover_from_five_point_solution() {
        let mut rng = SplitMix64::new(14);
        let mut ok = 0;
        for _ in 0..300 {
            let s = synth::scene(&mut rng, 5, 100.0, 0.0);
            let all: Vec<usize> = (0..5).collect();
            let found = essential::five_point(&s.b1, &s.b2).iter().any(|e| {
                recover(e, &s.b1, &s.b2, &all, 1e-6).is_some_and(|p| {
                    synth::rotation_angle_between(&p.rotation, &s.rotation) < 1e-6
                        && synth::vector_angle(&p.translation_dir, &s.translation) < 1e-6
                })
            });
            ok += usize::from(found);
        }
        assert!(ok >= 297, "{ok}/300");
    }

    #[test]
    fn refine_pose_improves_noisy_estimate() {
        let mut rng = SplitMix64::new(15);
        let mut better = 0;
        for _ in 0..50 {
            let s = synth::scene(&mut rng, 100, 45.0, 1e-3);
            let all: Vec<usize> = (0..s.b1.len()).collect();
            // Start from a perturbed pose.
            let r0 = synth::random_rotation(&mut rng, 0.02) * s.rotation;
            let t0 = Unit::new_normalize(s.translation + synth::random_unit(&mut rng) * 0.05);
            let (r, t) = refine_pose(&r0, &t0, &s.b1, &s.b2, &all, 20);
            let err0 = synth::rotation_angle_between(&r0, &s.rotation);
            let err = synth::rotation_angle_between(&r, &s.rotation);
            if err < err0
                && synth::vector_angle(&t, &s.translation)
                    < synth::vector_angle(&t0, &s.translation)
            {
                better += 1;
            }
        }
        assert!(better >= 45, "{better}");
    }
}
