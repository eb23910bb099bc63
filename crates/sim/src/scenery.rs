//! Everything static that stands on the ground: curbs along the road edges, buildings behind the
//! sidewalks, street trees, street lights, traffic signs and traffic lights; and their map
//! elements (poles, signs, lights).
//!
//! Placement walks along each road inside its scenery window (the stretch the ego's cameras can
//! see during the clip) and rejects anything that would stand on a road or sidewalk
//! ([`RoadNetwork::clearance`]) or overlap what is already placed, so counts stay bounded (a few
//! hundred solids) however long the road. Curbs are thin boxes whose road-side face lies exactly
//! on the road boundary: one box per straight piece (up to 10 m) and chords on curves with less
//! than 4 cm sagitta.

use nalgebra::{Point3, UnitQuaternion, Vector3};
use serde_json::json;
use worldrig_scene::{Cuboid, MapElement, MapElementKind, MapGeometry};

use crate::generate::{pose3, Design};
use crate::geom::Obb2;
use crate::rng::Rng;
use crate::road::{element, Dir, IdGen, Road, RoadNetwork};
use crate::world::{Material, Shape, Solid};

const CURB_WIDTH_M: f64 = 0.2;
const CURB_HEIGHT_M: f64 = 0.15;
const CURB_ALBEDO: [f32; 3] = [0.5, 0.5, 0.48];
const METAL: [f32; 3] = [0.3, 0.31, 0.32];

#[derive(Debug, Clone, PartialEq)]
struct Pole {
    base: [f64; 2],
    height_m: f64,
    kind: &'static str,
}

#[derive(Debug, Clone, PartialEq)]
struct Panel {
    cuboid: Cuboid,
    kind: &'static str,
}

/// Static solids and the map elements of poles, signs and lights.
#[derive(Debug, Clone)]
pub(crate) struct Scenery {
    pub solids: Vec<Solid>,
    poles: Vec<Pole>,
    signs: Vec<Panel>,
    lights: Vec<Panel>,
    pub buildings: usize,
    pub tallest_m: f64,
    pub trees: usize,
}

impl Scenery {
    /// Pole polylines (base to top), sign and light cuboids.
    pub fn map(&self, ids: &mut IdGen) -> Vec<MapElement> {
        let mut out = Vec::new();
        for p in &self.poles {
            let v = vec![Point3::new(p.base[0], p.base[1], 0.0), Point3::new(p.base[0], p.base[1], p.height_m)];
            out.push(element(ids, MapElementKind::Pole, MapGeometry::Polyline(v), attrs(json!({ "type": p.kind, "height_m": p.height_m }))));
        }
        for s in &self.signs {
            out.push(element(ids, MapElementKind::Sign, MapGeometry::Cuboid(s.cuboid.corners().to_vec()), attrs(json!({ "type": s.kind }))));
        }
        for l in &self.lights {
            out.push(element(ids, MapElementKind::Light, MapGeometry::Cuboid(l.cuboid.corners().to_vec()), attrs(json!({ "type": l.kind }))));
        }
        out
    }
}

fn attrs(v: serde_json::Value) -> serde_json::Map<String, serde_json::Value> {
    match v {
        serde_json::Value::Object(m) => m,
        _ => serde_json::Map::new(),
    }
}

fn boxed(centre: [f64; 3], yaw: f64, half: [f64; 3], material: Material) -> Solid {
    Solid { pose: pose3(centre[0], centre[1], centre[2], yaw), shape: Shape::Box { half_extents_m: Vector3::new(half[0], half[1], half[2]) }, material }
}

fn cylinder(base: [f64; 2], radius: f64, height: f64, material: Material) -> Solid {
    Solid { pose: pose3(base[0], base[1], 0.0, 0.0), shape: Shape::Cylinder { radius_m: radius, height_m: height }, material }
}

/// A box solid and its identical map cuboid.
fn panel(centre: [f64; 3], yaw: f64, size: [f64; 3], material: Material) -> (Solid, Cuboid) {
    let solid = boxed(centre, yaw, [0.5 * size[0], 0.5 * size[1], 0.5 * size[2]], material);
    let cuboid = Cuboid {
        centre_m: Point3::new(centre[0], centre[1], centre[2]),
        size_lwh_m: Vector3::new(size[0], size[1], size[2]),
        world_from_box: UnitQuaternion::from_axis_angle(&Vector3::z_axis(), yaw),
    };
    (solid, cuboid)
}

