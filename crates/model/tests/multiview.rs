//! The multi-view model: at step 0 it reproduces the loaded Text2World network on every view; the
//! cross-view path mixes views and the independent-views baseline does not; calibration features.

use burn::nn::LinearConfig;
use burn::prelude::*;
use nalgebra::{Isometry3, Translation3, UnitQuaternion};
use worldrig_model::dit::text::CaptionVocab;
use worldrig_model::dit::{Dit, DitConfig};
use worldrig_model::multiview::{camera_features, frame_poses, trajectory_features, MultiViewDit, MvInputs, MvMode, CAMERA_FEATURES, POSE_FEATURES};
use worldrig_model::rng::SplitMix64;
use worldrig_scene::{Rig, Trajectory};

const RIG: &str = include_str!("../../../configs/rigs/cosmos-6cam-448x256.json");
const POINTS: usize = 8;

fn cfg() -> DitConfig {
    serde_json::from_str(
        r#"{"latent_channels": 4, "patch": 2, "width": 48, "depth": 2, "heads": 4, "mlp_ratio": 2, "adaln_rank": 8,
            "text_width": 16, "text_layers": 1, "text_heads": 2, "max_caption_tokens": 12, "vocab_size": 32}"#,
    )
    .unwrap()
}

fn random<const D: usize>(shape: [usize; D], seed: u64, device: &Device) -> Tensor<D> {
    let mut g = SplitMix64::new(seed);
    let n = shape.iter().product();
    Tensor::from_data(TensorData::new((0..n).map(|_| g.unit() as f32 * 2.0 - 1.0).collect::<Vec<f32>>(), shape), device)
}

fn vals<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data().as_slice::<f32>().unwrap().to_vec()
}

/// A "trained" Text2World network: the zero-initialised output layers replaced by random ones, so
/// its output is not trivially zero.
fn trained_base(c: &DitConfig, device: &Device) -> Dit {
    let mut base = c.init(device);
    base.final_out = LinearConfig::new(c.width, c.token_out()).init(device);
    base.final_ada = LinearConfig::new(c.width, 2 * c.width).init(device);
    for b in base.blocks.iter_mut() {
        b.ada.up = LinearConfig::new(c.adaln_rank, 9 * c.width).init(device);
    }
    base
}

fn inputs(views: usize, t: usize, device: &Device) -> MvInputs {
    let c = cfg();
    let dims = [views, c.latent_channels, t, 4, 6];
    let vocab = CaptionVocab::build(["a red car on a wet road"], 32, 12);
    let (ids, pad) = vocab.batch(&vec!["a red car".to_string(); views], device);
    MvInputs {
        x_in: random(dims, 1, device),
        c_noise: Tensor::full([views], 0.3, device),
        cond: Tensor::zeros([views, 1, t, 4, 6], device),
        ids,
        pad,
        views,
        camera: random([views, CAMERA_FEATURES], 2, device),
        trajectory: random([views, 3 * POINTS], 3, device),
        frame_pose: random([views, t, POSE_FEATURES], 4, device),
    }
}

#[test]
fn at_step_zero_every_view_equals_the_loaded_model() {
    let device = Device::flex();
    device.seed(3);
    let c = cfg();
    let base = trained_base(&c, &device);
    let mv = MultiViewDit::new(base.clone(), &c, POINTS, &device);
    let inp = inputs(3, 2, &device);
    let out = vals(mv.forward(inp.clone(), MvMode::FULL));
    let per = out.len() / 3;
    let mut nonzero = 0;
    for v in 0..3 {
        let one = |t: Tensor<5>| t.narrow(0, v, 1);
        let alone = vals(base.forward(one(inp.x_in.clone()), inp.c_noise.clone().narrow(0, v, 1), one(inp.cond.clone()), inp.ids.clone().narrow(0, v, 1), inp.pad.clone().narrow(0, v, 1)));
        let err = alone.iter().zip(&out[v * per..(v + 1) * per]).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
        assert!(err < 1e-5, "view {v}: max difference {err} from the loaded model");
        nonzero += alone.iter().filter(|x| x.abs() > 1e-3).count();
    }
    assert!(nonzero > per, "the loaded model's output is trivially small");
}

#[test]
fn cross_view_attention_mixes_views_and_the_baseline_does_not() {
    let device = Device::flex();
    device.seed(4);
    let c = cfg();
    let mut mv = MultiViewDit::new(trained_base(&c, &device), &c, POINTS, &device);
    // As after training: the cross-view and view-embedding outputs are no longer zero.
    for cv in mv.cross.iter_mut() {
        cv.attn.out = LinearConfig::new(c.width, c.width).init(&device);
    }
    let inp = inputs(3, 2, &device);
    let mut changed = inp.clone();
    changed.x_in = Tensor::cat(vec![inp.x_in.clone().narrow(0, 0, 2), random([1, c.latent_channels, 2, 4, 6], 9, &device)], 0);
    let view0 = |mv: &MultiViewDit, i: MvInputs, mode| vals(mv.forward(i, mode).narrow(0, 0, 1));
    let diff = |a: &[f32], b: &[f32]| a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0f32, f32::max);
    // Changing view 2 changes view 0's output through the cross-view attention...
    assert!(diff(&view0(&mv, inp.clone(), MvMode::FULL), &view0(&mv, changed.clone(), MvMode::FULL)) > 1e-3);
    // ...and leaves it untouched when views are generated independently.
    let indep = MvMode { cross_view: false, trajectory: true };
    assert_eq!(view0(&mv, inp.clone(), indep), view0(&mv, changed, indep));
    // Without trajectory conditioning the trajectory input is ignored.
    mv.traj_fc2 = LinearConfig::new(c.width, c.width).init(&device);
    let mut other = inp.clone();
    other.trajectory = random([3, 3 * POINTS], 11, &device);
    let no_traj = MvMode { cross_view: true, trajectory: false };
    assert_eq!(view0(&mv, inp.clone(), no_traj), view0(&mv, other.clone(), no_traj));
    assert!(diff(&view0(&mv, inp, MvMode::FULL), &view0(&mv, other, MvMode::FULL)) > 1e-4);
}

