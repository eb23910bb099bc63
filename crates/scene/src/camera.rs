//! Camera models behind one [`CameraModel`] interface: pinhole with optional OpenCV (Brown-Conrady)
//! distortion, and the f-theta model of NVIDIA DriveWorks used by RDS-HQ and NVIDIA's AV rigs.
//!
//! Points are in the camera frame (OpenCV RDF: x right, y down, z forward, metres). Pixels are
//! continuous coordinates with the origin at the top-left corner of the image, so the centre of
//! pixel (i, j) is (i + 0.5, j + 0.5). Rays returned by `unproject` are unit vectors.
//!
//! f-theta (DriveWorks "FTheta" model): with `theta` the angle between a ray and the optical axis
//! and `r` the distance of its image from the principal point `(cx, cy)`, a polynomial relates the
//! two, either backward (`theta = bw(r)`, as in RDS-HQ and `av22_median_calib.npz`) or forward
//! (`r = fw(theta)`). The pixel is `(cx, cy) + [[c, d], [e, 1]] * r * (cos phi, sin phi)` with
//! `phi` the azimuth of the ray; `(c, d, e) = (1, 0, 0)` when the linear term is absent. The
//! missing direction is a least-squares polynomial fit of the inverse (reported by
//! [`FTheta::forward_poly`]/[`FTheta::backward_poly`]), refined per point by Newton's method on the
//! given polynomial, so both directions are exact to floating-point precision.

use nalgebra::{DMatrix, DVector, Matrix2, Point2, Unit, Vector2, Vector3};
use serde::{Deserialize, Serialize};

use crate::SceneError;

/// The one interface every geometric consumer (renderer, checker, model conditioning) uses.
pub trait CameraModel {
    /// Image width in pixels.
    fn width(&self) -> u32;
    /// Image height in pixels.
    fn height(&self) -> u32;
    /// Projects a point in the camera frame to a pixel. `None` when the point is outside the
    /// model's valid angular domain (behind a pinhole camera, or beyond the f-theta field of view).
    /// A returned pixel may still lie outside the image; see [`CameraModel::in_image`].
    fn project(&self, point_camera: &Vector3<f64>) -> Option<Point2<f64>>;
    /// The unit ray through a pixel, in the camera frame. `None` outside the valid domain.
    fn unproject(&self, pixel: &Point2<f64>) -> Option<Unit<Vector3<f64>>>;
    /// Whether a pixel lies inside the image rectangle.
    fn in_image(&self, pixel: &Point2<f64>) -> bool {
        pixel.x >= 0.0 && pixel.y >= 0.0 && pixel.x <= self.width() as f64 && pixel.y <= self.height() as f64
    }
}

/// Pinhole intrinsics in pixels with optional OpenCV distortion `[k1, k2, p1, p2, k3]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pinhole {
    pub width: u32,
    pub height: u32,
    pub fx: f64,
    pub fy: f64,
    pub cx: f64,
    pub cy: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub distortion: Option<[f64; 5]>,
}

impl Pinhole {
    pub fn new(width: u32, height: u32, fx: f64, fy: f64, cx: f64, cy: f64) -> Self {
        Self { width, height, fx, fy, cx, cy, distortion: None }
    }

    pub fn validate(&self, name: &str) -> Result<(), SceneError> {
        let bad = |reason: &str| Err(SceneError::InvalidCamera { camera: name.into(), reason: reason.into() });
        let vals = [self.fx, self.fy, self.cx, self.cy];
        if !vals.iter().all(|v| v.is_finite()) || !self.distortion.unwrap_or_default().iter().all(|v| v.is_finite()) {
            return bad("non-finite intrinsics");
        }
        if self.width == 0 || self.height == 0 {
            return bad("zero image size");
        }
        if self.fx <= 0.0 || self.fy <= 0.0 {
            return bad("focal lengths must be positive");
        }
        Ok(())
    }

