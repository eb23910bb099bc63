//! Pieces every trainer shares: learning-rate schedule, EMA of the weights, the JSONL loss log,
//! atomic checkpoint directories and resume.
//!
//! A run directory holds `config.json` (the resolved config), `losses.jsonl` (one line per logged
//! step) and `checkpoints/step-NNNNNNNN/` directories, each written under a temporary name and
//! renamed when complete, holding `model.bpk`, `optim.bpk`, optionally `ema.bpk`, and `state.json`.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use burn::module::{Module, ModuleMapper, ModuleVisitor, Param, ParamId};
use burn::prelude::*;
use serde::{Deserialize, Serialize};

use crate::ModelError;

/// Linear warm-up to `lr`, then cosine decay to `lr * min_ratio` at `total` steps.
pub fn lr_at(step: u64, total: u64, lr: f64, warmup: u64, min_ratio: f64) -> f64 {
    if warmup > 0 && step < warmup {
        return lr * (step + 1) as f64 / warmup as f64;
    }
    let span = total.saturating_sub(warmup).max(1) as f64;
    let p = ((step.saturating_sub(warmup)) as f64 / span).clamp(0.0, 1.0);
    let min = lr * min_ratio;
    min + (lr - min) * 0.5 * (1.0 + (std::f64::consts::PI * p).cos())
}

struct Collect(HashMap<ParamId, Tensor<1>>);

impl ModuleVisitor for Collect {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let v = param.val().without_autodiff();
        let n = v.shape().num_elements();
        self.0.insert(param.id, v.reshape([n]));
    }
}

struct Blend {
    src: HashMap<ParamId, Tensor<1>>,
    decay: f64,
    missing: usize,
}

impl ModuleMapper for Blend {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let Some(src) = self.src.remove(&param.id) else {
            self.missing += 1;
            return param;
        };
        let decay = self.decay;
        param.map(|e| {
            let dims = e.dims();
            e.mul_scalar(decay) + src.reshape(dims).mul_scalar(1.0 - decay)
        })
    }
}

/// `ema <- decay * ema + (1 - decay) * model`, matching parameters by id (the EMA starts as a copy
/// of the model, so ids agree).
pub fn ema_update<M: Module>(ema: M, model: &M, decay: f64) -> Result<M, ModelError> {
    let mut c = Collect(HashMap::new());
    model.visit(&mut c);
    let mut b = Blend { src: c.0, decay, missing: 0 };
    let ema = ema.map(&mut b);
    if b.missing > 0 || !b.src.is_empty() {
        return Err(ModelError::Checkpoint(format!(
            "EMA and model parameters do not correspond ({} EMA parameters without a model parameter, {} model parameters unused)",
            b.missing,
            b.src.len()
        )));
    }
    Ok(ema)
}

struct AllParams(Vec<f32>);

impl ModuleVisitor for AllParams {
    fn visit_float<const D: usize>(&mut self, p: &Param<Tensor<D>>) {
        let v = p.val().without_autodiff().into_data();
        self.0.extend(v.as_slice::<f32>().expect("f32 parameters"));
    }
}

/// Every float parameter of a module, flattened in visiting order (for comparing weights).
pub fn flat_params<M: Module>(m: &M) -> Vec<f32> {
    let mut v = AllParams(Vec::new());
    m.visit(&mut v);
    v.0
}

/// One line of `losses.jsonl`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LossLine {
    pub step: u64,
    pub loss: f64,
    #[serde(flatten)]
    pub parts: serde_json::Map<String, serde_json::Value>,
    pub lr: f64,
    pub seconds: f64,
}

/// Appends loss lines; on resume, drops lines after the resumed step first.
pub struct LossLog {
    path: PathBuf,
    file: std::fs::File,
}

