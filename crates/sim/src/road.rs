//! The road network of a world: exact road geometry, the painted ground it produces, and the map
//! elements describing it.
//!
//! A [`Road`] is a reference [`Path`] (its centre line, between the two directions of travel) with
//! a cross-section: lanes of equal width on each side (right-hand traffic: lanes in the path
//! direction lie to the right, `d < 0`), a paved shoulder or parking strip out to the curb, and a
//! sidewalk beyond. Lines are painted on lane boundaries: the centre line (double or single
//! yellow, or white), dashed white between lanes of one direction, solid white at the outer lane
//! edges. Along each road, *line breaks* (intervals of arc length) suppress lane lines where a
//! wait line or crosswalk interrupts them, and *curb breaks* suppress curbs, edge lines and
//! sidewalks where another road joins; [`CurbReturn`]s round the corners of an intersection, and
//! [`Decal`]s draw crosswalks (zebra bars) and wait lines.
//!
//! [`RoadNetwork`] implements [`Ground`]: the albedo of any ground point, box-filtered over the
//! pixel footprint (see [`crate::groundtex`]). Queries go through a uniform grid of 4 m cells built
//! once, each listing the road segments, curb returns and decals that can influence it; a query
//! evaluates only those, exactly, with no allocation. The same geometry produces the map
//! ([`RoadNetwork::map_elements`]): a lane-line polyline runs along the centre of its painted line
//! (for a double line, midway between the two stripes), a crosswalk polygon is the outline of its
//! bars, a road boundary is the road-side face of the curb.

use std::collections::BTreeMap;
use std::fmt;

use nalgebra::Point3;
use serde_json::{json, Map, Value};
use worldrig_scene::{MapElement, MapElementKind, MapGeometry};

use crate::geom::{Path, Projection};
use crate::groundtex::{interval_coverage, mix3, periodic_coverage, smoothstep, value_noise, GroundStyle};
use crate::world::Ground;

/// Most roads a network may have (an intersection has two).
pub const MAX_ROADS: usize = 4;

/// Map polylines have vertices at most this far apart along curves (twice this on straight
/// lines).
pub const MAP_SAMPLE_M: f64 = 0.5;

/// The line between the two directions of travel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CentreLine {
    DoubleYellow,
    SingleYellow,
    SingleWhite,
}

/// Direction of travel relative to a road's path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Dir {
    /// Along increasing arc length (lanes on the right, `d < 0`).
    Forward,
    /// Against it (lanes on the left, `d > 0`).
    Backward,
}

impl Dir {
    pub fn sign(self) -> f64 {
        match self {
            Dir::Forward => 1.0,
            Dir::Backward => -1.0,
        }
    }
}

/// One road: a reference path and its cross-section.
#[derive(Debug, Clone, PartialEq)]
pub struct Road {
    pub path: Path,
    pub lanes_forward: u32,
    pub lanes_backward: u32,
    pub lane_width_m: f64,
    /// Paved width from the outer lane edge to the curb, right (`d < 0`) and left side.
    pub shoulder_right_m: f64,
    pub shoulder_left_m: f64,
    pub sidewalk_m: f64,
    pub centre_line: CentreLine,
    /// Width of one painted line.
    pub line_width_m: f64,
    pub dash_m: f64,
    pub gap_m: f64,
    /// Arc-length intervals without lane or edge lines.
    pub line_breaks: Vec<(f64, f64)>,
    /// Arc-length intervals without curbs, edge lines and sidewalks (where another road joins).
    pub curb_breaks: Vec<(f64, f64)>,
}

