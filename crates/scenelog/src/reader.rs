//! Typed reading of scene logs.
//!
//! [`SceneLog::open`] finds the tables; each `read_*` method reads one table into domain types
//! from the `scene` crate. With a strict [`Diag`] the first problem is an error naming its file,
//! table, row and column; with a collecting one (validation) problems are gathered and the bad
//! rows skipped. Frames are streamed with [`SceneLog::frames`], one row group at a time.

use std::collections::BTreeMap;
use std::path::Path;

use nalgebra::{Point3, Vector3};
use worldrig_scene::camera::{FThetaParams, Pinhole, PolyDirection};
use worldrig_scene::pose::{pose_from_parts, quat_from_xyzw};
use worldrig_scene::{Camera, CameraSpec, Cuboid, FTheta, MapElement, MapElementKind, MapGeometry, ObjectSample, Pose3, Rig, SceneError, Trajectory};

use crate::error::{Diag, Issue, Loc, LogError, Rule};
use crate::schema::Table;
use crate::table::{NormBatch, Row, TableFiles, TableReader};

/// Rows per batch for the small tables.
const TABLE_BATCH_ROWS: usize = 8192;
/// Rows per batch for frames (bounded memory: a batch never spans more than one row group).
/// Small batches keep each decoded batch well below the allocator's mmap threshold, so buffers
/// are reused instead of being mapped and zeroed for every batch (4-7x faster on 1 GB of PNG
/// frames; see docs/benchmarks.md).
pub const FRAME_BATCH_ROWS: usize = 8;

/// Encoded image bytes: a zero-copy slice of the decoded Arrow buffer when read from a log
/// (`Vec<u8>` converts into it for writing).
pub type ImageBytes = arrow::buffer::Buffer;

/// Whether a clip was recorded or made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    Real,
    Synthetic,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Real => "real",
            Source::Synthetic => "synthetic",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "real" => Some(Source::Real),
            "synthetic" => Some(Source::Synthetic),
            _ => None,
        }
    }
}

/// One row of the `clips` table.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ClipRecord {
    pub clip_id: String,
    pub rig_id: String,
    pub start_timestamp_us: i64,
    pub duration_us: i64,
    pub frame_rate_hz: f64,
    pub source: Source,
    pub captions: Vec<String>,
    pub generator: String,
    pub checkpoint_sha256: Option<String>,
    pub seed: Option<i64>,
    pub prompt: Option<String>,
    pub trajectory_xyz_m: Option<Vec<f64>>,
    pub notes: Option<String>,
}

/// One row of the `frames` table.
#[derive(Debug, Clone, PartialEq)]
pub struct FrameRecord {
    pub clip_id: String,
    pub camera: String,
    pub frame_index: i64,
    pub timestamp_us: i64,
    /// `png` or `jpeg`.
    pub image_format: String,
    /// Encoded image bytes (empty when read without the image column).
    pub image: ImageBytes,
}

/// A value with the location of the row it came from.
#[derive(Debug, Clone)]
pub struct Located<T> {
    pub loc: Loc,
    pub value: T,
}

fn scene_issue(rule: Rule, loc: &Loc, table: Table, column: &str, e: SceneError) -> Issue {
    Issue::at(rule, loc, table.name(), column, e.to_string())
}

/// Reads a pose from seven columns `<prefix>tx_m .. <prefix>qw`, reporting problems.
fn read_pose(r: &mut Row<'_>, table: Table, prefix: &str, diag_col_q: &str) -> Result<Option<Pose3>, LogError> {
    let t = [r.f64_req(&format!("{prefix}tx_m"))?, r.f64_req(&format!("{prefix}ty_m"))?, r.f64_req(&format!("{prefix}tz_m"))?];
    let q = read_quat_values(r, prefix)?;
    let (Some(tx), Some(ty), Some(tz), Some(q)) = (t[0], t[1], t[2], q) else { return Ok(None) };
    match pose_from_parts([tx, ty, tz], q) {
        Ok(p) => Ok(Some(p)),
        Err(e) => {
            r.report(Rule::NonUnitQuaternion, diag_col_q, e.to_string())?;
            let _ = table;
            Ok(None)
        }
    }
}

