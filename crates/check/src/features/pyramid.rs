//! Image pyramid: each level is the previous one smoothed by a Gaussian sized to the downsampling
//! ratio (anti-aliasing) and resampled bilinearly.
//!
//! Coordinate convention: the centre of pixel `(i, j)` of a level is at `(i, j)` in that level's
//! coordinates and at `((i + 0.5) * sx - 0.5, (j + 0.5) * sy - 0.5)` in full-resolution
//! coordinates, with `sx = width_0 / width_k` and `sy = height_0 / height_k`.

use std::borrow::Cow;

use crate::image::GrayImage;

/// Half side of the box whose sums [`Level::boxes`] holds (a `5 x 5` box).
pub(crate) const BOX_HALF: usize = 2;

/// One pyramid level with its box-filtered copy (used by the descriptor).
pub(crate) struct Level<'a> {
    pub img: Cow<'a, GrayImage>,
    /// Full-resolution pixels per level pixel, horizontally.
    pub scale_x: f32,
    /// Full-resolution pixels per level pixel, vertically.
    pub scale_y: f32,
    /// Sums of the `5 x 5` box centred on each pixel, row-major like `img`; zero within
    /// [`BOX_HALF`] pixels of the edges, where the box does not fit.
    pub boxes: Vec<u16>,
}

impl<'a> Level<'a> {
    fn new(img: Cow<'a, GrayImage>, width0: usize, height0: usize) -> Self {
        let scale_x = width0 as f32 / img.width as f32;
        let scale_y = height0 as f32 / img.height as f32;
        let boxes = box_sums(&img);
        Self { img, scale_x, scale_y, boxes }
    }

    /// Mean scale (full-resolution pixels per level pixel).
    pub fn scale(&self) -> f32 {
        0.5 * (self.scale_x + self.scale_y)
    }

    /// Level coordinates to full-resolution coordinates.
    #[inline]
    pub fn to_full(&self, x: f32, y: f32) -> (f32, f32) {
        ((x + 0.5) * self.scale_x - 0.5, (y + 0.5) * self.scale_y - 0.5)
    }
}

/// Builds up to `levels` levels (fewer when the image gets smaller than `min_side_px`); level 0
/// borrows `img`.
pub(crate) fn build(img: &GrayImage, levels: usize, scale_factor: f32, min_side_px: usize) -> Vec<Level<'_>> {
    let (w0, h0) = (img.width, img.height);
    let mut out: Vec<Level> = Vec::with_capacity(levels.max(1));
    out.push(Level::new(Cow::Borrowed(img), w0, h0));
    let factor = if scale_factor.is_finite() && scale_factor > 1.0 { scale_factor } else { 1.2 };
    let mut scratch = Scratch::default();
    for k in 1..levels {
        let s = factor.powi(k as i32);
        let w = (w0 as f32 / s).round() as usize;
        let h = (h0 as f32 / s).round() as usize;
        if w < min_side_px || h < min_side_px {
            break;
        }
        let next = downsample(&out[k - 1].img, w, h, &mut scratch);
        out.push(Level::new(Cow::Owned(next), w0, h0));
    }
    out
}

/// Gaussian kernel of standard deviation `sigma_px`, radius `ceil(3 sigma)`, normalised.
fn gaussian_kernel(sigma_px: f32) -> Vec<f32> {
    let radius = (3.0 * sigma_px).ceil().max(1.0) as i32;
    let mut k: Vec<f32> = (-radius..=radius).map(|i| (-(i * i) as f32 / (2.0 * sigma_px * sigma_px)).exp()).collect();
    let sum: f32 = k.iter().sum();
    k.iter_mut().for_each(|v| *v /= sum);
    k
}

/// Horizontal pass of the separable blur for one row: `dst[x] = sum_t kernel[t] row[clamp(x + t - r)]`
/// (`padded` is scratch).
fn blur_row(row: &[u8], kernel: &[f32], padded: &mut Vec<f32>, dst: &mut [f32]) {
    let w = row.len();
    let r = kernel.len() / 2;
    padded.clear();
    padded.extend(std::iter::repeat_n(row[0] as f32, r));
    padded.extend(row.iter().map(|&v| v as f32));
    padded.extend(std::iter::repeat_n(row[w - 1] as f32, r));
    dst.fill(0.0);
    for (t, &kv) in kernel.iter().enumerate() {
        for (d, &s) in dst.iter_mut().zip(&padded[t..t + w]) {
            *d += kv * s;
        }
    }
}

