//! Multi-scale oriented binary features and their matching, in the spirit of ORB (Rublee, Rabaud,
//! Konolige and Bradski, "ORB: an efficient alternative to SIFT or SURF", ICCV 2011), written here:
//!
//! - an image pyramid ([`FeatureConfig::levels`] levels, [`FeatureConfig::scale_factor`] apart),
//!   each level Gaussian-smoothed before bilinear downsampling;
//! - corners: 3x3 maxima of the Harris response (Harris and Stephens, "A combined corner and edge
//!   detector", 1988), which localises them, ranks them and rejects edges, gated by a FAST-9 segment
//!   test (Rosten and Drummond, "Machine learning for high-speed corner detection", ECCV 2006) firing
//!   within 2 pixels;
//! - a per-cell budget over a grid so keypoints spread over the image: within each cell corners
//!   above [`FeatureConfig::fast_threshold`] come first, and cells without any fall back to corners
//!   down to [`FeatureConfig::fast_threshold_min`] (adaptive threshold lowering); every cell's best
//!   corner is taken before any cell's second;
//! - sub-pixel positions from a parabola fit of the Harris response;
//! - orientation from the intensity centroid (Rosin, "Measuring corner properties", 1999, as in
//!   ORB);
//! - a steered BRIEF-style 256-bit descriptor (Calonder, Lepetit, Strecha and Fua, "BRIEF: binary
//!   robust independent elementary features", ECCV 2010) comparing 5x5 box means at 256 point pairs
//!   from a fixed-seed Gaussian pattern (details in the `describe` submodule);
//! - brute-force Hamming matching with a mutual nearest-neighbour check and Lowe's ratio test
//!   (Lowe, "Distinctive image features from scale-invariant keypoints", IJCV 2004).
//!
//! Coordinates: a keypoint's `(x, y)` is in full-resolution pixels with the centre of pixel
//! `(i, j)` (column `i`, row `j`) at `(i as f32, j as f32)`; `angle_rad` is measured from the
//! image x axis towards the y axis (downwards), in radians in `(-pi, pi]`.
//!
//! Output is deterministic: it does not depend on the number of threads.

mod describe;
mod detect;
pub mod eval;
mod matching;
mod pyramid;

use rayon::prelude::*;

use crate::image::GrayImage;
pub use matching::{hamming, match_descriptors, match_features};

/// A detected keypoint.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Keypoint {
    /// Column in full-resolution pixels (pixel centres at integers).
    pub x: f32,
    /// Row in full-resolution pixels (pixel centres at integers).
    pub y: f32,
    /// Diameter of the described patch in full-resolution pixels.
    pub size: f32,
    /// Orientation, radians from +x towards +y (image down).
    pub angle_rad: f32,
    /// Harris response (normalised gradients; comparable within one image).
    pub response: f32,
    /// Pyramid level the keypoint was found on (0 = full resolution).
    pub octave: u8,
}

/// A 256-bit binary descriptor.
pub type Descriptor = [u64; 4];

/// Keypoints and their descriptors (same length, same order).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Features {
    pub keypoints: Vec<Keypoint>,
    pub descriptors: Vec<Descriptor>,
}

impl Features {
    pub fn len(&self) -> usize {
        self.keypoints.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keypoints.is_empty()
    }
}

/// Detector and descriptor settings.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct FeatureConfig {
    /// Upper bound on the number of keypoints.
    pub max_features: usize,
    /// Keypoint budget per megapixel of input; the budget is
    /// `min(max_features, features_per_megapixel * area)`. Zero or negative: `max_features`.
    pub features_per_megapixel: f32,
    /// Number of pyramid levels (fewer when the image gets too small).
    pub levels: usize,
    /// Downsampling ratio between consecutive levels (> 1).
    pub scale_factor: f32,
    /// FAST threshold (8-bit intensity difference) of a strong corner.
    pub fast_threshold: u8,
    /// Lowest FAST threshold used in grid cells without strong corners (>= 1).
    pub fast_threshold_min: u8,
    /// Grid columns over the full-resolution image (coarser levels use proportionally fewer).
    pub grid_cols: usize,
    /// Grid rows over the full-resolution image.
    pub grid_rows: usize,
    /// No keypoint closer than this to the image border (full-resolution pixels); at least the
    /// patch radius is always kept at every level.
    pub border_px: usize,
    /// Harris `k` (det - k trace^2).
    pub harris_k: f32,
    /// Refine positions to sub-pixel accuracy with a parabola fit of the Harris response.
    pub subpixel: bool,
}

impl Default for FeatureConfig {
    fn default() -> Self {
        Self {
            max_features: 5000,
            features_per_megapixel: 8000.0,
            levels: 6,
            scale_factor: 1.25,
            fast_threshold: 20,
            fast_threshold_min: 7,
            grid_cols: 16,
            grid_rows: 10,
            border_px: 16,
            harris_k: 0.04,
            subpixel: true,
        }
    }
}

