//! Rotation-only two-view model `b2 ~ R b1` (zero baseline, or all points at infinity), used to
//! detect a stationary camera: Kabsch / Wahba least squares (W. Kabsch, Acta Cryst. A32, 1976;
//! G. Wahba, SIAM Review 7(3), 1965) by SVD with the determinant correction; two non-parallel rays
//! form a minimal sample.
//!
//! Convention: unit rays in camera coordinates; `R` maps camera-1 directions to camera-2 directions.
//! Residual: [`angle_residual_rad`], the angle between `b2` and `R b1` in radians (a transfer error:
//! all of the displacement is attributed to image 2).

use nalgebra::{Matrix3, Rotation3, Vector3};

/// Rotation maximising `sum w_k b2_k . (R b1_k)` over `get(k) -> (b1, b2, w)`.
fn kabsch_weighted(
    n: usize,
    get: impl Fn(usize) -> (Vector3<f64>, Vector3<f64>, f64),
) -> Option<Rotation3<f64>> {
    let mut h = Matrix3::zeros();
    for k in 0..n {
        let (a, b, w) = get(k);
        h += b * a.transpose() * w;
    }
    let svd = h.svd(true, true);
    let (u, vt) = (svd.u?, svd.v_t?);
    let s = svd.singular_values;
    // Two independent directions are needed for a unique rotation.
    if !(s[1] > 1e-12 * s[0].max(1e-300)) {
        return None;
    }
    let d = (u * vt).determinant().signum();
    let r = u * Matrix3::from_diagonal(&Vector3::new(1.0, 1.0, d)) * vt;
    r.iter()
        .all(|v| v.is_finite())
        .then(|| Rotation3::from_matrix_unchecked(r))
}

/// Least-squares rotation (Kabsch) from ray pairs; `None` with fewer than two non-parallel rays.
pub fn kabsch(b1: &[Vector3<f64>], b2: &[Vector3<f64>]) -> Option<Rotation3<f64>> {
    if b1.len() != b2.len() || b1.len() < 2 {
        return None;
    }
    kabsch_weighted(b1.len(), |k| (b1[k], b2[k], 1.0))
}

/// Least-squares rotation on the pairs `subset`.
pub fn kabsch_subset(
    b1: &[Vector3<f64>],
    b2: &[Vector3<f64>],
    subset: &[usize],
) -> Option<Rotation3<f64>> {
    if subset.len() < 2 {
        return None;
    }
    kabsch_weighted(subset.len(), |k| (b1[subset[k]], b2[subset[k]], 1.0))
}

/// Minimal rotation from two ray pairs. `None` when either pair of rays is (nearly) parallel
/// (below 1e-6 rad apart) or the two angles `(b1_0, b1_1)` and `(b2_0, b2_1)` differ by more than
/// `max_angle_mismatch_rad` (no rotation can map one pair onto the other; pass `f64::INFINITY` to
/// skip this check).
pub fn two_point(
    b1: [Vector3<f64>; 2],
    b2: [Vector3<f64>; 2],
    max_angle_mismatch_rad: f64,
) -> Option<Rotation3<f64>> {
    let sep1 = b1[0].angle(&b1[1]);
    let sep2 = b2[0].angle(&b2[1]);
    if !(sep1 > 1e-6 && sep2 > 1e-6 && std::f64::consts::PI - sep1 > 1e-6) {
        return None;
    }
    if !((sep1 - sep2).abs() <= max_angle_mismatch_rad) {
        return None;
    }
    kabsch_weighted(2, |k| (b1[k], b2[k], 1.0))
}

/// Angle between `b2` and `R b1`, radians (robust `atan2` form).
#[inline]
pub fn angle_residual_rad(rotation: &Rotation3<f64>, b1: &Vector3<f64>, b2: &Vector3<f64>) -> f64 {
    let rb1 = rotation * b1;
    rb1.cross(b2).norm().atan2(rb1.dot(b2))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::SplitMix64;
    use crate::solvers::synth;

    #[test]
    fn kabsch_and_two_point_are_exact() {
        let mut rng = SplitMix64::new(12);
        for _ in 0..500 {
            let r = synth::random_rotation(&mut rng, 3.0);
            let b1: Vec<_> = (0..10)
                .map(|_| synth::ray_in_fov(&mut rng, 100.0))
                .collect();
            let b2: Vec<_> = b1.iter().map(|b| r * b).collect();
            let k = kabsch(&b1, &b2).expect("generic");
            assert!(synth::rotation_angle_between(&k, &r) < 1e-9);
            let m = two_point([b1[0], b1[1]], [b2[0], b2[1]], 1e-6).expect("generic");
            assert!(synth::rotation_angle_between(&m, &r) < 1e-7);
            for (a, b) in b1.iter().zip(&b2) {
                assert!(angle_residual_rad(&k, a, b) < 1e-9);
            }
        }
        let z = Vector3::z();
        assert!(two_point([z, z], [z, z], 1.0).is_none());
    }
}
