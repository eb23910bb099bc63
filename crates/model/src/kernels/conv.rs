//! 3D convolution (stride 1, no dilation, one group, zero padding in height and width only) on the
//! CPU in burn's NCDHW layout: 1x3x3 kernels with padding 1 and at least 32 channels on each side
//! by Winograd's F(4x4, 3x3) (`winograd.rs`), every other shape as one matrix product per kernel
//! tap (below): no layout conversion and no im2col buffer.
//!
//! The input is zero-padded in height and width once (`[ci, t, hp, wp]`). On that padded grid a tap
//! `(a, dy, dx)` is a constant offset `(a hp + dy) wp + dx` of the flattened index, so every output
//! voxel of the "wide" grid `[co, t', hp, wp]` (its first `h' x w'` of each `hp x wp` frame are the
//! real output) is `sum over taps of W_tap (co x ci) x padded[:, q + offset]`: `taps` GEMMs of
//! `co x ci` by `ci x positions`, accumulated, then cropped (a direct write when nothing is padded
//! and the kernel is 1x1 in space). The backward is the same pattern transposed: the input gradient
//! accumulates `W_tap^T x wide output gradient` at each tap's offset, the weight gradient of a tap is
//! `wide output gradient x padded input (shifted)^T` (the wide gradient's padding columns are zero).
//! Matrix products run on the `gemm` crate, single-threaded inside rayon tasks that each own a range
//! of output (or input-gradient) positions and accumulate every tap into it while the block is in
//! cache; the weight gradient's tasks are (tap, group of ranges), summed after.

use gemm::Parallelism;
use rayon::prelude::*;

use super::{matmul, uninit, winograd, SharedMut};

/// Shape of one convolution call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConvDims {
    pub batch: usize,
    pub cin: usize,
    pub cout: usize,
    /// Input `[t, h, w]`.
    pub input: [usize; 3],
    /// Kernel `[kt, kh, kw]`.
    pub kernel: [usize; 3],
    /// Zero padding `[ph, pw]` on both sides of height and width.
    pub pad: [usize; 2],
}

impl ConvDims {
    fn padded(&self) -> [usize; 3] {
        [self.input[0], self.input[1] + 2 * self.pad[0], self.input[2] + 2 * self.pad[1]]
    }
    /// Output `[t', h', w']`.
    pub fn output(&self) -> [usize; 3] {
        let [t, hp, wp] = self.padded();
        [t + 1 - self.kernel[0], hp + 1 - self.kernel[1], wp + 1 - self.kernel[2]]
    }
    fn taps(&self) -> usize {
        self.kernel.iter().product()
    }
    /// Flattened padded-grid offset of tap `i` (row-major over `[kt, kh, kw]`).
    fn offset(&self, i: usize) -> usize {
        let [_, hp, wp] = self.padded();
        let (a, r) = (i / (self.kernel[1] * self.kernel[2]), i % (self.kernel[1] * self.kernel[2]));
        let (dy, dx) = (r / self.kernel[2], r % self.kernel[2]);
        (a * hp + dy) * wp + dx
    }
    /// Wide-grid positions computed per image: up to the last real output voxel.
    fn wide_len(&self) -> usize {
        let [_, hp, wp] = self.padded();
        let [to, ho, wo] = self.output();
        ((to - 1) * hp + ho - 1) * wp + wo
    }
    fn wide_stride(&self) -> usize {
        let [_, hp, wp] = self.padded();
        self.output()[0] * hp * wp
    }
    /// The wide grid is the output itself (no padding, 1x1 in space).
    fn direct(&self) -> bool {
        self.pad == [0, 0] && self.kernel[1] == 1 && self.kernel[2] == 1
    }
    fn validate(&self) {
        let [t, h, w] = self.input;
        assert!(self.batch > 0 && self.cin > 0 && self.cout > 0 && t > 0 && h > 0 && w > 0, "conv: empty shape {self:?}");
        let [kt, kh, kw] = self.kernel;
        assert!(kt >= 1 && kt <= t && kh >= 1 && kh <= h + 2 * self.pad[0] && kw >= 1 && kw <= w + 2 * self.pad[1], "conv: kernel larger than the padded input {self:?}");
    }
}

