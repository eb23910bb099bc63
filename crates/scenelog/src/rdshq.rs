//! Import of the public RDS-HQ per-clip layout (as published with NVIDIA's Cosmos-Drive-Dreams):
//! one WebDataset tar per clip per modality folder.
//!
//! | folder | entries | becomes |
//! |---|---|---|
//! | `vehicle_pose/` | `<clip>.<frame:06>.vehicle_pose.npy`, 4x4 rig-to-world, 30 fps | `ego_poses` |
//! | `ftheta_intrinsic/` | `<clip>.ftheta_intrinsic.<camera>.npy`: cx, cy, w, h, 6 poly coefficients, is_bw_poly[, c, d, e] | `rig` intrinsics |
//! | `pinhole_intrinsic/` | `<clip>.pinhole_intrinsic.<camera>.npy`: fx, fy, cx, cy, w, h | `rig` (when no f-theta) |
//! | `pose/` | `<clip>.<frame:06>.pose.<camera>.npy`, 4x4 camera-to-world (OpenCV) | `rig` extrinsics |
//! | `all_object_info/` | `<clip>.<frame:06>.all_object_info.json` | `objects` |
//! | `3d_lanes/`, `3d_lanelines/`, `3d_road_boundaries/`, `3d_crosswalks/`, `3d_wait_lines/`, `3d_road_markings/`, `3d_poles/`, `3d_traffic_signs/`, `3d_traffic_lights/` | `<clip>.<kind>.json` labels | `map` |
//! | `captions/` or `captions.json` | text | `clips.captions` |
//!
//! Map labels carry a `coordinate_frame` (`rig`) and a `timestamp`: they are expressed in the rig
//! frame at that time and are moved into the log's world frame (the rig at the first pose). Where a
//! clip has no per-camera poses, extrinsics come from a calibration rig (by default NVIDIA's av22
//! median calibration shipped as `configs/rigs/av22-7cam.json`), and the import says so.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use nalgebra::{Matrix4, Point3, Vector3};
use serde_json::Value;
use worldrig_scene::camera::{FThetaParams, Pinhole, PolyDirection};
use worldrig_scene::pose::pose_from_matrix4;
use worldrig_scene::{Camera, CameraSpec, Cuboid, FTheta, MapElement, MapElementKind, MapGeometry, ObjectSample, Pose3, Rig, Trajectory};

use crate::error::LogError;
use crate::npy::parse_npy;
use crate::reader::{ClipRecord, Source};
use crate::writer::{SceneLogWriter, WriterOptions};

/// Map label folders and what they become.
const MAP_FOLDERS: [(&str, MapElementKind); 9] = [
    ("3d_lanes", MapElementKind::Lane),
    ("3d_lanelines", MapElementKind::LaneLine),
    ("3d_road_boundaries", MapElementKind::RoadBoundary),
    ("3d_crosswalks", MapElementKind::Crosswalk),
    ("3d_wait_lines", MapElementKind::WaitLine),
    ("3d_road_markings", MapElementKind::RoadMarking),
    ("3d_poles", MapElementKind::Pole),
    ("3d_traffic_signs", MapElementKind::Sign),
    ("3d_traffic_lights", MapElementKind::Light),
];

#[derive(Debug, Clone)]
pub struct ImportOptions {
    /// Camera pose rate of the layout (RDS-HQ: 30 fps).
    pub pose_fps: f64,
    /// Where extrinsics come from when a clip has no `pose/` tar.
    pub calibration: Rig,
    /// Import only these cameras (all found when empty).
    pub cameras: Vec<String>,
    /// Captions to attach to every clip, in addition to any found.
    pub extra_captions: Vec<String>,
    pub overwrite: bool,
}

/// What an import did, for the user.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct ImportReport {
    pub clips: Vec<String>,
    pub cameras: usize,
    pub poses: usize,
    pub map_elements: BTreeMap<&'static str, usize>,
    pub objects: usize,
    /// Things the user should know (missing modalities, assumed calibration).
    pub notes: Vec<String>,
}

