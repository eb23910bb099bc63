//! `worldrig train text2world`: the DiT trained with the EDM loss on cached, normalised tokenizer
//! latents of single-camera windows, conditioned on the clip's captions.
//!
//! Each step draws, from a generator seeded by `(seed, step)` (so a resumed run sees the same
//! batches as an uninterrupted one): `batch` windows, one caption of each window's clip (replaced by
//! the empty caption with probability `caption_dropout`, which trains the unconditional model that
//! classifier-free guidance needs), log-normal noise levels, the noise, and whether the step is a
//! Video2World step (the first `condition_frames` latent frames given, lightly noised; the loss only
//! on the others).

use std::path::{Path, PathBuf};

use burn::prelude::*;
use serde::{Deserialize, Serialize};

use super::cache::{encode_windows, LatentCache};
use crate::tokenizer::codec::LoadedTokenizer;
use crate::diffusion::{gaussian, Denoiser, Edm, LogNormal, Video2World};
use crate::dit::text::CaptionVocab;
use crate::dit::{Dit, DitConfig, DitFile, DitTrainConfig, SampleConfig};
use crate::rng::SplitMix64;
use crate::train::{self as tr, StepInfo, TrainSummary};
use crate::ModelError;

/// A run directory's `config.json`: the resolved config and the inputs.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunConfig {
    pub kind: String,
    pub config: DitFile,
    pub data: Vec<PathBuf>,
    pub cameras: Vec<String>,
    pub tokenizer: PathBuf,
}

/// Everything generation needs besides the weights: `text2world.json` in the run directory,
/// written before the first step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelCard {
    pub kind: String,
    pub model: DitConfig,
    pub vocab: CaptionVocab,
    /// Per-channel statistics of the raw latents; the model sees `(z - mean) / std * sigma_data`.
    pub latent_mean: Vec<f64>,
    pub latent_std: Vec<f64>,
    pub sigma_data: f64,
    /// Video frames of a training window, and the `[height, width]` it was trained at.
    pub frames: usize,
    pub resolution: [usize; 2],
    /// `[height, width]` of the latent grid.
    pub latent_size: [usize; 2],
    /// The tokenizer run the latents came from (as given to `train`), and its weights' SHA-256.
    pub tokenizer: PathBuf,
    pub tokenizer_sha256: String,
    pub sample: SampleConfig,
    pub condition_frames: usize,
    pub augment_sigma: f64,
}

#[derive(Debug, Clone)]
pub struct T2wOptions {
    pub out: PathBuf,
    pub data: Vec<PathBuf>,
    pub cameras: Vec<String>,
    /// The tokenizer run (`model.bpk` + `tokenizer.json`).
    pub tokenizer: PathBuf,
    pub resume: bool,
    pub max_steps_now: Option<u64>,
    pub total_steps: Option<u64>,
}

/// One training batch on `device`.
pub struct Batch {
    /// Normalised latents `[b, c, t, h, w]`.
    pub x0: Tensor<5>,
    pub sigma: Tensor<1>,
    pub noise: Tensor<5>,
    pub augment_noise: Tensor<5>,
    /// 1 on given latent frames, `[b, 1, t, h, w]`.
    pub cond: Tensor<5>,
    pub ids: Tensor<2, Int>,
    pub pad: Tensor<2, Bool>,
    pub v2w: Video2World,
    pub captions: Vec<String>,
}

/// The batch of step `step`: a function of the cache, the vocabulary, the config and the step only.
pub fn make_batch(cache: &LatentCache, vocab: &CaptionVocab, t: &DitTrainConfig, step: u64, device: &Device) -> Batch {
    let mut rng = SplitMix64::stream(t.seed, step);
    let [c, lt, lh, lw] = cache.index.shape;
    let n = cache.window_len();
    let b = t.batch;
    let mut x = vec![0.0f32; b * n];
    let mut captions = Vec::with_capacity(b);
    for k in 0..b {
        let i = rng.below(cache.len());
        cache.write_normalised(i, t.sigma_data, &mut x[k * n..(k + 1) * n]);
        let set = &cache.index.caption_sets[cache.index.windows[i].captions];
        let drop = rng.unit() < t.caption_dropout;
        let pick = rng.below(set.len().max(1));
        captions.push(if drop || set.is_empty() { String::new() } else { set[pick].clone() });
    }
    let cond_frames = if rng.unit() < t.condition_prob { t.condition_frames.min(lt.saturating_sub(1)) } else { 0 };
    let dims = [b, c, lt, lh, lw];
    let sigma = LogNormal { p_mean: t.p_mean, p_std: t.p_std }.sample(b, &mut rng, device);
    let noise = gaussian(dims, &mut rng, device);
    let augment_noise = gaussian(dims, &mut rng, device);
    let v2w = Video2World { time_axis: 2, cond_frames, augment_sigma: t.augment_sigma, sigma_data: t.sigma_data };
    let cond = v2w.mask([b, 1, lt, lh, lw], device).float();
    let (ids, pad) = vocab.batch(&captions, device);
    Batch { x0: Tensor::from_data(TensorData::new(x, dims), device), sigma, noise, augment_noise, cond, ids, pad, v2w, captions }
}