/// Positions per task of the column-split GEMMs: the `co x chunk` output block (or `ci x chunk`
/// input-gradient block) that every tap accumulates into stays in L2 (~256 KiB), and there are at
/// least four tasks per thread when the problem allows.
fn chunk_len(rows: usize, n: usize, images: usize) -> usize {
    let cache = (65536 / rows.max(1)).clamp(256, 4096);
    let spread = (images * n).div_ceil(4 * rayon::current_num_threads()).max(256);
    cache.min(spread).min(n.max(1))
}

/// The `(image, start)` tasks covering `images x [0, n)` in chunks of `chunk`.
fn tasks(images: usize, n: usize, chunk: usize) -> Vec<(usize, usize)> {
    (0..images).flat_map(|b| (0..n).step_by(chunk).map(move |s| (b, s))).collect()
}

/// The weight `[co, ci, taps]` rearranged per tap as a column-major matrix that `gemm` reads in
/// place (no packing per call when the row count is a multiple of 16): `[tap][ci][co]`
/// (`W_tap`, `co x ci`) for the forward, `[tap][co][ci]` (`W_tap^T`, `ci x co`) for the input
/// gradient.
fn weight_per_tap(d: &ConvDims, weight: &[f32], transposed: bool) -> Vec<f32> {
    let (taps, co, ci) = (d.taps(), d.cout, d.cin);
    let mut out = vec![0f32; weight.len()];
    for o in 0..co {
        for i in 0..ci {
            for t in 0..taps {
                let dst = if transposed { (t * co + o) * ci + i } else { (t * ci + i) * co + o };
                out[dst] = weight[(o * ci + i) * taps + t];
            }
        }
    }
    out
}

/// `rows` rows of `len` values per image (row `r` of image `b` at `src[(b * rows + r) * stride..]`)
/// transposed to `[batch, len, rows]`. One task per 64 positions, in sub-blocks of 16 positions x
/// 64 rows: each row's run is one cache line read, and the 16 x 4 lines written stay in L1 even
/// when `rows * 4` bytes is a multiple of 1-2 KiB (which maps a taller block onto few L1 sets).
fn transpose(src: &[f32], batch: usize, rows: usize, len: usize, stride: usize) -> Vec<f32> {
    const TASK: usize = 64;
    const SUB: usize = 16;
    const ROWS: usize = 64;
    // SAFETY: the tasks cover every (image, position, row).
    let mut out = unsafe { uninit(batch * len * rows) };
    let per_image = len.div_ceil(TASK);
    let dst = SharedMut::new(out.as_mut_ptr());
    (0..batch * per_image).into_par_iter().for_each(|i| {
        let (b, p0) = (i / per_image, (i % per_image) * TASK);
        let n = TASK.min(len - p0);
        // SAFETY: task i alone writes positions p0..p0 + n of image b.
        let block = unsafe { std::slice::from_raw_parts_mut(dst.ptr().add((b * len + p0) * rows), n * rows) };
        for s0 in (0..n).step_by(SUB) {
            let m = SUB.min(n - s0);
            for r0 in (0..rows).step_by(ROWS) {
                for r in r0..rows.min(r0 + ROWS) {
                    let run = &src[(b * rows + r) * stride + p0 + s0..][..m];
                    for (p, v) in run.iter().enumerate() {
                        block[(s0 + p) * rows + r] = *v;
                    }
                }
            }
        }
    });
    out
}

/// Where a `frames x rows x cols` block sits in a buffer: row `y` of frame `f` starts at
/// `f * frame + (y + top) * row + left`.
#[derive(Debug, Clone, Copy)]
struct Grid {
    frame: usize,
    row: usize,
    top: usize,
    left: usize,
}

impl Grid {
    /// A dense `rows x cols` frame layout (no margin).
    fn dense(rows: usize, cols: usize) -> Self {
        Self { frame: rows * cols, row: cols, top: 0, left: 0 }
    }
    /// A `rows x cols` frame layout with a margin of `top` rows and `left` columns.
    fn padded(rows: usize, cols: usize, top: usize, left: usize) -> Self {
        Self { frame: rows * cols, row: cols, top, left }
    }
    fn at(&self, f: usize, y: usize) -> usize {
        f * self.frame + (y + self.top) * self.row + self.left
    }
}

