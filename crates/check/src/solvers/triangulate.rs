//! Two-view triangulation of a ray pair by the midpoint method (R. Hartley and P. Sturm,
//! "Triangulation", CVIU 68(2), 1997, section 5.3: the midpoint of the common perpendicular).
//!
//! Convention: `X2 = R X1 + t`; rays are unit vectors in their own camera frames, any direction.
//! "In front" means a positive distance along the ray (not `z > 0`), so rays of wide cameras with
//! `z <= 0` are handled.

use nalgebra::{Rotation3, Vector3};

/// A triangulated point.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Midpoint {
    /// Midpoint of the common perpendicular, in camera-1 coordinates (units of `t`).
    pub point_cam1: Vector3<f64>,
    /// Signed distance along ray 1 from camera 1 to its closest point (units of `t`).
    pub range1: f64,
    /// Signed distance along ray 2 from camera 2 to its closest point (units of `t`).
    pub range2: f64,
    /// Angle between the two rays after rotation compensation (`b2` against `R b1`), radians.
    pub parallax_rad: f64,
}

/// Midpoint triangulation of `b1` (camera 1) and `b2` (camera 2) for the pose `X2 = R X1 + t`.
/// `None` when the rays are parallel after rotation compensation (parallax below 1e-12 rad): the
/// point is at infinity (or the baseline is zero) and its depth is unobservable.
pub fn midpoint(
    rotation: &Rotation3<f64>,
    translation: &Vector3<f64>,
    b1: &Vector3<f64>,
    b2: &Vector3<f64>,
) -> Option<Midpoint> {
    // Camera 2 in camera-1 coordinates: centre c2 = -R^T t, ray direction d2 = R^T b2.
    let c2 = -(rotation.inverse() * translation);
    let d2 = rotation.inverse() * b2;
    let (aa, cc) = (b1.norm_squared(), d2.norm_squared());
    let bb = b1.dot(&d2);
    let cross = b1.cross(&d2).norm();
    let parallax_rad = cross.atan2(bb);
    let det = aa * cc - bb * bb;
    if !(parallax_rad.abs() > 1e-12) || !(det > 0.0) {
        return None;
    }
    // Minimise |l1 b1 - (c2 + l2 d2)|^2.
    let (r1, r2) = (b1.dot(&c2), d2.dot(&c2));
    let range1 = (cc * r1 - bb * r2) / det;
    let range2 = (bb * r1 - aa * r2) / det;
    let p1 = b1 * range1;
    let p2 = c2 + d2 * range2;
    Some(Midpoint {
        point_cam1: (p1 + p2) * 0.5,
        range1,
        range2,
        parallax_rad,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::SplitMix64;
    use crate::solvers::synth;

    #[test]
    fn midpoint_recovers_points_and_signs() {
        let mut rng = SplitMix64::new(9);
        for _ in 0..500 {
            let r = synth::random_rotation(&mut rng, 1.0);
            let t = synth::random_unit(&mut rng);
            let x1 = synth::ray_in_fov(&mut rng, 100.0) * (1.0 + 10.0 * rng.unit_f64());
            let x2 = r * x1 + t;
            let m = midpoint(&r, &t, &x1.normalize(), &x2.normalize()).expect("generic");
            assert!((m.point_cam1 - x1).norm() < 1e-7 * x1.norm().max(1.0));
            assert!((m.range1 - x1.norm()).abs() < 1e-7 * x1.norm());
            assert!((m.range2 - x2.norm()).abs() < 1e-7 * x2.norm());
            // Behind camera 2: flipping the translation puts the point behind.
            if let Some(b) = midpoint(&r, &-t, &x1.normalize(), &x2.normalize()) {
                assert!(b.range1 < 0.0 || b.range2 < 0.0);
            }
        }
        assert!(midpoint(
            &Rotation3::identity(),
            &Vector3::x(),
            &Vector3::z(),
            &Vector3::z()
        )
        .is_none());
    }
}
