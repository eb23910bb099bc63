//! Sampling from a Text2World run: the DiT as an EDM denoiser with classifier-free guidance
//! (conditional and unconditional passes batched together), any sampler over a Karras schedule,
//! optionally continuing given first latent frames (Video2World), decoded through the tokenizer.

use std::path::{Path, PathBuf};

use burn::prelude::*;
use serde::{Deserialize, Serialize};

use super::train::ModelCard;
use crate::data::{to_unit_frames, unit_to_rgb8, write_crop, Video};
use crate::diffusion::{gaussian, guidance, karras_sigmas, Denoiser, Edm, Sampler, Video2World};
use crate::dit::Dit;
use crate::rng::SplitMix64;
use crate::tokenizer::codec::LoadedTokenizer;
use crate::train as tr;
use crate::ModelError;

/// A Text2World model ready for sampling.
#[derive(Debug)]
pub struct Text2World {
    pub card: ModelCard,
    pub model: Dit,
    /// The weights file and its SHA-256 (provenance of generated clips).
    pub weights: PathBuf,
    pub weights_sha256: String,
}

/// Loads a run: `text2world.json` and the exported `model.bpk`, or, while it is still training, the
/// newest checkpoint (EMA weights when present).
pub fn load_run(run: &Path, device: &Device) -> Result<Text2World, ModelError> {
    let card_path = run.join("text2world.json");
    let text = std::fs::read_to_string(&card_path)
        .map_err(|e| ModelError::Io(format!("{} (not a Text2World run: no text2world.json)", card_path.display()), e))?;
    let card: ModelCard = serde_json::from_str(&text).map_err(|e| ModelError::Config(format!("{}: {e}", card_path.display())))?;
    card.model.validate()?;
    let weights = if run.join("model.bpk").exists() {
        run.join("model.bpk")
    } else {
        let (dir, _) = tr::latest_checkpoint(run).ok_or_else(|| ModelError::Checkpoint(format!("{}: no weights yet (no model.bpk, no checkpoint)", run.display())))?;
        let ema = dir.join("ema.bpk");
        if ema.exists() {
            ema
        } else {
            dir.join("model.bpk")
        }
    };
    let model = tr::load_module(card.model.init(device), &weights)?;
    let weights_sha256 = tr::sha256_file(&weights)?;
    Ok(Text2World { card, model, weights, weights_sha256 })
}

/// Resolves the tokenizer a run was trained with: `override_` when given, else the recorded path
/// (as recorded, then relative to the run directory's parent directories); its weights must have
/// the recorded SHA-256.
pub fn load_tokenizer(run: &Path, card: &ModelCard, override_: Option<&Path>, device: &Device) -> Result<LoadedTokenizer, ModelError> {
    let candidates: Vec<PathBuf> = match override_ {
        Some(p) => vec![p.to_path_buf()],
        None => {
            let mut c = vec![card.tokenizer.clone()];
            if card.tokenizer.is_relative() {
                c.extend(run.ancestors().skip(1).map(|a| a.join(&card.tokenizer)));
            }
            c
        }
    };
    let Some(found) = candidates.iter().find(|p| p.join("model.bpk").exists() || p.join("config.json").exists()) else {
        return Err(ModelError::Checkpoint(format!(
            "the tokenizer of {} ({}) was not found; pass --tokenizer RUN",
            run.display(),
            card.tokenizer.display()
        )));
    };
    let tok = crate::tokenizer::codec::load_run(found, device)?;
    let sha = tr::sha256_file(&tok.weights)?;
    if sha != card.tokenizer_sha256 {
        return Err(ModelError::Checkpoint(format!(
            "{}: sha256 {sha}, but {} was trained on latents of a tokenizer with sha256 {}",
            tok.weights.display(),
            run.display(),
            card.tokenizer_sha256
        )));
    }
    Ok(tok)
}

fn stats(card: &ModelCard, device: &Device) -> (Tensor<5>, Tensor<5>) {
    let c = card.latent_mean.len();
    let m: Vec<f32> = card.latent_mean.iter().map(|&v| v as f32).collect();
    let s: Vec<f32> = card.latent_std.iter().map(|&v| (card.sigma_data / v) as f32).collect();
    (
        Tensor::<1>::from_data(TensorData::new(m, [c]), device).reshape([1, c, 1, 1, 1]),
        Tensor::<1>::from_data(TensorData::new(s, [c]), device).reshape([1, c, 1, 1, 1]),
    )
}

/// Raw tokenizer latents `[b, c, t, h, w]` to a run's normalised space: `(z - mean) / std * sigma_data`.
pub fn normalise(card: &ModelCard, z: Tensor<5>) -> Tensor<5> {
    let (m, s) = stats(card, &z.device());
    (z - m) * s
}

/// The inverse of [`normalise`].
pub fn denormalise(card: &ModelCard, x: Tensor<5>) -> Tensor<5> {
    let (m, s) = stats(card, &x.device());
    x / s + m
}

/// What to sample.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SampleRequest {
    pub prompt: String,
    pub latent_frames: usize,
    pub seed: u64,
    pub sampler: Sampler,
    pub steps: usize,
    pub sigma_min: f64,
    pub sigma_max: f64,
    pub rho: f64,
    pub guidance: f64,
}

impl Text2World {
    /// `[1, c, t, h, w]` of a sample with `t` latent frames.
    pub fn latent_dims(&self, latent_frames: usize) -> [usize; 5] {
        let [h, w] = self.card.latent_size;
        [1, self.card.model.latent_channels, latent_frames, h, w]
    }

