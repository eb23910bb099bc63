//! Mean SSIM of the luma of two videos `[batch, channels, t, h, w]` with a uniform 7x7 window and
//! no padding (the tokenizer's structural loss term, `tokenizer::loss`), forward and backward in
//! one pass per frame.
//!
//! burn composes it from a channel mean, five separable average pools (`x`, `y`, `x^2`, `y^2`,
//! `xy`) and a dozen element-wise operations, each a full pass over memory with its own autodiff
//! node. Here each rayon task owns one frame: it forms the two luma planes, the five 7x7 window
//! means by running sums (7 + 7 additions per value), and the SSIM map, all in cache.
//!
//! SSIM at window `p`, with the window means `mx, my, exx, eyy, exy` and `c1 = (0.01 R)^2`,
//! `c2 = (0.03 R)^2` for the data range `R = 2`:
//! `S = (2 mx my + c1)(2 (exy - mx my) + c2) / ((mx^2 + my^2 + c1)(exx - mx^2 + eyy - my^2 + c2))`.
//! The backward takes `dS/dmx`, `dS/dexx`, `dS/dexy` (and the same for `y`) at every window and
//! spreads them back over the 49 pixels of the window (the transposed box filter): a luma pixel
//! `i` gets `sum over windows p containing i of (dS/dmx_p + 2 x_i dS/dexx_p + y_i dS/dexy_p) / 49`.

use rayon::prelude::*;

/// Window side.
pub const WINDOW: usize = 7;
/// Stability constants for pixels in [-1, 1] (data range 2).
pub const C1: f32 = 0.0004;
pub const C2: f32 = 0.0036;

/// Shape `[batch, channels, t, h, w]` of both inputs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SsimDims {
    pub batch: usize,
    pub channels: usize,
    pub frames: usize,
    pub height: usize,
    pub width: usize,
}

impl SsimDims {
    fn validate(&self) {
        assert!(self.batch > 0 && self.channels > 0 && self.frames > 0, "ssim: empty shape {self:?}");
        assert!(self.height >= WINDOW && self.width >= WINDOW, "ssim: frames of {}x{} are smaller than the {WINDOW}x{WINDOW} window", self.height, self.width);
    }
    fn plane(&self) -> usize {
        self.height * self.width
    }
    fn len(&self) -> usize {
        self.batch * self.channels * self.frames * self.plane()
    }
    /// Number of windows over all frames (the mean's denominator).
    fn windows(&self) -> usize {
        self.batch * self.frames * (self.height + 1 - WINDOW) * (self.width + 1 - WINDOW)
    }
    /// Element offset of channel `c` of frame `f = b * frames + t`.
    fn offset(&self, f: usize, c: usize) -> usize {
        let (b, t) = (f / self.frames, f % self.frames);
        ((b * self.channels + c) * self.frames + t) * self.plane()
    }
}

/// The luma (channel mean) of frame `f` of `x` into `out`.
fn luma(d: &SsimDims, x: &[f32], f: usize, out: &mut [f32]) {
    out.copy_from_slice(&x[d.offset(f, 0)..][..d.plane()]);
    for c in 1..d.channels {
        out.iter_mut().zip(&x[d.offset(f, c)..][..d.plane()]).for_each(|(o, v)| *o += v);
    }
    let s = 1.0 / d.channels as f32;
    out.iter_mut().for_each(|o| *o *= s);
}

