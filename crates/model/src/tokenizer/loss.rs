//! Reconstruction loss: L1 plus `w * (1 - SSIM)`, SSIM of the luma with a uniform 7x7 window per
//! frame (the structural term of the Cosmos tokenizer recipe's reconstruction losses; perceptual
//! losses need a pretrained network and are left out).

use burn::prelude::*;
use burn::tensor::module::avg_pool2d;
use burn::tensor::ops::AvgPoolOptions;

/// Mean SSIM over frames of the luma (channel mean) of two `[b, c, t, h, w]` tensors in [-1, 1].
pub fn ssim(x: Tensor<5>, y: Tensor<5>) -> Tensor<1> {
    let x = x.mean_dim(1);
    let y = y.mean_dim(1);
    let [b, c, t, h, w] = x.dims();
    // SSIM constants for data range 2 (pixels in [-1, 1]).
    let (c1, c2) = ((0.01f64 * 2.0).powi(2), (0.03f64 * 2.0).powi(2));
    let x: Tensor<4> = x.reshape([b, c * t, h, w]);
    let y: Tensor<4> = y.reshape([b, c * t, h, w]);
    // A 7x7 box filter as two 1-D passes (7 + 7 taps instead of 49).
    let pool = |v: Tensor<4>| {
        let v = avg_pool2d(v, AvgPoolOptions::new([7, 1]).with_stride([1, 1]));
        avg_pool2d(v, AvgPoolOptions::new([1, 7]).with_stride([1, 1]))
    };
    let mx = pool(x.clone());
    let my = pool(y.clone());
    let sxx = pool(x.clone() * x.clone()) - mx.clone() * mx.clone();
    let syy = pool(y.clone() * y.clone()) - my.clone() * my.clone();
    let sxy = pool(x * y) - mx.clone() * my.clone();
    let num = (mx.clone() * my.clone()).mul_scalar(2.0).add_scalar(c1) * sxy.mul_scalar(2.0).add_scalar(c2);
    let den = (mx.clone() * mx + my.clone() * my).add_scalar(c1) * (sxx + syy).add_scalar(c2);
    (num / den).mean()
}

/// The training loss and its parts `(total, l1, ssim)`.
pub fn reconstruction_loss(recon: Tensor<5>, target: Tensor<5>, ssim_weight: f64) -> (Tensor<1>, Tensor<1>, Tensor<1>) {
    let l1 = (recon.clone() - target.clone()).abs().mean();
    if ssim_weight == 0.0 {
        let s = l1.zeros_like();
        return (l1.clone(), l1, s);
    }
    let s = ssim(recon, target);
    let total = l1.clone() + s.clone().neg().add_scalar(1.0).mul_scalar(ssim_weight);
    (total, l1, s)
}
