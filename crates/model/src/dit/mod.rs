//! The diffusion transformer (DiT) over tokenizer latents, after Cosmos' Text2World network:
//! 1x2x2 patches, 3D RoPE over (t, h, w), AdaLN-LoRA conditioning on the noise level,
//! self-attention, cross-attention to caption tokens, GELU MLP; plus the offline caption encoder.

pub mod config;
pub mod layers;
pub mod net;
pub mod rope;
pub mod text;

pub use config::{DitConfig, DitFile, DitTrainConfig, SampleConfig};
pub use net::{Dit, DitContext};