impl Road {
    /// Lateral offset of the centre of lane `index` (0 = next to the centre line).
    pub fn lane_centre(&self, dir: Dir, index: u32) -> f64 {
        -dir.sign() * (index as f64 + 0.5) * self.lane_width_m
    }
    pub fn lanes(&self, dir: Dir) -> u32 {
        match dir {
            Dir::Forward => self.lanes_forward,
            Dir::Backward => self.lanes_backward,
        }
    }
    /// Lateral offset of the curb face on the side of `dir`'s lanes.
    pub fn curb_offset(&self, dir: Dir) -> f64 {
        match dir {
            Dir::Forward => -(self.lanes_forward as f64 * self.lane_width_m + self.shoulder_right_m),
            Dir::Backward => self.lanes_backward as f64 * self.lane_width_m + self.shoulder_left_m,
        }
    }
    /// Centre-to-centre distance of the two stripes of a double line.
    pub fn double_spacing_m(&self) -> f64 {
        self.line_width_m + 0.1
    }
    /// Half width of the paved road (centre line to curb face) on the side of offset `d`.
    #[inline]
    pub fn half_width(&self, d: f64) -> f64 {
        if d < 0.0 {
            self.lanes_forward as f64 * self.lane_width_m + self.shoulder_right_m
        } else {
            self.lanes_backward as f64 * self.lane_width_m + self.shoulder_left_m
        }
    }
    #[inline]
    pub fn in_line_break(&self, s: f64) -> bool {
        self.line_breaks.iter().any(|&(a, b)| s > a && s < b)
    }
    #[inline]
    pub fn in_curb_break(&self, s: f64) -> bool {
        self.curb_breaks.iter().any(|&(a, b)| s > a && s < b)
    }
    /// Start of the stretch of painted line containing `s` (dash patterns start there).
    #[inline]
    fn line_piece_start(&self, s: f64) -> f64 {
        self.line_breaks.iter().filter(|&&(_, b)| b <= s).fold(0.0, |acc, &(_, b)| acc.max(b))
    }
    /// Arc-length intervals of `[0, length]` outside all of `breaks`.
    pub fn pieces(&self, breaks: &[(f64, f64)]) -> Vec<(f64, f64)> {
        let mut bs: Vec<(f64, f64)> = breaks.to_vec();
        bs.sort_by(|a, b| a.0.total_cmp(&b.0));
        let mut out = Vec::new();
        let mut at = 0.0;
        for (a, b) in bs {
            if a > at {
                out.push((at, a.min(self.path.length())));
            }
            at = at.max(b);
        }
        if at < self.path.length() {
            out.push((at, self.path.length()));
        }
        out.retain(|(a, b)| b - a > 0.05);
        out
    }
    /// The lines painted across the road, from right to left: `(lane boundary index, offset)`;
    /// index 0 is the centre line, `-lanes_forward` and `lanes_backward` the edge lines.
    pub fn line_offsets(&self) -> Vec<(i32, f64)> {
        (-(self.lanes_forward as i32)..=self.lanes_backward as i32).map(|k| (k, k as f64 * self.lane_width_m)).collect()
    }
}

/// A rounded curb corner where two roads meet: a quarter circle of `radius_m` about `centre`,
/// from `centre + radius * u` (on one road's curb line) to `centre + radius * v` (on the other's).
/// Inside the square spanned by `u` and `v`, points farther than the radius from the centre are
/// road, a ring of sidewalk width inside it is sidewalk.
#[derive(Debug, Clone, PartialEq)]
pub struct CurbReturn {
    pub centre: [f64; 2],
    pub radius_m: f64,
    pub u: [f64; 2],
    pub v: [f64; 2],
    pub sidewalk_m: f64,
}

impl CurbReturn {
    /// Point of the curb arc at angle `phi` in [0, pi/2] from `u` towards `v`.
    pub fn arc_point(&self, phi: f64) -> [f64; 2] {
        let (s, c) = phi.sin_cos();
        let r = self.radius_m;
        [self.centre[0] + r * (c * self.u[0] + s * self.v[0]), self.centre[1] + r * (c * self.u[1] + s * self.v[1])]
    }
    /// Local square coordinates `(a, b)` of a point (both in `[0, radius]` inside the square).
    #[inline]
    fn local(&self, x: f64, y: f64) -> (f64, f64) {
        let (dx, dy) = (x - self.centre[0], y - self.centre[1]);
        (dx * self.u[0] + dy * self.u[1], dx * self.v[0] + dy * self.v[1])
    }
}

/// What a decal paints.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum DecalKind {
    /// Zebra bars along `along`, `bar_m` wide, repeating every `period_m` across, one centred on
    /// the rectangle's centre line.
    Crosswalk { bar_m: f64, period_m: f64 },
    /// A solid white bar (a wait line across the lanes of one direction).
    WaitLine,
}

/// A painted rectangle on the road: `half_u` along the unit vector `along` (the road direction),
/// `half_v` across it.
#[derive(Debug, Clone, PartialEq)]
pub struct Decal {
    pub kind: DecalKind,
    pub centre: [f64; 2],
    pub along: [f64; 2],
    pub half_u: f64,
    pub half_v: f64,
}

impl Decal {
    #[inline]
    fn local(&self, x: f64, y: f64) -> (f64, f64) {
        let (dx, dy) = (x - self.centre[0], y - self.centre[1]);
        (dx * self.along[0] + dy * self.along[1], -dx * self.along[1] + dy * self.along[0])
    }
    /// Corners counter-clockwise.
    pub fn corners(&self) -> [[f64; 2]; 4] {
        let (a, n) = (self.along, [-self.along[1], self.along[0]]);
        [(-1.0, -1.0), (1.0, -1.0), (1.0, 1.0), (-1.0, 1.0)].map(|(su, sv)| {
            [self.centre[0] + su * self.half_u * a[0] + sv * self.half_v * n[0], self.centre[1] + su * self.half_u * a[1] + sv * self.half_v * n[1]]
        })
    }
}

/// Kind of ground at a point.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Surface {
    Road,
    Sidewalk,
    Verge,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Item {
    Seg { road: u8, seg: u16 },
    Corner(u16),
    Decal(u16),
}