/// Whether `[a, b]` comes within `margin` of any interval.
fn near_any(intervals: &[(f64, f64)], a: f64, b: f64, margin: f64) -> bool {
    intervals.iter().any(|&(x, y)| b > x - margin && a < y + margin)
}

/// Whether a footprint stays `margin` clear of every road and sidewalk (sampled on a 1 m grid).
fn footprint_clear(net: &RoadNetwork, b: &Obb2, margin: f64) -> bool {
    let (s, c) = b.heading.sin_cos();
    let nu = (2.0 * b.half_length).ceil().max(1.0) as usize;
    let nv = (2.0 * b.half_width).ceil().max(1.0) as usize;
    for i in 0..=nu {
        for j in 0..=nv {
            let u = -b.half_length + 2.0 * b.half_length * i as f64 / nu as f64;
            let v = -b.half_width + 2.0 * b.half_width * j as f64 / nv as f64;
            let p = [b.centre[0] + c * u - s * v, b.centre[1] + s * u + c * v];
            if net.clearance(p[0], p[1]) < margin {
                return false;
            }
        }
    }
    true
}

/// Builds the static scenery.
pub(crate) fn build(net: &RoadNetwork, design: &Design, rng: &mut Rng) -> Scenery {
    let roads = net.roads();
    let mut sc = Scenery { solids: Vec::new(), poles: Vec::new(), signs: Vec::new(), lights: Vec::new(), buildings: 0, tallest_m: 0.0, trees: 0 };
    let mut footprints: Vec<Obb2> = Vec::new();
    let downtown = rng.f64();
    let tree_lined = rng.chance(0.65);
    curbs(net, design, &mut sc);
    traffic_lights(roads, design, &mut sc, &mut footprints);
    street_lights(net, design, rng, &mut sc, &mut footprints);
    signs(net, design, rng, &mut sc, &mut footprints);
    buildings(net, design, downtown, rng, &mut sc, &mut footprints);
    if tree_lined {
        trees(net, design, rng, &mut sc, &mut footprints);
    }
    sc
}

/// Curb boxes along every curb piece (within the scenery window plus 30 m) and curb return.
fn curbs(net: &RoadNetwork, design: &Design, sc: &mut Scenery) {
    let material = || Material::Plain { albedo: CURB_ALBEDO };
    for (r, road) in net.roads().iter().enumerate() {
        let (w_lo, w_hi) = design.scenery_windows[r];
        for dir in [Dir::Forward, Dir::Backward] {
            let d = road.curb_offset(dir);
            let out = -dir.sign();
            for (a, b) in road.pieces(&road.curb_breaks) {
                let (a, b) = (a.max(w_lo - 30.0), b.min(w_hi + 30.0));
                if b - a < 0.2 {
                    continue;
                }
                let st = road.path.stations(a, b, d, 10.0, 10.0, 0.04);
                for w in st.windows(2) {
                    let (p, _) = road.path.offset_point(w[0], d);
                    let (q, _) = road.path.offset_point(w[1], d);
                    push_curb(sc, p, q, out, material());
                }
            }
        }
    }
    for c in net.curb_returns() {
        let pieces = ((c.radius_m * std::f64::consts::FRAC_PI_2) / (8.0 * c.radius_m * 0.04).sqrt()).ceil().max(2.0) as usize;
        for i in 0..pieces {
            let f = std::f64::consts::FRAC_PI_2;
            let p = c.arc_point(f * i as f64 / pieces as f64);
            let q = c.arc_point(f * (i + 1) as f64 / pieces as f64);
            // Road lies outside the quarter circle, sidewalk inside: the box extends towards
            // the centre.
            let (dx, dy) = (q[0] - p[0], q[1] - p[1]);
            let left_n = [-dy, dx];
            let side = if (c.centre[0] - p[0]) * left_n[0] + (c.centre[1] - p[1]) * left_n[1] > 0.0 { 1.0 } else { -1.0 };
            push_curb(sc, p, q, side, material());
        }
    }
}