/// 7x7 window means (valid windows only) of `a` (`h x w`) into `out` (`oh x ow`), through the
/// vertical sums in `tmp` (`oh x w`).
fn box_mean(a: &[f32], h: usize, w: usize, tmp: &mut [f32], out: &mut [f32]) {
    let (oh, ow) = (h + 1 - WINDOW, w + 1 - WINDOW);
    let tmp = &mut tmp[..oh * w];
    // Vertical running sum over rows, vectorised along the row.
    tmp[..w].copy_from_slice(&a[..w]);
    for r in 1..WINDOW {
        tmp[..w].iter_mut().zip(&a[r * w..(r + 1) * w]).for_each(|(t, v)| *t += v);
    }
    for y in 1..oh {
        let (prev, cur) = tmp.split_at_mut(y * w);
        let prev = &prev[(y - 1) * w..];
        let (add, sub) = (&a[(y + WINDOW - 1) * w..(y + WINDOW) * w], &a[(y - 1) * w..y * w]);
        for (((t, p), a), s) in cur[..w].iter_mut().zip(prev).zip(add).zip(sub) {
            *t = p + a - s;
        }
    }
    // Horizontal: seven shifted slices added, scaled to a mean.
    let scale = 1.0 / (WINDOW * WINDOW) as f32;
    for y in 0..oh {
        let row = &tmp[y * w..(y + 1) * w];
        let o = &mut out[y * ow..(y + 1) * ow];
        o.copy_from_slice(&row[..ow]);
        for k in 1..WINDOW {
            o.iter_mut().zip(&row[k..k + ow]).for_each(|(o, v)| *o += v);
        }
        o.iter_mut().for_each(|o| *o *= scale);
    }
}

/// Transposed window sum: `out (h x w)[i] = sum over the valid windows p containing i of a[p]`
/// for `a` of `oh x ow`, through `tmp` (`oh x w`).
fn box_spread(a: &[f32], h: usize, w: usize, tmp: &mut [f32], out: &mut [f32]) {
    let (oh, ow) = (h + 1 - WINDOW, w + 1 - WINDOW);
    let tmp = &mut tmp[..oh * w];
    tmp.fill(0.0);
    for y in 0..oh {
        let src = &a[y * ow..(y + 1) * ow];
        let row = &mut tmp[y * w..(y + 1) * w];
        for k in 0..WINDOW {
            row[k..k + ow].iter_mut().zip(src).for_each(|(t, v)| *t += v);
        }
    }
    out.fill(0.0);
    for y in 0..oh {
        let src = &tmp[y * w..(y + 1) * w];
        for k in 0..WINDOW {
            out[(y + k) * w..(y + k + 1) * w].iter_mut().zip(src).for_each(|(o, v)| *o += v);
        }
    }
}

/// Per-frame scratch: luma planes, products, window means and the transposed-filter buffers.
struct Scratch {
    lx: Vec<f32>,
    ly: Vec<f32>,
    prod: Vec<f32>,
    tmp: Vec<f32>,
    /// Window means `mx, my, exx, eyy, exy`, `oh x ow` each.
    means: [Vec<f32>; 5],
}

impl Scratch {
    fn new(d: &SsimDims) -> Self {
        let win = (d.height + 1 - WINDOW) * (d.width + 1 - WINDOW);
        Self { lx: vec![0.0; d.plane()], ly: vec![0.0; d.plane()], prod: vec![0.0; d.plane()], tmp: vec![0.0; d.plane()], means: std::array::from_fn(|_| vec![0.0; win]) }
    }

    /// Luma planes and the five window means of frame `f`.
    fn frame(&mut self, d: &SsimDims, x: &[f32], y: &[f32], f: usize) {
        let (h, w) = (d.height, d.width);
        luma(d, x, f, &mut self.lx);
        luma(d, y, f, &mut self.ly);
        let [mx, my, exx, eyy, exy] = &mut self.means;
        box_mean(&self.lx, h, w, &mut self.tmp, mx);
        box_mean(&self.ly, h, w, &mut self.tmp, my);
        for (dst, (a, b)) in [(exx, (&self.lx, &self.lx)), (eyy, (&self.ly, &self.ly)), (exy, (&self.lx, &self.ly))] {
            self.prod.iter_mut().zip(a.iter().zip(b.iter())).for_each(|(p, (a, b))| *p = a * b);
            box_mean(&self.prod, h, w, &mut self.tmp, dst);
        }
    }
}

/// SSIM's four factors `(n1, n2, d1, d2)` at one window, `S = n1 n2 / (d1 d2)`.
#[inline(always)]
fn factors(mx: f32, my: f32, exx: f32, eyy: f32, exy: f32) -> (f32, f32, f32, f32) {
    (2.0 * mx * my + C1, 2.0 * (exy - mx * my) + C2, mx * mx + my * my + C1, exx - mx * mx + eyy - my * my + C2)
}

