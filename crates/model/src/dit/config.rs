//! DiT configuration (`configs/dit/*.json`, `model` section).

use serde::{Deserialize, Serialize};

use crate::ModelError;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DitConfig {
    /// Channels of the tokenizer latent.
    pub latent_channels: usize,
    /// Spatial patch (tokens are `1 x patch x patch` latent cells).
    pub patch: usize,
    pub width: usize,
    pub depth: usize,
    pub heads: usize,
    pub mlp_ratio: usize,
    /// Rank of the per-block AdaLN-LoRA modulation.
    pub adaln_rank: usize,
    pub text_width: usize,
    pub text_layers: usize,
    pub text_heads: usize,
    pub max_caption_tokens: usize,
    pub vocab_size: usize,
    #[serde(default = "theta")]
    pub rope_theta: f64,
}

fn theta() -> f64 {
    10000.0
}

impl DitConfig {
    pub fn head_dim(&self) -> usize {
        self.width / self.heads
    }
    /// Values per token: latent channels (plus the conditioning-mask channel) times the patch area.
    pub fn token_in(&self) -> usize {
        (self.latent_channels + 1) * self.patch * self.patch
    }
    pub fn token_out(&self) -> usize {
        self.latent_channels * self.patch * self.patch
    }
    pub fn validate(&self) -> Result<(), ModelError> {
        let bad = |m: String| Err(ModelError::Config(format!("dit: {m}")));
        if self.heads == 0 || self.width % self.heads != 0 {
            return bad(format!("width {} must be a multiple of heads {}", self.width, self.heads));
        }
        if self.head_dim() % 2 != 0 || self.head_dim() < 6 {
            return bad(format!("head dim {} must be even and >= 6 for 3D RoPE", self.head_dim()));
        }
        if self.text_heads == 0 || self.text_width % self.text_heads != 0 {
            return bad(format!("text_width {} must be a multiple of text_heads {}", self.text_width, self.text_heads));
        }
        if self.patch == 0 || self.depth == 0 || self.latent_channels == 0 || self.adaln_rank == 0 || self.mlp_ratio == 0 {
            return bad("patch, depth, latent_channels, adaln_rank and mlp_ratio must be positive".into());
        }
        if self.vocab_size < 3 || self.max_caption_tokens == 0 {
            return bad("vocab_size must be >= 3 and max_caption_tokens positive".into());
        }
        Ok(())
    }
}
