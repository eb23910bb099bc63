//! Samplers of the probability-flow ODE `dx/dsigma = (x - D(x, sigma)) / sigma` over a decreasing
//! list of noise levels (typically [`karras_sigmas`](super::karras_sigmas), ending in 0).
//!
//! A sampler sees only `denoise(x, sigma) -> D(x, sigma)` and does its scalar arithmetic in f64. The
//! input `x` is the starting point at `sigmas[0]` (for generation, standard normal noise times
//! `sigmas[0]`); the output is `x` at the last sigma. No step ever calls `denoise` at `sigma = 0`.
//!
//! - Euler (Karras et al. 2022, first order): one network evaluation per step.
//! - Heun (Karras et al. 2022, algorithm 1/2, second order): two evaluations per step, an Euler step
//!   into `sigma = 0`; optionally with stochastic churn (algorithm 2).
//! - DPM-Solver++(2M) (Lu et al. 2022) in the EDM parametrisation (`sigma = e^-t`, as in
//!   k-diffusion): second order, one evaluation per step, reusing the previous step's denoised
//!   estimate; first order (the same update as Euler/DDIM) on the first step and into `sigma = 0`.

use std::str::FromStr;

use burn::prelude::*;
use serde::{Deserialize, Serialize};

use super::gaussian;
use crate::rng::SplitMix64;

/// The deterministic samplers, for configs and for running one test suite over all of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Sampler {
    Euler,
    Heun,
    #[serde(rename = "dpmpp_2m")]
    Dpmpp2m,
}

impl Sampler {
    pub const ALL: [Sampler; 3] = [Sampler::Euler, Sampler::Heun, Sampler::Dpmpp2m];

    pub fn name(self) -> &'static str {
        match self {
            Sampler::Euler => "euler",
            Sampler::Heun => "heun",
            Sampler::Dpmpp2m => "dpmpp_2m",
        }
    }

    /// The order of accuracy in the step size.
    pub fn order(self) -> u32 {
        match self {
            Sampler::Euler => 1,
            Sampler::Heun | Sampler::Dpmpp2m => 2,
        }
    }

    /// Denoiser evaluations for a schedule of `sigmas.len()` values.
    pub fn evaluations(self, sigmas: &[f64]) -> usize {
        let steps = sigmas.len().saturating_sub(1);
        match self {
            Sampler::Euler | Sampler::Dpmpp2m => steps,
            Sampler::Heun => steps + sigmas[1.min(sigmas.len())..].iter().filter(|&&s| s > 0.0).count(),
        }
    }

    pub fn sample<const D: usize>(
        self,
        denoise: impl FnMut(Tensor<D>, f64) -> Tensor<D>,
        x: Tensor<D>,
        sigmas: &[f64],
    ) -> Tensor<D> {
        match self {
            Sampler::Euler => sample_euler(denoise, x, sigmas),
            Sampler::Heun => sample_heun(denoise, x, sigmas),
            Sampler::Dpmpp2m => sample_dpmpp_2m(denoise, x, sigmas),
        }
    }
}

impl FromStr for Sampler {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Sampler::ALL
            .into_iter()
            .find(|k| k.name() == s)
            .ok_or_else(|| format!("unknown sampler `{s}` (expected euler, heun or dpmpp_2m)"))
    }
}

/// `x + (sigma_next - sigma) (x - denoised) / sigma`, written as one blend.
fn euler_step<const D: usize>(x: Tensor<D>, denoised: Tensor<D>, sigma: f64, sigma_next: f64) -> Tensor<D> {
    let r = sigma_next / sigma;
    x.mul_scalar(r) + denoised.mul_scalar(1.0 - r)
}

/// Euler's method on the probability-flow ODE.
pub fn sample_euler<const D: usize>(
    mut denoise: impl FnMut(Tensor<D>, f64) -> Tensor<D>,
    mut x: Tensor<D>,
    sigmas: &[f64],
) -> Tensor<D> {
    for w in sigmas.windows(2) {
        let denoised = denoise(x.clone(), w[0]);
        x = euler_step(x, denoised, w[0], w[1]);
    }
    x
}

/// Heun's second-order method (EDM algorithm 1), with an Euler step into `sigma = 0`.
pub fn sample_heun<const D: usize>(
    denoise: impl FnMut(Tensor<D>, f64) -> Tensor<D>,
    x: Tensor<D>,
    sigmas: &[f64],
) -> Tensor<D> {
    heun(denoise, x, sigmas, None)
}

