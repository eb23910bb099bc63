//! Orientation by intensity centroid (Rosin 1999, as used by ORB, Rublee et al. 2011) and a
//! steered BRIEF-style 256-bit descriptor (Calonder et al. 2010) on box-smoothed samples.
//!
//! The test pattern: 256 point pairs drawn from an isotropic Gaussian of standard deviation
//! `PATCH_SIZE / 5` (BRIEF's best sampling strategy "G II"), kept inside a disc of radius
//! [`PATTERN_RADIUS`] so rotation keeps them in the patch, from the fixed seed [`PATTERN_SEED`] with
//! [`crate::rng::SplitMix64`]. Each test compares the mean intensity of two `5 x 5` boxes (the
//! smoothing that makes the tests stable under blur and compression, like ORB's sub-window tests);
//! the pattern is rotated by the keypoint angle ("steered") and sampled at the nearest pixel.

use std::sync::OnceLock;

use super::pyramid::Level;
#[cfg(test)]
use super::pyramid::BOX_HALF;
use super::Descriptor;

/// Side of the oriented patch in level pixels.
pub(crate) const PATCH_SIZE: usize = 31;
/// Radius of the disc used for the intensity centroid.
pub(crate) const ORIENT_RADIUS: isize = 15;
/// Largest distance of a test point from the keypoint.
pub(crate) const PATTERN_RADIUS: f32 = 13.0;
/// Seed of the test pattern (changing it changes every descriptor).
pub(crate) const PATTERN_SEED: u64 = 0x5EED_0B1E_F0A7_0256;
/// Smallest distance kept from a level border so every sample stays inside the image.
pub(crate) const MIN_BORDER_PX: usize = 18;

/// One binary test: compare box means at `p` and `q` (offsets from the keypoint, unrotated).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Test {
    pub p: [f32; 2],
    pub q: [f32; 2],
}

/// The 256 tests, generated once.
pub(crate) fn pattern() -> &'static [Test; 256] {
    static PATTERN: OnceLock<[Test; 256]> = OnceLock::new();
    PATTERN.get_or_init(|| {
        let mut rng = crate::rng::SplitMix64::new(PATTERN_SEED);
        let sigma = PATCH_SIZE as f64 / 5.0;
        let mut point = move || loop {
            let x = rng.normal() * sigma;
            let y = rng.normal() * sigma;
            if x * x + y * y <= (PATTERN_RADIUS as f64) * (PATTERN_RADIUS as f64) {
                return [x as f32, y as f32];
            }
        };
        std::array::from_fn(|_| loop {
            let p = point();
            let q = point();
            // Pairs closer than the box size would mostly compare overlapping boxes.
            if (p[0] - q[0]).hypot(p[1] - q[1]) >= 3.0 {
                break Test { p, q };
            }
        })
    })
}

/// Half-widths of the orientation disc per row offset `-R..=R`.
fn disc_half_widths() -> &'static [isize; 2 * ORIENT_RADIUS as usize + 1] {
    static HW: OnceLock<[isize; 2 * ORIENT_RADIUS as usize + 1]> = OnceLock::new();
    HW.get_or_init(|| {
        std::array::from_fn(|i| {
            let dy = i as f32 - ORIENT_RADIUS as f32;
            let r = ORIENT_RADIUS as f32 + 0.5;
            (r * r - dy * dy).max(0.0).sqrt().floor() as isize
        })
    })
}

/// The pattern's points in structure-of-arrays form: `x[2 i]`, `y[2 i]` the first point of test
/// `i`, `x[2 i + 1]`, `y[2 i + 1]` the second.
struct PatternPoints {
    x: [f32; 512],
    y: [f32; 512],
}

fn pattern_points() -> &'static PatternPoints {
    static POINTS: OnceLock<PatternPoints> = OnceLock::new();
    POINTS.get_or_init(|| {
        let p = pattern();
        PatternPoints {
            x: std::array::from_fn(|k| if k % 2 == 0 { p[k / 2].p[0] } else { p[k / 2].q[0] }),
            y: std::array::from_fn(|k| if k % 2 == 0 { p[k / 2].p[1] } else { p[k / 2].q[1] }),
        }
    })
}

