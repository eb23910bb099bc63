//! Tokenizer and tokenizer-training configuration (`configs/tokenizer/*.json`).

use serde::{Deserialize, Serialize};

use crate::ModelError;

/// Architecture of the causal video autoencoder.
///
/// Spatial compression is `patch * 2^(stages - 1)`; temporal compression is `patch_time * 2^k` where
/// `k` counts the `true` entries of `temporal_down`. A clip of `1 + c*n` frames (`c` the temporal compression)
/// encodes to `1 + n` latent frames: the first frame alone, as an image, then one latent frame per
/// `c` frames.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenizerConfig {
    /// Image channels (3: RGB).
    #[serde(default = "three")]
    pub in_channels: usize,
    /// Channels of the continuous latent.
    pub latent_channels: usize,
    /// Space-to-depth factor applied to the pixels before the first convolution.
    pub patch: usize,
    /// Causal time-to-depth factor applied with it (1 or 2): frames `(2j-1, 2j)` stacked on channels.
    #[serde(default = "one")]
    pub patch_time: usize,
    /// Width of each stage; stage 0 runs at `H / patch`, each later stage at half the resolution of the one before.
    pub channels: Vec<usize>,
    /// Residual blocks per encoder stage.
    pub encoder_blocks: Vec<usize>,
    /// Residual blocks per decoder stage (stage order as in `channels`).
    pub decoder_blocks: Vec<usize>,
    /// For each of the `stages - 1` downsamplings: whether it also halves time.
    pub temporal_down: Vec<bool>,
    /// Temporal kernel of the causal convolutions in each residual block.
    #[serde(default = "three")]
    pub temporal_kernel: usize,
    /// A linear path from each latent cell's pixels to its latent and back, beside the convolutional
    /// body (whose output convolutions then start at zero). Training initialises it with the
    /// principal components of the training data, so the model starts as the best linear codec.
    #[serde(default)]
    pub linear_shortcut: bool,
    /// Frames per causal chunk when encoding long clips (a multiple of the temporal compression).
    #[serde(default = "default_chunk")]
    pub chunk_frames: usize,
}

fn one() -> usize {
    1
}
fn three() -> usize {
    3
}
fn default_chunk() -> usize {
    16
}

impl TokenizerConfig {
    pub fn stages(&self) -> usize {
        self.channels.len()
    }
    /// Pixels per latent cell along each image axis.
    pub fn spatial_compression(&self) -> usize {
        self.patch << (self.stages() - 1)
    }
    /// Frames per latent frame (after the first).
    pub fn temporal_compression(&self) -> usize {
        self.patch_time << self.temporal_down.iter().filter(|&&d| d).count()
    }
    /// Latent frames for a clip of `frames` frames, or `None` when `frames` is not `1 + c*n`.
    pub fn latent_frames(&self, frames: usize) -> Option<usize> {
        let c = self.temporal_compression();
        (frames >= 1 && (frames - 1) % c == 0).then(|| 1 + (frames - 1) / c)
    }
    /// Frames decoded from `latent` latent frames.
    pub fn frames_for_latents(&self, latent: usize) -> usize {
        if latent == 0 {
            0
        } else {
            1 + (latent - 1) * self.temporal_compression()
        }
    }

