//! 1x3x3 convolutions with zero padding 1 (the tokenizer's spatial convolutions) by Winograd's
//! minimal filtering F(4x4, 3x3) (A. Lavin and S. Gray, "Fast Algorithms for Convolutional Neural
//! Networks", CVPR 2016; the transform matrices below are theirs, interpolation points
//! 0, +-1, +-2, infinity): every 4x4 output tile of a frame is `A^T [(G g G^T) . (B^T d B)] A`
//! for its 6x6 input tile `d`, so the multiply-adds over channels become 36 independent matrix
//! products with 4x fewer operations than the direct convolution's 9 per output.
//!
//! Forward: the input tiles are transformed (`V = B^T d B`, layout `[36][ci][tiles]`), the 36
//! products `M_e = U_e V_e` (`U = G g G^T`, `co x ci`) run on `gemm`, one rayon task per
//! (element, range of tiles), and the output transform writes the 4x4 tiles (cropped at the frame's
//! edges) plus the bias. The input gradient is the same algorithm on the output gradient with the
//! kernel flipped and its channel axes swapped. The weight gradient follows from
//! `Y = A^T (U . V) A`: `dU_e = (A dY A^T)_e V_e^T` summed over tiles (36 more products), then
//! `dg = G^T dU G`.
//!
//! In f32 the result differs from the direct convolution by a few 1e-6 relative to the output's
//! scale (the transforms' constants up to 8 and 1/24); the tests bound it.

use gemm::Parallelism;
use rayon::prelude::*;

use super::{matmul, uninit, SharedMut};

/// Tile outputs per side and input tile side.
const M: usize = 4;
const A: usize = 6;
/// Transformed elements per tile.
const E: usize = A * A;

/// Frames of `height x width`, `batch x frames` of them per channel, in burn's NCDHW layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Frames {
    pub batch: usize,
    pub frames: usize,
    pub height: usize,
    pub width: usize,
}

impl Frames {
    fn plane(&self) -> usize {
        self.height * self.width
    }
    fn tiles_h(&self) -> usize {
        self.height.div_ceil(M)
    }
    fn tiles_w(&self) -> usize {
        self.width.div_ceil(M)
    }
    /// Tiles per frame.
    fn tiles(&self) -> usize {
        self.tiles_h() * self.tiles_w()
    }
    /// Tiles over all frames (the matrix products' long axis).
    fn total_tiles(&self) -> usize {
        self.batch * self.frames * self.tiles()
    }
    /// Offset of frame `f = b * frames + t` of channel `c` in a `[batch, channels, frames, h, w]` tensor.
    fn offset(&self, channels: usize, f: usize, c: usize) -> usize {
        let (b, t) = (f / self.frames, f % self.frames);
        ((b * channels + c) * self.frames + t) * self.plane()
    }
}

// G's constants as products (a division per value is slow).
const Q: f32 = 0.25;
const S: f32 = 1.0 / 6.0;
const T: f32 = 1.0 / 12.0;
const W: f32 = 1.0 / 24.0;

// --- 1-D transforms, element-wise over equally long slices (so the loops vectorise) ----------

/// `B^T d` on six inputs.
#[inline(always)]
fn bt(d: [f32; 6]) -> [f32; 6] {
    let [d0, d1, d2, d3, d4, d5] = d;
    [4.0 * d0 - 5.0 * d2 + d4, -4.0 * (d1 + d2) + d3 + d4, 4.0 * (d1 - d2) - d3 + d4, 2.0 * (d3 - d1) - d2 + d4, 2.0 * (d1 - d3) - d2 + d4, 4.0 * d1 - 5.0 * d3 + d5]
}

/// `A^T m` on six inputs.
#[inline(always)]
fn at(m: [f32; 6]) -> [f32; 4] {
    let [m0, m1, m2, m3, m4, m5] = m;
    let (s12, d12, s34, d34) = (m1 + m2, m1 - m2, m3 + m4, m3 - m4);
    [m0 + s12 + s34, d12 + 2.0 * d34, s12 + 4.0 * s34, d12 + 8.0 * d34 + m5]
}

