//! World generation from a seed: road layout, ego drive, traffic, scenery, map, environment and
//! captions, all deterministic.
//!
//! [`generate`] resolves the scene parameters (any left `None` is drawn from the seed), designs
//! the roads so that the chosen manoeuvre happens inside the clip, drives the ego car through
//! them with a kinematic bicycle model steered by pure pursuit ([`crate::motion`]), populates
//! traffic and pedestrians ([`crate::traffic`]) and scenery ([`crate::scenery`]), and writes the
//! map and captions. Every random draw comes from [`Rng`] streams forked from the seed by name,
//! and nothing depends on time, hashing order or threads: the same parameters give a bitwise
//! identical [`World`].
//!
//! The design works backwards from the ego's speed profile: a stop-and-go clip first decides when
//! the ego stops, integrates the profile to find where, and puts the wait line (and a stopped
//! lead car, or a crosswalk) there; a turn decides when the ego reaches turning speed and places
//! the intersection so that its turning arc starts at that point. The world frame is the ego's
//! pose at t = 0 (FLU, rear-axle centre on the ground), so the first ego pose is exactly the
//! identity: roads are designed in a convenient frame and moved rigidly into the ego's.

use std::f64::consts::{FRAC_PI_2, PI};

use nalgebra::{Isometry3, Translation3, UnitQuaternion, Vector3};
use worldrig_scene::{Pose3, Trajectory};

use crate::caption::{self, CaptionFacts};
use crate::geom::{Path, Pose2};
use crate::groundtex::GroundStyle;
use crate::motion::{self, BicycleParams, EgoSample, Lateral, Route, SpeedProfile};
use crate::rng::Rng;
use crate::road::{CentreLine, CurbReturn, Decal, DecalKind, Dir, IdGen, Road, RoadNetwork};
use crate::scenery;
use crate::traffic::{self, CrosswalkSite, Junction, LaneRef, LeadPlan, StopRule};
use crate::world::{Environment, Manoeuvre, RoadLayout, TimeOfDay, Weather, World};

/// Ego and agent trajectories are sampled at this interval (100 Hz).
pub const SAMPLE_DT_S: f64 = 0.01;
/// Ego car body: length, width, rear overhang (rear axle to rear bumper), wheelbase.
pub const EGO_LENGTH_M: f64 = 4.85;
pub const EGO_WIDTH_M: f64 = 1.95;
pub const EGO_REAR_OVERHANG_M: f64 = 1.0;
pub const EGO_WHEELBASE_M: f64 = 2.85;
/// Rear axle to front bumper.
pub const EGO_FRONT_M: f64 = EGO_LENGTH_M - EGO_REAR_OVERHANG_M;
/// Rear axle to the centre of the ego's bounding box.
pub const EGO_BOX_OFFSET_M: f64 = 0.5 * EGO_LENGTH_M - EGO_REAR_OVERHANG_M;
/// Longest clip [`generate`] accepts (longer requests are clamped).
pub const MAX_DURATION_S: f64 = 600.0;

/// What to generate. `None` fields are drawn from the seed (each from its own stream, so fixing
/// one leaves the others' draws unchanged). Two combinations are adjusted rather than refused,
/// and [`World`] reports what was built: a turn always happens at an intersection (the layout
/// becomes [`RoadLayout::Intersection`]), and a lane change needs at least two lanes each way.
/// When the manoeuvre is drawn, it is drawn among those the fixed parameters allow.
#[derive(Debug, Clone, PartialEq)]
pub struct WorldParams {
    pub seed: u64,
    /// Clip length in seconds; ego and agent trajectories cover [0, duration_s] at 100 Hz.
    pub duration_s: f64,
    pub layout: Option<RoadLayout>,
    /// 1..=4 (clamped).
    pub lanes_each_way: Option<u32>,
    pub manoeuvre: Option<Manoeuvre>,
    pub time_of_day: Option<TimeOfDay>,
    pub weather: Option<Weather>,
    pub pedestrians: bool,
}

impl Default for WorldParams {
    fn default() -> Self {
        Self { seed: 0, duration_s: 10.0, layout: None, lanes_each_way: None, manoeuvre: None, time_of_day: None, weather: None, pedestrians: true }
    }
}

/// The resolved scene parameters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Choices {
    pub layout: RoadLayout,
    pub lanes: u32,
    pub cross_lanes: u32,
    pub manoeuvre: Manoeuvre,
    pub time_of_day: TimeOfDay,
    pub weather: Weather,
}

/// Resolves the parameters. Each choice is drawn from its own stream whether or not it is given,
/// so fixing one parameter leaves the others' draws unchanged. Turns happen at intersections, so
/// a turn forces the intersection layout; a lane change needs two lanes each way.
fn resolve(params: &WorldParams, root: &Rng) -> Choices {
    use Manoeuvre::*;
    let turns_ok = params.layout.is_none_or(|l| l == RoadLayout::Intersection);
    let changes_ok = params.lanes_each_way.is_none_or(|n| n >= 2);
    let weights = [
        0.24,
        if turns_ok { 0.15 } else { 0.0 },
        if turns_ok { 0.15 } else { 0.0 },
        if changes_ok { 0.12 } else { 0.0 },
        if changes_ok { 0.12 } else { 0.0 },
        0.22,
    ];
    let drawn = [Cruise, TurnLeft, TurnRight, LaneChangeLeft, LaneChangeRight, StopAndGo][root.fork("manoeuvre").weighted(&weights)];
    let manoeuvre = params.manoeuvre.unwrap_or(drawn);
    let drawn = [RoadLayout::Straight, RoadLayout::Curved, RoadLayout::Intersection][root.fork("layout").weighted(&[0.35, 0.3, 0.35])];
    let layout = match manoeuvre {
        TurnLeft | TurnRight => RoadLayout::Intersection,
        _ => params.layout.unwrap_or(drawn),
    };
    let drawn = 1 + root.fork("lanes").weighted(&[0.25, 0.4, 0.22, 0.13]) as u32;
    let mut lanes = params.lanes_each_way.unwrap_or(drawn).clamp(1, 4);
    if matches!(manoeuvre, LaneChangeLeft | LaneChangeRight) {
        lanes = lanes.max(2);
    }
    let cross_lanes = 1 + root.fork("cross_lanes").weighted(&[0.35, 0.45, 0.2]) as u32;
    let drawn = [TimeOfDay::Morning, TimeOfDay::Noon, TimeOfDay::Afternoon, TimeOfDay::Dusk][root.fork("time_of_day").weighted(&[0.25, 0.3, 0.3, 0.15])];
    let time_of_day = params.time_of_day.unwrap_or(drawn);
    let drawn = [Weather::Clear, Weather::Overcast, Weather::Fog, Weather::Rain][root.fork("weather").weighted(&[0.5, 0.25, 0.1, 0.15])];
    let weather = params.weather.unwrap_or(drawn);
    Choices { layout, lanes, cross_lanes, manoeuvre, time_of_day, weather }
}

/// Cross-section of a road.
#[derive(Debug, Clone, Copy)]
struct CrossSection {
    lane_width: f64,
    shoulder_right: f64,
    shoulder_left: f64,
    sidewalk: f64,
    centre: CentreLine,
    line_width: f64,
    dash: f64,
    gap: f64,
}

