//! Video2World conditioning: the first `cond_frames` latent frames are given and the rest generated
//! (Cosmos' video-extension model; DESIGN section 5).
//!
//! The given frames replace the noisy input on those frames, lightly noised with `augment_sigma` so the
//! network does not rely on exactly clean latents. As in Cosmos, they are pre-scaled by
//! `c_in(augment_sigma) / c_in(sigma)`: after the preconditioner multiplies its input by `c_in(sigma)`
//! the network sees them at the unit scale of a `c_in(augment_sigma)`-scaled input, whatever the
//! noise level of the generated frames. The denoised output on those frames is the given latents
//! (so every sampler ends on them exactly), and the loss is averaged over the generated frames only.
//! Telling the network which frames are given (for example as an extra input channel built from
//! [`Video2World::mask`]) is the network's business.

use burn::prelude::*;
use burn::tensor::Bool;
use serde::{Deserialize, Serialize};

use super::loss::weighted_error;
use super::per_sample;

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Video2World {
    /// The time axis of the latents (2 for `[batch, channel, time, height, width]`).
    pub time_axis: usize,
    /// How many leading latent frames are given.
    pub cond_frames: usize,
    /// The noise level of the given frames (0 for clean ones).
    pub augment_sigma: f64,
    /// The preconditioner's `sigma_data`, for the `c_in` pre-scaling.
    pub sigma_data: f64,
}

impl Default for Video2World {
    /// One given frame of `[batch, channel, time, height, width]` latents, `augment_sigma = 0.001`
    /// (Cosmos' default), `sigma_data = 0.5`.
    fn default() -> Self {
        Self { time_axis: 2, cond_frames: 1, augment_sigma: 0.001, sigma_data: 0.5 }
    }
}

impl Video2World {
    /// `true` on the given frames, of the full shape `dims`.
    pub fn mask<const D: usize>(&self, dims: [usize; D], device: &Device) -> Tensor<D, Bool> {
        let frames = dims[self.time_axis];
        let inner: usize = dims[self.time_axis + 1..].iter().product();
        let n: usize = dims.iter().product();
        let v: Vec<bool> = (0..n).map(|i| (i / inner) % frames < self.cond_frames).collect();
        Tensor::from_data(TensorData::new(v, dims), device)
    }

    /// `c_in(augment_sigma) / c_in(sigma)`: the pre-scaling of the given frames.
    fn input_scale(&self, sigma: f64) -> f64 {
        let sd2 = self.sigma_data * self.sigma_data;
        ((sigma * sigma + sd2) / (self.augment_sigma * self.augment_sigma + sd2)).sqrt()
    }

    /// A denoiser for sampling with the given frames: `latents` has the full shape of the samples
    /// (only its first `cond_frames` frames are read), `augment_noise` is standard normal of the same
    /// shape, drawn once for the whole trajectory.
    pub fn conditioned<const D: usize>(
        &self,
        latents: Tensor<D>,
        augment_noise: Tensor<D>,
        denoise: impl Fn(Tensor<D>, f64) -> Tensor<D>,
    ) -> impl Fn(Tensor<D>, f64) -> Tensor<D> {
        let v = *self;
        let mask = self.mask(latents.dims(), &latents.device());
        let noised = latents.clone() + augment_noise.mul_scalar(self.augment_sigma);
        move |x, sigma| {
            let x = x.mask_where(mask.clone(), noised.clone().mul_scalar(v.input_scale(sigma)));
            denoise(x, sigma).mask_where(mask.clone(), latents.clone())
        }
    }

    /// The EDM loss (see [`denoising_loss`](super::denoising_loss)) with the given frames: the input
    /// is `x0 + sigma noise` on the generated frames and `x0 + augment_sigma augment_noise` (pre-scaled)
    /// on the given ones, and the weighted error is averaged over the generated frames only.
    ///
    /// # Shapes
    /// - `x0`, `noise`, `augment_noise`: `[batch, ...]`; `sigma`: `[batch]`; returns `[1]`.
    pub fn loss<const D: usize>(
        &self,
        denoise: impl FnOnce(Tensor<D>, Tensor<1>) -> Tensor<D>,
        x0: Tensor<D>,
        sigma: Tensor<1>,
        noise: Tensor<D>,
        augment_noise: Tensor<D>,
    ) -> Tensor<1> {
        let dims = x0.dims();
        let device = x0.device();
        let frames = dims[self.time_axis];
        let generated = frames.saturating_sub(self.cond_frames);
        if generated == 0 {
            return Tensor::zeros([1], &device);
        }
        let mask = self.mask(dims, &device);
        let sd2 = self.sigma_data * self.sigma_data;
        let aug2 = self.augment_sigma * self.augment_sigma;
        // c_in(augment_sigma) / c_in(sigma), per sample.
        let scale = sigma.clone().square().add_scalar(sd2).div_scalar(aug2 + sd2).sqrt();
        let given = (x0.clone() + augment_noise.mul_scalar(self.augment_sigma)) * per_sample::<D>(scale);
        let x = (x0.clone() + noise * per_sample::<D>(sigma.clone())).mask_where(mask.clone(), given);
        let denoised = denoise(x, sigma.clone());
        let count = dims.iter().product::<usize>() / frames * generated;
        weighted_error(denoised, x0, sigma, self.sigma_data).mask_fill(mask, 0.0).sum().div_scalar(count as f64)
    }
}
