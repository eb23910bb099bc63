//! Fused CPU kernels for the flex backend: multi-head attention (forward and a recomputing
//! backward, never materialising the `queries x keys` probabilities of a whole head) and the exact
//! GELU, both multi-threaded over the rayon pool and vectorised.
//!
//! burn composes these from generic tensor operations: attention under autodiff becomes matmul,
//! softmax and matmul with every score tensor kept for the backward pass, and the element-wise work
//! around it runs one scalar `exp`/`erf` at a time. They are installed as a burn backend extension
//! (`ext.rs`) with hand-written backward passes, used on flex devices only; every other device
//! (wgpu, vulkan, cuda) runs the composed operations, which compute the same function.
//! [`set_enabled`] switches the fused path off, for the equivalence tests and the benchmark.

pub mod attention;
mod ext;
pub mod simd;

use std::sync::atomic::{AtomicBool, Ordering};

use burn::backend::{DispatchDevice, Dispatch};
use burn::prelude::*;
use burn::tensor::activation;
use burn::tensor::module;
use burn::tensor::ops::AttentionModuleOptions;

use ext::FusedOps;

static ENABLED: AtomicBool = AtomicBool::new(true);

/// Turns the fused flex kernels on (the default) or off (burn's composed operations everywhere).
pub fn set_enabled(on: bool) {
    ENABLED.store(on, Ordering::SeqCst);
}

/// Whether tensors on `device` take the fused kernels.
pub fn fused_on(device: &Device) -> bool {
    ENABLED.load(Ordering::Relaxed) && matches!(device.clone().inner().as_dispatch(), DispatchDevice::Flex(_))
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
    if fused_on(&device) {
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
    if fused_on(&x.device()) {
        return Tensor::from_dispatch(<Dispatch as FusedOps>::fused_gelu(x.into_dispatch()));
    }
    activation::gelu(x)
}