impl LossLog {
    pub fn open(run: &Path, keep_through: Option<u64>) -> Result<Self, ModelError> {
        let path = run.join("losses.jsonl");
        let io = |e| ModelError::Io(path.display().to_string(), e);
        if let Some(step) = keep_through {
            if path.exists() {
                let text = std::fs::read_to_string(&path).map_err(io)?;
                let kept: Vec<&str> = text
                    .lines()
                    .filter(|l| serde_json::from_str::<LossLine>(l).map(|x| x.step <= step).unwrap_or(false))
                    .collect();
                let mut s = kept.join("\n");
                if !s.is_empty() {
                    s.push('\n');
                }
                std::fs::write(&path, s).map_err(io)?;
            }
        } else if path.exists() {
            std::fs::remove_file(&path).map_err(io)?;
        }
        let file = std::fs::OpenOptions::new().create(true).append(true).open(&path).map_err(io)?;
        Ok(Self { path, file })
    }

    pub fn write(&mut self, line: &LossLine) -> Result<(), ModelError> {
        let mut s = serde_json::to_string(line).expect("loss line serialises");
        s.push('\n');
        self.file.write_all(s.as_bytes()).map_err(|e| ModelError::Io(self.path.display().to_string(), e))
    }
}

/// Reads every line of a run's `losses.jsonl`.
pub fn read_losses(run: &Path) -> Result<Vec<LossLine>, ModelError> {
    let path = run.join("losses.jsonl");
    let text = std::fs::read_to_string(&path).map_err(|e| ModelError::Io(path.display().to_string(), e))?;
    text.lines()
        .enumerate()
        .map(|(i, l)| serde_json::from_str(l).map_err(|e| ModelError::Data(format!("{} line {}: {e}", path.display(), i + 1))))
        .collect()
}

/// Progress of one step, for a progress bar.
#[derive(Debug, Clone, Copy)]
pub struct StepInfo {
    pub step: u64,
    pub total: u64,
    pub loss: f64,
    pub lr: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TrainSummary {
    pub steps_done: u64,
    pub total_steps: u64,
    pub first_loss: Option<f64>,
    pub last_loss: f64,
    pub seconds: f64,
    pub seconds_per_step: f64,
    pub finished: bool,
}

/// Checks the optimiser settings every training config has: `lr > 0`, `min_lr_ratio` in [0, 1],
/// `ema` (when set) in [0, 1), and each named probability in [0, 1].
pub fn validate_optim(lr: f64, min_lr_ratio: f64, ema: Option<f64>, probabilities: &[(&str, f64)]) -> Result<(), ModelError> {
    if !(lr > 0.0) || !(0.0..=1.0).contains(&min_lr_ratio) {
        return Err(ModelError::Config("train.lr must be positive and min_lr_ratio within [0, 1]".into()));
    }
    if let Some(e) = ema {
        if !(0.0..1.0).contains(&e) {
            return Err(ModelError::Config(format!("train.ema {e} must be within [0, 1)")));
        }
    }
    for (name, p) in probabilities {
        if !(0.0..=1.0).contains(p) {
            return Err(ModelError::Config(format!("train.{name} {p} must be within [0, 1]")));
        }
    }
    Ok(())
}

/// The SHA-256 of a file, as lower-case hex (checkpoint provenance).
pub fn sha256_file(path: &Path) -> Result<String, ModelError> {
    use sha2::{Digest, Sha256};
    let bytes = std::fs::read(path).map_err(|e| ModelError::Io(path.display().to_string(), e))?;
    let d = Sha256::digest(&bytes);
    Ok(d.iter().map(|b| format!("{b:02x}")).collect())
}

/// What a checkpoint records besides the tensors.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TrainState {
    /// Steps completed.
    pub step: u64,
    /// Seconds of training so far (all sessions of the run).
    pub seconds: f64,
    /// The last logged loss.
    pub loss: f64,
}

pub fn checkpoint_dir(run: &Path, step: u64) -> PathBuf {
    run.join("checkpoints").join(format!("step-{step:08}"))
}