impl FeatureConfig {
    /// Keypoint budget for an image of `width x height` pixels.
    pub fn budget(&self, width: usize, height: usize) -> usize {
        let area_mp = width as f64 * height as f64 / 1e6;
        if self.features_per_megapixel > 0.0 {
            ((self.features_per_megapixel as f64 * area_mp).round() as usize).min(self.max_features)
        } else {
            self.max_features
        }
    }
}

/// Matcher settings.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct MatchConfig {
    /// Lowe's ratio: keep a match when best < ratio * second best distance.
    pub ratio: f32,
    /// Keep only mutual nearest neighbours.
    pub mutual: bool,
    /// Largest Hamming distance (bits of 256) accepted.
    pub max_distance: u32,
}

impl Default for MatchConfig {
    fn default() -> Self {
        Self { ratio: 0.8, mutual: true, max_distance: 80 }
    }
}

/// A match between keypoint `a` of the first and `b` of the second feature set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Match {
    pub a: u32,
    pub b: u32,
    /// Hamming distance in bits.
    pub distance: u32,
}

/// Detects keypoints over a pyramid and describes them (see the module docs).
pub fn detect_and_describe(img: &GrayImage, cfg: &FeatureConfig) -> Features {
    let total_budget = cfg.budget(img.width, img.height);
    let min_side_px = 2 * describe::MIN_BORDER_PX + 8;
    if total_budget == 0 || img.width < min_side_px || img.height < min_side_px || img.data.len() != img.width * img.height {
        return Features::default();
    }
    let levels = pyramid::build(img, cfg.levels.clamp(1, 32), cfg.scale_factor, min_side_px);
    let t_strong = cfg.fast_threshold.max(1);
    let t_min = cfg.fast_threshold_min.clamp(1, t_strong);

    // Candidates per level (parallel over levels; order preserved).
    let cands: Vec<Vec<detect::Candidate>> = levels
        .par_iter()
        .map(|lv| {
            let border = describe::MIN_BORDER_PX.max((cfg.border_px as f32 / lv.scale()).ceil() as usize);
            detect::corners(&lv.img, t_min, border, cfg.harris_k)
        })
        .collect();

    let budgets = level_budgets(&levels, &cands, total_budget, cfg.scale_factor);

    let per_level: Vec<Features> = levels
        .par_iter()
        .zip(cands.par_iter())
        .zip(budgets.par_iter())
        .enumerate()
        .map(|(k, ((lv, cands), &budget))| {
            let (w, h) = (lv.img.width, lv.img.height);
            let cols = ((cfg.grid_cols as f32 * w as f32 / img.width as f32).round() as usize).max(1);
            let rows = ((cfg.grid_rows as f32 * h as f32 / img.height as f32).round() as usize).max(1);
            let chosen = detect::select_spread(cands, w, h, cols, rows, t_strong, budget);
            let mut out = Features { keypoints: Vec::with_capacity(chosen.len()), descriptors: Vec::with_capacity(chosen.len()) };
            for c in &chosen {
                let (dx, dy) = if cfg.subpixel { (c.dx, c.dy) } else { (0.0, 0.0) };
                let angle_rad = describe::orientation(lv, c.x, c.y);
                let desc = describe::describe(lv, c.x, c.y, angle_rad);
                let (x, y) = lv.to_full(c.x as f32 + dx, c.y as f32 + dy);
                out.keypoints.push(Keypoint {
                    x,
                    y,
                    size: describe::PATCH_SIZE as f32 * lv.scale(),
                    angle_rad,
                    response: c.harris,
                    octave: k.min(u8::MAX as usize) as u8,
                });
                out.descriptors.push(desc);
            }
            out
        })
        .collect();

    let mut out = Features::default();
    for f in per_level {
        out.keypoints.extend(f.keypoints);
        out.descriptors.extend(f.descriptors);
    }
    out
}

/// Splits the budget over levels in proportion to `1 / scale` (as ORB does, giving coarse levels a
/// larger share than their area), then hands what a level cannot use to the others.
fn level_budgets(levels: &[pyramid::Level], cands: &[Vec<detect::Candidate>], total: usize, factor: f32) -> Vec<usize> {
    let n = levels.len();
    let factor = if factor.is_finite() && factor > 1.0 { factor } else { 1.2 };
    let weights: Vec<f64> = (0..n).map(|k| (1.0 / factor as f64).powi(k as i32)).collect();
    let mut alloc = vec![0usize; n];
    let mut remaining = total;
    for _ in 0..n {
        let open: Vec<usize> = (0..n).filter(|&k| alloc[k] < cands[k].len()).collect();
        if remaining == 0 || open.is_empty() {
            break;
        }
        let wsum: f64 = open.iter().map(|&k| weights[k]).sum();
        let mut given = 0usize;
        for (idx, &k) in open.iter().enumerate() {
            // The last open level takes the rounding remainder.
            let share = if idx + 1 == open.len() {
                remaining - given
            } else {
                ((remaining as f64 * weights[k] / wsum).round() as usize).min(remaining - given)
            };
            let take = share.min(cands[k].len() - alloc[k]);
            alloc[k] += take;
            given += take;
        }
        remaining -= given;
    }
    alloc
}

#[cfg(test)]
mod tests;
