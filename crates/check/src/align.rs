//! Similarity alignment of trajectories and the trajectory errors computed after it.
//!
//! Umeyama, "Least-squares estimation of transformation parameters between two point patterns",
//! IEEE TPAMI 1991: the rotation, translation and (optionally) scale minimising
//! `sum |dst_i - (s R src_i + t)|^2`, in closed form from the SVD of the cross-covariance.
//! ATE and RPE follow Sturm et al., "A benchmark for the evaluation of RGB-D SLAM systems",
//! IROS 2012.

use nalgebra::{Matrix3, Point3, Rotation3, Vector3};

/// `dst ~ scale * rotation * src + translation`.
#[derive(Debug, Clone, PartialEq)]
pub struct Similarity {
    pub scale: f64,
    pub rotation: Rotation3<f64>,
    pub translation: Vector3<f64>,
}

impl Similarity {
    pub fn apply(&self, p: &Point3<f64>) -> Point3<f64> {
        Point3::from(self.scale * (self.rotation * p.coords) + self.translation)
    }
}

/// Least-squares similarity (or rigid motion, `with_scale = false`) taking `src` onto `dst`.
/// `None` for fewer than 2 points or a source with (numerically) no spread, where scale and
/// rotation are undefined (a stationary trajectory).
pub fn umeyama(src: &[Point3<f64>], dst: &[Point3<f64>], with_scale: bool) -> Option<Similarity> {
    let n = src.len();
    if n < 2 || dst.len() != n {
        return None;
    }
    let nf = n as f64;
    let mu_s = src.iter().fold(Vector3::zeros(), |a, p| a + p.coords) / nf;
    let mu_d = dst.iter().fold(Vector3::zeros(), |a, p| a + p.coords) / nf;
    let mut cov = Matrix3::zeros();
    let mut var_s = 0.0;
    let mut var_d = 0.0;
    for (s, d) in src.iter().zip(dst) {
        let ds = s.coords - mu_s;
        let dd = d.coords - mu_d;
        cov += dd * ds.transpose();
        var_s += ds.norm_squared();
        var_d += dd.norm_squared();
    }
    cov /= nf;
    var_s /= nf;
    var_d /= nf;
    if var_s <= 1e-18 * (1.0 + var_d) || !cov.iter().all(|v| v.is_finite()) {
        return None;
    }
    let svd = cov.svd(true, true);
    let (u, v_t) = (svd.u?, svd.v_t?);
    let mut d = Matrix3::identity();
    if (u.determinant() * v_t.determinant()) < 0.0 {
        d[(2, 2)] = -1.0;
    }
    let r = u * d * v_t;
    let scale = if with_scale {
        let trace: f64 = (0..3).map(|i| svd.singular_values[i] * d[(i, i)]).sum();
        trace / var_s
    } else {
        1.0
    };
    let rotation = Rotation3::from_matrix_unchecked(r);
    let translation = mu_d - scale * (rotation * mu_s);
    Some(Similarity { scale, rotation, translation })
}

/// Root-mean-square distance between corresponding points.
pub fn rmse(a: &[Point3<f64>], b: &[Point3<f64>]) -> Option<f64> {
    if a.is_empty() || a.len() != b.len() {
        return None;
    }
    Some((a.iter().zip(b).map(|(p, q)| (p - q).norm_squared()).sum::<f64>() / a.len() as f64).sqrt())
}

/// Relative pose error over one step: RMSE of the differences between estimated and given
/// displacements `p[i+1] - p[i]` (metres, after alignment), and the mean angle between estimated
/// and given relative rotations (degrees).
pub fn rpe(
    est_pos: &[Point3<f64>],
    given_pos: &[Point3<f64>],
    est_rel_rot: &[Rotation3<f64>],
    given_rel_rot: &[Rotation3<f64>],
) -> (Option<f64>, Option<f64>) {
    let trans = if est_pos.len() >= 2 && est_pos.len() == given_pos.len() {
        let n = est_pos.len() - 1;
        let sum: f64 = (0..n)
            .map(|i| ((est_pos[i + 1] - est_pos[i]) - (given_pos[i + 1] - given_pos[i])).norm_squared())
            .sum();
        Some((sum / n as f64).sqrt())
    } else {
        None
    };
    let rot = if !est_rel_rot.is_empty() && est_rel_rot.len() == given_rel_rot.len() {
        let sum: f64 = est_rel_rot.iter().zip(given_rel_rot).map(|(e, g)| (e * g.inverse()).angle().to_degrees()).sum();
        Some(sum / est_rel_rot.len() as f64)
    } else {
        None
    };
    (trans, rot)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::SplitMix64;

    #[test]
    fn recovers_a_known_similarity_exactly() {
        let mut rng = SplitMix64::new(5);
        for _ in 0..200 {
            let src: Vec<Point3<f64>> = (0..20).map(|_| Point3::new(rng.normal(), rng.normal(), rng.normal()) * 10.0).collect();
            let truth = Similarity {
                scale: 0.1 + 5.0 * rng.unit_f64(),
                rotation: Rotation3::from_scaled_axis(Vector3::new(rng.normal(), rng.normal(), rng.normal())),
                translation: Vector3::new(rng.normal(), rng.normal(), rng.normal()) * 100.0,
            };
            let dst: Vec<Point3<f64>> = src.iter().map(|p| truth.apply(p)).collect();
            let est = umeyama(&src, &dst, true).unwrap();
            assert!((est.scale - truth.scale).abs() < 1e-9 * truth.scale);
            assert!((est.rotation.matrix() - truth.rotation.matrix()).norm() < 1e-9);
            let aligned: Vec<Point3<f64>> = src.iter().map(|p| est.apply(p)).collect();
            assert!(rmse(&aligned, &dst).unwrap() < 1e-8);
        }
    }

    #[test]
    fn collinear_trajectory_aligns_and_stationary_does_not() {
        // A straight drive is collinear: rotation about the line is free but the alignment error is 0.
        let src: Vec<Point3<f64>> = (0..10).map(|i| Point3::new(i as f64, 0.0, 0.0)).collect();
        let dst: Vec<Point3<f64>> = (0..10).map(|i| Point3::new(5.0, 2.0 * i as f64, 1.0)).collect();
        let est = umeyama(&src, &dst, true).unwrap();
        let aligned: Vec<Point3<f64>> = src.iter().map(|p| est.apply(p)).collect();
        assert!(rmse(&aligned, &dst).unwrap() < 1e-9);
        assert!((est.scale - 2.0).abs() < 1e-9);
        let still = vec![Point3::new(1.0, 2.0, 3.0); 10];
        assert!(umeyama(&still, &dst, true).is_none());
    }

    #[test]
    fn rpe_is_zero_for_identical_and_measures_a_step_error() {
        let p: Vec<Point3<f64>> = (0..5).map(|i| Point3::new(i as f64, 0.0, 0.0)).collect();
        let r = vec![Rotation3::identity(); 4];
        assert_eq!(rpe(&p, &p, &r, &r), (Some(0.0), Some(0.0)));
        let mut q = p.clone();
        q[4].x += 2.0; // one step 2 m too long
        let (t, _) = rpe(&q, &p, &r, &r);
        assert!((t.unwrap() - 1.0).abs() < 1e-12); // sqrt(4 / 4)
    }
}
