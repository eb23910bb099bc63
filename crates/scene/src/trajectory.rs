//! Ego trajectories: timestamped `world_from_rig` poses with interpolation and resampling.

use nalgebra::Point3;

use crate::pose::{interpolate, Pose3};
use crate::SceneError;

/// `world_from_rig` at strictly increasing timestamps (microseconds).
#[derive(Debug, Clone, PartialEq)]
pub struct Trajectory {
    timestamps_us: Vec<i64>,
    world_from_rig: Vec<Pose3>,
}

impl Trajectory {
    /// Requires as many poses as timestamps, at least one sample, strictly increasing timestamps.
    pub fn new(timestamps_us: Vec<i64>, world_from_rig: Vec<Pose3>) -> Result<Self, SceneError> {
        let bad = |reason: String| Err(SceneError::InvalidTrajectory { reason });
        if timestamps_us.len() != world_from_rig.len() {
            return bad(format!("{} timestamps but {} poses", timestamps_us.len(), world_from_rig.len()));
        }
        if timestamps_us.is_empty() {
            return bad("no samples".into());
        }
        if let Some(i) = timestamps_us.windows(2).position(|w| w[1] <= w[0]) {
            return bad(format!(
                "timestamps not strictly increasing at sample {}: {} then {}",
                i + 1,
                timestamps_us[i],
                timestamps_us[i + 1]
            ));
        }
        Ok(Self { timestamps_us, world_from_rig })
    }

    pub fn len(&self) -> usize {
        self.timestamps_us.len()
    }
    pub fn is_empty(&self) -> bool {
        self.timestamps_us.is_empty()
    }
    pub fn timestamps_us(&self) -> &[i64] {
        &self.timestamps_us
    }
    pub fn poses(&self) -> &[Pose3] {
        &self.world_from_rig
    }
    pub fn start_us(&self) -> i64 {
        self.timestamps_us[0]
    }
    pub fn end_us(&self) -> i64 {
        self.timestamps_us[self.timestamps_us.len() - 1]
    }
    pub fn duration_us(&self) -> i64 {
        self.end_us() - self.start_us()
    }

    /// `world_from_rig` at time `t_us` (lerp + slerp between neighbours). Outside the sampled span
    /// the nearest end pose is returned (no extrapolation).
    pub fn pose_at(&self, t_us: i64) -> Pose3 {
        let ts = &self.timestamps_us;
        if t_us <= ts[0] {
            return self.world_from_rig[0];
        }
        if t_us >= ts[ts.len() - 1] {
            return self.world_from_rig[ts.len() - 1];
        }
        // First index with ts[i] > t_us; i >= 1 here.
        let i = ts.partition_point(|&x| x <= t_us);
        let (t0, t1) = (ts[i - 1], ts[i]);
        let alpha = (t_us - t0) as f64 / (t1 - t0) as f64;
        interpolate(&self.world_from_rig[i - 1], &self.world_from_rig[i], alpha)
    }

    /// `n` poses starting at `start_us`, `step_us` apart.
    pub fn resample(&self, start_us: i64, step_us: i64, n: usize) -> Result<Trajectory, SceneError> {
        if step_us <= 0 || n == 0 {
            return Err(SceneError::InvalidTrajectory { reason: format!("resample needs step > 0 and n > 0 (got {step_us} us, {n})") });
        }
        let ts: Vec<i64> = (0..n as i64).map(|k| start_us + k * step_us).collect();
        let poses = ts.iter().map(|&t| self.pose_at(t)).collect();
        Trajectory::new(ts, poses)
    }

    /// Cosmos' trajectory condition: `n` future rig positions `step_us` apart starting at
    /// `start_us`, expressed in the rig frame at `start_us` (x, y, z in metres). The first is the
    /// origin. Samples past the end of the log hold the last pose.
    pub fn future_waypoints_rig(&self, start_us: i64, step_us: i64, n: usize) -> Vec<Point3<f64>> {
        let origin_from_world = self.pose_at(start_us).inverse();
        (0..n as i64)
            .map(|k| {
                let p = self.pose_at(start_us + k * step_us);
                origin_from_world * Point3::from(p.translation.vector)
            })
            .collect()
    }

    /// Path length of the rig origin in metres.
    pub fn distance_m(&self) -> f64 {
        self.world_from_rig.windows(2).map(|w| (w[1].translation.vector - w[0].translation.vector).norm()).sum()
    }

    /// Mean sample rate in Hz (0 for a single sample).
    pub fn mean_rate_hz(&self) -> f64 {
        if self.len() < 2 {
            return 0.0;
        }
        (self.len() - 1) as f64 * 1e6 / self.duration_us() as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nalgebra::{Isometry3, Translation3, UnitQuaternion, Vector3};

    /// A car driving a circle of radius 20 m at 10 m/s, heading tangent to the circle.
    fn circle(n: usize, dt_us: i64) -> Trajectory {
        let (r, v) = (20.0, 10.0);
        let ts: Vec<i64> = (0..n as i64).map(|k| 1_000_000 + k * dt_us).collect();
        let poses = ts
            .iter()
            .map(|&t| {
                let a = v * ((t - 1_000_000) as f64 * 1e-6) / r;
                Isometry3::from_parts(
                    Translation3::new(r * a.sin(), r * (1.0 - a.cos()), 0.0),
                    UnitQuaternion::from_axis_angle(&Vector3::z_axis(), a),
                )
            })
            .collect();
        Trajectory::new(ts, poses).unwrap()
    }

    #[test]
    fn rejects_non_monotonic() {
        let p = Isometry3::identity();
        assert!(Trajectory::new(vec![0, 5, 5], vec![p; 3]).is_err());
        assert!(Trajectory::new(vec![0, 5], vec![p; 3]).is_err());
        assert!(Trajectory::new(vec![], vec![]).is_err());
    }

    #[test]
    fn interpolation_hits_samples_and_stays_on_circle() {
        let tr = circle(31, 33_333);
        for (t, p) in tr.timestamps_us().iter().zip(tr.poses()) {
            assert!((tr.pose_at(*t).to_homogeneous() - p.to_homogeneous()).abs().max() < 1e-12);
        }
        // Halfway between samples: chord midpoint radius error is tiny for small steps.
        let mid = tr.pose_at(1_000_000 + 16_666);
        let c = mid.translation.vector - Vector3::new(0.0, 20.0, 0.0);
        assert!((c.norm() - 20.0).abs() < 2e-3);
    }

    #[test]
    fn resample_to_64_waypoints_at_10hz() {
        let tr = circle(301, 33_333); // 10 s at 30 Hz
        let rs = tr.resample(tr.start_us(), 100_000, 64).unwrap();
        assert_eq!(rs.len(), 64);
        assert!((rs.mean_rate_hz() - 10.0).abs() < 1e-9);
        let wp = tr.future_waypoints_rig(tr.start_us(), 100_000, 64);
        assert_eq!(wp.len(), 64);
        assert!(wp[0].coords.norm() < 1e-12);
        // 0.1 s at 10 m/s = 1 m, mostly forward (+x) then curving left (+y).
        assert!((wp[1].coords.norm() - 1.0).abs() < 1e-3 && wp[1].x > 0.99);
        assert!(wp[20].y > 0.0);
        let d = tr.distance_m();
        assert!((d - 100.0).abs() < 0.1, "distance {d}");
    }
}
