//! The DiT network: `F(x_in, c_noise, captions) -> F_x` in the EDM parametrisation (the
//! preconditioning lives in `crate::diffusion`).

use burn::module::Initializer;
use burn::nn::{Linear, LinearConfig};
use burn::prelude::*;
use burn::tensor::activation::silu;

use super::config::DitConfig;
use super::layers::{norm3, Attention, Mlp};
use super::rope;
use super::text::CaptionEncoder;

fn zero_linear(i: usize, o: usize, device: &Device) -> Linear {
    LinearConfig::new(i, o).with_initializer(Initializer::Zeros).init(device)
}

/// Per-block modulation from the noise embedding, low rank (AdaLN-LoRA): shift, scale and gate for
/// each of the three sub-layers. The up-projection starts at zero, so every block starts as the
/// identity (adaLN-Zero, Peebles & Xie 2023).
#[derive(Module, Debug)]
pub struct AdaLnLora {
    pub down: Linear,
    pub up: Linear,
}

#[derive(Module, Debug)]
pub struct DitBlock {
    pub ada: AdaLnLora,
    pub self_attn: Attention,
    pub cross_attn: Attention,
    pub mlp: Mlp,
}

fn modulate(x: Tensor<3>, shift: Tensor<3>, scale: Tensor<3>) -> Tensor<3> {
    norm3(x) * scale.add_scalar(1.0) + shift
}

impl DitBlock {
    fn forward(&self, x: Tensor<3>, emb: Tensor<2>, text: Tensor<3>, text_pad: Tensor<2, Bool>, rope: (&Tensor<2>, &Tensor<2>)) -> Tensor<3> {
        let [b, _, d] = x.dims();
        let m = self.ada.up.forward(self.ada.down.forward(silu(emb))).reshape([b, 9, d]);
        let part = |i: usize| m.clone().narrow(1, i, 1); // [b, 1, d]
        let h = modulate(x.clone(), part(0), part(1));
        let x = x + part(2) * self.self_attn.forward(h, None, Some(rope), None);
        let h = modulate(x.clone(), part(3), part(4));
        let x = x.clone() + part(5) * self.cross_attn.forward(h, Some(text), None, Some(text_pad));
        let h = modulate(x.clone(), part(6), part(7));
        x.clone() + part(8) * self.mlp.forward(h)
    }
}

/// Sinusoidal embedding of a scalar per batch element (`[b]` -> `[b, dim]`).
pub fn sinusoidal(c: Tensor<1>, dim: usize) -> Tensor<2> {
    let [b] = c.dims();
    let half = dim / 2;
    let freqs: Vec<f32> = (0..half).map(|i| (-(10000f64.ln()) * i as f64 / half as f64).exp() as f32).collect();
    let f: Tensor<2> = Tensor::<1>::from_data(TensorData::new(freqs, [half]), &c.device()).reshape([1, half]);
    let a = c.reshape([b, 1]) * f;
    Tensor::cat(vec![a.clone().cos(), a.sin()], 1)
}

#[derive(Module, Debug)]
pub struct Dit {
    pub embed: Linear,
    pub t_fc1: Linear,
    pub t_fc2: Linear,
    pub text: CaptionEncoder,
    pub text_proj: Linear,
    pub blocks: Vec<DitBlock>,
    pub final_ada: Linear,
    pub final_out: Linear,
    pub patch: usize,
    pub heads: usize,
    pub rope_theta: f64,
    pub abs_pos: bool,
}

impl DitConfig {
    pub fn init(&self, device: &Device) -> Dit {
        let w = self.width;
        Dit {
            embed: LinearConfig::new(self.token_in(), w).init(device),
            t_fc1: LinearConfig::new(256, w).init(device),
            t_fc2: LinearConfig::new(w, w).init(device),
            text: CaptionEncoder::new(self.vocab_size, self.max_caption_tokens, self.text_width, self.text_layers, self.text_heads, device),
            text_proj: LinearConfig::new(self.text_width, w).init(device),
            blocks: (0..self.depth)
                .map(|_| DitBlock {
                    ada: AdaLnLora { down: LinearConfig::new(w, self.adaln_rank).init(device), up: zero_linear(self.adaln_rank, 9 * w, device) },
                    self_attn: Attention::new(w, w, self.heads, device),
                    cross_attn: Attention::new(w, w, self.heads, device),
                    mlp: Mlp::new(w, self.mlp_ratio * w, device),
                })
                .collect(),
            final_ada: zero_linear(w, 2 * w, device),
            final_out: zero_linear(w, self.token_out(), device),
            patch: self.patch,
            heads: self.heads,
            rope_theta: self.rope_theta,
            abs_pos: self.abs_pos,
        }
    }
}