/// Uniform grid over the network's bounds; each cell lists the features that can touch it
/// (compressed rows: the items of cell `i` are `items[starts[i]..starts[i + 1]]`).
#[derive(Clone, PartialEq)]
struct Grid {
    x0: f64,
    y0: f64,
    inv_cell: f64,
    nx: usize,
    ny: usize,
    starts: Vec<u32>,
    items: Vec<Item>,
}

impl fmt::Debug for Grid {
    /// A summary plus a checksum of the contents (the full listing would be megabytes).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut h: u64 = 0xCBF2_9CE4_8422_2325;
        let mut eat = |v: u64| h = (h ^ v).wrapping_mul(0x0000_0100_0000_01B3);
        self.starts.iter().for_each(|&s| eat(s as u64));
        for it in &self.items {
            eat(match *it {
                Item::Seg { road, seg } => (1 << 40) | ((road as u64) << 20) | seg as u64,
                Item::Corner(i) => (2 << 40) | i as u64,
                Item::Decal(i) => (3 << 40) | i as u64,
            });
        }
        f.debug_struct("Grid")
            .field("origin", &(self.x0, self.y0))
            .field("cell_m", &(1.0 / self.inv_cell))
            .field("cells", &(self.nx, self.ny))
            .field("items", &self.items.len())
            .field("checksum", &format_args!("{h:016x}"))
            .finish()
    }
}

impl Grid {
    #[inline]
    fn items_at(&self, x: f64, y: f64) -> &[Item] {
        let fx = (x - self.x0) * self.inv_cell;
        let fy = (y - self.y0) * self.inv_cell;
        if !(fx >= 0.0 && fy >= 0.0) {
            return &[];
        }
        let (ix, iy) = (fx as usize, fy as usize);
        if ix >= self.nx || iy >= self.ny {
            return &[];
        }
        let c = iy * self.nx + ix;
        &self.items[self.starts[c] as usize..self.starts[c + 1] as usize]
    }
}

/// Nearest point of one road to a query point.
#[derive(Debug, Clone, Copy)]
struct Hit {
    p: Projection,
    seg: u16,
}

const NO_HIT: Hit = Hit { p: Projection { s: 0.0, d: 0.0, dist: f64::INFINITY }, seg: 0 };

/// The roads of a world and everything painted on the ground.
#[derive(Debug, Clone)]
pub struct RoadNetwork {
    roads: Vec<Road>,
    curb_returns: Vec<CurbReturn>,
    decals: Vec<Decal>,
    style: GroundStyle,
    grid: Grid,
}

impl RoadNetwork {
    /// Builds the network and its lookup grid. At most [`MAX_ROADS`] roads (extra ones are
    /// ignored), each with fewer than 65536 segments.
    pub fn new(mut roads: Vec<Road>, curb_returns: Vec<CurbReturn>, decals: Vec<Decal>, style: GroundStyle) -> Self {
        roads.truncate(MAX_ROADS);
        let grid = build_grid(&roads, &curb_returns, &decals);
        Self { roads, curb_returns, decals, style, grid }
    }

    pub fn roads(&self) -> &[Road] {
        &self.roads
    }
    pub fn curb_returns(&self) -> &[CurbReturn] {
        &self.curb_returns
    }
    pub fn decals(&self) -> &[Decal] {
        &self.decals
    }
    pub fn style(&self) -> &GroundStyle {
        &self.style
    }

    /// Axis-aligned bounds `(x_min, y_min, x_max, y_max)` of the region with road features.
    pub fn bounds(&self) -> (f64, f64, f64, f64) {
        let cell = 1.0 / self.grid.inv_cell;
        (self.grid.x0, self.grid.y0, self.grid.x0 + cell * self.grid.nx as f64, self.grid.y0 + cell * self.grid.ny as f64)
    }

    /// Nearest point of every road listed in the point's cell; `hits[r].p.dist` is infinite
    /// for roads not nearby or when the point lies beyond the road's ends.
    #[inline(always)]
    fn nearest(&self, x: f64, y: f64, items: &[Item]) -> [Hit; MAX_ROADS] {
        let mut hits = [NO_HIT; MAX_ROADS];
        for it in items {
            if let Item::Seg { road, seg } = *it {
                let g = &self.roads[road as usize].path.segments()[seg as usize];
                let p = g.project(x, y);
                let h = &mut hits[road as usize];
                if p.dist < h.p.dist {
                    *h = Hit { p, seg };
                }
            }
        }
        for (r, h) in hits.iter_mut().enumerate().take(self.roads.len()) {
            if h.p.dist.is_finite() {
                let len = self.roads[r].path.length();
                // Beyond the ends of the road: not part of it.
                if (h.p.s <= 0.0 || h.p.s >= len) && h.p.dist > h.p.d.abs() + 1e-9 {
                    h.p.dist = f64::INFINITY;
                }
            }
        }
        hits
    }