/// A curb box whose road-side face is the chord `p`-`q`; it extends to the side `side` (+1 =
/// left of `p`->`q`).
fn push_curb(sc: &mut Scenery, p: [f64; 2], q: [f64; 2], side: f64, material: Material) {
    let (dx, dy) = (q[0] - p[0], q[1] - p[1]);
    let len = dx.hypot(dy);
    if len < 1e-3 {
        return;
    }
    let yaw = dy.atan2(dx);
    let n = [-dy / len * side, dx / len * side];
    let c = [0.5 * (p[0] + q[0]) + 0.5 * CURB_WIDTH_M * n[0], 0.5 * (p[1] + q[1]) + 0.5 * CURB_WIDTH_M * n[1]];
    sc.solids.push(boxed([c[0], c[1], 0.5 * CURB_HEIGHT_M], yaw, [0.5 * len, 0.5 * CURB_WIDTH_M, 0.5 * CURB_HEIGHT_M], material));
}

/// Signal poles with a mast arm and a light head over the lanes, on every junction approach.
fn traffic_lights(roads: &[Road], design: &Design, sc: &mut Scenery, footprints: &mut Vec<Obb2>) {
    let Some(j) = &design.junction else { return };
    for &(r, dir, s_wait) in &j.approaches {
        let road = &roads[r];
        let out = -dir.sign();
        let s = s_wait - dir.sign() * 1.0;
        let d_pole = road.curb_offset(dir) + out * 0.6;
        let (base, h) = road.path.offset_point(s, d_pole);
        let travel = if dir == Dir::Forward { h } else { h + std::f64::consts::PI };
        let height = 5.6;
        sc.solids.push(cylinder(base, 0.12, height, Material::Bark { base: [0.12, 0.12, 0.13] }));
        sc.poles.push(Pole { base, height_m: height, kind: "traffic_light" });
        footprints.push(Obb2::new(base, 0.0, 0.4, 0.4));
        // Arm from the pole towards the road centre, over the outer lanes.
        let reach = (road.lanes(dir) as f64 * road.lane_width_m * 0.6 + (road.curb_offset(dir).abs() - road.lanes(dir) as f64 * road.lane_width_m)).max(2.0);
        let (arm_mid, _) = road.path.offset_point(s, d_pole - out * 0.5 * reach);
        sc.solids.push(boxed([arm_mid[0], arm_mid[1], height - 0.15], h, [0.08, 0.5 * reach, 0.07], Material::Plain { albedo: [0.12, 0.12, 0.13] }));
        // Head at the arm's end, facing the approaching traffic (its +x towards them).
        let (head, _) = road.path.offset_point(s, d_pole - out * (reach - 0.2));
        let (solid, cuboid) = panel([head[0], head[1], height - 0.75], travel + std::f64::consts::PI, [0.35, 0.35, 1.0], Material::Plain { albedo: [0.05, 0.05, 0.05] });
        sc.solids.push(solid);
        sc.lights.push(Panel { cuboid, kind: "traffic_light" });
    }
}

/// Street lights along the sidewalks, near the curb.
fn street_lights(net: &RoadNetwork, design: &Design, rng: &mut Rng, sc: &mut Scenery, footprints: &mut Vec<Obb2>) {
    let spacing = rng.range(26.0, 38.0);
    let both_sides = rng.chance(0.6);
    for (r, road) in net.roads().iter().enumerate() {
        let (w_lo, w_hi) = design.scenery_windows[r];
        for (side_i, dir) in [Dir::Forward, Dir::Backward].into_iter().enumerate() {
            if !both_sides && side_i == 1 {
                continue;
            }
            let out = -dir.sign();
            let d = road.curb_offset(dir) + out * 0.5;
            let mut s = w_lo + rng.range(0.0, spacing) + if both_sides && side_i == 1 { 0.5 * spacing } else { 0.0 };
            while s < w_hi {
                let here = s;
                s += spacing;
                if near_any(&road.curb_breaks, here, here, 3.0) || near_any(&road.line_breaks, here, here, 2.0) {
                    continue;
                }
                let (base, h) = road.path.offset_point(here, d);
                let fp = Obb2::new(base, h, 0.3, 0.3);
                if footprints.iter().any(|f| f.overlaps(&fp, 0.5)) {
                    continue;
                }
                let height = rng.range(7.0, 9.0);
                sc.solids.push(cylinder(base, 0.09, height, Material::Bark { base: METAL }));
                let reach = rng.range(1.5, 2.5);
                let (arm, _) = road.path.offset_point(here, d - out * 0.5 * reach);
                sc.solids.push(boxed([arm[0], arm[1], height - 0.08], h, [0.16, 0.5 * reach, 0.07], Material::Plain { albedo: [0.55, 0.56, 0.57] }));
                sc.poles.push(Pole { base, height_m: height, kind: "street_light" });
                footprints.push(fp);
            }
        }
    }
}