fn read_quat_values(r: &mut Row<'_>, prefix: &str) -> Result<Option<[f64; 4]>, LogError> {
    let q = [
        r.f64_req(&format!("{prefix}qx"))?,
        r.f64_req(&format!("{prefix}qy"))?,
        r.f64_req(&format!("{prefix}qz"))?,
        r.f64_req(&format!("{prefix}qw"))?,
    ];
    match q {
        [Some(x), Some(y), Some(z), Some(w)] => Ok(Some([x, y, z, w])),
        _ => Ok(None),
    }
}

/// Per-key monotonicity checker used for pose, object and frame timestamps.
#[derive(Default)]
pub(crate) struct Monotonic {
    last: BTreeMap<String, i64>,
}

impl Monotonic {
    /// Checks `value` against the previous value for `key`; reports and returns false on failure.
    pub(crate) fn check(
        &mut self,
        r: &mut Row<'_>,
        key: &str,
        column: &str,
        value: i64,
        allow_equal: bool,
    ) -> Result<bool, LogError> {
        if let Some(&prev) = self.last.get(key) {
            if value == prev && !allow_equal {
                r.report(Rule::DuplicateTimestamp, column, format!("{column} {value} repeats the previous row of `{key}`"))?;
                return Ok(false);
            }
            if value < prev {
                r.report(Rule::NonMonotonicTimestamp, column, format!("{column} {value} comes after {prev} for `{key}`"))?;
                return Ok(false);
            }
        }
        self.last.insert(key.to_string(), value);
        Ok(true)
    }
}

/// Every table but the frames: what the small tables of a log hold, by clip.
#[derive(Debug, Clone)]
pub struct Labels {
    pub rigs: BTreeMap<String, Located<Rig>>,
    pub clips: Vec<Located<ClipRecord>>,
    pub poses: BTreeMap<String, (Loc, Trajectory)>,
    pub objects: BTreeMap<String, Vec<Located<ObjectSample>>>,
    pub map: BTreeMap<String, Vec<Located<MapElement>>>,
}

/// An opened scene log.
#[derive(Debug, Clone)]
pub struct SceneLog {
    files: TableFiles,
}

impl SceneLog {
    /// Finds the log's tables; fails when `path` is not a directory.
    pub fn open(path: &Path) -> Result<Self, LogError> {
        Ok(Self { files: TableFiles::discover(path)? })
    }

    pub fn root(&self) -> &Path {
        &self.files.root
    }

    pub fn files(&self) -> &TableFiles {
        &self.files
    }

    /// Reports required tables that have no files.
    pub fn check_required_tables(&self, diag: &mut Diag) -> Result<(), LogError> {
        for t in Table::ALL {
            if t.required() && !self.files.has(t) {
                let expected = self.files.root.join(format!("{}.parquet", t.name()));
                diag.report(Issue::file(
                    Rule::MissingTable,
                    &expected,
                    Some(t.name()),
                    format!("required table `{}` is missing (no {0}.parquet and no {0}/*.parquet)", t.name()),
                ))?;
            }
        }
        Ok(())
    }

    fn for_each_batch(
        &self,
        table: Table,
        columns: Option<&[&str]>,
        batch_rows: usize,
        diag: &mut Diag,
        mut f: impl FnMut(&NormBatch, &mut Diag) -> Result<(), LogError>,
    ) -> Result<(), LogError> {
        let mut reader = TableReader::new(&self.files, table, columns, batch_rows);
        while let Some(batch) = reader.next_batch(diag)? {
            f(&batch, diag)?;
        }
        Ok(())
    }

    /// Checks the required tables are present and reads every table but the frames.
    pub fn read_labels(&self, diag: &mut Diag) -> Result<Labels, LogError> {
        self.check_required_tables(diag)?;
        Ok(Labels {
            rigs: self.read_rigs(diag)?,
            clips: self.read_clips(diag)?,
            poses: self.read_ego_poses(diag)?,
            objects: self.read_objects(diag)?,
            map: self.read_map(diag)?,
        })
    }

