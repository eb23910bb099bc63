//! Errors of the scene crate.

use thiserror::Error;

/// Everything that can be wrong with scene data handed to this crate.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum SceneError {
    #[error("quaternion ({x}, {y}, {z}, {w}) is not unit length (norm {norm:.6}, tolerance {tolerance})")]
    NonUnitQuaternion { x: f64, y: f64, z: f64, w: f64, norm: f64, tolerance: f64 },
    #[error("non-finite value in {what}")]
    NonFinite { what: String },
    #[error("rotation part of a 4x4 transform is not orthonormal (max deviation {deviation:.3e})")]
    NotARotation { deviation: f64 },
    #[error("invalid camera `{camera}`: {reason}")]
    InvalidCamera { camera: String, reason: String },
    #[error("invalid rig `{rig}`: {reason}")]
    InvalidRig { rig: String, reason: String },
    #[error("invalid trajectory: {reason}")]
    InvalidTrajectory { reason: String },
}