/// `A y` on four inputs (the output-gradient transform of the weight gradient).
#[inline(always)]
fn a(y: [f32; 4]) -> [f32; 6] {
    let [y0, y1, y2, y3] = y;
    let (s02, s13) = (y0 + y2, y1 + y3);
    let (t02, t13) = (y0 + 4.0 * y2, 2.0 * y1 + 8.0 * y3);
    [y0, s02 + s13, s02 - s13, t02 + t13, t02 - t13, y3]
}

/// `G g` on three inputs.
#[inline(always)]
fn g(w: [f32; 3]) -> [f32; 6] {
    let [g0, g1, g2] = w;
    [Q * g0, -S * (g0 + g1 + g2), -S * (g0 - g1 + g2), W * g0 + T * g1 + S * g2, W * g0 - T * g1 + S * g2, g2]
}

/// `G^T u` on six inputs.
#[inline(always)]
fn gt(u: [f32; 6]) -> [f32; 3] {
    let [u0, u1, u2, u3, u4, u5] = u;
    [Q * u0 - S * (u1 + u2) + W * (u3 + u4), S * (u2 - u1) + T * (u3 - u4), S * (u3 + u4 - u1 - u2) + u5]
}

/// Applies a 1-D transform `f` lane by lane: `out[k][i] = f(inp[..][i])[k]`, in blocks of 8 and
/// then 4 lanes over fixed-size arrays (no bounds checks inside, so LLVM vectorises the blocks).
#[inline(always)]
fn lanes<const I: usize, const O: usize>(inp: [&[f32]; I], out: &mut [&mut [f32]; O], f: impl Fn([f32; I]) -> [f32; O] + Copy) {
    let n = inp.iter().map(|s| s.len()).chain(out.iter().map(|s| s.len())).min().unwrap_or(0);
    let mut base = 0;
    while base + 8 <= n {
        block::<I, O, 8>(&inp, out, base, f);
        base += 8;
    }
    if base + 4 <= n {
        block::<I, O, 4>(&inp, out, base, f);
        base += 4;
    }
    for i in base..n {
        let r = f(std::array::from_fn(|k| inp[k][i]));
        for k in 0..O {
            out[k][i] = r[k];
        }
    }
}

#[inline(always)]
fn block<const I: usize, const O: usize, const L: usize>(inp: &[&[f32]; I], out: &mut [&mut [f32]; O], base: usize, f: impl Fn([f32; I]) -> [f32; O]) {
    let ins: [&[f32; L]; I] = std::array::from_fn(|k| inp[k][base..base + L].try_into().unwrap());
    let mut res = [[0f32; L]; O];
    for l in 0..L {
        let r = f(std::array::from_fn(|k| ins[k][l]));
        for k in 0..O {
            res[k][l] = r[k];
        }
    }
    for k in 0..O {
        out[k][base..base + L].copy_from_slice(&res[k]);
    }
}

/// Splits `buf` into `N` consecutive mutable slices of `len`.
fn split<const N: usize>(buf: &mut [f32], len: usize) -> [&mut [f32]; N] {
    let mut rest = &mut buf[..N * len];
    std::array::from_fn(|_| {
        let (head, tail) = std::mem::take(&mut rest).split_at_mut(len);
        rest = tail;
        head
    })
}

// --- weight transforms --------------------------------------------------------------------------

