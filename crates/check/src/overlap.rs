//! Which cameras of a rig see the same part of the world (the CSE pairs), found from the
//! calibration rather than hard-coded, and the per-camera constants the metrics need.

use nalgebra::{Point2, Point3, Vector3};
use worldrig_scene::{CameraModel, Rig};

/// Depths (metres along each ray) at which overlap is tested: a pair overlaps when points seen by
/// one camera at street-scene distances also land in the other's image.
pub const OVERLAP_DEPTHS_M: [f64; 3] = [8.0, 20.0, 50.0];

/// Fraction of camera `a`'s image (sampled on a `grid` x `grid` lattice of pixels) whose rays, at
/// each of [`OVERLAP_DEPTHS_M`], project inside camera `b`'s image; the mean over the depths.
pub fn overlap_fraction(rig: &Rig, a: usize, b: usize, grid: usize) -> f64 {
    let (Some(ca), Some(_)) = (rig.cameras.get(a), rig.cameras.get(b)) else { return 0.0 };
    let (w, h) = (ca.model.width() as f64, ca.model.height() as f64);
    let mut hits = 0usize;
    let mut total = 0usize;
    for j in 0..grid {
        for i in 0..grid {
            let px = Point2::new((i as f64 + 0.5) / grid as f64 * w - 0.5, (j as f64 + 0.5) / grid as f64 * h - 0.5);
            let Some(ray) = ca.model.unproject(&px) else { continue };
            for depth in OVERLAP_DEPTHS_M {
                total += 1;
                let p_rig: Point3<f64> = ca.rig_from_camera * Point3::from(ray.into_inner() * depth);
                if rig.project_rig_point(b, &p_rig).is_some() {
                    hits += 1;
                }
            }
        }
    }
    if total == 0 {
        0.0
    } else {
        hits as f64 / total as f64
    }
}

/// A pair of overlapping cameras (indices into the rig, `a < b`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OverlapPair {
    pub a: usize,
    pub b: usize,
    /// The smaller of the two directed overlap fractions.
    pub fraction: f64,
}

/// Every unordered camera pair whose overlap (the smaller of the two directed fractions) is at
/// least `min_fraction`.
pub fn overlapping_pairs(rig: &Rig, min_fraction: f64) -> Vec<OverlapPair> {
    let n = rig.cameras.len();
    let mut out = Vec::new();
    for a in 0..n {
        for b in a + 1..n {
            let f = overlap_fraction(rig, a, b, 24).min(overlap_fraction(rig, b, a, 24));
            if f >= min_fraction {
                out.push(OverlapPair { a, b, fraction: f });
            }
        }
    }
    out
}

/// Pixels per radian at the principal point (the focal length of the ideal pinhole view a
/// camera is rectified to), measured through the camera model so it holds for any model.
pub fn focal_px(model: &dyn CameraModel) -> f64 {
    let eps = 1e-4;
    let Some(c) = model.project(&Vector3::z()) else { return 1.0 };
    let mut sum = 0.0;
    let mut n = 0.0;
    for d in [Vector3::new(eps, 0.0, 1.0), Vector3::new(0.0, eps, 1.0)] {
        if let Some(p) = model.project(&d) {
            sum += (p - c).norm() / eps.atan();
            n += 1.0;
        }
    }
    if n > 0.0 {
        sum / n
    } else {
        1.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cosmos_rig() -> Rig {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../configs/rigs/cosmos-6cam-448x256.json");
        Rig::from_json(&std::fs::read_to_string(path).unwrap()).unwrap()
    }

    #[test]
    fn front_overlaps_its_neighbours_not_the_rear() {
        let rig = cosmos_rig();
        let names: Vec<&str> = rig.camera_names();
        let pairs = overlapping_pairs(&rig, 0.02);
        let named: Vec<(&str, &str)> = pairs.iter().map(|p| (names[p.a], names[p.b])).collect();
        let has = |x: &str, y: &str| named.iter().any(|&(a, b)| (a.contains(x) && b.contains(y)) || (a.contains(y) && b.contains(x)));
        assert!(has("front_wide", "cross_left"), "{named:?}");
        assert!(has("front_wide", "cross_right"), "{named:?}");
        assert!(!has("front_wide", "rear_tele"), "{named:?}");
        // Symmetric definition and a camera overlaps itself fully.
        assert!((overlap_fraction(&rig, 0, 0, 16) - 1.0).abs() < 1e-9);
    }

    #[test]
    fn focal_of_pinhole_is_fx() {
        let cam = worldrig_scene::Pinhole::new(640, 480, 500.0, 500.0, 320.0, 240.0);
        assert!((focal_px(&cam) - 500.0).abs() < 1e-3);
    }
}