    /// Classifies a point: road, sidewalk or verge; with the road (and its hit) for roads and
    /// sidewalks, or the curb return for corner sidewalks.
    #[inline(always)]
    fn classify(&self, x: f64, y: f64, items: &[Item], hits: &[Hit; MAX_ROADS]) -> (Surface, Option<usize>, Option<usize>) {
        let mut sidewalk: Option<usize> = None;
        for (r, road) in self.roads.iter().enumerate() {
            let h = &hits[r];
            if !h.p.dist.is_finite() {
                continue;
            }
            let ad = h.p.d.abs();
            let hw = road.half_width(h.p.d);
            if ad <= hw {
                return (Surface::Road, Some(r), None);
            }
            if sidewalk.is_none() && ad <= hw + road.sidewalk_m && !road.in_curb_break(h.p.s) {
                sidewalk = Some(r);
            }
        }
        for it in items {
            if let Item::Corner(i) = *it {
                let c = &self.curb_returns[i as usize];
                let (a, b) = c.local(x, y);
                if a >= 0.0 && b >= 0.0 && a <= c.radius_m && b <= c.radius_m {
                    let r = (a * a + b * b).sqrt();
                    if r > c.radius_m {
                        return (Surface::Road, None, None);
                    }
                    if r > c.radius_m - c.sidewalk_m {
                        return (Surface::Sidewalk, None, Some(i as usize));
                    }
                    return (Surface::Verge, None, None);
                }
            }
        }
        match sidewalk {
            Some(r) => (Surface::Sidewalk, Some(r), None),
            None => (Surface::Verge, None, None),
        }
    }

    /// Kind of ground at `(x, y)`.
    pub fn surface_at(&self, x: f64, y: f64) -> Surface {
        let items = self.grid.items_at(x, y);
        let hits = self.nearest(x, y, items);
        self.classify(x, y, items, &hits).0
    }

    /// Paints the lane, centre and edge lines of `road` near `hit` over `col`.
    #[inline]
    fn paint_lines(&self, road: &Road, hit: &Hit, x: f64, y: f64, f: f64, col: &mut [f64; 3]) {
        let (s, d) = (hit.p.s, hit.p.d);
        let w = road.lane_width_m;
        let k = (d / w).round().clamp(-(road.lanes_forward as f64), road.lanes_backward as f64);
        let dc = k * w;
        let off = d - dc;
        let lw = road.line_width_m;
        if off.abs() > 1.5 * lw + 0.1 + f || road.in_line_break(s) {
            return;
        }
        let half = 0.5 * lw;
        let ki = k as i32;
        let (cov, yellow) = if ki == 0 {
            match road.centre_line {
                CentreLine::DoubleYellow => {
                    let sp = 0.5 * road.double_spacing_m();
                    ((interval_coverage(off, -sp - half, -sp + half, f) + interval_coverage(off, sp - half, sp + half, f)).min(1.0), true)
                }
                CentreLine::SingleYellow => (interval_coverage(off, -half, half, f), true),
                CentreLine::SingleWhite => (interval_coverage(off, -half, half, f), false),
            }
        } else if ki == -(road.lanes_forward as i32) || ki == road.lanes_backward as i32 {
            if road.in_curb_break(s) {
                return;
            }
            (interval_coverage(off, -half, half, f), false)
        } else {
            let lateral = interval_coverage(off, -half, half, f);
            if lateral <= 0.0 {
                return;
            }
            // Dashes start at the beginning of each painted stretch, measured along the line.
            let g = &road.path.segments()[hit.seg as usize];
            let h0 = road.path.segments()[0].heading0;
            let turned = |ss: f64, seg: &crate::geom::Segment| seg.heading0 + seg.curvature * (ss - seg.s0) - h0;
            let s_line = s - dc * turned(s, g);
            let start = road.line_piece_start(s);
            let s_start = road.path.parallel_length(start, dc);
            (lateral * periodic_coverage(s_line - s_start, road.dash_m + road.gap_m, road.dash_m, f), false)
        };
        if cov > 0.0 {
            let paint = if yellow { self.style.yellow_paint } else { self.style.white_paint };
            let wear = 0.94 + 0.06 * value_noise(x * 1.3, y * 1.3, self.style.seed ^ 0xA5A5);
            *col = mix3(*col, [paint[0] * wear, paint[1] * wear, paint[2] * wear], cov);
        }
    }