/// `U = G g G^T` of every `(co, ci)` kernel of `weight [co, ci, 1, 3, 3]`, as 36 column-major
/// `rows x cols` matrices: `(co, ci)` for the forward, or `(ci, co)` of the flipped kernel for the
/// input gradient (`flip`).
pub(crate) fn transform_weights(weight: &[f32], co: usize, ci: usize, flip: bool) -> Vec<f32> {
    let (rows, cols) = if flip { (ci, co) } else { (co, ci) };
    let mut u = vec![0f32; E * co * ci];
    let up = SharedMut::new(u.as_mut_ptr());
    // Matrix element (r, c) of U_e lives at `e * rows * cols + c * rows + r`: one task per column
    // `c` fills a local `[36][rows]` block, then copies one contiguous run into each matrix (the
    // 36 matrices are often a multiple of 4 KiB apart, so writing them element by element would
    // keep evicting each other from L1).
    (0..cols).into_par_iter().for_each_init(
        || vec![0f32; E * rows],
        |block, c| {
            for r in 0..rows {
                let (o, i) = if flip { (c, r) } else { (r, c) };
                let k = &weight[(o * ci + i) * 9..][..9];
                let at = |y: usize, x: usize| if flip { k[(2 - y) * 3 + 2 - x] } else { k[y * 3 + x] };
                // G g: 6 x 3, then (G g) G^T: 6 x 6.
                let cols3: [[f32; 6]; 3] = std::array::from_fn(|x| g([at(0, x), at(1, x), at(2, x)]));
                for y in 0..A {
                    let row = g([cols3[0][y], cols3[1][y], cols3[2][y]]);
                    for (x, v) in row.into_iter().enumerate() {
                        block[(y * A + x) * rows + r] = v;
                    }
                }
            }
            for e in 0..E {
                // SAFETY: task c alone writes column c of every matrix.
                let dst = unsafe { std::slice::from_raw_parts_mut(up.ptr().add(e * rows * cols + c * rows), rows) };
                dst.copy_from_slice(&block[e * rows..(e + 1) * rows]);
            }
        },
    );
    u
}

/// `G^T dU G` for every `(co, ci)`: `du` holds 36 row-major `co x ci` matrices; returns the
/// weight gradient `[co, ci, 1, 3, 3]`.
fn untransform_weights(du: &[f32], co: usize, ci: usize) -> Vec<f32> {
    let mut dw = vec![0f32; co * ci * 9];
    // One task per output channel: its 36 rows of `ci` values are gathered first (contiguous
    // reads, rather than 36 streams a multiple of 4 KiB apart per kernel).
    dw.par_chunks_mut(ci * 9).enumerate().for_each_init(
        || vec![0f32; E * ci],
        |block, (o, dst)| {
            for e in 0..E {
                block[e * ci..(e + 1) * ci].copy_from_slice(&du[(e * co + o) * ci..][..ci]);
            }
            for i in 0..ci {
                let el = |y: usize, x: usize| block[(y * A + x) * ci + i];
                // G^T dU: 3 x 6, then (G^T dU) G: 3 x 3.
                let cols: [[f32; 3]; 6] = std::array::from_fn(|x| gt(std::array::from_fn(|y| el(y, x))));
                for y in 0..3 {
                    let row = gt(std::array::from_fn(|x| cols[x][y]));
                    dst[i * 9 + y * 3..i * 9 + y * 3 + 3].copy_from_slice(&row);
                }
            }
        },
    );
    dw
}

// --- tile transforms, one frame of one channel at a time ------------------------------------------

/// Scratch for one frame: a zero-padded input row, its phases, and the rows' horizontal
/// transforms (`[row][6][tiles_w]`).
struct Band {
    row: Vec<f32>,
    phase: Vec<f32>,
    horizontal: Vec<f32>,
    out: Vec<f32>,
}

impl Band {
    fn new(fr: &Frames) -> Self {
        let tw = fr.tiles_w();
        let rows = M * fr.tiles_h() + 2;
        Self { row: vec![0.0; M * tw + 2], phase: vec![0.0; A * tw], horizontal: vec![0.0; rows * A * tw], out: vec![0.0; A * M * tw] }
    }
}

/// `row[4 j + k]` for `k < K` and every tile `j` into `phase[k * tw + j]`.
#[inline(always)]
fn phases<const K: usize>(row: &[f32], phase: &mut [f32], tw: usize) {
    for (j, quad) in row.chunks_exact(M).take(tw).enumerate() {
        for k in 0..M.min(K) {
            phase[k * tw + j] = quad[k];
        }
    }
    for k in M..K {
        for j in 0..tw {
            phase[k * tw + j] = row[M * j + k];
        }
    }
}

