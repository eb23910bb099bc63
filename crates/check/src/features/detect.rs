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

/// FAST score of pixel `(x, y)`: the largest `t` for which 9 contiguous circle pixels are all
/// brighter than `p + t` or all darker than `p - t` (strict), or 0 when there is none `>= t_min`.
/// The caller keeps `(x, y)` at least 3 pixels from the edges.
#[inline]
fn fast_score(img: &GrayImage, x: usize, y: usize, t_min: u8) -> u8 {
    let w = img.width;
    let data = &img.data;
    // The 7x7 window as fixed-length rows: constant indices below need no bounds checks.
    let rows: [&[u8]; 7] = std::array::from_fn(|dy| {
        let start = (y + dy - 3) * w + x - 3;
        &data[start..start + 7]
    });
    let at = |k: usize| rows[(CIRCLE[k].1 + 3) as usize][(CIRCLE[k].0 + 3) as usize] as i32;
    let p = rows[3][3] as i32;
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
    // Score: max over 9-arcs of (min |d| with a consistent sign) - 1 (strict inequality).
    let mut best = 0i32;
    for start in 0..16 {
        let (mut lo, mut hi) = (i32::MAX, i32::MIN);
        for j in 0..9 {
            let v = d[(start + j) & 15];
            lo = lo.min(v);
            hi = hi.max(v);
        }
        best = best.max(lo - 1).max(-hi - 1);
    }
    best.clamp(0, 255) as u8
}

/// Dense Harris response `det(M) - k tr(M)^2` of a level, with central-difference gradients summed
/// over a 7x7 window and normalised to be independent of the window size and of the 8-bit range;
/// zero within `HARRIS_HALF + 1` pixels of the edges.
pub(crate) fn harris_map(img: &GrayImage, k: f32) -> Vec<f32> {
    let (w, h) = (img.width, img.height);
    let mut out = vec![0.0f32; w * h];
    let half = HARRIS_HALF as usize;
    if w < 2 * half + 3 || h < 2 * half + 3 {
        return out;
    }
    let data = &img.data;
    // Gradient products (zero on the outermost ring).
    let mut prod = vec![[0i32; 3]; w * h];
    for y in 1..h - 1 {
        for x in 1..w - 1 {
            let i = y * w + x;
            let gx = data[i + 1] as i32 - data[i - 1] as i32;
            let gy = data[i + w] as i32 - data[i - w] as i32;
            prod[i] = [gx * gx, gy * gy, gx * gy];
        }
    }
    // Vertical 7-sums for rows half+1 .. h-half-1 (windows of valid gradients only).
    let mut vert = vec![[0i32; 3]; w * h];
    for y in half + 1..h - half - 1 {
        let dst = &mut vert[y * w..(y + 1) * w];
        for dy in 0..=2 * half {
            let src = &prod[(y + dy - half) * w..(y + dy - half + 1) * w];
            for (d, s) in dst.iter_mut().zip(src) {
                d[0] += s[0];
                d[1] += s[1];
                d[2] += s[2];
            }
        }
    }
    let n = ((2 * half + 1) * (2 * half + 1)) as f64 * (2.0 * 255.0) * (2.0 * 255.0);
    let k = k as f64;
    for y in half + 1..h - half - 1 {
        let row = &vert[y * w..(y + 1) * w];
        let mut acc = [0i32; 3];
        for v in &row[1..2 * half + 1] {
            acc = [acc[0] + v[0], acc[1] + v[1], acc[2] + v[2]];
        }
        for x in half + 1..w - half - 1 {
            let (add, sub) = (row[x + half], row[x - half - 1]);
            acc = [acc[0] + add[0] - sub[0], acc[1] + add[1] - sub[1], acc[2] + add[2] - sub[2]];
            let (a, b, c) = (acc[0] as f64 / n, acc[1] as f64 / n, acc[2] as f64 / n);
            out[y * w + x] = ((a * b - c * c) - k * (a + b) * (a + b)) as f32;
        }
    }
    out
}

/// Corners of a level: 3x3 maxima of the Harris response (positive, so edges are dropped) that have
/// a FAST-9 corner with score `>= t_min` within 2 pixels (the segment test fires a pixel or two
/// inside a corner, while the Harris maximum sits on it), at least `border_px` from every edge.
/// `scores` is scratch space.
pub(crate) fn corners(img: &GrayImage, t_min: u8, border_px: usize, harris_k: f32, scores: &mut Vec<u8>) -> Vec<Candidate> {
    let (w, h) = (img.width, img.height);
    let mut out = Vec::new();
    if w <= 2 * border_px || h <= 2 * border_px || border_px < HARRIS_HALF as usize + 3 {
        return out;
    }
    scores.clear();
    scores.resize(w * h, 0);
    // FAST scores two pixels beyond the border, for the neighbourhood gate.
    let (b0, bx1, by1) = (border_px - 2, w - border_px + 2, h - border_px + 2);
    for y in b0..by1 {
        for x in b0..bx1 {
            scores[y * w + x] = fast_score(img, x, y, t_min);
        }
    }
    let resp = harris_map(img, harris_k);
    for y in border_px..h - border_px {
        for x in border_px..w - border_px {
            let r = resp[y * w + x];
            if r <= 0.0 {
                continue;
            }
            // Ties are broken towards the later pixel in raster order, deterministically.
            let before = [resp[(y - 1) * w + x - 1], resp[(y - 1) * w + x], resp[(y - 1) * w + x + 1], resp[y * w + x - 1]];
            let after = [resp[y * w + x + 1], resp[(y + 1) * w + x - 1], resp[(y + 1) * w + x], resp[(y + 1) * w + x + 1]];
            if before.iter().any(|&n| n > r) || after.iter().any(|&n| n >= r) {
                continue;
            }
            let mut fast = 0u8;
            for yy in y - 2..=y + 2 {
                for &s in &scores[yy * w + x - 2..=yy * w + x + 2] {
                    fast = fast.max(s);
                }
            }
            if fast == 0 {
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
            let dx = fit(resp[y * w + x - 1], resp[y * w + x + 1]);
            let dy = fit(resp[(y - 1) * w + x], resp[(y + 1) * w + x]);
            out.push(Candidate { x, y, dx, dy, fast_score: fast, harris: r });
        }
    }
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
        let mut scratch = Vec::new();
        let c = corners(&img, 20, 8, 0.04, &mut scratch);
        assert!(!c.is_empty());
        // The corner is at (19.5, 19.5); the Harris peak of a step corner sits inside the bright
        // quadrant by up to half the window (and does so the same way in every view).
        assert_eq!(c.len(), 1, "{c:?}");
        let (x, y) = (c[0].x as f32 + c[0].dx, c[0].y as f32 + c[0].dy);
        assert!((19.5..=22.5).contains(&x) && (19.5..=22.5).contains(&y) && (x - y).abs() < 0.1, "{c:?}");
        let flat = GrayImage { width: w, height: h, data: vec![90; w * h] };
        assert!(corners(&flat, 5, 8, 0.04, &mut scratch).is_empty());
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