    #[inline]
    fn paint_decals(&self, items: &[Item], x: f64, y: f64, f: f64, col: &mut [f64; 3]) {
        for it in items {
            let Item::Decal(i) = *it else { continue };
            let dcl = &self.decals[i as usize];
            let (u, v) = dcl.local(x, y);
            let cu = interval_coverage(u, -dcl.half_u, dcl.half_u, f);
            if cu <= 0.0 {
                continue;
            }
            let cv = interval_coverage(v, -dcl.half_v, dcl.half_v, f);
            let cov = match dcl.kind {
                DecalKind::Crosswalk { bar_m, period_m } => cu * cv * periodic_coverage(v + 0.5 * bar_m, period_m, bar_m, f),
                DecalKind::WaitLine => cu * cv,
            };
            if cov > 0.0 {
                *col = mix3(*col, self.style.white_paint, cov);
            }
        }
    }

    /// The albedo in `f64` (see [`Ground::albedo`]).
    pub fn albedo_f64(&self, x: f64, y: f64, footprint_m: f64) -> [f64; 3] {
        let f = footprint_m.max(1e-4);
        let items = self.grid.items_at(x, y);
        if items.is_empty() {
            return self.style.grass(x, y, f);
        }
        let hits = self.nearest(x, y, items);
        match self.classify(x, y, items, &hits) {
            (Surface::Road, road, _) => {
                let mut col = self.style.asphalt(x, y, f);
                if let Some(r) = road {
                    let rd = &self.roads[r];
                    let h = &hits[r];
                    // Grime along the gutter.
                    if !rd.in_curb_break(h.p.s) {
                        let to_curb = rd.half_width(h.p.d) - h.p.d.abs();
                        col = mix3(col, [col[0] * 0.78, col[1] * 0.76, col[2] * 0.74], 1.0 - smoothstep(0.0, 0.4, to_curb));
                    }
                }
                // Lines of every road whose carriageway holds the point (both in a junction box,
                // where their breaks suppress them).
                for (r, rd) in self.roads.iter().enumerate() {
                    let h = &hits[r];
                    if h.p.dist.is_finite() && h.p.d.abs() <= rd.half_width(h.p.d) {
                        self.paint_lines(rd, h, x, y, f, &mut col);
                    }
                }
                self.paint_decals(items, x, y, f, &mut col);
                col
            }
            (Surface::Sidewalk, Some(r), _) => {
                let rd = &self.roads[r];
                let h = &hits[r];
                let across = h.p.d.abs() - rd.half_width(h.p.d);
                let columns = (rd.sidewalk_m / 1.6).round().max(1.0);
                self.style.concrete(x, y, h.p.s, across, rd.sidewalk_m / columns, f)
            }
            (Surface::Sidewalk, None, Some(c)) => {
                let cr = &self.curb_returns[c];
                let (a, b) = cr.local(x, y);
                self.style.concrete(x, y, a, b, 1.6, f)
            }
            _ => self.style.grass(x, y, f),
        }
    }

