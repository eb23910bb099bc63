//! NVIDIA's median AV rig calibration (`av22_median_calib.npz`, shipped with the geometric
//! consistency evaluation of nvidia-cosmos/cosmos-cookbook) as a worldrig [`Rig`].
//!
//! The file holds, per camera, f-theta intrinsics (`intrinsics_<cam>`: width, height, centre and a
//! backward polynomial) and `pose_<cam>`: the 4x4 camera-to-front-camera transform in OpenCV RDF
//! axes (`front_from_camera`; the front camera itself has none). It does not say where the front
//! camera sits on the car, so the rig frame (FLU, origin at the rear-axle centre on the ground)
//! needs `rig_from_front`, for which [`default_rig_from_front`] gives a documented assumption.

use std::path::Path;

use nalgebra::{Isometry3, Matrix4, Translation3};
use worldrig_scene::camera::{FThetaParams, PolyDirection};
use worldrig_scene::pose::{flu_from_rdf, pose_from_matrix4};
use worldrig_scene::{Camera, CameraSpec, FTheta, Pose3, Rig};

use crate::error::LogError;
use crate::npy::{read_npz, NpyData};

/// Calibration key and RDS-HQ camera name of each camera, front first.
pub const AV22_CAMERAS: [(&str, &str); 7] = [
    ("front", "camera_front_wide_120fov"),
    ("cross_left", "camera_cross_left_120fov"),
    ("cross_right", "camera_cross_right_120fov"),
    ("rear_left", "camera_rear_left_70fov"),
    ("rear_right", "camera_rear_right_70fov"),
    ("rear_tele", "camera_rear_tele_30fov"),
    ("front_tele", "camera_front_tele_30fov"),
];

/// The six cameras of Cosmos' multi-view driving model, in its panorama order.
pub const COSMOS_SIX: [&str; 6] = [
    "camera_front_wide_120fov",
    "camera_cross_left_120fov",
    "camera_cross_right_120fov",
    "camera_rear_left_70fov",
    "camera_rear_right_70fov",
    "camera_rear_tele_30fov",
];

/// Assumed mount of the front wide camera: 1.70 m ahead of the rear axle, on the centre line,
/// 1.45 m above the ground, looking straight ahead (a windshield-top mount on a mid-size car).
/// The calibration gives every other camera relative to this one, so only the rig-level offset
/// rests on this assumption; `worldrig rig from-calib --front-mount` overrides it.
pub const DEFAULT_FRONT_MOUNT_M: [f64; 3] = [1.70, 0.0, 1.45];

/// `rig_from_front` for a front camera at `mount_m` looking along the rig's +x axis.
pub fn rig_from_front_at(mount_m: [f64; 3]) -> Pose3 {
    Isometry3::from_parts(Translation3::new(mount_m[0], mount_m[1], mount_m[2]), flu_from_rdf())
}

pub fn default_rig_from_front() -> Pose3 {
    rig_from_front_at(DEFAULT_FRONT_MOUNT_M)
}

/// Reads the 7-camera rig from an `av22_median_calib.npz` file.
pub fn rig_from_av22_npz(path: &Path, rig_from_front: &Pose3, name: &str) -> Result<Rig, LogError> {
    let entries = read_npz(path).map_err(|e| LogError::input(path, e.to_string()))?;
    let mut cameras = Vec::new();
    for (key, rds_name) in AV22_CAMERAS {
        let bad = |what: String| LogError::input(path, format!("entry `intrinsics_{key}`: {what}"));
        let intr = entries.get(&format!("intrinsics_{key}")).ok_or_else(|| bad("missing".into()))?;
        let NpyData::Object(obj) = &intr.data else { return Err(bad("expected a pickled dict".into())) };
        let num = |k: &str| obj.get(k).and_then(|v| v.as_f64()).ok_or_else(|| bad(format!("no numeric `{k}`")));
        let width = num("width")?;
        let height = num("height")?;
        let centre = obj.get("center").and_then(|v| v.as_f64_vec()).ok_or_else(|| bad("no `center`".into()))?;
        let poly = obj.get("bw_poly").and_then(|v| v.as_f64_vec()).ok_or_else(|| bad("no `bw_poly`".into()))?;
        if centre.len() != 2 || width <= 0.0 || height <= 0.0 || width.fract() != 0.0 || height.fract() != 0.0 {
            return Err(bad(format!("bad size {width}x{height} or centre {centre:?}")));
        }
        let ftheta = FTheta::new(FThetaParams {
            width: width as u32,
            height: height as u32,
            cx: centre[0],
            cy: centre[1],
            poly,
            poly_direction: PolyDirection::Backward,
            linear_cde: [1.0, 0.0, 0.0],
        })
        .map_err(|e| bad(e.to_string()))?;
        let front_from_camera = if key == "front" {
            Pose3::identity()
        } else {
            let pose = entries.get(&format!("pose_{key}")).ok_or_else(|| LogError::input(path, format!("entry `pose_{key}` missing")))?;
            let v = pose.as_f64().filter(|v| v.len() == 16 && pose.shape == [4, 4]).ok_or_else(|| {
                LogError::input(path, format!("entry `pose_{key}`: expected a 4x4 float array, got shape {:?}", pose.shape))
            })?;
            pose_from_matrix4(&Matrix4::from_row_slice(v)).map_err(|e| LogError::input(path, format!("entry `pose_{key}`: {e}")))?
        };
        cameras.push(CameraSpec { name: rds_name.to_string(), model: Camera::Ftheta(ftheta), rig_from_camera: rig_from_front * front_from_camera });
    }
    let rig = Rig {
        name: name.to_string(),
        source: format!(
            "NVIDIA av22 median calibration (av22_median_calib.npz); front camera mount assumed at {:?} m in the rig frame",
            rig_from_front.translation.vector.as_slice()
        ),
        cameras,
    };
    rig.validate().map_err(|e| LogError::input(path, e.to_string()))?;
    Ok(rig)
}