/// The 36 transformed values of every tile of one frame `plane (h x w)`, for tiles that read `K`
/// rows and columns starting `(K - 4) / 2` before the tile's first output (the input transform:
/// 6 from -1; the output-gradient transform: 4 from 0), by the 1-D transform `f` applied to the
/// columns, then the rows; element `e` of tile `t` goes to `dst[e * e_stride + t]`. Each frame
/// row is transformed horizontally once (over the tiles of the row), then each band of `K` rows
/// vertically.
#[inline(always)]
fn tiles<const K: usize>(fr: &Frames, plane: &[f32], band: &mut Band, dst: SharedMut, e_stride: usize, f: impl Fn([f32; K]) -> [f32; 6] + Copy) {
    let (h, w, tw) = (fr.height, fr.width, fr.tiles_w());
    let before = (K - M) / 2;
    let rows = M * fr.tiles_h() + K - M;
    let stride = A * tw;
    for ry in 0..rows {
        let hz = &mut band.horizontal[ry * stride..(ry + 1) * stride];
        let y = ry as isize - before as isize;
        if y < 0 || y as usize >= h {
            hz.fill(0.0);
            continue;
        }
        band.row[before..before + w].copy_from_slice(&plane[y as usize * w..][..w]);
        phases::<K>(&band.row, &mut band.phase, tw);
        let ph: [&[f32]; K] = std::array::from_fn(|k| &band.phase[k * tw..(k + 1) * tw]);
        let mut out = split::<6>(hz, tw);
        lanes(ph, &mut out, f);
    }
    for ti in 0..fr.tiles_h() {
        for c in 0..A {
            let col: [&[f32]; K] = std::array::from_fn(|r| &band.horizontal[(M * ti + r) * stride + c * tw..][..tw]);
            // SAFETY: this task alone writes its frame's tiles of its channel, element by element.
            let mut out: [&mut [f32]; 6] = std::array::from_fn(|r| unsafe { std::slice::from_raw_parts_mut(dst.ptr().add((r * A + c) * e_stride + ti * tw), tw) });
            lanes(col, &mut out, f);
        }
    }
}

super::simd::multiversion! {
    /// `B^T d B` of every 6x6 input tile of one frame (`tiles`).
    fn input_tiles(fr: &Frames, plane: &[f32], band: &mut Band, dst: SharedMut, e_stride: usize) {
        tiles::<6>(fr, plane, band, dst, e_stride, bt)
    }
}

super::simd::multiversion! {
    /// `A^T m A` of every tile of one frame of one output channel, cropped to the frame, plus `bias`.
    fn output_tiles(fr: &Frames, src: &[f32], e_stride: usize, bias: f32, band: &mut Band, plane: &mut [f32]) {
        let (h, w, tw) = (fr.height, fr.width, fr.tiles_w());
        for ti in 0..fr.tiles_h() {
            // Vertical: A^T over the six rows of each tile column -> s[p][c], tw lanes each.
            for c in 0..A {
                let m: [&[f32]; 6] = std::array::from_fn(|r| &src[(r * A + c) * e_stride + ti * tw..][..tw]);
                let mut out = split::<4>(&mut band.horizontal[c * M * tw..(c + 1) * M * tw], tw);
                lanes(m, &mut out, at);
            }
            // Horizontal: A^T over c for each output row p -> o[p][q].
            for p in 0..M {
                let row: [&[f32]; 6] = std::array::from_fn(|c| &band.horizontal[(c * M + p) * tw..][..tw]);
                let mut out = split::<4>(&mut band.out[p * M * tw..(p + 1) * M * tw], tw);
                lanes(row, &mut out, at);
            }
            for p in 0..M.min(h - M * ti) {
                let y = M * ti + p;
                let o = &band.out[p * M * tw..(p + 1) * M * tw];
                let row = &mut plane[y * w..(y + 1) * w];
                for (j, quad) in row.chunks_mut(M).enumerate() {
                    for (q, v) in quad.iter_mut().enumerate() {
                        *v = o[q * tw + j] + bias;
                    }
                }
            }
        }
    }
}