    /// Distorts normalized coordinates; returns the distorted point and the 2x2 Jacobian.
    fn distort(&self, p: Vector2<f64>) -> (Vector2<f64>, Matrix2<f64>) {
        let Some([k1, k2, p1, p2, k3]) = self.distortion else {
            return (p, Matrix2::identity());
        };
        let (x, y) = (p.x, p.y);
        let r2 = x * x + y * y;
        let radial = 1.0 + r2 * (k1 + r2 * (k2 + r2 * k3));
        let d_radial_dr2 = k1 + r2 * (2.0 * k2 + 3.0 * k3 * r2);
        let xd = x * radial + 2.0 * p1 * x * y + p2 * (r2 + 2.0 * x * x);
        let yd = y * radial + p1 * (r2 + 2.0 * y * y) + 2.0 * p2 * x * y;
        let dxd_dx = radial + x * d_radial_dr2 * 2.0 * x + 2.0 * p1 * y + p2 * 6.0 * x;
        let dxd_dy = x * d_radial_dr2 * 2.0 * y + 2.0 * p1 * x + p2 * 2.0 * y;
        let dyd_dx = y * d_radial_dr2 * 2.0 * x + p1 * 2.0 * x + 2.0 * p2 * y;
        let dyd_dy = radial + y * d_radial_dr2 * 2.0 * y + p1 * 6.0 * y + 2.0 * p2 * x;
        (Vector2::new(xd, yd), Matrix2::new(dxd_dx, dxd_dy, dyd_dx, dyd_dy))
    }

    /// Scales the intrinsics to a new resolution (the image origin is the top-left corner, so
    /// continuous pixel coordinates scale linearly).
    pub fn scaled_to(&self, width: u32, height: u32) -> Self {
        let sx = width as f64 / self.width as f64;
        let sy = height as f64 / self.height as f64;
        Self { width, height, fx: self.fx * sx, fy: self.fy * sy, cx: self.cx * sx, cy: self.cy * sy, distortion: self.distortion }
    }
}

impl CameraModel for Pinhole {
    fn width(&self) -> u32 {
        self.width
    }
    fn height(&self) -> u32 {
        self.height
    }
    fn project(&self, p: &Vector3<f64>) -> Option<Point2<f64>> {
        if p.z <= 1e-12 || !p.iter().all(|v| v.is_finite()) {
            return None;
        }
        let n = Vector2::new(p.x / p.z, p.y / p.z);
        if self.distortion.is_some() {
            // Beyond about twice the image's half-diagonal the distortion polynomial may fold back.
            let half_diag = ((self.width as f64 / self.fx).powi(2) + (self.height as f64 / self.fy).powi(2)).sqrt();
            if n.norm() > half_diag {
                return None;
            }
        }
        let (d, _) = self.distort(n);
        Some(Point2::new(self.fx * d.x + self.cx, self.fy * d.y + self.cy))
    }
    fn unproject(&self, px: &Point2<f64>) -> Option<Unit<Vector3<f64>>> {
        if !(px.x.is_finite() && px.y.is_finite()) {
            return None;
        }
        let target = Vector2::new((px.x - self.cx) / self.fx, (px.y - self.cy) / self.fy);
        let mut n = target;
        if self.distortion.is_some() {
            // Newton's method on distort(n) = target.
            let mut converged = false;
            for _ in 0..50 {
                let (d, j) = self.distort(n);
                let residual = d - target;
                if residual.norm() < 1e-15 {
                    converged = true;
                    break;
                }
                let step = j.try_inverse()? * residual;
                n -= step;
                if step.norm() < 1e-16 {
                    converged = true;
                    break;
                }
            }
            let (d, _) = self.distort(n);
            if !converged && (d - target).norm() > 1e-10 {
                return None;
            }
        }
        Some(Unit::new_normalize(Vector3::new(n.x, n.y, 1.0)))
    }
}

