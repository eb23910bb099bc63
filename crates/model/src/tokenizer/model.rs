//! The causal video autoencoder.
//!
//! Layout `[batch, channels, time, height, width]`, pixels in [-1, 1]. Every operation that mixes
//! time looks only at the past: the temporal convolutions pad on the past side (the first frame
//! repeated at the start of a clip, the carried frames of the previous chunk afterwards), and the
//! temporal down-sampling groups frames `(2j-1, 2j)` after repeating frame 0 once, so a clip of
//! `1 + c*n` frames gives `1 + n` latent frames and latent `j` depends only on frames `<= c*j`.
//! Spatial mixing is factorised (1x3x3 convolutions, space-to-depth down-sampling), as in the Cosmos
//! tokenizer's factorised causal 3D convolutions. Normalisation is per voxel over channels (an RMS
//! norm), so no statistic crosses time.

use burn::module::{Initializer, Param};
use burn::nn::conv::{Conv3d, Conv3dConfig};
use burn::nn::PaddingConfig3d;
use burn::prelude::*;

use super::config::TokenizerConfig;
use crate::kernels::conv3d;

/// Carried state of the causal convolutions between chunks of one clip.
///
/// A fresh state means "the clip starts here": past-side padding repeats the first frame and the
/// temporal down-sampling pads frame 0. After a chunk, it holds each temporal convolution's last
/// `k - 1` input frames, in the order the network visits them.
#[derive(Debug, Clone, Default)]
pub struct CausalState {
    started: bool,
    caches: Vec<Tensor<5>>,
    next: Vec<Tensor<5>>,
    read: usize,
}

impl CausalState {
    pub fn new() -> Self {
        Self::default()
    }
    /// Whether a chunk has been processed (so the next one continues a clip).
    pub fn started(&self) -> bool {
        self.started
    }
    fn begin(&mut self) {
        self.read = 0;
        self.next.clear();
    }
    fn finish(&mut self) {
        self.caches = std::mem::take(&mut self.next);
        self.started = true;
    }
    fn take(&mut self) -> Option<Tensor<5>> {
        if !self.started {
            return None;
        }
        let c = self.caches.get(self.read).cloned();
        self.read += 1;
        c
    }
    fn push(&mut self, t: Tensor<5>) {
        self.next.push(t);
    }
}

/// Per-voxel RMS normalisation over channels with a learned gain.
#[derive(Module, Debug)]
pub struct ChannelNorm {
    pub gamma: Param<Tensor<1>>,
}

impl ChannelNorm {
    fn new(channels: usize, device: &Device) -> Self {
        Self { gamma: Param::from_tensor(Tensor::ones([channels], device)) }
    }
    /// `silu(x / sqrt(mean over channels of x^2 + eps) * gain)`: the norm is always followed by
    /// SiLU here, so the two run as one fused kernel on the CPU (`kernels::norm_silu`).
    pub fn forward_silu(&self, x: Tensor<5>) -> Tensor<5> {
        crate::kernels::norm_silu(x, self.gamma.val())
    }
}

fn spatial_conv(cin: usize, cout: usize, device: &Device) -> Conv3d {
    Conv3dConfig::new([cin, cout], [1, 3, 3]).with_padding(PaddingConfig3d::Explicit(0, 1, 1)).init(device)
}

/// The last convolution of the encoder or decoder body; zero-initialised when a linear shortcut
/// carries the signal at the start (the body then learns a residual on top of it).
fn out_conv(cin: usize, cout: usize, zero: bool, device: &Device) -> Conv3d {
    let c = Conv3dConfig::new([cin, cout], [1, 3, 3]).with_padding(PaddingConfig3d::Explicit(0, 1, 1));
    if zero {
        c.with_initializer(Initializer::Zeros).init(device)
    } else {
        c.init(device)
    }
}

fn pointwise(cin: usize, cout: usize, device: &Device) -> Conv3d {
    Conv3dConfig::new([cin, cout], [1, 1, 1]).init(device)
}

/// A temporal convolution (`k x 1 x 1`) padded only on the past side.
#[derive(Module, Debug)]
pub struct CausalTimeConv {
    pub conv: Conv3d,
    pub kernel: usize,
}

impl CausalTimeConv {
    fn new(channels: usize, kernel: usize, device: &Device) -> Self {
        Self { conv: Conv3dConfig::new([channels, channels], [kernel, 1, 1]).init(device), kernel }
    }