/// Stochastic churn for Heun (EDM algorithm 2): at each step with `s_tmin <= sigma <= s_tmax`, the
/// noise level is raised to `sigma (1 + gamma)`, `gamma = min(s_churn / steps, sqrt 2 - 1)`, by adding
/// fresh noise of standard deviation `s_noise sqrt(sigma_hat^2 - sigma^2)`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Churn {
    pub s_churn: f64,
    pub s_tmin: f64,
    pub s_tmax: f64,
    pub s_noise: f64,
}

impl Default for Churn {
    /// No churn (`s_churn = 0`): the deterministic sampler.
    fn default() -> Self {
        Self { s_churn: 0.0, s_tmin: 0.0, s_tmax: f64::INFINITY, s_noise: 1.0 }
    }
}

/// Heun with stochastic churn; the fresh noise comes from `rng` (host-drawn, see
/// [`gaussian`](super::gaussian)).
pub fn sample_heun_churn<const D: usize>(
    denoise: impl FnMut(Tensor<D>, f64) -> Tensor<D>,
    x: Tensor<D>,
    sigmas: &[f64],
    churn: &Churn,
    rng: &mut SplitMix64,
) -> Tensor<D> {
    heun(denoise, x, sigmas, Some((churn, rng)))
}

fn heun<const D: usize>(
    mut denoise: impl FnMut(Tensor<D>, f64) -> Tensor<D>,
    mut x: Tensor<D>,
    sigmas: &[f64],
    mut churn: Option<(&Churn, &mut SplitMix64)>,
) -> Tensor<D> {
    let steps = sigmas.len().saturating_sub(1);
    for w in sigmas.windows(2) {
        let (mut sigma, sigma_next) = (w[0], w[1]);
        if let Some((c, rng)) = churn.as_mut() {
            if c.s_churn > 0.0 && (c.s_tmin..=c.s_tmax).contains(&sigma) {
                let gamma = (c.s_churn / steps as f64).min(std::f64::consts::SQRT_2 - 1.0);
                let sigma_hat = sigma * (1.0 + gamma);
                let eps = gaussian(x.dims(), rng, &x.device());
                x = x + eps.mul_scalar(c.s_noise * (sigma_hat * sigma_hat - sigma * sigma).sqrt());
                sigma = sigma_hat;
            }
        }
        let h = sigma_next - sigma;
        let slope = (x.clone() - denoise(x.clone(), sigma)).div_scalar(sigma);
        let euler = x.clone() + slope.clone().mul_scalar(h);
        if sigma_next == 0.0 {
            x = euler;
        } else {
            let slope_next = (euler.clone() - denoise(euler, sigma_next)).div_scalar(sigma_next);
            x = x + (slope + slope_next).mul_scalar(h / 2.0);
        }
    }
    x
}

/// DPM-Solver++(2M) with `t = -ln sigma`: `x_next = (sigma_next / sigma) x + (1 - sigma_next / sigma)
/// D'`, where `D' = (1 + 1/(2r)) D_i - 1/(2r) D_(i-1)`, `r = h_(i-1) / h_i`, `h_i = ln(sigma_i /
/// sigma_(i+1))`; `D' = D_i` on the first step and into `sigma = 0`.
pub fn sample_dpmpp_2m<const D: usize>(
    mut denoise: impl FnMut(Tensor<D>, f64) -> Tensor<D>,
    mut x: Tensor<D>,
    sigmas: &[f64],
) -> Tensor<D> {
    let mut previous: Option<Tensor<D>> = None;
    for i in 0..sigmas.len().saturating_sub(1) {
        let (sigma, sigma_next) = (sigmas[i], sigmas[i + 1]);
        let denoised = denoise(x.clone(), sigma);
        let target = match previous.take() {
            Some(old) if sigma_next > 0.0 => {
                let h = (sigma / sigma_next).ln();
                let h_last = (sigmas[i - 1] / sigma).ln();
                let k = 1.0 / (2.0 * h_last / h);
                denoised.clone().mul_scalar(1.0 + k) - old.mul_scalar(k)
            }
            _ => denoised.clone(),
        };
        x = euler_step(x, target, sigma, sigma_next);
        previous = Some(denoised);
    }
    x
}
