//! 3D rotary position embedding over (t, h, w) (Su et al., RoFormer; factorised per axis as in
//! Cosmos' DiT). The head dimension is split into three even parts, one per axis. Each part rotates
//! pairs `(i, i + n/2)` of its slice by `position * theta^(-2i/n)`, so the dot product of a rotated
//! query and key depends only on their offset along each axis.

use burn::prelude::*;

/// Head-dimension split `[t, h, w]` for a head of `head_dim` (each even, `t` about a quarter).
pub fn axis_split(head_dim: usize) -> [usize; 3] {
    assert!(head_dim % 2 == 0 && head_dim >= 6, "RoPE head_dim must be even and >= 6");
    let half = head_dim / 2;
    let t = (half / 4).max(1);
    let h = (half - t) / 2;
    let w = half - t - h;
    [2 * t, 2 * h, 2 * w]
}

/// `(cos, sin)` tables `[tokens, head_dim]` for tokens laid out `t`-major over a `t x h x w` grid,
/// with positions offset by `origin` (e.g. the first latent frame index of a chunk).
pub fn tables(grid: [usize; 3], origin: [f64; 3], head_dim: usize, theta: f64, device: &Device) -> (Tensor<2>, Tensor<2>) {
    let split = axis_split(head_dim);
    let n = grid[0] * grid[1] * grid[2];
    let half = head_dim / 2;
    let mut cos = vec![0f32; n * head_dim];
    let mut sin = vec![0f32; n * head_dim];
    for t in 0..grid[0] {
        for y in 0..grid[1] {
            for x in 0..grid[2] {
                let tok = (t * grid[1] + y) * grid[2] + x;
                let pos = [t as f64 + origin[0], y as f64 + origin[1], x as f64 + origin[2]];
                let mut k = 0;
                for a in 0..3 {
                    let na = split[a] / 2;
                    for i in 0..na {
                        let angle = pos[a] * theta.powf(-(2.0 * i as f64) / split[a] as f64);
                        let (s, c) = angle.sin_cos();
                        cos[tok * head_dim + k] = c as f32;
                        cos[tok * head_dim + k + half] = c as f32;
                        sin[tok * head_dim + k] = s as f32;
                        sin[tok * head_dim + k + half] = s as f32;
                        k += 1;
                    }
                }
            }
        }
    }
    (
        Tensor::from_data(TensorData::new(cos, [n, head_dim]), device),
        Tensor::from_data(TensorData::new(sin, [n, head_dim]), device),
    )
}

/// Rotates every head of `x: [batch, tokens, heads * head_dim]` with tables from [`tables`].
pub fn apply(x: Tensor<3>, cos: &Tensor<2>, sin: &Tensor<2>, heads: usize) -> Tensor<3> {
    let [b, n, w] = x.dims();
    let d = w / heads;
    let half = d / 2;
    let x: Tensor<4> = x.reshape([b, n, heads, d]);
    let x1 = x.clone().narrow(3, 0, half);
    let x2 = x.clone().narrow(3, half, half);
    let rotated = Tensor::cat(vec![x2.neg(), x1], 3);
    let c = cos.clone().reshape([1, n, 1, d]);
    let s = sin.clone().reshape([1, n, 1, d]);
    (x * c + rotated * s).reshape([b, n, w])
}

/// Fixed sine-cosine absolute position embedding `[tokens, width]` over a `t x h x w` grid
/// (`t`-major), the width split across the axes as in [`axis_split`]: added to the patch
/// embeddings so that the network knows where a token lies in the frame (RoPE alone makes attention
/// translation-equivariant, and a driving scene is not: sky above, road below). Cosmos' DiT adds a
/// learnable absolute embedding beside its RoPE for the same reason; a fixed one serves any grid size.
pub fn absolute(grid: [usize; 3], width: usize, device: &Device) -> Tensor<2> {
    let split = axis_split(width);
    let n = grid[0] * grid[1] * grid[2];
    let mut out = vec![0f32; n * width];
    for t in 0..grid[0] {
        for y in 0..grid[1] {
            for x in 0..grid[2] {
                let tok = (t * grid[1] + y) * grid[2] + x;
                let pos = [t as f64, y as f64, x as f64];
                let mut k = tok * width;
                for a in 0..3 {
                    let half = split[a] / 2;
                    for i in 0..half {
                        let angle = pos[a] * 10000f64.powf(-(i as f64) / half as f64);
                        out[k] = angle.sin() as f32;
                        out[k + half] = angle.cos() as f32;
                        k += 1;
                    }
                    k += half;
                }
            }
        }
    }
    Tensor::from_data(TensorData::new(out, [n, width]), device)
}
