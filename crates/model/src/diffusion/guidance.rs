//! Classifier-free guidance (Ho & Salimans 2022) on denoised estimates:
//! `D = D_uncond + scale (D_cond - D_uncond)`, so scale 1 is the conditional denoiser and scale 0 the
//! unconditional one. (Cosmos writes `D_cond + g (D_cond - D_uncond)`: its `g` is `scale - 1`.)

use burn::prelude::*;

/// `uncond + scale (cond - uncond)`.
pub fn guidance<const D: usize>(cond: Tensor<D>, uncond: Tensor<D>, scale: f64) -> Tensor<D> {
    cond.mul_scalar(scale) + uncond.mul_scalar(1.0 - scale)
}

/// The guided denoiser `x, sigma -> uncond(x, sigma) + scale (cond(x, sigma) - uncond(x, sigma))`,
/// calling only the denoiser it needs at scale 1 (conditional) and 0 (unconditional).
///
/// Each call evaluates the two denoisers separately; a network that batches both passes together can
/// call [`guidance`] on its two halves instead.
pub fn guided<const D: usize>(
    cond: impl Fn(Tensor<D>, f64) -> Tensor<D>,
    uncond: impl Fn(Tensor<D>, f64) -> Tensor<D>,
    scale: f64,
) -> impl Fn(Tensor<D>, f64) -> Tensor<D> {
    move |x, sigma| {
        if scale == 1.0 {
            cond(x, sigma)
        } else if scale == 0.0 {
            uncond(x, sigma)
        } else {
            guidance(cond(x.clone(), sigma), uncond(x, sigma), scale)
        }
    }
}