#[inline(always)]
fn ssim_at(mx: f32, my: f32, exx: f32, eyy: f32, exy: f32) -> f32 {
    let (n1, n2, d1, d2) = factors(mx, my, exx, eyy, exy);
    n1 * n2 / (d1 * d2)
}

/// Mean SSIM over all frames and windows.
pub fn forward(d: SsimDims, x: &[f32], y: &[f32]) -> f32 {
    d.validate();
    assert!(x.len() == d.len() && y.len() == d.len(), "ssim: input shapes");
    let sum: f64 = (0..d.batch * d.frames)
        .into_par_iter()
        .map_init(
            || Scratch::new(&d),
            |s, f| {
                s.frame(&d, x, y, f);
                let [mx, my, exx, eyy, exy] = &s.means;
                let mut acc = 0f64;
                for row in 0..mx.len().div_ceil(256) {
                    let r = row * 256..mx.len().min((row + 1) * 256);
                    acc += r.map(|i| ssim_at(mx[i], my[i], exx[i], eyy[i], exy[i])).sum::<f32>() as f64;
                }
                acc
            },
        )
        .sum();
    (sum / d.windows() as f64) as f32
}

/// Gradients `(dx, dy)` of `grad * mean SSIM` (each only when asked for).
pub fn backward(d: SsimDims, x: &[f32], y: &[f32], grad: f32, need_x: bool, need_y: bool) -> (Option<Vec<f32>>, Option<Vec<f32>>) {
    d.validate();
    assert!(x.len() == d.len() && y.len() == d.len(), "ssim backward: input shapes");
    let mut dx = need_x.then(|| vec![0f32; d.len()]);
    let mut dy = need_y.then(|| vec![0f32; d.len()]);
    let (px, py) = (dx.as_mut().map(|v| super::SharedMut::new(v.as_mut_ptr())), dy.as_mut().map(|v| super::SharedMut::new(v.as_mut_ptr())));
    // d mean / d S at each window, over 49 for the mean of each window, and over the channel count
    // for the luma.
    let scale = grad / d.windows() as f32 / (WINDOW * WINDOW) as f32 / d.channels as f32;
    let (h, w) = (d.height, d.width);
    (0..d.batch * d.frames).into_par_iter().for_each_init(
        || (Scratch::new(&d), [(); 4].map(|_| vec![0f32; (h + 1 - WINDOW) * (w + 1 - WINDOW)]), [(); 4].map(|_| vec![0f32; h * w])),
        |(s, partial, spread), f| {
            s.frame(&d, x, y, f);
            let [mx, my, exx, eyy, exy] = &s.means;
            // Per window (scaled): dS/dmx, dS/dmy, dS/dexx (= dS/deyy), dS/dexy.
            let [gmx, gmy, gsq, gxy] = partial;
            for i in 0..mx.len() {
                let (a, b) = (mx[i], my[i]);
                let (n1, n2, d1, d2) = factors(a, b, exx[i], eyy[i], exy[i]);
                let inv = 1.0 / (d1 * d2);
                let sv = n1 * n2 * inv;
                let (dn1, dn2, dd1, dd2) = (n2 * inv, n1 * inv, -sv / d1, -sv / d2);
                gmx[i] = scale * (2.0 * b * (dn1 - dn2) + 2.0 * a * (dd1 - dd2));
                gmy[i] = scale * (2.0 * a * (dn1 - dn2) + 2.0 * b * (dd1 - dd2));
                gsq[i] = scale * dd2;
                gxy[i] = scale * 2.0 * dn2;
            }
            let [smx, smy, ssq, sxy] = spread;
            for (src, dst) in [(&*gmx, &mut *smx), (&*gmy, &mut *smy), (&*gsq, &mut *ssq), (&*gxy, &mut *sxy)] {
                box_spread(src, h, w, &mut s.tmp, dst);
            }
            // Luma gradients (`own`'s: its window-mean, square and cross terms), the same value
            // for every channel of the frame.
            let mut write = |out: super::SharedMut, m: &[f32], own: &[f32], other: &[f32]| {
                for i in 0..h * w {
                    s.prod[i] = m[i] + 2.0 * own[i] * ssq[i] + other[i] * sxy[i];
                }
                for c in 0..d.channels {
                    // SAFETY: this task alone writes frame f's planes.
                    let dst = unsafe { std::slice::from_raw_parts_mut(out.ptr().add(d.offset(f, c)), d.plane()) };
                    dst.copy_from_slice(&s.prod);
                }
            };
            if let Some(out) = px {
                write(out, smx, &s.lx, &s.ly);
            }
            if let Some(out) = py {
                write(out, smy, &s.ly, &s.lx);
            }
        },
    );
    (dx, dy)
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::kernels::test_values;

    /// Direct f64 mean SSIM: every window summed pixel by pixel.
    fn reference(d: &SsimDims, x: &[f64], y: &[f64]) -> f64 {
        let (h, w) = (d.height, d.width);
        let luma = |v: &[f64], f: usize, i: usize| (0..d.channels).map(|c| v[d.offset(f, c) + i]).sum::<f64>() / d.channels as f64;
        let (c1, c2) = (C1 as f64, C2 as f64);
        let mut total = 0.0;
        for f in 0..d.batch * d.frames {
            for oy in 0..=h - WINDOW {
                for ox in 0..=w - WINDOW {
                    let mut m = [0f64; 5];
                    for yy in oy..oy + WINDOW {
                        for xx in ox..ox + WINDOW {
                            let (a, b) = (luma(x, f, yy * w + xx), luma(y, f, yy * w + xx));
                            for (s, v) in m.iter_mut().zip([a, b, a * a, b * b, a * b]) {
                                *s += v / 49.0;
                            }
                        }
                    }
                    let [mx, my, exx, eyy, exy] = m;
                    total += (2.0 * mx * my + c1) * (2.0 * (exy - mx * my) + c2) / ((mx * mx + my * my + c1) * (exx - mx * mx + eyy - my * my + c2));
                }
            }
        }
        total / d.windows() as f64
    }

    #[test]
    fn forward_and_backward_match_f64_reference() {
        let d = SsimDims { batch: 2, channels: 3, frames: 2, height: 11, width: 13 };
        let x = test_values(1, d.len());
        // y close to x, as in training (a reconstruction and its target).
        let y: Vec<f32> = x.iter().zip(test_values(2, d.len())).map(|(a, n)| (a * 0.8 + 0.2 * n).clamp(-1.0, 1.0)).collect();
        let (x64, y64): (Vec<f64>, Vec<f64>) = (x.iter().map(|v| *v as f64).collect(), y.iter().map(|v| *v as f64).collect());
        let want = reference(&d, &x64, &y64);
        let got = forward(d, &x, &y) as f64;
        assert!((got - want).abs() < 1e-5, "ssim {got} vs {want}");
        let grad = 0.7f32;
        let (dx, dy) = backward(d, &x, &y, grad, true, true);
        let (dx, dy) = (dx.unwrap(), dy.unwrap());
        let eps = 1e-4;
        for i in (0..d.len()).step_by(5) {
            for (which, g) in [(0, &dx), (1, &dy)] {
                let (mut up, mut down) = if which == 0 { (x64.clone(), x64.clone()) } else { (y64.clone(), y64.clone()) };
                up[i] += eps;
                down[i] -= eps;
                let num = if which == 0 { (reference(&d, &up, &y64) - reference(&d, &down, &y64)) / (2.0 * eps) } else { (reference(&d, &x64, &up) - reference(&d, &x64, &down)) / (2.0 * eps) } * grad as f64;
                assert!((g[i] as f64 - num).abs() < 2e-5 + 1e-3 * num.abs(), "d{}[{i}]: {} vs {num}", ["x", "y"][which], g[i]);
            }
        }
        // Only the gradients asked for.
        let (dx, dy) = backward(d, &x, &y, grad, true, false);
        assert!(dx.is_some() && dy.is_none());
    }
}
