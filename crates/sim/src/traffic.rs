//! Road users: moving vehicles that follow their lanes, parked cars, pedestrians on sidewalks and
//! crosswalks; their bodies (box, cabin and wheel solids) and trajectories.
//!
//! Moving vehicles keep to a lane (a parallel curve of a road's path) and follow the vehicle
//! ahead with the Intelligent Driver Model ([`crate::motion::Idm`]); the ego counts as a leader
//! in any lane its bounding box overlaps, so traffic queues behind it and brakes when it cuts in.
//! Stop rules (traffic signals and pedestrians on a crosswalk) put a standing obstacle at a wait
//! line for a time window; a vehicle decides at the start of the window whether it can stop
//! comfortably, and otherwise drives on (the dilemma zone of a yellow light). A stopped lead car
//! in stop-and-go scenes is scripted from the ego's own speed profile, shifted earlier in time,
//! so the gap between them never closes.
//!
//! Spawning keeps the ego's lanes clear near the ego and makes vehicles ahead of it in lanes it
//! will drive in faster than the ego ever gets. As a final guarantee every trajectory is checked
//! against the ego's bounding box and every other agent's at 20 Hz with a safety margin; an agent
//! that would touch the ego, or a lower-priority agent that would touch another, is removed and
//! the rest re-simulated, so no two boxes ever overlap.

use std::collections::BTreeMap;

use nalgebra::Vector3;

use crate::generate::{pose3, sample_times_us, Design, Plan, EGO_BOX_OFFSET_M, EGO_FRONT_M, EGO_LENGTH_M, EGO_REAR_OVERHANG_M, EGO_WIDTH_M, SAMPLE_DT_S};
use crate::geom::{wrap_pi, Obb2, Pose2};
use crate::motion::{EgoSample, Idm, SpeedProfile};
use crate::rng::Rng;
use crate::road::{Dir, Road, RoadNetwork};
use crate::world::{Agent, Material, Shape, Solid};
use worldrig_scene::Trajectory;

/// One lane: road, direction and index from the centre line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct LaneRef {
    pub road: usize,
    pub dir: Dir,
    pub index: u32,
}

impl LaneRef {
    pub fn offset(&self, roads: &[Road]) -> f64 {
        roads[self.road].lane_centre(self.dir, self.index)
    }
    /// Pose on the lane centre at lane coordinate `sigma` (arc length in the direction of
    /// travel: `sigma = s` forward, `-s` backward), heading along the lane.
    pub fn pose(&self, roads: &[Road], sigma: f64) -> Pose2 {
        let road = &roads[self.road];
        let s = self.dir.sign() * sigma;
        let (p, h) = road.path.offset_point(s, road.lane_centre(self.dir, self.index));
        Pose2::new(p[0], p[1], if self.dir == Dir::Forward { h } else { wrap_pi(h + std::f64::consts::PI) })
    }
}

/// Vehicles of lanes `(road, dir)` must stop before station `s_line` between `t0` and `t1`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StopRule {
    pub road: usize,
    pub dir: Dir,
    pub s_line: f64,
    pub t0: f64,
    pub t1: f64,
}

/// A crosswalk: on `road` around station `s_centre` (half length `half_len` along the road),
/// curb to curb from `d_min` to `d_max`; vehicles stop before `stop_forward` (travelling
/// forward) or `stop_backward`. `arm` is -1 / +1 for the arms of a junction before / after
/// the crossing point, 0 mid-block.
#[derive(Debug, Clone, PartialEq)]
pub struct CrosswalkSite {
    pub road: usize,
    pub arm: i8,
    pub s_centre: f64,
    pub half_len: f64,
    pub d_min: f64,
    pub d_max: f64,
    pub stop_forward: f64,
    pub stop_backward: f64,
}

/// A four-way junction of roads `a` (the ego's) and `b`, crossing at stations `s_a`, `s_b`;
/// `zone_*` are the stretches between the wait lines (no lines, curbs or sidewalks there).
#[derive(Debug, Clone, PartialEq)]
pub struct Junction {
    pub a: usize,
    pub b: usize,
    pub s_a: f64,
    pub s_b: f64,
    pub zone_a: (f64, f64),
    pub zone_b: (f64, f64),
    pub crosswalks: Vec<CrosswalkSite>,
    /// Each approach: road, direction, station of the wait line's near edge.
    pub approaches: Vec<(usize, Dir, f64)>,
}

/// A car ahead of the ego that stops at the wait line in stop-and-go scenes.
#[derive(Debug, Clone, PartialEq)]
pub struct LeadPlan {
    pub spec: VehicleSpec,
    /// Lane coordinate of its centre at t = 0, relative to the ego's start station.
    pub sigma0_rel: f64,
    /// How much earlier than the ego it runs through the same speed profile.
    pub delta_s: f64,
    /// The ego's profile shifted `delta_s` earlier.
    pub profile: SpeedProfile,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VehicleKind {
    Car,
    Suv,
    Van,
    Truck,
    Bus,
}

impl VehicleKind {
    pub fn category(self) -> &'static str {
        match self {
            VehicleKind::Car | VehicleKind::Suv | VehicleKind::Van => "car",
            VehicleKind::Truck => "truck",
            VehicleKind::Bus => "bus",
        }
    }
    pub fn noun(self) -> &'static str {
        match self {
            VehicleKind::Car => "car",
            VehicleKind::Suv => "SUV",
            VehicleKind::Van => "van",
            VehicleKind::Truck => "truck",
            VehicleKind::Bus => "bus",
        }
    }
}

/// A vehicle body: size and paint.
#[derive(Debug, Clone, PartialEq)]
pub struct VehicleSpec {
    pub kind: VehicleKind,
    pub length_m: f64,
    pub width_m: f64,
    pub height_m: f64,
    pub paint: [f32; 3],
    pub colour: &'static str,
    pub seed: u32,
}

