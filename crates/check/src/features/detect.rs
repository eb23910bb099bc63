//! Corner detection on one pyramid level: FAST-9 segment test (Rosten and Drummond 2006) with its
//! score, as the corner gate; the Harris response (Harris and Stephens 1988) for localisation (3x3
//! non-maximum suppression and a sub-pixel parabola fit), ranking and rejecting edges; and a
//! per-cell budget over a grid so corners spread over the image.

use crate::image::GrayImage;

/// Offsets of the 16-pixel Bresenham circle of radius 3, clockwise from the top.
const CIRCLE: [(isize, isize); 16] = [
    (0, -3),
    (1, -3),
    (2, -2),
    (3, -1),
    (3, 0),
    (3, 1),
    (2, 2),
    (1, 3),
    (0, 3),
    (-1, 3),
    (-2, 2),
    (-3, 1),
    (-3, 0),
    (-3, -1),
    (-2, -2),
    (-1, -3),
];

/// Half size of the Harris summation window (7x7).
const HARRIS_HALF: isize = 3;

/// A corner candidate on a level, in level pixel coordinates.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Candidate {
    pub x: usize,
    pub y: usize,
    /// FAST score: the largest threshold at which the point is still a corner.
    pub fast_score: u8,
    pub harris: f32,
    /// Sub-pixel offset of the Harris peak, each in `[-0.5, 0.5]`.
    pub dx: f32,
    pub dy: f32,
}

/// `true` when the 16-bit circular mask has a run of at least 9 set bits.
#[inline]
fn has_run9(mask: u32) -> bool {
    let m = mask | (mask << 16);
    let m2 = m & (m >> 1);
    let m4 = m2 & (m2 >> 2);
    let m8 = m4 & (m4 >> 4);
    (m8 & (m >> 8)) != 0
}

/// Offsets of [`CIRCLE`] in a row-major image of width `w`.
fn circle_offsets(w: usize) -> [isize; 16] {
    std::array::from_fn(|k| CIRCLE[k].1 * w as isize + CIRCLE[k].0)
}

/// FAST score of the pixel at index `centre` of `data` (`offsets` from [`circle_offsets`]): the
/// largest `t` for which 9 contiguous circle pixels are all brighter than `p + t` or all darker than
/// `p - t` (strict), or 0 when there is none `>= t_min`. The caller keeps the pixel at least 3
/// pixels from the edges.
#[inline]
fn fast_score(data: &[u8], centre: usize, offsets: &[isize; 16], t_min: u8) -> u8 {
    let at = |k: usize| data[(centre as isize + offsets[k]) as usize] as i32;
    let p = data[centre] as i32;
    let t = t_min as i32;
    // Quick rejection: a 9-arc covers two adjacent compass pixels.
    let c = [at(0), at(4), at(8), at(12)];
    let nb = c.iter().filter(|&&v| v > p + t).count();
    let nd = c.iter().filter(|&&v| v < p - t).count();
    if nb < 2 && nd < 2 {
        return 0;
    }
    let d: [i32; 16] = std::array::from_fn(|k| at(k) - p);
    let (mut mb, mut md) = (0u32, 0u32);
    for (k, &dk) in d.iter().enumerate() {
        mb |= ((dk > t) as u32) << k;
        md |= ((dk < -t) as u32) << k;
    }
    if !has_run9(mb) && !has_run9(md) {
        return 0;
    }
    // Score: max over 9-arcs of (min |d| with a consistent sign) - 1 (strict inequality). Minima
    // and maxima of every 9-arc by doubling: arcs of 2, 4, 8, then 8 + 1, over the doubled circle.
    let e: [i16; 32] = std::array::from_fn(|k| d[k & 15] as i16);
    let lo2: [i16; 31] = std::array::from_fn(|k| e[k].min(e[k + 1]));
    let hi2: [i16; 31] = std::array::from_fn(|k| e[k].max(e[k + 1]));
    let lo4: [i16; 29] = std::array::from_fn(|k| lo2[k].min(lo2[k + 2]));
    let hi4: [i16; 29] = std::array::from_fn(|k| hi2[k].max(hi2[k + 2]));
    let lo9: [i16; 16] = std::array::from_fn(|k| lo4[k].min(lo4[k + 4]).min(e[k + 8]));
    let hi9: [i16; 16] = std::array::from_fn(|k| hi4[k].max(hi4[k + 4]).max(e[k + 8]));
    let lo = lo9.iter().copied().max().unwrap_or(0) as i32;
    let hi = hi9.iter().copied().min().unwrap_or(0) as i32;
    (lo - 1).max(-hi - 1).clamp(0, 255) as u8
}

