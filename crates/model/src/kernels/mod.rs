//! Fused CPU kernels for the flex backend: multi-head attention (forward and a recomputing
//! backward, never materialising the `queries x keys` probabilities of a whole head), the exact
//! GELU, 3D convolution (per-tap GEMMs in NCDHW, Winograd F(4x4, 3x3) for 1x3x3 kernels),
//! channel RMS norm + SiLU, the SSIM loss term, and axis permutations, all multi-threaded over
//! the rayon pool.
//!
//! burn composes these from generic tensor operations: attention under autodiff becomes matmul,
//! softmax and matmul with every score tensor kept for the backward pass, the element-wise work
//! around it runs one scalar `exp`/`erf` at a time, and flex's convolution converts to NDHWC and
//! builds an im2col buffer around its GEMM. They are installed as a burn backend extension
//! (`ext.rs`) with hand-written backward passes, used on flex devices only; every other device
//! (wgpu, vulkan, cuda) runs the composed operations, which compute the same function.
//! Tensors of other dtypes than f32 also take the composed operations. [`set_enabled`] switches the
//! fused path off, for the equivalence tests.

pub mod attention;
pub mod conv;
mod ext;
pub mod norm;
pub mod permute;
pub mod simd;
pub mod ssim;
pub mod winograd;

use std::sync::atomic::{AtomicBool, Ordering};

use burn::backend::{DispatchDevice, Dispatch};
use burn::nn::conv::Conv3d;
use burn::nn::PaddingConfig3d;
use burn::prelude::*;
use burn::tensor::activation;
use burn::tensor::module;
use burn::tensor::module::avg_pool2d;
use burn::tensor::ops::AvgPoolOptions;
use burn::tensor::ops::AttentionModuleOptions;

use ext::FusedOps;

static ENABLED: AtomicBool = AtomicBool::new(true);

/// A raw pointer into an output buffer that parallel tasks writing disjoint elements share.
#[derive(Clone, Copy)]
pub(crate) struct SharedMut(*mut f32);
// SAFETY: users guarantee that tasks write disjoint elements (see each kernel).
unsafe impl Send for SharedMut {}
unsafe impl Sync for SharedMut {}

impl SharedMut {
    pub(crate) fn new(p: *mut f32) -> Self {
        Self(p)
    }
    /// Method access, so closures capture the whole (Send + Sync) wrapper.
    pub(crate) fn ptr(self) -> *mut f32 {
        self.0
    }
}

/// `dst (m x n) = [dst +] beta * lhs (m x k) * rhs (k x n)` through the `gemm` crate, every matrix
/// given by a pointer and its row and column strides.
///
/// # Safety
/// Every pointer must address the full strided matrix it describes, and `dst` must not overlap
/// `lhs` or `rhs`.
#[allow(clippy::too_many_arguments)]
pub(crate) unsafe fn matmul(m: usize, n: usize, k: usize, dst: *mut f32, dst_rs: isize, dst_cs: isize, accumulate: bool, lhs: *const f32, lhs_rs: isize, lhs_cs: isize, rhs: *const f32, rhs_rs: isize, rhs_cs: isize, beta: f32, par: gemm::Parallelism) {
    // SAFETY: forwarded from the caller.
    unsafe { gemm::gemm(m, n, k, dst, dst_cs, dst_rs, accumulate, lhs, lhs_cs, lhs_rs, rhs, rhs_cs, rhs_rs, 1.0, beta, false, false, false, par) }
}

/// A buffer of `n` floats left uninitialised, for a kernel output that is written in full before
/// anything reads it. `vec![0.0; n]` would zero-fill it first, on the calling thread while the
/// pool waits (glibc clears reused memory with a memset): 6% of a tokenizer training step's time.
///
/// # Safety
/// The caller must write every element before any is read, and before the vector reaches code
/// that could read it.
#[allow(clippy::uninit_vec)]
pub(crate) unsafe fn uninit(n: usize) -> Vec<f32> {
    let mut v = Vec::with_capacity(n);
    // SAFETY: the capacity is `n`; the contents are the caller's contract.
    unsafe { v.set_len(n) };
    v
}

