//! Camera rigs: named cameras with their models and `rig_from_camera` extrinsics.
//!
//! The rig frame is FLU with its origin at the rear-axle centre on the ground; each camera frame is
//! OpenCV RDF. Rigs are stored as JSON (`configs/rigs/*.json`) and in the `rig` table of scene logs.

use nalgebra::{Point3, Vector3};
use serde::{Deserialize, Serialize};

use crate::camera::{Camera, CameraModel};
use crate::pose::{Pose3, PoseRecord};
use crate::SceneError;

/// One camera of a rig.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CameraSpec {
    pub name: String,
    pub model: Camera,
    #[serde(with = "pose_serde")]
    pub rig_from_camera: Pose3,
}

mod pose_serde {
    use super::*;
    use serde::{Deserializer, Serializer};
    pub fn serialize<S: Serializer>(p: &Pose3, s: S) -> Result<S::Ok, S::Error> {
        PoseRecord::from_pose(p).serialize(s)
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Pose3, D::Error> {
        let rec = PoseRecord::deserialize(d)?;
        rec.to_pose().map_err(serde::de::Error::custom)
    }
}

impl CameraSpec {
    /// The camera centre in the rig frame.
    pub fn centre_rig(&self) -> Point3<f64> {
        Point3::from(self.rig_from_camera.translation.vector)
    }
    /// The optical axis (camera +z) in the rig frame.
    pub fn optical_axis_rig(&self) -> Vector3<f64> {
        self.rig_from_camera.rotation * Vector3::z()
    }
}

/// A named set of calibrated cameras.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rig {
    pub name: String,
    /// Where the calibration came from (free text, carried into scene logs).
    #[serde(default)]
    pub source: String,
    pub cameras: Vec<CameraSpec>,
}

impl Rig {
    /// Parses and validates a rig from JSON text.
    pub fn from_json(text: &str) -> Result<Self, SceneError> {
        let rig: Rig = serde_json::from_str(text)
            .map_err(|e| SceneError::InvalidRig { rig: "<json>".into(), reason: e.to_string() })?;
        rig.validate()?;
        Ok(rig)
    }

    pub fn to_json_pretty(&self) -> String {
        // Serialising plain data with string keys cannot fail.
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    /// Unique, non-empty camera names and valid camera models.
    pub fn validate(&self) -> Result<(), SceneError> {
        let bad = |reason: String| Err(SceneError::InvalidRig { rig: self.name.clone(), reason });
        if self.cameras.is_empty() {
            return bad("rig has no cameras".into());
        }
        for (i, c) in self.cameras.iter().enumerate() {
            if c.name.is_empty() {
                return bad(format!("camera {i} has an empty name"));
            }
            if self.cameras[..i].iter().any(|o| o.name == c.name) {
                return bad(format!("camera name `{}` appears twice", c.name));
            }
            if let Camera::Pinhole(p) = &c.model {
                p.validate(&c.name)?;
            }
        }
        Ok(())
    }

    pub fn camera(&self, name: &str) -> Option<&CameraSpec> {
        self.cameras.iter().find(|c| c.name == name)
    }

    pub fn camera_names(&self) -> Vec<&str> {
        self.cameras.iter().map(|c| c.name.as_str()).collect()
    }

    /// A rig with only the named cameras, in the order given.
    pub fn subset(&self, name: &str, cameras: &[&str]) -> Result<Self, SceneError> {
        let mut out = Vec::with_capacity(cameras.len());
        for &n in cameras {
            let c = self.camera(n).ok_or_else(|| SceneError::InvalidRig {
                rig: self.name.clone(),
                reason: format!("no camera named `{n}` (cameras: {})", self.camera_names().join(", ")),
            })?;
            out.push(c.clone());
        }
        let rig = Rig { name: name.into(), source: self.source.clone(), cameras: out };
        rig.validate()?;
        Ok(rig)
    }

    /// Every camera rescaled to `width` x `height` (models scale exactly; see each model).
    pub fn scaled_to(&self, width: u32, height: u32) -> Result<Self, SceneError> {
        let cameras = self
            .cameras
            .iter()
            .map(|c| Ok(CameraSpec { name: c.name.clone(), model: c.model.scaled_to(width, height)?, rig_from_camera: c.rig_from_camera }))
            .collect::<Result<Vec<_>, SceneError>>()?;
        Ok(Rig { name: self.name.clone(), source: self.source.clone(), cameras })
    }

    /// Projects a rig-frame point into a camera; `None` when outside its domain or its image.
    pub fn project_rig_point(&self, camera: usize, point_rig: &Point3<f64>) -> Option<nalgebra::Point2<f64>> {
        let spec = self.cameras.get(camera)?;
        let pc = spec.rig_from_camera.inverse() * point_rig;
        let px = spec.model.project(&pc.coords)?;
        spec.model.in_image(&px).then_some(px)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::camera::Pinhole;
    use crate::pose::flu_from_rdf;
    use nalgebra::{Isometry3, Translation3};

    fn rig() -> Rig {
        let front = CameraSpec {
            name: "front".into(),
            model: Camera::Pinhole(Pinhole::new(640, 480, 400.0, 400.0, 320.0, 240.0)),
            rig_from_camera: Isometry3::from_parts(Translation3::new(1.5, 0.0, 1.4), flu_from_rdf()),
        };
        Rig { name: "t".into(), source: String::new(), cameras: vec![front] }
    }

    #[test]
    fn json_round_trip_and_validation() {
        let r = rig();
        let back = Rig::from_json(&r.to_json_pretty()).unwrap();
        assert_eq!(back.cameras[0].name, "front");
        assert!((back.cameras[0].rig_from_camera.to_homogeneous() - r.cameras[0].rig_from_camera.to_homogeneous()).abs().max() < 1e-12);
        let mut dup = r.clone();
        dup.cameras.push(r.cameras[0].clone());
        assert!(dup.validate().is_err());
        assert!(r.subset("x", &["nope"]).is_err());
    }

    #[test]
    fn point_ahead_of_front_camera_projects_to_centre() {
        let r = rig();
        let px = r.project_rig_point(0, &Point3::new(20.0, 0.0, 1.4)).unwrap();
        assert!((px.x - 320.0).abs() < 1e-9 && (px.y - 240.0).abs() < 1e-9);
        assert!(r.project_rig_point(0, &Point3::new(-20.0, 0.0, 1.4)).is_none());
        assert!((r.cameras[0].optical_axis_rig() - Vector3::x()).norm() < 1e-12);
    }
}