const CAR_PAINTS: [(&str, [f32; 3], f64); 12] = [
    ("white", [0.75, 0.75, 0.73], 0.22),
    ("black", [0.03, 0.03, 0.035], 0.17),
    ("silver", [0.5, 0.51, 0.52], 0.15),
    ("grey", [0.22, 0.22, 0.23], 0.13),
    ("red", [0.55, 0.05, 0.04], 0.08),
    ("blue", [0.06, 0.14, 0.45], 0.08),
    ("dark blue", [0.03, 0.05, 0.16], 0.04),
    ("green", [0.07, 0.25, 0.1], 0.03),
    ("yellow", [0.75, 0.6, 0.06], 0.03),
    ("orange", [0.75, 0.3, 0.05], 0.02),
    ("brown", [0.25, 0.14, 0.07], 0.03),
    ("beige", [0.6, 0.52, 0.38], 0.02),
];
const BIG_PAINTS: [(&str, [f32; 3], f64); 6] = [
    ("white", [0.75, 0.75, 0.73], 0.35),
    ("red", [0.55, 0.05, 0.04], 0.2),
    ("yellow", [0.75, 0.6, 0.06], 0.12),
    ("blue", [0.06, 0.14, 0.45], 0.13),
    ("green", [0.07, 0.25, 0.1], 0.1),
    ("orange", [0.75, 0.3, 0.05], 0.1),
];

/// A random vehicle kind; trucks and buses only when `large`.
pub fn random_kind(rng: &mut Rng, large: bool) -> VehicleKind {
    let w = if large { [0.62, 0.18, 0.08, 0.07, 0.05] } else { [0.68, 0.22, 0.1, 0.0, 0.0] };
    [VehicleKind::Car, VehicleKind::Suv, VehicleKind::Van, VehicleKind::Truck, VehicleKind::Bus][rng.weighted(&w)]
}

/// Draws the size and paint of a vehicle of `kind`.
pub fn draw_vehicle(rng: &mut Rng, kind: VehicleKind) -> VehicleSpec {
    let (l, w, h) = match kind {
        VehicleKind::Car => (rng.range(4.2, 4.9), rng.range(1.75, 1.9), rng.range(1.42, 1.6)),
        VehicleKind::Suv => (rng.range(4.5, 5.0), rng.range(1.85, 2.0), rng.range(1.65, 1.85)),
        VehicleKind::Van => (rng.range(4.9, 5.5), rng.range(1.9, 2.05), rng.range(1.9, 2.3)),
        VehicleKind::Truck => (rng.range(7.5, 9.5), 2.45, rng.range(3.2, 3.6)),
        VehicleKind::Bus => (rng.range(11.0, 12.2), 2.55, rng.range(3.0, 3.2)),
    };
    let palette: &[(&str, [f32; 3], f64)] = if matches!(kind, VehicleKind::Truck | VehicleKind::Bus) { &BIG_PAINTS } else { &CAR_PAINTS };
    let weights: Vec<f64> = palette.iter().map(|p| p.2).collect();
    let (colour, paint, _) = palette[rng.weighted(&weights)];
    VehicleSpec { kind, length_m: l, width_m: w, height_m: h, paint, colour, seed: rng.next_u32() }
}

fn solid_box(centre: [f64; 3], half: [f64; 3], material: Material) -> Solid {
    Solid { pose: pose3(centre[0], centre[1], centre[2], 0.0), shape: Shape::Box { half_extents_m: Vector3::new(half[0], half[1], half[2]) }, material }
}

/// The parts of a vehicle in its own frame (origin at the bounding-box centre): a lower body,
/// an upper body or cabin (the renderer paints windows on a body box above the centre), wheels,
/// and a cargo box for trucks.
pub fn vehicle_parts(v: &VehicleSpec) -> Vec<Solid> {
    let (l, w, h) = (v.length_m, v.width_m, v.height_m);
    let ground = -0.5 * h;
    let body = |seed_off: u32| Material::VehicleBody { paint: v.paint, seed: v.seed.wrapping_add(seed_off) };
    let mut parts = Vec::with_capacity(9);
    let (r, hw) = match v.kind {
        VehicleKind::Truck | VehicleKind::Bus => (0.5, 0.15),
        _ => ((0.2 * h).clamp(0.3, 0.38), 0.11),
    };
    let wheel_y = 0.5 * w - hw - 0.03;
    let mut axles: Vec<f64> = match v.kind {
        VehicleKind::Truck => vec![0.5 * l - 1.3, -0.5 * l + 2.2, -0.5 * l + 1.0],
        VehicleKind::Bus => vec![0.5 * l - 2.6, -0.5 * l + 3.2],
        _ => {
            let wb = 0.6 * l;
            vec![0.5 * wb + 0.02 * l, -0.5 * wb + 0.02 * l]
        }
    };
    axles.sort_by(|a, b| b.total_cmp(a));
    match v.kind {
        VehicleKind::Car | VehicleKind::Suv | VehicleKind::Van => {
            let split = ground + match v.kind {
                VehicleKind::Van => 0.45,
                VehicleKind::Suv => 0.55,
                _ => 0.56,
            } * h;
            let lo = ground + 0.2;
            parts.push(solid_box([0.0, 0.0, 0.5 * (lo + split)], [0.5 * l, 0.5 * w, 0.5 * (split - lo)], body(0)));
            let (cab_len, cab_x) = match v.kind {
                VehicleKind::Van => (0.86 * l, -0.05 * l),
                VehicleKind::Suv => (0.7 * l, -0.08 * l),
                _ => (0.55 * l, -0.06 * l),
            };
            let top = 0.5 * h;
            parts.push(solid_box([cab_x, 0.0, 0.5 * (split + top)], [0.5 * cab_len, 0.5 * w - 0.06, 0.5 * (top - split)], body(1)));
        }
        VehicleKind::Truck => {
            let (lo, split) = (ground + 0.35, ground + 1.2);
            parts.push(solid_box([0.0, 0.0, 0.5 * (lo + split)], [0.5 * l, 0.5 * w - 0.05, 0.5 * (split - lo)], body(0)));
            let cab_len = 2.3;
            let cab_top = 0.5 * h - 0.4;
            parts.push(solid_box([0.5 * l - 0.5 * cab_len, 0.0, 0.5 * (split + cab_top)], [0.5 * cab_len, 0.5 * w, 0.5 * (cab_top - split)], body(1)));
            let cargo_len = l - cab_len - 0.3;
            let cargo = Material::Plain { albedo: if v.seed % 3 == 0 { [0.7, 0.7, 0.68] } else { [0.45, 0.46, 0.47] } };
            parts.push(solid_box([-0.5 * l + 0.5 * cargo_len, 0.0, 0.5 * (split + 0.5 * h)], [0.5 * cargo_len, 0.5 * w, 0.5 * (0.5 * h - split)], cargo));
        }
        VehicleKind::Bus => {
            let (lo, split) = (ground + 0.3, ground + 1.2);
            parts.push(solid_box([0.0, 0.0, 0.5 * (lo + split)], [0.5 * l, 0.5 * w, 0.5 * (split - lo)], body(0)));
            parts.push(solid_box([0.0, 0.0, 0.5 * (split + 0.5 * h)], [0.5 * l - 0.05, 0.5 * w - 0.02, 0.5 * (0.5 * h - split)], body(1)));
        }
    }
    for x in axles {
        for side in [-1.0, 1.0] {
            parts.push(Solid { pose: pose3(x, side * wheel_y, ground + r, 0.0), shape: Shape::Wheel { radius_m: r, half_width_m: hw }, material: Material::Tyre });
        }
    }
    parts
}

