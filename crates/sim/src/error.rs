//! Errors of the simulator.

use thiserror::Error;

#[derive(Debug, Error)]
pub enum SimError {
    #[error(transparent)]
    Log(#[from] worldrig_scenelog::LogError),
    #[error(transparent)]
    Scene(#[from] worldrig_scene::SceneError),
    #[error("encoding a PNG frame: {0}")]
    Encode(String),
    #[error("{0}")]
    Invalid(String),
}
