//! Match visualisations: two frames side by side with their matches drawn as lines (green inliers,
//! red outliers), PNG-encoded and base64'd for the HTML page.
//!
//! Lines and endpoint markers are drawn with `plotters`' bitmap backend on the RGB buffer; no text
//! is drawn into the bitmap (the title is the figure caption in the page).

use base64::Engine;
use image::imageops::FilterType;
use image::{ExtendedColorType, ImageEncoder};
use plotters::prelude::*;

use crate::image::GrayImage;
use crate::result::MatchPreview;

/// At most this many match lines are drawn (chosen evenly over the matches, inliers first).
pub const MAX_PREVIEW_LINES: usize = 60;
/// The composite image is scaled down to at most this width in pixels.
pub const MAX_PREVIEW_WIDTH: usize = 1280;
/// Dark gap between the two frames, pixels.
const GAP: usize = 8;

const INLIER: RGBColor = RGBColor(46, 204, 64);
const OUTLIER: RGBColor = RGBColor(230, 57, 53);

/// Draws `img_a` (left) and `img_b` (right) with lines from `pts_a[i]` to `pts_b[i]` (pixel
/// coordinates in each frame), green where `inlier[i]`, red otherwise. At most
/// [`MAX_PREVIEW_LINES`] lines are drawn: inliers evenly sampled, with a share kept for outliers
/// when there are any. Only the first `min(pts_a.len(), pts_b.len(), inlier.len())` entries are
/// used. An empty image yields a preview with an empty `png_base64` (the page then shows a note
/// instead of a picture).
pub fn match_preview(
    title: &str,
    img_a: &GrayImage,
    img_b: &GrayImage,
    pts_a: &[(f32, f32)],
    pts_b: &[(f32, f32)],
    inlier: &[bool],
) -> MatchPreview {
    let png_base64 = match render_png(img_a, img_b, pts_a, pts_b, inlier) {
        Ok(png) => base64::engine::general_purpose::STANDARD.encode(png),
        Err(message) => {
            tracing::warn!("match preview {title:?}: {message}");
            String::new()
        }
    };
    MatchPreview { title: title.to_string(), png_base64 }
}

/// Indices of at most `max` matches to draw: evenly spaced over the inliers and over the outliers
/// (outliers get up to a quarter of the lines when there are inliers too; each kind fills what the
/// other leaves unused). Returned outliers first, so inliers are drawn on top.
pub(crate) fn select_matches(inlier: &[bool], max: usize) -> Vec<usize> {
    let ins: Vec<usize> = (0..inlier.len()).filter(|&i| inlier[i]).collect();
    let outs: Vec<usize> = (0..inlier.len()).filter(|&i| !inlier[i]).collect();
    let out_quota = if ins.is_empty() { max } else { max / 4 };
    let n_out0 = outs.len().min(out_quota);
    let n_in = ins.len().min(max - n_out0);
    let n_out = outs.len().min(max - n_in);
    let mut chosen = evenly(&outs, n_out);
    chosen.extend(evenly(&ins, n_in));
    chosen
}

fn evenly(items: &[usize], n: usize) -> Vec<usize> {
    if n == 0 || items.is_empty() {
        return Vec::new();
    }
    if n >= items.len() {
        return items.to_vec();
    }
    (0..n).map(|k| items[k * items.len() / n]).collect()
}

fn scaled(img: &GrayImage, scale: f64) -> Result<image::GrayImage, String> {
    let src = image::GrayImage::from_raw(img.width as u32, img.height as u32, img.data.clone())
        .ok_or_else(|| format!("image buffer is not {}x{}", img.width, img.height))?;
    if scale >= 1.0 {
        return Ok(src);
    }
    let w = ((img.width as f64 * scale).round() as u32).max(1);
    let h = ((img.height as f64 * scale).round() as u32).max(1);
    Ok(image::imageops::resize(&src, w, h, FilterType::Triangle))
}

fn render_png(
    img_a: &GrayImage,
    img_b: &GrayImage,
    pts_a: &[(f32, f32)],
    pts_b: &[(f32, f32)],
    inlier: &[bool],
) -> Result<Vec<u8>, String> {
    if img_a.width == 0 || img_a.height == 0 || img_b.width == 0 || img_b.height == 0 {
        return Err("empty frame".to_string());
    }
    let full_width = img_a.width + img_b.width;
    let scale = ((MAX_PREVIEW_WIDTH - GAP) as f64 / full_width as f64).min(1.0);
    let a = scaled(img_a, scale)?;
    let b = scaled(img_b, scale)?;
    let (wa, ha) = (a.width() as usize, a.height() as usize);
    let (wb, hb) = (b.width() as usize, b.height() as usize);
    let width = wa + GAP + wb;
    let height = ha.max(hb);
    let offset_b = (wa + GAP) as f64;

    // Canvas: dark background, both frames as gray RGB.
    let mut buf = vec![24u8; width * height * 3];
    for (img, x0) in [(&a, 0usize), (&b, wa + GAP)] {
        let w = img.width() as usize;
        for (y, row) in img.as_raw().chunks_exact(w).enumerate() {
            let start = (y * width + x0) * 3;
            for (px, &v) in buf[start..start + w * 3].chunks_exact_mut(3).zip(row) {
                px.fill(v);
            }
        }
    }

    let n = pts_a.len().min(pts_b.len()).min(inlier.len());
    let chosen = select_matches(&inlier[..n], MAX_PREVIEW_LINES);
    {
        let root = BitMapBackend::with_buffer(&mut buf, (width as u32, height as u32)).into_drawing_area();
        for &i in &chosen {
            let colour = if inlier[i] { INLIER } else { OUTLIER };
            let p = (
                (f64::from(pts_a[i].0) * scale).round() as i32,
                (f64::from(pts_a[i].1) * scale).round() as i32,
            );
            let q = (
                (f64::from(pts_b[i].0) * scale + offset_b).round() as i32,
                (f64::from(pts_b[i].1) * scale).round() as i32,
            );
            root.draw(&PathElement::new(vec![p, q], colour.mix(0.85).stroke_width(1)))
                .map_err(|e| format!("drawing a match line: {e}"))?;
            for c in [p, q] {
                root.draw(&Circle::new(c, 3, colour.stroke_width(2)))
                    .map_err(|e| format!("drawing a keypoint: {e}"))?;
            }
        }
        root.present().map_err(|e| format!("finishing the drawing: {e}"))?;
    }

    let mut png = Vec::new();
    image::codecs::png::PngEncoder::new(&mut png)
        .write_image(&buf, width as u32, height as u32, ExtendedColorType::Rgb8)
        .map_err(|e| format!("encoding PNG: {e}"))?;
    Ok(png)
}