/// A pedestrian's look.
#[derive(Debug, Clone, PartialEq)]
pub struct PedestrianSpec {
    pub height_m: f64,
    pub shirt: [f32; 3],
    pub trousers: [f32; 3],
    pub skin: [f32; 3],
}

impl PedestrianSpec {
    pub const LENGTH_M: f64 = 0.4;
    pub const WIDTH_M: f64 = 0.55;

    pub fn draw(rng: &mut Rng) -> Self {
        let shirts: [[f32; 3]; 8] = [[0.6, 0.08, 0.06], [0.08, 0.15, 0.45], [0.7, 0.7, 0.68], [0.05, 0.05, 0.05], [0.1, 0.35, 0.15], [0.7, 0.55, 0.1], [0.35, 0.2, 0.4], [0.45, 0.45, 0.47]];
        let trousers: [[f32; 3]; 5] = [[0.05, 0.06, 0.12], [0.04, 0.04, 0.04], [0.3, 0.26, 0.2], [0.25, 0.25, 0.27], [0.1, 0.16, 0.3]];
        let skins: [[f32; 3]; 4] = [[0.62, 0.45, 0.36], [0.45, 0.3, 0.22], [0.28, 0.18, 0.12], [0.7, 0.55, 0.45]];
        Self { height_m: rng.range(1.55, 1.9), shirt: *rng.pick(&shirts), trousers: *rng.pick(&trousers), skin: *rng.pick(&skins) }
    }

    /// Legs box, torso box and head sphere, in the frame of the bounding-box centre (x = the
    /// walking direction).
    pub fn parts(&self) -> Vec<Solid> {
        let k = self.height_m / 1.75;
        let ground = -0.5 * self.height_m;
        let leg_h = 0.84 * k;
        let torso_h = 0.6 * k;
        let head_r = 0.11 * k;
        vec![
            solid_box([0.0, 0.0, ground + 0.5 * leg_h], [0.1 * k, 0.17 * k, 0.5 * leg_h], Material::Plain { albedo: self.trousers }),
            solid_box([0.0, 0.0, ground + leg_h + 0.5 * torso_h], [0.13 * k, 0.22 * k, 0.5 * torso_h], Material::Plain { albedo: self.shirt }),
            Solid { pose: pose3(0.0, 0.0, 0.5 * self.height_m - head_r, 0.0), shape: Shape::Sphere { radius_m: head_r }, material: Material::Plain { albedo: self.skin } },
        ]
    }
}

#[derive(Debug, Clone)]
enum Body {
    Vehicle(VehicleSpec),
    Pedestrian(PedestrianSpec),
}

impl Body {
    fn half_extents(&self) -> (f64, f64) {
        match self {
            Body::Vehicle(v) => (0.5 * v.length_m, 0.5 * v.width_m),
            Body::Pedestrian(_) => (0.5 * PedestrianSpec::LENGTH_M, 0.5 * PedestrianSpec::WIDTH_M),
        }
    }
}

#[derive(Debug, Clone)]
enum Motion {
    /// Lane following with IDM; `sigma0` the centre's lane coordinate at t = 0.
    Idm { lane: LaneRef, sigma0: f64, v0: f64, idm: Idm },
    /// Lane following with a fixed speed profile.
    Scripted { lane: LaneRef, sigma0: f64, profile: SpeedProfile },
    Parked { pose: Pose2 },
    /// Walking parallel to a road at offset `d`, from station `s0` at `speed` (signed).
    Stroll { road: usize, d: f64, s0: f64, speed: f64 },
    /// Piecewise-linear keyframes `(t, position, heading)`, holding the ends.
    Keys(Keyframes),
}

/// How an agent relates to the ego at the start (for captions).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Relation {
    Lead,
    Ahead,
    Oncoming,
    Behind,
    Cross,
    Parked,
}

#[derive(Debug, Clone)]
struct Candidate {
    body: Body,
    motion: Motion,
    /// Higher survives a conflict.
    priority: u8,
    relation: Relation,
}

/// An agent worth mentioning in a caption.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Notable {
    pub kind: VehicleKind,
    pub colour: &'static str,
    pub relation: Relation,
    pub distance_m: f64,
}

/// The road users of a world and a summary for captions.
#[derive(Debug, Clone)]
pub(crate) struct Traffic {
    pub agents: Vec<Agent>,
    pub notables: Vec<Notable>,
    /// 0 light, 1 moderate, 2 heavy.
    pub density: usize,
    pub parked: usize,
    pub walkers: usize,
    pub crossers: usize,
}

const FOREVER: f64 = 1.0e6;

