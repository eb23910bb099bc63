//! Image pyramid: each level is the previous one smoothed by a Gaussian sized to the downsampling
//! ratio (anti-aliasing) and resampled bilinearly.
//!
//! Coordinate convention: the centre of pixel `(i, j)` of a level is at `(i, j)` in that level's
//! coordinates and at `((i + 0.5) * sx - 0.5, (j + 0.5) * sy - 0.5)` in full-resolution
//! coordinates, with `sx = width_0 / width_k` and `sy = height_0 / height_k`.

use crate::image::GrayImage;

/// One pyramid level with its box-filter integral image (used by the descriptor).
pub(crate) struct Level {
    pub img: GrayImage,
    /// Full-resolution pixels per level pixel, horizontally.
    pub scale_x: f32,
    /// Full-resolution pixels per level pixel, vertically.
    pub scale_y: f32,
    /// Integral image, `(width + 1) * (height + 1)` entries, `integral[(y) * (w + 1) + x]` = sum of
    /// pixels with coordinates `< x` and `< y`.
    pub integral: Vec<u32>,
}

impl Level {
    fn new(img: GrayImage, width0: usize, height0: usize) -> Self {
        let scale_x = width0 as f32 / img.width as f32;
        let scale_y = height0 as f32 / img.height as f32;
        let integral = integral_image(&img);
        Self { img, scale_x, scale_y, integral }
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

/// Builds up to `levels` levels (fewer when the image gets smaller than `min_side_px`).
pub(crate) fn build(img: &GrayImage, levels: usize, scale_factor: f32, min_side_px: usize) -> Vec<Level> {
    let (w0, h0) = (img.width, img.height);
    let mut out: Vec<Level> = Vec::with_capacity(levels.max(1));
    out.push(Level::new(img.clone(), w0, h0));
    let factor = if scale_factor.is_finite() && scale_factor > 1.0 { scale_factor } else { 1.2 };
    let mut tmp = Vec::new();
    for k in 1..levels {
        let s = factor.powi(k as i32);
        let w = (w0 as f32 / s).round() as usize;
        let h = (h0 as f32 / s).round() as usize;
        if w < min_side_px || h < min_side_px {
            break;
        }
        let prev = &out[k - 1].img;
        let next = downsample(prev, w, h, &mut tmp);
        out.push(Level::new(next, w0, h0));
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

/// Separable Gaussian blur with clamped borders, into `out` (f32, same size).
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
    for y in 0..h {
        let row = img.row(y);
        let dst = &mut horiz[y * w..(y + 1) * w];
        for (x, d) in dst.iter_mut().enumerate() {
            let mut acc = 0.0;
            for (t, kv) in kernel.iter().enumerate() {
                let xx = (x as isize + t as isize - r).clamp(0, w as isize - 1) as usize;
                acc += kv * row[xx] as f32;
            }
            *d = acc;
        }
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

/// Anti-aliased downsampling of `img` to `w x h`: Gaussian of sigma `0.5 * sqrt(r^2 - 1)` level
/// pixels (`r` the ratio, assuming the input carries a blur of about half a pixel), then bilinear
/// resampling at the pixel-centre-aligned positions.
fn downsample(img: &GrayImage, w: usize, h: usize, tmp: &mut Vec<f32>) -> GrayImage {
    let rx = img.width as f32 / w as f32;
    let ry = img.height as f32 / h as f32;
    let r = 0.5 * (rx + ry);
    let sigma_px = (0.5 * (r * r - 1.0).max(0.0).sqrt()).max(0.35);
    blur_f32(img, sigma_px, tmp);
    let (sw, sh) = (img.width, img.height);
    let mut data = vec![0u8; w * h];
    for y in 0..h {
        let fy = ((y as f32 + 0.5) * ry - 0.5).clamp(0.0, (sh - 1) as f32);
        let y0 = (fy.floor() as usize).min(sh - 1);
        let y1 = (y0 + 1).min(sh - 1);
        let ay = fy - y0 as f32;
        for x in 0..w {
            let fx = ((x as f32 + 0.5) * rx - 0.5).clamp(0.0, (sw - 1) as f32);
            let x0 = (fx.floor() as usize).min(sw - 1);
            let x1 = (x0 + 1).min(sw - 1);
            let ax = fx - x0 as f32;
            let top = tmp[y0 * sw + x0] * (1.0 - ax) + tmp[y0 * sw + x1] * ax;
            let bot = tmp[y1 * sw + x0] * (1.0 - ax) + tmp[y1 * sw + x1] * ax;
            let v = top * (1.0 - ay) + bot * ay;
            data[y * w + x] = (v + 0.5).clamp(0.0, 255.0) as u8;
        }
    }
    GrayImage { width: w, height: h, data }
}

fn integral_image(img: &GrayImage) -> Vec<u32> {
    let (w, h) = (img.width, img.height);
    let stride = w + 1;
    let mut ii = vec![0u32; stride * (h + 1)];
    for y in 0..h {
        let row = img.row(y);
        let mut run = 0u32;
        for x in 0..w {
            run += row[x] as u32;
            ii[(y + 1) * stride + x + 1] = ii[y * stride + x + 1] + run;
        }
    }
    ii
}

/// Sum of the `(2 * half + 1)^2` box centred on `(x, y)`; the caller keeps the box inside.
#[inline]
pub(crate) fn box_sum(integral: &[u32], stride: usize, x: usize, y: usize, half: usize) -> u32 {
    let (x0, y0, x1, y1) = (x - half, y - half, x + half + 1, y + half + 1);
    integral[y1 * stride + x1] + integral[y0 * stride + x0] - integral[y0 * stride + x1] - integral[y1 * stride + x0]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integral_box_sum_matches_direct_sum() {
        let mut img = GrayImage::new(9, 7);
        for (i, v) in img.data.iter_mut().enumerate() {
            *v = (i * 37 % 251) as u8;
        }
        let ii = integral_image(&img);
        let direct: u32 = (1..6).flat_map(|y| (2..7).map(move |x| (x, y))).map(|(x, y)| img.get(x, y) as u32).sum();
        assert_eq!(box_sum(&ii, 10, 4, 3, 2), direct);
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