/// Reads every file entry of a tar into memory (RDS-HQ label tars are small).
fn read_tar(path: &Path) -> Result<Vec<(String, Vec<u8>)>, LogError> {
    let file = File::open(path).map_err(|e| LogError::io(path, e))?;
    let mut archive = tar::Archive::new(file);
    let mut out = Vec::new();
    let entries = archive.entries().map_err(|e| LogError::input(path, format!("not a tar archive: {e}")))?;
    for entry in entries {
        let mut entry = entry.map_err(|e| LogError::input(path, format!("corrupt tar entry: {e}")))?;
        if !entry.header().entry_type().is_file() {
            continue;
        }
        let full = entry.path().map_err(|e| LogError::input(path, format!("bad entry name: {e}")))?.into_owned();
        // WebDataset keys are file names; tars made with `tar -C dir .` prefix them with `./`.
        let Some(name) = full.file_name().map(|n| n.to_string_lossy().into_owned()) else { continue };
        let mut buf = Vec::with_capacity(entry.size().min(1 << 28) as usize);
        entry.read_to_end(&mut buf).map_err(|e| LogError::input(path, format!("entry `{name}`: {e}")))?;
        out.push((name, buf));
    }
    Ok(out)
}

/// Clip ids present in a layout: the `vehicle_pose/*.tar` stems.
pub fn list_clips(dir: &Path) -> Result<Vec<String>, LogError> {
    let poses = dir.join("vehicle_pose");
    let rd = std::fs::read_dir(&poses).map_err(|e| LogError::input(&poses, format!("no vehicle_pose/ folder: {e}")))?;
    let mut clips: Vec<String> = rd
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "tar"))
        .filter_map(|p| p.file_stem().map(|s| s.to_string_lossy().into_owned()))
        .collect();
    clips.sort();
    if clips.is_empty() {
        return Err(LogError::input(&poses, "no clip tars (<clip_id>.tar) found"));
    }
    Ok(clips)
}

/// The start timestamp encoded in an RDS-HQ clip id (`<uuid>_<start_us>_<end_us>`), if any.
fn clip_start_us(clip: &str) -> Option<i64> {
    let mut parts = clip.rsplit('_');
    let _end = parts.next()?.parse::<i64>().ok()?;
    parts.next()?.parse::<i64>().ok()
}

fn npy_f64(path: &Path, name: &str, bytes: &[u8]) -> Result<Vec<f64>, LogError> {
    let arr = parse_npy(bytes).map_err(|e| LogError::input(path, format!("entry `{name}`: {e}")))?;
    arr.as_f64().map(<[f64]>::to_vec).ok_or_else(|| LogError::input(path, format!("entry `{name}`: not a numeric array")))
}

fn matrix4(path: &Path, name: &str, bytes: &[u8]) -> Result<Pose3, LogError> {
    let v = npy_f64(path, name, bytes)?;
    if v.len() != 16 {
        return Err(LogError::input(path, format!("entry `{name}`: expected 16 values (4x4), got {}", v.len())));
    }
    pose_from_matrix4(&Matrix4::from_row_slice(&v)).map_err(|e| LogError::input(path, format!("entry `{name}`: {e}")))
}

/// The frame number of an entry `<clip>.<frame>.<...>`.
fn frame_number(clip: &str, name: &str) -> Option<u64> {
    name.strip_prefix(clip)?.strip_prefix('.')?.split('.').next()?.parse().ok()
}

/// The camera name at the end of `<clip>.<modality>.<camera>.npy`.
fn camera_suffix<'a>(name: &'a str, marker: &str) -> Option<&'a str> {
    let rest = &name[name.find(marker)? + marker.len()..];
    rest.strip_suffix(".npy")
}

