//! EDM training: noise levels from a log-normal density (`ln sigma ~ N(P_mean, P_std^2)`), and the
//! denoising loss `E[lambda(sigma) |D(y + sigma n, sigma) - y|^2]` with
//! `lambda(sigma) = (sigma^2 + sigma_data^2) / (sigma sigma_data)^2` (Karras et al. 2022, table 1).

use burn::prelude::*;
use serde::{Deserialize, Serialize};

use super::{normal_pair, per_sample};
use crate::rng::SplitMix64;

/// The training density of sigma: `ln sigma ~ N(p_mean, p_std^2)`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LogNormal {
    pub p_mean: f64,
    pub p_std: f64,
}

impl Default for LogNormal {
    /// EDM's `P_mean = -1.2`, `P_std = 1.2`.
    fn default() -> Self {
        Self { p_mean: -1.2, p_std: 1.2 }
    }
}

impl LogNormal {
    /// `n` noise levels drawn from `rng` on the host.
    pub fn sample_f64(&self, n: usize, rng: &mut SplitMix64) -> Vec<f64> {
        let mut out = Vec::with_capacity(n + 1);
        while out.len() < n {
            let (a, b) = normal_pair(rng);
            out.push((self.p_mean + self.p_std * a).exp());
            out.push((self.p_mean + self.p_std * b).exp());
        }
        out.truncate(n);
        out
    }

    /// `n` noise levels drawn from `rng`, as a `[n]` tensor on `device`.
    pub fn sample(&self, n: usize, rng: &mut SplitMix64, device: &Device) -> Tensor<1> {
        let v: Vec<f32> = self.sample_f64(n, rng).into_iter().map(|s| s as f32).collect();
        Tensor::from_data(TensorData::new(v, [n]), device)
    }
}

/// `lambda(sigma) = (sigma^2 + sigma_data^2) / (sigma sigma_data)^2`.
pub fn loss_weight(sigma: f64, sigma_data: f64) -> f64 {
    (sigma * sigma + sigma_data * sigma_data) / (sigma * sigma_data).powi(2)
}

/// `lambda(sigma) (denoised - x0)^2`, element-wise.
///
/// # Shapes
/// - `denoised`, `x0`: `[batch, ...]`; `sigma`: `[batch]`; returns `[batch, ...]`.
pub fn weighted_error<const D: usize>(
    denoised: Tensor<D>,
    x0: Tensor<D>,
    sigma: Tensor<1>,
    sigma_data: f64,
) -> Tensor<D> {
    let sd2 = sigma_data * sigma_data;
    let s2 = sigma.square();
    let weight = s2.clone().add_scalar(sd2).div(s2.mul_scalar(sd2));
    (denoised - x0).square() * per_sample::<D>(weight)
}

/// The EDM denoising loss of a batch: the mean over all elements of
/// `lambda(sigma) |D(x0 + sigma noise, sigma) - x0|^2`.
///
/// `denoise(x, sigma)` is the preconditioned denoiser with per-sample noise levels (for example
/// `|x, s| denoiser.denoise_batch(x, s, &cond)`); `noise` is standard normal of the shape of `x0`.
///
/// # Shapes
/// - `x0`, `noise`: `[batch, ...]`; `sigma`: `[batch]`; returns `[1]`.
pub fn denoising_loss<const D: usize>(
    denoise: impl FnOnce(Tensor<D>, Tensor<1>) -> Tensor<D>,
    x0: Tensor<D>,
    sigma: Tensor<1>,
    noise: Tensor<D>,
    sigma_data: f64,
) -> Tensor<1> {
    let x = x0.clone() + noise * per_sample::<D>(sigma.clone());
    let denoised = denoise(x, sigma.clone());
    weighted_error(denoised, x0, sigma, sigma_data).mean()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weight_is_inverse_c_out_squared() {
        let edm = super::super::Edm::default();
        for s in [0.002, 0.05, 0.5, 2.0, 80.0] {
            let w = loss_weight(s, 0.5);
            let c = edm.c_out(s);
            assert!((w * c * c - 1.0).abs() < 1e-12, "sigma {s}");
        }
    }

    #[test]
    fn perfect_denoiser_has_zero_loss_and_identity_has_weighted_noise() {
        let device = Device::flex();
        let mut rng = SplitMix64::new(3);
        let x0 = super::super::gaussian([4, 2, 3], &mut rng, &device);
        let noise = super::super::gaussian([4, 2, 3], &mut rng, &device);
        let sigma = Tensor::<1>::from_data(TensorData::new(vec![0.1f32, 0.5, 1.0, 4.0], [4]), &device);
        let l = denoising_loss(|_, _| x0.clone(), x0.clone(), sigma.clone(), noise.clone(), 0.5);
        assert_eq!(l.into_scalar::<f32>(), 0.0);
        // D(x) = x leaves the error sigma * noise: the loss is mean(lambda sigma^2 noise^2).
        let l = denoising_loss(|x, _| x, x0, sigma, noise.clone(), 0.5).into_scalar::<f32>() as f64;
        let n = noise.into_data().as_slice::<f32>().unwrap().to_vec();
        let mut want = 0.0;
        for (i, s) in [0.1f64, 0.5, 1.0, 4.0].iter().enumerate() {
            for v in &n[i * 6..(i + 1) * 6] {
                want += loss_weight(*s, 0.5) * s * s * (*v as f64).powi(2);
            }
        }
        want /= 24.0;
        assert!((l - want).abs() < 1e-5 * want, "{l} vs {want}");
    }
}
