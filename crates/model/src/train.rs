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