    /// The rigs, by `rig_id`.
    pub fn read_rigs(&self, diag: &mut Diag) -> Result<BTreeMap<String, Located<Rig>>, LogError> {
        let mut rigs: BTreeMap<String, Located<Rig>> = BTreeMap::new();
        self.for_each_batch(Table::Rig, None, TABLE_BATCH_ROWS, diag, |b, diag| {
            for i in 0..b.num_rows {
                let mut r = b.row(i, diag);
                let Some(spec_and_rig) = read_camera_row(&mut r)? else { continue };
                let (rig_id, spec) = spec_and_rig;
                let loc = r.loc();
                let entry = rigs.entry(rig_id.clone()).or_insert_with(|| Located {
                    loc: loc.clone(),
                    value: Rig { name: rig_id.clone(), source: String::new(), cameras: Vec::new() },
                });
                if entry.value.camera(&spec.name).is_some() {
                    r.report(Rule::DuplicateKey, "camera", format!("camera `{}` appears twice in rig `{rig_id}`", spec.name))?;
                    continue;
                }
                entry.value.cameras.push(spec);
            }
            Ok(())
        })?;
        Ok(rigs)
    }

    /// The clips, in table order.
    pub fn read_clips(&self, diag: &mut Diag) -> Result<Vec<Located<ClipRecord>>, LogError> {
        let mut clips: Vec<Located<ClipRecord>> = Vec::new();
        let mut seen = BTreeMap::new();
        self.for_each_batch(Table::Clips, None, TABLE_BATCH_ROWS, diag, |b, diag| {
            for i in 0..b.num_rows {
                let mut r = b.row(i, diag);
                let clip_id = r.str_req("clip_id")?;
                let rig_id = r.str_req("rig_id")?;
                let start = r.i64_req("start_timestamp_us")?;
                let duration = r.i64_req("duration_us")?;
                let rate = r.f64_req("frame_rate_hz")?;
                let source = r.str_req("source")?;
                let generator = r.str_req("generator")?;
                let captions = r.str_list("captions")?.unwrap_or_default();
                let trajectory = r.f64_list("trajectory_xyz_m", false)?;
                let seed = r.i64_opt("seed");
                let (Some(clip_id), Some(rig_id), Some(start), Some(duration), Some(rate), Some(source), Some(generator)) =
                    (clip_id, rig_id, start, duration, rate, source, generator)
                else {
                    continue;
                };
                let Some(source) = Source::parse(source) else {
                    r.report(Rule::BadValue, "source", format!("`{source}` is not `real` or `synthetic`"))?;
                    continue;
                };
                if duration < 0 {
                    r.report(Rule::BadValue, "duration_us", format!("negative duration {duration}"))?;
                    continue;
                }
                if rate <= 0.0 {
                    r.report(Rule::BadValue, "frame_rate_hz", format!("frame rate {rate} must be > 0"))?;
                    continue;
                }
                if seed.is_some_and(|s| s < 0) {
                    r.report(Rule::BadValue, "seed", "seed must be >= 0")?;
                    continue;
                }
                if trajectory.as_ref().is_some_and(|t| t.len() % 3 != 0) {
                    r.report(Rule::BadValue, "trajectory_xyz_m", "length is not a multiple of 3")?;
                    continue;
                }
                if let Some(prev) = seen.insert(clip_id.to_string(), r.loc()) {
                    r.report(Rule::DuplicateKey, "clip_id", format!("clip `{clip_id}` already defined at row {}", prev.row))?;
                    continue;
                }
                let value = ClipRecord {
                    clip_id: clip_id.into(),
                    rig_id: rig_id.into(),
                    start_timestamp_us: start,
                    duration_us: duration,
                    frame_rate_hz: rate,
                    source,
                    captions,
                    generator: generator.into(),
                    checkpoint_sha256: r.str_opt("checkpoint_sha256").map(Into::into),
                    seed,
                    prompt: r.str_opt("prompt").map(Into::into),
                    trajectory_xyz_m: trajectory,
                    notes: r.str_opt("notes").map(Into::into),
                };
                clips.push(Located { loc: r.loc(), value });
            }
            Ok(())
        })?;
        Ok(clips)
    }

