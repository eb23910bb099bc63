//! Domain types of worldrig: SE(3) poses, camera models (pinhole with OpenCV distortion and NVIDIA
//! DriveWorks f-theta), camera rigs, ego trajectories, objects and map elements.
//!
//! Conventions (fixed, see `docs/scene-log-format.md`): the world and rig frames are FLU (x forward,
//! y left, z up, metres); camera frames are OpenCV RDF (x right, y down, z forward); the image origin
//! is the top-left corner of the top-left pixel, so the centre of pixel (0, 0) is (0.5, 0.5).
//! Transforms are named `target_from_source`; quaternions are stored (x, y, z, w); timestamps are
//! i64 microseconds. This crate does no I/O and has no dependency on a deep-learning framework.
//!
//! ```
//! use nalgebra::{Point2, Vector3};
//! use worldrig_scene::{CameraModel, Pinhole};
//!
//! let cam = Pinhole::new(640, 480, 500.0, 500.0, 320.0, 240.0);
//! let px = cam.project(&Vector3::new(1.0, -0.5, 10.0)).unwrap();
//! assert!((px - Point2::new(370.0, 215.0)).norm() < 1e-12);
//! let ray = cam.unproject(&px).unwrap();
//! assert!((ray.into_inner() * (101.25f64).sqrt() - Vector3::new(1.0, -0.5, 10.0)).norm() < 1e-9);
//! ```

pub mod camera;
pub mod error;
pub mod map;
pub mod object;
pub mod pose;
pub mod rig;
pub mod trajectory;

pub use camera::{Camera, CameraModel, FTheta, FThetaParams, Pinhole, PolyDirection};
pub use error::SceneError;
pub use map::{MapElement, MapElementKind, MapGeometry};
pub use object::{Cuboid, ObjectSample};
pub use pose::{Pose3, PoseRecord};
pub use rig::{CameraSpec, Rig};
pub use trajectory::Trajectory;