/// Traffic signs on posts at the right-hand side of the road, facing the approaching traffic.
fn signs(net: &RoadNetwork, design: &Design, rng: &mut Rng, sc: &mut Scenery, footprints: &mut Vec<Obb2>) {
    const STYLES: [([f32; 3], [f32; 3], &str, f64); 4] = [
        ([0.85, 0.85, 0.83], [0.6, 0.05, 0.04], "regulatory", 0.4),
        ([0.08, 0.2, 0.55], [0.85, 0.85, 0.83], "mandatory", 0.25),
        ([0.8, 0.65, 0.08], [0.03, 0.03, 0.03], "warning", 0.2),
        ([0.85, 0.85, 0.83], [0.03, 0.03, 0.03], "information", 0.15),
    ];
    let weights: Vec<f64> = STYLES.iter().map(|s| s.3).collect();
    for (r, road) in net.roads().iter().enumerate() {
        let (w_lo, w_hi) = design.scenery_windows[r];
        let count = rng.int(1, 3) + i64::from(r == 0);
        for _ in 0..count {
            let dir = if rng.chance(0.7) { Dir::Forward } else { Dir::Backward };
            let s = rng.range(w_lo, w_hi);
            if near_any(&road.curb_breaks, s, s, 4.0) || near_any(&road.line_breaks, s, s, 3.0) {
                continue;
            }
            let out = -dir.sign();
            let (base, h) = road.path.offset_point(s, road.curb_offset(dir) + out * 0.45);
            let fp = Obb2::new(base, h, 0.4, 0.4);
            if footprints.iter().any(|f| f.overlaps(&fp, 0.5)) {
                continue;
            }
            let size = rng.range(0.6, 0.8);
            let bottom = rng.range(2.0, 2.3);
            let post_h = bottom + size;
            sc.solids.push(cylinder(base, 0.04, post_h, Material::Bark { base: METAL }));
            sc.poles.push(Pole { base, height_m: post_h, kind: "sign_post" });
            // Face (+x of the panel) towards the traffic that approaches on this side.
            let travel = if dir == Dir::Forward { h } else { h + std::f64::consts::PI };
            let facing = travel + std::f64::consts::PI;
            let thick = 0.04;
            let off = 0.04 + 0.5 * thick + 0.01;
            let c = [base[0] + off * facing.cos(), base[1] + off * facing.sin(), bottom + 0.5 * size];
            let (face, border, kind, _) = STYLES[rng.weighted(&weights)];
            let (solid, cuboid) = panel(c, facing, [thick, size, size], Material::Sign { face, border, seed: rng.next_u32() });
            sc.solids.push(solid);
            sc.signs.push(Panel { cuboid, kind });
            footprints.push(fp);
        }
    }
}

/// Street trees: a trunk and a crown, in the outer part of the sidewalk or in the verge.
fn trees(net: &RoadNetwork, design: &Design, rng: &mut Rng, sc: &mut Scenery, footprints: &mut Vec<Obb2>) {
    let autumn = rng.chance(0.15);
    for (r, road) in net.roads().iter().enumerate() {
        let (w_lo, w_hi) = design.scenery_windows[r];
        for dir in [Dir::Forward, Dir::Backward] {
            if !rng.chance(0.85) {
                continue;
            }
            let out = -dir.sign();
            let in_sidewalk = road.sidewalk_m >= 2.8;
            let from_curb = if in_sidewalk { road.sidewalk_m - 0.9 } else { road.sidewalk_m + 1.3 };
            let d = road.curb_offset(dir) + out * from_curb;
            let mut s = w_lo + rng.range(0.0, 8.0);
            while s < w_hi {
                let here = s;
                s += rng.range(8.0, 14.0);
                if rng.chance(0.15) || near_any(&road.curb_breaks, here, here, 5.0) || near_any(&road.line_breaks, here, here, 4.0) {
                    continue;
                }
                let (base, h) = road.path.offset_point(here, d);
                let crown = rng.range(1.3, 2.4).min(from_curb + 0.4);
                let fp = Obb2::new(base, h, crown, crown);
                // Trunks keep clear of poles; crowns of buildings.
                if footprints.iter().any(|f| f.overlaps(&Obb2::new(base, h, 0.5, 0.5), 0.8) || (f.half_length > 3.0 && f.overlaps(&fp, 0.2))) {
                    continue;
                }
                let trunk_h = rng.range(2.2, 3.4).max(2.1 + 0.4 * crown);
                let green = if autumn && rng.chance(0.7) {
                    [rng.range(0.25, 0.4) as f32, rng.range(0.15, 0.22) as f32, 0.04]
                } else {
                    [rng.range(0.07, 0.13) as f32, rng.range(0.15, 0.24) as f32, rng.range(0.04, 0.07) as f32]
                };
                sc.solids.push(cylinder(base, rng.range(0.12, 0.2), trunk_h, Material::Bark { base: [0.2, 0.15, 0.1] }));
                sc.solids.push(Solid {
                    pose: pose3(base[0], base[1], trunk_h + 0.6 * crown, 0.0),
                    shape: Shape::Sphere { radius_m: crown },
                    material: Material::Foliage { base: green, seed: rng.next_u32() },
                });
                sc.trees += 1;
                footprints.push(fp);
            }
        }
    }
}

