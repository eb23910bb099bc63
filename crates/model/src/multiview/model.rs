//! `MultiViewDit`: the Text2World [`Dit`] plus the multi-view paths.
//!
//! Inputs are the views of `b` samples stacked on the batch axis, view-major within a sample
//! (`[b * views, c, t, h, w]`). The loaded network runs on every view as in Text2World; after each of
//! its blocks a cross-view attention lets every token attend to the tokens of all views at the same
//! latent time step. A view embedding (from [`camera_features`](super::camera_features)) is added
//! to the view's tokens; the trajectory embedding is added to the noise embedding that modulates
//! every block (AdaLN); the per-frame ego pose is added to the tokens of its frame. The output
//! projections of all four paths start at zero.

use burn::module::Initializer;
use burn::nn::{Linear, LinearConfig};
use burn::prelude::*;
use burn::tensor::activation::silu;

use super::views::{CAMERA_FEATURES, POSE_FEATURES};
use crate::dit::layers::{norm3, Attention};
use crate::dit::{Dit, DitConfig};

fn zero_linear(i: usize, o: usize, device: &Device) -> Linear {
    LinearConfig::new(i, o).with_initializer(Initializer::Zeros).init(device)
}

/// Joint attention over the views of one latent time step.
#[derive(Module, Debug)]
pub struct CrossView {
    pub attn: Attention,
}

impl CrossView {
    fn new(width: usize, heads: usize, device: &Device) -> Self {
        let mut attn = Attention::new(width, width, heads, device);
        attn.out = zero_linear(width, width, device);
        Self { attn }
    }

    /// `x: [b * views, t * hw, d]` -> the update to add.
    fn forward(&self, x: Tensor<3>, views: usize, t: usize) -> Tensor<3> {
        let [bv, n, d] = x.dims();
        let (b, hw) = (bv / views, n / t);
        let h = norm3(x).reshape([b, views, t, hw, d]).swap_dims(1, 2).reshape([b * t, views * hw, d]);
        let o = self.attn.forward(h, None, None, None);
        o.reshape([b, t, views, hw, d]).swap_dims(1, 2).reshape([bv, n, d])
    }
}

/// Which paths run: the full model, or the baselines (views generated independently: no
/// cross-view attention; no trajectory conditioning).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MvMode {
    pub cross_view: bool,
    pub trajectory: bool,
}

impl MvMode {
    pub const FULL: MvMode = MvMode { cross_view: true, trajectory: true };
}

/// One forward pass's inputs.
#[derive(Debug, Clone)]
pub struct MvInputs {
    /// `[b * views, c, t, h, w]`, `c_in`-scaled noisy latents.
    pub x_in: Tensor<5>,
    /// `[b * views]`.
    pub c_noise: Tensor<1>,
    /// `[b * views, 1, t, h, w]`: 1 on given latent frames.
    pub cond: Tensor<5>,
    /// Caption ids and padding, one row per view.
    pub ids: Tensor<2, Int>,
    pub pad: Tensor<2, Bool>,
    pub views: usize,
    /// `[b * views, CAMERA_FEATURES]`.
    pub camera: Tensor<2>,
    /// `[b * views, 3 * trajectory points]`.
    pub trajectory: Tensor<2>,
    /// `[b * views, t, POSE_FEATURES]`.
    pub frame_pose: Tensor<3>,
}

#[derive(Module, Debug)]
pub struct MultiViewDit {
    pub base: Dit,
    pub view_fc1: Linear,
    pub view_fc2: Linear,
    pub traj_fc1: Linear,
    pub traj_fc2: Linear,
    pub frame_pose: Linear,
    pub cross: Vec<CrossView>,
    pub trajectory_points: usize,
}

impl MultiViewDit {
    /// Wraps a (loaded) Text2World network; the new parameters start so that each view's output
    /// equals `base`'s.
    pub fn new(base: Dit, cfg: &DitConfig, trajectory_points: usize, device: &Device) -> Self {
        let w = cfg.width;
        Self {
            view_fc1: LinearConfig::new(CAMERA_FEATURES, w).init(device),
            view_fc2: zero_linear(w, w, device),
            traj_fc1: LinearConfig::new(3 * trajectory_points, w).init(device),
            traj_fc2: zero_linear(w, w, device),
            frame_pose: zero_linear(POSE_FEATURES, w, device),
            cross: (0..cfg.depth).map(|_| CrossView::new(w, cfg.heads, device)).collect(),
            trajectory_points,
            base,
        }
    }

    pub fn forward(&self, inp: MvInputs, mode: MvMode) -> Tensor<5> {
        let dims = inp.x_in.dims();
        let [bv, _, t, h, w] = dims;
        let p = self.base.patch;
        let hw = (h / p) * (w / p);
        let mut ctx = self.base.context(dims, inp.c_noise, inp.ids, inp.pad);
        if mode.trajectory {
            ctx.emb = ctx.emb + self.traj_fc2.forward(silu(self.traj_fc1.forward(inp.trajectory)));
        }
        let mut x = self.base.embed_tokens(inp.x_in, inp.cond);
        let d = x.dims()[2];
        x = x + self.view_fc2.forward(silu(self.view_fc1.forward(inp.camera))).reshape([bv, 1, d]);
        if mode.trajectory {
            let fp = self.frame_pose.forward(inp.frame_pose); // [bv, t, d]
            x = x + fp.reshape([bv, t, 1, d]).expand([bv, t, hw, d]).reshape([bv, t * hw, d]);
        }
        for i in 0..self.base.blocks.len() {
            x = self.base.block(i, x, &ctx);
            if mode.cross_view && inp.views > 1 {
                x = x.clone() + self.cross[i].forward(x, inp.views, t);
            }
        }
        self.base.head(x, &ctx)
    }
}
