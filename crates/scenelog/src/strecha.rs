//! Import of the Strecha et al. (CVPR 2008) multi-view benchmark scenes (`fountain-P11`,
//! `Herz-Jesus-P8`, ...): real photographs with ground-truth cameras, so the checker can be
//! measured on images nobody here made.
//!
//! A scene directory holds images `NNNN.jpg` and, beside each, `NNNN.jpg.camera` with one row per
//! line:
//!
//! | lines | content |
//! |---|---|
//! | 1-3 | K, the 3x3 intrinsic matrix (pixels; no skew, last row `0 0 1`) |
//! | 4 | radial distortion (three numbers; must be 0: the benchmark images are undistorted) |
//! | 5-7 | R, the camera-to-world rotation (rows) |
//! | 8 | C, the camera centre in the world frame |
//! | 9 | image width and height in pixels |
//!
//! so the projection of a world point is `P = K [R^T | -R^T C]`.
//!
//! What the import writes:
//!
//! - one clip per scene directory, clip id = the directory name, `source = real`;
//! - one rig `strecha` with one pinhole camera named `camera` (K of the files, no distortion) at
//!   the rig origin, `rig_from_camera` = the FLU <- RDF axis change
//!   ([`worldrig_scene::pose::flu_from_rdf`]): the Strecha cameras are OpenCV RDF cameras;
//! - one ego pose per image: `world_from_rig = world_from_camera * camera_from_rig` with
//!   `world_from_camera = [R | C]` (R re-orthonormalised: the files round it to 6 digits);
//! - frame `i` = the `i`-th image in file-name order, at timestamp `i * 1 s` (the benchmark has no
//!   capture times; 1 s spacing only orders the images), JPEG bytes stored unchanged.
//!
//! The world frame is the benchmark's own ground-truth frame (not the first rig pose, as for
//! driving logs), so the logged poses reproduce the benchmark's projection matrices exactly; only
//! relative poses matter to the checker. All images of a log share one rig, so every `.camera`
//! file of every imported scene must hold the same K and image size; otherwise the import fails
//! and names the differing files (import such scenes into separate logs).

use std::path::{Path, PathBuf};

use nalgebra::{Matrix3, Matrix4, Vector3};
use worldrig_scene::camera::Pinhole;
use worldrig_scene::pose::{flu_from_rdf, pose_from_matrix4};
use worldrig_scene::{Camera, CameraSpec, Pose3, Rig, Trajectory};

use crate::error::LogError;
use crate::reader::{ClipRecord, FrameRecord, Source};
use crate::writer::{SceneLogWriter, WriterOptions};

/// The rig every Strecha import writes.
pub const RIG_ID: &str = "strecha";
/// The name of the single camera of that rig.
pub const CAMERA: &str = "camera";
/// Spacing of consecutive frames (the benchmark has no capture times).
pub const FRAME_INTERVAL_US: i64 = 1_000_000;
/// Largest relative difference between two files' intrinsics that still counts as the same camera.
const SAME_INTRINSICS_TOLERANCE: f64 = 1e-9;

/// How an import is done.
#[derive(Debug, Clone, Default)]
pub struct StrechaOptions {
    /// Replace an existing log at the destination.
    pub overwrite: bool,
}

/// One parsed `.camera` file.
#[derive(Debug, Clone, PartialEq)]
pub struct StrechaCamera {
    /// The intrinsic matrix as written.
    pub k: Matrix3<f64>,
    /// The radial distortion row as written (all zero for the benchmark).
    pub distortion: Vector3<f64>,
    /// The camera-to-world rotation as written (rounded, so only nearly orthonormal).
    pub r: Matrix3<f64>,
    /// The camera centre in the world frame.
    pub c: Vector3<f64>,
    pub width: u32,
    pub height: u32,
    /// `[R | C]` with R replaced by its nearest rotation: maps RDF camera coordinates to the world.
    pub world_from_camera: Pose3,
}

impl StrechaCamera {
    /// The pinhole model of K and the image size.
    pub fn pinhole(&self) -> Pinhole {
        Pinhole::new(self.width, self.height, self.k[(0, 0)], self.k[(1, 1)], self.k[(0, 2)], self.k[(1, 2)])
    }
}

/// One imported scene.
#[derive(Debug, Clone, serde::Serialize)]
pub struct StrechaClip {
    pub clip_id: String,
    pub dir: PathBuf,
    pub frames: usize,
}

/// What an import did, for the user.
#[derive(Debug, Clone, serde::Serialize)]
pub struct StrechaReport {
    pub clips: Vec<StrechaClip>,
    pub rig_id: String,
    pub camera: Pinhole,
    pub frame_interval_us: i64,
}

