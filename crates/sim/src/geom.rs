//! Planar geometry of the generated world: rigid 2D poses, reference paths made of straight lines
//! and circular arcs (the classic road-design alignment of tangents and circular curves), and
//! oriented rectangles for overlap tests.
//!
//! A [`Path`] is parameterised by arc length `s`; a point's position relative to it is `(s, d)`
//! with `d` the signed lateral offset, positive to the left of the direction of travel. Every
//! lane, lane line, curb and sidewalk is a parallel curve (constant `d`) of a road's path, so the
//! painted ground, the map polylines and the vehicle routes are all derived from the same exact
//! geometry.

use std::f64::consts::PI;

/// Wraps an angle to (-pi, pi].
pub fn wrap_pi(a: f64) -> f64 {
    let mut x = a % (2.0 * PI);
    if x <= -PI {
        x += 2.0 * PI;
    } else if x > PI {
        x -= 2.0 * PI;
    }
    x
}

/// A rigid transform of the plane: rotation by `heading` then translation by `(x, y)`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Pose2 {
    pub x: f64,
    pub y: f64,
    pub heading: f64,
}

impl Pose2 {
    pub const IDENTITY: Pose2 = Pose2 { x: 0.0, y: 0.0, heading: 0.0 };

    pub fn new(x: f64, y: f64, heading: f64) -> Self {
        Self { x, y, heading }
    }
    /// Maps a point from this pose's local frame into the parent frame.
    pub fn apply(&self, p: [f64; 2]) -> [f64; 2] {
        let (s, c) = self.heading.sin_cos();
        [self.x + c * p[0] - s * p[1], self.y + s * p[0] + c * p[1]]
    }
    /// `self * other`.
    pub fn compose(&self, other: &Pose2) -> Pose2 {
        let p = self.apply([other.x, other.y]);
        Pose2::new(p[0], p[1], wrap_pi(self.heading + other.heading))
    }
    pub fn inverse(&self) -> Pose2 {
        let (s, c) = self.heading.sin_cos();
        Pose2::new(-(c * self.x + s * self.y), s * self.x - c * self.y, wrap_pi(-self.heading))
    }
}

/// Where a point lies relative to a segment or path.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Projection {
    /// Arc length of the nearest point (clamped to the segment / path).
    pub s: f64,
    /// Signed lateral offset (positive to the left).
    pub d: f64,
    /// Euclidean distance to the nearest point of the (clamped) curve.
    pub dist: f64,
}

/// One piece of a path: a straight line (`curvature == 0`) or a circular arc.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Segment {
    pub start: [f64; 2],
    pub heading0: f64,
    pub length: f64,
    /// Signed curvature in 1/m (positive turns left).
    pub curvature: f64,
    /// Arc length of the segment start along its path.
    pub s0: f64,
    cos0: f64,
    sin0: f64,
    /// Arc centre (arcs only).
    centre: [f64; 2],
    heading_mid: f64,
}

impl Segment {
    fn new(start: [f64; 2], heading0: f64, length: f64, curvature: f64, s0: f64) -> Self {
        let (sin0, cos0) = heading0.sin_cos();
        let centre = if curvature != 0.0 { [start[0] - sin0 / curvature, start[1] + cos0 / curvature] } else { start };
        Self { start, heading0, length, curvature, s0, cos0, sin0, centre, heading_mid: heading0 + 0.5 * curvature * length }
    }

    pub fn is_arc(&self) -> bool {
        self.curvature != 0.0
    }

    /// Centre of an arc (the start point for a line).
    pub fn centre(&self) -> [f64; 2] {
        self.centre
    }

    /// Position and heading at local arc length `u` (may extrapolate beyond [0, length]).
    #[inline]
    pub fn pose_at(&self, u: f64) -> ([f64; 2], f64) {
        if self.curvature == 0.0 {
            ([self.start[0] + u * self.cos0, self.start[1] + u * self.sin0], self.heading0)
        } else {
            let h = self.heading0 + self.curvature * u;
            let (sh, ch) = h.sin_cos();
            ([self.start[0] + (sh - self.sin0) / self.curvature, self.start[1] + (self.cos0 - ch) / self.curvature], h)
        }
    }