/// The shipped 7-camera rig (`configs/rigs/av22-7cam.json`, derived from the calibration by
/// `worldrig rig from-calib`), embedded so the importer needs no external file.
pub fn embedded_av22_rig() -> Rig {
    // The file is generated and checked by the test suite; a parse failure is a build defect.
    Rig::from_json(include_str!("../../../configs/rigs/av22-7cam.json")).expect("embedded configs/rigs/av22-7cam.json is valid")
}

#[cfg(test)]
mod tests {
    use super::*;
    use worldrig_scene::camera::max_round_trip_error_px;

    const NPZ: &str = "../../../shared/data/av22_median_calib.npz";

    #[test]
    fn real_rig_round_trips_on_every_camera() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(NPZ);
        let rig = rig_from_av22_npz(&path, &default_rig_from_front(), "av22-7cam").expect("reads the shared calibration");
        assert_eq!(rig.cameras.len(), 7);
        for cam in &rig.cameras {
            let err = max_round_trip_error_px(&cam.model, 96);
            assert!(err < 1e-3, "{}: round trip {err} px", cam.name);
            let small = cam.model.scaled_to(448, 256).unwrap();
            let err = max_round_trip_error_px(&small, 96);
            assert!(err < 1e-3, "{} at 448x256: round trip {err} px", cam.name);
        }
        // Cross-left looks left (+y in FLU), rear cameras look backwards.
        let axis = |n: &str| rig.camera(n).unwrap().optical_axis_rig();
        assert!(axis("camera_cross_left_120fov").y > 0.8);
        assert!(axis("camera_cross_right_120fov").y < -0.8);
        assert!(axis("camera_rear_tele_30fov").x < -0.99);
        assert!(axis("camera_front_wide_120fov").x > 0.999);
    }

    #[test]
    fn embedded_rig_matches_calibration() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(NPZ);
        let rig = rig_from_av22_npz(&path, &default_rig_from_front(), "av22-7cam").unwrap();
        // The shipped file is exactly what `worldrig rig from-calib` writes for this calibration.
        let shipped = include_str!("../../../configs/rigs/av22-7cam.json");
        assert!(rig.to_json_pretty() + "\n" == shipped, "configs/rigs/av22-7cam.json is stale: regenerate it (configs/rigs/README.md)");
        assert_eq!(embedded_av22_rig().cameras.len(), 7);
        let six = rig_from_av22_npz(&path, &default_rig_from_front(), "cosmos-6cam").unwrap().subset("cosmos-6cam", &COSMOS_SIX).unwrap();
        assert!(six.to_json_pretty() + "\n" == include_str!("../../../configs/rigs/cosmos-6cam.json"), "configs/rigs/cosmos-6cam.json is stale");
        let small = rig_from_av22_npz(&path, &default_rig_from_front(), "cosmos-6cam-448x256")
            .unwrap()
            .subset("cosmos-6cam-448x256", &COSMOS_SIX)
            .unwrap()
            .scaled_to(448, 256)
            .unwrap();
        assert!(small.to_json_pretty() + "\n" == include_str!("../../../configs/rigs/cosmos-6cam-448x256.json"), "configs/rigs/cosmos-6cam-448x256.json is stale");
    }
}