/// Which way an f-theta polynomial maps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PolyDirection {
    /// pixel distance from the principal point -> ray angle in radians (`theta = bw(r)`).
    Backward,
    /// ray angle in radians -> pixel distance (`r = fw(theta)`).
    Forward,
}

/// The stored parameters of an f-theta camera.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FThetaParams {
    pub width: u32,
    pub height: u32,
    pub cx: f64,
    pub cy: f64,
    /// Polynomial coefficients, lowest order first (degree <= 5 in DriveWorks; any degree works).
    pub poly: Vec<f64>,
    pub poly_direction: PolyDirection,
    /// The linear term `(c, d, e)` of `[[c, d], [e, 1]]`; `(1, 0, 0)` when absent.
    #[serde(default = "identity_cde")]
    pub linear_cde: [f64; 3],
}

fn identity_cde() -> [f64; 3] {
    [1.0, 0.0, 0.0]
}

/// An f-theta camera with both polynomial directions available.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "FThetaParams", into = "FThetaParams")]
pub struct FTheta {
    params: FThetaParams,
    /// The backward polynomial (given, or fitted as the inverse of the forward one).
    bw: Vec<f64>,
    /// The forward polynomial (given, or fitted as the inverse of the backward one).
    fw: Vec<f64>,
    /// `[[c, d], [e, 1]]` and its inverse.
    a: Matrix2<f64>,
    a_inv: Matrix2<f64>,
    /// Largest pixel distance (in the linear-term-free frame) where the model is valid: the image
    /// corner farthest from the principal point.
    max_r_px: f64,
    /// Ray angle at `max_r_px`.
    max_theta_rad: f64,
}

fn poly_eval(c: &[f64], x: f64) -> f64 {
    c.iter().rev().fold(0.0, |acc, &k| acc * x + k)
}

fn poly_deriv(c: &[f64], x: f64) -> f64 {
    c.iter().enumerate().skip(1).rev().fold(0.0, |acc, (i, &k)| acc * x + i as f64 * k)
}

/// Least-squares polynomial of `degree` through samples `(x, y)`, with the constant term fixed to 0.
fn fit_poly_through_origin(xs: &[f64], ys: &[f64], degree: usize) -> Vec<f64> {
    let n = xs.len();
    let scale = xs.iter().fold(0.0f64, |m, &x| m.max(x.abs())).max(1e-300);
    let mut a = DMatrix::<f64>::zeros(n, degree);
    for (i, &x) in xs.iter().enumerate() {
        let xn = x / scale;
        let mut p = xn;
        for j in 0..degree {
            a[(i, j)] = p;
            p *= xn;
        }
    }
    let b = DVector::from_column_slice(ys);
    let svd = a.svd(true, true);
    let sol = svd.solve(&b, 1e-14).unwrap_or_else(|_| DVector::zeros(degree));
    let mut out = vec![0.0; degree + 1];
    let mut s = scale;
    for j in 0..degree {
        out[j + 1] = sol[j] / s;
        s *= scale;
    }
    out
}

impl TryFrom<FThetaParams> for FTheta {
    type Error = SceneError;
    fn try_from(p: FThetaParams) -> Result<Self, SceneError> {
        FTheta::new(p)
    }
}

impl From<FTheta> for FThetaParams {
    fn from(f: FTheta) -> Self {
        f.params
    }
}