/// Streaming Harris response `det(M) - k tr(M)^2` of a level over rows `y0..y1` and columns
/// `x0..x1`: central-difference gradients, their products summed over a 7x7 window and normalised to
/// be independent of the window size and of the 8-bit range. One response row at a time (`row` calls
/// `emit(y, response_row)` in increasing `y`, the row indexed by column, zero outside `x0..x1`),
/// with rolling vertical sums over a ring of gradient-product rows: no full-image buffers. The
/// caller keeps the window and the gradients inside the image (`HARRIS_HALF + 1` from the edges).
///
/// The window sums are integers below 2^24, so `f32` holds them exactly in any summation order.
struct HarrisRows {
    w: usize,
    x0: usize,
    x1: usize,
    /// Ring of `2 HARRIS_HALF + 1` gradient-product rows, planes `gx^2`, `gy^2`, `gx gy`.
    prod: [Vec<f32>; 3],
    /// Vertical window sums of the current row, per plane.
    vert: [Vec<f32>; 3],
    out: Vec<f32>,
}

const HARRIS_ROWS: usize = 2 * HARRIS_HALF as usize + 1;

impl HarrisRows {
    fn new(w: usize, x0: usize, x1: usize) -> Self {
        let ring = || vec![0.0f32; HARRIS_ROWS * w];
        Self { w, x0, x1, prod: [ring(), ring(), ring()], vert: [vec![0.0; w], vec![0.0; w], vec![0.0; w]], out: vec![0.0; w] }
    }

    /// Gradient products of image row `y` into its ring slot, over the columns the sums read.
    fn products(&mut self, img: &GrayImage, y: usize) {
        let (w, half) = (self.w, HARRIS_HALF as usize);
        let (c0, c1) = (self.x0 - half, self.x1 + half);
        let slot = (y % HARRIS_ROWS) * w;
        let (up, mid, dn) = (img.row(y - 1), img.row(y), img.row(y + 1));
        let [pxx, pyy, pxy] = &mut self.prod;
        let (pxx, pyy, pxy) = (&mut pxx[slot + c0..slot + c1], &mut pyy[slot + c0..slot + c1], &mut pxy[slot + c0..slot + c1]);
        let (left, right) = (&mid[c0 - 1..c1 - 1], &mid[c0 + 1..c1 + 1]);
        let (up, dn) = (&up[c0..c1], &dn[c0..c1]);
        for i in 0..c1 - c0 {
            let gx = right[i] as f32 - left[i] as f32;
            let gy = dn[i] as f32 - up[i] as f32;
            pxx[i] = gx * gx;
            pyy[i] = gy * gy;
            pxy[i] = gx * gy;
        }
    }

    /// Adds (`sign = 1`) or removes (`-1`) ring row `y` from the vertical sums.
    fn accumulate(&mut self, y: usize, sign: f32) {
        let w = self.w;
        let half = HARRIS_HALF as usize;
        let (c0, c1) = (self.x0 - half, self.x1 + half);
        let slot = (y % HARRIS_ROWS) * w;
        for (v, p) in self.vert.iter_mut().zip(&self.prod) {
            for (d, &s) in v[c0..c1].iter_mut().zip(&p[slot + c0..slot + c1]) {
                *d += sign * s;
            }
        }
    }

    /// Response rows `y0..y1`, each handed to `emit`.
    fn run(&mut self, img: &GrayImage, k: f32, y0: usize, y1: usize, mut emit: impl FnMut(usize, &[f32])) {
        let half = HARRIS_HALF as usize;
        let n = ((2 * half + 1) * (2 * half + 1)) as f64 * (2.0 * 255.0) * (2.0 * 255.0);
        // In f32 on the raw sums, normalised once: where the response is positive,
        // det >= k tr^2 >= 4 k a b, so the rounding of a b and c^2 (relative 2^-24) moves it by
        // under 1e-6 of itself.
        let scale = (1.0 / (n * n)) as f32;
        for yy in y0 - half..y0 + half {
            self.products(img, yy);
            self.accumulate(yy, 1.0);
        }
        for y in y0..y1 {
            self.products(img, y + half);
            self.accumulate(y + half, 1.0);
            // Horizontal 7-sums and the response.
            let (x0, x1) = (self.x0, self.x1);
            let [a, b, c] = &self.vert;
            let out = &mut self.out[x0..x1];
            let (a, b, c) = (&a[x0 - half..x1 + half], &b[x0 - half..x1 + half], &c[x0 - half..x1 + half]);
            let sum7 = |v: &[f32], i: usize| -> f32 {
                let v = &v[i..i + 7];
                v[0] + v[1] + v[2] + v[3] + v[4] + v[5] + v[6]
            };
            for (i, o) in out.iter_mut().enumerate() {
                let (a, b, c) = (sum7(a, i), sum7(b, i), sum7(c, i));
                *o = ((a * b - c * c) - k * (a + b) * (a + b)) * scale;
            }
            emit(y, &self.out);
            self.accumulate(y - half, -1.0);
        }
    }
}

