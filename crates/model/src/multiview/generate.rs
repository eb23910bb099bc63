//! Sampling a multi-view run: every camera of a rig at once, conditioned on the caption, the rig's
//! calibration and the ego trajectory, optionally continuing given first latent frames per view.

use std::path::{Path, PathBuf};

use burn::prelude::*;

use super::model::{MultiViewDit, MvInputs, MvMode};
use super::train::MvCard;
use super::views::{CAMERA_FEATURES, POSE_FEATURES};
use crate::diffusion::{gaussian, guidance, karras_sigmas, Denoiser, Edm, Video2World};
use crate::rng::SplitMix64;
use crate::text2world::generate::SampleRequest;
use crate::train as tr;
use crate::ModelError;

/// A multi-view model ready for sampling.
#[derive(Debug)]
pub struct MvModel {
    pub card: MvCard,
    pub model: MultiViewDit,
    pub weights: PathBuf,
    pub weights_sha256: String,
}

/// The per-sample conditions: one row of calibration features per view, the trajectory, and the
/// ego pose of each latent frame.
#[derive(Debug, Clone)]
pub struct MvConditions {
    /// `[views * CAMERA_FEATURES]`.
    pub camera: Vec<f32>,
    /// `[3 * trajectory points]`.
    pub trajectory: Vec<f32>,
    /// `[latent frames * POSE_FEATURES]`.
    pub frame_pose: Vec<f32>,
}

/// Loads `multiview.json` and the exported `model.bpk` (or the newest checkpoint's EMA weights).
pub fn load_run(run: &Path, device: &Device) -> Result<MvModel, ModelError> {
    let card_path = run.join("multiview.json");
    let text = std::fs::read_to_string(&card_path)
        .map_err(|e| ModelError::Io(format!("{} (not a multi-view run: no multiview.json)", card_path.display()), e))?;
    let card: MvCard = serde_json::from_str(&text).map_err(|e| ModelError::Config(format!("{}: {e}", card_path.display())))?;
    let weights = if run.join("model.bpk").exists() {
        run.join("model.bpk")
    } else {
        let (dir, _) = tr::latest_checkpoint(run).ok_or_else(|| ModelError::Checkpoint(format!("{}: no weights yet (no model.bpk, no checkpoint)", run.display())))?;
        if dir.join("ema.bpk").exists() {
            dir.join("ema.bpk")
        } else {
            dir.join("model.bpk")
        }
    };
    let m = &card.text2world.model;
    let model = MultiViewDit::new(m.init(device), m, card.trajectory_points, device);
    let model = tr::load_module(model, &weights)?;
    let weights_sha256 = tr::sha256_file(&weights)?;
    Ok(MvModel { card, model, weights, weights_sha256 })
}

impl MvModel {
    /// Samples normalised latents `[views, c, t, h, w]`. `given`: normalised latents of that shape
    /// whose first `k` latent frames are kept (Video2World).
    pub fn sample(&self, req: &SampleRequest, views: usize, cond: &MvConditions, given: Option<(Tensor<5>, usize)>, mode: MvMode, device: &Device) -> Tensor<5> {
        let t2w = &self.card.text2world;
        let [h, w] = t2w.latent_size;
        let lt = req.latent_frames;
        let dims = [views, t2w.model.latent_channels, lt, h, w];
        let mut rng = SplitMix64::new(req.seed);
        let sigmas = karras_sigmas(req.steps, req.sigma_min, req.sigma_max, req.rho);
        let x = gaussian(dims, &mut rng, device).mul_scalar(sigmas[0]);
        let k = given.as_ref().map(|g| g.1).unwrap_or(0);
        let both = req.guidance != 1.0;
        let copies = if both { 2 } else { 1 };
        let mut captions = vec![req.prompt.clone(); views];
        if both {
            captions.extend(vec![String::new(); views]);
        }
        let (ids, pad) = t2w.vocab.batch(&captions, device);
        let rep = |v: &[f32]| -> Vec<f32> { (0..copies).flat_map(|_| v.iter().copied()).collect() };
        let per_view = |v: &[f32]| -> Vec<f32> { (0..copies * views).flat_map(|_| v.iter().copied()).collect() };
        let n = copies * views;
        let points = cond.trajectory.len();
        let v2w = Video2World { time_axis: 2, cond_frames: k, augment_sigma: t2w.augment_sigma, sigma_data: t2w.sigma_data };
        let base = MvInputs {
            x_in: Tensor::zeros([1, 1, 1, 1, 1], device),
            c_noise: Tensor::zeros([1], device),
            cond: v2w.mask([n, 1, lt, h, w], device).float(),
            ids,
            pad,
            views,
            camera: Tensor::from_data(TensorData::new(rep(&cond.camera), [n, CAMERA_FEATURES]), device),
            trajectory: Tensor::from_data(TensorData::new(per_view(&cond.trajectory), [n, points]), device),
            frame_pose: Tensor::from_data(TensorData::new(per_view(&cond.frame_pose), [n, lt, POSE_FEATURES]), device),
        };
        let model = &self.model;
        let scale = req.guidance;
        let net = move |x: Tensor<5>, c_noise: Tensor<1>, _: &()| {
            if both {
                let out = model.forward(
                    MvInputs { x_in: Tensor::cat(vec![x.clone(), x], 0), c_noise: Tensor::cat(vec![c_noise.clone(), c_noise], 0), ..base.clone() },
                    mode,
                );
                // D is affine in F, so guiding F guides D.
                guidance(out.clone().narrow(0, 0, views), out.narrow(0, views, views), scale)
            } else {
                model.forward(MvInputs { x_in: x, c_noise, ..base.clone() }, mode)
            }
        };
        let den = Denoiser::new(Edm::new(t2w.sigma_data), net);
        let denoise = move |x: Tensor<5>, sigma: f64| den.denoise(x, sigma, &());
        match given {
            Some((latents, k)) => {
                let augment_noise = gaussian(dims, &mut rng, device);
                let v = Video2World { cond_frames: k, ..v2w };
                req.sampler.sample(v.conditioned(latents, augment_noise, denoise), x, &sigmas)
            }
            None => req.sampler.sample(denoise, x, &sigmas),
        }
    }
}