impl FTheta {
    /// Validates the parameters and derives the missing polynomial direction.
    pub fn new(params: FThetaParams) -> Result<Self, SceneError> {
        let bad = |reason: String| SceneError::InvalidCamera { camera: "ftheta".into(), reason };
        let centre = [params.cx, params.cy];
        let mut all = params.poly.iter().chain(params.linear_cde.iter()).chain(centre.iter());
        if !all.all(|v| v.is_finite()) {
            return Err(bad("non-finite f-theta parameters".into()));
        }
        if params.width == 0 || params.height == 0 {
            return Err(bad("zero image size".into()));
        }
        if params.poly.len() < 2 || params.poly.iter().skip(1).all(|&k| k == 0.0) {
            return Err(bad("f-theta polynomial needs a non-zero linear or higher term".into()));
        }
        let [c, d, e] = params.linear_cde;
        let a = Matrix2::new(c, d, e, 1.0);
        let a_inv = a.try_inverse().ok_or_else(|| bad("linear term [[c, d], [e, 1]] is singular".into()))?;
        let (w, h) = (params.width as f64, params.height as f64);
        let max_r_px = [(0.0, 0.0), (w, 0.0), (0.0, h), (w, h)]
            .iter()
            .map(|&(u, v)| (a_inv * Vector2::new(u - params.cx, v - params.cy)).norm())
            .fold(0.0, f64::max);
        const SAMPLES: usize = 4096;
        let (bw, fw, max_theta_rad);
        match params.poly_direction {
            PolyDirection::Backward => {
                let poly = params.poly.clone();
                // theta must increase with r over the image.
                for i in 0..=SAMPLES {
                    let r = max_r_px * i as f64 / SAMPLES as f64;
                    if poly_deriv(&poly, r) <= 0.0 {
                        return Err(bad(format!("backward polynomial is not increasing at r = {r:.1} px, inside the image")));
                    }
                }
                if poly[0].abs() > 1e-9 {
                    return Err(bad("backward polynomial must map r = 0 to theta = 0".into()));
                }
                max_theta_rad = poly_eval(&poly, max_r_px);
                if max_theta_rad >= std::f64::consts::PI {
                    return Err(bad("field of view exceeds 360 degrees".into()));
                }
                let rs: Vec<f64> = (0..=SAMPLES).map(|i| max_r_px * i as f64 / SAMPLES as f64).collect();
                let thetas: Vec<f64> = rs.iter().map(|&r| poly_eval(&poly, r)).collect();
                fw = fit_poly_through_origin(&thetas, &rs, 6);
                bw = poly;
            }
            PolyDirection::Forward => {
                let poly = params.poly.clone();
                if poly[0].abs() > 1e-6 {
                    return Err(bad("forward polynomial must map theta = 0 to r = 0".into()));
                }
                // Walk theta up until r reaches the image corner, requiring r to increase.
                let step = 1e-4;
                let mut theta = 0.0;
                loop {
                    if poly_deriv(&poly, theta) <= 0.0 {
                        return Err(bad(format!(
                            "forward polynomial stops increasing at theta = {:.2} deg, before the image corner",
                            theta.to_degrees()
                        )));
                    }
                    if poly_eval(&poly, theta + step) >= max_r_px {
                        break;
                    }
                    theta += step;
                    if theta >= std::f64::consts::PI {
                        return Err(bad("field of view exceeds 360 degrees".into()));
                    }
                }
                // Refine the corner angle by bisection.
                let (mut lo, mut hi) = (theta, theta + step);
                for _ in 0..60 {
                    let mid = 0.5 * (lo + hi);
                    if poly_eval(&poly, mid) < max_r_px {
                        lo = mid
                    } else {
                        hi = mid
                    }
                }
                max_theta_rad = hi;
                let thetas: Vec<f64> = (0..=SAMPLES).map(|i| max_theta_rad * i as f64 / SAMPLES as f64).collect();
                let rs: Vec<f64> = thetas.iter().map(|&t| poly_eval(&poly, t)).collect();
                bw = fit_poly_through_origin(&rs, &thetas, 6);
                fw = poly;
            }
        }
        Ok(Self { params, bw, fw, a, a_inv, max_r_px, max_theta_rad })
    }

