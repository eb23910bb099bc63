//! Evaluation of matches against known cameras, independent of any estimator: the ground-truth
//! fundamental matrix of two calibrated cameras, the Sampson distance of a match, and per-pair
//! statistics (inlier count and ratio, spatial spread). Used by the feature tests and by
//! `examples/features_strecha.rs` on the Strecha et al. (CVPR 2008) multi-view benchmark images.

use std::path::Path;

use nalgebra::{Matrix3, Vector3};

use super::{Features, Match};
use crate::error::CheckError;

/// A pinhole camera in the Strecha `.camera` text format: `K` (3 rows), a distortion row (zeros),
/// `R` (3 rows, camera-to-world rotation), the centre `C` (world), then `width height`. The
/// projection is `P = K [R^T | -R^T C]`.
#[derive(Debug, Clone, PartialEq)]
pub struct PinholeCamera {
    pub k: Matrix3<f64>,
    /// Camera-to-world rotation.
    pub r_cam_to_world: Matrix3<f64>,
    /// Camera centre in world coordinates.
    pub centre: Vector3<f64>,
    pub width_px: usize,
    pub height_px: usize,
}

impl PinholeCamera {
    /// Parses the Strecha `.camera` format.
    pub fn parse_strecha(text: &str) -> Result<Self, CheckError> {
        let nums: Vec<f64> = text.split_whitespace().map(|t| t.parse::<f64>()).collect::<Result<_, _>>().map_err(|e| CheckError::Invalid(format!("camera file: {e}")))?;
        if nums.len() < 9 + 3 + 9 + 3 + 2 {
            return Err(CheckError::Invalid(format!("camera file: {} numbers, expected 26", nums.len())));
        }
        let k = Matrix3::from_row_slice(&nums[0..9]);
        let r = Matrix3::from_row_slice(&nums[12..21]);
        let centre = Vector3::new(nums[21], nums[22], nums[23]);
        Ok(Self { k, r_cam_to_world: r, centre, width_px: nums[24] as usize, height_px: nums[25] as usize })
    }

    /// Reads a Strecha `.camera` file.
    pub fn open_strecha(path: &Path) -> Result<Self, CheckError> {
        let text = std::fs::read_to_string(path).map_err(|e| CheckError::Io { path: path.display().to_string(), source: e })?;
        Self::parse_strecha(&text)
    }
}

/// Relative pose of camera 2 with respect to camera 1: `x2 = R x1 + t` in camera coordinates.
pub fn relative_pose(c1: &PinholeCamera, c2: &PinholeCamera) -> (Matrix3<f64>, Vector3<f64>) {
    let r = c2.r_cam_to_world.transpose() * c1.r_cam_to_world;
    let t = c2.r_cam_to_world.transpose() * (c1.centre - c2.centre);
    (r, t)
}

fn skew(v: &Vector3<f64>) -> Matrix3<f64> {
    Matrix3::new(0.0, -v.z, v.y, v.z, 0.0, -v.x, -v.y, v.x, 0.0)
}

/// Fundamental matrix with `x2^T F x1 = 0` for pixel points (homogeneous) of cameras 1 and 2.
pub fn fundamental(c1: &PinholeCamera, c2: &PinholeCamera) -> Option<Matrix3<f64>> {
    let (r, t) = relative_pose(c1, c2);
    let e = skew(&t) * r;
    let k1_inv = c1.k.try_inverse()?;
    let k2_inv = c2.k.try_inverse()?;
    Some(k2_inv.transpose() * e * k1_inv)
}

/// Sampson distance in pixels (square root of the Sampson error) of the match `p1 <-> p2`.
pub fn sampson_px(f: &Matrix3<f64>, p1: [f64; 2], p2: [f64; 2]) -> f64 {
    let x1 = Vector3::new(p1[0], p1[1], 1.0);
    let x2 = Vector3::new(p2[0], p2[1], 1.0);
    let fx1 = f * x1;
    let ftx2 = f.transpose() * x2;
    let num = x2.dot(&fx1);
    let den = fx1.x * fx1.x + fx1.y * fx1.y + ftx2.x * ftx2.x + ftx2.y * ftx2.y;
    if den <= 0.0 {
        return f64::INFINITY;
    }
    (num * num / den).sqrt()
}

/// Statistics of one matched pair against a known fundamental matrix.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PairStats {
    pub matches: usize,
    /// Matches with Sampson distance below the threshold.
    pub inliers: usize,
    pub inlier_ratio: f64,
    /// Median Sampson distance of the inliers (pixels).
    pub inlier_median_px: f64,
    /// Fraction of the cells of an 8 x 8 grid over image 1 holding at least one inlier.
    pub spread: f64,
}

/// Scores matches between `a` (image 1) and `b` (image 2) under `f` (`x_b^T F x_a = 0`).
pub fn pair_stats(a: &Features, b: &Features, matches: &[Match], f: &Matrix3<f64>, width: usize, height: usize, threshold_px: f64) -> PairStats {
    let mut d_in: Vec<f64> = Vec::new();
    let mut cells = [false; 64];
    for m in matches {
        let (ka, kb) = (&a.keypoints[m.a as usize], &b.keypoints[m.b as usize]);
        let d = sampson_px(f, [ka.x as f64, ka.y as f64], [kb.x as f64, kb.y as f64]);
        if d < threshold_px {
            d_in.push(d);
            let cx = ((ka.x.max(0.0) as usize) * 8 / width.max(1)).min(7);
            let cy = ((ka.y.max(0.0) as usize) * 8 / height.max(1)).min(7);
            cells[cy * 8 + cx] = true;
        }
    }
    d_in.sort_by(f64::total_cmp);
    let inliers = d_in.len();
    PairStats {
        matches: matches.len(),
        inliers,
        inlier_ratio: if matches.is_empty() { 0.0 } else { inliers as f64 / matches.len() as f64 },
        inlier_median_px: if inliers == 0 { f64::NAN } else { d_in[inliers / 2] },
        spread: cells.iter().filter(|&&c| c).count() as f64 / 64.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fundamental_of_a_projected_point_is_zero() {
        let text = "900 0 500\n0 900 340\n0 0 1\n0 0 0\n1 0 0\n0 1 0\n0 0 1\n0 0 0\n1024 683\n";
        let c1 = PinholeCamera::parse_strecha(text).unwrap();
        let mut c2 = c1.clone();
        let a: f64 = 0.1;
        c2.r_cam_to_world = Matrix3::new(a.cos(), 0.0, a.sin(), 0.0, 1.0, 0.0, -a.sin(), 0.0, a.cos());
        c2.centre = Vector3::new(1.0, 0.2, 0.1);
        let f = fundamental(&c1, &c2).unwrap();
        let project = |c: &PinholeCamera, x: &Vector3<f64>| {
            let p = c.k * (c.r_cam_to_world.transpose() * (x - c.centre));
            [p.x / p.z, p.y / p.z]
        };
        for x in [Vector3::new(0.3, -0.2, 5.0), Vector3::new(-1.0, 0.5, 8.0)] {
            let (p1, p2) = (project(&c1, &x), project(&c2, &x));
            assert!(sampson_px(&f, p1, p2) < 1e-6);
            assert!(sampson_px(&f, p1, [p2[0] + 5.0, p2[1] + 5.0]) > 0.5);
        }
    }
}