/// The EDM (Video2World when the batch has given frames) loss of `model` on `batch`.
pub fn batch_loss(model: &Dit, batch: Batch, sigma_data: f64) -> Tensor<1> {
    let Batch { x0, sigma, noise, augment_noise, cond, ids, pad, v2w, .. } = batch;
    let den = Denoiser::new(Edm::new(sigma_data), |x: Tensor<5>, c_noise: Tensor<1>, _: &()| model.forward(x, c_noise, cond.clone(), ids.clone(), pad.clone()));
    v2w.loss(|x, s| den.denoise_batch(x, s, &()), x0, sigma, noise, augment_noise)
}

/// Fixed batches for [`probe_loss`].
pub const PROBE_BATCHES: u64 = 2;

/// The loss of `model` on [`PROBE_BATCHES`] fixed batches (drawn from streams no training step
/// uses), without gradients: a low-variance loss curve, logged as `probe`.
pub fn probe_loss(model: &Dit, cache: &LatentCache, vocab: &CaptionVocab, t: &DitTrainConfig, device: &Device) -> f64 {
    let mut sum = 0.0;
    for i in 0..PROBE_BATCHES {
        let b = make_batch(cache, vocab, t, u64::MAX - i, device);
        sum += batch_loss(model, b, t.sigma_data).into_scalar::<f32>() as f64;
    }
    sum / PROBE_BATCHES as f64
}

fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T, ModelError> {
    let text = std::fs::read_to_string(path).map_err(|e| ModelError::Io(path.display().to_string(), e))?;
    serde_json::from_str(&text).map_err(|e| ModelError::Config(format!("{}: {e}", path.display())))
}

/// Loads the run's latent cache when it matches the tokenizer and window settings, else encodes
/// the data and saves it.
fn latent_cache(run: &Path, rc: &RunConfig, tok: &LoadedTokenizer, tok_sha: &str, device: &Device) -> Result<LatentCache, ModelError> {
    let dir = run.join("latents");
    let t = &rc.config.train;
    if let Some(c) = LatentCache::load(&dir)? {
        if c.index.tokenizer_sha256 == tok_sha && c.index.frames == t.frames && c.index.resolution == t.resolution {
            tracing::info!(windows = c.len(), "latent cache loaded");
            return Ok(c);
        }
        tracing::warn!("{}: latent cache is for another tokenizer or window size; encoding again", dir.display());
    }
    let cache = encode_windows(tok, tok_sha, &rc.data, &rc.cameras, t.frames, t.resolution, t.window_stride, device)?;
    cache.save(&dir)?;
    Ok(cache)
}