    pub fn params(&self) -> &FThetaParams {
        &self.params
    }
    /// The backward polynomial `theta = bw(r)` (given or fitted), lowest order first.
    pub fn backward_poly(&self) -> &[f64] {
        &self.bw
    }
    /// The forward polynomial `r = fw(theta)` (given or fitted), lowest order first.
    pub fn forward_poly(&self) -> &[f64] {
        &self.fw
    }
    /// Half field of view reached at the image corner farthest from the principal point.
    pub fn max_ray_angle_rad(&self) -> f64 {
        self.max_theta_rad
    }

    /// Exact `r` for a ray angle: the forward polynomial, or Newton on the backward one.
    fn radius_of_angle(&self, theta: f64) -> f64 {
        match self.params.poly_direction {
            PolyDirection::Forward => poly_eval(&self.fw, theta),
            PolyDirection::Backward => newton_invert(&self.bw, theta, poly_eval(&self.fw, theta), self.max_r_px),
        }
    }

    /// Exact ray angle for a radius: the backward polynomial, or Newton on the forward one.
    fn angle_of_radius(&self, r: f64) -> f64 {
        match self.params.poly_direction {
            PolyDirection::Backward => poly_eval(&self.bw, r),
            PolyDirection::Forward => newton_invert(&self.fw, r, poly_eval(&self.bw, r), self.max_theta_rad),
        }
    }

    /// The same camera at another resolution. Non-uniform scaling is exact: the radial polynomial
    /// is scaled by the vertical factor and the horizontal remainder goes into the linear term.
    pub fn scaled_to(&self, width: u32, height: u32) -> Result<Self, SceneError> {
        let sx = width as f64 / self.params.width as f64;
        let sy = height as f64 / self.params.height as f64;
        let s = sy;
        let poly = match self.params.poly_direction {
            PolyDirection::Backward => self.params.poly.iter().enumerate().map(|(i, &k)| k / s.powi(i as i32)).collect(),
            PolyDirection::Forward => self.params.poly.iter().map(|&k| k * s).collect(),
        };
        let [c, d, e] = self.params.linear_cde;
        Self::new(FThetaParams {
            width,
            height,
            cx: self.params.cx * sx,
            cy: self.params.cy * sy,
            poly,
            poly_direction: self.params.poly_direction,
            linear_cde: [c * sx / sy, d * sx / sy, e],
        })
    }
}

/// Solves `p(x) = y` for x in [0, x_max] by safeguarded Newton from `guess`.
fn newton_invert(p: &[f64], y: f64, guess: f64, x_max: f64) -> f64 {
    let (mut lo, mut hi) = (0.0, x_max * 1.5);
    let mut x = guess.clamp(lo, hi);
    for _ in 0..60 {
        let f = poly_eval(p, x) - y;
        if f.abs() <= 1e-15 * (1.0 + y.abs()) {
            break;
        }
        if f > 0.0 {
            hi = x
        } else {
            lo = x
        }
        let df = poly_deriv(p, x);
        let mut next = if df > 0.0 { x - f / df } else { 0.5 * (lo + hi) };
        if !(next > lo && next < hi) {
            next = 0.5 * (lo + hi);
        }
        if (next - x).abs() <= 1e-15 * (1.0 + x.abs()) {
            x = next;
            break;
        }
        x = next;
    }
    x
}