    /// Ego trajectories by clip id. Timestamps must increase strictly within a clip.
    pub fn read_ego_poses(&self, diag: &mut Diag) -> Result<BTreeMap<String, (Loc, Trajectory)>, LogError> {
        let mut acc: BTreeMap<String, (Loc, Vec<i64>, Vec<Pose3>)> = BTreeMap::new();
        let mut mono = Monotonic::default();
        self.for_each_batch(Table::EgoPoses, None, TABLE_BATCH_ROWS, diag, |b, diag| {
            for i in 0..b.num_rows {
                let mut r = b.row(i, diag);
                let clip = r.str_req("clip_id")?;
                let t = r.i64_req("timestamp_us")?;
                let pose = read_pose(&mut r, Table::EgoPoses, "world_from_rig_", "world_from_rig_qw")?;
                let (Some(clip), Some(t), Some(pose)) = (clip, t, pose) else { continue };
                if !mono.check(&mut r, clip, "timestamp_us", t, false)? {
                    continue;
                }
                let e = acc.entry(clip.to_string()).or_insert_with(|| (r.loc(), Vec::new(), Vec::new()));
                e.1.push(t);
                e.2.push(pose);
            }
            Ok(())
        })?;
        let mut out = BTreeMap::new();
        for (clip, (loc, ts, poses)) in acc {
            // Monotonicity was enforced row by row, so construction cannot fail.
            match Trajectory::new(ts, poses) {
                Ok(tr) => {
                    out.insert(clip, (loc, tr));
                }
                Err(e) => diag.report(scene_issue(Rule::NonMonotonicTimestamp, &loc, Table::EgoPoses, "timestamp_us", e))?,
            }
        }
        Ok(out)
    }

    /// Objects by clip id.
    pub fn read_objects(&self, diag: &mut Diag) -> Result<BTreeMap<String, Vec<Located<ObjectSample>>>, LogError> {
        let mut out: BTreeMap<String, Vec<Located<ObjectSample>>> = BTreeMap::new();
        if !self.files.has(Table::Objects) {
            return Ok(out);
        }
        let mut mono = Monotonic::default();
        self.for_each_batch(Table::Objects, None, TABLE_BATCH_ROWS, diag, |b, diag| {
            for i in 0..b.num_rows {
                let mut r = b.row(i, diag);
                let clip = r.str_req("clip_id")?;
                let t = r.i64_req("timestamp_us")?;
                let track = r.str_req("track_id")?;
                let category = r.str_req("category")?;
                let c = [r.f64_req("centre_x_m")?, r.f64_req("centre_y_m")?, r.f64_req("centre_z_m")?];
                let s = [r.f64_req("length_m")?, r.f64_req("width_m")?, r.f64_req("height_m")?];
                let q = read_quat_values(&mut r, "")?;
                let (Some(clip), Some(t), Some(track), Some(category), [Some(cx), Some(cy), Some(cz)], [Some(l), Some(w), Some(h)], Some(q)) =
                    (clip, t, track, category, c, s, q)
                else {
                    continue;
                };
                if l <= 0.0 || w <= 0.0 || h <= 0.0 {
                    let col = if l <= 0.0 { "length_m" } else if w <= 0.0 { "width_m" } else { "height_m" };
                    r.report(Rule::BadValue, col, format!("object size ({l}, {w}, {h}) must be positive"))?;
                    continue;
                }
                let q = match quat_from_xyzw(q) {
                    Ok(q) => q,
                    Err(e) => {
                        r.report(Rule::NonUnitQuaternion, "qw", e.to_string())?;
                        continue;
                    }
                };
                // Several objects share a timestamp: time must not go backwards per track.
                if !mono.check(&mut r, &format!("{clip}/{track}"), "timestamp_us", t, false)? {
                    continue;
                }
                let value = ObjectSample {
                    timestamp_us: t,
                    track_id: track.into(),
                    category: category.into(),
                    cuboid: Cuboid { centre_m: Point3::new(cx, cy, cz), size_lwh_m: Vector3::new(l, w, h), world_from_box: q },
                };
                out.entry(clip.to_string()).or_default().push(Located { loc: r.loc(), value });
            }
            Ok(())
        })?;
        Ok(out)
    }