/// Separable Gaussian blur with clamped borders, into `out` (f32, same size).
#[cfg(test)]
pub(crate) fn blur_f32(img: &GrayImage, sigma_px: f32, out: &mut Vec<f32>) {
    let (w, h) = (img.width, img.height);
    out.clear();
    out.resize(w * h, 0.0);
    if w == 0 || h == 0 {
        return;
    }
    let kernel = gaussian_kernel(sigma_px);
    let r = (kernel.len() / 2) as isize;
    // Horizontal pass into `horiz`, vertical pass into `out`.
    let mut horiz = vec![0.0f32; w * h];
    let mut padded = Vec::new();
    for y in 0..h {
        blur_row(img.row(y), &kernel, &mut padded, &mut horiz[y * w..(y + 1) * w]);
    }
    for y in 0..h {
        let dst = &mut out[y * w..(y + 1) * w];
        for (t, kv) in kernel.iter().enumerate() {
            let yy = (y as isize + t as isize - r).clamp(0, h as isize - 1) as usize;
            let src = &horiz[yy * w..(yy + 1) * w];
            for (d, s) in dst.iter_mut().zip(src) {
                *d += kv * s;
            }
        }
    }
}

/// Buffers reused over the levels of one pyramid.
#[derive(Default)]
struct Scratch {
    /// Ring of horizontally blurred source rows, `kernel.len()` rows of the source width.
    horiz: Vec<f32>,
    /// Source row held by each ring slot.
    horiz_row: Vec<usize>,
    padded: Vec<f32>,
    /// The two blurred source rows bilinear interpolation reads, and which rows they are.
    blurred: [Vec<f32>; 2],
    blurred_row: [usize; 2],
    x0: Vec<usize>,
    ax: Vec<f32>,
}

/// Anti-aliased downsampling of `img` to `w x h`: Gaussian of sigma `0.5 * sqrt(r^2 - 1)` level
/// pixels (`r` the ratio, assuming the input carries a blur of about half a pixel), then bilinear
/// resampling at the pixel-centre-aligned positions. Streams over rows: only the source rows the
/// output needs are blurred, each once, through a ring of horizontally blurred rows (the same
/// arithmetic as [`blur_f32`] followed by resampling).
fn downsample(img: &GrayImage, w: usize, h: usize, s: &mut Scratch) -> GrayImage {
    let rx = img.width as f32 / w as f32;
    let ry = img.height as f32 / h as f32;
    let r = 0.5 * (rx + ry);
    let sigma_px = (0.5 * (r * r - 1.0).max(0.0).sqrt()).max(0.35);
    let kernel = gaussian_kernel(sigma_px);
    let kr = (kernel.len() / 2) as isize;
    let (sw, sh) = (img.width, img.height);
    let n = kernel.len();
    s.horiz.clear();
    s.horiz.resize(n * sw, 0.0);
    s.horiz_row.clear();
    s.horiz_row.resize(n, usize::MAX);
    for b in &mut s.blurred {
        b.clear();
        b.resize(sw, 0.0);
    }
    s.blurred_row = [usize::MAX; 2];
    // Horizontal sample positions.
    s.x0.clear();
    s.ax.clear();
    for x in 0..w {
        let fx = ((x as f32 + 0.5) * rx - 0.5).clamp(0.0, (sw - 1) as f32);
        let x0 = (fx as usize).min(sw - 1);
        s.x0.push(x0);
        s.ax.push(fx - x0 as f32);
    }
    let mut data = vec![0u8; w * h];
    for y in 0..h {
        let fy = ((y as f32 + 0.5) * ry - 0.5).clamp(0.0, (sh - 1) as f32);
        let y0 = (fy as usize).min(sh - 1);
        let y1 = (y0 + 1).min(sh - 1);
        let ay = fy - y0 as f32;
        for (slot, yy) in [(0usize, y0), (1, y1)] {
            if s.blurred_row[slot] == yy {
                continue;
            }
            if slot == 0 && s.blurred_row[1] == yy {
                s.blurred.swap(0, 1);
                s.blurred_row.swap(0, 1);
                continue;
            }
            // Vertical pass for source row yy, over the horizontally blurred rows it needs.
            for t in 0..n {
                let src_row = (yy as isize + t as isize - kr).clamp(0, sh as isize - 1) as usize;
                let ring = src_row % n;
                if s.horiz_row[ring] != src_row {
                    blur_row(img.row(src_row), &kernel, &mut s.padded, &mut s.horiz[ring * sw..(ring + 1) * sw]);
                    s.horiz_row[ring] = src_row;
                }
            }
            let dst = &mut s.blurred[slot];
            dst.fill(0.0);
            for (t, &kv) in kernel.iter().enumerate() {
                let src_row = (yy as isize + t as isize - kr).clamp(0, sh as isize - 1) as usize;
                let ring = src_row % n;
                for (d, &v) in dst.iter_mut().zip(&s.horiz[ring * sw..(ring + 1) * sw]) {
                    *d += kv * v;
                }
            }
            s.blurred_row[slot] = yy;
        }
        let (top_row, bot_row) = (&s.blurred[0], &s.blurred[1]);
        let out = &mut data[y * w..(y + 1) * w];
        for ((o, &x0), &ax) in out.iter_mut().zip(&s.x0).zip(&s.ax) {
            let x1 = (x0 + 1).min(sw - 1);
            let top = top_row[x0] * (1.0 - ax) + top_row[x1] * ax;
            let bot = bot_row[x0] * (1.0 - ax) + bot_row[x1] * ax;
            let v = top * (1.0 - ay) + bot * ay;
            *o = to_u8(v);
        }
    }
    GrayImage { width: w, height: h, data }
}

