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
    /// Add a fixed sine-cosine absolute position embedding to the tokens (beside RoPE).
    #[serde(default = "yes")]
    pub abs_pos: bool,
}

fn yes() -> bool {
    true
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
        if self.abs_pos && (self.width % 2 != 0 || self.width < 6) {
            return bad(format!("width {} must be even and >= 6 for the absolute position embedding", self.width));
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

/// How `worldrig train text2world` trains the DiT (`train` section of `configs/dit/*.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DitTrainConfig {
    pub steps: u64,
    pub batch: usize,
    /// Video frames per training window (`1 + c*n` for the tokenizer's temporal compression `c`).
    pub frames: usize,
    /// Every video is resized to `[height, width]` before encoding (multiples of the tokenizer's
    /// spatial compression times the patch); generation runs at this size.
    pub resolution: [usize; 2],
    /// Training windows start every `window_stride` frames of each video.
    pub window_stride: usize,
    pub lr: f64,
    pub warmup_steps: u64,
    pub min_lr_ratio: f64,
    pub weight_decay: f32,
    pub grad_clip: Option<f32>,
    pub ema: Option<f64>,
    /// Probability that a sample's caption is replaced by the empty caption (for guidance).
    pub caption_dropout: f64,
    /// Log-normal training density of sigma: `ln sigma ~ N(p_mean, p_std^2)`.
    pub p_mean: f64,
    pub p_std: f64,
    /// The latents are normalised per channel to this standard deviation (EDM's `sigma_data`).
    pub sigma_data: f64,
    /// Fraction of steps trained as Video2World (the first `condition_frames` latent frames given).
    pub condition_prob: f64,
    pub condition_frames: usize,
    /// Noise level of the given frames.
    pub augment_sigma: f64,
    pub checkpoint_every: u64,
    pub log_every: u64,
    pub seed: u64,
}

/// Default sampling settings saved with a run (`sample` section); `worldrig generate` flags override.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SampleConfig {
    pub sampler: crate::diffusion::Sampler,
    /// Steps of the Karras schedule (network evaluations: steps for Euler/DPM++, about twice for Heun).
    pub steps: usize,
    pub sigma_min: f64,
    pub sigma_max: f64,
    pub rho: f64,
    /// Classifier-free guidance scale (1: conditional only).
    pub guidance: f64,
}

/// A DiT config file: architecture, training and sampling defaults.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DitFile {
    pub name: String,
    pub model: DitConfig,
    pub train: DitTrainConfig,
    pub sample: SampleConfig,
}

impl DitFile {
    pub fn from_json(text: &str, origin: &str) -> Result<Self, ModelError> {
        let f: Self = serde_json::from_str(text).map_err(|e| ModelError::Config(format!("{origin}: {e}")))?;
        f.validate().map_err(|e| ModelError::Config(format!("{origin}: {e}")))?;
        Ok(f)
    }

    pub fn load(path: &std::path::Path) -> Result<Self, ModelError> {
        let text = std::fs::read_to_string(path).map_err(|e| ModelError::Io(path.display().to_string(), e))?;
        Self::from_json(&text, &path.display().to_string())
    }

    /// A config file, or the name of a shipped one (`tiny`).
    pub fn resolve(name_or_path: &str) -> Result<Self, ModelError> {
        let p = std::path::Path::new(name_or_path);
        if p.exists() {
            return Self::load(p);
        }
        match builtin(name_or_path) {
            Some(text) => Self::from_json(text, &format!("built-in dit config `{name_or_path}`")),
            None => Err(ModelError::Config(format!("{name_or_path}: no such config file, and not a shipped config name (tiny)"))),
        }
    }

    pub fn validate(&self) -> Result<(), ModelError> {
        self.model.validate()?;
        let t = &self.train;
        let bad = |m: String| Err(ModelError::Config(m));
        if t.batch == 0 || t.steps == 0 || t.checkpoint_every == 0 || t.log_every == 0 || t.window_stride == 0 || t.frames == 0 {
            return bad("train.batch, steps, frames, window_stride, checkpoint_every and log_every must be positive".into());
        }
        if t.resolution[0] == 0 || t.resolution[1] == 0 {
            return bad(format!("train.resolution {:?} must be positive", t.resolution));
        }
        crate::train::validate_optim(t.lr, t.min_lr_ratio, t.ema, &[("caption_dropout", t.caption_dropout), ("condition_prob", t.condition_prob)])?;
        if !(t.sigma_data > 0.0) || !(t.p_std > 0.0) || !(t.augment_sigma >= 0.0) {
            return bad("train.sigma_data and p_std must be positive, augment_sigma non-negative".into());
        }
        let s = &self.sample;
        if s.steps == 0 || !(s.sigma_min > 0.0) || !(s.sigma_max > s.sigma_min) || !(s.rho > 0.0) || !(s.guidance >= 0.0) {
            return bad("sample: steps > 0, 0 < sigma_min < sigma_max, rho > 0 and guidance >= 0 are required".into());
        }
        Ok(())
    }
}

/// The configs shipped in `configs/dit/`, embedded so the binary works from any directory.
pub fn builtin(name: &str) -> Option<&'static str> {
    match name {
        "tiny" => Some(include_str!("../../../../configs/dit/tiny.json")),
        _ => None,
    }
}