    /// Raw tokenizer latents to the model's normalised space.
    pub fn normalise(&self, z: Tensor<5>) -> Tensor<5> {
        normalise(&self.card, z)
    }

    /// The model's normalised space to raw tokenizer latents.
    pub fn denormalise(&self, x: Tensor<5>) -> Tensor<5> {
        denormalise(&self.card, x)
    }

    /// The guided denoiser `D(x, sigma)` for `prompt` (conditional and unconditional network passes
    /// in one batch of two; only the conditional one at guidance 1). `cond_frames` leading latent
    /// frames are marked as given in the network's mask channel.
    pub fn denoiser(&self, prompt: &str, guidance_scale: f64, cond_frames: usize, dims: [usize; 5], device: &Device) -> impl Fn(Tensor<5>, f64) -> Tensor<5> + '_ {
        let both = guidance_scale != 1.0;
        let captions: Vec<String> = if both { vec![prompt.to_string(), String::new()] } else { vec![prompt.to_string()] };
        let (ids, pad) = self.card.vocab.batch(&captions, device);
        let v = Video2World { time_axis: 2, cond_frames, augment_sigma: self.card.augment_sigma, sigma_data: self.card.sigma_data };
        let [_, _, t, h, w] = dims;
        let n = captions.len();
        let mask = v.mask([n, 1, t, h, w], device).float();
        let model = &self.model;
        let net = move |x: Tensor<5>, c_noise: Tensor<1>, _: &()| {
            if both {
                let x2 = Tensor::cat(vec![x.clone(), x], 0);
                let c2 = Tensor::cat(vec![c_noise.clone(), c_noise], 0);
                let out = model.forward(x2, c2, mask.clone(), ids.clone(), pad.clone());
                let cond = out.clone().narrow(0, 0, 1);
                let uncond = out.narrow(0, 1, 1);
                // D is affine in F, so guiding F guides D.
                guidance(cond, uncond, guidance_scale)
            } else {
                model.forward(x, c_noise, mask.clone(), ids.clone(), pad.clone())
            }
        };
        let den = Denoiser::new(Edm::new(self.card.sigma_data), net);
        move |x, sigma| den.denoise(x, sigma, &())
    }

    /// Samples normalised latents `[1, c, t, h, w]`. `given`: normalised latents whose first
    /// `cond_frames` frames are kept (Video2World), of the full sample shape.
    pub fn sample(&self, req: &SampleRequest, given: Option<(Tensor<5>, usize)>, device: &Device) -> Tensor<5> {
        let dims = self.latent_dims(req.latent_frames);
        let mut rng = SplitMix64::new(req.seed);
        let sigmas = karras_sigmas(req.steps, req.sigma_min, req.sigma_max, req.rho);
        let x = gaussian(dims, &mut rng, device).mul_scalar(sigmas[0]);
        let cond_frames = given.as_ref().map(|g| g.1).unwrap_or(0);
        let den = self.denoiser(&req.prompt, req.guidance, cond_frames, dims, device);
        match given {
            Some((latents, k)) => {
                let augment_noise = gaussian(dims, &mut rng, device);
                let v = Video2World { time_axis: 2, cond_frames: k, augment_sigma: self.card.augment_sigma, sigma_data: self.card.sigma_data };
                let c = v.conditioned(latents, augment_noise, den);
                req.sampler.sample(c, x, &sigmas)
            }
            None => req.sampler.sample(den, x, &sigmas),
        }
    }
}

/// The first `frames` frames of `video`, resized to the model's resolution, encoded and
/// normalised, and zero-padded to `latent_frames` latent frames.
pub fn given_latents(card: &ModelCard, tok: &LoadedTokenizer, video: &Video, frames: usize, latent_frames: usize, device: &Device) -> Result<Tensor<5>, ModelError> {
    let [h, w] = card.resolution;
    if video.frames.len() < frames {
        return Err(ModelError::Data(format!("{}: {} frames, {frames} needed for the given latent frames", video.name(), video.frames.len())));
    }
    let v = super::cache::resize_video(&Video { frames: video.frames[..frames].to_vec(), ..video.clone() }, h, w);
    let mut data = vec![0.0f32; 3 * frames * h * w];
    write_crop(&v, 0, frames, 0, 0, h, w, &mut data);
    let z = tok.encode(Tensor::from_data(TensorData::new(data, [1, 3, frames, h, w]), device));
    let z = normalise(card, z);
    let [_, c, k, lh, lw] = z.dims();
    if k >= latent_frames {
        return Ok(z.narrow(2, 0, latent_frames));
    }
    Ok(Tensor::cat(vec![z, Tensor::zeros([1, c, latent_frames - k, lh, lw], device)], 2))
}

/// Decodes normalised latents `[1, c, t, h, w]` to RGB8 frames.
pub fn decode_frames(card: &ModelCard, tok: &LoadedTokenizer, x: Tensor<5>) -> Result<Vec<Vec<u8>>, ModelError> {
    let y = tok.decode(denormalise(card, x));
    let [_, _, f, h, w] = y.dims();
    let data = y.into_data();
    let unit = to_unit_frames(data.as_slice::<f32>().map_err(|e| ModelError::Data(format!("{e:?}")))?, f, h, w);
    Ok(unit.iter().map(|u| unit_to_rgb8(u)).collect())
}