super::simd::multiversion! {
    /// `A dY A^T` of every 4x4 tile of one frame of one output channel's gradient (`tiles`).
    fn gradient_tiles(fr: &Frames, plane: &[f32], band: &mut Band, dst: SharedMut, e_stride: usize) {
        tiles::<4>(fr, plane, band, dst, e_stride, a)
    }
}

/// Distance between the 36 element matrices of a transformed-tile buffer of `channels x tiles`:
/// one cache line more than the matrix, so the 36 streams that a tile's transform writes (or
/// reads) do not all fall into the same L1 set, as they would at a multiple of 4 KiB.
fn e_stride(channels: usize, total: usize) -> usize {
    (channels * total).next_multiple_of(16) + 16
}

/// A buffer of 36 `channels x total` element matrices, [`e_stride`] apart, with the padding after
/// each matrix zeroed.
///
/// # Safety
/// The caller must write every element of every matrix before any is read.
unsafe fn element_matrices(channels: usize, total: usize) -> Vec<f32> {
    let es = e_stride(channels, total);
    // SAFETY: forwarded to the caller for the matrices; the padding is written here.
    let mut v = unsafe { uninit(E * es) };
    v.chunks_mut(es).for_each(|m| m[channels * total..].fill(0.0));
    v
}

/// Transformed tiles `[36][channels][tiles]` (element matrices [`e_stride`] apart) of
/// `x [batch, channels, frames, h, w]`, by `tile` (`input_tiles` or `gradient_tiles`).
fn transform_all(fr: &Frames, x: &[f32], channels: usize, tile: fn(&Frames, &[f32], &mut Band, SharedMut, usize)) -> Vec<f32> {
    let total = fr.total_tiles();
    let es = e_stride(channels, total);
    // SAFETY: every (element, channel, tile) is written below.
    let mut v = unsafe { element_matrices(channels, total) };
    let dst = SharedMut::new(v.as_mut_ptr());
    let nf = fr.batch * fr.frames;
    (0..channels * nf).into_par_iter().for_each_init(
        || Band::new(fr),
        |band, i| {
            let (c, f) = (i / nf, i % nf);
            // SAFETY: offset within `v`; element `e` of this (channel, frame) lands at
            // `e * es + c * total + f * tiles + t`.
            let base = unsafe { SharedMut::new(dst.ptr().add(c * total + f * fr.tiles())) };
            tile(fr, &x[fr.offset(channels, f, c)..][..fr.plane()], band, base, es);
        },
    );
    v
}

/// Tiles per matrix-product task.
const TILE_CHUNK: usize = 1024;