/// The ego's bounding box at a sample.
pub(crate) fn ego_box(e: &EgoSample) -> Obb2 {
    let (s, c) = e.yaw.sin_cos();
    Obb2::new([e.x + EGO_BOX_OFFSET_M * c, e.y + EGO_BOX_OFFSET_M * s], e.yaw, 0.5 * EGO_LENGTH_M, 0.5 * EGO_WIDTH_M)
}

/// Populates the world with traffic and pedestrians.
pub(crate) fn populate(net: &RoadNetwork, design: &Design, ego: &[EgoSample], duration: f64, pedestrians: bool, rng: &mut Rng) -> Traffic {
    let roads = net.roads();
    let density_class = rng.weighted(&[0.3, 0.45, 0.25]);
    let density = [0.6, 1.0, 1.4][density_class];
    let ego_vmax = design.profile.max_speed();
    let s_e = design.s_start;

    // Where no moving vehicle may start, per lane (lane-coordinate intervals).
    let mut keep_clear: Vec<(LaneRef, f64, f64)> = Vec::new();
    let ego_lane = design.ego_lane;
    keep_clear.push((ego_lane, s_e - EGO_REAR_OVERHANG_M - 12.0, s_e + EGO_FRONT_M + 18.0));
    for &(lane, entry) in &design.later_lanes {
        if lane.road == ego_lane.road && lane.dir == ego_lane.dir {
            keep_clear.push((lane, s_e - 35.0, entry.max(s_e) + 35.0));
        } else {
            keep_clear.push((lane, entry - 25.0, entry + 25.0));
        }
    }
    let all_lanes = |r: usize| {
        let road = &roads[r];
        let mut v = Vec::new();
        for dir in [Dir::Forward, Dir::Backward] {
            for i in 0..road.lanes(dir) {
                v.push(LaneRef { road: r, dir, index: i });
            }
        }
        v
    };
    let clear_stations = |r: usize, a: f64, b: f64, keep: &mut Vec<(LaneRef, f64, f64)>| {
        for lane in all_lanes(r) {
            let (x, y) = (lane.dir.sign() * a, lane.dir.sign() * b);
            keep.push((lane, x.min(y), x.max(y)));
        }
    };
    if let Some(j) = &design.junction {
        clear_stations(j.a, j.zone_a.0 - 3.0, j.zone_a.1 + 3.0, &mut keep_clear);
        clear_stations(j.b, j.zone_b.0 - 3.0, j.zone_b.1 + 3.0, &mut keep_clear);
    }
    if let Some(m) = &design.midblock {
        clear_stations(m.road, m.stop_forward - 3.0, m.stop_backward + 3.0, &mut keep_clear);
    }
    // Stop-and-go: only the (scripted) lead between the ego and its wait line.
    if let Plan::Stop { .. } = design.plan {
        let wait_far = design.midblock.as_ref().map(|m| m.stop_backward).or_else(|| design.junction.as_ref().map(|j| j.zone_a.1)).unwrap_or(s_e + 60.0);
        keep_clear.push((ego_lane, s_e, wait_far + 12.0));
    }
    let protected: Vec<(LaneRef, f64)> = std::iter::once((ego_lane, s_e)).chain(design.later_lanes.iter().copied()).collect();

    let mut cands: Vec<Candidate> = Vec::new();
    let mut stop_rules = design.stop_rules.clone();

    // Moving traffic, lane by lane from the front.
    let lanes: Vec<LaneRef> = (0..roads.len()).flat_map(all_lanes).collect();
    let per_lane = (48 / lanes.len().max(1) + 2).min(12);
    for lane in lanes {
        {
            let (s_lo, s_hi) = design.traffic_windows[lane.road][if lane.dir == Dir::Forward { 0 } else { 1 }];
            let (lo, hi) = if lane.dir == Dir::Forward { (s_lo, s_hi) } else { (-s_hi, -s_lo) };
            let mut sigma = hi - rng.range(0.0, 25.0);
            let mut in_lane = 0;
            let mut leader: Option<(f64, f64)> = None; // (rear sigma, speed)
            while sigma > lo && in_lane < per_lane {
                let kind = random_kind(rng, true);
                let spec = draw_vehicle(rng, kind);
                let centre = sigma - 0.5 * spec.length_m;
                let (rear, front) = (centre - 0.5 * spec.length_m, sigma);
                let gap_next = rng.range(6.0, 40.0) / density + if rng.chance(0.15) { rng.range(30.0, 80.0) } else { 0.0 };
                sigma = rear - gap_next;
                if rear < lo || keep_clear.iter().any(|&(l, a, b)| l == lane && front > a && rear < b) {
                    continue;
                }
                let mut v_des = match kind {
                    VehicleKind::Truck | VehicleKind::Bus => rng.range(8.0, 11.5),
                    _ => rng.range(9.0, 14.5),
                };
                // Ahead of where the ego drives in this lane: always faster than the ego.
                if protected.iter().any(|&(l, entry)| l == lane && centre > entry) {
                    v_des = v_des.max((ego_vmax + 2.5).min(19.5));
                }
                let mut v0 = v_des * rng.range(0.85, 1.0);
                if let Some((lead_rear, lead_v)) = leader {
                    let gap = lead_rear - front;
                    v0 = v0.min(lead_v + (gap - 6.0).max(0.0) / 2.0).min(((gap - 3.0) / 1.4).max(0.0));
                }
                let idm = Idm { desired_speed: v_des, max_accel: rng.range(1.2, 1.8), comfortable_decel: 2.0, time_headway_s: rng.range(1.2, 1.7), min_gap_m: rng.range(2.0, 3.0) };
                leader = Some((rear, v0));
                in_lane += 1;
                let relation = relation_of(&lane, design);
                cands.push(Candidate { body: Body::Vehicle(spec), motion: Motion::Idm { lane, sigma0: centre, v0, idm }, priority: 2, relation });
            }
        }
    }

    // The stopped lead car of a stop-and-go scene.
    if let Some(lead) = &design.lead {
        cands.push(Candidate {
            body: Body::Vehicle(lead.spec.clone()),
            motion: Motion::Scripted { lane: ego_lane, sigma0: s_e + lead.sigma0_rel, profile: lead.profile.clone() },
            priority: 4,
            relation: Relation::Lead,
        });
    }

    // Parked cars in parking strips.
    let mut parked = 0usize;
    for (r, road) in roads.iter().enumerate() {
        let (w_lo, w_hi) = design.scenery_windows[r];
        for dir in [Dir::Forward, Dir::Backward] {
            let shoulder = if dir == Dir::Forward { road.shoulder_right_m } else { road.shoulder_left_m };
            if shoulder < 2.0 {
                continue;
            }
            let mut s = w_lo + rng.range(0.0, 10.0);
            while s < w_hi && parked < 30 {
                if rng.chance(0.15) {
                    s += rng.range(6.0, 25.0);
                    continue;
                }
                let kind = [VehicleKind::Car, VehicleKind::Suv, VehicleKind::Van][rng.weighted(&[0.65, 0.25, 0.1])];
                let spec = draw_vehicle(rng, kind);
                let (a, b) = (s, s + spec.length_m);
                s = b + rng.range(0.8, 6.0);
                let near = |breaks: &[(f64, f64)], m: f64| breaks.iter().any(|&(x, y)| b > x - m && a < y + m);
                if near(&road.curb_breaks, 6.0) || near(&road.line_breaks, 4.0) || b > w_hi {
                    continue;
                }
                let d = road.curb_offset(dir) + dir.sign() * (0.5 * spec.width_m + 0.3);
                let (p, h) = road.path.offset_point(0.5 * (a + b), d);
                let heading = if dir == Dir::Forward { h } else { wrap_pi(h + std::f64::consts::PI) };
                parked += 1;
                cands.push(Candidate { body: Body::Vehicle(spec), motion: Motion::Parked { pose: Pose2::new(p[0], p[1], heading) }, priority: 3, relation: Relation::Parked });
            }
        }
    }

    // Pedestrians: strollers on sidewalks, and people crossing at crosswalks.
    if pedestrians {
        let count = rng.int(4, 10);
        for _ in 0..count {
            let r = if roads.len() > 1 && rng.chance(0.3) { 1 } else { 0 };
            let road = &roads[r];
            let (w_lo, w_hi) = design.scenery_windows[r];
            let lo = if r == 0 { (s_e - 30.0).max(w_lo) } else { w_lo };
            let hi = if r == 0 { (s_e + design.profile.distance(duration) + 70.0).min(w_hi) } else { w_hi };
            if hi <= lo {
                continue;
            }
            let side = if rng.chance(0.5) { Dir::Forward } else { Dir::Backward };
            let out = -side.sign();
            let s0 = rng.range(lo, hi);
            let mut speed = rng.range(1.0, 1.6) * rng.sign();
            // Keep right: people walking the same way share one side of the walk.
            let keep_right = |speed: f64| {
                let with_road = (speed > 0.0) == (side == Dir::Forward);
                let frac = if with_road { 0.45 } else { 0.8 };
                road.curb_offset(side) + out * (frac * road.sidewalk_m)
            };
            let clear = |speed: f64| {
                let (a, b) = (s0.min(s0 + speed * duration) - 1.5, s0.max(s0 + speed * duration) + 1.5);
                !road.curb_breaks.iter().any(|&(x, y)| b > x && a < y) && a > 0.0 && b < road.path.length()
            };
            if !clear(speed) {
                speed = -speed;
                if !clear(speed) {
                    continue;
                }
            }
            let d = keep_right(speed) + rng.range(-0.05, 0.05);
            cands.push(Candidate { body: Body::Pedestrian(PedestrianSpec::draw(rng)), motion: Motion::Stroll { road: r, d, s0, speed }, priority: 1, relation: Relation::Ahead });
        }
        for (keys, rules) in plan_crossings(roads, design, duration, rng) {
            stop_rules.extend(rules);
            cands.push(Candidate { body: Body::Pedestrian(PedestrianSpec::draw(rng)), motion: Motion::Keys(keys), priority: 1, relation: Relation::Cross });
        }
    }

    // Simulate; drop agents that would touch the ego or a more important agent; repeat.
    let n = ego.len();
    let mut poses = simulate(roads, &cands, &stop_rules, ego, n);
    for round in 0..4 {
        let bad = conflicts(&cands, &poses, ego);
        tracing::debug!(round, dropped = bad.len(), "agents removed to avoid contact");
        if bad.is_empty() {
            break;
        }
        let keep: Vec<bool> = (0..cands.len()).map(|i| !bad.contains(&i)).collect();
        cands = cands.into_iter().zip(&keep).filter(|(_, k)| **k).map(|(c, _)| c).collect();
        poses = poses.into_iter().zip(&keep).filter(|(_, k)| **k).map(|(p, _)| p).collect();
        if round < 3 {
            poses = simulate(roads, &cands, &stop_rules, ego, n);
        }
    }

    // Agents, numbered per category in a fixed order.
    let times = sample_times_us(n);
    let mut counters: BTreeMap<&'static str, usize> = BTreeMap::new();
    let mut agents = Vec::with_capacity(cands.len());
    let mut notables = Vec::new();
    let ego0 = ego.first().copied();
    let (mut n_parked, mut n_walk, mut n_cross) = (0, 0, 0);
    for (c, ps) in cands.iter().zip(&poses) {
        let (category, size, parts, z) = match &c.body {
            Body::Vehicle(v) => (v.kind.category(), Vector3::new(v.length_m, v.width_m, v.height_m), vehicle_parts(v), 0.5 * v.height_m),
            Body::Pedestrian(p) => ("pedestrian", Vector3::new(PedestrianSpec::LENGTH_M, PedestrianSpec::WIDTH_M, p.height_m), p.parts(), 0.5 * p.height_m),
        };
        let k = counters.entry(category).or_insert(0);
        let track_id = format!("{category}_{k}");
        *k += 1;
        let world_poses = ps.iter().map(|p| pose3(p.x, p.y, z, p.heading)).collect();
        // Invariant: one pose per timestamp, timestamps strictly increasing and non-empty.
        let trajectory = Trajectory::new(times.clone(), world_poses).expect("agent samples match the strictly increasing timestamps");
        match (&c.body, &c.motion) {
            (Body::Vehicle(_), Motion::Parked { .. }) => n_parked += 1,
            (Body::Vehicle(_), _) => {}
            (Body::Pedestrian(_), Motion::Keys(_)) => n_cross += 1,
            (Body::Pedestrian(_), _) => n_walk += 1,
        }
        if let (Body::Vehicle(v), Some(e0)) = (&c.body, ego0) {
            let p = ps[0];
            let distance_m = ((p.x - e0.x).powi(2) + (p.y - e0.y).powi(2)).sqrt();
            notables.push(Notable { kind: v.kind, colour: v.colour, relation: refine_relation(c.relation, &p, &e0), distance_m });
        }
        agents.push(Agent { track_id, category: category.to_string(), size_lwh_m: size, parts, trajectory });
    }
    Traffic { agents, notables, density: density_class, parked: n_parked, walkers: n_walk, crossers: n_cross }
}