    /// Nearest point on the segment (clamped to its ends).
    #[inline(always)]
    pub fn project(&self, x: f64, y: f64) -> Projection {
        if self.curvature == 0.0 {
            let (dx, dy) = (x - self.start[0], y - self.start[1]);
            let u = dx * self.cos0 + dy * self.sin0;
            let d = -dx * self.sin0 + dy * self.cos0;
            if u < 0.0 {
                Projection { s: self.s0, d, dist: (dx * dx + dy * dy).sqrt() }
            } else if u > self.length {
                let (ex, ey) = (dx - self.length * self.cos0, dy - self.length * self.sin0);
                Projection { s: self.s0 + self.length, d, dist: (ex * ex + ey * ey).sqrt() }
            } else {
                Projection { s: self.s0 + u, d, dist: d.abs() }
            }
        } else {
            let (vx, vy) = (x - self.centre[0], y - self.centre[1]);
            let r = (vx * vx + vy * vy).sqrt();
            let k = self.curvature;
            let radius = 1.0 / k.abs();
            // Direction from the centre to the curve point with heading h is (sin h, -cos h) for
            // left turns and (-sin h, cos h) for right turns.
            let h = if k > 0.0 { vx.atan2(-vy) } else { (-vx).atan2(vy) };
            let u = 0.5 * self.length + wrap_pi(h - self.heading_mid) / k;
            let d = k.signum() * (radius - r);
            if (0.0..=self.length).contains(&u) {
                Projection { s: self.s0 + u, d, dist: d.abs() }
            } else {
                let uc = u.clamp(0.0, self.length);
                let (p, _) = self.pose_at(uc);
                Projection { s: self.s0 + uc, d, dist: ((x - p[0]).powi(2) + (y - p[1]).powi(2)).sqrt() }
            }
        }
    }

    fn transformed(&self, t: &Pose2) -> Segment {
        Segment::new(t.apply(self.start), self.heading0 + t.heading, self.length, self.curvature, self.s0)
    }
}

/// A G1-continuous chain of lines and arcs, parameterised by arc length from its start.
#[derive(Debug, Clone, PartialEq)]
pub struct Path {
    segments: Vec<Segment>,
}

impl Path {
    /// An empty path starting at `start`; extend it with [`PathBuilder::line`] and [`PathBuilder::arc`].
    pub fn starting_at(start: Pose2) -> PathBuilder {
        PathBuilder { at: start, s: 0.0, segments: Vec::new() }
    }

    pub fn segments(&self) -> &[Segment] {
        &self.segments
    }

    pub fn length(&self) -> f64 {
        self.segments.last().map_or(0.0, |g| g.s0 + g.length)
    }

    fn segment_index(&self, s: f64) -> usize {
        self.segments.partition_point(|g| g.s0 <= s).saturating_sub(1)
    }

    /// Position and heading at arc length `s`; beyond either end the path continues straight
    /// along its end tangent.
    pub fn pose_at(&self, s: f64) -> ([f64; 2], f64) {
        let first = &self.segments[0];
        if s < 0.0 {
            let (sh, ch) = first.heading0.sin_cos();
            return ([first.start[0] + s * ch, first.start[1] + s * sh], first.heading0);
        }
        let total = self.length();
        if s > total {
            let last = self.segments[self.segments.len() - 1];
            let (p, h) = last.pose_at(last.length);
            let (sh, ch) = h.sin_cos();
            return ([p[0] + (s - total) * ch, p[1] + (s - total) * sh], h);
        }
        let g = &self.segments[self.segment_index(s)];
        g.pose_at(s - g.s0)
    }

    /// The point at arc length `s` moved `d` to the left, and the path heading there.
    pub fn offset_point(&self, s: f64, d: f64) -> ([f64; 2], f64) {
        let (p, h) = self.pose_at(s);
        let (sh, ch) = h.sin_cos();
        ([p[0] - d * sh, p[1] + d * ch], h)
    }