    /// Map elements of the roads: lanes, lane lines, road boundaries, crosswalks, wait lines.
    pub fn map_elements(&self, ids: &mut IdGen) -> Vec<MapElement> {
        let mut out = Vec::new();
        let p3 = |v: Vec<[f64; 2]>| v.into_iter().map(|p| Point3::new(p[0], p[1], 0.0)).collect::<Vec<_>>();
        for (r, road) in self.roads.iter().enumerate() {
            let curb_pieces = road.pieces(&road.curb_breaks);
            // Lanes, split where another road crosses.
            for dir in [Dir::Forward, Dir::Backward] {
                for k in 0..road.lanes(dir) {
                    let inner = -dir.sign() * k as f64 * road.lane_width_m;
                    let outer = -dir.sign() * (k + 1) as f64 * road.lane_width_m;
                    for &(a, b) in &curb_pieces {
                        let (from, to) = if dir == Dir::Forward { (a, b) } else { (b, a) };
                        let mut v = road.path.sample_offset(from, to, inner, MAP_SAMPLE_M);
                        v.extend(road.path.sample_offset(to, from, outer, MAP_SAMPLE_M));
                        let attrs = attributes(json!({
                            "road_id": r,
                            "direction": if dir == Dir::Forward { "forward" } else { "backward" },
                            "lane_index": k,
                            "width_m": road.lane_width_m,
                        }));
                        out.push(element(ids, MapElementKind::Lane, MapGeometry::Polygon(p3(v)), attrs));
                    }
                }
            }
            // Lane lines.
            let mut edge_breaks = road.line_breaks.clone();
            edge_breaks.extend_from_slice(&road.curb_breaks);
            for (k, d) in road.line_offsets() {
                let is_edge = k == -(road.lanes_forward as i32) || k == road.lanes_backward as i32;
                let mut attrs = json!({ "road_id": r, "width_m": road.line_width_m });
                let (style, colour) = if k == 0 {
                    match road.centre_line {
                        CentreLine::DoubleYellow => ("double_solid", "yellow"),
                        CentreLine::SingleYellow => ("solid", "yellow"),
                        CentreLine::SingleWhite => ("solid", "white"),
                    }
                } else if is_edge {
                    ("solid", "white")
                } else {
                    ("dashed", "white")
                };
                attrs["style"] = json!(style);
                attrs["colour"] = json!(colour);
                if style == "dashed" {
                    // The pattern starts with a dash at the first vertex, measured along the line.
                    attrs["dash_length_m"] = json!(road.dash_m);
                    attrs["gap_length_m"] = json!(road.gap_m);
                    attrs["dash_offset_m"] = json!(0.0);
                }
                if style == "double_solid" {
                    // The polyline runs between the two stripes.
                    attrs["spacing_m"] = json!(road.double_spacing_m());
                }
                let pieces = road.pieces(if is_edge { &edge_breaks } else { &road.line_breaks });
                for (a, b) in pieces {
                    let v = road.path.sample_offset(a, b, d, MAP_SAMPLE_M);
                    out.push(element(ids, MapElementKind::LaneLine, MapGeometry::Polyline(p3(v)), attributes(attrs.clone())));
                }
            }
            // Curbs.
            for dir in [Dir::Forward, Dir::Backward] {
                let d = road.curb_offset(dir);
                for &(a, b) in &curb_pieces {
                    let v = road.path.sample_offset(a, b, d, MAP_SAMPLE_M);
                    out.push(element(ids, MapElementKind::RoadBoundary, MapGeometry::Polyline(p3(v)), attributes(json!({ "type": "curb", "road_id": r }))));
                }
            }
        }
        for c in &self.curb_returns {
            let n = (c.radius_m * std::f64::consts::FRAC_PI_2 / MAP_SAMPLE_M).ceil().max(2.0) as usize;
            let v: Vec<[f64; 2]> = (0..=n).map(|i| c.arc_point(std::f64::consts::FRAC_PI_2 * i as f64 / n as f64)).collect();
            out.push(element(ids, MapElementKind::RoadBoundary, MapGeometry::Polyline(p3(v)), attributes(json!({ "type": "curb_return", "radius_m": c.radius_m }))));
        }
        for dcl in &self.decals {
            match dcl.kind {
                DecalKind::Crosswalk { bar_m, period_m } => {
                    let attrs = attributes(json!({ "style": "zebra", "bar_width_m": bar_m, "bar_period_m": period_m }));
                    out.push(element(ids, MapElementKind::Crosswalk, MapGeometry::Polygon(p3(dcl.corners().to_vec())), attrs));
                }
                DecalKind::WaitLine => {
                    let n = [-dcl.along[1], dcl.along[0]];
                    let v = vec![
                        [dcl.centre[0] - dcl.half_v * n[0], dcl.centre[1] - dcl.half_v * n[1]],
                        [dcl.centre[0] + dcl.half_v * n[0], dcl.centre[1] + dcl.half_v * n[1]],
                    ];
                    let attrs = attributes(json!({ "width_m": 2.0 * dcl.half_u, "colour": "white" }));
                    out.push(element(ids, MapElementKind::WaitLine, MapGeometry::Polyline(p3(v)), attrs));
                }
            }
        }
        out
    }

    /// How far `(x, y)` is outside every road's paved area and sidewalk (negative inside), using
    /// exact projections onto whole paths (for placing scenery; not a per-pixel query).
    pub fn clearance(&self, x: f64, y: f64) -> f64 {
        let mut best = f64::INFINITY;
        for road in &self.roads {
            let p = road.path.project(x, y);
            let len = road.path.length();
            let beyond_end = (p.s <= 0.0 || p.s >= len) && p.dist > p.d.abs() + 1e-9;
            let reach = road.half_width(p.d) + road.sidewalk_m;
            let c = if beyond_end { p.dist - reach.min(p.dist) + (p.dist - p.d.abs()) } else { p.d.abs() - reach };
            best = best.min(c);
        }
        for c in &self.curb_returns {
            let (a, b) = c.local(x, y);
            if a >= 0.0 && b >= 0.0 && a <= c.radius_m && b <= c.radius_m {
                let r = (a * a + b * b).sqrt();
                best = best.min((c.radius_m - c.sidewalk_m) - r);
            }
        }
        best
    }
}

impl Ground for RoadNetwork {
    fn albedo(&self, x: f64, y: f64, footprint_m: f64) -> [f32; 3] {
        let c = self.albedo_f64(x, y, footprint_m);
        [c[0].clamp(0.0, 1.0) as f32, c[1].clamp(0.0, 1.0) as f32, c[2].clamp(0.0, 1.0) as f32]
    }
}

/// Deterministic element ids: `<kind>_<n>` numbered per kind in creation order.
#[derive(Debug, Clone, Default)]
pub struct IdGen {
    counters: BTreeMap<&'static str, usize>,
}

impl IdGen {
    pub fn next(&mut self, kind: MapElementKind) -> String {
        let n = self.counters.entry(kind.as_str()).or_insert(0);
        let id = format!("{}_{}", kind.as_str(), n);
        *n += 1;
        id
    }
}