/// A coarse relation of a lane to the ego's drive.
fn relation_of(lane: &LaneRef, design: &Design) -> Relation {
    if lane.road != design.ego_lane.road {
        Relation::Cross
    } else if lane.dir == design.ego_lane.dir {
        Relation::Ahead
    } else {
        Relation::Oncoming
    }
}

/// Ahead / behind from the ego's start pose.
fn refine_relation(r: Relation, p: &Pose2, e: &EgoSample) -> Relation {
    let (s, c) = e.yaw.sin_cos();
    let x = c * (p.x - e.x) + s * (p.y - e.y);
    match r {
        Relation::Ahead if x < 0.0 => Relation::Behind,
        Relation::Oncoming if x < -5.0 => Relation::Behind,
        other => other,
    }
}

/// Keyframes `(t, position, heading)` of a walker.
type Keyframes = Vec<(f64, [f64; 2], f64)>;

/// People crossing at crosswalks, timed so they never stand in the ego's path when it passes:
/// in front of the ego while it waits (stop and go), or across the cross road while its light is
/// red. Returns each walker's keyframes and the stop rules it imposes on traffic.
fn plan_crossings(roads: &[Road], design: &Design, duration: f64, rng: &mut Rng) -> Vec<(Keyframes, Vec<StopRule>)> {
    let mut sites: Vec<(CrosswalkSite, f64, f64, bool)> = Vec::new(); // site, earliest, latest start, in front of ego
    match (&design.plan, &design.junction, &design.midblock) {
        (Plan::Stop { t_stop, t_go, .. }, None, Some(m)) => sites.push((m.clone(), *t_stop - 4.0, *t_go, true)),
        (Plan::Stop { t_stop, t_go, .. }, Some(j), _) => {
            if let Some(c) = j.crosswalks.iter().find(|c| c.road == j.a && c.arm < 0) {
                sites.push((c.clone(), *t_stop - 4.0, *t_go, true));
            }
        }
        (_, Some(j), _) => {
            // The cross road's red (the first rule on road b lasting for ever).
            let t_red = design.stop_rules.iter().filter(|r| r.road == j.b && r.t1 >= FOREVER).map(|r| r.t0).fold(FOREVER, f64::min);
            let exit_arm = match design.plan {
                Plan::Turn { .. } => design.later_lanes.first().map(|(l, _)| if l.dir == Dir::Forward { 1 } else { -1 }),
                _ => None,
            };
            for c in j.crosswalks.iter().filter(|c| c.road == j.b && Some(c.arm) != exit_arm) {
                if t_red + 1.5 < duration - 1.0 {
                    sites.push((c.clone(), t_red + 1.5, (t_red + 6.0).min(duration - 1.0), false));
                }
            }
        }
        _ => {}
    }
    let mut out = Vec::new();
    let lead_early = design.lead.as_ref().map_or(0.0, |l| l.delta_s);
    for (site, earliest, latest, in_front) in sites {
        let road = &roads[site.road];
        let count = rng.int(1, 2);
        for i in 0..count {
            let v = rng.range(1.1, 1.5);
            // Two people use the two halves of the crosswalk.
            let s_p = if count == 2 {
                site.s_centre + (i as f64 - 0.5) * site.half_len
            } else {
                site.s_centre + rng.range(-site.half_len + 0.4, site.half_len - 0.4)
            };
            let start_near = |from_right: bool| if from_right { (site.d_min - 0.4, site.d_max + 0.4) } else { (site.d_max + 0.4, site.d_min - 0.4) };
            // In front of the waiting ego: clear its lane (with a lead car leaving
            // `lead_early` sooner) before it pulls away, starting inside the clip, preferably
            // from the ego's side of the road.
            let lane_d = design.ego_lane.offset(roads);
            let half = 0.5 * road.lane_width_m + 0.9;
            let deadline = (latest - lead_early + 0.6).max(earliest + 2.0);
            let timing = |d_a: f64, d_b: f64, rng: &mut Rng| {
                let leave_d = if d_b > d_a { lane_d + half } else { lane_d - half };
                let t_clear = rng.range(earliest + 2.0, deadline);
                t_clear - (leave_d - d_a).abs() / v
            };
            let (mut d_a, mut d_b) = start_near(rng.chance(0.5));
            let t_start = if in_front {
                if rng.chance(0.75) {
                    (d_a, d_b) = start_near(true);
                }
                let mut t = timing(d_a, d_b, rng);
                if t < 0.3 && d_a > d_b {
                    (d_a, d_b) = start_near(true);
                    t = timing(d_a, d_b, rng);
                }
                t.max(0.3)
            } else {
                rng.range(earliest, latest.max(earliest))
            };
            let t_end = t_start + (d_b - d_a).abs() / v;
            let (pa, h) = road.path.offset_point(s_p, d_a);
            let (pb, _) = road.path.offset_point(s_p, d_b);
            let heading = (pb[1] - pa[1]).atan2(pb[0] - pa[0]);
            // After crossing, walk on along the sidewalk.
            let along = if rng.chance(0.5) { h } else { h + std::f64::consts::PI };
            let rest = (duration + 1.0 - t_end).max(0.0) * v;
            let pc = [pb[0] + rest * along.cos(), pb[1] + rest * along.sin()];
            let keys = vec![(t_start, pa, heading), (t_end, pb, heading), (t_end + 0.5, pb, along), (duration + 1.5, pc, along)];
            // Traffic of each direction waits while the walker is in (or near) its half.
            let mut rules = Vec::new();
            for (dir, lo, hi, s_line) in [(Dir::Forward, site.d_min, 0.0, site.stop_forward), (Dir::Backward, 0.0, site.d_max, site.stop_backward)] {
                let (lo, hi) = (lo - 1.5, hi + 1.5);
                let at = |d: f64| t_start + (d - d_a).abs() / v;
                let (mut t_in, mut t_out) = (at(lo.clamp(d_a.min(d_b), d_a.max(d_b))), at(hi.clamp(d_a.min(d_b), d_a.max(d_b))));
                if t_in > t_out {
                    std::mem::swap(&mut t_in, &mut t_out);
                }
                rules.push(StopRule { road: site.road, dir, s_line, t0: t_in - 4.0, t1: t_out + 0.3 });
            }
            out.push((keys, rules));
        }
    }
    out
}