    pub fn forward(&self, x: Tensor<5>, state: &mut CausalState) -> Tensor<5> {
        let k = self.kernel;
        if k == 1 {
            return conv3d(&self.conv, x);
        }
        let [b, c, t, h, w] = x.dims();
        let past = match state.take() {
            Some(p) => p,
            None => x.clone().narrow(2, 0, 1).expand([b, c, k - 1, h, w]),
        };
        let padded = Tensor::cat(vec![past, x], 2);
        state.push(padded.clone().narrow(2, t, k - 1));
        conv3d(&self.conv, padded)
    }
}

/// Residual block: norm, SiLU, 1x3x3 conv, causal temporal conv, norm, SiLU, 1x3x3 conv.
#[derive(Module, Debug)]
pub struct ResBlock {
    pub norm1: ChannelNorm,
    pub conv1: Conv3d,
    pub time: CausalTimeConv,
    pub norm2: ChannelNorm,
    pub conv2: Conv3d,
}

impl ResBlock {
    fn new(channels: usize, kernel: usize, device: &Device) -> Self {
        // Start each block close to the identity: the residual branch's last conv begins small
        // (burn's default Kaiming-uniform gain, 1/sqrt(3), scaled by 0.1).
        let conv2 = Conv3dConfig::new([channels, channels], [1, 3, 3])
            .with_padding(PaddingConfig3d::Explicit(0, 1, 1))
            .with_initializer(Initializer::KaimingUniform { gain: 0.1 / 3f64.sqrt(), fan_out_only: false })
            .init(device);
        Self {
            norm1: ChannelNorm::new(channels, device),
            conv1: spatial_conv(channels, channels, device),
            time: CausalTimeConv::new(channels, kernel, device),
            norm2: ChannelNorm::new(channels, device),
            conv2,
        }
    }

    pub fn forward(&self, x: Tensor<5>, state: &mut CausalState) -> Tensor<5> {
        let h = conv3d(&self.conv1, self.norm1.forward_silu(x.clone()));
        let h = self.time.forward(h, state);
        let h = conv3d(&self.conv2, self.norm2.forward_silu(h));
        x + h
    }
}

/// Space-to-depth by `f` in height and width: `[b, c, t, h, w] -> [b, c*f*f, t, h/f, w/f]`.
pub fn space_to_depth(x: Tensor<5>, f: usize) -> Tensor<5> {
    let [b, c, t, h, w] = x.dims();
    let x: Tensor<7> = x.reshape([b * c, t, h / f, f, w / f, f, 1]);
    crate::kernels::permute(x, [0, 3, 5, 1, 2, 4, 6]).reshape([b, c * f * f, t, h / f, w / f])
}

/// Depth-to-space by `f`, the inverse of [`space_to_depth`].
pub fn depth_to_space(x: Tensor<5>, f: usize) -> Tensor<5> {
    let [b, cff, t, h, w] = x.dims();
    let c = cff / (f * f);
    let x: Tensor<7> = x.reshape([b * c, f, f, t, h, w, 1]);
    crate::kernels::permute(x, [0, 3, 4, 1, 5, 2, 6]).reshape([b, c, t, h * f, w * f])
}

/// Causal 2x temporal grouping: frames `(2j-1, 2j)` stacked on channels; at the start of a clip frame 0
/// is paired with itself. `[b, c, t, h, w] -> [b, 2c, t', h, w]`.
fn time_to_depth(x: Tensor<5>, clip_start: bool) -> Tensor<5> {
    let x = if clip_start { Tensor::cat(vec![x.clone().narrow(2, 0, 1), x], 2) } else { x };
    let [b, c, t, h, w] = x.dims();
    debug_assert!(t % 2 == 0);
    let x: Tensor<6> = x.reshape([b, c, t / 2, 2, h, w]);
    crate::kernels::permute(x, [0, 3, 1, 2, 4, 5]).reshape([b, 2 * c, t / 2, h, w])
}

/// Inverse of [`time_to_depth`]: each frame becomes two; at the start of a clip the first (the repeated frame 0) is dropped.
fn depth_to_time(x: Tensor<5>, clip_start: bool) -> Tensor<5> {
    let [b, c2, t, h, w] = x.dims();
    let c = c2 / 2;
    let x: Tensor<6> = x.reshape([b, 2, c, t, h, w]);
    let x = crate::kernels::permute(x, [0, 2, 3, 1, 4, 5]).reshape([b, c, t * 2, h, w]);
    if clip_start {
        x.narrow(2, 1, 2 * t - 1)
    } else {
        x
    }
}

/// Down-sampling between stages: space-to-depth 2x (and causal time grouping 2x), then a 1x1x1 conv.
#[derive(Module, Debug)]
pub struct Down {
    pub proj: Conv3d,
    pub temporal: bool,
}

impl Down {
    fn forward(&self, x: Tensor<5>, clip_start: bool) -> Tensor<5> {
        let x = space_to_depth(x, 2);
        let x = if self.temporal { time_to_depth(x, clip_start) } else { x };
        conv3d(&self.proj, x)
    }
}

