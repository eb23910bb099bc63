//! SE(3) poses and unit quaternions stored as (x, y, z, w).
//!
//! A pose is a rigid transform `target_from_source` (for example `world_from_rig`): it maps a
//! point expressed in the source frame into the target frame, `p_target = pose * p_source`.

use nalgebra::{Isometry3, Matrix3, Matrix4, Quaternion, Rotation3, Translation3, UnitQuaternion, Vector3};
use serde::{Deserialize, Serialize};

use crate::SceneError;

/// A rigid transform `target_from_source`.
pub type Pose3 = Isometry3<f64>;

/// Largest accepted deviation of a stored quaternion's norm from 1.
pub const QUATERNION_NORM_TOLERANCE: f64 = 1e-3;

/// Builds a unit quaternion from stored (x, y, z, w) components, rejecting non-finite values and
/// norms further than [`QUATERNION_NORM_TOLERANCE`] from 1 (the small remaining error is
/// renormalised away).
pub fn quat_from_xyzw(xyzw: [f64; 4]) -> Result<UnitQuaternion<f64>, SceneError> {
    let [x, y, z, w] = xyzw;
    if !xyzw.iter().all(|v| v.is_finite()) {
        return Err(SceneError::NonFinite { what: "quaternion".into() });
    }
    let norm = (x * x + y * y + z * z + w * w).sqrt();
    if (norm - 1.0).abs() > QUATERNION_NORM_TOLERANCE {
        return Err(SceneError::NonUnitQuaternion { x, y, z, w, norm, tolerance: QUATERNION_NORM_TOLERANCE });
    }
    Ok(UnitQuaternion::from_quaternion(Quaternion::new(w, x, y, z)))
}

/// The stored (x, y, z, w) form of a unit quaternion, with w >= 0 (the two signs describe the same
/// rotation; the canonical one keeps files comparable).
pub fn quat_to_xyzw(q: &UnitQuaternion<f64>) -> [f64; 4] {
    let c = q.quaternion().coords; // (i, j, k, w)
    let s = if c[3] < 0.0 { -1.0 } else { 1.0 };
    [s * c[0], s * c[1], s * c[2], s * c[3]]
}

/// Builds a pose from a translation in metres and a stored (x, y, z, w) quaternion.
pub fn pose_from_parts(translation_m: [f64; 3], rotation_xyzw: [f64; 4]) -> Result<Pose3, SceneError> {
    if !translation_m.iter().all(|v| v.is_finite()) {
        return Err(SceneError::NonFinite { what: "translation".into() });
    }
    let q = quat_from_xyzw(rotation_xyzw)?;
    Ok(Isometry3::from_parts(Translation3::new(translation_m[0], translation_m[1], translation_m[2]), q))
}

/// Converts a homogeneous 4x4 transform into a pose. The upper-left 3x3 block must be a rotation
/// to within `1e-3` (files written in f32 carry that much rounding); it is re-orthonormalised.
pub fn pose_from_matrix4(m: &Matrix4<f64>) -> Result<Pose3, SceneError> {
    if !m.iter().all(|v| v.is_finite()) {
        return Err(SceneError::NonFinite { what: "4x4 transform".into() });
    }
    let r: Matrix3<f64> = m.fixed_view::<3, 3>(0, 0).into_owned();
    let deviation = (r.transpose() * r - Matrix3::identity()).abs().max();
    let bottom = (m[(3, 0)].abs() + m[(3, 1)].abs() + m[(3, 2)].abs() + (m[(3, 3)] - 1.0).abs()).max(0.0);
    if deviation > 1e-3 || r.determinant() < 0.0 || bottom > 1e-6 {
        return Err(SceneError::NotARotation { deviation: deviation.max(bottom) });
    }
    // Nearest rotation (polar decomposition through the SVD).
    let svd = r.svd(true, true);
    let (Some(u), Some(v_t)) = (svd.u, svd.v_t) else {
        return Err(SceneError::NotARotation { deviation });
    };
    let rotation = UnitQuaternion::from_rotation_matrix(&Rotation3::from_matrix_unchecked(u * v_t));
    let t = Vector3::new(m[(0, 3)], m[(1, 3)], m[(2, 3)]);
    Ok(Isometry3::from_parts(Translation3::from(t), rotation))
}

/// The stored form of a pose: translation in metres and rotation as (x, y, z, w).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PoseRecord {
    pub translation_m: [f64; 3],
    pub rotation_xyzw: [f64; 4],
}

impl PoseRecord {
    pub fn from_pose(p: &Pose3) -> Self {
        let t = p.translation.vector;
        Self { translation_m: [t.x, t.y, t.z], rotation_xyzw: quat_to_xyzw(&p.rotation) }
    }
    pub fn to_pose(&self) -> Result<Pose3, SceneError> {
        pose_from_parts(self.translation_m, self.rotation_xyzw)
    }
}