/// The ego seen from a lane it overlaps: lane coordinates of its centre and rear, and its speed
/// along the lane.
#[derive(Debug, Clone, Copy)]
struct EgoInLane {
    centre: f64,
    rear: f64,
    speed: f64,
}

/// The ego's footprint along `lane`, if its box overlaps the lane.
fn ego_in_lane(roads: &[Road], lane: &LaneRef, e: &EgoSample) -> Option<EgoInLane> {
    let road = &roads[lane.road];
    let b = ego_box(e);
    let pr = road.path.project(b.centre[0], b.centre[1]);
    let len = road.path.length();
    if pr.s <= 0.0 || pr.s >= len {
        return None;
    }
    let (_, h) = road.path.pose_at(pr.s);
    let lane_heading = if lane.dir == Dir::Forward { h } else { h + std::f64::consts::PI };
    let delta = wrap_pi(e.yaw - lane_heading);
    let (sd, cd) = delta.sin_cos();
    let lateral = (b.half_length * sd).abs() + (b.half_width * cd).abs();
    let longitudinal = (b.half_length * cd).abs() + (b.half_width * sd).abs();
    if (pr.d - road.lane_centre(lane.dir, lane.index)).abs() >= 0.5 * road.lane_width_m + lateral - 0.1 {
        return None;
    }
    let sigma = lane.dir.sign() * pr.s;
    Some(EgoInLane { centre: sigma, rear: sigma - longitudinal, speed: e.v * cd })
}