/// Parses the text of a `.camera` file; errors name `path` and the 1-based line.
pub fn parse_camera_file(path: &Path, text: &str) -> Result<StrechaCamera, LogError> {
    const ROWS: [(&str, usize); 9] = [
        ("K row 1", 3),
        ("K row 2", 3),
        ("K row 3", 3),
        ("distortion", 3),
        ("R row 1", 3),
        ("R row 2", 3),
        ("R row 3", 3),
        ("camera centre C", 3),
        ("image width and height", 2),
    ];
    let at = |line: usize, msg: String| LogError::input(path, format!("line {line}: {msg}"));
    // (line number, numbers) of every non-blank line.
    let mut rows: Vec<(usize, Vec<f64>)> = Vec::with_capacity(ROWS.len());
    for (i, line) in text.lines().enumerate() {
        let n = i + 1;
        if line.trim().is_empty() {
            continue;
        }
        let Some(&(what, count)) = ROWS.get(rows.len()) else {
            return Err(at(n, format!("unexpected extra line (a .camera file has {} rows: K, distortion, R, C, width height)", ROWS.len())));
        };
        let mut values = Vec::with_capacity(count);
        for tok in line.split_whitespace() {
            let v: f64 = tok.parse().map_err(|_| at(n, format!("{what}: `{tok}` is not a number")))?;
            if !v.is_finite() {
                return Err(at(n, format!("{what}: non-finite value `{tok}`")));
            }
            values.push(v);
        }
        if values.len() != count {
            return Err(at(n, format!("{what}: expected {count} numbers, got {}", values.len())));
        }
        rows.push((n, values));
    }
    if rows.len() < ROWS.len() {
        let last = text.lines().count();
        return Err(at(last.max(1), format!("file ends early: missing {} (a .camera file has {} rows: K, distortion, R, C, width height)", ROWS[rows.len()].0, ROWS.len())));
    }
    let k = Matrix3::from_fn(|r, c| rows[r].1[c]);
    let distortion = Vector3::from_column_slice(&rows[3].1);
    let r = Matrix3::from_fn(|i, j| rows[4 + i].1[j]);
    let c = Vector3::from_column_slice(&rows[7].1);
    let (wh_line, wh) = (&rows[8].0, &rows[8].1);

    let (k_line, k3) = (rows[2].0, &rows[2].1);
    if k3 != &[0.0, 0.0, 1.0] {
        return Err(at(k_line, format!("K row 3 must be `0 0 1`, got {k3:?}")));
    }
    if k[(1, 0)] != 0.0 {
        return Err(at(rows[1].0, "K row 2 must start with 0".into()));
    }
    if k[(0, 1)].abs() > 1e-9 * k[(0, 0)].abs() {
        return Err(at(rows[0].0, format!("K has skew {} (not supported: the camera model has none)", k[(0, 1)])));
    }
    if !(k[(0, 0)] > 0.0 && k[(1, 1)] > 0.0) {
        return Err(at(rows[0].0, format!("focal lengths must be positive (fx {}, fy {})", k[(0, 0)], k[(1, 1)])));
    }
    if distortion.iter().any(|v| *v != 0.0) {
        return Err(at(rows[3].0, format!("non-zero distortion {:?} is not supported (the benchmark's images are undistorted)", distortion.as_slice())));
    }
    let size = |v: f64| (v > 0.0 && v.fract() == 0.0 && v <= u32::MAX as f64).then_some(v as u32);
    let (Some(width), Some(height)) = (size(wh[0]), size(wh[1])) else {
        return Err(at(*wh_line, format!("image size {} x {} is not two positive integers", wh[0], wh[1])));
    };
    let mut m = Matrix4::identity();
    m.fixed_view_mut::<3, 3>(0, 0).copy_from(&r);
    m.fixed_view_mut::<3, 1>(0, 3).copy_from(&c);
    let world_from_camera = pose_from_matrix4(&m).map_err(|e| LogError::input(path, format!("lines {}-{}: R is not a rotation ({e})", rows[4].0, rows[6].0)))?;
    Ok(StrechaCamera { k, distortion, r, c, width, height, world_from_camera })
}

/// Reads and parses a `.camera` file.
pub fn read_camera_file(path: &Path) -> Result<StrechaCamera, LogError> {
    let text = std::fs::read_to_string(path).map_err(|e| LogError::io(path, e))?;
    parse_camera_file(path, &text)
}