fn ftheta_from_values(path: &Path, name: &str, v: &[f64]) -> Result<Camera, LogError> {
    if v.len() != 11 && v.len() != 14 {
        return Err(LogError::input(path, format!("entry `{name}`: expected 11 or 14 f-theta values, got {}", v.len())));
    }
    let (w, h) = (v[2], v[3]);
    if w <= 0.0 || h <= 0.0 || w.fract() != 0.0 || h.fract() != 0.0 {
        return Err(LogError::input(path, format!("entry `{name}`: bad image size {w}x{h}")));
    }
    let linear_cde = if v.len() == 14 { [v[11], v[12], v[13]] } else { [1.0, 0.0, 0.0] };
    let f = FTheta::new(FThetaParams {
        width: w as u32,
        height: h as u32,
        cx: v[0],
        cy: v[1],
        poly: v[4..10].to_vec(),
        poly_direction: if v[10] != 0.0 { PolyDirection::Backward } else { PolyDirection::Forward },
        linear_cde,
    })
    .map_err(|e| LogError::input(path, format!("entry `{name}`: {e}")))?;
    Ok(Camera::Ftheta(f))
}

/// Flattens RDS label attributes (`[{name, text|enum|flag|double|...}]`) into a JSON object.
fn attributes(list: Option<&Value>) -> serde_json::Map<String, Value> {
    let mut out = serde_json::Map::new();
    for a in list.and_then(Value::as_array).into_iter().flatten() {
        let Some(name) = a.get("name").and_then(Value::as_str) else { continue };
        let value = a
            .as_object()
            .and_then(|o| o.iter().find(|(k, _)| k.as_str() != "name").map(|(_, v)| v.clone()))
            .map(|v| match v {
                // {"enumsList": {"enumsList": [...]}} -> [...]
                Value::Object(mut inner) if inner.len() == 1 => inner.values_mut().next().map(Value::take).unwrap_or(Value::Null),
                other => other,
            })
            .unwrap_or(Value::Null);
        out.insert(name.to_string(), value);
    }
    out
}

fn points(path: &Path, v: Option<&Value>, what: &str) -> Result<Vec<Point3<f64>>, LogError> {
    let arr = v.and_then(Value::as_array).ok_or_else(|| LogError::input(path, format!("{what}: no vertex list")))?;
    arr.iter()
        .map(|p| {
            let c = p.as_array().filter(|c| c.len() == 3).and_then(|c| Some((c[0].as_f64()?, c[1].as_f64()?, c[2].as_f64()?)));
            match c {
                Some((x, y, z)) if x.is_finite() && y.is_finite() && z.is_finite() => Ok(Point3::new(x, y, z)),
                _ => Err(LogError::input(path, format!("{what}: vertex {p} is not three finite numbers"))),
            }
        })
        .collect()
}

/// Parses one map label file into elements in the label's own frame, with the label's timestamp.
fn parse_map_labels(path: &Path, bytes: &[u8], kind: MapElementKind, notes: &mut Vec<String>) -> Result<Vec<(Option<i64>, MapElement)>, LogError> {
    let doc: Value = serde_json::from_slice(bytes).map_err(|e| LogError::input(path, format!("invalid JSON: {e}")))?;
    let labels = doc.get("labels").and_then(Value::as_array).ok_or_else(|| LogError::input(path, "no `labels` array"))?;
    let mut out = Vec::new();
    for (i, label) in labels.iter().enumerate() {
        let what = format!("label {i}");
        let Some(shape) = label.get("labelData").and_then(|d| d.get("shape3d")) else { continue }; // EMPTY labels
        let id = label.get("labelId").and_then(Value::as_str).map(str::to_string).unwrap_or_else(|| format!("{}-{i}", kind.as_str()));
        let attrs = attributes(shape.get("attributes"));
        if let Some(frame) = attrs.get("coordinate_frame").and_then(Value::as_str) {
            if frame != "rig" {
                return Err(LogError::input(path, format!("{what}: unsupported coordinate_frame `{frame}` (expected `rig`)")));
            }
        }
        let ts = attrs.get("timestamp").and_then(Value::as_str).and_then(|s| s.parse::<i64>().ok());
        let geometry = if let Some(pl) = shape.get("polyline3d") {
            MapGeometry::Polyline(points(path, pl.get("vertices"), &what)?)
        } else if let Some(pls) = shape.get("polylines3d") {
            // Lanes: left and right edges; stored as one closed polygon (left forward, right back).
            let lines = pls.get("polylines").and_then(Value::as_array).ok_or_else(|| LogError::input(path, format!("{what}: no polylines")))?;
            let mut edges = Vec::new();
            for l in lines {
                edges.push(points(path, l.get("vertices"), &what)?);
            }
            match edges.len() {
                2 => {
                    let mut poly = edges[0].clone();
                    poly.extend(edges[1].iter().rev());
                    MapGeometry::Polygon(poly)
                }
                1 => MapGeometry::Polyline(edges.remove(0)),
                n => {
                    notes.push(format!("{}: {what} has {n} polylines; kept the first", path.display()));
                    MapGeometry::Polyline(edges.into_iter().next().unwrap_or_default())
                }
            }
        } else if let Some(s) = shape.get("surface") {
            MapGeometry::Polygon(points(path, s.get("vertices"), &what)?)
        } else if let Some(c) = shape.get("cuboid3d") {
            MapGeometry::Cuboid(points(path, c.get("vertices"), &what)?)
        } else {
            notes.push(format!("{}: {what} has no supported geometry; skipped", path.display()));
            continue;
        };
        if geometry.vertices().is_empty() {
            continue;
        }
        out.push((ts, MapElement { element_id: id, kind, geometry, attributes: attrs }));
    }
    Ok(out)
}