/// Buildings behind the sidewalks: varied frontage, set-back, depth and height; dense and tall
/// downtown, lower with gaps elsewhere.
fn buildings(net: &RoadNetwork, design: &Design, downtown: f64, rng: &mut Rng, sc: &mut Scenery, footprints: &mut Vec<Obb2>) {
    const WALLS: [[f32; 3]; 9] = [
        [0.55, 0.48, 0.38],
        [0.45, 0.2, 0.14],
        [0.45, 0.45, 0.44],
        [0.7, 0.7, 0.68],
        [0.2, 0.2, 0.22],
        [0.6, 0.5, 0.35],
        [0.25, 0.3, 0.35],
        [0.52, 0.36, 0.28],
        [0.62, 0.6, 0.52],
    ];
    const WINDOWS: [[f32; 3]; 3] = [[0.08, 0.1, 0.12], [0.15, 0.2, 0.28], [0.12, 0.12, 0.1]];
    let mut placed = 0usize;
    for (r, road) in net.roads().iter().enumerate() {
        let (w_lo, w_hi) = design.scenery_windows[r];
        for dir in [Dir::Forward, Dir::Backward] {
            let out = -dir.sign();
            let mut s = w_lo + rng.range(0.0, 10.0);
            while s < w_hi && placed < 120 {
                let frontage = rng.range(8.0, 26.0);
                let gap = if rng.chance(downtown) { rng.range(0.0, 3.0) } else { rng.range(3.0, 15.0) };
                let here = s + 0.5 * frontage;
                s += frontage + gap;
                let setback = if rng.chance(downtown) { rng.range(0.5, 2.5) } else { rng.range(2.0, 8.0) };
                let depth = rng.range(10.0, 22.0);
                let tall = rng.chance(0.15 + 0.5 * downtown);
                let height = if tall { rng.range(18.0, 40.0) } else { rng.range(6.0, 16.0) };
                let front = road.curb_offset(dir) + out * (road.sidewalk_m + setback);
                let (centre, h) = road.path.offset_point(here, front + out * 0.5 * depth);
                let fp = Obb2::new(centre, h, 0.5 * frontage, 0.5 * depth);
                if footprints.iter().any(|f| f.overlaps(&fp, 0.3)) || !footprint_clear(net, &fp, 0.3) {
                    continue;
                }
                let spacing = rng.range(2.6, 4.0);
                let floor = rng.range(3.0, 3.6);
                let material = Material::Facade {
                    wall: *rng.pick(&WALLS),
                    window: *rng.pick(&WINDOWS),
                    spacing_m: spacing as f32,
                    floor_h_m: floor as f32,
                    window_w_m: rng.range(1.0, spacing - 0.6) as f32,
                    window_h_m: rng.range(1.2, floor - 0.8) as f32,
                    seed: rng.next_u32(),
                };
                sc.solids.push(boxed([centre[0], centre[1], 0.5 * height], h, [0.5 * frontage, 0.5 * depth, 0.5 * height], material));
                footprints.push(fp);
                sc.buildings += 1;
                sc.tallest_m = sc.tallest_m.max(height);
                placed += 1;
            }
        }
    }
}
