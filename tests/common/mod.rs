//! Shared fixtures for the end-to-end tests: a small valid scene log with every table.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use nalgebra::{Isometry3, Point3, Translation3, UnitQuaternion, Vector3};
use worldrig_scene::camera::{FThetaParams, Pinhole, PolyDirection};
use worldrig_scene::pose::flu_from_rdf;
use worldrig_scene::{Camera, CameraSpec, Cuboid, FTheta, MapElement, MapElementKind, MapGeometry, ObjectSample, Rig, Trajectory};
use worldrig_scenelog::{ClipRecord, FrameRecord, SceneLogWriter, Source, WriterOptions};

pub const W: u32 = 64;
pub const H: u32 = 48;

pub fn png(w: u32, h: u32, seed: u32) -> Vec<u8> {
    let img = image::RgbImage::from_fn(w, h, |x, y| image::Rgb([(x * 4 + seed) as u8, (y * 5) as u8, (17 * seed) as u8]));
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png).expect("encode png");
    out.into_inner()
}

pub fn rig() -> Rig {
    let front = CameraSpec {
        name: "cam_front".into(),
        model: Camera::Pinhole(Pinhole { distortion: Some([0.01, -0.002, 0.0, 0.0, 0.0]), ..Pinhole::new(W, H, 50.0, 50.0, 32.0, 24.0) }),
        rig_from_camera: Isometry3::from_parts(Translation3::new(1.5, 0.0, 1.4), flu_from_rdf()),
    };
    let left = CameraSpec {
        name: "cam_left".into(),
        model: Camera::Ftheta(
            FTheta::new(FThetaParams {
                width: W,
                height: H,
                cx: 32.5,
                cy: 24.25,
                poly: vec![0.0, 0.02, 1e-5],
                poly_direction: PolyDirection::Backward,
                linear_cde: [1.0, 0.0, 0.0],
            })
            .expect("valid f-theta"),
        ),
        rig_from_camera: Isometry3::from_parts(
            Translation3::new(1.0, 0.8, 1.3),
            UnitQuaternion::from_axis_angle(&Vector3::z_axis(), std::f64::consts::FRAC_PI_2) * flu_from_rdf(),
        ),
    };
    Rig { name: "testrig".into(), source: "test".into(), cameras: vec![front, left] }
}

/// Writes a valid log: one clip, 3 poses, 3 frames per camera, one object track, two map elements.
pub fn write_sample_log(dest: &Path, frames_per_row_group: usize) -> PathBuf {
    let rig = rig();
    let ts = vec![1_000_000, 1_100_000, 1_200_000];
    let poses = ts
        .iter()
        .enumerate()
        .map(|(k, _)| Isometry3::from_parts(Translation3::new(k as f64, 0.0, 0.0), UnitQuaternion::identity()))
        .collect();
    let tr = Trajectory::new(ts.clone(), poses).expect("valid trajectory");
    let mut w = SceneLogWriter::create(dest, WriterOptions { frames_per_row_group, ..Default::default() }).expect("create log");
    w.add_rig(&rig).add_clip(ClipRecord {
        clip_id: "clip_a".into(),
        rig_id: "testrig".into(),
        start_timestamp_us: 1_000_000,
        duration_us: 200_000,
        frame_rate_hz: 10.0,
        source: Source::Synthetic,
        captions: vec!["a test clip".into()],
        generator: "worldrig tests".into(),
        checkpoint_sha256: None,
        seed: Some(7),
        prompt: None,
        trajectory_xyz_m: Some(vec![0.0, 0.0, 0.0, 1.0, 0.0, 0.0]),
        notes: None,
    });
    w.add_ego_poses("clip_a", &tr);
    w.add_objects(
        "clip_a",
        ts.iter()
            .enumerate()
            .map(|(k, &t)| ObjectSample {
                timestamp_us: t,
                track_id: "car_1".into(),
                category: "car".into(),
                cuboid: Cuboid { centre_m: Point3::new(10.0 + k as f64, 2.0, 0.8), size_lwh_m: Vector3::new(4.5, 1.9, 1.6), world_from_box: UnitQuaternion::identity() },
            })
            .collect(),
    );
    w.add_map(
        "clip_a",
        vec![
            MapElement {
                element_id: "ll_1".into(),
                kind: MapElementKind::LaneLine,
                geometry: MapGeometry::Polyline(vec![Point3::new(0.0, 1.75, 0.0), Point3::new(10.0, 1.75, 0.0), Point3::new(20.0, 1.8, 0.0)]),
                attributes: serde_json::json!({"color": "white"}).as_object().cloned().unwrap_or_default(),
            },
            MapElement {
                element_id: "cw_1".into(),
                kind: MapElementKind::Crosswalk,
                geometry: MapGeometry::Polygon(vec![Point3::new(15.0, -3.0, 0.0), Point3::new(18.0, -3.0, 0.0), Point3::new(18.0, 3.0, 0.0), Point3::new(15.0, 3.0, 0.0)]),
                attributes: Default::default(),
            },
        ],
    );
    for (k, &t) in ts.iter().enumerate() {
        for (c, cam) in rig.cameras.iter().enumerate() {
            w.add_frame(FrameRecord {
                clip_id: "clip_a".into(),
                camera: cam.name.clone(),
                frame_index: k as i64,
                timestamp_us: t,
                image_format: "png".into(),
                image: png(W, H, (k * 2 + c) as u32).into(),
            })
            .expect("add frame");
        }
    }
    w.finish().expect("finish log")
}

pub fn worldrig(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_worldrig")).args(args).env("WORLDRIG_LOG", "warn").output().expect("run worldrig")
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Runs `worldrig args`, asserts success, returns stdout.
pub fn ok(args: &[&str]) -> String {
    let o = worldrig(args);
    assert!(o.status.success(), "worldrig {args:?} failed: {}", String::from_utf8_lossy(&o.stderr));
    stdout(&o)
}

/// Runs `worldrig args`, asserts the error exit status 2, returns stderr.
pub fn fails(args: &[&str]) -> String {
    let o = worldrig(args);
    assert_eq!(o.status.code(), Some(2), "worldrig {args:?} should fail with status 2");
    String::from_utf8_lossy(&o.stderr).to_string()
}

/// A path as `&str` for argument lists.
pub fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

/// The shared reference data beside the repository (present in CI).
pub fn shared() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data")
}