/// RDS-HQ object types to worldrig categories.
fn category(t: &str) -> String {
    match t.to_ascii_lowercase().as_str() {
        "car" | "automobile" | "vehicle" | "other_vehicle" => "car".into(),
        "truck" | "heavy_truck" | "trailer" => "truck".into(),
        "bus" => "bus".into(),
        "pedestrian" | "person" => "pedestrian".into(),
        "cyclist" | "bicycle" | "rider" | "motorcycle" => "cyclist".into(),
        other => other.to_string(),
    }
}

fn parse_objects(path: &Path, name: &str, bytes: &[u8], t_us: i64, out: &mut Vec<ObjectSample>) -> Result<(), LogError> {
    let doc: Value = serde_json::from_slice(bytes).map_err(|e| LogError::input(path, format!("entry `{name}`: invalid JSON: {e}")))?;
    let map = doc.as_object().ok_or_else(|| LogError::input(path, format!("entry `{name}`: expected an object of tracks")))?;
    for (track, o) in map {
        let bad = |w: &str| LogError::input(path, format!("entry `{name}`, track `{track}`: {w}"));
        let m: Vec<f64> = o
            .get("object_to_world")
            .and_then(Value::as_array)
            .map(|rows| rows.iter().filter_map(Value::as_array).flatten().filter_map(Value::as_f64).collect())
            .unwrap_or_default();
        if m.len() != 16 {
            return Err(bad("object_to_world is not a 4x4 matrix"));
        }
        let pose = pose_from_matrix4(&Matrix4::from_row_slice(&m)).map_err(|e| bad(&e.to_string()))?;
        let lwh: Vec<f64> = o.get("object_lwh").and_then(Value::as_array).map(|a| a.iter().filter_map(Value::as_f64).collect()).unwrap_or_default();
        if lwh.len() != 3 || lwh.iter().any(|v| !(v.is_finite() && *v > 0.0)) {
            return Err(bad("object_lwh is not three positive numbers"));
        }
        let cat = o.get("object_type").and_then(Value::as_str).unwrap_or("unknown");
        out.push(ObjectSample {
            timestamp_us: t_us,
            track_id: track.clone(),
            category: category(cat),
            cuboid: Cuboid { centre_m: Point3::from(pose.translation.vector), size_lwh_m: Vector3::new(lwh[0], lwh[1], lwh[2]), world_from_box: pose.rotation },
        });
    }
    Ok(())
}