/// The newest complete checkpoint of a run (`state.json` is written last).
pub fn latest_checkpoint(run: &Path) -> Option<(PathBuf, TrainState)> {
    let dir = run.join("checkpoints");
    let mut best: Option<(PathBuf, TrainState)> = None;
    for e in std::fs::read_dir(&dir).ok()?.flatten() {
        let p = e.path();
        let name = e.file_name().to_string_lossy().to_string();
        if !name.starts_with("step-") {
            continue;
        }
        let Ok(text) = std::fs::read_to_string(p.join("state.json")) else { continue };
        let Ok(state) = serde_json::from_str::<TrainState>(&text) else { continue };
        if best.as_ref().map(|(_, s)| state.step > s.step).unwrap_or(true) {
            best = Some((p, state));
        }
    }
    best
}

/// Saves a module to `path` through a temporary file and a rename.
pub fn save_module<M: Module>(module: M, path: &Path) -> Result<(), ModelError> {
    let tmp = path.with_extension("bpk.tmp");
    module.save_file(&tmp).map_err(|e| ModelError::Checkpoint(format!("{}: {e}", tmp.display())))?;
    std::fs::rename(&tmp, path).map_err(|e| ModelError::Io(path.display().to_string(), e))
}

/// Loads weights saved by [`save_module`] into `module` (same architecture).
pub fn load_module<M: Module>(module: M, path: &Path) -> Result<M, ModelError> {
    if !path.exists() {
        return Err(ModelError::Checkpoint(format!("{}: no such file", path.display())));
    }
    module.try_load_file(path).map_err(|e| ModelError::Checkpoint(format!("{}: {e}", path.display())))
}

/// Writes a checkpoint directory atomically: `write` fills a temporary directory, `state.json` is
/// added, then it is renamed into place. Older checkpoints beyond `keep` are removed.
pub fn write_checkpoint(
    run: &Path,
    state: &TrainState,
    keep: usize,
    write: impl FnOnce(&Path) -> Result<(), ModelError>,
) -> Result<PathBuf, ModelError> {
    let dir = checkpoint_dir(run, state.step);
    let parent = dir.parent().expect("checkpoint dir has a parent").to_path_buf();
    std::fs::create_dir_all(&parent).map_err(|e| ModelError::Io(parent.display().to_string(), e))?;
    let tmp = parent.join(format!(".tmp-step-{:08}", state.step));
    if tmp.exists() {
        std::fs::remove_dir_all(&tmp).map_err(|e| ModelError::Io(tmp.display().to_string(), e))?;
    }
    std::fs::create_dir_all(&tmp).map_err(|e| ModelError::Io(tmp.display().to_string(), e))?;
    write(&tmp)?;
    let s = serde_json::to_string_pretty(state).expect("state serialises");
    std::fs::write(tmp.join("state.json"), s).map_err(|e| ModelError::Io(tmp.display().to_string(), e))?;
    if dir.exists() {
        std::fs::remove_dir_all(&dir).map_err(|e| ModelError::Io(dir.display().to_string(), e))?;
    }
    std::fs::rename(&tmp, &dir).map_err(|e| ModelError::Io(dir.display().to_string(), e))?;
    // Keep the newest `keep` checkpoints.
    let mut steps: Vec<PathBuf> = std::fs::read_dir(&parent)
        .map_err(|e| ModelError::Io(parent.display().to_string(), e))?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.file_name().map(|n| n.to_string_lossy().starts_with("step-")).unwrap_or(false))
        .collect();
    steps.sort();
    while steps.len() > keep.max(1) {
        let old = steps.remove(0);
        let _ = std::fs::remove_dir_all(old);
    }
    Ok(dir)
}