/// Up-sampling between stages: a 1x1x1 conv, then depth-to-space 2x (and time 2x).
#[derive(Module, Debug)]
pub struct Up {
    pub proj: Conv3d,
    pub temporal: bool,
}

impl Up {
    fn forward(&self, x: Tensor<5>, clip_start: bool) -> Tensor<5> {
        let x = conv3d(&self.proj, x);
        let x = if self.temporal { depth_to_time(x, clip_start) } else { x };
        depth_to_space(x, 2)
    }
}

#[derive(Module, Debug)]
pub struct Encoder {
    pub conv_in: Conv3d,
    pub stages: Vec<Vec<ResBlock>>,
    pub downs: Vec<Down>,
    pub norm_out: ChannelNorm,
    pub conv_out: Conv3d,
    /// Linear path from the pixels of a latent cell (`s x s` pixels x `c` frames) straight to the latent.
    pub shortcut: Option<Conv3d>,
    pub patch: usize,
    pub patch_time: usize,
    pub spatial: usize,
    pub temporal_levels: usize,
}

#[derive(Module, Debug)]
pub struct Decoder {
    pub conv_in: Conv3d,
    /// Stages from the coarsest to the finest.
    pub stages: Vec<Vec<ResBlock>>,
    pub ups: Vec<Up>,
    pub norm_out: ChannelNorm,
    pub conv_out: Conv3d,
    /// Linear path from a latent cell back to its pixels (mirror of the encoder's).
    pub shortcut: Option<Conv3d>,
    pub patch: usize,
    pub patch_time: usize,
    pub spatial: usize,
    pub temporal_levels: usize,
}

/// All pixels of each latent cell stacked on channels: `[b, 3, 1 + c*n, H, W] -> [b, 3*s*s*c, 1 + n, H/s, W/s]`
/// with the same causal frame grouping as the network (frame 0 alone, then groups of `c`).
pub fn cells(x: Tensor<5>, spatial: usize, temporal_levels: usize, clip_start: bool) -> Tensor<5> {
    let mut x = x;
    for _ in 0..temporal_levels {
        x = time_to_depth(x, clip_start);
    }
    space_to_depth(x, spatial)
}

/// Inverse of [`cells`].
pub fn uncells(x: Tensor<5>, spatial: usize, temporal_levels: usize, clip_start: bool) -> Tensor<5> {
    let mut x = depth_to_space(x, spatial);
    for _ in 0..temporal_levels {
        x = depth_to_time(x, clip_start);
    }
    x
}

/// The causal video autoencoder.
#[derive(Module, Debug)]
pub struct Tokenizer {
    pub encoder: Encoder,
    pub decoder: Decoder,
}

impl TokenizerConfig {
    /// A freshly initialised tokenizer (seed the device first for reproducible weights).
    pub fn init(&self, device: &Device) -> Tokenizer {
        let s = self.stages();
        let pin = self.in_channels * self.patch * self.patch * self.patch_time;
        let k = self.temporal_kernel;
        let levels = self.temporal_compression().trailing_zeros() as usize;
        let cell = self.in_channels * self.spatial_compression().pow(2) * self.temporal_compression();
        let encoder = Encoder {
            conv_in: spatial_conv(pin, self.channels[0], device),
            stages: (0..s).map(|i| (0..self.encoder_blocks[i]).map(|_| ResBlock::new(self.channels[i], k, device)).collect()).collect(),
            downs: (0..s - 1)
                .map(|i| {
                    let f = if self.temporal_down[i] { 8 } else { 4 };
                    Down { proj: pointwise(self.channels[i] * f, self.channels[i + 1], device), temporal: self.temporal_down[i] }
                })
                .collect(),
            norm_out: ChannelNorm::new(self.channels[s - 1], device),
            conv_out: out_conv(self.channels[s - 1], self.latent_channels, self.linear_shortcut, device),
            shortcut: self.linear_shortcut.then(|| pointwise(cell, self.latent_channels, device)),
            patch: self.patch,
            patch_time: self.patch_time,
            spatial: self.spatial_compression(),
            temporal_levels: levels,
        };
        let decoder = Decoder {
            conv_in: spatial_conv(self.latent_channels, self.channels[s - 1], device),
            stages: (0..s).rev().map(|i| (0..self.decoder_blocks[i]).map(|_| ResBlock::new(self.channels[i], k, device)).collect()).collect(),
            ups: (0..s - 1)
                .rev()
                .map(|i| {
                    let f = if self.temporal_down[i] { 8 } else { 4 };
                    Up { proj: pointwise(self.channels[i + 1], self.channels[i] * f, device), temporal: self.temporal_down[i] }
                })
                .collect(),
            norm_out: ChannelNorm::new(self.channels[0], device),
            conv_out: out_conv(self.channels[0], pin, self.linear_shortcut, device),
            shortcut: self.linear_shortcut.then(|| pointwise(self.latent_channels, cell, device)),
            patch: self.patch,
            patch_time: self.patch_time,
            spatial: self.spatial_compression(),
            temporal_levels: levels,
        };
        Tokenizer { encoder, decoder }
    }
}