/// Rotation taking OpenCV camera axes (RDF: right, down, forward) to FLU axes (forward, left, up):
/// `v_flu = FLU_FROM_RDF * v_rdf`.
pub fn flu_from_rdf() -> UnitQuaternion<f64> {
    let m = Matrix3::new(
        0.0, 0.0, 1.0, //
        -1.0, 0.0, 0.0, //
        0.0, -1.0, 0.0,
    );
    UnitQuaternion::from_matrix(&m)
}

/// Interpolates two poses: linear in translation, spherical-linear in rotation, `alpha` in [0, 1].
pub fn interpolate(a: &Pose3, b: &Pose3, alpha: f64) -> Pose3 {
    let t = a.translation.vector.lerp(&b.translation.vector, alpha);
    let q = a.rotation.try_slerp(&b.rotation, alpha, 1e-12).unwrap_or_else(|| {
        // 180 degrees apart: any great circle works; nlerp is well defined with a sign flip.
        a.rotation.nlerp(&b.rotation, alpha)
    });
    Isometry3::from_parts(Translation3::from(t), q)
}

/// Angle of the rotation `a^-1 b` in radians.
pub fn rotation_angle_between(a: &UnitQuaternion<f64>, b: &UnitQuaternion<f64>) -> f64 {
    (a.inverse() * b).angle()
}

#[cfg(test)]
mod tests {
    use super::*;
    use nalgebra::Point3;

    fn sample_pose(seed: u32) -> Pose3 {
        let s = seed as f64;
        let axis = Vector3::new(0.3 + s, -0.7, 0.2 * s).normalize();
        Isometry3::from_parts(
            Translation3::new(1.0 + s, -2.0, 0.5 * s),
            UnitQuaternion::from_axis_angle(&nalgebra::Unit::new_normalize(axis), 0.4 + 0.3 * s),
        )
    }

    #[test]
    fn inverse_and_composition_identities() {
        for i in 0..8 {
            let a = sample_pose(i);
            let b = sample_pose(i + 3);
            let c = sample_pose(i + 5);
            let id = a * a.inverse();
            assert!(id.translation.vector.norm() < 1e-12 && id.rotation.angle() < 1e-12);
            // associativity and inverse of a product
            let lhs = (a * b) * c;
            let rhs = a * (b * c);
            assert!((lhs.to_homogeneous() - rhs.to_homogeneous()).abs().max() < 1e-12);
            let inv = (a * b).inverse();
            let inv2 = b.inverse() * a.inverse();
            assert!((inv.to_homogeneous() - inv2.to_homogeneous()).abs().max() < 1e-12);
            // target_from_source chaining: world_from_cam = world_from_rig * rig_from_cam
            let p = Point3::new(0.3, -1.0, 2.0);
            assert!(((a * b) * p - a * (b * p)).norm() < 1e-12);
        }
    }

    #[test]
    fn stored_forms_round_trip() {
        for i in 0..8 {
            let p = sample_pose(i);
            let rec = PoseRecord::from_pose(&p);
            assert!(rec.rotation_xyzw[3] >= 0.0);
            let back = rec.to_pose().unwrap();
            assert!((p.to_homogeneous() - back.to_homogeneous()).abs().max() < 1e-12);
            let m = pose_from_matrix4(&p.to_homogeneous()).unwrap();
            assert!((p.to_homogeneous() - m.to_homogeneous()).abs().max() < 1e-12);
        }
    }

    #[test]
    fn rejects_bad_quaternions_and_matrices() {
        assert!(matches!(quat_from_xyzw([0.0, 0.0, 0.0, 1.1]), Err(SceneError::NonUnitQuaternion { .. })));
        assert!(matches!(quat_from_xyzw([f64::NAN, 0.0, 0.0, 1.0]), Err(SceneError::NonFinite { .. })));
        let mut m = Matrix4::identity();
        m[(0, 0)] = 2.0;
        assert!(pose_from_matrix4(&m).is_err());
        let mut mirror = Matrix4::identity();
        mirror[(2, 2)] = -1.0;
        assert!(pose_from_matrix4(&mirror).is_err());
    }

    #[test]
    fn flu_from_rdf_maps_axes() {
        let r = flu_from_rdf();
        assert!((r * Vector3::z() - Vector3::x()).norm() < 1e-12); // forward
        assert!((r * Vector3::x() + Vector3::y()).norm() < 1e-12); // right = -left
        assert!((r * Vector3::y() + Vector3::z()).norm() < 1e-12); // down = -up
    }

    #[test]
    fn interpolation_endpoints_and_midpoint() {
        let a = sample_pose(1);
        let b = sample_pose(2);
        assert!((interpolate(&a, &b, 0.0).to_homogeneous() - a.to_homogeneous()).abs().max() < 1e-12);
        assert!((interpolate(&a, &b, 1.0).to_homogeneous() - b.to_homogeneous()).abs().max() < 1e-12);
        let m = interpolate(&a, &b, 0.5);
        let da = rotation_angle_between(&a.rotation, &m.rotation);
        let db = rotation_angle_between(&m.rotation, &b.rotation);
        assert!((da - db).abs() < 1e-9);
    }
}
