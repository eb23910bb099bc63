//! `worldrig tokenizer train`: random crops of scene-log videos, L1 + SSIM loss, AdamW with warm-up
//! and cosine decay, optional EMA, atomic checkpoints every N steps and exact resume.
//!
//! Batches are drawn from a generator seeded by `(seed, step)`, so a resumed run sees the same
//! batches as an uninterrupted one.

use std::path::{Path, PathBuf};
use std::time::Instant;

use burn::grad_clipping::GradientClippingConfig;
use burn::module::Module;
use burn::optim::{AdamWConfig, GradientsParams, ModuleOptimizer};
use burn::prelude::*;
use serde::{Deserialize, Serialize};

use super::config::TokenizerFile;
use super::loss::reconstruction_loss;
use super::model::Tokenizer;
use crate::data::{sample_batch, Video};
use crate::rng::SplitMix64;
use crate::train::{self as tr, LossLine, LossLog, TrainState};
pub use crate::train::{StepInfo, TrainSummary};
use crate::ModelError;

/// What a run directory's `config.json` holds: the resolved config and where the data came from.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunConfig {
    pub kind: String,
    pub config: TokenizerFile,
    pub data: Vec<PathBuf>,
    pub cameras: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct TrainOptions {
    pub out: PathBuf,
    pub data: Vec<PathBuf>,
    pub cameras: Vec<String>,
    /// Continue the newest checkpoint of `out` (its `config.json` wins over `file`).
    pub resume: bool,
    /// Stop after this many steps in this invocation (the run's total stays `train.steps`).
    pub max_steps_now: Option<u64>,
    /// Change the run's total steps (`train.steps`), also on `--resume`: the cosine schedule is
    /// stretched or shortened from the current step on, and `config.json` records the new total.
    pub total_steps: Option<u64>,
}

fn model_paths(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    (dir.join("model.bpk"), dir.join("optim.bpk"), dir.join("ema.bpk"))
}