/// Trajectories (one pose per sample) of every candidate.
#[allow(clippy::needless_range_loop)] // `k` indexes several per-step tables
fn simulate(roads: &[Road], cands: &[Candidate], rules: &[StopRule], ego: &[EgoSample], n: usize) -> Vec<Vec<Pose2>> {
    let dt = SAMPLE_DT_S;
    let m = cands.len();
    let mut sigma = vec![0.0; m];
    let mut vel = vec![0.0; m];
    let mut lanes: BTreeMap<LaneRef, Vec<usize>> = BTreeMap::new();
    for (i, c) in cands.iter().enumerate() {
        match &c.motion {
            Motion::Idm { lane, sigma0, v0, .. } => {
                sigma[i] = *sigma0;
                vel[i] = *v0;
                lanes.entry(*lane).or_default().push(i);
            }
            Motion::Scripted { lane, sigma0, profile } => {
                sigma[i] = *sigma0;
                vel[i] = profile.speed(0.0);
                lanes.entry(*lane).or_default().push(i);
            }
            _ => {}
        }
    }
    // The ego as a leader in each lane with traffic.
    let ego_occ: BTreeMap<LaneRef, Vec<Option<EgoInLane>>> =
        lanes.keys().map(|lane| (*lane, ego.iter().map(|e| ego_in_lane(roads, lane, e)).collect())).collect();
    // Stop decisions per (candidate, rule): None until the rule starts.
    let mut decided: Vec<Vec<Option<bool>>> = vec![vec![None; rules.len()]; m];
    let mut out: Vec<Vec<Pose2>> = vec![Vec::with_capacity(n); m];
    let mut acc = vec![0.0; m];
    for k in 0..n {
        let t = k as f64 * dt;
        for (i, c) in cands.iter().enumerate() {
            let p = match &c.motion {
                Motion::Idm { lane, .. } | Motion::Scripted { lane, .. } => lane.pose(roads, sigma[i]),
                Motion::Parked { pose } => *pose,
                Motion::Stroll { road, d, s0, speed } => {
                    let (p, h) = roads[*road].path.offset_point(s0 + speed * t, *d);
                    Pose2::new(p[0], p[1], if *speed >= 0.0 { h } else { wrap_pi(h + std::f64::consts::PI) })
                }
                Motion::Keys(keys) => keyframe(keys, t),
            };
            out[i].push(p);
        }
        if k + 1 == n {
            break;
        }
        for (lane, members) in &lanes {
            for &i in members {
                let Motion::Idm { idm, .. } = &cands[i].motion else { continue };
                let (hl, _) = cands[i].body.half_extents();
                let front = sigma[i] + hl;
                let (mut gap, mut v_lead) = (f64::INFINITY, 0.0);
                for &j in members {
                    if j == i || sigma[j] < sigma[i] || (sigma[j] == sigma[i] && j > i) {
                        continue;
                    }
                    let g = sigma[j] - cands[j].body.half_extents().0 - front;
                    if g < gap {
                        gap = g;
                        v_lead = vel[j];
                    }
                }
                if let Some(e) = ego_occ[lane][k] {
                    if e.centre > sigma[i] && e.rear - front < gap {
                        gap = e.rear - front;
                        v_lead = e.speed.max(0.0);
                    }
                }
                for (ri, rule) in rules.iter().enumerate() {
                    if rule.road != lane.road || rule.dir != lane.dir || t < rule.t0 || t > rule.t1 {
                        continue;
                    }
                    let line = lane.dir.sign() * rule.s_line;
                    let stop = *decided[i][ri].get_or_insert_with(|| {
                        let room = line - front - 0.5;
                        room > 0.0 && vel[i] * vel[i] / (2.0 * room) <= 3.5
                    });
                    if stop && line - front < gap {
                        gap = line - front;
                        v_lead = 0.0;
                    }
                }
                acc[i] = idm.accel(vel[i], gap, vel[i] - v_lead);
            }
        }
        for (i, c) in cands.iter().enumerate() {
            match &c.motion {
                Motion::Idm { .. } => {
                    vel[i] = (vel[i] + acc[i] * dt).max(0.0);
                    sigma[i] += vel[i] * dt;
                }
                Motion::Scripted { sigma0, profile, .. } => {
                    sigma[i] = sigma0 + profile.distance(t + dt);
                    vel[i] = profile.speed(t + dt);
                }
                _ => {}
            }
        }
    }
    out
}