/// The images of a scene directory (`*.jpg`/`*.jpeg`, by file name) with their `.camera` files.
fn scene_images(dir: &Path) -> Result<Vec<(PathBuf, PathBuf)>, LogError> {
    let rd = std::fs::read_dir(dir).map_err(|e| LogError::io(dir, e))?;
    let mut images = Vec::new();
    for entry in rd {
        let p = entry.map_err(|e| LogError::io(dir, e))?.path();
        let is_jpeg = p.extension().is_some_and(|x| x.eq_ignore_ascii_case("jpg") || x.eq_ignore_ascii_case("jpeg"));
        if is_jpeg && p.is_file() {
            images.push(p);
        }
    }
    images.sort();
    if images.is_empty() {
        return Err(LogError::input(dir, "no images (NNNN.jpg with NNNN.jpg.camera) found"));
    }
    images
        .into_iter()
        .map(|img| {
            let mut cam = img.clone().into_os_string();
            cam.push(".camera");
            let cam = PathBuf::from(cam);
            if cam.is_file() {
                Ok((img, cam))
            } else {
                Err(LogError::input(&img, format!("no camera file {} beside the image", cam.display())))
            }
        })
        .collect()
}

fn same_camera(a: &StrechaCamera, b: &StrechaCamera) -> bool {
    let close = |x: f64, y: f64| (x - y).abs() <= SAME_INTRINSICS_TOLERANCE * x.abs().max(y.abs()).max(1.0);
    a.width == b.width && a.height == b.height && a.k.iter().zip(b.k.iter()).all(|(x, y)| close(*x, *y))
}

fn describe(c: &StrechaCamera) -> String {
    format!("fx {} fy {} cx {} cy {}, {}x{}", c.k[(0, 0)], c.k[(1, 1)], c.k[(0, 2)], c.k[(1, 2)], c.width, c.height)
}

/// A parsed scene: its clip id and, per image in order, the image path, bytes and camera.
struct Scene {
    clip_id: String,
    dir: PathBuf,
    images: Vec<(PathBuf, PathBuf, StrechaCamera)>,
}

fn clip_id_of(dir: &Path) -> Result<String, LogError> {
    let canonical = dir.canonicalize().map_err(|e| LogError::io(dir, e))?;
    canonical
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .filter(|n| !n.is_empty())
        .ok_or_else(|| LogError::input(dir, "cannot take a clip id from this directory's name"))
}

/// Checks that a JPEG's header is readable and its size is the `.camera` file's.
fn check_image(path: &Path, bytes: &[u8], cam: &StrechaCamera) -> Result<(), LogError> {
    let reader = image::ImageReader::with_format(std::io::Cursor::new(bytes), image::ImageFormat::Jpeg);
    let (w, h) = reader.into_dimensions().map_err(|e| LogError::input(path, format!("not a readable JPEG: {e}")))?;
    if (w, h) != (cam.width, cam.height) {
        return Err(LogError::input(path, format!("image is {w}x{h} but its .camera file says {}x{}", cam.width, cam.height)));
    }
    Ok(())
}

