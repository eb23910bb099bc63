//! EDM preconditioning (Karras et al. 2022, table 1 and appendix B.6):
//!
//! ```text
//! c_skip  = sigma_data^2 / (sigma^2 + sigma_data^2)
//! c_out   = sigma * sigma_data / sqrt(sigma^2 + sigma_data^2)
//! c_in    = 1 / sqrt(sigma^2 + sigma_data^2)
//! c_noise = ln(sigma) / 4
//! D(x, sigma) = c_skip x + c_out F(c_in x, c_noise)
//! ```
//!
//! For data of standard deviation `sigma_data` these make the network's input and its training target
//! `(y - c_skip x) / c_out` both of unit variance at every noise level, and the loss weight
//! `lambda(sigma) = 1 / c_out^2` makes the effective loss weight of `F` one.

use burn::prelude::*;
use serde::{Deserialize, Serialize};

use super::per_sample;

/// The EDM preconditioning for data of standard deviation `sigma_data`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Edm {
    pub sigma_data: f64,
}

impl Default for Edm {
    /// `sigma_data = 0.5`, as in EDM and Cosmos.
    fn default() -> Self {
        Self { sigma_data: 0.5 }
    }
}

impl Edm {
    pub fn new(sigma_data: f64) -> Self {
        Self { sigma_data }
    }
    pub fn c_skip(&self, sigma: f64) -> f64 {
        let sd2 = self.sigma_data * self.sigma_data;
        sd2 / (sigma * sigma + sd2)
    }
    pub fn c_out(&self, sigma: f64) -> f64 {
        sigma * self.sigma_data / (sigma * sigma + self.sigma_data * self.sigma_data).sqrt()
    }
    pub fn c_in(&self, sigma: f64) -> f64 {
        1.0 / (sigma * sigma + self.sigma_data * self.sigma_data).sqrt()
    }
    /// `ln(sigma) / 4` (minus infinity at `sigma = 0`, where no sampler calls the network).
    pub fn c_noise(&self, sigma: f64) -> f64 {
        sigma.ln() / 4.0
    }
    /// The loss weight `lambda(sigma) = (sigma^2 + sigma_data^2) / (sigma sigma_data)^2 = 1 / c_out^2`.
    pub fn loss_weight(&self, sigma: f64) -> f64 {
        super::loss::loss_weight(sigma, self.sigma_data)
    }

    /// `(c_skip, c_out, c_in, c_noise)` for per-sample noise levels `sigma: [batch]`, each `[batch]`.
    pub fn scalings(&self, sigma: Tensor<1>) -> [Tensor<1>; 4] {
        let sd = self.sigma_data;
        let c_noise = sigma.clone().log().div_scalar(4.0);
        let var = sigma.clone().square().add_scalar(sd * sd); // sigma^2 + sigma_data^2
        let c_in = var.clone().sqrt().recip();
        let c_skip = var.recip().mul_scalar(sd * sd);
        let c_out = sigma.mul(c_in.clone()).mul_scalar(sd);
        [c_skip, c_out, c_in, c_noise]
    }
}

/// A raw network `F(x_in, c_noise, cond) -> F_x` made into the denoiser `D(x, sigma)`.
///
/// `F` is any `Fn(Tensor<D>, Tensor<1>, &C) -> Tensor<D>`: it receives `c_in x` of the shape of `x`,
/// `c_noise` of shape `[batch]`, and the condition `cond` untouched (text embeddings, masks, ...), and
/// returns a tensor of the shape of `x`.
#[derive(Debug, Clone)]
pub struct Denoiser<F> {
    pub precond: Edm,
    pub net: F,
}

impl<F> Denoiser<F> {
    pub fn new(precond: Edm, net: F) -> Self {
        Self { precond, net }
    }

    /// `D(x, sigma)` for one noise level `sigma > 0` shared by the whole batch (sampling): the
    /// scalings are f64 scalars.
    ///
    /// # Shapes
    /// - `x`: `[batch, ...]`; returns the same shape.
    pub fn denoise<const D: usize, C: ?Sized>(&self, x: Tensor<D>, sigma: f64, cond: &C) -> Tensor<D>
    where
        F: Fn(Tensor<D>, Tensor<1>, &C) -> Tensor<D>,
    {
        let p = &self.precond;
        let c_noise = Tensor::full([x.dims()[0]], p.c_noise(sigma), &x.device());
        let f = (self.net)(x.clone().mul_scalar(p.c_in(sigma)), c_noise, cond);
        x.mul_scalar(p.c_skip(sigma)) + f.mul_scalar(p.c_out(sigma))
    }

    /// `D(x, sigma)` with one noise level per sample (training).
    ///
    /// # Shapes
    /// - `x`: `[batch, ...]`; returns the same shape.
    /// - `sigma`: `[batch]`, every entry > 0.
    pub fn denoise_batch<const D: usize, C: ?Sized>(&self, x: Tensor<D>, sigma: Tensor<1>, cond: &C) -> Tensor<D>
    where
        F: Fn(Tensor<D>, Tensor<1>, &C) -> Tensor<D>,
    {
        let [c_skip, c_out, c_in, c_noise] = self.precond.scalings(sigma);
        let f = (self.net)(x.clone() * per_sample::<D>(c_in), c_noise, cond);
        x * per_sample::<D>(c_skip) + f * per_sample::<D>(c_out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tensor_scalings_match_scalar_ones() {
        let edm = Edm::default();
        let sigmas = [0.002f64, 0.1, 0.5, 3.0, 80.0];
        let t = Tensor::<1>::from_data(TensorData::new(sigmas.map(|s| s as f32).to_vec(), [5]), &Device::flex());
        let got = edm.scalings(t).map(|v| v.into_data().as_slice::<f32>().unwrap().to_vec());
        for (i, &s) in sigmas.iter().enumerate() {
            let want = [edm.c_skip(s), edm.c_out(s), edm.c_in(s), edm.c_noise(s)];
            for k in 0..4 {
                let rel = (got[k][i] as f64 - want[k]).abs() / want[k].abs().max(1e-3);
                assert!(rel < 1e-5, "scaling {k} at sigma {s}: {} vs {}", got[k][i], want[k]);
            }
        }
    }
}