impl CameraModel for FTheta {
    fn width(&self) -> u32 {
        self.params.width
    }
    fn height(&self) -> u32 {
        self.params.height
    }
    fn project(&self, p: &Vector3<f64>) -> Option<Point2<f64>> {
        if !p.iter().all(|v| v.is_finite()) {
            return None;
        }
        let xy = (p.x * p.x + p.y * p.y).sqrt();
        if xy == 0.0 && p.z <= 0.0 {
            return None;
        }
        let theta = xy.atan2(p.z);
        if theta > self.max_theta_rad * (1.0 + 1e-9) {
            return None;
        }
        let r = self.radius_of_angle(theta);
        let dir = if xy > 0.0 { Vector2::new(p.x / xy, p.y / xy) } else { Vector2::zeros() };
        let off = self.a * (dir * r);
        Some(Point2::new(self.params.cx + off.x, self.params.cy + off.y))
    }
    fn unproject(&self, px: &Point2<f64>) -> Option<Unit<Vector3<f64>>> {
        if !(px.x.is_finite() && px.y.is_finite()) {
            return None;
        }
        let off = self.a_inv * Vector2::new(px.x - self.params.cx, px.y - self.params.cy);
        let r = off.norm();
        if r > self.max_r_px * (1.0 + 1e-9) {
            return None;
        }
        if r == 0.0 {
            return Some(Vector3::z_axis());
        }
        let theta = self.angle_of_radius(r);
        let (s, c) = theta.sin_cos();
        Some(Unit::new_normalize(Vector3::new(s * off.x / r, s * off.y / r, c)))
    }
}

/// Any supported camera model, tagged by `type` in JSON.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Camera {
    Pinhole(Pinhole),
    Ftheta(FTheta),
}

impl Camera {
    /// `"pinhole"` or `"ftheta"`, as stored in scene logs.
    pub fn kind(&self) -> &'static str {
        match self {
            Camera::Pinhole(_) => "pinhole",
            Camera::Ftheta(_) => "ftheta",
        }
    }
    pub fn scaled_to(&self, width: u32, height: u32) -> Result<Self, SceneError> {
        Ok(match self {
            Camera::Pinhole(p) => Camera::Pinhole(p.scaled_to(width, height)),
            Camera::Ftheta(f) => Camera::Ftheta(f.scaled_to(width, height)?),
        })
    }
}

impl CameraModel for Camera {
    fn width(&self) -> u32 {
        match self {
            Camera::Pinhole(c) => c.width(),
            Camera::Ftheta(c) => c.width(),
        }
    }
    fn height(&self) -> u32 {
        match self {
            Camera::Pinhole(c) => c.height(),
            Camera::Ftheta(c) => c.height(),
        }
    }
    fn project(&self, p: &Vector3<f64>) -> Option<Point2<f64>> {
        match self {
            Camera::Pinhole(c) => c.project(p),
            Camera::Ftheta(c) => c.project(p),
        }
    }
    fn unproject(&self, px: &Point2<f64>) -> Option<Unit<Vector3<f64>>> {
        match self {
            Camera::Pinhole(c) => c.unproject(px),
            Camera::Ftheta(c) => c.unproject(px),
        }
    }
}