fn attributes(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

/// A map element with a fresh id.
pub fn element(ids: &mut IdGen, kind: MapElementKind, geometry: MapGeometry, attributes: Map<String, Value>) -> MapElement {
    MapElement { element_id: ids.next(kind), kind, geometry, attributes }
}

/// Builds the lookup grid: 4 m cells (coarser for very large worlds) over the features' bounds.
fn build_grid(roads: &[Road], corners: &[CurbReturn], decals: &[Decal]) -> Grid {
    // Reach of each road: its widest half plus sidewalk, plus a little for line anti-aliasing.
    let reach: Vec<f64> = roads.iter().map(|r| r.half_width(-1.0).max(r.half_width(1.0)) + r.sidewalk_m + 0.25).collect();
    let (mut x0, mut y0, mut x1, mut y1) = (f64::INFINITY, f64::INFINITY, f64::NEG_INFINITY, f64::NEG_INFINITY);
    let mut grow = |p: [f64; 2], m: f64| {
        x0 = x0.min(p[0] - m);
        y0 = y0.min(p[1] - m);
        x1 = x1.max(p[0] + m);
        y1 = y1.max(p[1] + m);
    };
    for (r, road) in roads.iter().enumerate() {
        for g in road.path.segments() {
            let n = (g.length / 2.0).ceil().max(1.0) as usize;
            for i in 0..=n {
                grow(g.pose_at(g.length * i as f64 / n as f64).0, reach[r] + 1.0);
            }
        }
    }
    for c in corners {
        grow(c.centre, c.radius_m * 1.5);
    }
    for d in decals {
        grow(d.centre, d.half_u.hypot(d.half_v) + 1.0);
    }
    if !x0.is_finite() {
        return Grid { x0: 0.0, y0: 0.0, inv_cell: 1.0, nx: 0, ny: 0, starts: vec![0], items: Vec::new() };
    }
    let mut cell = 4.0;
    while ((x1 - x0) / cell).ceil() * ((y1 - y0) / cell).ceil() > 4.0e6 {
        cell *= 2.0;
    }
    let nx = ((x1 - x0) / cell).ceil() as usize;
    let ny = ((y1 - y0) / cell).ceil() as usize;
    let half_diag = cell * std::f64::consts::FRAC_1_SQRT_2;
    let centre = |ix: usize, iy: usize| (x0 + (ix as f64 + 0.5) * cell, y0 + (iy as f64 + 0.5) * cell);
    let range = |lo: f64, hi: f64, o: f64, n: usize| {
        let a = (((lo - o) / cell).floor().max(0.0) as usize).min(n);
        let b = (((hi - o) / cell).ceil().max(0.0) as usize).min(n);
        a..b
    };
    // (cell index, item) pairs, then sorted by cell (stable: insertion order within a cell).
    let mut pairs: Vec<(u32, Item)> = Vec::new();
    let mut add_in_box = |bx: (f64, f64, f64, f64), item: Item, test: &dyn Fn(f64, f64) -> bool| {
        for iy in range(bx.1, bx.3, y0, ny) {
            for ix in range(bx.0, bx.2, x0, nx) {
                let (cx, cy) = centre(ix, iy);
                if test(cx, cy) {
                    pairs.push(((iy * nx + ix) as u32, item));
                }
            }
        }
    };
    for (r, road) in roads.iter().enumerate() {
        for (i, g) in road.path.segments().iter().enumerate() {
            let n = (g.length / 2.0).ceil().max(1.0) as usize;
            let (mut a, mut b, mut c, mut d) = (f64::INFINITY, f64::INFINITY, f64::NEG_INFINITY, f64::NEG_INFINITY);
            for k in 0..=n {
                let p = g.pose_at(g.length * k as f64 / n as f64).0;
                a = a.min(p[0]);
                b = b.min(p[1]);
                c = c.max(p[0]);
                d = d.max(p[1]);
            }
            // Chords between the sample points stray at most 2^2 / (8 R) from an arc.
            let m = reach[r] + half_diag + 0.6;
            let limit = reach[r] + half_diag;
            add_in_box((a - m, b - m, c + m, d + m), Item::Seg { road: r as u8, seg: i as u16 }, &|cx, cy| g.project(cx, cy).dist <= limit);
        }
    }
    for (i, c) in corners.iter().enumerate() {
        let m = c.radius_m * std::f64::consts::SQRT_2 + half_diag;
        add_in_box((c.centre[0] - m, c.centre[1] - m, c.centre[0] + m, c.centre[1] + m), Item::Corner(i as u16), &|cx, cy| {
            (cx - c.centre[0]).hypot(cy - c.centre[1]) <= c.radius_m * std::f64::consts::SQRT_2 + half_diag
        });
    }
    for (i, dcl) in decals.iter().enumerate() {
        let m = dcl.half_u.hypot(dcl.half_v) + half_diag + 0.2;
        add_in_box((dcl.centre[0] - m, dcl.centre[1] - m, dcl.centre[0] + m, dcl.centre[1] + m), Item::Decal(i as u16), &|cx, cy| {
            (cx - dcl.centre[0]).hypot(cy - dcl.centre[1]) <= m
        });
    }
    pairs.sort_by_key(|p| p.0);
    let mut starts = vec![0u32; nx * ny + 1];
    for (c, _) in &pairs {
        starts[*c as usize + 1] += 1;
    }
    for i in 0..nx * ny {
        starts[i + 1] += starts[i];
    }
    let items = pairs.into_iter().map(|p| p.1).collect();
    Grid { x0, y0, inv_cell: 1.0 / cell, nx, ny, starts, items }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::geom::Pose2;

    fn style() -> GroundStyle {
        GroundStyle {
            seed: 7,
            asphalt: [0.11, 0.11, 0.115],
            concrete: [0.38, 0.37, 0.35],
            grass: [0.09, 0.14, 0.05],
            dirt: [0.2, 0.16, 0.11],
            white_paint: [0.8, 0.8, 0.78],
            yellow_paint: [0.75, 0.58, 0.1],
            wetness: 0.0,
            slab_m: 1.8,
            wear: 0.7,
        }
    }

    fn road(path: Path, n: u32) -> Road {
        Road {
            path,
            lanes_forward: n,
            lanes_backward: n,
            lane_width_m: 3.5,
            shoulder_right_m: 0.6,
            shoulder_left_m: 2.4,
            sidewalk_m: 3.0,
            centre_line: CentreLine::DoubleYellow,
            line_width_m: 0.15,
            dash_m: 3.0,
            gap_m: 6.0,
            line_breaks: vec![],
            curb_breaks: vec![],
        }
    }

    fn lum(c: [f32; 3]) -> f32 {
        0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2]
    }

    #[test]
    fn curved_road_lines_lanes_and_surfaces_agree() {
        let path = Path::starting_at(Pose2::new(-50.0, 0.0, 0.0)).line(60.0).arc(80.0, 0.9).line(40.0).build();
        let mut rd = road(path, 2);
        rd.line_breaks = vec![(30.0, 40.0)];
        let net = RoadNetwork::new(vec![rd.clone()], vec![], vec![], style());
        let (p, _) = rd.path.offset_point(90.0, 0.0);
        assert_eq!(net.surface_at(p[0], p[1]), Surface::Road);
        let (p, _) = rd.path.offset_point(90.0, -(7.0 + 0.6 + 1.0));
        assert_eq!(net.surface_at(p[0], p[1]), Surface::Sidewalk);
        let (p, _) = rd.path.offset_point(90.0, 7.0 + 2.4 + 3.5);
        assert_eq!(net.surface_at(p[0], p[1]), Surface::Verge);
        // Dashes: painted at the start of each stretch, gaps in between, nothing in the break.
        let d = 3.5;
        let (p, _) = rd.path.offset_point(1.5, d);
        assert!(lum(net.albedo(p[0], p[1], 0.01)) > 0.5);
        let (p, _) = rd.path.offset_point(6.0, d);
        assert!(lum(net.albedo(p[0], p[1], 0.01)) < 0.3);
        let (p, _) = rd.path.offset_point(35.0, d);
        assert!(lum(net.albedo(p[0], p[1], 0.01)) < 0.3);
        let (p, _) = rd.path.offset_point(41.5, d);
        assert!(lum(net.albedo(p[0], p[1], 0.01)) > 0.5);
        let mut ids = IdGen::default();
        let map = net.map_elements(&mut ids);
        let lanes = map.iter().filter(|e| e.kind == MapElementKind::Lane).count();
        assert_eq!(lanes, 4);
        assert_eq!(map.iter().filter(|e| e.kind == MapElementKind::RoadBoundary).count(), 2);
        let ids: std::collections::BTreeSet<&str> = map.iter().map(|e| e.element_id.as_str()).collect();
        assert_eq!(ids.len(), map.len());
    }

    #[test]
    fn footprint_fades_markings_to_their_mean() {
        let path = Path::starting_at(Pose2::new(-50.0, 0.0, 0.0)).line(100.0).build();
        let net = RoadNetwork::new(vec![road(path, 2)], vec![], vec![], style());
        // A 15 cm line seen through a 2 m wide footprint covers 7.5% of it.
        // Station 55 is 1 m into a dash (period 9 m from the road start at x = -50).
        let near = net.albedo_f64(5.0, -3.5 + 0.01, 0.005);
        let far = net.albedo_f64(6.5, -3.5, 1.0);
        assert!(near[0] > 0.5);
        assert!(far[0] < 0.25 && far[0] > 0.08, "{far:?}");
    }
}