/// Intensity-centroid angle (radians, image axes: x right, y down) of the disc around `(x, y)`.
pub(crate) fn orientation(level: &Level, x: usize, y: usize) -> f32 {
    let img = &level.img;
    let hw = disc_half_widths();
    // |moments| <= 31 * 31 * 15 * 255, well inside i32.
    let (mut m10, mut m01) = (0i32, 0i32);
    for (i, &half) in hw.iter().enumerate() {
        let dy = i as isize - ORIENT_RADIUS;
        let row = img.row((y as isize + dy) as usize);
        let seg = &row[(x as isize - half) as usize..=(x as isize + half) as usize];
        let (mut row_sum, mut row_moment) = (0i32, 0i32);
        for (k, &v) in seg.iter().enumerate() {
            row_sum += v as i32;
            row_moment += k as i32 * v as i32;
        }
        m10 += row_moment - half as i32 * row_sum;
        m01 += dy as i32 * row_sum;
    }
    (m01 as f32).atan2(m10 as f32)
}

/// Steered descriptor of the keypoint at level pixel `(x, y)` with angle `angle_rad`. The caller
/// keeps `(x, y)` at least [`MIN_BORDER_PX`] from the level borders.
pub(crate) fn describe(level: &Level, x: usize, y: usize, angle_rad: f32) -> Descriptor {
    let (s, c) = angle_rad.sin_cos();
    let w = level.img.width;
    let pts = pattern_points();
    // Rotated points rounded to the nearest pixel, as offsets into the box-sum image. Adding
    // 1.5 * 2^23 rounds an f32 of magnitude below 2^22 to an integer (ties to even), and the bits
    // of the sum then hold that integer: vectorisable rounding and conversion.
    const MAGIC: f32 = 12_582_912.0;
    let round = |v: f32| (v + MAGIC) - MAGIC;
    let wf = w as f32;
    let mut off = [0i32; 512];
    for ((o, &px), &py) in off.iter_mut().zip(&pts.x).zip(&pts.y) {
        let rx = round(c * px - s * py);
        let ry = round(s * px + c * py);
        *o = (ry * wf + rx + MAGIC).to_bits() as i32 - MAGIC.to_bits() as i32;
    }
    // The box sums within the reach of the pattern around the keypoint.
    let reach = (PATTERN_RADIUS as usize + 1) * (w + 1);
    let centre = y * w + x;
    let window = &level.boxes[centre - reach..=centre + reach];
    let at = |o: i32| window[(reach as isize + o as isize) as usize];
    let mut d: Descriptor = [0; 4];
    for (word, offs) in d.iter_mut().zip(off.chunks_exact(128)) {
        for (bit, pair) in offs.chunks_exact(2).enumerate() {
            *word |= ((at(pair[0]) < at(pair[1])) as u64) << bit;
        }
    }
    d
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pattern_is_deterministic_and_inside_the_disc() {
        let p = pattern();
        for t in p.iter() {
            for pt in [t.p, t.q] {
                assert!(pt[0].hypot(pt[1]) <= PATTERN_RADIUS);
            }
        }
        // Rounded after rotation, the box stays within the border margin.
        assert!(PATTERN_RADIUS as usize + 1 + BOX_HALF + 1 <= MIN_BORDER_PX);
        assert_eq!(BOX_HALF, 2);
        assert!(ORIENT_RADIUS as usize + 1 <= MIN_BORDER_PX);
        // Spread: the mean |offset| is near the Gaussian's.
        let mean_r: f32 = p.iter().map(|t| t.p[0].hypot(t.p[1])).sum::<f32>() / 256.0;
        assert!((4.0..10.0).contains(&mean_r), "{mean_r}");
    }

    #[test]
    fn orientation_points_towards_the_bright_side() {
        use crate::image::GrayImage;
        let (w, h) = (64, 64);
        let mut img = GrayImage::new(w, h);
        for y in 0..h {
            for x in 0..w {
                img.data[y * w + x] = if y > 32 { 200 } else { 20 };
            }
        }
        let levels = super::super::pyramid::build(&img, 1, 1.25, 8);
        let a = orientation(&levels[0], 32, 32);
        assert!((a - std::f32::consts::FRAC_PI_2).abs() < 0.05, "{a}");
    }
}
