//! `worldrig train multiview`: post-training of a Text2World run into the multi-view,
//! trajectory-conditioned model on multi-camera logs (simulated or a user's own fleet logs).
//!
//! The Text2World weights are loaded into [`MultiViewDit::base`]; the new paths start at zero, so
//! step 0 is the Text2World model on every view. The latents are normalised with the Text2World
//! run's statistics (the space it was trained in). A step draws `batch` multi-view samples (every
//! camera of a clip, same start frame), one noise level per sample shared by its views, one caption
//! per sample (dropped with `caption_dropout`), and, with `condition_prob`, a Video2World step with
//! the first latent frames of every view given.

use std::path::{Path, PathBuf};

use burn::prelude::*;
use serde::{Deserialize, Serialize};
use worldrig_scene::CameraSpec;

use super::data::{groups, MvGroup};
use super::model::{MultiViewDit, MvInputs, MvMode};
use super::views::{CAMERA_FEATURES, POSE_FEATURES};
use crate::diffusion::{gaussian, Denoiser, Edm, LogNormal, Video2World};
use crate::dit::text::CaptionVocab;
use crate::dit::SampleConfig;
use crate::rng::SplitMix64;
use crate::text2world::cache::encode_windows;
use crate::text2world::generate::load_tokenizer;
use crate::text2world::{LatentCache, ModelCard};
use crate::train::{self as tr, StepInfo, TrainSummary};
use crate::ModelError;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MvTrainConfig {
    pub steps: u64,
    /// Multi-view samples per step (each is every camera of the rig).
    pub batch: usize,
    pub window_stride: usize,
    pub lr: f64,
    pub warmup_steps: u64,
    pub min_lr_ratio: f64,
    pub weight_decay: f32,
    pub grad_clip: Option<f32>,
    pub ema: Option<f64>,
    pub caption_dropout: f64,
    pub p_mean: f64,
    pub p_std: f64,
    pub condition_prob: f64,
    pub condition_frames: usize,
    pub augment_sigma: f64,
    pub checkpoint_every: u64,
    pub log_every: u64,
    pub seed: u64,
}

/// A multi-view config file (`configs/multiview/*.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MvFile {
    pub name: String,
    /// Cosmos' trajectory condition: this many future ego positions...
    pub trajectory_points: usize,
    /// ...this many seconds apart.
    pub trajectory_step_s: f64,
    /// Train (and generate) with cross-view attention; `false` is the independent-views baseline.
    pub cross_view: bool,
    /// Condition on the trajectory; `false` is the no-trajectory baseline.
    pub trajectory: bool,
    pub train: MvTrainConfig,
    pub sample: SampleConfig,
}

impl MvFile {
    pub fn from_json(text: &str, origin: &str) -> Result<Self, ModelError> {
        let f: Self = serde_json::from_str(text).map_err(|e| ModelError::Config(format!("{origin}: {e}")))?;
        f.validate().map_err(|e| ModelError::Config(format!("{origin}: {e}")))?;
        Ok(f)
    }

    /// A config file, or the name of a shipped one (`tiny`).
    pub fn resolve(name_or_path: &str) -> Result<Self, ModelError> {
        let p = Path::new(name_or_path);
        if p.exists() {
            let text = std::fs::read_to_string(p).map_err(|e| ModelError::Io(p.display().to_string(), e))?;
            return Self::from_json(&text, &p.display().to_string());
        }
        match name_or_path {
            "tiny" => Self::from_json(include_str!("../../../../configs/multiview/tiny.json"), "built-in multiview config `tiny`"),
            _ => Err(ModelError::Config(format!("{name_or_path}: no such config file, and not a shipped config name (tiny)"))),
        }
    }

