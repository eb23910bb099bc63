//! Synthetic two-view ground truth for the solver, RANSAC and pipeline tests.

use nalgebra::{Matrix3, Point2, Rotation3, Unit, Vector3};

use crate::rng::SplitMix64;

pub(crate) struct Scene {
    pub rotation: Rotation3<f64>,
    pub translation: Vector3<f64>,
    pub b1: Vec<Vector3<f64>>,
    pub b2: Vec<Vector3<f64>>,
}

pub(crate) fn random_unit(rng: &mut SplitMix64) -> Vector3<f64> {
    loop {
        let v = Vector3::new(rng.normal(), rng.normal(), rng.normal());
        let n = v.norm();
        if n > 1e-6 {
            return v / n;
        }
    }
}

pub(crate) fn random_rotation(rng: &mut SplitMix64, max_angle_rad: f64) -> Rotation3<f64> {
    let axis = Unit::new_normalize(random_unit(rng));
    Rotation3::from_axis_angle(&axis, rng.unit_f64() * max_angle_rad)
}

/// A ray uniformly distributed on the cap within `half_fov_deg` of +z.
pub(crate) fn ray_in_fov(rng: &mut SplitMix64, half_fov_deg: f64) -> Vector3<f64> {
    let cmin = half_fov_deg.to_radians().cos();
    let c = cmin + (1.0 - cmin) * rng.unit_f64();
    let s = (1.0 - c * c).max(0.0).sqrt();
    let phi = std::f64::consts::TAU * rng.unit_f64();
    Vector3::new(s * phi.cos(), s * phi.sin(), c)
}

/// Perturbs a unit ray by an isotropic tangent Gaussian of `sigma_rad` per axis.
pub(crate) fn perturb(rng: &mut SplitMix64, b: &Vector3<f64>, sigma_rad: f64) -> Vector3<f64> {
    if sigma_rad == 0.0 {
        return *b;
    }
    let g = Vector3::new(rng.normal(), rng.normal(), rng.normal()) * sigma_rad;
    let t = g - b * b.dot(&g);
    (b + t).normalize()
}

/// `n` correspondences seen by two cameras with `half_fov_deg` fields of view (100 gives 200-degree
/// cameras), points at 2..20 baselines, random rotation up to 60 degrees, unit translation.
pub(crate) fn scene(rng: &mut SplitMix64, n: usize, half_fov_deg: f64, sigma_rad: f64) -> Scene {
    let rotation = random_rotation(rng, 60f64.to_radians());
    let translation = random_unit(rng);
    scene_with(
        rng,
        n,
        half_fov_deg,
        sigma_rad,
        rotation,
        translation,
        2.0,
        20.0,
    )
}

#[allow(clippy::too_many_arguments)]
pub(crate) fn scene_with(
    rng: &mut SplitMix64,
    n: usize,
    half_fov_deg: f64,
    sigma_rad: f64,
    rotation: Rotation3<f64>,
    translation: Vector3<f64>,
    min_depth: f64,
    max_depth: f64,
) -> Scene {
    let cmin = half_fov_deg.to_radians().cos();
    let mut b1 = Vec::with_capacity(n);
    let mut b2 = Vec::with_capacity(n);
    while b1.len() < n {
        let r = ray_in_fov(rng, half_fov_deg);
        let d = min_depth + (max_depth - min_depth) * rng.unit_f64();
        let x1 = r * d;
        let x2 = rotation * x1 + translation;
        let nx2 = x2.norm();
        if nx2 < 0.5 || x2.z / nx2 < cmin {
            continue;
        }
        b1.push(perturb(rng, &r, sigma_rad));
        b2.push(perturb(rng, &(x2 / nx2), sigma_rad));
    }
    Scene {
        rotation,
        translation,
        b1,
        b2,
    }
}

pub(crate) struct PinholePairs {
    pub f: Matrix3<f64>,
    pub x1: Vec<Point2<f64>>,
    pub x2: Vec<Point2<f64>>,
}

/// Pinhole 640x480 views (focal `focal_px`) of random points, pixel noise `sigma_px`.
pub(crate) fn pinhole_pairs(
    rng: &mut SplitMix64,
    n: usize,
    focal_px: f64,
    sigma_px: f64,
) -> PinholePairs {
    let k = Matrix3::new(focal_px, 0.0, 320.0, 0.0, focal_px, 240.0, 0.0, 0.0, 1.0);
    let k_inv = k.try_inverse().unwrap_or_else(Matrix3::identity);
    let rotation = random_rotation(rng, 15f64.to_radians());
    let translation = random_unit(rng);
    let f =
        k_inv.transpose() * crate::solvers::essential::from_pose(&rotation, &translation) * k_inv;
    let mut x1 = Vec::with_capacity(n);
    let mut x2 = Vec::with_capacity(n);
    while x1.len() < n {
        let u = Vector3::new(640.0 * rng.unit_f64(), 480.0 * rng.unit_f64(), 1.0);
        let d = 2.0 + 18.0 * rng.unit_f64();
        let p1 = k_inv * u * d;
        let p2 = rotation * p1 + translation;
        if p2.z < 0.5 {
            continue;
        }
        let q = k * p2 / p2.z;
        if !(0.0..640.0).contains(&q.x) || !(0.0..480.0).contains(&q.y) {
            continue;
        }
        x1.push(Point2::new(
            u.x + sigma_px * rng.normal(),
            u.y + sigma_px * rng.normal(),
        ));
        x2.push(Point2::new(
            q.x + sigma_px * rng.normal(),
            q.y + sigma_px * rng.normal(),
        ));
    }
    PinholePairs { f, x1, x2 }
}

/// Angle of `a^T b` in radians, accurate near zero (`atan2` of the skew and symmetric parts).
pub(crate) fn rotation_angle_between(a: &Rotation3<f64>, b: &Rotation3<f64>) -> f64 {
    let d = a.matrix().transpose() * b.matrix();
    let s = Vector3::new(
        d[(2, 1)] - d[(1, 2)],
        d[(0, 2)] - d[(2, 0)],
        d[(1, 0)] - d[(0, 1)],
    )
    .norm()
        * 0.5;
    let c = (d.trace() - 1.0) * 0.5;
    s.atan2(c)
}

/// Angle between two vectors in radians, accurate near zero.
pub(crate) fn vector_angle(a: &Vector3<f64>, b: &Vector3<f64>) -> f64 {
    a.cross(b).norm().atan2(a.dot(b))
}

/// Whether two matrices are equal up to scale and sign (relative Frobenius distance below `tol`).
pub(crate) fn same_up_to_scale(a: &Matrix3<f64>, b: &Matrix3<f64>, tol: f64) -> bool {
    let a = a / a.norm();
    let b = b / b.norm();
    (a - b).norm().min((a + b).norm()) < tol
}
