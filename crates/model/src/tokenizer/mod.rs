//! The causal video tokenizer: a continuous video autoencoder (Cosmos CV4x8x8 style).
//!
//! - [`config`]: architecture and training settings (`configs/tokenizer/*.json`);
//! - [`model`]: the network, causal by construction, with chunked encoding and decoding;
//! - [`init`]: the linear shortcut's initialisation from the data's principal components;
//! - [`loss`]: L1 plus a structural (SSIM) term;
//! - [`train`]: `worldrig tokenizer train` (AdamW, warm-up + cosine, EMA, checkpoints, resume);
//! - [`codec`]: loading a trained run, encoding/decoding clips, latent files, and `eval` (PSNR/SSIM).

pub mod codec;
pub mod config;
pub mod init;
pub mod loss;
pub mod model;
pub mod train;

pub use config::{TokenizerConfig, TokenizerFile, TokenizerTrainConfig};
pub use model::{CausalState, Tokenizer};