impl Encoder {
    /// Encodes one chunk. At the start of a clip the chunk has `1 + c*n` frames, afterwards `c*n`.
    pub fn forward(&self, x: Tensor<5>, state: &mut CausalState) -> Tensor<5> {
        let clip_start = !state.started();
        state.begin();
        let linear = self.shortcut.as_ref().map(|c| conv3d(c, cells(x.clone(), self.spatial, self.temporal_levels, clip_start)));
        let x = if self.patch_time == 2 { time_to_depth(x, clip_start) } else { x };
        let mut h = conv3d(&self.conv_in, space_to_depth(x, self.patch));
        for (i, blocks) in self.stages.iter().enumerate() {
            for b in blocks {
                h = b.forward(h, state);
            }
            if let Some(d) = self.downs.get(i) {
                h = d.forward(h, clip_start);
            }
        }
        state.finish();
        let z = conv3d(&self.conv_out, self.norm_out.forward_silu(h));
        match linear {
            Some(l) => z + l,
            None => z,
        }
    }
}

impl Decoder {
    /// Decodes one chunk of latents (the first chunk of a clip gives `1 + c*(n-1)` frames for `n` latents).
    pub fn forward(&self, z: Tensor<5>, state: &mut CausalState) -> Tensor<5> {
        let clip_start = !state.started();
        state.begin();
        let linear = self.shortcut.as_ref().map(|c| uncells(conv3d(c, z.clone()), self.spatial, self.temporal_levels, clip_start));
        let mut h = conv3d(&self.conv_in, z);
        for (i, blocks) in self.stages.iter().enumerate() {
            for b in blocks {
                h = b.forward(h, state);
            }
            if let Some(u) = self.ups.get(i) {
                h = u.forward(h, clip_start);
            }
        }
        state.finish();
        let x = depth_to_space(conv3d(&self.conv_out, self.norm_out.forward_silu(h)), self.patch);
        let x = if self.patch_time == 2 { depth_to_time(x, clip_start) } else { x };
        match linear {
            Some(l) => x + l,
            None => x,
        }
    }
}

impl Tokenizer {
    /// Encodes a whole clip in one pass: `[b, 3, 1 + c*n, H, W] -> [b, latent, 1 + n, H/s, W/s]`.
    pub fn encode(&self, x: Tensor<5>) -> Tensor<5> {
        self.encoder.forward(x, &mut CausalState::new())
    }

    /// Decodes a whole latent clip in one pass.
    pub fn decode(&self, z: Tensor<5>) -> Tensor<5> {
        self.decoder.forward(z, &mut CausalState::new())
    }

    /// Encode then decode (the training forward pass).
    pub fn forward(&self, x: Tensor<5>) -> Tensor<5> {
        self.decode(self.encode(x))
    }

    /// Encodes a clip of any valid length in causal chunks of `chunk` frames (after the first),
    /// carrying the temporal state; equal to [`encode`](Self::encode) up to float rounding while
    /// holding only one chunk's activations.
    pub fn encode_chunked(&self, x: Tensor<5>, chunk: usize) -> Tensor<5> {
        let t = x.dims()[2];
        let mut state = CausalState::new();
        // The first chunk is `1 + chunk` frames (or the whole clip), then `chunk` frames at a time.
        let first = t.min(1 + chunk);
        let mut out = vec![self.encoder.forward(x.clone().narrow(2, 0, first), &mut state)];
        let mut at = first;
        while at < t {
            let n = chunk.min(t - at);
            out.push(self.encoder.forward(x.clone().narrow(2, at, n), &mut state));
            at += n;
        }
        Tensor::cat(out, 2)
    }

    /// Decodes latents in causal chunks of `chunk` latent frames, carrying the temporal state.
    pub fn decode_chunked(&self, z: Tensor<5>, chunk: usize) -> Tensor<5> {
        let t = z.dims()[2];
        let chunk = chunk.max(1);
        let mut state = CausalState::new();
        let mut out = Vec::new();
        let mut at = 0;
        while at < t {
            let n = chunk.min(t - at);
            out.push(self.decoder.forward(z.clone().narrow(2, at, n), &mut state));
            at += n;
        }
        Tensor::cat(out, 2)
    }
}
