//! Objects: oriented cuboids tracked over time.

use nalgebra::{Point3, UnitQuaternion, Vector3};
use serde::{Deserialize, Serialize};

/// An oriented box: centre (world frame, metres), size (length along x, width along y, height
/// along z of the box frame) and orientation `world_from_box`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Cuboid {
    pub centre_m: Point3<f64>,
    pub size_lwh_m: Vector3<f64>,
    pub world_from_box: UnitQuaternion<f64>,
}

impl Cuboid {
    /// The eight corners in the world frame: bottom face first (counter-clockwise from the
    /// rear-right corner seen from above), then the top face in the same order.
    pub fn corners(&self) -> [Point3<f64>; 8] {
        let h = self.size_lwh_m * 0.5;
        let signs = [(-1.0, -1.0), (1.0, -1.0), (1.0, 1.0), (-1.0, 1.0)];
        let mut out = [Point3::origin(); 8];
        for (k, z) in [-1.0, 1.0].iter().enumerate() {
            for (i, (sx, sy)) in signs.iter().enumerate() {
                let local = Vector3::new(sx * h.x, sy * h.y, z * h.z);
                out[k * 4 + i] = self.centre_m + self.world_from_box * local;
            }
        }
        out
    }
}

/// One observation of a tracked object.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ObjectSample {
    pub timestamp_us: i64,
    pub track_id: String,
    /// `car`, `truck`, `pedestrian`, `cyclist`, ... (free text, lower case).
    pub category: String,
    pub cuboid: Cuboid,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn corners_span_the_box() {
        let c = Cuboid {
            centre_m: Point3::new(1.0, 2.0, 0.75),
            size_lwh_m: Vector3::new(4.0, 2.0, 1.5),
            world_from_box: UnitQuaternion::from_euler_angles(0.0, 0.0, std::f64::consts::FRAC_PI_2),
        };
        let k = c.corners();
        let xs: Vec<f64> = k.iter().map(|p| p.x).collect();
        let ys: Vec<f64> = k.iter().map(|p| p.y).collect();
        let span = |v: &[f64]| v.iter().cloned().fold(f64::MIN, f64::max) - v.iter().cloned().fold(f64::MAX, f64::min);
        // Rotated by 90 degrees: length now along y.
        assert!((span(&xs) - 2.0).abs() < 1e-9 && (span(&ys) - 4.0).abs() < 1e-9);
        assert!((k[0].z - 0.0).abs() < 1e-12 && (k[4].z - 1.5).abs() < 1e-12);
    }
}