/// Imports the scene directories `dirs` (one clip each) into a new scene log at `out`.
pub fn import_strecha(dirs: &[PathBuf], out: &Path, opts: &StrechaOptions) -> Result<StrechaReport, LogError> {
    if dirs.is_empty() {
        return Err(LogError::input(out, "no scene directories given"));
    }
    // Parse everything first: a bad file fails the import before anything is written.
    let mut scenes: Vec<Scene> = Vec::with_capacity(dirs.len());
    for dir in dirs {
        let clip_id = clip_id_of(dir)?;
        if let Some(other) = scenes.iter().find(|s| s.clip_id == clip_id) {
            return Err(LogError::input(dir, format!("clip id `{clip_id}` is already taken by {} (scene directories need distinct names)", other.dir.display())));
        }
        let mut images = Vec::new();
        for (img, cam_path) in scene_images(dir)? {
            let cam = read_camera_file(&cam_path)?;
            images.push((img, cam_path, cam));
        }
        scenes.push(Scene { clip_id, dir: dir.clone(), images });
    }
    // One log, one rig: every file must describe the same camera.
    let (first_path, first) = {
        let (_, p, c) = &scenes[0].images[0];
        (p.clone(), c.clone())
    };
    for scene in &scenes {
        for (_, p, c) in &scene.images {
            if !same_camera(&first, c) {
                return Err(LogError::input(
                    p,
                    format!(
                        "intrinsics ({}) differ from those of {} ({}); all images of a log share one rig, so import scenes with different cameras into separate logs",
                        describe(c),
                        first_path.display(),
                        describe(&first)
                    ),
                ));
            }
        }
    }
    let pinhole = first.pinhole();
    pinhole.validate(CAMERA).map_err(|e| LogError::input(&first_path, e.to_string()))?;
    let rig_from_camera = Pose3::from_parts(nalgebra::Translation3::identity(), flu_from_rdf());
    let camera_from_rig = rig_from_camera.inverse();
    let rig = Rig {
        name: RIG_ID.to_string(),
        source: format!(
            "Strecha et al. (CVPR 2008) ground-truth intrinsics of {}",
            scenes.iter().map(|s| s.clip_id.as_str()).collect::<Vec<_>>().join(", ")
        ),
        cameras: vec![CameraSpec { name: CAMERA.to_string(), model: Camera::Pinhole(pinhole.clone()), rig_from_camera }],
    };

    let mut writer = SceneLogWriter::create(out, WriterOptions { overwrite: opts.overwrite, ..Default::default() })?;
    writer.add_rig(&rig);
    let mut report = StrechaReport { clips: Vec::new(), rig_id: RIG_ID.to_string(), camera: pinhole, frame_interval_us: FRAME_INTERVAL_US };
    for scene in &scenes {
        let n = scene.images.len();
        let timestamps: Vec<i64> = (0..n as i64).map(|i| i * FRAME_INTERVAL_US).collect();
        let poses: Vec<Pose3> = scene.images.iter().map(|(_, _, c)| c.world_from_camera * camera_from_rig).collect();
        let trajectory = Trajectory::new(timestamps.clone(), poses).map_err(|e| LogError::input(&scene.dir, e.to_string()))?;
        let names: Vec<String> = scene.images.iter().filter_map(|(p, _, _)| p.file_name().map(|f| f.to_string_lossy().into_owned())).collect();
        writer
            .add_clip(ClipRecord {
                clip_id: scene.clip_id.clone(),
                rig_id: RIG_ID.to_string(),
                start_timestamp_us: 0,
                duration_us: trajectory.duration_us(),
                frame_rate_hz: 1e6 / FRAME_INTERVAL_US as f64,
                source: Source::Real,
                captions: Vec::new(),
                generator: format!("worldrig import strecha {}", env!("CARGO_PKG_VERSION")),
                checkpoint_sha256: None,
                seed: None,
                prompt: None,
                trajectory_xyz_m: None,
                notes: Some(format!(
                    "Strecha et al. (CVPR 2008) multi-view scene {}: frame i is image i of {} in file-name order at i seconds (no capture times; the spacing only orders the images); \
                     poses are the benchmark's ground truth in its own world frame",
                    scene.clip_id,
                    names.join(", ")
                )),
            })
            .add_ego_poses(&scene.clip_id, &trajectory);
        for (i, ((img, _, cam), t)) in scene.images.iter().zip(&timestamps).enumerate() {
            let bytes = std::fs::read(img).map_err(|e| LogError::io(img, e))?;
            check_image(img, &bytes, cam)?;
            writer.add_frame(FrameRecord {
                clip_id: scene.clip_id.clone(),
                camera: CAMERA.to_string(),
                frame_index: i as i64,
                timestamp_us: *t,
                image_format: "jpeg".into(),
                image: bytes.into(),
            })?;
        }
        tracing::info!(clip = %scene.clip_id, frames = n, "imported");
        report.clips.push(StrechaClip { clip_id: scene.clip_id.clone(), dir: scene.dir.clone(), frames: n });
    }
    writer.finish()?;
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "919.827 0 506.563\n0 921.387 335.27\n0 0 1\n0 0 0\n\
        0.450927 -0.0945642 -0.887537\n-0.892535 -0.0401974 -0.449183\n0.00679989 0.994707 -0.102528\n\
        -7.28137 -7.57667 0.204446\n1024 683\n";

    fn err(text: &str) -> String {
        parse_camera_file(Path::new("x.camera"), text).unwrap_err().to_string()
    }

    #[test]
    fn parses_a_camera_file() {
        let c = parse_camera_file(Path::new("x.camera"), GOOD).unwrap();
        assert_eq!((c.width, c.height), (1024, 683));
        assert_eq!(c.k[(0, 2)], 506.563);
        let r = c.world_from_camera.rotation.to_rotation_matrix().into_inner();
        assert!((r - c.r).abs().max() < 2e-6);
        assert_eq!(c.world_from_camera.translation.vector, c.c);
    }

    #[test]
    fn errors_name_the_line() {
        let e = err(&GOOD.replace("0 0 0\n", "0 0\n"));
        assert!(e.contains("x.camera: line 4: distortion: expected 3 numbers, got 2"), "{e}");
        let e = err(&GOOD.replace("-7.28137", "nan"));
        assert!(e.contains("line 8") && e.contains("non-finite"), "{e}");
        let e = err(&GOOD.replace("-7.28137", "abc"));
        assert!(e.contains("line 8") && e.contains("not a number"), "{e}");
        let e = err(&GOOD.replace("0.450927 -0.0945642", "0.9 -0.0945642"));
        assert!(e.contains("lines 5-7: R is not a rotation"), "{e}");
        let e = err(&GOOD.replace("1024 683\n", ""));
        assert!(e.contains("file ends early") && e.contains("width and height"), "{e}");
        let e = err(&format!("{GOOD}1 2\n"));
        assert!(e.contains("line 10: unexpected extra line"), "{e}");
        let e = err(&GOOD.replace("1024 683", "1024.5 683"));
        assert!(e.contains("line 9"), "{e}");
    }
}