/// Lazily computed FAST scores over a ring of 5 rows (the 5x5 gate window), `u16::MAX` where not
/// yet computed.
struct FastCache {
    w: usize,
    t_min: u8,
    offsets: [isize; 16],
    rows: Vec<u16>,
}

impl FastCache {
    const UNKNOWN: u16 = u16::MAX;

    fn new(w: usize, t_min: u8) -> Self {
        Self { w, t_min, offsets: circle_offsets(w), rows: vec![Self::UNKNOWN; 5 * w] }
    }

    /// Forgets the scores of the ring slot that row `y` will use.
    fn clear_row(&mut self, y: usize) {
        let slot = (y % 5) * self.w;
        self.rows[slot..slot + self.w].fill(Self::UNKNOWN);
    }

    /// Largest FAST score in the 5x5 window around `(x, y)`; rows `y - 2..=y + 2` must be the ones
    /// the ring holds.
    fn max_around(&mut self, img: &GrayImage, x: usize, y: usize) -> u8 {
        let mut best = 0u8;
        for yy in y - 2..=y + 2 {
            let slot = (yy % 5) * self.w;
            for xx in x - 2..=x + 2 {
                let cell = &mut self.rows[slot + xx];
                if *cell == Self::UNKNOWN {
                    *cell = fast_score(&img.data, yy * self.w + xx, &self.offsets, self.t_min) as u16;
                }
                best = best.max(*cell as u8);
            }
        }
        best
    }
}

/// Corners of a level: 3x3 maxima of the Harris response (positive, so edges are dropped) that have
/// a FAST-9 corner with score `>= t_min` within 2 pixels (the segment test fires a pixel or two
/// inside a corner, while the Harris maximum sits on it), at least `border_px` from every edge.
/// The response is computed row by row over the band the maxima need; FAST scores only around
/// maxima.
pub(crate) fn corners(img: &GrayImage, t_min: u8, border_px: usize, harris_k: f32) -> Vec<Candidate> {
    let (w, h) = (img.width, img.height);
    let mut out = Vec::new();
    if w <= 2 * border_px || h <= 2 * border_px || border_px < HARRIS_HALF as usize + 3 {
        return out;
    }
    // Response rows and columns border - 1 ..= size - border (the 3x3 neighbourhoods of the maxima).
    let mut harris = HarrisRows::new(w, border_px - 1, w - border_px + 1);
    let mut fast = FastCache::new(w, t_min);
    // Ring of the last three response rows.
    let mut resp = vec![0.0f32; 3 * w];
    let mut flags: Vec<u8> = Vec::with_capacity(w);
    for y in border_px - 3..border_px + 2 {
        fast.clear_row(y);
    }
    harris.run(img, harris_k, border_px - 1, h - border_px + 1, |yr, row| {
        let slot = (yr % 3) * w;
        resp[slot..slot + w].copy_from_slice(row);
        if yr < border_px + 1 {
            return;
        }
        // Row y = yr - 1 has both neighbours now.
        let y = yr - 1;
        fast.clear_row(y + 2);
        let up = &resp[((y - 1) % 3) * w..((y - 1) % 3 + 1) * w];
        let cur = &resp[(y % 3) * w..(y % 3 + 1) * w];
        let dn = &resp[((y + 1) % 3) * w..((y + 1) % 3 + 1) * w];
        // 3x3 maxima, branch-free over the row (vectorisable), then a scan of the rare flags. Ties
        // are broken towards the later pixel in raster order, deterministically.
        let (x0, x1) = (border_px, w - border_px);
        flags.clear();
        flags.extend((x0..x1).map(|x| {
            let r = cur[x];
            ((r > 0.0) & (cur[x - 1] <= r) & (cur[x + 1] < r) & (up[x - 1] <= r) & (up[x] <= r) & (up[x + 1] <= r) & (dn[x - 1] < r) & (dn[x] < r) & (dn[x + 1] < r))
                as u8
        }));
        for (x, _) in (x0..x1).zip(&flags).filter(|(_, &f)| f != 0) {
            let r = cur[x];
            let fast_score = fast.max_around(img, x, y);
            if fast_score == 0 {
                continue;
            }
            // Sub-pixel peak: separate parabola fits along x and y.
            let fit = |rm: f32, rp: f32| -> f32 {
                let denom = rm - 2.0 * r + rp;
                if denom < 0.0 {
                    (0.5 * (rm - rp) / denom).clamp(-0.5, 0.5)
                } else {
                    0.0
                }
            };
            let dx = fit(cur[x - 1], cur[x + 1]);
            let dy = fit(up[x], dn[x]);
            out.push(Candidate { x, y, dx, dy, fast_score, harris: r });
        }
    });
    out
}