/// Pose at `t` from keyframes (linear position; each segment's heading is its end's).
fn keyframe(keys: &[(f64, [f64; 2], f64)], t: f64) -> Pose2 {
    let first = keys[0];
    if t <= first.0 {
        return Pose2::new(first.1[0], first.1[1], first.2);
    }
    for w in keys.windows(2) {
        let ((t0, p0, _), (t1, p1, h1)) = (w[0], w[1]);
        if t <= t1 {
            let u = if t1 > t0 { (t - t0) / (t1 - t0) } else { 1.0 };
            return Pose2::new(p0[0] + u * (p1[0] - p0[0]), p0[1] + u * (p1[1] - p0[1]), h1);
        }
    }
    let last = keys[keys.len() - 1];
    Pose2::new(last.1[0], last.1[1], last.2)
}

/// Indices of candidates to drop: any touching the ego (0.15 m margin on each box), and the
/// lower-priority one of any touching pair (0.05 m margin), checked every 50 ms.
fn conflicts(cands: &[Candidate], poses: &[Vec<Pose2>], ego: &[EgoSample]) -> std::collections::BTreeSet<usize> {
    let mut bad = std::collections::BTreeSet::new();
    let n = ego.len();
    let mut boxes: Vec<Obb2> = Vec::with_capacity(cands.len());
    for k in (0..n).step_by(5).chain(std::iter::once(n - 1)) {
        let eb = ego_box(&ego[k]);
        boxes.clear();
        for (c, ps) in cands.iter().zip(poses) {
            let (hl, hw) = c.body.half_extents();
            boxes.push(Obb2::new([ps[k].x, ps[k].y], ps[k].heading, hl, hw));
        }
        for (i, b) in boxes.iter().enumerate() {
            if bad.contains(&i) {
                continue;
            }
            if b.overlaps(&eb, 0.15) {
                bad.insert(i);
                continue;
            }
            for j in i + 1..boxes.len() {
                if bad.contains(&j) || !b.overlaps(&boxes[j], 0.05) {
                    continue;
                }
                // Parked and stationary pairs placed apart never collide; this is motion.
                let drop = if cands[i].priority < cands[j].priority || (cands[i].priority == cands[j].priority && i > j) { i } else { j };
                bad.insert(drop);
                if drop == i {
                    break;
                }
            }
        }
    }
    bad
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vehicle_parts_follow_the_renderer_conventions() {
        let mut rng = Rng::new(3);
        for kind in [VehicleKind::Car, VehicleKind::Suv, VehicleKind::Van, VehicleKind::Truck, VehicleKind::Bus] {
            let v = draw_vehicle(&mut rng, kind);
            let parts = vehicle_parts(&v);
            let wheels = parts.iter().filter(|p| matches!(p.shape, Shape::Wheel { .. })).count();
            assert!(wheels >= 4);
            let bodies: Vec<&Solid> = parts.iter().filter(|p| matches!(p.material, Material::VehicleBody { .. })).collect();
            // One lower body (centre at or below the box centre) and one cabin above it.
            assert_eq!(bodies.iter().filter(|p| p.pose.translation.vector.z <= 0.0).count(), 1, "{kind:?}");
            assert_eq!(bodies.iter().filter(|p| p.pose.translation.vector.z > 0.0).count(), 1, "{kind:?}");
            // Everything inside the bounding box.
            for p in &parts {
                let c = p.pose.translation.vector;
                let (hx, hy, hz) = match p.shape {
                    Shape::Box { half_extents_m } => (half_extents_m.x, half_extents_m.y, half_extents_m.z),
                    Shape::Wheel { radius_m, half_width_m } => (radius_m, half_width_m, radius_m),
                    Shape::Sphere { radius_m } => (radius_m, radius_m, radius_m),
                    Shape::Cylinder { radius_m, height_m } => (radius_m, radius_m, height_m),
                };
                assert!(c.x.abs() + hx <= 0.5 * v.length_m + 1e-9, "{kind:?} x");
                assert!(c.y.abs() + hy <= 0.5 * v.width_m + 1e-9, "{kind:?} y");
                assert!(c.z - hz >= -0.5 * v.height_m - 1e-9 && c.z + hz <= 0.5 * v.height_m + 1e-9, "{kind:?} z");
            }
        }
    }

    #[test]
    fn keyframes_interpolate_and_hold() {
        let keys = vec![(1.0, [0.0, 0.0], 0.5), (3.0, [2.0, 0.0], 0.5)];
        assert_eq!(keyframe(&keys, 0.0), Pose2::new(0.0, 0.0, 0.5));
        let mid = keyframe(&keys, 2.0);
        assert!((mid.x - 1.0).abs() < 1e-12);
        assert_eq!(keyframe(&keys, 9.0), Pose2::new(2.0, 0.0, 0.5));
    }
}