/// `v` rounded to the nearest integer (ties to even) and clamped to `0..=255`, without a
/// saturating float conversion (so the loops calling it vectorise): adding 1.5 * 2^23 rounds, and
/// the bits of the sum then hold the integer.
#[inline(always)]
fn to_u8(v: f32) -> u8 {
    const MAGIC: f32 = 12_582_912.0;
    let v = v.clamp(-1.0, 256.0);
    ((v + MAGIC).to_bits() as i32 - MAGIC.to_bits() as i32).clamp(0, 255) as u8
}

/// Sums of the `(2 BOX_HALF + 1)^2` box centred on every pixel where it fits (zero elsewhere).
fn box_sums(img: &GrayImage) -> Vec<u16> {
    let (w, h) = (img.width, img.height);
    let side = 2 * BOX_HALF + 1;
    let mut out = vec![0u16; w * h];
    if w < side || h < side {
        return out;
    }
    let mut col = vec![0u16; w];
    for y in BOX_HALF..h - BOX_HALF {
        // Vertical sums of `side` rows, then horizontal sums of `side` of those.
        col.fill(0);
        for yy in y - BOX_HALF..=y + BOX_HALF {
            for (c, &v) in col.iter_mut().zip(img.row(yy)) {
                *c += v as u16;
            }
        }
        let dst = &mut out[y * w + BOX_HALF..(y + 1) * w - BOX_HALF];
        for (x, d) in dst.iter_mut().enumerate() {
            let c = &col[x..x + side];
            *d = c[0] + c[1] + c[2] + c[3] + c[4];
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn box_sums_match_direct_sums() {
        let mut img = GrayImage::new(9, 7);
        for (i, v) in img.data.iter_mut().enumerate() {
            *v = (i * 37 % 251) as u8;
        }
        let b = box_sums(&img);
        for y in 0..7 {
            for x in 0..9 {
                let inside = (2..7).contains(&x) && (2..5).contains(&y);
                let direct: u32 = if inside { (y - 2..=y + 2).flat_map(|yy| (x - 2..=x + 2).map(move |xx| (xx, yy))).map(|(xx, yy)| img.get(xx, yy) as u32).sum() } else { 0 };
                assert_eq!(b[y * 9 + x] as u32, direct, "({x}, {y})");
            }
        }
    }

    #[test]
    fn streamed_downsampling_matches_blur_then_resample() {
        let mut img = GrayImage::new(61, 47);
        for (i, v) in img.data.iter_mut().enumerate() {
            *v = ((i * 7919) % 253) as u8;
        }
        let (w, h) = (49, 38);
        let got = downsample(&img, w, h, &mut Scratch::default());
        let (rx, ry) = (61.0 / w as f32, 47.0 / h as f32);
        let r = 0.5 * (rx + ry);
        let mut blurred = Vec::new();
        blur_f32(&img, (0.5 * (r * r - 1.0).max(0.0).sqrt()).max(0.35), &mut blurred);
        for y in 0..h {
            let fy = ((y as f32 + 0.5) * ry - 0.5).clamp(0.0, 46.0);
            let (y0, ay) = (fy.floor() as usize, fy - fy.floor());
            let y1 = (y0 + 1).min(46);
            for x in 0..w {
                let fx = ((x as f32 + 0.5) * rx - 0.5).clamp(0.0, 60.0);
                let (x0, ax) = (fx.floor() as usize, fx - fx.floor());
                let x1 = (x0 + 1).min(60);
                let p = |xx: usize, yy: usize| blurred[yy * 61 + xx];
                let v = (p(x0, y0) * (1.0 - ax) + p(x1, y0) * ax) * (1.0 - ay) + (p(x0, y1) * (1.0 - ax) + p(x1, y1) * ax) * ay;
                assert_eq!(got.data[y * w + x], to_u8(v), "({x}, {y})");
                assert!((got.data[y * w + x] as f32 - v).abs() <= 0.5, "({x}, {y})");
            }
        }
    }

    #[test]
    fn pyramid_sizes_and_flat_image_stay_flat() {
        let img = GrayImage { width: 400, height: 300, data: vec![77; 400 * 300] };
        let levels = build(&img, 5, 1.25, 40);
        assert_eq!(levels.len(), 5);
        assert_eq!((levels[1].img.width, levels[1].img.height), (320, 240));
        assert!(levels[4].img.data.iter().all(|&v| v == 77));
        let (x, y) = levels[1].to_full(0.0, 0.0);
        assert!((x - 0.125).abs() < 1e-6 && (y - 0.125).abs() < 1e-6);
    }
}