/// Copies a `frames x rows x cols` block, row by row, from `src` laid out as `from` into `dst`
/// laid out as `to` (padding, cropping, and moving between the dense and the wide grid).
fn regrid(dst: &mut [f32], to: Grid, src: &[f32], from: Grid, [frames, rows, cols]: [usize; 3]) {
    for f in 0..frames {
        for y in 0..rows {
            let (d, s) = (to.at(f, y), from.at(f, y));
            dst[d..d + cols].copy_from_slice(&src[s..s + cols]);
        }
    }
}

/// The bias gradient: `dout [batch, co, positions]` summed over images and positions.
fn bias_gradient(dout: &[f32], batch: usize, cout: usize, positions: usize) -> Vec<f32> {
    (0..cout).into_par_iter().map(|c| (0..batch).map(|b| dout[(b * cout + c) * positions..][..positions].iter().sum::<f32>()).sum()).collect()
}

/// The input zero-padded in height and width, `[batch, ci, t, hp, wp]` (borrowed when unpadded).
fn pad_input<'a>(d: &ConvDims, x: &'a [f32]) -> std::borrow::Cow<'a, [f32]> {
    if d.pad == [0, 0] {
        return std::borrow::Cow::Borrowed(x);
    }
    let [_, h, w] = d.input;
    let [_, hp, wp] = d.padded();
    let [ph, pw] = d.pad;
    let mut out = vec![0f32; d.batch * d.cin * d.input[0] * hp * wp];
    out.par_chunks_mut(hp * wp).zip(x.par_chunks(h * w)).for_each(|(dst, src)| regrid(dst, Grid::padded(hp, wp, ph, pw), src, Grid::dense(h, w), [1, h, w]));
    std::borrow::Cow::Owned(out)
}

/// Forward: `x [batch, ci, t, h, w]`, `weight [co, ci, kt, kh, kw]`, `bias [co]` ->
/// `[batch, co, t', h', w']`. 1x3x3 kernels with padding 1 take Winograd's F(4x4, 3x3)
/// (`winograd.rs`), every other shape the per-tap products ([`forward_taps`]).
pub fn forward(d: ConvDims, x: &[f32], weight: &[f32], bias: &[f32]) -> Vec<f32> {
    forward_keeping(d, x, weight, bias, false).0
}

/// [`forward`], also returning what the backward pass can reuse when `keep` (Winograd's
/// transformed input tiles; nothing for the per-tap path).
pub fn forward_keeping(d: ConvDims, x: &[f32], weight: &[f32], bias: &[f32], keep: bool) -> (Vec<f32>, Option<Vec<f32>>) {
    match winograd_frames(&d) {
        Some(fr) => {
            d.validate();
            assert_eq!(x.len(), d.batch * d.cin * d.input.iter().product::<usize>(), "conv: input shape");
            assert_eq!(weight.len(), d.cout * d.cin * 9, "conv: weight shape");
            winograd::forward_keeping(fr, d.cin, d.cout, x, weight, bias, keep)
        }
        None => (forward_taps(d, x, weight, bias), None),
    }
}

/// The frames of a convolution that Winograd's F(4x4, 3x3) computes: 1x3x3 kernel, padding 1,
/// and at least 32 channels on each side (with fewer, the tile transforms cost more than the
/// products they save: `conv_bench` measured 128 -> 16 at 1.6x the per-tap time).
fn winograd_frames(d: &ConvDims) -> Option<winograd::Frames> {
    (d.kernel == [1, 3, 3] && d.pad == [1, 1] && d.cin >= 32 && d.cout >= 32).then(|| winograd::Frames { batch: d.batch, frames: d.input[0], height: d.input[1], width: d.input[2] })
}

