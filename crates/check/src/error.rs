//! Errors of the checker.

use thiserror::Error;

#[derive(Debug, Error)]
pub enum CheckError {
    #[error(transparent)]
    Log(#[from] worldrig_scenelog::LogError),
    #[error(transparent)]
    Scene(#[from] worldrig_scene::SceneError),
    #[error("decoding frame {what}: {message}")]
    Decode { what: String, message: String },
    #[error("{0}")]
    Invalid(String),
    #[error("writing {path}: {source}")]
    Io { path: String, source: std::io::Error },
}