/// Writes `text` to `path` through a temporary file and a rename.
pub fn write_atomic(path: &Path, text: &[u8]) -> Result<(), ModelError> {
    let tmp = path.with_file_name(format!(".{}.tmp", path.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default()));
    std::fs::write(&tmp, text).map_err(|e| ModelError::Io(tmp.display().to_string(), e))?;
    std::fs::rename(&tmp, path).map_err(|e| ModelError::Io(path.display().to_string(), e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedule_warms_up_then_decays() {
        assert!((lr_at(0, 100, 1.0, 10, 0.1) - 0.1).abs() < 1e-12);
        assert!((lr_at(9, 100, 1.0, 10, 0.1) - 1.0).abs() < 1e-12);
        assert!((lr_at(10, 100, 1.0, 10, 0.1) - 1.0).abs() < 1e-12);
        assert!((lr_at(100, 100, 1.0, 10, 0.1) - 0.1).abs() < 1e-12);
        let mid = lr_at(55, 100, 1.0, 10, 0.1);
        assert!((mid - 0.55).abs() < 1e-9, "{mid}");
    }
}

/// The optimisation settings [`fit`] needs.
#[derive(Debug, Clone)]
pub struct FitConfig {
    pub steps: u64,
    pub lr: f64,
    pub warmup_steps: u64,
    pub min_lr_ratio: f64,
    pub weight_decay: f32,
    pub grad_clip: Option<f32>,
    pub ema: Option<f64>,
    pub checkpoint_every: u64,
    pub log_every: u64,
}

/// What a run directory's training loop does with a model: AdamW with warm-up and cosine decay,
/// optional gradient clipping and EMA, the JSONL loss log (the mean loss per `log_every` steps, the
/// mean per step tag, and `probe`, the loss of the current weights on fixed batches, also at step
/// 0), atomic checkpoints every `checkpoint_every` steps with exact resume, and, once the run reaches
/// `steps`, `model.bpk` (the EMA weights when EMA is on).
///
/// `model` lives on an autodiff device and is freshly initialised (a checkpoint replaces its
/// weights when `resume` finds one). `step_loss(model, step)` returns the loss of step `step` and a
/// tag naming the kind of step; it must depend on the step number only (not on how many steps ran
/// in this invocation), which is what makes resume exact. `probe(valid_model)` returns the probe loss.
#[allow(clippy::too_many_arguments)]
pub fn fit<M: Module>(
    run: &Path,
    cfg: &FitConfig,
    mut model: M,
    resume: bool,
    max_steps_now: Option<u64>,
    mut step_loss: impl FnMut(&M, u64) -> (Tensor<1>, &'static str),
    mut probe: impl FnMut(&M) -> f64,
    mut on_step: impl FnMut(StepInfo),
) -> Result<TrainSummary, ModelError> {
    use burn::grad_clipping::GradientClippingConfig;
    use burn::optim::{AdamWConfig, GradientsParams, ModuleOptimizer};
    use std::time::Instant;

    let resumed = if resume { latest_checkpoint(run) } else { None };
    let paths = |dir: &Path| (dir.join("model.bpk"), dir.join("optim.bpk"), dir.join("ema.bpk"));
    let mut optim: ModuleOptimizer = {
        let mut c = AdamWConfig::new().with_weight_decay(cfg.weight_decay);
        if let Some(clip) = cfg.grad_clip {
            c = c.with_grad_clipping(Some(GradientClippingConfig::Norm(clip)));
        }
        c.init()
    };
    let mut ema: Option<M> = cfg.ema.map(|_| model.valid());
    let mut state = TrainState { step: 0, seconds: 0.0, loss: f64::NAN };
    if let Some((dir, s)) = &resumed {
        let (mp, op, ep) = paths(dir);
        model = load_module(model, &mp)?;
        optim = optim.load(&op).map_err(|e| ModelError::Checkpoint(format!("{}: {e}", op.display())))?;
        if let Some(e) = ema.take() {
            ema = Some(load_module(e, &ep)?);
        }
        state = s.clone();
        tracing::info!(step = s.step, checkpoint = %dir.display(), "resuming");
    } else if resume {
        tracing::warn!("{}: no checkpoint yet; starting from step 0", run.display());
    }
    // A resume without a checkpoint starts the loss log over, like the run.
    let mut log = LossLog::open(run, resumed.as_ref().map(|_| state.step))?;
    let end = match max_steps_now {
        Some(n) => (state.step + n).min(cfg.steps),
        None => cfg.steps,
    };
    let save = |state: &TrainState, model: &M, optim: &ModuleOptimizer, ema: &Option<M>| -> Result<(), ModelError> {
        write_checkpoint(run, state, 2, |dir| {
            let (mp, op, ep) = paths(dir);
            // The training module itself (not `valid()`), so the saved parameter ids match the optimizer state.
            save_module(model.clone(), &mp)?;
            optim.save(&op).map_err(|e| ModelError::Checkpoint(format!("{}: {e}", op.display())))?;
            if let Some(e) = ema {
                save_module(e.clone(), &ep)?;
            }
            Ok(())
        })?;
        Ok(())
    };

    let started = Instant::now();
    let (base_seconds, first_step) = (state.seconds, state.step);
    let mut first_loss = None;
    let mut last_loss = state.loss;
    let mut acc: Vec<(&'static str, f64, u64)> = Vec::new();
    if state.step == 0 && end > 0 {
        let p = probe(&model.valid());
        let mut parts = serde_json::Map::new();
        parts.insert("probe".into(), p.into());
        log.write(&LossLine { step: 0, loss: p, parts, lr: 0.0, seconds: 0.0 })?;
        tracing::info!(probe = format!("{p:.4}"), "loss of the initial weights on the probe batches");
    }
    while state.step < end {
        let step = state.step;
        let (loss, tag) = step_loss(&model, step);
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        let lr = lr_at(step, cfg.steps, cfg.lr, cfg.warmup_steps, cfg.min_lr_ratio);
        model = optim.step(lr, model, grads);
        if let (Some(e), Some(decay)) = (ema.take(), cfg.ema) {
            // Short runs: the effective decay ramps up so early weights do not dominate.
            let d = decay.min((1.0 + step as f64) / (10.0 + step as f64));
            ema = Some(ema_update(e, &model, d)?);
        }
        let lv = loss.into_scalar::<f32>() as f64;
        if !lv.is_finite() {
            return Err(ModelError::Data(format!("loss became {lv} at step {step}; lower the learning rate or check the data")));
        }
        first_loss.get_or_insert(lv);
        match acc.iter_mut().find(|a| a.0 == tag) {
            Some(a) => {
                a.1 += lv;
                a.2 += 1;
            }
            None => acc.push((tag, lv, 1)),
        }
        state.step += 1;
        state.seconds = base_seconds + started.elapsed().as_secs_f64();
        last_loss = lv;
        state.loss = lv;
        on_step(StepInfo { step: state.step, total: cfg.steps, loss: lv, lr });
        if state.step % cfg.log_every == 0 || state.step == end {
            let (sum, n) = acc.iter().fold((0.0, 0u64), |(s, n), a| (s + a.1, n + a.2));
            let mut parts = serde_json::Map::new();
            if acc.len() > 1 {
                for (tag, s, k) in &acc {
                    parts.insert((*tag).into(), (s / *k as f64).into());
                }
            }
            parts.insert("probe".into(), probe(&model.valid()).into());
            log.write(&LossLine { step: state.step, loss: sum / n as f64, parts, lr, seconds: state.seconds })?;
            acc.clear();
        }
        if state.step % cfg.checkpoint_every == 0 || state.step == end {
            save(&state, &model, &optim, &ema)?;
        }
    }
    let finished = state.step >= cfg.steps;
    if finished {
        let weights = match &ema {
            Some(e) => e.clone(),
            None => model.valid(),
        };
        save_module(weights, &run.join("model.bpk"))?;
    }
    let steps_now = state.step - first_step;
    Ok(TrainSummary {
        steps_done: state.step,
        total_steps: cfg.steps,
        first_loss,
        last_loss,
        seconds: state.seconds,
        seconds_per_step: if steps_now > 0 { started.elapsed().as_secs_f64() / steps_now as f64 } else { 0.0 },
        finished,
    })
}