/// Forward as one product per kernel tap.
///
/// One rayon task per (image, range of wide positions): it accumulates every tap's
/// `W_tap x padded[:, offset + range]` into its `co x range` block, which stays in cache, with
/// single-threaded GEMMs (no fork-join per tap).
pub fn forward_taps(d: ConvDims, x: &[f32], weight: &[f32], bias: &[f32]) -> Vec<f32> {
    d.validate();
    let [t, h, w] = d.input;
    assert_eq!(x.len(), d.batch * d.cin * t * h * w, "conv: input shape");
    assert_eq!(weight.len(), d.cout * d.cin * d.taps(), "conv: weight shape");
    let xp = pad_input(&d, x);
    let [tp, hp, wp] = d.padded();
    let [to, ho, wo] = d.output();
    let (taps, in_stride, wide_stride, n) = (d.taps(), tp * hp * wp, d.wide_stride(), d.wide_len());
    let direct = d.direct();
    // SAFETY: tap 0's products write positions 0..n of every image and channel without reading
    // them; the rest of each image's stride (n..wide_stride, empty for a direct convolution) is
    // zeroed here, and only the real output positions (< n) are read.
    let mut wide = unsafe { uninit(d.batch * d.cout * wide_stride) };
    wide.chunks_mut(wide_stride).for_each(|p| p[n..].fill(0.0));
    let chunk = chunk_len(d.cout, n, d.batch);
    let out_ptr = SharedMut::new(wide.as_mut_ptr());
    let wt = weight_per_tap(&d, weight, false);
    tasks(d.batch, n, chunk).into_par_iter().for_each(|(b, s)| {
        let len = chunk.min(n - s);
        for tap in 0..taps {
            // SAFETY: tap offset + s + len <= t * hp * wp (the last real output voxel reads the
            // last input voxel at the largest tap); weight rows are `ci * taps` apart; tasks write
            // disjoint column ranges of the output.
            unsafe {
                matmul(d.cout, len, d.cin, out_ptr.ptr().add(b * d.cout * wide_stride + s), wide_stride as isize, 1, tap > 0, wt[tap * d.cin * d.cout..].as_ptr(), 1, d.cout as isize, xp[b * d.cin * in_stride + d.offset(tap) + s..].as_ptr(), in_stride as isize, 1, 1.0, Parallelism::None);
            }
        }
    });
    let add_bias = |plane: &mut [f32], c: usize| plane.iter_mut().for_each(|v| *v += bias[c]);
    if direct {
        wide.par_chunks_mut(wide_stride).enumerate().for_each(|(i, plane)| add_bias(plane, i % d.cout));
        return wide;
    }
    // SAFETY: every output plane is copied in full below.
    let mut out = unsafe { uninit(d.batch * d.cout * to * ho * wo) };
    out.par_chunks_mut(to * ho * wo).zip(wide.par_chunks(wide_stride)).enumerate().for_each(|(i, (dst, src))| {
        regrid(dst, Grid::dense(ho, wo), src, Grid::dense(hp, wp), [to, ho, wo]);
        add_bias(dst, i % d.cout);
    });
    out
}

/// Gradients of the input, weight and bias from the output gradient `dout [batch, co, t', h', w']`
/// (Winograd for 1x3x3 kernels with padding 1, as in [`forward`]).
pub fn backward(d: ConvDims, x: &[f32], weight: &[f32], dout: &[f32], need_input: bool) -> (Option<Vec<f32>>, Vec<f32>, Vec<f32>) {
    backward_with(d, x, weight, dout, need_input, None)
}

/// [`backward`] with what [`forward_keeping`] kept, if anything.
pub fn backward_with(d: ConvDims, x: &[f32], weight: &[f32], dout: &[f32], need_input: bool, kept: Option<&[f32]>) -> (Option<Vec<f32>>, Vec<f32>, Vec<f32>) {
    match winograd_frames(&d) {
        Some(fr) => {
            d.validate();
            let positions: usize = d.input.iter().product();
            assert_eq!(dout.len(), d.batch * d.cout * positions, "conv backward: output gradient shape");
            let dbias = bias_gradient(dout, d.batch, d.cout, positions);
            let (dx, dw) = winograd::backward(fr, d.cin, d.cout, x, weight, dout, need_input, kept);
            (dx, dw, dbias)
        }
        None => backward_taps(d, x, weight, dout, need_input),
    }
}

