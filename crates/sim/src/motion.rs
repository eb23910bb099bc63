//! Vehicle motion: smooth speed profiles, routes (a path plus a lateral offset that can shift
//! for a lane change), the ego car's kinematic bicycle model steered by pure pursuit, and the
//! Intelligent Driver Model for car following.
//!
//! * Kinematic bicycle model (rear-axle reference; e.g. Rajamani, *Vehicle Dynamics and
//!   Control*, 2012, ch. 2; Polack et al., "The kinematic bicycle model: a consistent model for
//!   planning feasible trajectories for autonomous vehicles?", IV 2017): `x' = v cos(psi)`,
//!   `y' = v sin(psi)`, `psi' = v tan(delta) / L` with wheelbase `L` and front steering angle
//!   `delta`. With the rear axle as reference point there is no side slip, so the heading is the
//!   direction of travel.
//! * Pure pursuit (Coulter, "Implementation of the Pure Pursuit Path Tracking Algorithm",
//!   CMU-RI-TR-92-01, 1992): steer onto the circle through the rear axle, tangent to the heading,
//!   that passes through a goal point a lookahead distance ahead on the route:
//!   `kappa = 2 y_goal / |goal|^2` in the vehicle frame, `delta = atan(L kappa)`. On a circular
//!   route the steady-state tracking error is zero.
//! * Intelligent Driver Model (Treiber, Hennecke and Helbing, "Congested traffic states in
//!   empirical observations and microscopic simulations", Phys. Rev. E 62, 2000).
//!
//! Speed profiles blend between knots with a cubic smoothstep, so acceleration is continuous
//! and zero at every knot; the peak acceleration between knots `(t0, v0)` and `(t1, v1)` is
//! `1.5 |v1 - v0| / (t1 - t0)`.

use crate::geom::{wrap_pi, Path, Pose2};

/// Speed over time: smoothstep blends between `(t_s, v_m_per_s)` knots, constant outside.
#[derive(Debug, Clone, PartialEq)]
pub struct SpeedProfile {
    knots: Vec<(f64, f64)>,
}

impl SpeedProfile {
    /// Knots must have non-decreasing times; knots closer than 1 ms to the previous are dropped.
    pub fn new(knots: Vec<(f64, f64)>) -> Self {
        let mut k: Vec<(f64, f64)> = Vec::with_capacity(knots.len());
        for (t, v) in knots {
            match k.last() {
                Some(&(tp, _)) if t < tp + 1e-3 => {}
                _ => k.push((t, v.max(0.0))),
            }
        }
        if k.is_empty() {
            k.push((0.0, 0.0));
        }
        Self { knots: k }
    }

    pub fn constant(v: f64) -> Self {
        Self::new(vec![(0.0, v)])
    }

    pub fn knots(&self) -> &[(f64, f64)] {
        &self.knots
    }

    /// Speed at time `t`.
    pub fn speed(&self, t: f64) -> f64 {
        let k = &self.knots;
        let i = k.partition_point(|&(tk, _)| tk <= t);
        if i == 0 {
            return k[0].1;
        }
        if i == k.len() {
            return k[k.len() - 1].1;
        }
        let ((t0, v0), (t1, v1)) = (k[i - 1], k[i]);
        let u = (t - t0) / (t1 - t0);
        v0 + (v1 - v0) * u * u * (3.0 - 2.0 * u)
    }

    /// Acceleration at time `t`.
    pub fn accel(&self, t: f64) -> f64 {
        let k = &self.knots;
        let i = k.partition_point(|&(tk, _)| tk <= t);
        if i == 0 || i == k.len() {
            return 0.0;
        }
        let ((t0, v0), (t1, v1)) = (k[i - 1], k[i]);
        let u = (t - t0) / (t1 - t0);
        (v1 - v0) * 6.0 * u * (1.0 - u) / (t1 - t0)
    }

    /// Distance travelled from the first knot's time to `t` (negative before it).
    fn antiderivative(&self, t: f64) -> f64 {
        let k = &self.knots;
        let (t_first, v_first) = k[0];
        if t <= t_first {
            return v_first * (t - t_first);
        }
        let mut total = 0.0;
        for w in k.windows(2) {
            let ((t0, v0), (t1, v1)) = (w[0], w[1]);
            if t >= t1 {
                // A smoothstep blend averages to the mean of its ends.
                total += 0.5 * (v0 + v1) * (t1 - t0);
            } else {
                // Integral of v0 + dv (3u^2 - 2u^3) from 0 to u.
                let u = (t - t0) / (t1 - t0);
                return total + (t1 - t0) * (v0 * u + (v1 - v0) * (u * u * u - 0.5 * u * u * u * u));
            }
        }
        let (t_last, v_last) = k[k.len() - 1];
        total + v_last * (t - t_last)
    }

    /// Distance travelled from time 0 to `t` (exact).
    pub fn distance(&self, t: f64) -> f64 {
        self.antiderivative(t) - self.antiderivative(0.0)
    }

    /// Largest speed of any knot.
    pub fn max_speed(&self) -> f64 {
        self.knots.iter().fold(0.0, |m, k| m.max(k.1))
    }