/// Picks at most `budget` candidates spread over a `cols x rows` grid: inside a cell, corners at or
/// above `t_strong` come first, then by Harris response; across cells, every cell's best is taken
/// before any cell's second best, and so on (so weak cells get their weak corners, the adaptive
/// threshold lowering).
pub(crate) fn select_spread(
    cands: &[Candidate],
    width: usize,
    height: usize,
    cols: usize,
    rows: usize,
    t_strong: u8,
    budget: usize,
) -> Vec<Candidate> {
    let cols = cols.max(1);
    let rows = rows.max(1);
    let cell_of = |c: &Candidate| -> usize {
        let cx = (c.x * cols / width.max(1)).min(cols - 1);
        let cy = (c.y * rows / height.max(1)).min(rows - 1);
        cy * cols + cx
    };
    // Order within cells: (cell, strong first, Harris descending, position) - a total order.
    let mut order: Vec<(usize, usize)> = cands.iter().enumerate().map(|(i, c)| (cell_of(c), i)).collect();
    order.sort_by(|&(ca, ia), &(cb, ib)| {
        let (a, b) = (&cands[ia], &cands[ib]);
        ca.cmp(&cb)
            .then((b.fast_score >= t_strong).cmp(&(a.fast_score >= t_strong)))
            .then(b.harris.total_cmp(&a.harris))
            .then(ia.cmp(&ib))
    });
    // Rank inside the cell.
    let mut ranked: Vec<(usize, bool, f32, usize)> = Vec::with_capacity(order.len());
    let mut prev_cell = usize::MAX;
    let mut rank = 0usize;
    for &(cell, i) in &order {
        rank = if cell == prev_cell { rank + 1 } else { 0 };
        prev_cell = cell;
        ranked.push((rank, cands[i].fast_score >= t_strong, cands[i].harris, i));
    }
    ranked.sort_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)).then(b.2.total_cmp(&a.2)).then(a.3.cmp(&b.3)));
    ranked.truncate(budget);
    ranked.iter().map(|r| cands[r.3]).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run9_detection() {
        assert!(has_run9(0b1_1111_1111));
        assert!(!has_run9(0b1111_1111));
        // Wrapping run: bits 12..15 and 0..4 (9 bits).
        assert!(has_run9(0xF01F));
        assert!(!has_run9(0xF00F));
    }

    #[test]
    fn bright_square_corner_is_detected_and_flat_is_not() {
        let (w, h) = (40, 40);
        let mut img = GrayImage::new(w, h);
        for y in 20..h {
            for x in 20..w {
                img.data[y * w + x] = 200;
            }
        }
        let c = corners(&img, 20, 8, 0.04);
        assert!(!c.is_empty());
        // The corner is at (19.5, 19.5); the Harris peak of a step corner sits inside the bright
        // quadrant by up to half the window (and does so the same way in every view).
        assert_eq!(c.len(), 1, "{c:?}");
        let (x, y) = (c[0].x as f32 + c[0].dx, c[0].y as f32 + c[0].dy);
        assert!((19.5..=22.5).contains(&x) && (19.5..=22.5).contains(&y) && (x - y).abs() < 0.1, "{c:?}");
        let flat = GrayImage { width: w, height: h, data: vec![90; w * h] };
        assert!(corners(&flat, 5, 8, 0.04).is_empty());
    }

    #[test]
    fn spread_selection_visits_every_cell_first() {
        let mut cands = Vec::new();
        // Cell 0 has many strong corners, cell 1 a single weak one.
        for i in 0..10 {
            cands.push(Candidate { x: 1 + i, y: 1, fast_score: 50, harris: 1.0 + i as f32, dx: 0.0, dy: 0.0 });
        }
        cands.push(Candidate { x: 150, y: 1, fast_score: 8, harris: 0.1, dx: 0.0, dy: 0.0 });
        let sel = select_spread(&cands, 200, 100, 2, 1, 20, 3);
        assert_eq!(sel.len(), 3);
        assert!(sel.iter().any(|c| c.x == 150));
        assert!(sel.iter().any(|c| c.x == 10 && c.harris == 10.0));
    }
}
