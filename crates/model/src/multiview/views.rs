//! Conditioning features computed from a rig and an ego trajectory.
//!
//! - A camera is described by what it sees, not by an index: its centre in the rig frame and the
//!   rig-frame unit rays of a 3x3 grid of pixels through its own camera model (pinhole or f-theta).
//!   Any calibrated camera gets an embedding, so the model can be asked for rigs it was not trained
//!   on; the features do not change when the image is rescaled.
//! - The trajectory is Cosmos' condition: `n` future rig positions `step` seconds apart from the
//!   first frame, in the rig frame of the first frame (metres). Past the end of a log the last pose
//!   is held.
//! - Per latent frame, the ego pose at that frame relative to the first (x, y, z, yaw), so the
//!   trajectory condition is aligned with the frames it moves.

use nalgebra::{Point2, Vector3};
use worldrig_scene::{CameraModel, CameraSpec, Trajectory};

/// Values per camera: centre (3) + 9 unit rays (27).
pub const CAMERA_FEATURES: usize = 30;
/// Values per latent frame: x, y, z (metres, scaled by 1/10) and yaw (radians).
pub const POSE_FEATURES: usize = 4;

/// The calibration features of a camera (see the module docs). The centre is in metres.
pub fn camera_features(cam: &CameraSpec) -> Vec<f32> {
    let c = cam.centre_rig();
    let mut out = vec![c.x as f32, c.y as f32, c.z as f32];
    let (w, h) = (cam.model.width() as f64, cam.model.height() as f64);
    for fy in [0.25, 0.5, 0.75] {
        for fx in [0.25, 0.5, 0.75] {
            let ray = cam.model.unproject(&Point2::new(fx * w, fy * h)).map(|r| cam.rig_from_camera.rotation * r.into_inner()).unwrap_or_else(Vector3::zeros);
            out.extend([ray.x as f32, ray.y as f32, ray.z as f32]);
        }
    }
    out
}

/// `points` future rig positions `step_us` apart from `start_us`, in the rig frame at `start_us`,
/// flattened `[x0, y0, z0, x1, ...]` and scaled by 1/10 (metres / 10).
pub fn trajectory_features(traj: &Trajectory, start_us: i64, step_us: i64, points: usize) -> Vec<f32> {
    traj.future_waypoints_rig(start_us, step_us, points).iter().flat_map(|p| [(p.x / 10.0) as f32, (p.y / 10.0) as f32, (p.z / 10.0) as f32]).collect()
}

/// For each time in `times_us`: the ego pose relative to the pose at `times_us[0]` as
/// `[x/10, y/10, z/10, yaw]`, flattened.
pub fn frame_poses(traj: &Trajectory, times_us: &[i64]) -> Vec<f32> {
    let origin = traj.pose_at(times_us[0]).inverse();
    times_us
        .iter()
        .flat_map(|&t| {
            let rel = origin * traj.pose_at(t);
            let v = rel.translation.vector;
            let fwd = rel.rotation * Vector3::x();
            let yaw = fwd.y.atan2(fwd.x);
            [(v.x / 10.0) as f32, (v.y / 10.0) as f32, (v.z / 10.0) as f32, yaw as f32]
        })
        .collect()
}

/// A trajectory through `waypoints` (x, y, z in metres in the rig frame at the first waypoint,
/// `step_us` apart from `start_us`), placed in the world by `origin` (the world pose of the rig at
/// the first waypoint). The heading at each waypoint follows the direction of travel to the next
/// one (the previous heading is kept where the car stands still; the first is the origin's).
pub fn trajectory_from_waypoints(origin: &worldrig_scene::Pose3, start_us: i64, step_us: i64, waypoints: &[[f64; 3]]) -> Result<Trajectory, worldrig_scene::SceneError> {
    use nalgebra::{Isometry3, Point3, Translation3, UnitQuaternion};
    let waypoints: Vec<Point3<f64>> = waypoints.iter().map(|&[x, y, z]| Point3::new(x, y, z)).collect();
    let n = waypoints.len();
    let mut yaw = 0.0;
    let mut poses = Vec::with_capacity(n);
    for k in 0..n {
        let (a, b) = if k + 1 < n { (waypoints[k], waypoints[k + 1]) } else if k > 0 { (waypoints[k - 1], waypoints[k]) } else { (waypoints[k], waypoints[k]) };
        let d = b - a;
        if k > 0 && d.x.hypot(d.y) > 1e-3 {
            yaw = d.y.atan2(d.x);
        }
        let local = Isometry3::from_parts(Translation3::from(waypoints[k].coords), UnitQuaternion::from_euler_angles(0.0, 0.0, yaw));
        poses.push(origin * local);
    }
    Trajectory::new((0..n as i64).map(|k| start_us + k * step_us).collect(), poses)
}