    /// Largest |acceleration| between knots.
    pub fn max_accel(&self) -> f64 {
        self.knots.windows(2).fold(0.0, |m, w| m.max(1.5 * (w[1].1 - w[0].1).abs() / (w[1].0 - w[0].0)))
    }

    /// The same profile `dt` seconds earlier: `shifted(dt).speed(t) == speed(t + dt)`.
    pub fn shifted_earlier(&self, dt: f64) -> Self {
        Self { knots: self.knots.iter().map(|&(t, v)| (t - dt, v)).collect() }
    }
}

/// Lateral offset of a route from its path as a function of arc length.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Lateral {
    Constant(f64),
    /// From `d0` before `s0` to `d1` after `s1`, a quintic smootherstep in between (zero
    /// curvature change at both ends).
    Shift { s0: f64, s1: f64, d0: f64, d1: f64 },
}

impl Lateral {
    pub fn at(&self, s: f64) -> f64 {
        match *self {
            Lateral::Constant(d) => d,
            Lateral::Shift { s0, s1, d0, d1 } => {
                let u = ((s - s0) / (s1 - s0)).clamp(0.0, 1.0);
                d0 + (d1 - d0) * u * u * u * (u * (u * 6.0 - 15.0) + 10.0)
            }
        }
    }
}

/// What a vehicle follows: a parallel curve of `path` at a (possibly shifting) offset.
#[derive(Debug, Clone, PartialEq)]
pub struct Route {
    pub path: Path,
    pub lateral: Lateral,
}

impl Route {
    pub fn point(&self, s: f64) -> [f64; 2] {
        self.path.offset_point(s, self.lateral.at(s)).0
    }
}

/// Kinematic bicycle parameters and the pure-pursuit lookahead.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BicycleParams {
    pub wheelbase_m: f64,
    pub max_steer_rad: f64,
    pub max_steer_rate_rad_s: f64,
    /// Lookahead `clamp(base + gain * v, min, max)`.
    pub lookahead_base_m: f64,
    pub lookahead_gain_s: f64,
    pub lookahead_min_m: f64,
    pub lookahead_max_m: f64,
}

impl Default for BicycleParams {
    fn default() -> Self {
        Self {
            wheelbase_m: 2.85,
            max_steer_rad: 0.6,
            max_steer_rate_rad_s: 0.9,
            lookahead_base_m: 1.2,
            lookahead_gain_s: 0.45,
            lookahead_min_m: 2.5,
            lookahead_max_m: 9.0,
        }
    }
}

/// One sample of the ego drive.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EgoSample {
    pub t: f64,
    pub x: f64,
    pub y: f64,
    pub yaw: f64,
    pub v: f64,
    pub steer: f64,
    /// Route arc length of the nearest route point.
    pub s: f64,
}

/// Pure-pursuit steering angle towards the route point `lookahead` past `s`.
fn pure_pursuit(route: &Route, p: &BicycleParams, x: f64, y: f64, yaw: f64, s: f64, v: f64) -> f64 {
    let ld = (p.lookahead_base_m + p.lookahead_gain_s * v).clamp(p.lookahead_min_m, p.lookahead_max_m);
    let g = route.point(s + ld);
    let (sy, cy) = yaw.sin_cos();
    let (dx, dy) = (g[0] - x, g[1] - y);
    let (gx, gy) = (cy * dx + sy * dy, -sy * dx + cy * dy);
    let d2 = (gx * gx + gy * gy).max(1e-6);
    let kappa = 2.0 * gy / d2;
    (p.wheelbase_m * kappa).atan()
}

/// Drives the kinematic bicycle along `route` from `start` (a pose on the route at station
/// `s_start`, aligned with it) with speeds from `profile`, sampling every `dt` seconds for `n`
/// samples (the first, at t = 0, is exactly `start`).
pub fn drive(route: &Route, start: Pose2, s_start: f64, profile: &SpeedProfile, p: &BicycleParams, dt: f64, n: usize) -> Vec<EgoSample> {
    let (mut x, mut y, mut yaw) = (start.x, start.y, start.heading);
    let mut s = s_start;
    let mut steer = pure_pursuit(route, p, x, y, yaw, s, profile.speed(0.0)).clamp(-p.max_steer_rad, p.max_steer_rad);
    let mut out = Vec::with_capacity(n);
    // Integrate with substeps of at most 5 ms; sample every `dt`.
    let sub = (dt / 0.005).ceil().max(1.0) as usize;
    let h = dt / sub as f64;
    for k in 0..n {
        let t = k as f64 * dt;
        out.push(EgoSample { t, x, y, yaw, v: profile.speed(t), steer, s });
        if k + 1 == n {
            break;
        }
        for j in 0..sub {
            let tj = t + j as f64 * h;
            let v = profile.speed(tj + 0.5 * h);
            // Nearest route station, searched locally around the previous one.
            let pr = route.path.project_within(x, y, s - 2.0, s + 2.0 + v * h);
            s = pr.s.max(s - 0.5);
            let target = pure_pursuit(route, p, x, y, yaw, s, v).clamp(-p.max_steer_rad, p.max_steer_rad);
            let max_d = p.max_steer_rate_rad_s * h;
            steer += (target - steer).clamp(-max_d, max_d);
            // Midpoint rule for the heading over the substep.
            let omega = v * steer.tan() / p.wheelbase_m;
            let mid = yaw + 0.5 * omega * h;
            x += v * h * mid.cos();
            y += v * h * mid.sin();
            yaw = wrap_pi(yaw + omega * h);
        }
    }
    out
}

