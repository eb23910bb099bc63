//! Reconstruction loss: L1 plus `w * (1 - SSIM)`, SSIM of the luma with a uniform 7x7 window per
//! frame (the structural term of the Cosmos tokenizer recipe's reconstruction losses; perceptual
//! losses need a pretrained network and are left out). The SSIM term is `kernels::ssim`: fused on
//! the CPU, burn's average pools elsewhere.

use burn::prelude::*;

/// The training loss and its parts `(total, l1, ssim)`.
pub fn reconstruction_loss(recon: Tensor<5>, target: Tensor<5>, ssim_weight: f64) -> (Tensor<1>, Tensor<1>, Tensor<1>) {
    let l1 = (recon.clone() - target.clone()).abs().mean();
    if ssim_weight == 0.0 {
        let s = l1.zeros_like();
        return (l1.clone(), l1, s);
    }
    let s = crate::kernels::ssim(recon, target);
    let total = l1.clone() + s.clone().neg().add_scalar(1.0).mul_scalar(ssim_weight);
    (total, l1, s)
}
