//! `worldrig import strecha` on the two Strecha et al. scenes shipped beside the repo
//! (`fountain-P11`, `Herz-Jesus-P8`): the log validates, its rig and ego poses reproduce every
//! `.camera` projection matrix, the JPEGs are stored unchanged, and malformed inputs are refused
//! with the file and line named.

mod common;

use std::path::{Path, PathBuf};

use nalgebra::{Matrix3, Matrix3x4, Vector3};
use worldrig_scene::Camera;
use worldrig_scenelog::{Diag, SceneLog};

const SCENES: [(&str, usize); 2] = [("fountain-P11", 11), ("Herz-Jesus-P8", 8)];

fn scene(name: &str) -> PathBuf {
    common::shared().join("strecha").join(name)
}

fn numbers(text: &str) -> Vec<Vec<f64>> {
    text.lines().filter(|l| !l.trim().is_empty()).map(|l| l.split_whitespace().map(|t| t.parse().unwrap()).collect()).collect()
}

/// The nearest rotation to a (rounded) rotation matrix, by SVD.
fn nearest_rotation(r: &Matrix3<f64>) -> Matrix3<f64> {
    let svd = r.svd(true, true);
    svd.u.unwrap() * svd.v_t.unwrap()
}

/// P = K [R^T | -R^T C] from a `.camera` file, with R (rounded to 6 digits in the file) replaced by
/// its nearest rotation, as the importer does; also returns P with the raw R.
fn projection_from_file(path: &Path) -> (Matrix3x4<f64>, Matrix3x4<f64>) {
    let v = numbers(&std::fs::read_to_string(path).unwrap());
    let k = Matrix3::from_fn(|i, j| v[i][j]);
    let r_raw = Matrix3::from_fn(|i, j| v[4 + i][j]);
    let c = Vector3::new(v[7][0], v[7][1], v[7][2]);
    let p = |r: Matrix3<f64>| {
        let mut rt = Matrix3x4::zeros();
        rt.fixed_view_mut::<3, 3>(0, 0).copy_from(&r.transpose());
        rt.fixed_view_mut::<3, 1>(0, 3).copy_from(&(-r.transpose() * c));
        k * rt
    };
    (p(nearest_rotation(&r_raw)), p(r_raw))
}

fn copy_scene(name: &str, dst: &Path) -> PathBuf {
    let to = dst.join(name);
    std::fs::create_dir_all(&to).unwrap();
    for e in std::fs::read_dir(scene(name)).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
    }
    to
}

fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn imports_both_scenes_and_reproduces_the_projections() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("strecha-log");
    let dirs: Vec<String> = SCENES.iter().map(|(s, _)| scene(s).to_string_lossy().into_owned()).collect();
    let mut args = vec!["import", "strecha"];
    args.extend(dirs.iter().map(String::as_str));
    args.extend(["--out", out.to_str().unwrap(), "--json"]);
    let o = common::worldrig(&args);
    assert!(o.status.success(), "import failed: {}", stderr(&o));
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(report["clips"].as_array().unwrap().len(), 2);
    assert_eq!(report["rig_id"], "strecha");

    let v = common::worldrig(&["log", "validate", out.to_str().unwrap()]);
    assert!(v.status.success(), "validate failed: {}{}", common::stdout(&v), stderr(&v));

    // A second import to the same place needs --overwrite.
    let again = common::worldrig(&args);
    assert!(!again.status.success());
    args.push("--overwrite");
    assert!(common::worldrig(&args).status.success());

    let log = SceneLog::open(&out).unwrap();
    let mut diag = Diag::strict();
    let labels = log.read_labels(&mut diag).unwrap();
    assert_eq!(labels.rigs.len(), 1);
    let rig = &labels.rigs["strecha"].value;
    assert_eq!(rig.cameras.len(), 1);
    let cam = &rig.cameras[0];
    assert_eq!(cam.name, "camera");
    let Camera::Pinhole(ph) = &cam.model else { panic!("expected a pinhole camera") };
    assert_eq!((ph.width, ph.height, ph.distortion), (1024, 683, None));
    let k = Matrix3::new(ph.fx, 0.0, ph.cx, 0.0, ph.fy, ph.cy, 0.0, 0.0, 1.0);
    // rig_from_camera is the FLU <- RDF axis change at the rig origin.
    assert!(cam.rig_from_camera.translation.vector.norm() < 1e-15);
    let flu_from_rdf = Matrix3::new(0.0, 0.0, 1.0, -1.0, 0.0, 0.0, 0.0, -1.0, 0.0);
    assert!((cam.rig_from_camera.rotation.to_rotation_matrix().into_inner() - flu_from_rdf).abs().max() < 1e-15);

    let frames = log.frames(true).collect_all(&mut diag).unwrap();
    assert_eq!(frames.len(), SCENES.iter().map(|s| s.1).sum::<usize>());
    let clip_ids: Vec<&str> = labels.clips.iter().map(|c| c.value.clip_id.as_str()).collect();
    assert_eq!(clip_ids, SCENES.iter().map(|s| s.0).collect::<Vec<_>>());
    for (name, n) in SCENES {
        let clip = &labels.clips.iter().find(|c| c.value.clip_id == name).unwrap().value;
        assert_eq!((clip.rig_id.as_str(), clip.start_timestamp_us, clip.duration_us), ("strecha", 0, (n as i64 - 1) * 1_000_000));
        assert_eq!(clip.frame_rate_hz, 1.0);
        let (_, traj) = &labels.poses[name];
        assert_eq!(traj.timestamps_us(), (0..n as i64).map(|i| i * 1_000_000).collect::<Vec<_>>().as_slice());
        let clip_frames: Vec<_> = frames.iter().filter(|f| f.clip_id == name).collect();
        assert_eq!(clip_frames.len(), n);
        for (i, (pose, frame)) in traj.poses().iter().zip(&clip_frames).enumerate() {
            let jpg = scene(name).join(format!("{i:04}.jpg"));
            // Frames: image i at i seconds, JPEG bytes unchanged.
            assert_eq!((frame.frame_index, frame.timestamp_us, frame.camera.as_str()), (i as i64, i as i64 * 1_000_000, "camera"));
            assert_eq!(frame.image_format, "jpeg");
            assert_eq!(frame.image.as_slice(), std::fs::read(&jpg).unwrap().as_slice(), "{}", jpg.display());
            // P = K * camera_from_world with camera_from_world = (world_from_rig * rig_from_camera)^-1.
            let camera_from_world = (pose * cam.rig_from_camera).inverse().to_homogeneous();
            let p_log = k * camera_from_world.fixed_view::<3, 4>(0, 0);
            let (p_file, p_raw) = projection_from_file(&scene(name).join(format!("{i:04}.jpg.camera")));
            let err = (p_log - p_file).abs().max();
            assert!(err < 1e-9, "{name} image {i}: |P_log - P_file| = {err:e}");
            // The file's raw R is rounded to 6 digits; against it P agrees to that rounding.
            let raw_rel = (p_log - p_raw).abs().max() / p_raw.abs().max();
            assert!(raw_rel < 1e-5, "{name} image {i}: relative difference to raw-R P = {raw_rel:e}");
        }
    }
}