impl CrossSection {
    fn draw(rng: &mut Rng, lanes: u32) -> Self {
        let shoulder = |rng: &mut Rng, p: f64| if rng.chance(p) { rng.range(2.2, 2.5) } else { rng.range(0.45, 0.8) };
        let shoulder_right = shoulder(rng, 0.65);
        let shoulder_left = shoulder(rng, 0.55);
        let centre_w = if lanes == 1 { [0.5, 0.3, 0.2] } else { [0.8, 0.1, 0.1] };
        let centre = [CentreLine::DoubleYellow, CentreLine::SingleYellow, CentreLine::SingleWhite][rng.weighted(&centre_w)];
        let (dash, gap) = *rng.pick(&[(3.0, 6.0), (3.0, 9.0), (4.5, 7.5), (2.0, 4.0)]);
        Self {
            lane_width: rng.range(3.3, 3.7),
            shoulder_right,
            shoulder_left,
            sidewalk: rng.range(2.4, 4.0),
            centre,
            line_width: rng.range(0.13, 0.18),
            dash,
            gap,
        }
    }
    fn road(&self, path: Path, lanes: u32) -> Road {
        Road {
            path,
            lanes_forward: lanes,
            lanes_backward: lanes,
            lane_width_m: self.lane_width,
            shoulder_right_m: self.shoulder_right,
            shoulder_left_m: self.shoulder_left,
            sidewalk_m: self.sidewalk,
            centre_line: self.centre,
            line_width_m: self.line_width,
            dash_m: self.dash,
            gap_m: self.gap,
            line_breaks: Vec::new(),
            curb_breaks: Vec::new(),
        }
    }
}

/// Crosswalk and wait-line dimensions: from the edge of the crossing road (or the start of a
/// mid-block crossing) outwards, a gap `g1`, the crosswalk, a gap `g2`, the wait line.
#[derive(Debug, Clone, Copy)]
struct Markings {
    g1: f64,
    crosswalk: f64,
    g2: f64,
    wait: f64,
    bar: f64,
    period: f64,
}

impl Markings {
    fn draw(rng: &mut Rng) -> Self {
        let bar = rng.range(0.45, 0.6);
        Self { g1: rng.range(0.6, 1.2), crosswalk: rng.range(3.0, 4.5), g2: rng.range(0.8, 1.4), wait: rng.range(0.35, 0.6), bar, period: bar + rng.range(0.45, 0.7) }
    }
    /// Set-back of the wait line's outer edge from the crossing road's curb: also the curb
    /// return radius, so curbs end exactly at the wait lines.
    fn setback(&self) -> f64 {
        self.g1 + self.crosswalk + self.g2 + self.wait
    }
}

/// A painted rectangle on `road` centred at station `s`, offset `d`.
fn decal_on(road: &Road, kind: DecalKind, s: f64, d: f64, half_u: f64, half_v: f64) -> Decal {
    let (c, h) = road.path.offset_point(s, d);
    Decal { kind, centre: c, along: [h.cos(), h.sin()], half_u, half_v }
}

/// What the ego does and when (seconds).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Plan {
    Cruise,
    LaneChange { t0: f64, t1: f64 },
    Stop { t_dec: f64, t_stop: f64, t_go: f64 },
    Turn { t_arc: f64, t_arc_end: f64 },
}

/// Why the ego stops (for captions).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StopCause {
    LeadCar,
    Crosswalk,
    RedLight,
}

/// Everything the later stages need to know about the designed scene.
#[derive(Debug, Clone)]
pub(crate) struct Design {
    pub roads: Vec<Road>,
    pub corners: Vec<CurbReturn>,
    pub decals: Vec<Decal>,
    pub route: Route,
    pub s_start: f64,
    pub profile: SpeedProfile,
    pub plan: Plan,
    pub stop_cause: Option<StopCause>,
    pub ego_lane: LaneRef,
    /// Lanes the ego enters later, with the lane coordinate (`sigma`) where it enters.
    pub later_lanes: Vec<(LaneRef, f64)>,
    pub junction: Option<Junction>,
    pub midblock: Option<CrosswalkSite>,
    pub stop_rules: Vec<StopRule>,
    pub lead: Option<LeadPlan>,
    /// Per road: the arc-length window holding scenery.
    pub scenery_windows: Vec<(f64, f64)>,
    /// Per road and direction (forward, backward): the arc-length window where moving traffic
    /// starts (what the cameras can see during the clip, plus what drives into view).
    pub traffic_windows: Vec<[(f64, f64); 2]>,
    /// Curve direction of a curved road (+1 left, -1 right) for captions.
    pub first_curve: Option<f64>,
}

/// A plain drive: gentle speed variation around `v`.
fn cruise_profile(rng: &mut Rng, duration: f64, v: f64, v_cap: f64) -> SpeedProfile {
    let v0 = v.min(v_cap);
    let v1 = (v0 + rng.range(-1.2, 1.2)).clamp(5.0, v_cap);
    let v2 = (v0 + rng.range(-1.2, 1.2)).clamp(5.0, v_cap);
    let t = duration.max(4.0);
    SpeedProfile::new(vec![(0.0, v0), (0.5 * t, v1), (t, v2)])
}

/// Decelerate to a stop at `t_stop`, wait (at least `min_dwell`), pull away.
fn stop_profile(rng: &mut Rng, duration: f64, v_cruise: f64, min_dwell: f64) -> (SpeedProfile, Plan) {
    let t_stop = (0.4 * duration).clamp(1.2, 9.0);
    let v0 = v_cruise.min(1.7 * t_stop);
    let t_dec = t_stop - v0 / 1.7;
    let dwell = ((0.2 * duration).clamp(1.0, 4.0) * rng.range(0.85, 1.15)).max(min_dwell);
    let t_go = t_stop + dwell;
    let v1 = rng.range(7.0, 11.0);
    let knots = vec![(0.0, v0), (t_dec, v0), (t_stop, 0.0), (t_go, 0.0), (t_go + v1 / 1.3, v1)];
    (SpeedProfile::new(knots), Plan::Stop { t_dec, t_stop, t_go })
}

/// Slow to `v_turn` by `t_arc`, hold it through an arc of `arc_len` metres, accelerate out.
fn turn_profile(rng: &mut Rng, v_cruise: f64, v_turn: f64, arc_len: f64, t_arc: f64) -> (SpeedProfile, Plan) {
    let v0 = v_cruise.min(v_turn + 1.2 * t_arc).max(v_turn);
    let t_dec = ((v0 - v_turn) / 1.2).min(t_arc);
    let t_arc_end = t_arc + arc_len / v_turn;
    let v_exit = rng.range(8.0, 11.0);
    let t_acc = ((v_exit - v_turn) / 1.2).max(1.0);
    let knots = vec![(0.0, v0), (t_arc - t_dec, v0), (t_arc, v_turn), (t_arc_end, v_turn), (t_arc_end + t_acc, v_exit)];
    (SpeedProfile::new(knots), Plan::Turn { t_arc, t_arc_end })
}

