//! worldrig's models in burn: the causal video tokenizer, and the training pieces its trainers share
//! (device selection, learning-rate schedule, EMA, JSONL logs, checkpoints, image metrics).
//!
//! burn 0.22 has no backend type parameter: every tensor carries a run-time [`Device`](burn::prelude::Device)
//! and [`device::select`] picks one among the backends compiled in (`flex` on the CPU always; `wgpu`,
//! `vulkan`, `cuda` behind cargo features).

pub mod data;
pub mod device;
pub mod metrics;
pub mod rng;
pub mod tokenizer;
pub mod train;

use std::fmt;

/// Errors of the model crate: every message names the file (and, for frames, the row) it is about.
#[derive(Debug)]
pub enum ModelError {
    Config(String),
    Io(String, std::io::Error),
    Data(String),
    Checkpoint(String),
}

impl fmt::Display for ModelError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ModelError::Config(m) => write!(f, "invalid config: {m}"),
            ModelError::Io(p, e) => write!(f, "{p}: {e}"),
            ModelError::Data(m) => write!(f, "{m}"),
            ModelError::Checkpoint(m) => write!(f, "checkpoint: {m}"),
        }
    }
}

impl std::error::Error for ModelError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ModelError::Io(_, e) => Some(e),
            _ => None,
        }
    }
}

impl From<worldrig_scenelog::LogError> for ModelError {
    fn from(e: worldrig_scenelog::LogError) -> Self {
        ModelError::Data(e.to_string())
    }
}