/// Intelligent Driver Model parameters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Idm {
    pub desired_speed: f64,
    pub max_accel: f64,
    pub comfortable_decel: f64,
    pub time_headway_s: f64,
    pub min_gap_m: f64,
}

impl Idm {
    /// Acceleration for speed `v`, bumper-to-bumper `gap` to the leader (infinite if none) and
    /// closing speed `dv = v - v_leader`.
    pub fn accel(&self, v: f64, gap: f64, dv: f64) -> f64 {
        let free = 1.0 - (v / self.desired_speed.max(0.1)).powi(4);
        let interaction = if gap.is_finite() {
            let s_star = self.min_gap_m + (v * self.time_headway_s + v * dv / (2.0 * (self.max_accel * self.comfortable_decel).sqrt())).max(0.0);
            let g = gap.max(0.1);
            (s_star / g).powi(2)
        } else {
            0.0
        };
        (self.max_accel * (free - interaction)).clamp(-8.0, self.max_accel)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profile_speed_distance_and_accel_agree() {
        let p = SpeedProfile::new(vec![(0.0, 10.0), (2.0, 10.0), (6.0, 0.0), (8.0, 0.0), (12.0, 9.0)]);
        assert_eq!(p.speed(-1.0), 10.0);
        assert_eq!(p.speed(7.0), 0.0);
        assert!((p.speed(4.0) - 5.0).abs() < 1e-12);
        // Numerical integral of the speed matches the closed form.
        let h = 1e-4;
        let num: f64 = (0..100_000).map(|i| p.speed((i as f64 + 0.5) * h) * h).sum();
        assert!((num - p.distance(10.0)).abs() < 1e-6, "{num} vs {}", p.distance(10.0));
        assert!((p.distance(6.0) - 40.0).abs() < 1e-9);
        assert!((p.max_accel() - 3.75).abs() < 1e-12);
        let e = (p.speed(4.001) - p.speed(3.999)) / 0.002;
        assert!((e - p.accel(4.0)).abs() < 1e-4);
        let q = p.shifted_earlier(1.0);
        assert!((q.speed(3.0) - p.speed(4.0)).abs() < 1e-12);
        assert!((q.distance(5.0) - (p.distance(6.0) - p.distance(1.0))).abs() < 1e-9);
    }

    #[test]
    fn pure_pursuit_tracks_a_circle_and_a_lane_change() {
        let path = Path::starting_at(Pose2::IDENTITY).line(30.0).arc(25.0, 1.5).line(60.0).build();
        let route = Route { path: path.clone(), lateral: Lateral::Constant(0.0) };
        let prof = SpeedProfile::constant(7.0);
        let drive_out = drive(&route, Pose2::IDENTITY, 0.0, &prof, &BicycleParams::default(), 0.01, 1400);
        let worst = drive_out.iter().map(|e| path.project(e.x, e.y).d.abs()).fold(0.0, f64::max);
        assert!(worst < 0.3, "worst tracking error {worst}");
        // Steady state on the arc: error tiny.
        let mid = drive_out.iter().find(|e| e.s > 50.0).map(|e| path.project(e.x, e.y).d.abs()).unwrap_or(1.0);
        assert!(mid < 0.05, "on-arc error {mid}");

        let straight = Path::starting_at(Pose2::IDENTITY).line(300.0).build();
        let lc = Route { path: straight.clone(), lateral: Lateral::Shift { s0: 20.0, s1: 60.0, d0: 0.0, d1: 3.5 } };
        let out = drive(&lc, Pose2::IDENTITY, 0.0, &SpeedProfile::constant(10.0), &BicycleParams::default(), 0.01, 1000);
        let end = out.last().map(|e| e.y).unwrap_or(0.0);
        assert!((end - 3.5).abs() < 0.05, "ended at {end}");
        for e in &out {
            assert!((e.y - lc.lateral.at(e.s)).abs() < 0.35, "lane change error at s={}", e.s);
        }
    }

    #[test]
    fn idm_stops_behind_an_obstacle() {
        let idm = Idm { desired_speed: 12.0, max_accel: 1.5, comfortable_decel: 2.0, time_headway_s: 1.5, min_gap_m: 2.0 };
        let (mut x, mut v) = (0.0, 12.0);
        let wall = 80.0;
        for _ in 0..3000 {
            let a = idm.accel(v, wall - x, v);
            v = (v + a * 0.01).max(0.0);
            x += v * 0.01;
        }
        assert!(x < wall - 1.5 && x > wall - 4.0, "stopped at {x}");
        assert!(idm.accel(12.0, f64::INFINITY, 0.0).abs() < 1e-9);
    }
}
