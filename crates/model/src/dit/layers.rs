//! Transformer pieces shared by the DiT and the caption encoder.

use burn::nn::{Linear, LinearConfig};
use burn::prelude::*;
use super::rope;
use crate::kernels;

/// Layer norm over the last axis without learned affine (the DiT modulates it instead).
pub fn norm3(x: Tensor<3>) -> Tensor<3> {
    let m = x.clone().mean_dim(2);
    let c = x - m;
    let v = c.clone().square().mean_dim(2);
    c / v.add_scalar(1e-6).sqrt()
}

/// Multi-head attention: queries from `x`, keys and values from `ctx` (self-attention when `ctx`
/// is `None`), optional 3D RoPE on queries and keys, optional key padding mask `[batch, keys]`
/// (true = ignore).
#[derive(Module, Debug)]
pub struct Attention {
    pub q: Linear,
    pub k: Linear,
    pub v: Linear,
    pub out: Linear,
    pub heads: usize,
}

impl Attention {
    pub fn new(width: usize, ctx_width: usize, heads: usize, device: &Device) -> Self {
        assert!(width % heads == 0, "width {width} must be divisible by heads {heads}");
        Self {
            q: LinearConfig::new(width, width).with_bias(false).init(device),
            k: LinearConfig::new(ctx_width, width).with_bias(false).init(device),
            v: LinearConfig::new(ctx_width, width).with_bias(false).init(device),
            out: LinearConfig::new(width, width).init(device),
            heads,
        }
    }

    pub fn forward(&self, x: Tensor<3>, ctx: Option<Tensor<3>>, rope: Option<(&Tensor<2>, &Tensor<2>)>, key_pad: Option<Tensor<2, Bool>>) -> Tensor<3> {
        let ctx = ctx.unwrap_or_else(|| x.clone());
        let mut q = self.q.forward(x);
        let mut k = self.k.forward(ctx.clone());
        let v = self.v.forward(ctx);
        if let Some((cos, sin)) = rope {
            q = rope::apply(q, cos, sin, self.heads);
            k = rope::apply(k, cos, sin, self.heads);
        }
        self.out.forward(kernels::attention(q, k, v, key_pad, self.heads))
    }
}

/// Two-layer GELU MLP.
#[derive(Module, Debug)]
pub struct Mlp {
    pub fc1: Linear,
    pub fc2: Linear,
}

impl Mlp {
    pub fn new(width: usize, hidden: usize, device: &Device) -> Self {
        Self { fc1: LinearConfig::new(width, hidden).init(device), fc2: LinearConfig::new(hidden, width).init(device) }
    }
    pub fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        self.fc2.forward(kernels::gelu(self.fc1.forward(x)))
    }
}