    /// Signed curvature at `s` (0 beyond the ends).
    pub fn curvature_at(&self, s: f64) -> f64 {
        if s < 0.0 || s > self.length() {
            return 0.0;
        }
        self.segments[self.segment_index(s)].curvature
    }

    /// Heading change from the path start to `s`.
    pub fn turned_at(&self, s: f64) -> f64 {
        let s = s.clamp(0.0, self.length());
        let g = &self.segments[self.segment_index(s)];
        g.heading0 + g.curvature * (s - g.s0) - self.segments[0].heading0
    }

    /// Arc length, measured along the parallel curve at offset `d`, from the path start to the
    /// point abreast of `s`: a parallel curve of an arc of curvature `k` is `1 - k d` times as
    /// long, so the total is `s - d * (heading(s) - heading(0))`.
    pub fn parallel_length(&self, s: f64, d: f64) -> f64 {
        s - d * self.turned_at(s)
    }

    /// Nearest point over all segments.
    pub fn project(&self, x: f64, y: f64) -> Projection {
        let mut best = Projection { s: 0.0, d: 0.0, dist: f64::INFINITY };
        for g in &self.segments {
            let p = g.project(x, y);
            if p.dist < best.dist {
                best = p;
            }
        }
        best
    }

    /// Nearest point among the segments overlapping `[s_lo, s_hi]` (a local search that cannot
    /// jump to a far part of a winding path).
    pub fn project_within(&self, x: f64, y: f64, s_lo: f64, s_hi: f64) -> Projection {
        let mut best = Projection { s: 0.0, d: 0.0, dist: f64::INFINITY };
        for g in self.segments.iter().filter(|g| g.s0 <= s_hi && g.s0 + g.length >= s_lo) {
            let p = g.project(x, y);
            if p.dist < best.dist {
                best = p;
            }
        }
        if best.dist.is_infinite() {
            return self.project(x, y);
        }
        best
    }

    /// Stations from `s_a` to `s_b` (increasing; `s_a <= s_b`) for approximating the parallel
    /// curve at offset `d` by chords: segment joints are always included, lines are cut into
    /// pieces of at most `max_line` metres, arcs so that pieces are at most `max_arc` long (on
    /// the parallel curve) and their chords stray less than `chord_tol` from it.
    pub fn stations(&self, s_a: f64, s_b: f64, d: f64, max_line: f64, max_arc: f64, chord_tol: f64) -> Vec<f64> {
        let (lo, hi) = (s_a.min(s_b), s_a.max(s_b));
        let mut stations = vec![lo];
        for g in &self.segments {
            let (g0, g1) = (g.s0.max(lo), (g.s0 + g.length).min(hi));
            if g1 <= g0 {
                continue;
            }
            let step = if g.is_arc() {
                let radius = (1.0 / g.curvature.abs() - d * g.curvature.signum()).abs().max(1e-3);
                // Chord sagitta c^2 / (8 r) < chord_tol; `c` measured on the parallel curve.
                let step_parallel = max_arc.min((8.0 * radius * chord_tol).sqrt());
                step_parallel / (radius * g.curvature.abs()).max(1e-6)
            } else {
                max_line
            };
            let n = ((g1 - g0) / step).ceil().max(1.0) as usize;
            for i in 1..=n {
                stations.push(g0 + (g1 - g0) * i as f64 / n as f64);
            }
        }
        if stations.last().is_some_and(|&l| l < hi) {
            stations.push(hi);
        }
        stations.dedup_by(|a, b| (*a - *b).abs() < 1e-9);
        stations
    }

    /// Points of the parallel curve at offset `d` from `s_a` to `s_b` (either order), with
    /// vertices at segment joints, at most `max_step` apart on arcs (chord error below 5 mm)
    /// and `2 * max_step` apart on straight lines (so consumers can interpolate between
    /// vertices without subdividing).
    pub fn sample_offset(&self, s_a: f64, s_b: f64, d: f64, max_step: f64) -> Vec<[f64; 2]> {
        let stations = self.stations(s_a, s_b, d, 2.0 * max_step, max_step, 0.005);
        let mut pts: Vec<[f64; 2]> = stations.iter().map(|&s| self.offset_point(s, d).0).collect();
        if s_a > s_b {
            pts.reverse();
        }
        pts
    }