#[test]
fn camera_features_tell_cameras_apart_and_ignore_the_resolution() {
    let rig = Rig::from_json(RIG).unwrap();
    let feats: Vec<Vec<f32>> = rig.cameras.iter().map(camera_features).collect();
    assert!(feats.iter().all(|f| f.len() == CAMERA_FEATURES));
    for i in 0..feats.len() {
        for j in i + 1..feats.len() {
            let d: f32 = feats[i].iter().zip(&feats[j]).map(|(a, b)| (a - b).abs()).sum();
            assert!(d > 0.1, "{} and {} have the same features", rig.cameras[i].name, rig.cameras[j].name);
        }
    }
    // The front camera's central ray looks along the rig's +x.
    let front = rig.cameras.iter().position(|c| c.name.contains("front")).unwrap();
    let centre_ray = &feats[front][3 + 4 * 3..3 + 5 * 3];
    assert!(centre_ray[0] > 0.95, "{centre_ray:?}");
    let half = rig.scaled_to(224, 128).unwrap();
    for (a, cam) in feats.iter().zip(&half.cameras) {
        let b = camera_features(cam);
        let d = a.iter().zip(&b).map(|(x, y)| (x - y).abs()).fold(0.0f32, f32::max);
        assert!(d < 1e-5, "{}: features change with the resolution by {d}", cam.name);
    }
}

#[test]
fn trajectory_features_of_a_straight_drive() {
    // 10 m/s along world +y (yaw 90 degrees), sampled at 10 Hz for 2 s.
    let yaw = UnitQuaternion::from_euler_angles(0.0, 0.0, std::f64::consts::FRAC_PI_2);
    let times: Vec<i64> = (0..21).map(|k| k * 100_000).collect();
    let poses = times.iter().map(|&t| Isometry3::from_parts(Translation3::new(5.0, 10.0 * t as f64 / 1e6, 0.0), yaw)).collect();
    let traj = Trajectory::new(times.clone(), poses).unwrap();
    let f = trajectory_features(&traj, 0, 100_000, 30);
    assert_eq!(f.len(), 90);
    for k in 0..30 {
        let expect_x = (10.0 * (k.min(20) as f64) * 0.1) / 10.0; // metres / 10, held after the log ends
        assert!((f[3 * k] as f64 - expect_x).abs() < 1e-6, "waypoint {k}: x {}", f[3 * k]);
        assert!(f[3 * k + 1].abs() < 1e-6 && f[3 * k + 2].abs() < 1e-6);
    }
    let p = frame_poses(&traj, &[0, 400_000, 800_000]);
    assert_eq!(p.len(), 3 * POSE_FEATURES);
    assert!((p[4] - 0.4).abs() < 1e-6 && p[7].abs() < 1e-6, "{p:?}");
}

#[test]
fn a_planned_trajectory_round_trips_through_the_features() {
    // An arc: 1 m per step, turning left 3 degrees per step, placed anywhere in the world.
    let mut wps = vec![[0.0f64, 0.0, 0.0]];
    let (mut x, mut y, mut h) = (0.0f64, 0.0f64, 0.0f64);
    for _ in 0..19 {
        x += h.cos();
        y += h.sin();
        h += 3f64.to_radians();
        wps.push([x, y, 0.0]);
    }
    let origin = Isometry3::from_parts(Translation3::new(100.0, -40.0, 2.0), UnitQuaternion::from_euler_angles(0.0, 0.0, 1.0));
    let traj = worldrig_model::multiview::trajectory_from_waypoints(&origin, 5_000_000, 100_000, &wps).unwrap();
    let f = trajectory_features(&traj, 5_000_000, 100_000, 20);
    for (k, w) in wps.iter().enumerate() {
        for a in 0..3 {
            assert!((f[3 * k + a] as f64 * 10.0 - w[a]).abs() < 1e-4, "waypoint {k} axis {a}: {} vs {}", f[3 * k + a] as f64 * 10.0, w[a]);
        }
    }
    // The heading follows the direction of travel: 3 degrees more per step after the first.
    let p = frame_poses(&traj, &[5_000_000, 5_500_000]);
    let yaw5 = p[POSE_FEATURES + 3] as f64;
    let want = (wps[6][1] - wps[5][1]).atan2(wps[6][0] - wps[5][0]);
    assert!((yaw5 - want).abs() < 1e-5, "{yaw5} vs {want}");
}