/// Trains a tokenizer. `videos` are the decoded clips of `opts.data`.
pub fn train(
    file: &TokenizerFile,
    videos: &[Video],
    opts: &TrainOptions,
    device: &Device,
    mut on_step: impl FnMut(StepInfo),
) -> Result<TrainSummary, ModelError> {
    let run = &opts.out;
    let cfg_path = run.join("config.json");
    let resumed = if opts.resume { tr::latest_checkpoint(run) } else { None };
    let file = if opts.resume {
        let text = std::fs::read_to_string(&cfg_path).map_err(|e| ModelError::Io(cfg_path.display().to_string(), e))?;
        let saved: RunConfig = serde_json::from_str(&text).map_err(|e| ModelError::Config(format!("{}: {e}", cfg_path.display())))?;
        if saved.config.model != file.model {
            return Err(ModelError::Config(format!(
                "{}: --resume with a different model architecture than the run's (drop --config or use the run's)",
                cfg_path.display()
            )));
        }
        let mut c = saved.config.clone();
        if let Some(n) = opts.total_steps {
            if n != c.train.steps {
                tracing::info!(from = c.train.steps, to = n, "changing the run's total steps");
                c.train.steps = n;
                c.validate()?;
                let rc = RunConfig { config: c.clone(), ..saved };
                tr::write_atomic(&cfg_path, serde_json::to_string_pretty(&rc).expect("config serialises").as_bytes())?;
            }
        }
        c
    } else {
        let mut file = file.clone();
        if let Some(n) = opts.total_steps {
            file.train.steps = n;
            file.validate()?;
        }
        if run.join("checkpoints").exists() || cfg_path.exists() {
            return Err(ModelError::Config(format!("{}: already holds a run; pass --resume to continue it, or choose a new --out", run.display())));
        }
        // Fail before writing anything when the data cannot give a training sample.
        sample_batch(videos, &mut SplitMix64::new(0), 1, file.train.frames, file.train.crop)?;
        std::fs::create_dir_all(run).map_err(|e| ModelError::Io(run.display().to_string(), e))?;
        let rc = RunConfig { kind: "tokenizer".into(), config: file.clone(), data: opts.data.clone(), cameras: opts.cameras.clone() };
        tr::write_atomic(&cfg_path, serde_json::to_string_pretty(&rc).expect("config serialises").as_bytes())?;
        file
    };
    let t = &file.train;
    let m = &file.model;

    device.seed(t.seed);
    let ad = device.clone().autodiff();
    let mut model: Tokenizer = m.init(&ad);
    let mut optim: ModuleOptimizer = {
        let mut c = AdamWConfig::new().with_weight_decay(t.weight_decay);
        if let Some(clip) = t.grad_clip {
            c = c.with_grad_clipping(Some(GradientClippingConfig::Norm(clip)));
        }
        c.init()
    };
    if m.linear_shortcut && resumed.is_none() {
        let started = Instant::now();
        let (m2, info) = super::init::pca_init(model, videos, 32768, t.seed, &ad)?;
        model = m2;
        tracing::info!(
            vectors = info.vectors,
            dims = info.dims,
            explained = format!("{:.4}", info.explained),
            seconds = format!("{:.1}", started.elapsed().as_secs_f64()),
            "linear shortcut initialised from the principal components of the training data"
        );
    }
    let mut ema: Option<Tokenizer> = t.ema.map(|_| model.valid());
    let mut state = TrainState { step: 0, seconds: 0.0, loss: f64::NAN };
    if let Some((dir, s)) = &resumed {
        let (mp, op, ep) = model_paths(dir);
        model = tr::load_module(model, &mp)?;
        optim = optim.load(&op).map_err(|e| ModelError::Checkpoint(format!("{}: {e}", op.display())))?;
        if let Some(e) = ema.take() {
            ema = Some(tr::load_module(e, &ep)?);
        }
        state = s.clone();
        tracing::info!(step = s.step, checkpoint = %dir.display(), "resuming");
    } else if opts.resume {
        tracing::warn!("{}: no checkpoint yet; starting from step 0", run.display());
    }
    let mut log = LossLog::open(run, opts.resume.then_some(state.step))?;

    let [ch, cw] = t.crop;
    let shape = [t.batch, m.in_channels, t.frames, ch, cw];
    let end = match opts.max_steps_now {
        Some(n) => (state.step + n).min(t.steps),
        None => t.steps,
    };
    let mut first_loss = None;
    let (mut acc, mut acc_l1, mut acc_ssim, mut acc_n) = (0.0f64, 0.0f64, 0.0f64, 0u64);
    let mut last_loss = state.loss;
    let started = Instant::now();
    let base_seconds = state.seconds;
    let first_step = state.step;

    let save = |state: &TrainState, model: &Tokenizer, optim: &ModuleOptimizer, ema: &Option<Tokenizer>| -> Result<(), ModelError> {
        tr::write_checkpoint(run, state, 2, |dir| {
            let (mp, op, ep) = model_paths(dir);
            // The training module itself (not `valid()`), so the saved parameter ids match the optimizer state.
            tr::save_module(model.clone(), &mp)?;
            optim.save(&op).map_err(|e| ModelError::Checkpoint(format!("{}: {e}", op.display())))?;
            if let Some(e) = ema {
                tr::save_module(e.clone(), &ep)?;
            }
            Ok(())
        })?;
        Ok(())
    };

    while state.step < end {
        let step = state.step;
        let mut rng = SplitMix64::stream(t.seed, step);
        let data = sample_batch(videos, &mut rng, t.batch, t.frames, t.crop)?;
        let x: Tensor<5> = Tensor::from_data(TensorData::new(data, shape), &ad);
        let recon = model.forward(x.clone());
        let (loss, l1, ssim) = reconstruction_loss(recon, x, t.ssim_weight);
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        let lr = tr::lr_at(step, t.steps, t.lr, t.warmup_steps, t.min_lr_ratio);
        model = optim.step(lr, model, grads);
        if let (Some(e), Some(decay)) = (ema.take(), t.ema) {
            // Short runs: the effective decay ramps up so early weights do not dominate.
            let d = decay.min((1.0 + step as f64) / (10.0 + step as f64));
            ema = Some(tr::ema_update(e, &model, d)?);
        }
        let lv = loss.into_scalar::<f32>() as f64;
        if !lv.is_finite() {
            return Err(ModelError::Data(format!("loss became {lv} at step {step}; lower train.lr or check the data")));
        }
        first_loss.get_or_insert(lv);
        acc += lv;
        acc_l1 += l1.into_scalar::<f32>() as f64;
        acc_ssim += ssim.into_scalar::<f32>() as f64;
        acc_n += 1;
        state.step += 1;
        state.seconds = base_seconds + started.elapsed().as_secs_f64();
        last_loss = lv;
        state.loss = lv;
        on_step(StepInfo { step: state.step, total: t.steps, loss: lv, lr });
        if state.step % t.log_every == 0 || state.step == end {
            let mut parts = serde_json::Map::new();
            parts.insert("l1".into(), (acc_l1 / acc_n as f64).into());
            parts.insert("ssim".into(), (acc_ssim / acc_n as f64).into());
            log.write(&LossLine { step: state.step, loss: acc / acc_n as f64, parts, lr, seconds: state.seconds })?;
            (acc, acc_l1, acc_ssim, acc_n) = (0.0, 0.0, 0.0, 0);
        }
        if state.step % t.checkpoint_every == 0 || state.step == end {
            save(&state, &model, &optim, &ema)?;
        }
    }
    let finished = state.step >= t.steps;
    if finished {
        export(run, &file, &model, &ema)?;
    }
    let steps_now = state.step - first_step;
    Ok(TrainSummary {
        steps_done: state.step,
        total_steps: t.steps,
        first_loss,
        last_loss,
        seconds: state.seconds,
        seconds_per_step: if steps_now > 0 { started.elapsed().as_secs_f64() / steps_now as f64 } else { 0.0 },
        finished,
    })
}

/// Writes the run's final weights (`model.bpk`, the EMA weights when EMA is on) and `tokenizer.json`.
pub fn export(run: &Path, file: &TokenizerFile, model: &Tokenizer, ema: &Option<Tokenizer>) -> Result<(), ModelError> {
    let weights = match ema {
        Some(e) => e.clone(),
        None => model.valid(),
    };
    tr::save_module(weights, &run.join("model.bpk"))?;
    tr::write_atomic(&run.join("tokenizer.json"), serde_json::to_string_pretty(&file.model).expect("config serialises").as_bytes())
}