/// `[b, c, t, h, w] -> [b, t*(h/p)*(w/p), c*p*p]`, tokens `t`-major.
pub fn patchify(x: Tensor<5>, p: usize) -> Tensor<3> {
    let [b, c, t, h, w] = x.dims();
    let x: Tensor<7> = x.reshape([b, c, t, h / p, p, w / p, p]);
    x.permute([0, 2, 3, 5, 1, 4, 6]).reshape([b, t * (h / p) * (w / p), c * p * p])
}

/// Inverse of [`patchify`] for `c` channels on a `t x h x w` latent grid.
pub fn unpatchify(x: Tensor<3>, p: usize, c: usize, t: usize, h: usize, w: usize) -> Tensor<5> {
    let [b, _, _] = x.dims();
    let x: Tensor<7> = x.reshape([b, t, h / p, w / p, c, p, p]);
    x.permute([0, 4, 1, 2, 5, 3, 6]).reshape([b, c, t, h, w])
}

/// What every block of one forward pass shares: the noise embedding (AdaLN input), the projected
/// caption tokens and their padding, and the RoPE tables of the token grid.
#[derive(Debug, Clone)]
pub struct DitContext {
    /// `[b, width]`.
    pub emb: Tensor<2>,
    /// `[b, caption tokens, width]`.
    pub text: Tensor<3>,
    pub pad: Tensor<2, Bool>,
    pub cos: Tensor<2>,
    pub sin: Tensor<2>,
    /// `[b, c, t, h, w]` of the latents.
    pub dims: [usize; 5],
}

impl Dit {
    /// Patch tokens `[b, t*(h/p)*(w/p), width]` of the latents and the conditioning mask, with the
    /// absolute position embedding added.
    pub fn embed_tokens(&self, x_in: Tensor<5>, cond: Tensor<5>) -> Tensor<3> {
        let [_, _, t, h, w] = x_in.dims();
        let p = self.patch;
        let tokens = self.embed.forward(patchify(Tensor::cat(vec![x_in, cond], 1), p));
        let [_, n, width] = tokens.dims();
        let device = tokens.device();
        if self.abs_pos {
            tokens + rope::absolute([t, h / p, w / p], width, &device).reshape([1, n, width])
        } else {
            tokens
        }
    }

    /// The shared inputs of the blocks for latents of shape `dims`.
    pub fn context(&self, dims: [usize; 5], c_noise: Tensor<1>, ids: Tensor<2, Int>, pad: Tensor<2, Bool>) -> DitContext {
        let [_, _, t, h, w] = dims;
        let p = self.patch;
        let device = c_noise.device();
        let emb = self.t_fc2.forward(silu(self.t_fc1.forward(sinusoidal(c_noise, 256))));
        let head_dim = emb.dims()[1] / self.heads;
        let (cos, sin) = rope::tables([t, h / p, w / p], [0.0; 3], head_dim, self.rope_theta, &device);
        let text = self.text_proj.forward(self.text.forward(ids, pad.clone()));
        DitContext { emb, text, pad, cos, sin, dims }
    }

    /// Block `i` on tokens `x`.
    pub fn block(&self, i: usize, x: Tensor<3>, ctx: &DitContext) -> Tensor<3> {
        self.blocks[i].forward(x, ctx.emb.clone(), ctx.text.clone(), ctx.pad.clone(), (&ctx.cos, &ctx.sin))
    }

    /// The final modulated projection back to latents `[b, c, t, h, w]`.
    pub fn head(&self, x: Tensor<3>, ctx: &DitContext) -> Tensor<5> {
        let [b, c, t, h, w] = ctx.dims;
        let d = x.dims()[2];
        let m = self.final_ada.forward(silu(ctx.emb.clone())).reshape([b, 2, d]);
        let x = modulate(x, m.clone().narrow(1, 0, 1), m.narrow(1, 1, 1));
        unpatchify(self.final_out.forward(x), self.patch, c, t, h, w)
    }

    /// The raw network output for noisy-and-scaled latents `x_in: [b, c, t, h, w]`, noise
    /// conditioning `c_noise: [b]`, conditioning mask `cond: [b, 1, t, h, w]` (1 on given frames),
    /// and caption ids / padding from [`super::text::CaptionVocab::batch`].
    pub fn forward(&self, x_in: Tensor<5>, c_noise: Tensor<1>, cond: Tensor<5>, ids: Tensor<2, Int>, pad: Tensor<2, Bool>) -> Tensor<5> {
        let ctx = self.context(x_in.dims(), c_noise, ids, pad);
        let mut x = self.embed_tokens(x_in, cond);
        for i in 0..self.blocks.len() {
            x = self.block(i, x, &ctx);
        }
        self.head(x, &ctx)
    }
}