    /// The same path moved by `t` (arc lengths unchanged).
    pub fn transformed(&self, t: &Pose2) -> Path {
        Path { segments: self.segments.iter().map(|g| g.transformed(t)).collect() }
    }
}

/// Builds a [`Path`] segment by segment.
#[derive(Debug, Clone)]
pub struct PathBuilder {
    at: Pose2,
    s: f64,
    segments: Vec<Segment>,
}

impl PathBuilder {
    /// Appends a straight line of `length` metres (ignored if not positive).
    pub fn line(mut self, length: f64) -> Self {
        if length > 0.0 {
            let g = Segment::new([self.at.x, self.at.y], self.at.heading, length, 0.0, self.s);
            self.push(g);
        }
        self
    }
    /// Appends an arc turning by `angle` radians (positive left) on a circle of `radius`.
    pub fn arc(mut self, radius: f64, angle: f64) -> Self {
        if radius > 0.0 && angle != 0.0 {
            let g = Segment::new([self.at.x, self.at.y], self.at.heading, radius * angle.abs(), angle.signum() / radius, self.s);
            self.push(g);
        }
        self
    }
    fn push(&mut self, g: Segment) {
        let (p, h) = g.pose_at(g.length);
        self.at = Pose2::new(p[0], p[1], h);
        self.s += g.length;
        self.segments.push(g);
    }
    /// The finished path. A path needs at least one segment; an empty builder yields a 1 mm line.
    pub fn build(self) -> Path {
        if self.segments.is_empty() {
            return self.line(1e-3).build();
        }
        Path { segments: self.segments }
    }
}

/// An oriented rectangle on the ground plane.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Obb2 {
    pub centre: [f64; 2],
    pub heading: f64,
    pub half_length: f64,
    pub half_width: f64,
}

impl Obb2 {
    pub fn new(centre: [f64; 2], heading: f64, half_length: f64, half_width: f64) -> Self {
        Self { centre, heading, half_length, half_width }
    }

    /// The four corners, counter-clockwise from rear-right.
    pub fn corners(&self) -> [[f64; 2]; 4] {
        let (s, c) = self.heading.sin_cos();
        let (l, w) = (self.half_length, self.half_width);
        [(-l, -w), (l, -w), (l, w), (-l, w)].map(|(a, b)| [self.centre[0] + c * a - s * b, self.centre[1] + s * a + c * b])
    }

    /// Whether the rectangles, each grown by `margin` on every side, overlap (separating axes).
    pub fn overlaps(&self, other: &Obb2, margin: f64) -> bool {
        let (dx, dy) = (other.centre[0] - self.centre[0], other.centre[1] - self.centre[1]);
        let ra = (self.half_length.hypot(self.half_width)) + margin;
        let rb = (other.half_length.hypot(other.half_width)) + margin;
        if dx * dx + dy * dy > (ra + rb) * (ra + rb) {
            return false;
        }
        let axes = |h: f64| {
            let (s, c) = h.sin_cos();
            [[c, s], [-s, c]]
        };
        let a_axes = axes(self.heading);
        let b_axes = axes(other.heading);
        let extent = |ax: &[f64; 2], axes: &[[f64; 2]; 2], l: f64, w: f64| {
            l * (ax[0] * axes[0][0] + ax[1] * axes[0][1]).abs() + w * (ax[0] * axes[1][0] + ax[1] * axes[1][1]).abs()
        };
        for ax in a_axes.iter().chain(b_axes.iter()) {
            let dist = (dx * ax[0] + dy * ax[1]).abs();
            let ea = extent(ax, &a_axes, self.half_length + margin, self.half_width + margin);
            let eb = extent(ax, &b_axes, other.half_length + margin, other.half_width + margin);
            if dist > ea + eb {
                return false;
            }
        }
        true
    }