/// Captions for a clip: `captions/<clip>.txt` (one per line), `captions/<clip>.json` or
/// `captions.json` (a string, a list of strings, or an object with `caption`/`captions`).
fn find_captions(dir: &Path, clip: &str) -> Result<Vec<String>, LogError> {
    fn from_json(v: &Value) -> Vec<String> {
        match v {
            Value::String(s) => vec![s.clone()],
            Value::Array(a) => a.iter().flat_map(from_json).collect(),
            Value::Object(o) => o.get("captions").or_else(|| o.get("caption")).map(from_json).unwrap_or_default(),
            _ => Vec::new(),
        }
    }
    let txt = dir.join("captions").join(format!("{clip}.txt"));
    if txt.is_file() {
        let text = std::fs::read_to_string(&txt).map_err(|e| LogError::io(&txt, e))?;
        return Ok(text.lines().map(str::trim).filter(|l| !l.is_empty()).map(str::to_string).collect());
    }
    for p in [dir.join("captions").join(format!("{clip}.json")), dir.join("captions.json")] {
        if p.is_file() {
            let text = std::fs::read(&p).map_err(|e| LogError::io(&p, e))?;
            let v: Value = serde_json::from_slice(&text).map_err(|e| LogError::input(&p, format!("invalid JSON: {e}")))?;
            let v = if p.ends_with("captions.json") { v.get(clip).cloned().unwrap_or(v) } else { v };
            return Ok(from_json(&v));
        }
    }
    Ok(Vec::new())
}

fn modality_tar(dir: &Path, folder: &str, clip: &str) -> Option<PathBuf> {
    let p = dir.join(folder).join(format!("{clip}.tar"));
    p.is_file().then_some(p)
}

/// Imports every clip of an RDS-HQ layout at `dir` into a new scene log at `out`.
pub fn import_rds_hq(dir: &Path, out: &Path, opts: &ImportOptions) -> Result<ImportReport, LogError> {
    let clips = list_clips(dir)?;
    let mut report = ImportReport::default();
    let mut writer = SceneLogWriter::create(out, WriterOptions { overwrite: opts.overwrite, ..Default::default() })?;
    for clip in &clips {
        tracing::info!(clip = %clip, "importing");
        import_clip(dir, clip, opts, &mut writer, &mut report)?;
        report.clips.push(clip.clone());
    }
    writer.finish()?;
    Ok(report)
}