    /// Map elements by clip id.
    pub fn read_map(&self, diag: &mut Diag) -> Result<BTreeMap<String, Vec<Located<MapElement>>>, LogError> {
        let mut out: BTreeMap<String, Vec<Located<MapElement>>> = BTreeMap::new();
        if !self.files.has(Table::Map) {
            return Ok(out);
        }
        let mut seen: BTreeMap<(String, String), u64> = BTreeMap::new();
        self.for_each_batch(Table::Map, None, TABLE_BATCH_ROWS, diag, |b, diag| {
            for i in 0..b.num_rows {
                let mut r = b.row(i, diag);
                let clip = r.str_req("clip_id")?;
                let id = r.str_req("element_id")?;
                let kind = r.str_req("kind")?;
                let geometry = r.str_req("geometry")?;
                let verts = r.f64_list("vertices_xyz_m", true)?;
                let (Some(clip), Some(id), Some(kind), Some(geometry), Some(verts)) = (clip, id, kind, geometry, verts) else { continue };
                let Some(kind) = MapElementKind::parse(kind) else {
                    r.report(Rule::BadValue, "kind", format!("unknown map element kind `{kind}`"))?;
                    continue;
                };
                if verts.is_empty() || verts.len() % 3 != 0 {
                    r.report(Rule::BadValue, "vertices_xyz_m", format!("{} values is not a positive multiple of 3", verts.len()))?;
                    continue;
                }
                let points: Vec<Point3<f64>> = verts.chunks_exact(3).map(|c| Point3::new(c[0], c[1], c[2])).collect();
                let Some(geometry) = MapGeometry::from_parts(geometry, points) else {
                    r.report(Rule::BadValue, "geometry", format!("unknown geometry `{geometry}` (polyline, polygon, cuboid)"))?;
                    continue;
                };
                let attributes = match r.str_opt("attributes_json") {
                    None => serde_json::Map::new(),
                    Some(text) => match serde_json::from_str::<serde_json::Value>(text) {
                        Ok(serde_json::Value::Object(m)) => m,
                        Ok(_) => {
                            r.report(Rule::BadValue, "attributes_json", "not a JSON object")?;
                            continue;
                        }
                        Err(e) => {
                            r.report(Rule::BadValue, "attributes_json", format!("invalid JSON: {e}"))?;
                            continue;
                        }
                    },
                };
                if let Some(prev) = seen.insert((clip.to_string(), id.to_string()), r.loc().row) {
                    r.report(Rule::DuplicateKey, "element_id", format!("element `{id}` of clip `{clip}` already defined at row {prev}"))?;
                    continue;
                }
                let value = MapElement { element_id: id.into(), kind, geometry, attributes };
                out.entry(clip.to_string()).or_default().push(Located { loc: r.loc(), value });
            }
            Ok(())
        })?;
        Ok(out)
    }

    /// Streams frames one batch (at most [`FRAME_BATCH_ROWS`] rows, never more than a row group)
    /// at a time. With `with_images == false` the image column is not read at all.
    pub fn frames(&self, with_images: bool) -> FrameStream<'_> {
        let cols: &[&str] = if with_images {
            &["clip_id", "camera", "frame_index", "timestamp_us", "image_format", "image"]
        } else {
            &["clip_id", "camera", "frame_index", "timestamp_us", "image_format"]
        };
        FrameStream { reader: TableReader::new(&self.files, Table::Frames, Some(cols), FRAME_BATCH_ROWS), with_images }
    }
}

