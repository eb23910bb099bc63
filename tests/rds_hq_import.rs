//! `worldrig import rds-hq` on the real RDS-HQ example clip (labels only) shipped beside the repo,
//! on a layout with per-camera poses, objects and captions, and on broken inputs.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use nalgebra::{Isometry3, Matrix4, Translation3, UnitQuaternion, Vector3};
use worldrig_scenelog::calib::embedded_av22_rig;
use worldrig_scenelog::{Diag, SceneLog};

const CLIP: &str = "2d23a1f4-c269-46aa-8e7d-1bb595d1e421_2445376400000_2445396400000";

fn example() -> PathBuf {
    common::shared().join("rds-hq-example")
}

fn copy_dir(src: &Path, dst: &Path) {
    std::fs::create_dir_all(dst).unwrap();
    for e in std::fs::read_dir(src).unwrap() {
        let e = e.unwrap();
        let to = dst.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &to);
        } else {
            std::fs::copy(e.path(), &to).unwrap();
        }
    }
}

/// Minimal .npy writer for f64 arrays (test data only).
fn npy_f64(shape: &[usize], values: &[f64]) -> Vec<u8> {
    let shape_txt = match shape {
        [n] => format!("({n},)"),
        s => format!("({})", s.iter().map(|v| v.to_string()).collect::<Vec<_>>().join(", ")),
    };
    let mut header = format!("{{'descr': '<f8', 'fortran_order': False, 'shape': {shape_txt}, }}");
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    out.extend_from_slice(&(header.len() as u16).to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    for v in values {
        out.extend_from_slice(&v.to_le_bytes());
    }
    out
}

fn tar_dir(files_dir: &Path, tar_path: &Path) {
    std::fs::create_dir_all(tar_path.parent().unwrap()).unwrap();
    let st = Command::new("tar").arg("cf").arg(tar_path).arg("-C").arg(files_dir).arg(".").status().unwrap();
    assert!(st.success());
}

#[test]
fn imports_the_real_example_clip() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("rds.log");
    let o = common::worldrig(&["import", "rds-hq", example().to_str().unwrap(), "--out", out.to_str().unwrap()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let text = common::stdout(&o);
    assert!(text.contains("no per-camera poses") && text.contains("av22"), "extrinsics source must be reported: {text}");
    let v = common::worldrig(&["log", "validate", out.to_str().unwrap()]);
    assert!(v.status.success(), "{}", common::stdout(&v));
    let ins = common::worldrig(&["log", "inspect", "--json", out.to_str().unwrap()]);
    assert!(ins.status.success());
    let s: serde_json::Value = serde_json::from_slice(&ins.stdout).unwrap();
    let c = &s["clips"][0];
    assert_eq!(c["clip_id"], CLIP);
    assert_eq!(c["source"], "real");
    assert_eq!(c["pose_count"], 300);
    assert!((c["pose_rate_hz"].as_f64().unwrap() - 30.0).abs() < 0.01);
    assert!((c["duration_s"].as_f64().unwrap() - 299.0 / 30.0).abs() < 1e-3);
    let d = c["distance_m"].as_f64().unwrap();
    assert!((90.0..120.0).contains(&d), "distance {d}");
    assert_eq!(c["cameras"].as_array().unwrap().len(), 7);
    assert_eq!(c["cameras"][0], "camera_front_wide_120fov");
    let m = &c["map_elements"];
    for (kind, n) in [("lane", 344), ("lane_line", 85), ("road_boundary", 93), ("crosswalk", 1), ("wait_line", 34), ("road_marking", 6), ("pole", 28), ("sign", 29)] {
        assert_eq!(m[kind], n, "{kind}");
    }

    // Typed read-back: intrinsics from the clip (1920x1080, forward poly for the teles), extrinsics
    // from the shipped calibration, first pose at the origin.
    let log = SceneLog::open(&out).unwrap();
    let mut d = Diag::strict();
    let rigs = log.read_rigs(&mut d).unwrap();
    let rig = &rigs.values().next().unwrap().value;
    let calib = embedded_av22_rig();
    for cam in &rig.cameras {
        use worldrig_scene::CameraModel;
        assert_eq!((cam.model.width(), cam.model.height()), (1920, 1080));
        let cal = calib.camera(&cam.name).unwrap();
        assert!((cam.rig_from_camera.to_homogeneous() - cal.rig_from_camera.to_homogeneous()).abs().max() < 1e-9);
        assert!(worldrig_scene::camera::max_round_trip_error_px(&cam.model, 64) < 1e-3, "{}", cam.name);
    }
    let poses = log.read_ego_poses(&mut d).unwrap();
    let tr = &poses[CLIP].1;
    assert_eq!(tr.start_us(), 2_445_376_400_000);
    assert!(tr.poses()[0].translation.vector.norm() < 1e-9);
    // Map in the world frame: the first lane-line vertex matches the raw label (identity first pose).
    let map = log.read_map(&mut d).unwrap();
    let ll = map[CLIP].iter().find(|e| e.value.kind == worldrig_scene::MapElementKind::LaneLine).unwrap();
    assert_eq!(ll.value.geometry.type_name(), "polyline");
    assert!(ll.value.attributes.contains_key("colors"));
}

#[test]
fn per_camera_poses_objects_and_captions_are_used() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("layout");
    copy_dir(&example(), &dir);
    let clip = CLIP;
    // A pose/ tar: front camera 0.1 m higher than the calibration says, at frame 0.
    let world_from_rig0 = Isometry3::<f64>::identity();
    let cal = embedded_av22_rig();
    let front = cal.camera("camera_front_wide_120fov").unwrap().rig_from_camera;
    let moved = Isometry3::from_parts(Translation3::new(0.0, 0.0, 0.1), UnitQuaternion::identity()) * front;
    let m: Matrix4<f64> = (world_from_rig0 * moved).to_homogeneous();
    let files = tmp.path().join("pose_files");
    std::fs::create_dir_all(&files).unwrap();
    let row_major: Vec<f64> = (0..4).flat_map(|r| (0..4).map(move |c| m[(r, c)])).collect();
    std::fs::write(files.join(format!("{clip}.000000.pose.camera_front_wide_120fov.npy")), npy_f64(&[4, 4], &row_major)).unwrap();
    tar_dir(&files, &dir.join("pose").join(format!("{clip}.tar")));
    // Objects at frames 0 and 3.
    let obj = tmp.path().join("obj_files");
    std::fs::create_dir_all(&obj).unwrap();
    for f in [0, 3] {
        let x = 10.0 + f as f64;
        let json = format!(
            r#"{{"17": {{"object_to_world": [[1,0,0,{x}],[0,1,0,2],[0,0,1,0.8],[0,0,0,1]], "object_lwh": [4.5,1.9,1.6], "object_is_moving": true, "object_type": "Car"}}}}"#
        );
        std::fs::write(obj.join(format!("{clip}.{f:06}.all_object_info.json")), json).unwrap();
    }
    tar_dir(&obj, &dir.join("all_object_info").join(format!("{clip}.tar")));
    std::fs::create_dir_all(dir.join("captions")).unwrap();
    std::fs::write(dir.join("captions").join(format!("{clip}.txt")), "A sunny suburban drive.\n\nThe ego car turns left.\n").unwrap();

    let out = tmp.path().join("log");
    let o = common::worldrig(&["import", "rds-hq", dir.to_str().unwrap(), "--out", out.to_str().unwrap(), "--cameras", "camera_front_wide_120fov,camera_cross_left_120fov"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let text = common::stdout(&o);
    assert!(text.contains("camera_cross_left_120fov") && !text.contains("no per-camera poses (pose/ tar) for camera_front"), "{text}");
    let log = SceneLog::open(&out).unwrap();
    let mut d = Diag::strict();
    let rig = log.read_rigs(&mut d).unwrap().into_values().next().unwrap().value;
    assert_eq!(rig.camera_names(), vec!["camera_front_wide_120fov", "camera_cross_left_120fov"]);
    let z = rig.cameras[0].rig_from_camera.translation.vector.z;
    assert!((z - (front.translation.vector.z + 0.1)).abs() < 1e-6, "front camera z {z}");
    let objects = log.read_objects(&mut d).unwrap();
    let o = &objects[clip];
    assert_eq!(o.len(), 2);
    assert_eq!(o[1].value.timestamp_us, 2_445_376_400_000 + 100_000);
    assert_eq!(o[0].value.category, "car");
    assert!((o[1].value.cuboid.centre_m.coords - Vector3::new(13.0, 2.0, 0.8)).norm() < 1e-9);
    let clips = log.read_clips(&mut d).unwrap();
    assert_eq!(clips[0].value.captions, vec!["A sunny suburban drive.", "The ego car turns left."]);
}

#[test]
fn broken_inputs_name_the_file_and_leave_nothing_behind() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("layout");
    copy_dir(&example(), &dir);
    let bad_tar = dir.join("3d_lanelines").join(format!("{CLIP}.tar"));
    let bytes = std::fs::read(&bad_tar).unwrap();
    // Keep the tar header but cut the JSON short.
    std::fs::write(&bad_tar, &bytes[..4096]).unwrap();
    let out = tmp.path().join("log");
    let o = common::worldrig(&["import", "rds-hq", dir.to_str().unwrap(), "--out", out.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("3d_lanelines") && err.contains(CLIP), "{err}");
    assert!(!out.exists(), "a failed import must not leave a log");
    let leftovers: Vec<_> = std::fs::read_dir(tmp.path()).unwrap().filter_map(|e| e.ok()).filter(|e| e.file_name().to_string_lossy().contains("tmp")).collect();
    assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");

    let o = common::worldrig(&["import", "rds-hq", "/nonexistent", "--out", out.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("vehicle_pose"));

    // An existing destination is never clobbered without --overwrite.
    std::fs::create_dir_all(&out).unwrap();
    let o = common::worldrig(&["import", "rds-hq", example().to_str().unwrap(), "--out", out.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("exists"));
}