/// First time the profile has covered `dist` metres (bisection; `None` if never).
pub(crate) fn time_to_cover(profile: &SpeedProfile, dist: f64, horizon: f64) -> Option<f64> {
    if profile.distance(horizon) < dist {
        return None;
    }
    let (mut lo, mut hi) = (0.0, horizon);
    for _ in 0..60 {
        let mid = 0.5 * (lo + hi);
        if profile.distance(mid) < dist {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    Some(hi)
}

/// A mid-block crossing on `road` whose forward wait line starts at station `s_w`: wait line,
/// zebra, wait line for the other direction; lane lines break across it.
fn midblock_crossing(road: &mut Road, r: usize, s_w: f64, mk: &Markings) -> (Vec<Decal>, CrosswalkSite) {
    let w = road.lane_width_m;
    let (nf, nb) = (road.lanes_forward as f64, road.lanes_backward as f64);
    let (d_lo, d_hi) = (road.curb_offset(Dir::Forward), road.curb_offset(Dir::Backward));
    let s_c = s_w + mk.wait + mk.g2 + 0.5 * mk.crosswalk;
    let s_bw = s_c + 0.5 * mk.crosswalk + mk.g2 + mk.wait;
    let decals = vec![
        decal_on(road, DecalKind::WaitLine, s_w + 0.5 * mk.wait, -0.5 * nf * w, 0.5 * mk.wait, 0.5 * nf * w),
        decal_on(road, DecalKind::Crosswalk { bar_m: mk.bar, period_m: mk.period }, s_c, 0.5 * (d_lo + d_hi), 0.5 * mk.crosswalk, 0.5 * (d_hi - d_lo)),
        decal_on(road, DecalKind::WaitLine, s_bw - 0.5 * mk.wait, 0.5 * nb * w, 0.5 * mk.wait, 0.5 * nb * w),
    ];
    road.line_breaks.push((s_w, s_bw));
    let site = CrosswalkSite { road: r, arm: 0, s_centre: s_c, half_len: 0.5 * mk.crosswalk, d_min: d_lo, d_max: d_hi, stop_forward: s_w, stop_backward: s_bw };
    (decals, site)
}

/// Adds a four-way junction of straight roads `a` and `b` crossing at stations `s_a`, `s_b`:
/// breaks, curb returns, crosswalks on all four arms and wait lines on every approach.
fn junction(roads: &mut [Road], a: usize, b: usize, s_a: f64, s_b: f64, mk: &Markings) -> (Vec<CurbReturn>, Vec<Decal>, Junction) {
    let m = mk.setback();
    let axes = |road: &Road, s: f64| {
        let (_, h) = road.path.pose_at(s);
        ([h.cos(), h.sin()], [-h.sin(), h.cos()])
    };
    let (t_a, n_a) = axes(&roads[a], s_a);
    let (t_b, n_b) = axes(&roads[b], s_b);
    let dot = |p: [f64; 2], q: [f64; 2]| p[0] * q[0] + p[1] * q[1];
    // Half width of road `other` on the side `sigma * t` of the crossing.
    let ext = |other: &Road, t: [f64; 2], n_other: [f64; 2], sigma: f64| other.half_width(dot([sigma * t[0], sigma * t[1]], n_other));
    let ext_a = [ext(&roads[b], t_a, n_b, -1.0), ext(&roads[b], t_a, n_b, 1.0)];
    let ext_b = [ext(&roads[a], t_b, n_a, -1.0), ext(&roads[a], t_b, n_a, 1.0)];
    let zone_a = (s_a - ext_a[0] - m, s_a + ext_a[1] + m);
    let zone_b = (s_b - ext_b[0] - m, s_b + ext_b[1] + m);
    for (r, zone) in [(a, zone_a), (b, zone_b)] {
        roads[r].line_breaks.push(zone);
        roads[r].curb_breaks.push(zone);
    }
    let sidewalk = roads[a].sidewalk_m.min(roads[b].sidewalk_m);
    let mut corners = Vec::new();
    for (i, s1) in [-1.0f64, 1.0].into_iter().enumerate() {
        for s2 in [-1.0f64, 1.0] {
            let (c, _) = roads[a].path.offset_point(s_a + s1 * (ext_a[i] + m), s2 * (roads[a].half_width(s2) + m));
            corners.push(CurbReturn { centre: c, radius_m: m, u: [-s1 * t_a[0], -s1 * t_a[1]], v: [-s2 * n_a[0], -s2 * n_a[1]], sidewalk_m: sidewalk });
        }
    }
    let mut decals = Vec::new();
    let mut crosswalks = Vec::new();
    let mut approaches = Vec::new();
    for (r, s_x, ex) in [(a, s_a, ext_a), (b, s_b, ext_b)] {
        let road = &roads[r];
        let w = road.lane_width_m;
        let (d_lo, d_hi) = (road.curb_offset(Dir::Forward), road.curb_offset(Dir::Backward));
        let (nf, nb) = (road.lanes_forward as f64, road.lanes_backward as f64);
        for (i, s1) in [-1.0f64, 1.0].into_iter().enumerate() {
            let s_c = s_x + s1 * (ex[i] + mk.g1 + 0.5 * mk.crosswalk);
            decals.push(decal_on(road, DecalKind::Crosswalk { bar_m: mk.bar, period_m: mk.period }, s_c, 0.5 * (d_lo + d_hi), 0.5 * mk.crosswalk, 0.5 * (d_hi - d_lo)));
            // The approach on this arm waits at the line; traffic leaving the box stops short
            // of the zebra.
            let s_wait = s_x + s1 * (ex[i] + m);
            let s_leave = s_x + s1 * (ex[i] + mk.g1 - 0.3);
            let (stop_forward, stop_backward) = if s1 < 0.0 { (s_wait, s_leave) } else { (s_leave, s_wait) };
            crosswalks.push(CrosswalkSite { road: r, arm: s1 as i8, s_centre: s_c, half_len: 0.5 * mk.crosswalk, d_min: d_lo, d_max: d_hi, stop_forward, stop_backward });
            if s1 < 0.0 {
                decals.push(decal_on(road, DecalKind::WaitLine, s_wait + 0.5 * mk.wait, -0.5 * nf * w, 0.5 * mk.wait, 0.5 * nf * w));
                approaches.push((r, Dir::Forward, s_wait));
            } else {
                decals.push(decal_on(road, DecalKind::WaitLine, s_wait - 0.5 * mk.wait, 0.5 * nb * w, 0.5 * mk.wait, 0.5 * nb * w));
                approaches.push((r, Dir::Backward, s_wait));
            }
        }
    }
    (corners, decals, Junction { a, b, s_a, s_b, zone_a, zone_b, crosswalks, approaches })
}

/// Designs the roads, the ego's route and speed profile and the scene's timing.
fn design(ch: &Choices, duration: f64, pedestrians: bool, rng: &mut Rng) -> Design {
    use Manoeuvre::*;
    let n = ch.lanes;
    let xa = CrossSection::draw(rng, n);
    let xb = CrossSection::draw(rng, ch.cross_lanes);
    let mk = Markings::draw(rng);
    let w = xa.lane_width;
    let k = match ch.manoeuvre {
        TurnLeft => 0,
        TurnRight => n - 1,
        LaneChangeLeft => rng.int(1, n as i64 - 1) as u32,
        LaneChangeRight => rng.int(0, n as i64 - 2) as u32,
        _ => rng.int(0, n as i64 - 1) as u32,
    };
    let target = match ch.manoeuvre {
        LaneChangeLeft => k - 1,
        LaneChangeRight => k + 1,
        _ => k,
    };
    let d_e = -(k as f64 + 0.5) * w;
    let back = 110.0 + 12.0 * duration;
    let horizon = duration.max(1.0);

    // Curve geometry first: it caps the speed.
    let (r1, a1, lm, r2, a2) = (
        rng.range(55.0 + 12.0 * n as f64, 220.0),
        rng.range(0.45, 1.3) * rng.sign(),
        rng.range(15.0, 70.0),
        rng.range(70.0 + 12.0 * n as f64, 260.0),
        rng.range(0.3, 1.0),
    );
    let a2 = if rng.chance(0.6) { -a1.signum() * a2 } else { a1.signum() * a2 };
    let v_cap = if ch.layout == RoadLayout::Curved { (2.0 * (r1.min(r2) - n as f64 * w - 1.0)).sqrt().min(14.0) } else { 14.5 };
    let v_cruise = rng.range(8.5, 14.0).min(v_cap);

    // Speed profile and plan (turns are planned with the junction below).
    let (mut profile, mut plan) = match ch.manoeuvre {
        StopAndGo => {
            // Long enough for someone starting at the right-hand curb as the ego stops to
            // walk past the ego's lane.
            let to_clear = (n - k) as f64 * w + xa.shoulder_right + 2.1;
            let min_dwell = if pedestrians { (to_clear / 1.2 - 1.0).min(0.45 * duration) } else { 0.0 };
            stop_profile(rng, duration, v_cruise, min_dwell)
        }
        LaneChangeLeft | LaneChangeRight => {
            let t0 = (0.2 * duration).clamp(0.5, 2.5);
            let t1 = t0 + (0.45 * duration).clamp(3.0, 5.0);
            (cruise_profile(rng, duration, v_cruise, v_cap), Plan::LaneChange { t0, t1 })
        }
        _ => (cruise_profile(rng, duration, v_cruise, v_cap), Plan::Cruise),
    };

    // Stop-and-go: a stopped lead car (sometimes) and the line where the first car waits.
    let mut lead = None;
    let mut stop_cause = None;
    let mut x_wait = 0.0; // distance from the ego start to the near edge of its wait line
    if let Plan::Stop { t_stop, .. } = plan {
        let s_stop = profile.distance(t_stop);
        let g_stop = rng.range(1.0, 2.0);
        x_wait = s_stop + EGO_FRONT_M + g_stop;
        if rng.chance(0.55) {
            let gap = rng.range(2.0, 3.2);
            let delta = rng.range(0.6, 1.0);
            let spec = traffic::draw_vehicle(rng, traffic::VehicleKind::Car);
            let length = spec.length_m;
            // Lead centre (lane coordinate relative to the ego's start) at t = 0 so that it
            // stops `gap` ahead of the ego with the same profile `delta` s earlier.
            let sigma0 = EGO_FRONT_M + gap + 0.5 * length + profile.distance(delta);
            lead = Some(LeadPlan { spec, sigma0_rel: sigma0, delta_s: delta, profile: profile.shifted_earlier(delta) });
            x_wait += gap + length;
            stop_cause = Some(StopCause::LeadCar);
        } else {
            stop_cause = Some(if ch.layout == RoadLayout::Intersection { StopCause::RedLight } else { StopCause::Crosswalk });
        }
    }

    // Road paths in a design frame where road A starts at (-L0, 0) heading +x.
    let ahead = profile.distance(horizon) + 14.0 * duration + 180.0;
    let (paths, s_e, first_curve): (Vec<Path>, f64, Option<f64>) = match ch.layout {
        RoadLayout::Straight => (vec![Path::starting_at(Pose2::new(-back, 0.0, 0.0)).line(back + ahead).build()], back, None),
        RoadLayout::Curved => {
            let arc1 = r1 * a1.abs();
            let x0 = match plan {
                // The crossing sits on the straight before the first curve.
                Plan::Stop { .. } => -(x_wait + mk.setback() * 2.0 + rng.range(10.0, 30.0)),
                _ => rng.range(-35.0, 0.5 * arc1),
            };
            let la = (back - x0).max(20.0);
            let s_e = la + x0;
            let so_far = la + arc1 + lm + r2 * a2.abs();
            let le = (s_e + ahead - so_far).max(80.0);
            let path = Path::starting_at(Pose2::new(-la, 0.0, 0.0)).line(la).arc(r1, a1).line(lm).arc(r2, a2).line(le).build();
            (vec![path], s_e, Some(a1.signum()))
        }
        RoadLayout::Intersection => (vec![], back, None), // built below with the junction
    };

    let mut roads: Vec<Road>;
    let mut corners = Vec::new();
    let mut decals = Vec::new();
    let mut junction_info = None;
    let mut midblock = None;
    let mut later_lanes = Vec::new();
    let route: Route;
    let ego_lane = LaneRef { road: 0, dir: Dir::Forward, index: k };
    let mut scenery_windows;
    let mut traffic_windows;

    if ch.layout == RoadLayout::Intersection {
        // Probe geometry with the crossing at x = 0 to measure offsets that do not depend on
        // where the junction is, then place it.
        let lb = 110.0 + 14.0 * duration;
        let build = |x: f64| {
            let pa = Path::starting_at(Pose2::new(-back, -d_e, 0.0)).line(back + x + ahead).build();
            let pb = Path::starting_at(Pose2::new(x, -d_e - lb, FRAC_PI_2)).line(2.0 * lb).build();
            let mut rs = vec![xa.road(pa, n), xb.road(pb, ch.cross_lanes)];
            let s_a = back + x;
            let (c, d, j) = junction(&mut rs, 0, 1, s_a, lb, &mk);
            (rs, c, d, j)
        };
        let (probe, _, _, pj) = build(0.0);
        let wait_rel = pj.zone_a.0 - back; // wait line relative to the crossing (negative)
        let x_cross = match plan {
            Plan::Stop { .. } => x_wait - wait_rel,
            Plan::LaneChange { t1, .. } => {
                let x_w = (profile.distance(0.45 * horizon) + EGO_FRONT_M + 5.0).max(profile.distance(t1) + 12.0).max(25.0);
                x_w - wait_rel
            }
            _ if matches!(ch.manoeuvre, TurnLeft | TurnRight) => {
                let left = ch.manoeuvre == TurnLeft;
                let (off_p, r_turn) = turn_geometry(&probe, &pj, left, d_e);
                let v_turn = (2.2 * r_turn).sqrt().clamp(4.0, 7.5);
                let arc_len = r_turn * FRAC_PI_2;
                let mut t_arc = (0.35 * duration).clamp(2.5, 7.0);
                loop {
                    let (p, pl) = turn_profile(rng, v_cruise, v_turn, arc_len, t_arc);
                    let d2 = p.distance(t_arc);
                    // Arc start at x = x_cross + off_p - r_turn must equal d2; the wait line at
                    // x_cross + wait_rel must be ahead of the ego's front bumper.
                    let x_cross = d2 - off_p + r_turn;
                    if x_cross + wait_rel >= EGO_FRONT_M + 3.0 || t_arc > 30.0 {
                        profile = p;
                        plan = pl;
                        break x_cross;
                    }
                    t_arc += 0.5;
                }
            }
            _ => {
                let x_w = (profile.distance(0.5 * horizon) + EGO_FRONT_M).max(20.0) + rng.range(0.0, 15.0);
                x_w - wait_rel
            }
        };
        let (rs, c, d, j) = build(x_cross);
        roads = rs;
        corners = c;
        decals = d;
        route = match ch.manoeuvre {
            TurnLeft | TurnRight => {
                let left = ch.manoeuvre == TurnLeft;
                let (off_p, r_turn) = turn_geometry(&roads, &j, left, d_e);
                let x_arc = x_cross + off_p - r_turn;
                let exit_len = 2.0 * lb;
                let path = Path::starting_at(Pose2::new(-back, 0.0, 0.0))
                    .line(back + x_arc)
                    .arc(r_turn, if left { FRAC_PI_2 } else { -FRAC_PI_2 })
                    .line(exit_len)
                    .build();
                // The lane the ego turns into and where it enters it.
                let (dir, index) = if left { (Dir::Forward, 0) } else { (Dir::Backward, ch.cross_lanes - 1) };
                let exit = LaneRef { road: 1, dir, index };
                let entry_s = if left { j.zone_b.1 } else { j.zone_b.0 };
                later_lanes.push((exit, dir.sign() * entry_s));
                Route { path, lateral: Lateral::Constant(0.0) }
            }
            _ => Route { path: roads[0].path.clone(), lateral: lateral_for(&plan, &profile, s_e, d_e, target, w) },
        };
        let s_b = j.s_b;
        junction_info = Some(j);
        let travel = profile.distance(horizon);
        // After a turn the ego drives on along road b: scenery and traffic reach further on
        // that side.
        let beyond = (travel - x_cross + 170.0).max(140.0);
        let (lo_b, hi_b) = match ch.manoeuvre {
            TurnLeft => (140.0, beyond),
            TurnRight => (beyond, 140.0),
            _ => (140.0, 140.0),
        };
        scenery_windows = vec![(s_e - 90.0, s_e + travel + 170.0), (s_b - lo_b, s_b + hi_b)];
        let cross = 60.0 + 12.0 * duration;
        let (tlo, thi) = (cross.max(lo_b - 20.0), cross.max(hi_b - 20.0));
        traffic_windows = vec![
            [(s_e - 100.0, s_e + travel + 160.0), (s_e - 60.0, s_e + travel + 14.0 * duration + 170.0)],
            [(s_b - tlo, s_b + thi), (s_b - tlo, s_b + thi)],
        ];
    } else {
        // Move the design so the ego starts at the origin facing +x.
        let (p, h) = paths[0].offset_point(s_e, d_e);
        let to_world = Pose2::new(p[0], p[1], h).inverse();
        let path = paths[0].transformed(&to_world);
        roads = vec![xa.road(path, n)];
        if let Plan::Stop { .. } = plan {
            let (ds, site) = midblock_crossing(&mut roads[0], 0, s_e + x_wait, &mk);
            decals = ds;
            midblock = Some(site);
        }
        route = Route { path: roads[0].path.clone(), lateral: lateral_for(&plan, &profile, s_e, d_e, target, w) };
        scenery_windows = vec![(s_e - 90.0, s_e + profile.distance(horizon) + 170.0)];
        let travel = profile.distance(horizon);
        traffic_windows = vec![[(s_e - 100.0, s_e + travel + 160.0), (s_e - 60.0, s_e + travel + 14.0 * duration + 170.0)]];
    }
    if let Plan::LaneChange { t0, .. } = plan {
        let lane = LaneRef { road: 0, dir: Dir::Forward, index: target };
        later_lanes.push((lane, s_e + profile.distance(t0)));
    }
    for (wdw, road) in scenery_windows.iter_mut().zip(&roads) {
        *wdw = (wdw.0.max(0.0), wdw.1.min(road.path.length()));
    }
    for (wdws, road) in traffic_windows.iter_mut().zip(&roads) {
        for wdw in wdws.iter_mut() {
            *wdw = (wdw.0.max(5.0), wdw.1.min(road.path.length() - 5.0));
        }
    }

    let stop_rules = signal_rules(ch, &plan, &profile, junction_info.as_ref(), midblock.as_ref(), lead.as_ref(), s_e);
    Design {
        roads,
        corners,
        decals,
        route,
        s_start: s_e,
        profile,
        plan,
        stop_cause,
        ego_lane,
        later_lanes,
        junction: junction_info,
        midblock,
        stop_rules,
        lead,
        scenery_windows,
        traffic_windows,
        first_curve,
    }
}

/// For a turn at junction `j` from the ego lane (offset `d_e` on road 0): the corner point's
/// offset along road 0 from the crossing, and the turning radius (the largest arc that starts
/// and ends outside the crosswalks and wait lines, i.e. concentric with the curb return for a
/// right turn).
fn turn_geometry(roads: &[Road], j: &Junction, left: bool, d_e: f64) -> (f64, f64) {
    let b = &roads[j.b];
    // Road b runs along +y: its forward lanes (d < 0) lie at x > crossing, and its stations
    // measured from the crossing equal road a's lateral offsets.
    let (off_p, exit_boundary) = if left {
        (0.5 * b.lane_width_m, j.zone_b.1 - j.s_b)
    } else {
        (-(b.lanes_backward as f64 - 0.5) * b.lane_width_m, j.zone_b.0 - j.s_b)
    };
    // Entry: from the wait line (zone start) to the corner point.
    let entry = off_p - (j.zone_a.0 - j.s_a);
    // Exit: from the corner point (at lateral d_e) to the far zone boundary across road a.
    let exit = (exit_boundary - d_e).abs();
    (off_p, entry.min(exit))
}

/// The ego's lateral offset along road 0: constant, or shifting lanes over the planned times.
fn lateral_for(plan: &Plan, profile: &SpeedProfile, s_e: f64, d_e: f64, target: u32, w: f64) -> Lateral {
    match *plan {
        Plan::LaneChange { t0, t1 } => Lateral::Shift { s0: s_e + profile.distance(t0), s1: s_e + profile.distance(t1), d0: d_e, d1: -(target as f64 + 0.5) * w },
        _ => Lateral::Constant(d_e),
    }
}

/// Traffic-signal and crossing rules for the other road users.
fn signal_rules(ch: &Choices, plan: &Plan, profile: &SpeedProfile, j: Option<&Junction>, mid: Option<&CrosswalkSite>, lead: Option<&LeadPlan>, s_e: f64) -> Vec<StopRule> {
    const FOREVER: f64 = 1.0e6;
    let mut rules = Vec::new();
    let lead_early = lead.map_or(0.0, |l| l.delta_s);
    match (j, plan) {
        (Some(j), Plan::Stop { t_dec, t_go, .. }) => {
            // Red for the ego's road while it waits, green for the cross road in between.
            for &(r, dir, s) in &j.approaches {
                if r == j.a {
                    rules.push(StopRule { road: r, dir, s_line: s, t0: -FOREVER, t1: t_go - lead_early });
                } else {
                    rules.push(StopRule { road: r, dir, s_line: s, t0: -FOREVER, t1: (t_dec - 1.0).max(0.0) + 2.5 });
                    rules.push(StopRule { road: r, dir, s_line: s, t0: t_go - lead_early - 3.0, t1: FOREVER });
                }
            }
        }
        (Some(j), _) => {
            // Green for the ego: the cross road turns red before the ego arrives (and, for a
            // left turn, the oncoming lanes too).
            let t_arr = time_to_cover(profile, j.zone_a.0 - s_e - EGO_FRONT_M, MAX_DURATION_S * 2.0).unwrap_or(FOREVER);
            for &(r, dir, s) in &j.approaches {
                let oncoming = r == j.a && dir == Dir::Backward && ch.manoeuvre == Manoeuvre::TurnLeft;
                if r == j.b {
                    rules.push(StopRule { road: r, dir, s_line: s, t0: t_arr - 5.0, t1: FOREVER });
                } else if oncoming {
                    rules.push(StopRule { road: r, dir, s_line: s, t0: t_arr - 4.0, t1: FOREVER });
                }
            }
        }
        (None, Plan::Stop { t_dec, t_go, .. }) => {
            if let Some(m) = mid {
                rules.push(StopRule { road: m.road, dir: Dir::Forward, s_line: m.stop_forward, t0: t_dec - 1.0, t1: t_go - lead_early - 0.5 });
                rules.push(StopRule { road: m.road, dir: Dir::Backward, s_line: m.stop_backward, t0: t_dec - 1.0, t1: t_go - lead_early - 0.5 });
            }
        }
        _ => {}
    }
    rules
}

/// Linear-RGB lighting for a time of day and weather.
fn environment(tod: TimeOfDay, weather: Weather, rng: &mut Rng) -> Environment {
    let azimuth = rng.range(-PI, PI);
    let elevation = match tod {
        TimeOfDay::Morning => rng.range(12.0, 22.0),
        TimeOfDay::Noon => rng.range(55.0, 70.0),
        TimeOfDay::Afternoon => rng.range(28.0, 42.0),
        TimeOfDay::Dusk => rng.range(3.0, 8.0),
    }
    .to_radians();
    let sun_dir = Vector3::new(elevation.cos() * azimuth.cos(), elevation.cos() * azimuth.sin(), elevation.sin());
    let (mut sun, mut ambient, mut zenith, mut horizon): ([f32; 3], [f32; 3], [f32; 3], [f32; 3]) = match tod {
        TimeOfDay::Morning => ([1.0, 0.88, 0.72], [0.32, 0.36, 0.45], [0.22, 0.4, 0.75], [0.75, 0.78, 0.82]),
        TimeOfDay::Noon => ([1.05, 1.0, 0.94], [0.35, 0.4, 0.5], [0.15, 0.33, 0.72], [0.62, 0.75, 0.9]),
        TimeOfDay::Afternoon => ([1.0, 0.92, 0.8], [0.33, 0.37, 0.46], [0.18, 0.36, 0.72], [0.7, 0.76, 0.85]),
        TimeOfDay::Dusk => ([0.86, 0.45, 0.22], [0.22, 0.22, 0.32], [0.12, 0.15, 0.35], [0.95, 0.55, 0.3]),
    };
    let dusk = tod == TimeOfDay::Dusk;
    let scale = |c: [f32; 3], k: f32| [c[0] * k, c[1] * k, c[2] * k];
    let mut fog_density = 0.0f32;
    let mut fog_colour = horizon;
    let mut tint = if dusk { [1.05, 0.97, 0.9] } else { [1.0, 1.0, 1.0] };
    match weather {
        Weather::Clear => {}
        Weather::Overcast => {
            sun = scale(sun, 0.15);
            ambient = if dusk { [0.42, 0.4, 0.42] } else { [0.75, 0.76, 0.78] };
            zenith = [0.5, 0.52, 0.56];
            horizon = [0.68, 0.7, 0.72];
            fog_colour = horizon;
        }
        Weather::Fog => {
            sun = scale(sun, 0.2);
            ambient = if dusk { [0.4, 0.38, 0.38] } else { [0.7, 0.71, 0.72] };
            fog_density = rng.range(0.01, 0.03) as f32;
            fog_colour = if dusk { [0.45, 0.4, 0.38] } else { [0.62, 0.64, 0.67] };
            zenith = fog_colour;
            horizon = fog_colour;
        }
        Weather::Rain => {
            sun = scale(sun, 0.1);
            ambient = if dusk { [0.32, 0.34, 0.4] } else { [0.5, 0.55, 0.62] };
            zenith = [0.35, 0.38, 0.42];
            horizon = [0.5, 0.53, 0.57];
            fog_density = rng.range(0.004, 0.008) as f32;
            fog_colour = [0.45, 0.48, 0.52];
            tint = [0.85, 0.9, 1.0];
        }
    }
    Environment { time_of_day: tod, weather, sun_dir, sun_colour: sun, ambient_colour: ambient, sky_zenith: zenith, sky_horizon: horizon, fog_density_per_m: fog_density, fog_colour, tint }
}

/// Ground materials for the world: asphalt shade and wear, concrete, grass; wet in rain.
fn ground_style(weather: Weather, rng: &mut Rng) -> GroundStyle {
    let grey = rng.range(0.085, 0.14);
    let warm = rng.range(-0.006, 0.006);
    let concrete = rng.range(0.3, 0.42);
    GroundStyle {
        seed: rng.next_u32(),
        asphalt: [grey + warm, grey, grey - warm + 0.004],
        concrete: [concrete, concrete * 0.98, concrete * 0.94],
        grass: [rng.range(0.07, 0.1), rng.range(0.12, 0.16), rng.range(0.04, 0.06)],
        dirt: [0.2, 0.16, 0.11],
        white_paint: [0.8, 0.8, 0.77],
        yellow_paint: [0.75, 0.57, 0.1],
        wetness: match weather {
            Weather::Rain => 1.0,
            Weather::Fog => 0.25,
            _ => 0.0,
        },
        slab_m: rng.range(1.4, 2.2),
        wear: rng.range(0.4, 1.0),
    }
}

/// `world_from_rig` of a planar pose (z = 0, yaw only).
pub fn pose3(x: f64, y: f64, z: f64, yaw: f64) -> Pose3 {
    Isometry3::from_parts(Translation3::new(x, y, z), UnitQuaternion::from_axis_angle(&Vector3::z_axis(), yaw))
}

/// Number of 100 Hz samples covering [0, duration].
pub(crate) fn sample_count(duration: f64) -> usize {
    (duration / SAMPLE_DT_S - 1e-9).ceil().max(0.0) as usize + 1
}

/// Timestamps of the samples (microseconds).
pub(crate) fn sample_times_us(n: usize) -> Vec<i64> {
    (0..n as i64).map(|k| k * (SAMPLE_DT_S * 1e6) as i64).collect()
}

/// Generates a world. Deterministic: the same parameters give an identical world.
pub fn generate(params: &WorldParams) -> World {
    let duration = if params.duration_s.is_finite() { params.duration_s.clamp(0.0, MAX_DURATION_S) } else { 10.0 };
    let root = Rng::new(params.seed);
    let ch = resolve(params, &root);
    let design = design(&ch, duration, params.pedestrians, &mut root.fork("design"));
    let n = sample_count(duration);
    let bicycle = BicycleParams { wheelbase_m: EGO_WHEELBASE_M, ..BicycleParams::default() };
    let ego: Vec<EgoSample> = motion::drive(&design.route, Pose2::IDENTITY, design.s_start, &design.profile, &bicycle, SAMPLE_DT_S, n);

    let style = ground_style(ch.weather, &mut root.fork("ground"));
    let network = RoadNetwork::new(design.roads.clone(), design.corners.clone(), design.decals.clone(), style);
    let traffic = traffic::populate(&network, &design, &ego, duration, params.pedestrians, &mut root.fork("traffic"));
    let scenery = scenery::build(&network, &design, &mut root.fork("scenery"));

    let mut ids = IdGen::default();
    let mut map = network.map_elements(&mut ids);
    map.extend(scenery.map(&mut ids));

    let facts = CaptionFacts::new(&ch, &design, &traffic, &scenery);
    let captions = caption::captions(&facts, &mut root.fork("captions"));
    let env = environment(ch.time_of_day, ch.weather, &mut root.fork("environment"));

    let times = sample_times_us(n);
    let poses: Vec<Pose3> = ego.iter().map(|e| pose3(e.x, e.y, 0.0, e.yaw)).collect();
    // Invariant: `times` is strictly increasing and has one entry per pose (n >= 1).
    let ego_trajectory = Trajectory::new(times, poses).expect("ego samples are strictly increasing and non-empty");
    World {
        seed: params.seed,
        layout: ch.layout,
        lanes_each_way: ch.lanes,
        manoeuvre: ch.manoeuvre,
        env,
        ground: network,
        statics: scenery.solids,
        agents: traffic.agents,
        ego: ego_trajectory,
        map,
        captions,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::geom::Obb2;
    use crate::road::Surface;
    use crate::traffic::ego_box;
    use crate::world::Ground;
    use worldrig_scene::{MapElementKind, MapGeometry};

    fn params(seed: u64, layout: RoadLayout, lanes: u32, manoeuvre: Manoeuvre, duration_s: f64) -> WorldParams {
        WorldParams { seed, duration_s, layout: Some(layout), lanes_each_way: Some(lanes), manoeuvre: Some(manoeuvre), time_of_day: None, weather: None, pedestrians: true }
    }

    const LAYOUTS: [RoadLayout; 3] = [RoadLayout::Straight, RoadLayout::Curved, RoadLayout::Intersection];
    const MANOEUVRES: [Manoeuvre; 6] = [Manoeuvre::Cruise, Manoeuvre::TurnLeft, Manoeuvre::TurnRight, Manoeuvre::LaneChangeLeft, Manoeuvre::LaneChangeRight, Manoeuvre::StopAndGo];

    fn lum(c: [f32; 3]) -> f32 {
        0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2]
    }
    fn marking(c: [f32; 3]) -> bool {
        lum(c) > 0.5 || (c[0] > 0.5 && c[1] > 0.35 && c[2] < 0.3)
    }

    #[test]
    fn generation_is_deterministic_and_seed_dependent() {
        let p = WorldParams { seed: 11, duration_s: 6.0, ..WorldParams::default() };
        let a = format!("{:?}", generate(&p));
        let b = format!("{:?}", generate(&p));
        assert!(a == b, "same parameters gave different worlds");
        let c = format!("{:?}", generate(&WorldParams { seed: 12, ..p.clone() }));
        assert!(a != c);
        // Fixing a drawn parameter to its drawn value changes nothing else.
        let w = generate(&p);
        let fixed = WorldParams { layout: Some(w.layout), lanes_each_way: Some(w.lanes_each_way), manoeuvre: Some(w.manoeuvre), time_of_day: Some(w.env.time_of_day), weather: Some(w.env.weather), ..p };
        assert!(format!("{:?}", generate(&fixed)) == a);
    }

    /// Checks one world; returns a short summary for failure messages.
    fn check_world(p: &WorldParams) {
        let root = Rng::new(p.seed);
        let ch = resolve(p, &root);
        let dsg = design(&ch, p.duration_s.clamp(0.0, MAX_DURATION_S), p.pedestrians, &mut root.fork("design"));
        let w = generate(p);
        let tag = format!("seed {} {:?} lanes {} {:?}", p.seed, w.layout, w.lanes_each_way, w.manoeuvre);
        if matches!(p.manoeuvre, Some(Manoeuvre::TurnLeft | Manoeuvre::TurnRight)) {
            assert_eq!(w.layout, RoadLayout::Intersection);
        }
        // Ego: identity first pose, 100 Hz over [0, duration].
        let first = w.ego.poses()[0];
        assert_eq!(first.translation.vector, Vector3::zeros(), "{tag}");
        assert_eq!(first.rotation.quaternion().coords, nalgebra::Vector4::new(0.0, 0.0, 0.0, 1.0), "{tag}");
        assert_eq!(w.ego.start_us(), 0);
        assert!(w.ego.end_us() as f64 >= p.duration_s * 1e6 - 1.0);
        assert!(w.ego.timestamps_us().windows(2).all(|t| t[1] - t[0] == 10_000));
        // Speeds and accelerations; planar, yaw-only poses.
        let ps = w.ego.poses();
        let speeds: Vec<f64> = ps.windows(2).map(|q| (q[1].translation.vector - q[0].translation.vector).norm() / SAMPLE_DT_S).collect();
        assert!(speeds.iter().all(|&v| (0.0..=20.0).contains(&v)), "{tag}: speed out of range");
        let max_acc = speeds.windows(11).map(|v| ((v[10] - v[0]) / (10.0 * SAMPLE_DT_S)).abs()).fold(0.0, f64::max);
        assert!(max_acc < 4.0, "{tag}: acceleration {max_acc}");
        for q in ps {
            assert!(q.translation.vector.z == 0.0);
            let ax = q.rotation.axis().map(|a| a.into_inner()).unwrap_or(Vector3::z());
            assert!(ax.x.abs() < 1e-9 && ax.y.abs() < 1e-9);
        }
        // On its route (and on its lane centre outside lane changes), on the road surface.
        let ego = motion::drive(&dsg.route, Pose2::IDENTITY, dsg.s_start, &dsg.profile, &BicycleParams::default(), SAMPLE_DT_S, ps.len());
        let lane_d = dsg.ego_lane.offset(&dsg.roads);
        let mut worst_route: f64 = 0.0;
        for e in &ego {
            let pr = dsg.route.path.project_within(e.x, e.y, e.s - 3.0, e.s + 3.0);
            let off = (pr.d - dsg.route.lateral.at(pr.s)).abs();
            worst_route = worst_route.max(off);
            let turning = matches!(dsg.plan, Plan::Turn { .. });
            let changing = match dsg.plan {
                Plan::LaneChange { t0, .. } => e.t > t0 - 0.5,
                _ => false,
            };
            if !turning && !changing {
                let on_road = dsg.roads[0].path.project(e.x, e.y);
                assert!((on_road.d - lane_d).abs() < 0.3, "{tag}: {:.2} m off the lane centre at t={:.2}", on_road.d - lane_d, e.t);
            }
            for c in ego_box(e).corners() {
                assert_eq!(w.ground.surface_at(c[0], c[1]), Surface::Road, "{tag}: ego corner off the road at t={:.2}", e.t);
            }
        }
        assert!(worst_route < 0.5, "{tag}: {worst_route:.2} m off the route");
        // Manoeuvres happen.
        let last = ego.last().copied().unwrap_or(ego[0]);
        match (w.manoeuvre, dsg.plan) {
            (Manoeuvre::TurnLeft | Manoeuvre::TurnRight, Plan::Turn { t_arc_end, .. }) if t_arc_end + 1.0 < p.duration_s => {
                let sign = if w.manoeuvre == Manoeuvre::TurnLeft { 1.0 } else { -1.0 };
                assert!((last.yaw - sign * FRAC_PI_2).abs() < 0.1, "{tag}: final yaw {}", last.yaw);
            }
            (Manoeuvre::LaneChangeLeft | Manoeuvre::LaneChangeRight, Plan::LaneChange { t1, .. }) if t1 + 1.0 < p.duration_s => {
                let w_lane = dsg.roads[0].lane_width_m;
                let sign = if w.manoeuvre == Manoeuvre::LaneChangeLeft { 1.0 } else { -1.0 };
                let d_end = dsg.roads[0].path.project(last.x, last.y).d;
                assert!((d_end - lane_d - sign * w_lane).abs() < 0.2, "{tag}: lane change ended at {d_end}");
            }
            (Manoeuvre::StopAndGo, Plan::Stop { t_go, .. }) => {
                assert!(ego.iter().any(|e| e.v < 1e-6), "{tag}: never stops");
                if t_go + 2.0 < p.duration_s {
                    assert!(last.v > 1.0, "{tag}: does not restart");
                }
            }
            _ => {}
        }
        // Agents: trajectories aligned with the ego's, never touching the ego or each other.
        for a in &w.agents {
            assert_eq!(a.trajectory.timestamps_us(), w.ego.timestamps_us());
            assert!(["car", "truck", "bus", "pedestrian"].contains(&a.category.as_str()));
        }
        let mut ids: Vec<&str> = w.agents.iter().map(|a| a.track_id.as_str()).collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), w.agents.len());
        for k in (0..ps.len()).step_by(10) {
            let eb = ego_box(&ego[k]);
            let boxes: Vec<Obb2> = w
                .agents
                .iter()
                .map(|a| {
                    let q = a.trajectory.poses()[k];
                    let yaw = q.rotation.euler_angles().2;
                    Obb2::new([q.translation.vector.x, q.translation.vector.y], yaw, 0.5 * a.size_lwh_m.x, 0.5 * a.size_lwh_m.y)
                })
                .collect();
            for (i, b) in boxes.iter().enumerate() {
                assert!(!b.overlaps(&eb, 0.0), "{tag}: {} touches the ego at t={:.1}", w.agents[i].track_id, k as f64 * SAMPLE_DT_S);
                for (j, c) in boxes.iter().enumerate().skip(i + 1) {
                    assert!(!b.overlaps(c, 0.0), "{tag}: {} touches {} at t={:.1}", w.agents[i].track_id, w.agents[j].track_id, k as f64 * SAMPLE_DT_S);
                }
            }
        }
        for a in w.agents.iter().filter(|a| a.category != "pedestrian") {
            let v = a.trajectory.poses().windows(2).map(|q| (q[1].translation.vector - q[0].translation.vector).norm() / SAMPLE_DT_S).fold(0.0, f64::max);
            assert!(v <= 20.0, "{tag}: {} at {v} m/s", a.track_id);
        }
        // Map ids unique; captions present; bounded scene size.
        let mut mids: Vec<&str> = w.map.iter().map(|e| e.element_id.as_str()).collect();
        mids.sort();
        mids.dedup();
        assert_eq!(mids.len(), w.map.len(), "{tag}: duplicate map ids");
        assert_eq!(w.captions.len(), 3);
        assert!(w.captions.iter().all(|c| c.len() > 40), "{tag}: {:?}", w.captions);
        assert!(w.statics.len() < 700, "{tag}: {} statics", w.statics.len());
    }

    #[test]
    fn every_layout_lane_count_and_manoeuvre_builds_and_drives_cleanly() {
        let mut seed = 100;
        for layout in LAYOUTS {
            for lanes in 1..=4 {
                for m in MANOEUVRES {
                    seed += 1;
                    check_world(&params(seed, layout, lanes, m, 9.0));
                }
            }
        }
    }

    #[test]
    fn short_and_long_clips_and_drawn_parameters() {
        for (i, d) in [0.0, 0.5, 2.0, 20.0].into_iter().enumerate() {
            check_world(&WorldParams { seed: 7 + i as u64, duration_s: d, ..WorldParams::default() });
        }
        for seed in 0..12 {
            check_world(&WorldParams { seed, duration_s: 6.0, pedestrians: seed % 2 == 0, ..WorldParams::default() });
        }
    }

    /// A wider sweep over drawn parameters:
    /// `cargo test --release -p worldrig-sim -- --ignored many_random_worlds`
    #[test]
    #[ignore]
    fn many_random_worlds() {
        for seed in 1000..1400u64 {
            let duration_s = 2.0 + (seed % 19) as f64;
            let p = WorldParams { seed, duration_s, pedestrians: seed % 3 != 0, ..WorldParams::default() };
            check_world(&p);
            check_map(&generate(&p));
        }
    }

    /// Every lane line is painted along its polyline (inside dashes for dashed lines, on both
    /// stripes for double lines) with bare asphalt 1 m to either side; crosswalks hold stripes;
    /// wait lines are painted; sign and light cuboids are solids. Returns the lane-line samples
    /// checked and the number of crosswalks.
    fn check_map(w: &World) -> (usize, usize) {
        let seed = w.seed;
        let layout = w.layout;
        let g = &w.ground;
        let (mut checked, mut crosswalks) = (0, 0);
        for e in &w.map {
            match (&e.kind, &e.geometry) {
                (MapElementKind::LaneLine, MapGeometry::Polyline(v)) => {
                    let style = e.attributes["style"].as_str().unwrap_or("");
                    let dash = e.attributes.get("dash_length_m").and_then(|x| x.as_f64()).unwrap_or(0.0);
                    let period = dash + e.attributes.get("gap_length_m").and_then(|x| x.as_f64()).unwrap_or(0.0);
                    let spacing = e.attributes.get("spacing_m").and_then(|x| x.as_f64()).unwrap_or(0.0);
                    let total: f64 = v.windows(2).map(|q| (q[1] - q[0]).norm()).sum();
                    let mut along = 0.0;
                    for q in v.windows(2) {
                        let seg = (q[1] - q[0]).norm();
                        let dir = (q[1] - q[0]) / seg;
                        let n = Vector3::new(-dir.y, dir.x, 0.0);
                        let mut u = 0.37;
                        while u < seg {
                            let s = along + u;
                            let p = q[0] + dir * u;
                            u += 0.73;
                            if s < 1.5 || s > total - 1.5 {
                                continue;
                            }
                            if style == "dashed" {
                                let ph = s % period;
                                if ph < 0.1 || ph > dash - 0.1 {
                                    continue;
                                }
                            }
                            let offsets: &[f64] = if style == "double_solid" { &[-0.5, 0.5] } else { &[0.0] };
                            for o in offsets {
                                let pp = p + n * (o * spacing);
                                let c = g.albedo(pp.x, pp.y, 0.01);
                                assert!(marking(c), "seed {seed} {layout:?}: {} ({style}) not painted at s={s:.2}: {c:?}", e.element_id);
                            }
                            // 1 m to the side (towards the road for edge lines) is bare asphalt.
                            for side in [-1.0, 1.0] {
                                let pp = p + n * side;
                                if g.surface_at(pp.x, pp.y) != Surface::Road {
                                    continue;
                                }
                                let c = g.albedo(pp.x, pp.y, 0.01);
                                assert!(lum(c) < 0.3, "seed {seed} {layout:?}: {} bright 1 m aside: {c:?}", e.element_id);
                            }
                            checked += 1;
                        }
                        along += seg;
                    }
                }
                (MapElementKind::Crosswalk, MapGeometry::Polygon(v)) => {
                    crosswalks += 1;
                    let (mut bright, mut dark) = (0, 0);
                    for i in 1..20 {
                        for j in 1..40 {
                            let a = v[0] + (v[1] - v[0]) * (i as f64 / 20.0) + (v[3] - v[0]) * (j as f64 / 40.0);
                            let c = g.albedo(a.x, a.y, 0.01);
                            if lum(c) > 0.5 {
                                bright += 1;
                            } else if lum(c) < 0.3 {
                                dark += 1;
                            }
                        }
                    }
                    assert!(bright > 150 && dark > 150, "seed {seed}: crosswalk {} has {bright} bright, {dark} dark samples", e.element_id);
                }
                (MapElementKind::WaitLine, MapGeometry::Polyline(v)) => {
                    for k in 1..10 {
                        let p = v[0] + (v[1] - v[0]) * (k as f64 / 10.0);
                        assert!(lum(g.albedo(p.x, p.y, 0.01)) > 0.5, "seed {seed}: wait line {} not painted", e.element_id);
                    }
                }
                (MapElementKind::Sign | MapElementKind::Light, MapGeometry::Cuboid(v)) => {
                    assert_eq!(v.len(), 8);
                    let c = v.iter().fold(Vector3::zeros(), |a, p| a + p.coords) / 8.0;
                    assert!(
                        w.statics.iter().any(|s| (s.pose.translation.vector - c).norm() < 1e-9 && matches!(s.shape, crate::world::Shape::Box { .. })),
                        "{} has no solid",
                        e.element_id
                    );
                }
                _ => {}
            }
        }
        (checked, crosswalks)
    }

    #[test]
    fn map_agrees_with_the_painted_ground() {
        for (seed, layout) in [(1, RoadLayout::Straight), (2, RoadLayout::Curved), (3, RoadLayout::Intersection), (4, RoadLayout::Curved)] {
            for m in [Manoeuvre::Cruise, Manoeuvre::StopAndGo] {
                let w = generate(&params(seed, layout, 2 + (seed as u32 % 3), m, 6.0));
                let (checked, crosswalks) = check_map(&w);
                assert!(checked > 200, "seed {seed} {layout:?}: only {checked} lane-line samples");
                if m == Manoeuvre::StopAndGo || layout == RoadLayout::Intersection {
                    assert!(crosswalks > 0);
                }
            }
        }
    }

    #[test]
    fn albedo_is_fast_enough_in_a_quick_sanity_check() {
        let w = generate(&params(5, RoadLayout::Intersection, 3, Manoeuvre::Cruise, 4.0));
        let t = std::time::Instant::now();
        let mut acc = 0.0f32;
        let n = 200_000;
        for i in 0..n {
            let x = -20.0 + 80.0 * ((i * 7919) % n) as f64 / n as f64;
            let y = -25.0 + 50.0 * ((i * 104_729) % n) as f64 / n as f64;
            acc += w.ground.albedo(x, y, 0.02)[1];
        }
        let ns = t.elapsed().as_nanos() as f64 / n as f64;
        assert!(acc.is_finite());
        // Generous: only catches pathological slowness (unoptimised builds included).
        assert!(ns < 20_000.0, "{ns} ns per albedo call");
    }

    /// `cargo test --release -p worldrig-sim -- --ignored --nocapture albedo_benchmark`
    #[test]
    #[ignore]
    fn albedo_benchmark() {
        for layout in LAYOUTS {
            let w = generate(&params(5, layout, 3, Manoeuvre::Cruise, 8.0));
            for fp in [0.005, 0.05, 0.5] {
                let n = 2_000_000;
                let t = std::time::Instant::now();
                let mut acc = 0.0f32;
                for i in 0..n {
                    // Points a camera would see, in raster order: 2-62 m ahead, 40 m wide.
                    let x = 2.0 + 60.0 * (i / 1000) as f64 / (n / 1000) as f64;
                    let y = -20.0 + 40.0 * (i % 1000) as f64 / 1000.0;
                    acc += w.ground.albedo(x, y, fp)[0];
                }
                let ns = t.elapsed().as_nanos() as f64 / n as f64;
                eprintln!("{layout:?} footprint {fp} m: {ns:.1} ns per albedo call ({acc:.1})");
            }
        }
    }
}