    pub fn validate(&self) -> Result<(), ModelError> {
        let t = &self.train;
        let bad = |m: String| Err(ModelError::Config(m));
        if self.trajectory_points == 0 || !(self.trajectory_step_s > 0.0) {
            return bad("trajectory_points and trajectory_step_s must be positive".into());
        }
        if t.batch == 0 || t.steps == 0 || t.checkpoint_every == 0 || t.log_every == 0 || t.window_stride == 0 {
            return bad("train.batch, steps, window_stride, checkpoint_every and log_every must be positive".into());
        }
        crate::train::validate_optim(t.lr, t.min_lr_ratio, t.ema, &[("caption_dropout", t.caption_dropout), ("condition_prob", t.condition_prob)])?;
        if !(t.p_std > 0.0) || !(t.augment_sigma >= 0.0) {
            return bad("train.p_std must be positive and augment_sigma non-negative".into());
        }
        Ok(())
    }

    pub fn mode(&self) -> MvMode {
        MvMode { cross_view: self.cross_view, trajectory: self.trajectory }
    }
}

/// A run directory's `config.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MvRunConfig {
    pub kind: String,
    pub config: MvFile,
    pub data: Vec<PathBuf>,
    /// The Text2World run the model starts from.
    pub init: PathBuf,
}

/// What generation needs besides the weights: `multiview.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MvCard {
    pub kind: String,
    /// The Text2World run's card: network, vocabulary, latent statistics, tokenizer, resolution.
    pub text2world: ModelCard,
    pub init: PathBuf,
    pub init_sha256: String,
    pub trajectory_points: usize,
    pub trajectory_step_us: i64,
    pub cross_view: bool,
    pub trajectory: bool,
    /// The training rig's cameras (in order), at the model's resolution.
    pub cameras: Vec<CameraSpec>,
    pub sample: SampleConfig,
}

#[derive(Debug, Clone)]
pub struct MvOptions {
    pub out: PathBuf,
    pub data: Vec<PathBuf>,
    pub init: PathBuf,
    pub resume: bool,
    pub max_steps_now: Option<u64>,
    pub total_steps: Option<u64>,
}

/// One multi-view training batch (`b` samples of `views` views, stacked view-major).
pub struct MvBatch {
    pub x0: Tensor<5>,
    pub sigma: Tensor<1>,
    pub noise: Tensor<5>,
    pub augment_noise: Tensor<5>,
    pub inputs: MvInputs,
    pub v2w: Video2World,
}