/// Trains (or, with `opts.resume`, continues) a Text2World run.
pub fn train(file: &DitFile, opts: &T2wOptions, device: &Device, on_step: impl FnMut(StepInfo)) -> Result<TrainSummary, ModelError> {
    let run = &opts.out;
    let cfg_path = run.join("config.json");
    let rc: RunConfig = if opts.resume {
        let mut saved: RunConfig = read_json(&cfg_path)?;
        if saved.config.model != file.model {
            return Err(ModelError::Config(format!(
                "{}: --resume with a different model architecture than the run's (drop --config or use the run's)",
                cfg_path.display()
            )));
        }
        if let Some(n) = opts.total_steps {
            if n != saved.config.train.steps {
                tracing::info!(from = saved.config.train.steps, to = n, "changing the run's total steps");
                saved.config.train.steps = n;
                saved.config.validate()?;
                tr::write_atomic(&cfg_path, serde_json::to_string_pretty(&saved).expect("config serialises").as_bytes())?;
            }
        }
        saved
    } else {
        let mut file = file.clone();
        if let Some(n) = opts.total_steps {
            file.train.steps = n;
            file.validate()?;
        }
        if run.join("checkpoints").exists() || cfg_path.exists() {
            return Err(ModelError::Config(format!("{}: already holds a run; pass --resume to continue it, or choose a new --out", run.display())));
        }
        RunConfig { kind: "text2world".into(), config: file, data: opts.data.clone(), cameras: opts.cameras.clone(), tokenizer: opts.tokenizer.clone() }
    };
    let t = rc.config.train.clone();
    let m = rc.config.model.clone();

    // The tokenizer is checked (and the data encoded) before anything is written for a new run.
    let tok = crate::tokenizer::codec::load_run(&rc.tokenizer, device)?;
    let tok_weights = tok.weights.clone();
    let tok_sha = tr::sha256_file(&tok_weights)?;
    let card_path = run.join("text2world.json");
    let cache;
    let card: ModelCard = if opts.resume && card_path.exists() {
        let card: ModelCard = read_json(&card_path)?;
        if card.tokenizer_sha256 != tok_sha {
            return Err(ModelError::Config(format!(
                "{}: the run was trained on latents of tokenizer {} (sha256 {}), but {} now has sha256 {tok_sha}",
                card_path.display(),
                card.tokenizer.display(),
                card.tokenizer_sha256,
                tok_weights.display()
            )));
        }
        cache = latent_cache(run, &rc, &tok, &tok_sha, device)?;
        card
    } else {
        if !opts.resume {
            // Validate the inputs by building the cache in memory first, then create the run.
            let c = encode_windows(&tok, &tok_sha, &rc.data, &rc.cameras, t.frames, t.resolution, t.window_stride, device)?;
            std::fs::create_dir_all(run).map_err(|e| ModelError::Io(run.display().to_string(), e))?;
            c.save(&run.join("latents"))?;
            tr::write_atomic(&cfg_path, serde_json::to_string_pretty(&rc).expect("config serialises").as_bytes())?;
            cache = c;
        } else {
            cache = latent_cache(run, &rc, &tok, &tok_sha, device)?;
        }
        let vocab = CaptionVocab::build(cache.all_captions(), m.vocab_size, m.max_caption_tokens);
        let [_, _, lh, lw] = cache.index.shape;
        let card = ModelCard {
            kind: "text2world".into(),
            model: m.clone(),
            vocab,
            latent_mean: cache.index.mean.clone(),
            latent_std: cache.index.std.clone(),
            sigma_data: t.sigma_data,
            frames: t.frames,
            resolution: t.resolution,
            latent_size: [lh, lw],
            tokenizer: rc.tokenizer.clone(),
            tokenizer_sha256: tok_sha.clone(),
            sample: rc.config.sample.clone(),
            condition_frames: t.condition_frames,
            augment_sigma: t.augment_sigma,
        };
        tr::write_atomic(&card_path, serde_json::to_string_pretty(&card).expect("card serialises").as_bytes())?;
        card
    };
    if cache.index.shape[0] != m.latent_channels {
        return Err(ModelError::Config(format!(
            "the tokenizer's latents have {} channels, the DiT config `model.latent_channels` says {}",
            cache.index.shape[0], m.latent_channels
        )));
    }
    if cache.index.shape[2] % m.patch != 0 || cache.index.shape[3] % m.patch != 0 {
        return Err(ModelError::Config(format!(
            "the latent grid {}x{} is not divisible by the DiT patch {}: choose train.resolution accordingly",
            cache.index.shape[2], cache.index.shape[3], m.patch
        )));
    }
    tracing::info!(words = card.vocab.len(), windows = cache.len(), "caption vocabulary and training windows ready");

    device.seed(t.seed);
    let ad = device.clone().autodiff();
    let model: Dit = m.init(&ad);
    let fit = tr::FitConfig {
        steps: t.steps,
        lr: t.lr,
        warmup_steps: t.warmup_steps,
        min_lr_ratio: t.min_lr_ratio,
        weight_decay: t.weight_decay,
        grad_clip: t.grad_clip,
        ema: t.ema,
        checkpoint_every: t.checkpoint_every,
        log_every: t.log_every,
    };
    tr::fit(
        run,
        &fit,
        model,
        opts.resume,
        opts.max_steps_now,
        |model, step| {
            let batch = make_batch(&cache, &card.vocab, &t, step, &ad);
            let tag = if batch.v2w.cond_frames > 0 { "video2world" } else { "text2world" };
            (batch_loss(model, batch, t.sigma_data), tag)
        },
        |valid| probe_loss(valid, &cache, &card.vocab, &t, device),
        on_step,
    )
}