/// Backward as products per kernel tap.
pub fn backward_taps(d: ConvDims, x: &[f32], weight: &[f32], dout: &[f32], need_input: bool) -> (Option<Vec<f32>>, Vec<f32>, Vec<f32>) {
    d.validate();
    let [t, h, w] = d.input;
    let [tp, hp, wp] = d.padded();
    let [to, ho, wo] = d.output();
    assert_eq!(dout.len(), d.batch * d.cout * to * ho * wo, "conv backward: output gradient shape");
    let (taps, in_stride, n) = (d.taps(), tp * hp * wp, d.wide_len());
    // The output gradient on the wide grid, zero in the padding columns, with a zero margin of
    // `front` positions before each image's grid and zeros up to `front + in_stride` after it, so
    // that the input gradient can gather `wide[q - offset]` for every padded position `q` and tap.
    let front = d.offset(taps - 1);
    // Rows whose byte stride is a multiple of 4 KiB all fall into the same L1 set (the temporal
    // convolution's frames of 32x32 do); 16 more floats spread them.
    let g_stride = match front + in_stride {
        s if s % 1024 == 0 => s + 16,
        s => s,
    };
    let mut wide = vec![0f32; d.batch * d.cout * g_stride];
    wide.par_chunks_mut(g_stride).zip(dout.par_chunks(to * ho * wo)).for_each(|(dst, src)| regrid(&mut dst[front..], Grid::dense(hp, wp), src, Grid::dense(ho, wo), [to, ho, wo]));
    let dbias = bias_gradient(dout, d.batch, d.cout, to * ho * wo);

    let xp = pad_input(&d, x);
    // dW_tap (co x ci) = sum over images and position ranges of wide (co x len) x
    // padded[:, off + range]^T: the reduction axis is long and the result small. Tasks are
    // (tap, group of ranges); each writes its tap's columns of its group's partial weight
    // gradient (already in the `[co, ci, taps]` layout), and the groups' partials are summed after.
    // The output gradient is transposed once to `[batch, n, co]`: a column-major left operand,
    // which `gemm` reads in place when `co` is a multiple of 16, instead of packing it again for
    // every tap. When the input's channel rows are a multiple of 4 KiB apart (a 32x32 frame's
    // temporal convolution), gemm's gather across them thrashes one L1 set, so with several taps
    // the padded input is transposed too, to `[batch, positions, ci]`: a row-major right operand
    // at every tap's offset (3.8 -> 2.5 ms for that convolution in `conv_bench`; for other
    // strides the transpose costs more than it saves).
    let wide_t = transpose(&wide[front..], d.batch, d.cout, n, g_stride);
    let xp_t = (taps > 1 && in_stride % 1024 == 0).then(|| transpose(&xp, d.batch, d.cin, in_stride, in_stride));
    // The right operand of tap `tap` at position `s` of image `b`, and its row and column strides.
    let rhs = |b: usize, tap: usize, s: usize| match &xp_t {
        Some(t) => (t[(b * in_stride + d.offset(tap) + s) * d.cin..].as_ptr(), d.cin as isize, 1),
        None => (xp[b * d.cin * in_stride + d.offset(tap) + s..].as_ptr(), 1, in_stride as isize),
    };
    let chunk = chunk_len(d.cout.max(d.cin), n, d.batch);
    let ranges = tasks(d.batch, n, chunk);
    let groups = (4 * rayon::current_num_threads()).div_ceil(taps).clamp(1, ranges.len());
    let per_group = ranges.len().div_ceil(groups);
    let groups = ranges.len().div_ceil(per_group);
    let wlen = weight.len();
    let mut partial = vec![0f32; groups * wlen];
    let part_ptr = SharedMut::new(partial.as_mut_ptr());
    (0..taps * groups).into_par_iter().for_each(|task| {
        let (tap, g) = (task % taps, task / taps);
        for (i, &(b, s)) in ranges[g * per_group..ranges.len().min((g + 1) * per_group)].iter().enumerate() {
            let len = chunk.min(n - s);
            let (r, r_rs, r_cs) = rhs(b, tap, s);
            // SAFETY: as in `forward`; task (tap, g) alone writes the elements `tap + taps * k` of
            // group g's partial.
            unsafe {
                matmul(d.cout, d.cin, len, part_ptr.ptr().add(g * wlen + tap), (d.cin * taps) as isize, taps as isize, i > 0, wide_t[(b * n + s) * d.cout..].as_ptr(), 1, d.cout as isize, r, r_rs, r_cs, 1.0, Parallelism::None);
            }
        }
    });
    let dweight = if groups == 1 {
        partial
    } else {
        let mut dw = partial[..wlen].to_vec();
        dw.par_chunks_mut(4096).enumerate().for_each(|(i, dst)| {
            for g in 1..groups {
                let src = &partial[g * wlen + i * 4096..][..dst.len()];
                dst.iter_mut().zip(src).for_each(|(a, b)| *a += b);
            }
        });
        dw
    };
    let dx = need_input.then(|| {
        // dpadded[:, q] = sum over taps of W_tap^T (ci x co) x wide[:, q - offset]: one task per
        // (image, range of padded positions), every tap accumulated into its own block.
        // SAFETY: tap 0's products write every padded position of every image and channel.
        let mut dxp = unsafe { uninit(d.batch * d.cin * in_stride) };
        let chunk = chunk_len(d.cin, in_stride, d.batch);
        let dst = SharedMut::new(dxp.as_mut_ptr());
        let wt = weight_per_tap(&d, weight, true);
        tasks(d.batch, in_stride, chunk).into_par_iter().for_each(|(b, s)| {
            let len = chunk.min(in_stride - s);
            for tap in 0..taps {
                // SAFETY: `front - offset + s + len <= g_stride`; tasks write disjoint ranges.
                unsafe {
                    matmul(d.cin, len, d.cout, dst.ptr().add(b * d.cin * in_stride + s), in_stride as isize, 1, tap > 0, wt[tap * d.cin * d.cout..].as_ptr(), 1, d.cin as isize, wide[b * d.cout * g_stride + front - d.offset(tap) + s..].as_ptr(), g_stride as isize, 1, 1.0, Parallelism::None);
                }
            }
        });
        if d.pad == [0, 0] {
            return dxp;
        }
        let [ph, pw] = d.pad;
        // SAFETY: every input plane is copied in full below.
        let mut dx = unsafe { uninit(d.batch * d.cin * t * h * w) };
        dx.par_chunks_mut(h * w).zip(dxp.par_chunks(hp * wp)).for_each(|(dst, src)| regrid(dst, Grid::dense(h, w), src, Grid::padded(hp, wp, ph, pw), [1, h, w]));
        dx
    });
    (dx, dweight, dbias)
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::kernels::test_values as lcg;

    /// Direct f64 convolution.
    fn reference(d: &ConvDims, x: &[f32], wt: &[f32], bias: &[f32]) -> Vec<f64> {
        let [t, h, w] = d.input;
        let [to, ho, wo] = d.output();
        let [kt, kh, kw] = d.kernel;
        let mut out = vec![0f64; d.batch * d.cout * to * ho * wo];
        for b in 0..d.batch {
            for co in 0..d.cout {
                for tt in 0..to {
                    for y in 0..ho {
                        for xx in 0..wo {
                            let mut s = bias[co] as f64;
                            for ci in 0..d.cin {
                                for a in 0..kt {
                                    for dy in 0..kh {
                                        for dx in 0..kw {
                                            let (iy, ix) = (y as isize + dy as isize - d.pad[0] as isize, xx as isize + dx as isize - d.pad[1] as isize);
                                            if iy < 0 || ix < 0 || iy >= h as isize || ix >= w as isize {
                                                continue;
                                            }
                                            let xi = (((b * d.cin + ci) * t + tt + a) * h + iy as usize) * w + ix as usize;
                                            let wi = (((co * d.cin + ci) * kt + a) * kh + dy) * kw + dx;
                                            s += x[xi] as f64 * wt[wi] as f64;
                                        }
                                    }
                                }
                            }
                            out[(((b * d.cout + co) * to + tt) * ho + y) * wo + xx] = s;
                        }
                    }
                }
            }
        }
        out
    }

    fn shapes() -> Vec<ConvDims> {
        vec![
            ConvDims { batch: 2, cin: 3, cout: 5, input: [2, 6, 7], kernel: [1, 3, 3], pad: [1, 1] },
            ConvDims { batch: 2, cin: 4, cout: 3, input: [5, 3, 4], kernel: [3, 1, 1], pad: [0, 0] },
            ConvDims { batch: 1, cin: 6, cout: 2, input: [3, 4, 5], kernel: [1, 1, 1], pad: [0, 0] },
            ConvDims { batch: 2, cin: 2, cout: 3, input: [4, 5, 6], kernel: [2, 3, 2], pad: [1, 0] },
            // Several position ranges per image: range tasks and weight-gradient groups.
            ConvDims { batch: 2, cin: 3, cout: 4, input: [3, 20, 24], kernel: [1, 3, 3], pad: [1, 1] },
            ConvDims { batch: 1, cin: 3, cout: 2, input: [3, 30, 40], kernel: [2, 1, 1], pad: [0, 0] },
        ]
    }

    #[test]
    fn forward_matches_direct_convolution() {
        for d in shapes() {
            let [t, h, w] = d.input;
            let x = lcg(1, d.batch * d.cin * t * h * w);
            let wt = lcg(2, d.cout * d.cin * d.taps());
            let bias = lcg(3, d.cout);
            let want = reference(&d, &x, &wt, &bias);
            let scale = want.iter().fold(0f64, |m, v| m.max(v.abs()));
            // The per-tap products, then the dispatching entry point (Winograd for 1x3x3 with
            // padding 1: a few 1e-6 of the output's scale, from its transforms' constants).
            for (got, tol) in [(forward_taps(d, &x, &wt, &bias), 1e-5), (forward(d, &x, &wt, &bias), if winograd_frames(&d).is_some() { 1e-5 * (1.0 + scale) } else { 1e-5 })] {
                assert_eq!(got.len(), want.len());
                let err = got.iter().zip(&want).map(|(a, b)| (*a as f64 - b).abs()).fold(0.0, f64::max);
                assert!(err < tol, "{d:?}: max error {err} (tolerance {tol})");
            }
        }
    }

    /// The gradients of `sum(out * g)`: input and weight by finite differences of the f64
    /// reference (which is linear in each, so differences are exact up to rounding), bias as sums.
    #[test]
    fn backward_matches_finite_differences() {
        for d in shapes() {
            let [t, h, w] = d.input;
            let x = lcg(4, d.batch * d.cin * t * h * w);
            let wt = lcg(5, d.cout * d.cin * d.taps());
            let bias = vec![0f32; d.cout];
            let [to, ho, wo] = d.output();
            let g = lcg(6, d.batch * d.cout * to * ho * wo);
            let obj = |x: &[f32], wt: &[f32]| -> f64 { reference(&d, x, wt, &bias).iter().zip(&g).map(|(o, g)| o * *g as f64).sum() };
            let base = obj(&x, &wt);
            let wino = winograd_frames(&d).is_some();
            for (which, (dx, dw, db)) in [("taps", backward_taps(d, &x, &wt, &g, true)), ("dispatch", backward(d, &x, &wt, &g, true))] {
                // Winograd's rounding is relative to the gradient's size.
                let tol = |num: f64| if which == "dispatch" && wino { 1e-4 + 1e-5 * num.abs() } else { 1e-4 };
                let dx = dx.unwrap();
                for i in (0..x.len()).step_by((x.len() / 300).max(7)) {
                    let mut xx = x.clone();
                    xx[i] += 1.0;
                    let num = obj(&xx, &wt) - base;
                    assert!((dx[i] as f64 - num).abs() < tol(num), "{which} {d:?} dx[{i}]: {} vs {num}", dx[i]);
                }
                for i in 0..wt.len() {
                    let mut ww = wt.clone();
                    ww[i] += 1.0;
                    let num = obj(&x, &ww) - base;
                    assert!((dw[i] as f64 - num).abs() < tol(num), "{which} {d:?} dw[{i}]: {} vs {num}", dw[i]);
                }
                for c in 0..d.cout {
                    let want: f64 = (0..d.batch).flat_map(|b| g[(b * d.cout + c) * to * ho * wo..][..to * ho * wo].iter().map(|v| *v as f64)).sum();
                    assert!((db[c] as f64 - want).abs() < 1e-4);
                }
                // Without the input gradient: the same weight gradient.
                let (none, dw2, _) = if which == "taps" { backward_taps(d, &x, &wt, &g, false) } else { backward(d, &x, &wt, &g, false) };
                assert!(none.is_none() && dw2 == dw);
            }
        }
    }

    /// Winograd against the per-tap products on frames whose sides are not multiples of the
    /// 4x4 tile, with enough channels for rounding to show: output and both gradients, through
    /// the Winograd functions directly (the dispatch sends fewer than 32 channels to the taps) and
    /// through the dispatching entry points.
    #[test]
    fn winograd_matches_per_tap_products() {
        for (batch, cin, cout, input) in [(2, 16, 8, [2, 9, 13]), (1, 32, 24, [3, 4, 4]), (1, 8, 16, [1, 17, 6]), (2, 64, 64, [2, 16, 16]), (1, 32, 48, [2, 7, 10])] {
            let d = ConvDims { batch, cin, cout, input, kernel: [1, 3, 3], pad: [1, 1] };
            let fr = winograd::Frames { batch, frames: input[0], height: input[1], width: input[2] };
            assert_eq!(winograd_frames(&d).is_some(), cin >= 32 && cout >= 32);
            let n: usize = input.iter().product();
            let x = lcg(7, batch * cin * n);
            let wt: Vec<f32> = lcg(8, cout * cin * 9).iter().map(|v| v / (cin as f32 * 9.0).sqrt()).collect();
            let bias = lcg(9, cout);
            let g = lcg(10, batch * cout * n);
            let close = |what: &str, a: &[f32], b: &[f32]| {
                let scale = b.iter().fold(0f32, |m, v| m.max(v.abs()));
                let err = a.iter().zip(b).map(|(a, b)| (a - b).abs()).fold(0f32, f32::max);
                assert!(err <= 1e-5 * scale.max(1e-3), "{d:?} {what}: differs by {err} (scale {scale})");
            };
            let want = forward_taps(d, &x, &wt, &bias);
            close("output", &winograd::forward(fr, cin, cout, &x, &wt, &bias), &want);
            close("output (dispatch)", &forward(d, &x, &wt, &bias), &want);
            let (tx, tw, tb) = backward_taps(d, &x, &wt, &g, true);
            let (dx, dw) = winograd::backward(fr, cin, cout, &x, &wt, &g, true, None);
            close("input gradient", &dx.unwrap(), tx.as_ref().unwrap());
            close("weight gradient", &dw, &tw);
            let (dx, dw, db) = backward(d, &x, &wt, &g, true);
            close("input gradient (dispatch)", dx.as_ref().unwrap(), tx.as_ref().unwrap());
            close("weight gradient (dispatch)", &dw, &tw);
            close("bias gradient (dispatch)", &db, &tb);
            assert!(winograd::backward(fr, cin, cout, &x, &wt, &g, false, None).0.is_none());
            // With the forward's kept tiles: the same gradients.
            let (out, kept) = forward_keeping(d, &x, &wt, &bias, true);
            close("output (keeping)", &out, &want);
            assert_eq!(kept.is_some(), winograd_frames(&d).is_some());
            let (kx, kw, _) = backward_with(d, &x, &wt, &g, true, kept.as_deref());
            assert_eq!((kx, kw), (dx, dw));
        }
        // And against the f64 direct convolution, on a shape the dispatch sends to Winograd.
        let d = ConvDims { batch: 1, cin: 32, cout: 32, input: [1, 6, 9], kernel: [1, 3, 3], pad: [1, 1] };
        let x = lcg(11, 32 * 54);
        let wt = lcg(12, 32 * 32 * 9);
        let bias = lcg(13, 32);
        let want = reference(&d, &x, &wt, &bias);
        let scale = want.iter().fold(0f64, |m, v| m.max(v.abs()));
        let err = forward(d, &x, &wt, &bias).iter().zip(&want).map(|(a, b)| (*a as f64 - b).abs()).fold(0.0, f64::max);
        assert!(err <= 1e-5 * scale, "Winograd against the f64 convolution: max error {err} (scale {scale})");
    }
}
