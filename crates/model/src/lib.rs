//! worldrig's models in burn: the causal video tokenizer, and the training pieces its trainers share
//! (device selection, learning-rate schedule, EMA, JSONL logs, checkpoints, image metrics).
//!
//! burn 0.22 has no backend type parameter: every tensor carries a run-time [`Device`](burn::prelude::Device)
//! and [`device::select`] picks one among the backends compiled in (`flex` on the CPU always; `wgpu`,
//! `vulkan`, `cuda` behind cargo features).

pub mod alloc;
pub mod data;
pub mod device;
pub mod diffusion;
pub mod dit;
pub mod kernels;
pub mod metrics;
pub mod multiview;
pub mod rng;
pub mod text2world;
pub mod tokenizer;
pub mod train;

/// Errors of the model crate: every message names the file (and, for frames, the row) it is about.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error("invalid config: {0}")]
    Config(String),
    #[error("{0}: {1}")]
    Io(String, #[source] std::io::Error),
    #[error("{0}")]
    Data(String),
    #[error("checkpoint: {0}")]
    Checkpoint(String),
}

impl From<worldrig_scenelog::LogError> for ModelError {
    fn from(e: worldrig_scenelog::LogError) -> Self {
        ModelError::Data(e.to_string())
    }
}