/// The batch of step `step` (a function of its arguments only).
#[allow(clippy::too_many_arguments)]
pub fn make_batch(cache: &LatentCache, groups: &[MvGroup], vocab: &CaptionVocab, t: &MvTrainConfig, sigma_data: f64, step: u64, device: &Device) -> MvBatch {
    let mut rng = SplitMix64::stream(t.seed, step);
    let [c, lt, lh, lw] = cache.index.shape;
    let views = groups[0].windows.len();
    let n = cache.window_len();
    let bv = t.batch * views;
    let mut x = vec![0.0f32; bv * n];
    let (mut captions, mut camera, mut traj, mut pose, mut sigmas) = (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let ln = LogNormal { p_mean: t.p_mean, p_std: t.p_std };
    for k in 0..t.batch {
        let g = &groups[rng.below(groups.len())];
        let set = &cache.index.caption_sets[cache.index.windows[g.windows[0]].captions];
        let drop = rng.unit() < t.caption_dropout;
        let pick = rng.below(set.len().max(1));
        let caption = if drop || set.is_empty() { String::new() } else { set[pick].clone() };
        let sigma = ln.sample_f64(1, &mut rng)[0] as f32;
        for (v, &w) in g.windows.iter().enumerate() {
            let i = k * views + v;
            cache.write_normalised(w, sigma_data, &mut x[i * n..(i + 1) * n]);
            captions.push(caption.clone());
            camera.extend_from_slice(&g.camera[v * CAMERA_FEATURES..(v + 1) * CAMERA_FEATURES]);
            traj.extend_from_slice(&g.trajectory);
            pose.extend_from_slice(&g.frame_pose);
            sigmas.push(sigma);
        }
    }
    let cond_frames = if rng.unit() < t.condition_prob { t.condition_frames.min(lt.saturating_sub(1)) } else { 0 };
    let dims = [bv, c, lt, lh, lw];
    let noise = gaussian(dims, &mut rng, device);
    let augment_noise = gaussian(dims, &mut rng, device);
    let v2w = Video2World { time_axis: 2, cond_frames, augment_sigma: t.augment_sigma, sigma_data };
    let (ids, pad) = vocab.batch(&captions, device);
    let points = groups[0].trajectory.len();
    let inputs = MvInputs {
        x_in: Tensor::zeros([1, 1, 1, 1, 1], device), // replaced by the denoiser's input
        c_noise: Tensor::zeros([1], device),
        cond: v2w.mask([bv, 1, lt, lh, lw], device).float(),
        ids,
        pad,
        views,
        camera: Tensor::from_data(TensorData::new(camera, [bv, CAMERA_FEATURES]), device),
        trajectory: Tensor::from_data(TensorData::new(traj, [bv, points]), device),
        frame_pose: Tensor::from_data(TensorData::new(pose, [bv, lt, POSE_FEATURES]), device),
    };
    MvBatch {
        x0: Tensor::from_data(TensorData::new(x, dims), device),
        sigma: Tensor::from_data(TensorData::new(sigmas, [bv]), device),
        noise,
        augment_noise,
        inputs,
        v2w,
    }
}

/// The EDM (Video2World on given frames) loss of `model` on `batch`.
pub fn batch_loss(model: &MultiViewDit, batch: MvBatch, sigma_data: f64, mode: MvMode) -> Tensor<1> {
    let MvBatch { x0, sigma, noise, augment_noise, inputs, v2w } = batch;
    let den = Denoiser::new(Edm::new(sigma_data), |x: Tensor<5>, c_noise: Tensor<1>, _: &()| {
        model.forward(MvInputs { x_in: x, c_noise, ..inputs.clone() }, mode)
    });
    v2w.loss(|x, s| den.denoise_batch(x, s, &()), x0, sigma, noise, augment_noise)
}

/// The noise levels of the probe batches: the 1/8, 3/8, 5/8 and 7/8 quantiles of the training
/// density, so that the probe covers its range with few samples.
const PROBE_Z: [f64; 4] = [-1.1503, -0.3186, 0.3186, 1.1503];

/// The loss of `model` on four fixed batches (streams no training step uses), each at one
/// quantile of the training noise density, without gradients: the `probe` curve of `losses.jsonl`.
#[allow(clippy::too_many_arguments)]
pub fn probe_loss(model: &MultiViewDit, cache: &LatentCache, groups: &[MvGroup], vocab: &CaptionVocab, t: &MvTrainConfig, sigma_data: f64, mode: MvMode, device: &Device) -> f64 {
    let mut sum = 0.0;
    for (i, z) in PROBE_Z.iter().enumerate() {
        let mut b = make_batch(cache, groups, vocab, t, sigma_data, u64::MAX - i as u64, device);
        let n = b.sigma.dims()[0];
        b.sigma = Tensor::full([n], (t.p_mean + t.p_std * z).exp(), device);
        sum += batch_loss(model, b, sigma_data, mode).into_scalar::<f32>() as f64;
    }
    sum / PROBE_Z.len() as f64
}

fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T, ModelError> {
    let text = std::fs::read_to_string(path).map_err(|e| ModelError::Io(path.display().to_string(), e))?;
    serde_json::from_str(&text).map_err(|e| ModelError::Config(format!("{}: {e}", path.display())))
}

/// Trains (or continues) a multi-view run.
pub fn train(file: &MvFile, opts: &MvOptions, device: &Device, on_step: impl FnMut(StepInfo)) -> Result<TrainSummary, ModelError> {
    let run = &opts.out;
    let cfg_path = run.join("config.json");
    let rc: MvRunConfig = if opts.resume {
        let mut saved: MvRunConfig = read_json(&cfg_path)?;
        if let Some(n) = opts.total_steps {
            if n != saved.config.train.steps {
                saved.config.train.steps = n;
                saved.config.validate()?;
                tr::write_atomic(&cfg_path, serde_json::to_string_pretty(&saved).expect("config serialises").as_bytes())?;
            }
        }
        saved
    } else {
        if run.join("checkpoints").exists() || cfg_path.exists() {
            return Err(ModelError::Config(format!("{}: already holds a run; pass --resume to continue it, or choose a new --out", run.display())));
        }
        let mut file = file.clone();
        if let Some(n) = opts.total_steps {
            file.train.steps = n;
            file.validate()?;
        }
        MvRunConfig { kind: "multiview".into(), config: file, data: opts.data.clone(), init: opts.init.clone() }
    };
    let f = &rc.config;
    let t = f.train.clone();

    // The Text2World run: its card, weights and tokenizer.
    let t2w = crate::text2world::load_run(&rc.init, device)?;
    let card = t2w.card.clone();
    let tok = load_tokenizer(&rc.init, &card, None, device)?;
    let step_us = (f.trajectory_step_s * 1e6).round() as i64;

    // Latents (cached in the run), normalised with the Text2World statistics.
    let dir = run.join("latents");
    let cached = if opts.resume { LatentCache::load(&dir)? } else { None };
    let (mut cache, fresh) = match cached {
        Some(c) if c.index.tokenizer_sha256 == card.tokenizer_sha256 => (c, false),
        _ => (encode_windows(&tok, &card.tokenizer_sha256, &rc.data, &[], card.frames, card.resolution, t.window_stride, device)?, true),
    };
    // Fails before anything is written when no complete multi-view sample exists.
    let (cams, groups) = groups(&cache, &rc.data, f.trajectory_points, step_us, tok.config.temporal_compression())?;
    if fresh {
        std::fs::create_dir_all(run).map_err(|e| ModelError::Io(run.display().to_string(), e))?;
        cache.save(&dir)?;
        if !opts.resume {
            tr::write_atomic(&cfg_path, serde_json::to_string_pretty(&rc).expect("config serialises").as_bytes())?;
        }
    }
    cache.index.mean = card.latent_mean.clone();
    cache.index.std = card.latent_std.clone();
    let [h, w] = card.resolution;
    let cameras = cams.iter().map(|c| {
        let model = c.model.scaled_to(w as u32, h as u32).map_err(|e| ModelError::Data(format!("camera {}: {e}", c.name)))?;
        Ok(CameraSpec { model, ..c.clone() })
    });
    let cameras = cameras.collect::<Result<Vec<_>, ModelError>>()?;
    let mv_card = MvCard {
        kind: "multiview".into(),
        text2world: card.clone(),
        init: rc.init.clone(),
        init_sha256: t2w.weights_sha256.clone(),
        trajectory_points: f.trajectory_points,
        trajectory_step_us: step_us,
        cross_view: f.cross_view,
        trajectory: f.trajectory,
        cameras,
        sample: f.sample.clone(),
    };
    let card_path = run.join("multiview.json");
    if card_path.exists() {
        let old: MvCard = read_json(&card_path)?;
        if old.init_sha256 != mv_card.init_sha256 {
            return Err(ModelError::Config(format!(
                "{}: the run started from Text2World weights with sha256 {}, but {} now has {}",
                card_path.display(),
                old.init_sha256,
                t2w.weights.display(),
                mv_card.init_sha256
            )));
        }
    } else {
        tr::write_atomic(&card_path, serde_json::to_string_pretty(&mv_card).expect("card serialises").as_bytes())?;
    }
    tracing::info!(samples = groups.len(), views = groups[0].windows.len(), "multi-view training samples ready");

    device.seed(t.seed);
    let ad = device.clone().autodiff();
    let base = tr::load_module(card.model.init(&ad), &t2w.weights)?;
    let model = MultiViewDit::new(base, &card.model, f.trajectory_points, &ad);
    let mode = f.mode();
    let sd = card.sigma_data;
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
    let probe = |m: &MultiViewDit| probe_loss(m, &cache, &groups, &card.vocab, &t, sd, mode, device);
    tr::fit(
        run,
        &fit,
        model,
        opts.resume,
        opts.max_steps_now,
        |m, step| {
            let b = make_batch(&cache, &groups, &card.vocab, &t, sd, step, &ad);
            let tag = if b.v2w.cond_frames > 0 { "video2world" } else { "text2world" };
            (batch_loss(m, b, sd, mode), tag)
        },
        probe,
        on_step,
    )
}