/// Reads one `rig` row into a camera; `Ok(None)` when the row had problems (already reported).
fn read_camera_row(r: &mut Row<'_>) -> Result<Option<(String, CameraSpec)>, LogError> {
    let rig_id = r.str_req("rig_id")?;
    let camera = r.str_req("camera")?;
    let model = r.str_req("model")?;
    let width = r.i32_req("width_px")?;
    let height = r.i32_req("height_px")?;
    let cx = r.f64_req("cx_px")?;
    let cy = r.f64_req("cy_px")?;
    let pose = read_pose(r, Table::Rig, "rig_from_camera_", "rig_from_camera_qw")?;
    let (Some(rig_id), Some(camera), Some(model), Some(width), Some(height), Some(cx), Some(cy), Some(pose)) =
        (rig_id, camera, model, width, height, cx, cy, pose)
    else {
        return Ok(None);
    };
    if width <= 0 || height <= 0 {
        let col = if width <= 0 { "width_px" } else { "height_px" };
        r.report(Rule::BadValue, col, format!("image size {width}x{height} must be positive"))?;
        return Ok(None);
    }
    let (w, h) = (width as u32, height as u32);
    let cam = match model {
        "pinhole" => {
            let fx = r.f64_req("fx_px")?;
            let fy = r.f64_req("fy_px")?;
            let dist = r.f64_list("distortion", false)?;
            let (Some(fx), Some(fy)) = (fx, fy) else { return Ok(None) };
            let distortion = match dist {
                None => None,
                Some(d) if d.len() <= 5 => {
                    let mut k = [0.0; 5];
                    k[..d.len()].copy_from_slice(&d);
                    Some(k)
                }
                Some(d) => {
                    r.report(Rule::BadValue, "distortion", format!("{} coefficients; at most 5 (k1 k2 p1 p2 k3)", d.len()))?;
                    return Ok(None);
                }
            };
            let p = Pinhole { width: w, height: h, fx, fy, cx, cy, distortion };
            if let Err(e) = p.validate(camera) {
                r.report(Rule::BadValue, "fx_px", e.to_string())?;
                return Ok(None);
            }
            Camera::Pinhole(p)
        }
        "ftheta" => {
            let poly = r.f64_list("poly", true)?;
            let dir = r.str_req("poly_direction")?;
            let c = r.f64_opt("linear_c")?.unwrap_or(1.0);
            let d = r.f64_opt("linear_d")?.unwrap_or(0.0);
            let e = r.f64_opt("linear_e")?.unwrap_or(0.0);
            let (Some(poly), Some(dir)) = (poly, dir) else { return Ok(None) };
            let poly_direction = match dir {
                "backward" => PolyDirection::Backward,
                "forward" => PolyDirection::Forward,
                other => {
                    r.report(Rule::BadValue, "poly_direction", format!("`{other}` is not `backward` or `forward`"))?;
                    return Ok(None);
                }
            };
            match FTheta::new(FThetaParams { width: w, height: h, cx, cy, poly, poly_direction, linear_cde: [c, d, e] }) {
                Ok(f) => Camera::Ftheta(f),
                Err(e) => {
                    r.report(Rule::BadValue, "poly", e.to_string())?;
                    return Ok(None);
                }
            }
        }
        other => {
            r.report(Rule::BadValue, "model", format!("unknown camera model `{other}` (pinhole, ftheta)"))?;
            return Ok(None);
        }
    };
    Ok(Some((rig_id.to_string(), CameraSpec { name: camera.to_string(), model: cam, rig_from_camera: pose })))
}

/// Streaming frame reader; see [`SceneLog::frames`].
pub struct FrameStream<'a> {
    reader: TableReader<'a>,
    with_images: bool,
}

impl FrameStream<'_> {
    /// The next batch of frames with their locations, or `None` at the end.
    pub fn next_batch(&mut self, diag: &mut Diag) -> Result<Option<Vec<Located<FrameRecord>>>, LogError> {
        let Some(b) = self.reader.next_batch(diag)? else { return Ok(None) };
        let mut out = Vec::with_capacity(b.num_rows);
        for i in 0..b.num_rows {
            let mut r = b.row(i, diag);
            let clip = r.str_req("clip_id")?;
            let camera = r.str_req("camera")?;
            let idx = r.i64_req("frame_index")?;
            let t = r.i64_req("timestamp_us")?;
            let fmt = r.str_req("image_format")?;
            let image = if self.with_images { r.buffer_req("image")? } else { Some(ImageBytes::from(Vec::<u8>::new())) };
            let (Some(clip), Some(camera), Some(idx), Some(t), Some(fmt), Some(image)) = (clip, camera, idx, t, fmt, image) else { continue };
            if fmt != "png" && fmt != "jpeg" {
                r.report(Rule::BadValue, "image_format", format!("`{fmt}` is not `png` or `jpeg`"))?;
                continue;
            }
            if idx < 0 {
                r.report(Rule::BadValue, "frame_index", format!("negative frame index {idx}"))?;
                continue;
            }
            out.push(Located {
                loc: r.loc(),
                value: FrameRecord { clip_id: clip.into(), camera: camera.into(), frame_index: idx, timestamp_us: t, image_format: fmt.into(), image },
            });
        }
        Ok(Some(out))
    }

    /// Reads every remaining frame (tests and small logs only: this holds all images in memory).
    pub fn collect_all(mut self, diag: &mut Diag) -> Result<Vec<FrameRecord>, LogError> {
        let mut all = Vec::new();
        while let Some(batch) = self.next_batch(diag)? {
            all.extend(batch.into_iter().map(|l| l.value));
        }
        Ok(all)
    }
}