/// Deterministic values in [-1, 1) for the kernels' tests.
#[cfg(test)]
pub(crate) fn test_values(seed: u64, n: usize) -> Vec<f32> {
    let mut s = seed;
    (0..n)
        .map(|_| {
            s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            ((s >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
        })
        .collect()
}

/// Turns the fused flex kernels on (the default) or off (burn's composed operations everywhere).
pub fn set_enabled(on: bool) {
    ENABLED.store(on, Ordering::SeqCst);
}

/// Whether tensors on `device` take the fused kernels.
fn fused_on(device: &Device) -> bool {
    ENABLED.load(Ordering::Relaxed) && matches!(device.clone().inner().as_dispatch(), DispatchDevice::Flex(_))
}

/// Whether `t` takes the fused kernels: an f32 tensor on a flex device.
fn fused_for<const D: usize>(t: &Tensor<D>) -> bool {
    t.dtype() == burn::tensor::DType::F32 && fused_on(&t.device())
}

/// The additive key bias of a padding mask `[batch, nk]` (`true` = ignore).
const MASKED: f32 = -1e30;

/// Multi-head attention `softmax(q k^T / sqrt(head_dim) + mask) v` on `q: [batch, nq, width]`,
/// `k, v: [batch, nk, width]` with `heads` heads side by side in `width`; `key_pad: [batch, nk]`
/// marks keys to ignore. Returns `[batch, nq, width]`.
pub fn attention(q: Tensor<3>, k: Tensor<3>, v: Tensor<3>, key_pad: Option<Tensor<2, Bool>>, heads: usize) -> Tensor<3> {
    let [b, nq, width] = q.dims();
    let [_, nk, _] = k.dims();
    let device = q.device();
    if fused_for(&q) {
        let bias = match key_pad {
            Some(m) => Tensor::<2>::zeros([b, nk], &device).mask_fill(m, MASKED),
            None => Tensor::<2>::zeros([b, nk], &device),
        };
        return Tensor::from_dispatch(<Dispatch as FusedOps>::fused_attention(q.into_dispatch(), k.into_dispatch(), v.into_dispatch(), bias.into_dispatch(), heads));
    }
    let split = |x: Tensor<3>, n: usize| x.reshape([b, n, heads, width / heads]).swap_dims(1, 2);
    let mask = key_pad.map(|m| m.reshape([b, 1, 1, nk]).expand([b, heads, nq, nk]));
    let o = module::attention(split(q, nq), split(k, nk), split(v, nk), mask, None, AttentionModuleOptions::default());
    o.swap_dims(1, 2).reshape([b, nq, width])
}

/// Exact (erf) GELU.
pub fn gelu<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    if fused_for(&x) {
        return Tensor::from_dispatch(<Dispatch as FusedOps>::fused_gelu(x.into_dispatch()));
    }
    activation::gelu(x)
}

/// `conv.forward(x)` for a stride-1, undilated, single-group convolution with a bias and zero
/// padding only in height and width (every convolution of the tokenizer), through the fused
/// per-tap GEMM kernel on flex; any other convolution or device takes burn's `Conv3d::forward`.
pub fn conv3d(conv: &Conv3d, x: Tensor<5>) -> Tensor<5> {
    let pad = match conv.padding {
        PaddingConfig3d::Valid => Some([0, 0]),
        PaddingConfig3d::Explicit(0, h, w) => Some([h, w]),
        _ => None,
    };
    match (pad, &conv.bias) {
        (Some([ph, pw]), Some(bias)) if conv.stride == [1, 1, 1] && conv.dilation == [1, 1, 1] && conv.groups == 1 && fused_for(&x) => {
            Tensor::from_dispatch(<Dispatch as FusedOps>::fused_conv3d(x.into_dispatch(), conv.weight.val().into_dispatch(), bias.val().into_dispatch(), ph, pw))
        }
        _ => conv.forward(x),
    }
}

/// `silu(x / sqrt(mean over channels of x^2 + 1e-6) * gain)` for `x: [b, c, t, h, w]`, `gain: [c]`
/// (the tokenizer's channel RMS norm followed by SiLU), fused on flex.
pub fn norm_silu(x: Tensor<5>, gain: Tensor<1>) -> Tensor<5> {
    if fused_for(&x) {
        return Tensor::from_dispatch(<Dispatch as FusedOps>::fused_norm_silu(x.into_dispatch(), gain.into_dispatch()));
    }
    let c = gain.dims()[0];
    let rms = x.clone().square().mean_dim(1).add_scalar(norm::EPS).sqrt();
    activation::silu(x / rms * gain.reshape([1, c, 1, 1, 1]))
}

/// Mean SSIM over frames of the luma (channel mean) of two `[b, c, t, h, w]` tensors in [-1, 1],
/// uniform 7x7 window, no padding (`ssim.rs` has the formula); fused on flex.
pub fn ssim(x: Tensor<5>, y: Tensor<5>) -> Tensor<1> {
    if fused_for(&x) && y.dtype() == burn::tensor::DType::F32 {
        return Tensor::from_dispatch(<Dispatch as FusedOps>::fused_ssim(x.into_dispatch(), y.into_dispatch()));
    }
    let x = x.mean_dim(1);
    let y = y.mean_dim(1);
    let [b, c, t, h, w] = x.dims();
    let (c1, c2) = (ssim::C1 as f64, ssim::C2 as f64);
    let x: Tensor<4> = x.reshape([b, c * t, h, w]);
    let y: Tensor<4> = y.reshape([b, c * t, h, w]);
    // The 7x7 box filter as two 1-D passes (7 + 7 taps instead of 49).
    let pool = |v: Tensor<4>| {
        let v = avg_pool2d(v, AvgPoolOptions::new([ssim::WINDOW, 1]).with_stride([1, 1]));
        avg_pool2d(v, AvgPoolOptions::new([1, ssim::WINDOW]).with_stride([1, 1]))
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

/// `x.permute(axes)`, materialised contiguously on flex by a multi-threaded copy (so a following
/// reshape is free); burn's lazy permute elsewhere.
pub fn permute<const D: usize>(x: Tensor<D>, axes: [usize; D]) -> Tensor<D> {
    if fused_for(&x) {
        return Tensor::from_dispatch(<Dispatch as FusedOps>::fused_permute(x.into_dispatch(), axes.to_vec()));
    }
    x.permute(axes)
}
