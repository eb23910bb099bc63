//! EDM diffusion (Karras et al. 2022, "Elucidating the Design Space of Diffusion-Based Generative
//! Models"), independent of any network: four small pieces that meet only through plain functions.
//!
//! - [`precond`]: the preconditioning `c_skip, c_out, c_in, c_noise` and the [`Denoiser`] that turns a
//!   raw network `F(x_in, c_noise, cond)` into `D(x, sigma) = c_skip x + c_out F(c_in x, c_noise)`.
//! - [`loss`]: the log-normal training density of sigma, the weighting `lambda(sigma)` and the
//!   weighted denoising loss for a batch.
//! - [`schedule`]: the Karras sigma schedule (a pure function returning sigmas that end in 0).
//! - [`sampler`]: Euler, Heun (optionally with stochastic churn) and DPM-Solver++(2M); a sampler sees
//!   only `denoise(x, sigma) -> x0` and does its scalar arithmetic in f64.
//! - [`guidance`]: classifier-free guidance as a wrapper around two denoisers.
//! - [`video2world`]: conditioning on given first latent frames (lightly noised), in sampling and in
//!   the loss.
//!
//! # Shapes
//! Every function is generic over the tensor rank `D`; axis 0 is always the batch. Per-sample noise
//! levels are `Tensor<1>` of length `batch`, broadcast over the other axes. Only [`video2world`] needs
//! to know which axis is time, and takes it as a plain argument (2 for the tokenizer's latents
//! `[batch, channel, time, height, width]`).
//!
//! # Randomness
//! Nothing here draws from the device generator: noise is passed in as tensors, or drawn from an
//! explicit [`SplitMix64`](crate::rng::SplitMix64) on the host by [`gaussian`], so a seed reproduces a
//! run bit for bit on any backend.

pub mod guidance;
pub mod loss;
pub mod precond;
pub mod sampler;
pub mod schedule;
pub mod video2world;

pub use guidance::{guidance, guided};
pub use loss::{denoising_loss, loss_weight, LogNormal};
pub use precond::{Denoiser, Edm};
pub use sampler::{sample_dpmpp_2m, sample_euler, sample_heun, sample_heun_churn, Churn, Sampler};
pub use schedule::{karras_sigmas, KarrasSchedule};
pub use video2world::Video2World;

use burn::prelude::*;

use crate::rng::SplitMix64;

/// Standard normal samples (Box-Muller over `rng`), drawn on the host and uploaded: the same seed
/// gives the same tensor on every backend.
pub fn gaussian<const D: usize>(dims: [usize; D], rng: &mut SplitMix64, device: &Device) -> Tensor<D> {
    let n: usize = dims.iter().product();
    let mut data = Vec::with_capacity(n + 1);
    while data.len() < n {
        let (a, b) = normal_pair(rng);
        data.push(a as f32);
        data.push(b as f32);
    }
    data.truncate(n);
    Tensor::from_data(TensorData::new(data, dims), device)
}

/// Two independent standard normal samples.
pub(crate) fn normal_pair(rng: &mut SplitMix64) -> (f64, f64) {
    // 1 - u lies in (0, 1], so the logarithm is finite.
    let r = (-2.0 * (1.0 - rng.unit()).ln()).sqrt();
    let theta = std::f64::consts::TAU * rng.unit();
    (r * theta.cos(), r * theta.sin())
}

/// A per-sample `[batch]` tensor reshaped to `[batch, 1, ..., 1]` so it broadcasts against rank `D`.
pub(crate) fn per_sample<const D: usize>(v: Tensor<1>) -> Tensor<D> {
    let mut dims = [1usize; D];
    dims[0] = v.dims()[0];
    v.reshape(dims)
}