/// The convolution of `x [batch, cin, frames, h, w]` by the transformed kernels `u` (36
/// column-major `cout x cin` matrices), plus `bias` -> `[batch, cout, frames, h, w]`; also returns
/// the transformed input tiles when `keep` (the weight gradient needs them).
fn convolve(fr: &Frames, x: &[f32], cin: usize, cout: usize, u: &[f32], bias: Option<&[f32]>, keep: bool) -> (Vec<f32>, Option<Vec<f32>>) {
    let total = fr.total_tiles();
    let v = transform_all(fr, x, cin, input_tiles);
    let (vs, ms) = (e_stride(cin, total), e_stride(cout, total));
    // SAFETY: the products write every column of every element matrix (without reading it).
    let mut m = unsafe { element_matrices(cout, total) };
    let mp = SharedMut::new(m.as_mut_ptr());
    let tasks: Vec<(usize, usize)> = (0..E).flat_map(|e| (0..total).step_by(TILE_CHUNK).map(move |s| (e, s))).collect();
    tasks.into_par_iter().for_each(|(e, s)| {
        let len = TILE_CHUNK.min(total - s);
        // SAFETY: task (e, s) alone writes columns s..s + len of M_e; the operands are in bounds.
        unsafe {
            matmul(cout, len, cin, mp.ptr().add(e * ms + s), total as isize, 1, false, u[e * cin * cout..].as_ptr(), 1, cout as isize, v[e * vs + s..].as_ptr(), total as isize, 1, 1.0, Parallelism::None);
        }
    });
    let v = keep.then_some(v);
    // SAFETY: the output transform writes every pixel of every frame and channel.
    let mut out = unsafe { uninit(fr.batch * cout * fr.frames * fr.plane()) };
    let nf = fr.batch * fr.frames;
    let op = SharedMut::new(out.as_mut_ptr());
    (0..cout * nf).into_par_iter().for_each_init(
        || Band::new(fr),
        |band, i| {
            let (c, f) = (i / nf, i % nf);
            // SAFETY: this task alone writes frame f of output channel c.
            let plane = unsafe { std::slice::from_raw_parts_mut(op.ptr().add(fr.offset(cout, f, c)), fr.plane()) };
            output_tiles(fr, &m[c * total + f * fr.tiles()..], ms, bias.map_or(0.0, |b| b[c]), band, plane);
        },
    );
    (out, v)
}

/// Forward: `x [batch, ci, frames, h, w]`, `weight [co, ci, 1, 3, 3]`, `bias [co]`, zero padding 1.
pub fn forward(fr: Frames, cin: usize, cout: usize, x: &[f32], weight: &[f32], bias: &[f32]) -> Vec<f32> {
    forward_keeping(fr, cin, cout, x, weight, bias, false).0
}

/// [`forward`], also returning the transformed input tiles when `keep`, for [`backward`] (2.25x
/// the input's size; saves transforming the input again).
pub fn forward_keeping(fr: Frames, cin: usize, cout: usize, x: &[f32], weight: &[f32], bias: &[f32], keep: bool) -> (Vec<f32>, Option<Vec<f32>>) {
    convolve(&fr, x, cin, cout, &transform_weights(weight, cout, cin, false), Some(bias), keep)
}

/// Input gradient (when `need_input`) and weight gradient from the output gradient `dout`;
/// `tiles`: the input's transformed tiles kept by [`forward_keeping`], if any.
#[allow(clippy::too_many_arguments)] // the shape, the three tensors, and the two options
pub fn backward(fr: Frames, cin: usize, cout: usize, x: &[f32], weight: &[f32], dout: &[f32], need_input: bool, tiles: Option<&[f32]>) -> (Option<Vec<f32>>, Vec<f32>) {
    let total = fr.total_tiles();
    // dU_e (co x ci) = Z_e (co x tiles) V_e^T (tiles x ci), Z = A dY A^T.
    let z = transform_all(&fr, dout, cout, gradient_tiles);
    let v: std::borrow::Cow<[f32]> = match tiles {
        Some(t) => {
            assert_eq!(t.len(), E * e_stride(cin, total), "winograd backward: kept tiles of another shape");
            std::borrow::Cow::Borrowed(t)
        }
        None => std::borrow::Cow::Owned(transform_all(&fr, x, cin, input_tiles)),
    };
    let mut du = vec![0f32; E * cout * cin];
    du.par_chunks_mut(cout * cin).enumerate().for_each(|(e, dst)| {
        // SAFETY: operands in bounds; each task writes its own element's matrix.
        unsafe {
            matmul(cout, cin, total, dst.as_mut_ptr(), cin as isize, 1, false, z[e * e_stride(cout, total)..].as_ptr(), total as isize, 1, v[e * e_stride(cin, total)..].as_ptr(), 1, total as isize, 1.0, Parallelism::None);
        }
    });
    drop((z, v));
    let dw = untransform_weights(&du, cout, cin);
    let dx = need_input.then(|| convolve(&fr, dout, cout, cin, &transform_weights(weight, cout, cin, true), None, false).0);
    (dx, dw)
}
