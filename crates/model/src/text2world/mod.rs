//! Text2World: the single-view, caption-conditioned video diffusion model (DESIGN section 5).
//!
//! - [`cache`]: training windows of scene-log videos, resized and encoded once by the tokenizer,
//!   with per-channel latent statistics; kept in the run directory so a resumed run does not
//!   re-encode.
//! - [`train`]: `worldrig train text2world`: EDM loss on normalised latents with log-normal sigmas,
//!   caption dropout (for classifier-free guidance), Video2World steps (first latent frame given),
//!   AdamW, warm-up + cosine decay, EMA, gradient clipping, atomic checkpoints and exact resume.
//! - [`generate`]: loading a run and sampling latents for a prompt (optionally continuing given
//!   first frames), decoded through the tokenizer.

pub mod cache;
pub mod generate;
pub mod train;

pub use cache::LatentCache;
pub use generate::{load_run, Text2World};
pub use train::{train, ModelCard, T2wOptions};