    pub fn validate(&self) -> Result<(), ModelError> {
        let bad = |m: String| Err(ModelError::Config(m));
        let s = self.stages();
        if s == 0 {
            return bad("tokenizer: `channels` must name at least one stage".into());
        }
        if self.encoder_blocks.len() != s || self.decoder_blocks.len() != s {
            return bad(format!(
                "tokenizer: `encoder_blocks` ({}) and `decoder_blocks` ({}) need one entry per stage ({s})",
                self.encoder_blocks.len(),
                self.decoder_blocks.len()
            ));
        }
        if self.temporal_down.len() != s - 1 {
            return bad(format!("tokenizer: `temporal_down` needs {} entries (stages - 1), has {}", s - 1, self.temporal_down.len()));
        }
        if self.patch == 0 || self.latent_channels == 0 || self.in_channels == 0 || self.channels.contains(&0) {
            return bad("tokenizer: `patch`, `latent_channels`, `in_channels` and `channels` must be positive".into());
        }
        if !(1..=2).contains(&self.patch_time) {
            return bad(format!("tokenizer: `patch_time` must be 1 or 2, is {}", self.patch_time));
        }
        if self.temporal_kernel == 0 {
            return bad("tokenizer: `temporal_kernel` must be at least 1".into());
        }
        let c = self.temporal_compression();
        if !c.is_power_of_two() {
            return bad(format!("tokenizer: temporal compression {c} must be a power of two"));
        }
        if self.chunk_frames == 0 || self.chunk_frames % c != 0 {
            return bad(format!("tokenizer: `chunk_frames` ({}) must be a positive multiple of the temporal compression ({c})", self.chunk_frames));
        }
        Ok(())
    }
}

/// Optimisation settings for `worldrig tokenizer train`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenizerTrainConfig {
    pub steps: u64,
    pub batch: usize,
    /// Frames per training sample (`1 + c*n`).
    pub frames: usize,
    /// Random crop `[height, width]` (multiples of the spatial compression).
    pub crop: [usize; 2],
    pub lr: f64,
    pub warmup_steps: u64,
    /// The cosine decay ends at `lr * min_lr_ratio`.
    pub min_lr_ratio: f64,
    pub weight_decay: f32,
    /// Gradient clipping by global norm (per parameter tensor in burn 0.22's AdamW); `null`: none.
    pub grad_clip: Option<f32>,
    /// EMA decay of the weights kept beside the raw ones; `null`: no EMA.
    pub ema: Option<f64>,
    /// Weight of the structural term `1 - SSIM` beside L1.
    pub ssim_weight: f64,
    pub checkpoint_every: u64,
    pub log_every: u64,
    pub seed: u64,
}

/// A tokenizer config file: the architecture and how to train it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenizerFile {
    pub name: String,
    pub model: TokenizerConfig,
    pub train: TokenizerTrainConfig,
}

impl TokenizerFile {
    pub fn from_json(text: &str, origin: &str) -> Result<Self, ModelError> {
        let f: Self = serde_json::from_str(text).map_err(|e| ModelError::Config(format!("{origin}: {e}")))?;
        f.validate().map_err(|e| ModelError::Config(format!("{origin}: {e}")))?;
        Ok(f)
    }

    pub fn load(path: &std::path::Path) -> Result<Self, ModelError> {
        let text = std::fs::read_to_string(path).map_err(|e| ModelError::Io(path.display().to_string(), e))?;
        Self::from_json(&text, &path.display().to_string())
    }

    pub fn validate(&self) -> Result<(), ModelError> {
        self.model.validate()?;
        let t = &self.train;
        if self.model.latent_frames(t.frames).is_none() {
            return Err(ModelError::Config(format!(
                "train.frames ({}) must be 1 + {}*n",
                t.frames,
                self.model.temporal_compression()
            )));
        }
        let s = self.model.spatial_compression();
        if t.crop[0] == 0 || t.crop[1] == 0 || t.crop[0] % s != 0 || t.crop[1] % s != 0 {
            return Err(ModelError::Config(format!("train.crop {:?} must be positive multiples of the spatial compression {s}", t.crop)));
        }
        if t.batch == 0 || t.steps == 0 || t.checkpoint_every == 0 || t.log_every == 0 {
            return Err(ModelError::Config("train.batch, steps, checkpoint_every and log_every must be positive".into()));
        }
        crate::train::validate_optim(t.lr, t.min_lr_ratio, t.ema, &[])?;
        Ok(())
    }
}

/// The configs shipped in `configs/tokenizer/`, embedded so the binary works from any directory.
pub fn builtin(name: &str) -> Option<&'static str> {
    match name {
        "tiny" => Some(include_str!("../../../../configs/tokenizer/tiny.json")),
        "base" => Some(include_str!("../../../../configs/tokenizer/base.json")),
        _ => None,
    }
}