fn import_clip(dir: &Path, clip: &str, opts: &ImportOptions, writer: &mut SceneLogWriter, report: &mut ImportReport) -> Result<(), LogError> {
    // Ego poses.
    let pose_tar = dir.join("vehicle_pose").join(format!("{clip}.tar"));
    let mut frames: Vec<(u64, Pose3)> = Vec::new();
    for (name, bytes) in read_tar(&pose_tar)? {
        if !name.ends_with(".vehicle_pose.npy") {
            continue;
        }
        let n = frame_number(clip, &name).ok_or_else(|| LogError::input(&pose_tar, format!("entry `{name}`: no frame number")))?;
        frames.push((n, matrix4(&pose_tar, &name, &bytes)?));
    }
    frames.sort_by_key(|f| f.0);
    if frames.is_empty() {
        return Err(LogError::input(&pose_tar, "no <clip>.<frame>.vehicle_pose.npy entries"));
    }
    if let Some(w) = frames.windows(2).find(|w| w[0].0 == w[1].0) {
        return Err(LogError::input(&pose_tar, format!("frame {} appears twice", w[0].0)));
    }
    let start_us = clip_start_us(clip).unwrap_or(0);
    let t_of = |frame: u64| start_us + (frame as f64 * 1e6 / opts.pose_fps).round() as i64;
    // World frame: the rig at the first pose.
    let first_from_world = frames[0].1.inverse();
    let ts: Vec<i64> = frames.iter().map(|f| t_of(f.0)).collect();
    let poses: Vec<Pose3> = frames.iter().map(|f| first_from_world * f.1).collect();
    let trajectory = Trajectory::new(ts, poses).map_err(|e| LogError::input(&pose_tar, e.to_string()))?;
    report.poses += trajectory.len();

    // Intrinsics.
    let mut intrinsics: BTreeMap<String, Camera> = BTreeMap::new();
    if let Some(p) = modality_tar(dir, "ftheta_intrinsic", clip) {
        for (name, bytes) in read_tar(&p)? {
            let Some(cam) = camera_suffix(&name, ".ftheta_intrinsic.") else { continue };
            let v = npy_f64(&p, &name, &bytes)?;
            intrinsics.insert(cam.to_string(), ftheta_from_values(&p, &name, &v)?);
        }
    }
    if let Some(p) = modality_tar(dir, "pinhole_intrinsic", clip) {
        for (name, bytes) in read_tar(&p)? {
            let Some(cam) = camera_suffix(&name, ".pinhole_intrinsic.") else { continue };
            if intrinsics.contains_key(cam) {
                continue;
            }
            let v = npy_f64(&p, &name, &bytes)?;
            if v.len() != 6 || v[4] <= 0.0 || v[5] <= 0.0 {
                return Err(LogError::input(&p, format!("entry `{name}`: expected fx, fy, cx, cy, w, h")));
            }
            let ph = Pinhole::new(v[4] as u32, v[5] as u32, v[0], v[1], v[2], v[3]);
            ph.validate(cam).map_err(|e| LogError::input(&p, format!("entry `{name}`: {e}")))?;
            intrinsics.insert(cam.to_string(), Camera::Pinhole(ph));
        }
    }
    if intrinsics.is_empty() {
        return Err(LogError::input(&dir.join("ftheta_intrinsic"), format!("no camera intrinsics for clip {clip}")));
    }
    if !opts.cameras.is_empty() {
        for c in &opts.cameras {
            if !intrinsics.contains_key(c) {
                return Err(LogError::input(dir, format!("camera `{c}` requested but clip {clip} has intrinsics only for {}", intrinsics.keys().cloned().collect::<Vec<_>>().join(", "))));
            }
        }
        intrinsics.retain(|k, _| opts.cameras.contains(k));
    }

    // Extrinsics: per-camera poses at the first frame where present, else the calibration rig.
    let mut extrinsics: BTreeMap<String, Pose3> = BTreeMap::new();
    if let Some(p) = modality_tar(dir, "pose", clip) {
        let mut best: BTreeMap<String, (u64, Pose3)> = BTreeMap::new();
        for (name, bytes) in read_tar(&p)? {
            let (Some(n), Some(cam)) = (frame_number(clip, &name), camera_suffix(&name, ".pose.")) else { continue };
            if best.get(cam).is_some_and(|b| b.0 <= n) {
                continue;
            }
            best.insert(cam.to_string(), (n, matrix4(&p, &name, &bytes)?));
        }
        for (cam, (n, world_from_camera)) in best {
            let world_from_rig = frames.iter().find(|f| f.0 == n).map(|f| f.1).ok_or_else(|| LogError::input(&p, format!("camera `{cam}` pose at frame {n} has no vehicle pose")))?;
            extrinsics.insert(cam, world_from_rig.inverse() * world_from_camera);
        }
    }
    let mut from_calibration = Vec::new();
    let mut cameras = Vec::new();
    for (name, model) in intrinsics {
        let rig_from_camera = match extrinsics.get(&name) {
            Some(p) => *p,
            None => {
                let c = opts.calibration.camera(&name).ok_or_else(|| {
                    LogError::input(dir, format!("camera `{name}` of clip {clip} has no pose/ entry and is not in calibration rig `{}`", opts.calibration.name))
                })?;
                from_calibration.push(name.clone());
                c.rig_from_camera
            }
        };
        cameras.push(CameraSpec { name, model, rig_from_camera });
    }
    let mut notes = Vec::new();
    if !from_calibration.is_empty() {
        notes.push(format!(
            "clip {clip}: no per-camera poses (pose/ tar) for {}; rig_from_camera taken from calibration rig `{}` ({})",
            from_calibration.join(", "),
            opts.calibration.name,
            opts.calibration.source
        ));
    }
    // Calibration order (front first), then any other cameras by name.
    let order = |n: &str| opts.calibration.cameras.iter().position(|c| c.name == n).unwrap_or(usize::MAX);
    cameras.sort_by(|a, b| (order(&a.name), &a.name).cmp(&(order(&b.name), &b.name)));
    report.cameras = report.cameras.max(cameras.len());
    let rig = Rig { name: format!("rds-hq:{clip}"), source: format!("RDS-HQ intrinsics of clip {clip}"), cameras };

    // Map.
    let mut map = Vec::new();
    for (folder, kind) in MAP_FOLDERS {
        let Some(p) = modality_tar(dir, folder, clip) else { continue };
        for (name, bytes) in read_tar(&p)? {
            if !name.ends_with(".json") {
                continue;
            }
            let labelled = parse_map_labels(&p, &bytes, kind, &mut notes).map_err(|e| match e {
                LogError::Input { path, message } => LogError::Input { path, message: format!("entry `{name}`: {message}") },
                other => other,
            })?;
            for (ts, mut e) in labelled {
                // Labels are in the rig frame at their timestamp; move them into the world frame.
                let world_from_label = trajectory.pose_at(ts.unwrap_or(trajectory.start_us()));
                if world_from_label != Pose3::identity() {
                    let moved: Vec<Point3<f64>> = e.geometry.vertices().iter().map(|p| world_from_label * p).collect();
                    e.geometry = MapGeometry::from_parts(e.geometry.type_name(), moved).unwrap_or(e.geometry);
                }
                *report.map_elements.entry(kind.as_str()).or_default() += 1;
                map.push(e);
            }
        }
    }
    if map.is_empty() {
        notes.push(format!("clip {clip}: no map labels (3d_* tars) found"));
    }

    // Objects.
    let mut objects = Vec::new();
    match modality_tar(dir, "all_object_info", clip) {
        Some(p) => {
            for (name, bytes) in read_tar(&p)? {
                let Some(n) = frame_number(clip, &name).filter(|_| name.ends_with(".json")) else { continue };
                parse_objects(&p, &name, &bytes, t_of(n), &mut objects)?;
            }
            objects.sort_by(|a, b| (a.timestamp_us, &a.track_id).cmp(&(b.timestamp_us, &b.track_id)));
        }
        None => notes.push(format!("clip {clip}: no all_object_info/ tar; the log has no objects")),
    }
    report.objects += objects.len();

    let mut captions = find_captions(dir, clip)?;
    captions.extend(opts.extra_captions.iter().cloned());
    if captions.is_empty() {
        notes.push(format!("clip {clip}: no captions found (captions/{clip}.txt, captions/{clip}.json or captions.json)"));
    }
    let record = ClipRecord {
        clip_id: clip.to_string(),
        rig_id: rig.name.clone(),
        start_timestamp_us: trajectory.start_us(),
        duration_us: trajectory.duration_us(),
        frame_rate_hz: opts.pose_fps,
        source: Source::Real,
        captions,
        generator: format!("worldrig import rds-hq {}", env!("CARGO_PKG_VERSION")),
        checkpoint_sha256: None,
        seed: None,
        prompt: None,
        trajectory_xyz_m: None,
        notes: (!notes.is_empty()).then(|| notes.join("; ")),
    };
    for n in &notes {
        tracing::warn!("{n}");
    }
    report.notes.extend(notes);
    writer.add_rig(&rig).add_clip(record).add_ego_poses(clip, &trajectory).add_map(clip, map);
    if !objects.is_empty() {
        writer.add_objects(clip, objects);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clip_id_and_entry_names() {
        let clip = "2d23a1f4-c269-46aa-8e7d-1bb595d1e421_2445376400000_2445396400000";
        assert_eq!(clip_start_us(clip), Some(2445376400000));
        assert_eq!(frame_number(clip, &format!("{clip}.000299.vehicle_pose.npy")), Some(299));
        assert_eq!(camera_suffix(&format!("{clip}.ftheta_intrinsic.camera_front_wide_120fov.npy"), ".ftheta_intrinsic."), Some("camera_front_wide_120fov"));
        assert_eq!(camera_suffix(&format!("{clip}.000003.pose.camera_cross_left_120fov.npy"), ".pose."), Some("camera_cross_left_120fov"));
    }

    #[test]
    fn attributes_are_flattened() {
        let v: Value = serde_json::from_str(
            r#"[{"name":"coordinate_frame","text":"rig"},{"name":"width","double":0.3},{"name":"colors","enumsList":{"enumsList":["WHITE","WHITE"]}},{"name":"is_implicit","flag":true}]"#,
        )
        .unwrap();
        let a = attributes(Some(&v));
        assert_eq!(a["coordinate_frame"], "rig");
        assert_eq!(a["width"], 0.3);
        assert_eq!(a["colors"], serde_json::json!(["WHITE", "WHITE"]));
        assert_eq!(a["is_implicit"], true);
    }
}