/// Copies fountain-P11 into a temp dir, applies `edit` to the text of 0003.jpg.camera, imports it,
/// and returns the import's stderr (asserting a non-zero exit and that no log was written).
fn import_with_broken_camera(edit: impl Fn(&str) -> String) -> String {
    let tmp = tempfile::tempdir().unwrap();
    let dir = copy_scene("fountain-P11", tmp.path());
    let cam = dir.join("0003.jpg.camera");
    let text = std::fs::read_to_string(&cam).unwrap();
    std::fs::write(&cam, edit(&text)).unwrap();
    let out = tmp.path().join("log");
    let o = common::worldrig(&["import", "strecha", dir.to_str().unwrap(), "--out", out.to_str().unwrap()]);
    assert!(!o.status.success(), "import of a malformed .camera file succeeded");
    assert!(!out.exists(), "a failed import left a log behind");
    let e = stderr(&o);
    assert!(e.contains("0003.jpg.camera"), "error does not name the file: {e}");
    e
}

fn replace_line(text: &str, line: usize, with: &str) -> String {
    text.lines().enumerate().map(|(i, l)| if i + 1 == line { with.to_string() } else { l.to_string() }).collect::<Vec<_>>().join("\n") + "\n"
}

#[test]
fn malformed_camera_files_are_refused_with_file_and_line() {
    let e = import_with_broken_camera(|t| replace_line(t, 8, "-7.28137 -7.57667"));
    assert!(e.contains("line 8") && e.contains("expected 3 numbers, got 2"), "{e}");
    let e = import_with_broken_camera(|t| replace_line(t, 2, "0 nan 335.27"));
    assert!(e.contains("line 2") && e.contains("non-finite"), "{e}");
    let e = import_with_broken_camera(|t| replace_line(t, 6, "1 2 3"));
    assert!(e.contains("lines 5-7") && e.contains("not a rotation"), "{e}");
    let e = import_with_broken_camera(|t| t.lines().take(7).collect::<Vec<_>>().join("\n"));
    assert!(e.contains("file ends early"), "{e}");
}

#[test]
fn scenes_with_different_intrinsics_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let a = copy_scene("fountain-P11", tmp.path());
    let b = copy_scene("Herz-Jesus-P8", tmp.path());
    let cam = b.join("0002.jpg.camera");
    let text = std::fs::read_to_string(&cam).unwrap();
    std::fs::write(&cam, replace_line(&text, 1, "900 0 506.563")).unwrap();
    let out = tmp.path().join("log");
    let o = common::worldrig(&["import", "strecha", a.to_str().unwrap(), b.to_str().unwrap(), "--out", out.to_str().unwrap()]);
    assert!(!o.status.success());
    assert!(!out.exists());
    let e = stderr(&o);
    assert!(e.contains("Herz-Jesus-P8") && e.contains("0002.jpg.camera") && e.contains("intrinsics") && e.contains("separate logs"), "{e}");
}