/// Largest project(unproject(pixel)) error in pixels over a `grid` x `grid` lattice covering the
/// whole image, corners and edges included. Used by tests and `worldrig rig check`.
pub fn max_round_trip_error_px(cam: &dyn CameraModel, grid: usize) -> f64 {
    let (w, h) = (cam.width() as f64, cam.height() as f64);
    let mut worst: f64 = 0.0;
    for i in 0..=grid {
        for j in 0..=grid {
            let px = Point2::new(w * i as f64 / grid as f64, h * j as f64 / grid as f64);
            let err = match cam.unproject(&px).and_then(|ray| cam.project(&(ray.into_inner() * 7.3))) {
                Some(back) => (back - px).norm(),
                None => f64::INFINITY,
            };
            worst = worst.max(err);
        }
    }
    worst
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wide_bw() -> FTheta {
        // RDS-HQ camera_front_wide_120fov (1920x1080).
        FTheta::new(FThetaParams {
            width: 1920,
            height: 1080,
            cx: 954.2063,
            cy: 757.15415,
            poly: vec![0.0, 1.05758628e-03, 8.21162080e-09, -3.39450080e-11, 8.07342080e-14, -2.94602496e-17],
            poly_direction: PolyDirection::Backward,
            linear_cde: [1.0, 0.0, 0.0],
        })
        .unwrap()
    }

    fn tele_fw() -> FTheta {
        // RDS-HQ camera_front_tele_30fov (1920x1080), forward polynomial.
        FTheta::new(FThetaParams {
            width: 1920,
            height: 1080,
            cx: 978.44415,
            cy: 597.66565,
            poly: vec![0.0, 3675.74975, 178.78496, -387.41287, -11.4377625, 18.0317115],
            poly_direction: PolyDirection::Forward,
            linear_cde: [1.0, 0.0, 0.0],
        })
        .unwrap()
    }

    #[test]
    fn ftheta_round_trips_both_directions() {
        for cam in [wide_bw(), tele_fw()] {
            let err = max_round_trip_error_px(&cam, 64);
            assert!(err < 1e-3, "round trip error {err} px");
        }
    }

    #[test]
    fn ftheta_linear_term_and_scaling_round_trip() {
        let mut p = wide_bw().params().clone();
        p.linear_cde = [1.002, 0.001, -0.0015];
        let cam = FTheta::new(p).unwrap();
        assert!(max_round_trip_error_px(&cam, 48) < 1e-3);
        let small = cam.scaled_to(448, 256).unwrap();
        assert!(max_round_trip_error_px(&small, 48) < 1e-3);
        // Scaling maps every pixel linearly: a ray's pixel scales by (sx, sy).
        let ray = Vector3::new(0.4, -0.2, 1.0);
        let a = cam.project(&ray).unwrap();
        let b = small.project(&ray).unwrap();
        assert!((a.x * 448.0 / 1920.0 - b.x).abs() < 1e-9 && (a.y * 256.0 / 1080.0 - b.y).abs() < 1e-9);
    }

    #[test]
    fn fitted_inverse_is_close_and_refined_exact() {
        let cam = wide_bw();
        for i in 1..100 {
            let r = cam.max_r_px * i as f64 / 100.0;
            let theta = poly_eval(cam.backward_poly(), r);
            assert!((poly_eval(cam.forward_poly(), theta) - r).abs() < 1.0, "fit off by > 1 px");
            assert!((cam.radius_of_angle(theta) - r).abs() < 1e-9);
        }
    }

    #[test]
    fn ftheta_rejects_outside_fov_and_bad_polys() {
        let cam = tele_fw();
        assert!(cam.project(&Vector3::new(1.0, 0.0, 0.0)).is_none());
        assert!(cam.project(&Vector3::new(0.0, 0.0, -1.0)).is_none());
        assert!(cam.unproject(&Point2::new(-5000.0, 0.0)).is_none());
        let mut p = wide_bw().params().clone();
        p.poly = vec![0.0, -1e-3];
        assert!(FTheta::new(p).is_err());
    }

    #[test]
    fn pinhole_with_distortion_round_trips() {
        let mut cam = Pinhole::new(640, 480, 500.0, 505.0, 320.5, 240.2);
        assert!(max_round_trip_error_px(&cam, 40) < 1e-9);
        cam.distortion = Some([-0.28, 0.07, 0.001, -0.0005, -0.005]);
        assert!(max_round_trip_error_px(&cam, 40) < 1e-3);
        // Principal ray goes to the principal point.
        let c = cam.project(&Vector3::new(0.0, 0.0, 2.0)).unwrap();
        assert!((c.x - 320.5).abs() < 1e-12 && (c.y - 240.2).abs() < 1e-12);
        assert!(cam.project(&Vector3::new(0.0, 0.0, -2.0)).is_none());
    }

    #[test]
    fn camera_enum_json_round_trip() {
        let cams = vec![Camera::Ftheta(tele_fw()), Camera::Pinhole(Pinhole::new(10, 10, 5.0, 5.0, 5.0, 5.0))];
        let s = serde_json::to_string(&cams).unwrap();
        let back: Vec<Camera> = serde_json::from_str(&s).unwrap();
        assert_eq!(cams, back);
        assert!(s.contains("\"type\":\"ftheta\"") && s.contains("\"poly_direction\":\"forward\""));
    }
}