    /// Whether a point lies inside the rectangle grown by `margin`.
    pub fn contains(&self, p: [f64; 2], margin: f64) -> bool {
        let (s, c) = self.heading.sin_cos();
        let (dx, dy) = (p[0] - self.centre[0], p[1] - self.centre[1]);
        (c * dx + s * dy).abs() <= self.half_length + margin && (-s * dx + c * dy).abs() <= self.half_width + margin
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s_curve() -> Path {
        Path::starting_at(Pose2::new(-10.0, 2.0, 0.3)).line(20.0).arc(30.0, 0.8).line(5.0).arc(15.0, -1.2).line(10.0).build()
    }

    #[test]
    fn poses_are_continuous_and_projection_inverts_offset_points() {
        let p = s_curve();
        let total = p.length();
        assert!((total - (20.0 + 24.0 + 5.0 + 18.0 + 10.0)).abs() < 1e-9);
        let mut prev = p.pose_at(0.0);
        let mut s = 0.05;
        while s < total {
            let cur = p.pose_at(s);
            let step = ((cur.0[0] - prev.0[0]).powi(2) + (cur.0[1] - prev.0[1]).powi(2)).sqrt();
            assert!((step - 0.05).abs() < 1e-4, "jump at s={s}: {step}");
            assert!(wrap_pi(cur.1 - prev.1).abs() < 0.01);
            for d in [-3.0, 0.0, 2.5] {
                let (q, _) = p.offset_point(s, d);
                let pr = p.project(q[0], q[1]);
                assert!((pr.s - s).abs() < 1e-6 && (pr.d - d).abs() < 1e-6, "s={s} d={d}: {pr:?}");
            }
            prev = cur;
            s += 0.05;
        }
        // Parallel lengths: inside of a left arc is shorter.
        let (a, b) = (20.0, 44.0);
        let inner = p.parallel_length(b, 2.0) - p.parallel_length(a, 2.0);
        assert!((inner - (30.0 - 2.0) * 0.8).abs() < 1e-9);
        assert!((p.turned_at(total) - (0.8 - 1.2)).abs() < 1e-12);
    }

    #[test]
    fn offset_sampling_is_dense_on_arcs_and_exact() {
        let p = s_curve();
        let pts = p.sample_offset(0.0, p.length(), 1.5, 0.5);
        for w in pts.windows(2) {
            let seg = ((w[1][0] - w[0][0]).powi(2) + (w[1][1] - w[0][1]).powi(2)).sqrt();
            assert!(seg <= 1.0 + 1e-9, "{seg}");
        }
        for q in &pts {
            assert!((p.project(q[0], q[1]).d - 1.5).abs() < 1e-9);
        }
        let back = p.sample_offset(p.length(), 0.0, 1.5, 0.5);
        assert_eq!(back.first(), pts.last());
    }

    #[test]
    fn transforms_and_rectangles() {
        let t = Pose2::new(3.0, -1.0, 0.7);
        let q = t.compose(&t.inverse());
        assert!(q.x.abs() < 1e-12 && q.y.abs() < 1e-12 && q.heading.abs() < 1e-12);
        let p = s_curve();
        let moved = p.transformed(&t);
        let (a, ha) = p.pose_at(33.0);
        let (b, hb) = moved.pose_at(33.0);
        let ta = t.apply(a);
        assert!((ta[0] - b[0]).abs() < 1e-9 && (ta[1] - b[1]).abs() < 1e-9 && wrap_pi(ha + 0.7 - hb).abs() < 1e-12);

        let r1 = Obb2::new([0.0, 0.0], 0.0, 2.0, 1.0);
        let r2 = Obb2::new([3.5, 0.0], std::f64::consts::FRAC_PI_4, 1.0, 1.0);
        assert!(!r1.overlaps(&r2, 0.0));
        assert!(r1.overlaps(&r2, 0.2));
        assert!(r1.contains([1.9, 0.9], 0.0) && !r1.contains([2.1, 0.0], 0.0));
    }
}
