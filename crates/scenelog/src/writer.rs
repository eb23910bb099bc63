//! Writing scene logs.
//!
//! [`SceneLogWriter`] writes into a temporary sibling directory and renames it into place only in
//! [`SceneLogWriter::finish`], so a failed or interrupted write leaves nothing half-written at the
//! destination. Frames are written as they arrive, in row groups of at most
//! [`WriterOptions::frames_per_row_group`] frames; the small tables are written at the end.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{
    ArrayRef, BinaryBuilder, Float64Builder, Int32Builder, Int64Builder, ListBuilder, RecordBatch, StringBuilder,
};
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::metadata::KeyValue;
use parquet::file::properties::WriterProperties;
use parquet::schema::types::ColumnPath;
use worldrig_scene::pose::PoseRecord;
use worldrig_scene::{Camera, MapElement, ObjectSample, Rig, Trajectory};

use crate::error::LogError;
use crate::reader::{ClipRecord, FrameRecord};
use crate::schema::{Table, FORMAT_VERSION, META_TABLE, META_VERSION, META_WRITER};

/// How a log is written.
#[derive(Debug, Clone)]
pub struct WriterOptions {
    /// Frames per Parquet row group (readers hold at most one row group of frames).
    pub frames_per_row_group: usize,
    /// Start a new `frames/part-NNNNN.parquet` shard after this many image bytes.
    pub max_frames_bytes_per_file: u64,
    /// zstd level for the non-image columns (images are already compressed and stored as is).
    pub zstd_level: i32,
    /// Replace an existing log at the destination (atomically, at `finish`).
    pub overwrite: bool,
}

impl Default for WriterOptions {
    fn default() -> Self {
        Self { frames_per_row_group: 64, max_frames_bytes_per_file: 1 << 30, zstd_level: 3, overwrite: false }
    }
}

/// Writes one scene log; see the module docs.
pub struct SceneLogWriter {
    dest: PathBuf,
    tmp: PathBuf,
    opts: WriterOptions,
    rigs: Vec<Rig>,
    clips: Vec<ClipRecord>,
    poses: Vec<(String, Trajectory)>,
    objects: Vec<(String, Vec<ObjectSample>)>,
    map: Vec<(String, Vec<MapElement>)>,
    frames: Option<FramesShard>,
    frames_part: usize,
    frame_buf: Vec<FrameRecord>,
    finished: bool,
}

struct FramesShard {
    writer: ArrowWriter<File>,
    path: PathBuf,
    bytes: u64,
}

fn props(table: Table, zstd_level: i32) -> Result<WriterProperties, LogError> {
    let level = ZstdLevel::try_new(zstd_level).map_err(|e| LogError::write(Path::new("<options>"), e))?;
    let mut b = WriterProperties::builder()
        .set_compression(Compression::ZSTD(level))
        .set_created_by(format!("worldrig {}", env!("CARGO_PKG_VERSION")))
        .set_key_value_metadata(Some(vec![
            KeyValue::new(META_VERSION.to_string(), FORMAT_VERSION.to_string()),
            KeyValue::new(META_TABLE.to_string(), table.name().to_string()),
            KeyValue::new(META_WRITER.to_string(), format!("worldrig {}", env!("CARGO_PKG_VERSION"))),
        ]));
    if table == Table::Frames {
        let image = ColumnPath::from("image");
        b = b
            .set_column_compression(image.clone(), Compression::UNCOMPRESSED)
            .set_column_dictionary_enabled(image.clone(), false)
            .set_column_statistics_enabled(image, parquet::file::properties::EnabledStatistics::None);
    }
    Ok(b.build())
}

fn new_writer(path: &Path, table: Table, zstd_level: i32) -> Result<ArrowWriter<File>, LogError> {
    let file = File::create(path).map_err(|e| LogError::io(path, e))?;
    ArrowWriter::try_new(file, table.schema(), Some(props(table, zstd_level)?)).map_err(|e| LogError::write(path, e))
}

impl SceneLogWriter {
    /// Starts a log at `dest` (which must not exist unless `overwrite`).
    pub fn create(dest: &Path, opts: WriterOptions) -> Result<Self, LogError> {
        if dest.exists() && !opts.overwrite {
            return Err(LogError::write(dest, "destination exists (pass overwrite to replace it)"));
        }
        let name = dest.file_name().ok_or_else(|| LogError::write(dest, "destination has no file name"))?.to_string_lossy();
        let parent = match dest.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        std::fs::create_dir_all(&parent).map_err(|e| LogError::io(&parent, e))?;
        let tmp = parent.join(format!(".{name}.tmp-{}", std::process::id()));
        if tmp.exists() {
            std::fs::remove_dir_all(&tmp).map_err(|e| LogError::io(&tmp, e))?;
        }
        std::fs::create_dir_all(&tmp).map_err(|e| LogError::io(&tmp, e))?;
        Ok(Self {
            dest: dest.to_path_buf(),
            tmp,
            opts,
            rigs: Vec::new(),
            clips: Vec::new(),
            poses: Vec::new(),
            objects: Vec::new(),
            map: Vec::new(),
            frames: None,
            frames_part: 0,
            frame_buf: Vec::new(),
            finished: false,
        })
    }

    pub fn add_rig(&mut self, rig: &Rig) -> &mut Self {
        self.rigs.push(rig.clone());
        self
    }
    pub fn add_clip(&mut self, clip: ClipRecord) -> &mut Self {
        self.clips.push(clip);
        self
    }
    pub fn add_ego_poses(&mut self, clip_id: &str, trajectory: &Trajectory) -> &mut Self {
        self.poses.push((clip_id.to_string(), trajectory.clone()));
        self
    }
    pub fn add_objects(&mut self, clip_id: &str, objects: Vec<ObjectSample>) -> &mut Self {
        self.objects.push((clip_id.to_string(), objects));
        self
    }
    pub fn add_map(&mut self, clip_id: &str, elements: Vec<MapElement>) -> &mut Self {
        self.map.push((clip_id.to_string(), elements));
        self
    }

    /// Buffers a frame; a full row group is written out immediately.
    pub fn add_frame(&mut self, frame: FrameRecord) -> Result<(), LogError> {
        self.frame_buf.push(frame);
        if self.frame_buf.len() >= self.opts.frames_per_row_group {
            self.flush_frames()?;
        }
        Ok(())
    }

    fn flush_frames(&mut self) -> Result<(), LogError> {
        if self.frame_buf.is_empty() {
            return Ok(());
        }
        let batch_bytes: u64 = self.frame_buf.iter().map(|f| f.image.len() as u64).sum();
        let roll = self.frames.as_ref().is_some_and(|s| s.bytes > 0 && s.bytes + batch_bytes > self.opts.max_frames_bytes_per_file);
        if roll {
            if let Some(s) = self.frames.take() {
                s.writer.close().map_err(|e| LogError::write(&s.path, e))?;
            }
        }
        if self.frames.is_none() {
            let dir = self.tmp.join(Table::Frames.name());
            std::fs::create_dir_all(&dir).map_err(|e| LogError::io(&dir, e))?;
            let path = dir.join(format!("part-{:05}.parquet", self.frames_part));
            self.frames_part += 1;
            let writer = new_writer(&path, Table::Frames, self.opts.zstd_level)?;
            self.frames = Some(FramesShard { writer, path, bytes: 0 });
        }
        let batch = frames_batch(&self.frame_buf)?;
        self.frame_buf.clear();
        if let Some(s) = self.frames.as_mut() {
            s.writer.write(&batch).map_err(|e| LogError::write(&s.path, e))?;
            // One write call per row group keeps row groups at frames_per_row_group frames.
            s.writer.flush().map_err(|e| LogError::write(&s.path, e))?;
            s.bytes += batch_bytes;
        }
        Ok(())
    }

    fn write_table(&self, table: Table, batch: RecordBatch) -> Result<(), LogError> {
        let path = self.tmp.join(format!("{}.parquet", table.name()));
        let mut w = new_writer(&path, table, self.opts.zstd_level)?;
        w.write(&batch).map_err(|e| LogError::write(&path, e))?;
        w.close().map_err(|e| LogError::write(&path, e))?;
        Ok(())
    }

    /// Writes the remaining tables and moves the log into place.
    pub fn finish(mut self) -> Result<PathBuf, LogError> {
        self.flush_frames()?;
        if let Some(s) = self.frames.take() {
            s.writer.close().map_err(|e| LogError::write(&s.path, e))?;
        }
        self.write_table(Table::Rig, rig_batch(&self.rigs)?)?;
        self.write_table(Table::Clips, clips_batch(&self.clips)?)?;
        self.write_table(Table::EgoPoses, poses_batch(&self.poses)?)?;
        if !self.objects.is_empty() {
            self.write_table(Table::Objects, objects_batch(&self.objects)?)?;
        }
        if !self.map.is_empty() {
            self.write_table(Table::Map, map_batch(&self.map)?)?;
        }
        let dest = self.dest.clone();
        if dest.exists() {
            // overwrite: move the old log aside first so the swap is quick and recoverable.
            let old = self.tmp.with_extension("old");
            std::fs::rename(&dest, &old).map_err(|e| LogError::io(&dest, e))?;
            std::fs::rename(&self.tmp, &dest).map_err(|e| LogError::io(&dest, e))?;
            std::fs::remove_dir_all(&old).map_err(|e| LogError::io(&old, e))?;
        } else {
            std::fs::rename(&self.tmp, &dest).map_err(|e| LogError::io(&dest, e))?;
        }
        self.finished = true;
        Ok(dest)
    }
}

impl Drop for SceneLogWriter {
    fn drop(&mut self) {
        if !self.finished {
            // Abandoned or failed: leave nothing behind.
            let _ = std::fs::remove_dir_all(&self.tmp);
        }
    }
}

fn batch(table: Table, columns: Vec<ArrayRef>) -> Result<RecordBatch, LogError> {
    RecordBatch::try_new(table.schema(), columns).map_err(|e| LogError::write(Path::new(table.name()), e))
}

fn f64_list_builder() -> ListBuilder<Float64Builder> {
    ListBuilder::new(Float64Builder::new())
}

fn frames_batch(frames: &[FrameRecord]) -> Result<RecordBatch, LogError> {
    let mut clip = StringBuilder::new();
    let mut cam = StringBuilder::new();
    let mut idx = Int64Builder::new();
    let mut ts = Int64Builder::new();
    let mut fmt = StringBuilder::new();
    let total: usize = frames.iter().map(|f| f.image.len()).sum();
    let mut img = BinaryBuilder::with_capacity(frames.len(), total);
    for f in frames {
        clip.append_value(&f.clip_id);
        cam.append_value(&f.camera);
        idx.append_value(f.frame_index);
        ts.append_value(f.timestamp_us);
        fmt.append_value(&f.image_format);
        img.append_value(&f.image);
    }
    batch(
        Table::Frames,
        vec![Arc::new(clip.finish()), Arc::new(cam.finish()), Arc::new(idx.finish()), Arc::new(ts.finish()), Arc::new(fmt.finish()), Arc::new(img.finish())],
    )
}

/// Seven pose columns (tx, ty, tz, qx, qy, qz, qw).
struct PoseCols([Float64Builder; 7]);

impl PoseCols {
    fn new() -> Self {
        Self(std::array::from_fn(|_| Float64Builder::new()))
    }
    fn push(&mut self, r: &PoseRecord) {
        let v = [r.translation_m[0], r.translation_m[1], r.translation_m[2], r.rotation_xyzw[0], r.rotation_xyzw[1], r.rotation_xyzw[2], r.rotation_xyzw[3]];
        for (b, x) in self.0.iter_mut().zip(v) {
            b.append_value(x);
        }
    }
    fn finish(self) -> Vec<ArrayRef> {
        self.0.into_iter().map(|mut b| Arc::new(b.finish()) as ArrayRef).collect()
    }
}

fn rig_batch(rigs: &[Rig]) -> Result<RecordBatch, LogError> {
    let mut rig_id = StringBuilder::new();
    let mut camera = StringBuilder::new();
    let mut model = StringBuilder::new();
    let mut width = Int32Builder::new();
    let mut height = Int32Builder::new();
    let mut cx = Float64Builder::new();
    let mut cy = Float64Builder::new();
    let mut fx = Float64Builder::new();
    let mut fy = Float64Builder::new();
    let mut dist = f64_list_builder();
    let mut poly = f64_list_builder();
    let mut dir = StringBuilder::new();
    let mut lc = Float64Builder::new();
    let mut ld = Float64Builder::new();
    let mut le = Float64Builder::new();
    let mut pose = PoseCols::new();
    for rig in rigs {
        for c in &rig.cameras {
            rig_id.append_value(&rig.name);
            camera.append_value(&c.name);
            model.append_value(c.model.kind());
            match &c.model {
                Camera::Pinhole(p) => {
                    width.append_value(p.width as i32);
                    height.append_value(p.height as i32);
                    cx.append_value(p.cx);
                    cy.append_value(p.cy);
                    fx.append_value(p.fx);
                    fy.append_value(p.fy);
                    match p.distortion {
                        Some(d) => dist.append_value(d.iter().map(|&v| Some(v))),
                        None => dist.append_null(),
                    }
                    poly.append_null();
                    dir.append_null();
                    lc.append_null();
                    ld.append_null();
                    le.append_null();
                }
                Camera::Ftheta(f) => {
                    let p = f.params();
                    width.append_value(p.width as i32);
                    height.append_value(p.height as i32);
                    cx.append_value(p.cx);
                    cy.append_value(p.cy);
                    fx.append_null();
                    fy.append_null();
                    dist.append_null();
                    poly.append_value(p.poly.iter().map(|&v| Some(v)));
                    dir.append_value(match p.poly_direction {
                        worldrig_scene::PolyDirection::Backward => "backward",
                        worldrig_scene::PolyDirection::Forward => "forward",
                    });
                    // The identity linear term is stored as nulls (the documented default).
                    if p.linear_cde == [1.0, 0.0, 0.0] {
                        lc.append_null();
                        ld.append_null();
                        le.append_null();
                    } else {
                        lc.append_value(p.linear_cde[0]);
                        ld.append_value(p.linear_cde[1]);
                        le.append_value(p.linear_cde[2]);
                    }
                }
            }
            pose.push(&PoseRecord::from_pose(&c.rig_from_camera));
        }
    }
    let mut cols: Vec<ArrayRef> = vec![
        Arc::new(rig_id.finish()),
        Arc::new(camera.finish()),
        Arc::new(model.finish()),
        Arc::new(width.finish()),
        Arc::new(height.finish()),
        Arc::new(cx.finish()),
        Arc::new(cy.finish()),
        Arc::new(fx.finish()),
        Arc::new(fy.finish()),
        Arc::new(dist.finish()),
        Arc::new(poly.finish()),
        Arc::new(dir.finish()),
        Arc::new(lc.finish()),
        Arc::new(ld.finish()),
        Arc::new(le.finish()),
    ];
    cols.extend(pose.finish());
    batch(Table::Rig, cols)
}

fn clips_batch(clips: &[ClipRecord]) -> Result<RecordBatch, LogError> {
    let mut id = StringBuilder::new();
    let mut rig = StringBuilder::new();
    let mut start = Int64Builder::new();
    let mut dur = Int64Builder::new();
    let mut rate = Float64Builder::new();
    let mut source = StringBuilder::new();
    let mut captions = ListBuilder::new(StringBuilder::new());
    let mut generator = StringBuilder::new();
    let mut ckpt = StringBuilder::new();
    let mut seed = Int64Builder::new();
    let mut prompt = StringBuilder::new();
    let mut traj = f64_list_builder();
    let mut notes = StringBuilder::new();
    for c in clips {
        id.append_value(&c.clip_id);
        rig.append_value(&c.rig_id);
        start.append_value(c.start_timestamp_us);
        dur.append_value(c.duration_us);
        rate.append_value(c.frame_rate_hz);
        source.append_value(c.source.as_str());
        captions.append_value(c.captions.iter().map(Some));
        generator.append_value(&c.generator);
        ckpt.append_option(c.checkpoint_sha256.as_deref());
        seed.append_option(c.seed);
        prompt.append_option(c.prompt.as_deref());
        match &c.trajectory_xyz_m {
            Some(t) => traj.append_value(t.iter().map(|&v| Some(v))),
            None => traj.append_null(),
        }
        notes.append_option(c.notes.as_deref());
    }
    batch(
        Table::Clips,
        vec![
            Arc::new(id.finish()),
            Arc::new(rig.finish()),
            Arc::new(start.finish()),
            Arc::new(dur.finish()),
            Arc::new(rate.finish()),
            Arc::new(source.finish()),
            Arc::new(captions.finish()),
            Arc::new(generator.finish()),
            Arc::new(ckpt.finish()),
            Arc::new(seed.finish()),
            Arc::new(prompt.finish()),
            Arc::new(traj.finish()),
            Arc::new(notes.finish()),
        ],
    )
}

fn poses_batch(poses: &[(String, Trajectory)]) -> Result<RecordBatch, LogError> {
    let mut clip = StringBuilder::new();
    let mut ts = Int64Builder::new();
    let mut pose = PoseCols::new();
    for (id, tr) in poses {
        for (t, p) in tr.timestamps_us().iter().zip(tr.poses()) {
            clip.append_value(id);
            ts.append_value(*t);
            pose.push(&PoseRecord::from_pose(p));
        }
    }
    let mut cols: Vec<ArrayRef> = vec![Arc::new(clip.finish()), Arc::new(ts.finish())];
    cols.extend(pose.finish());
    batch(Table::EgoPoses, cols)
}

fn objects_batch(objects: &[(String, Vec<ObjectSample>)]) -> Result<RecordBatch, LogError> {
    let mut clip = StringBuilder::new();
    let mut ts = Int64Builder::new();
    let mut track = StringBuilder::new();
    let mut cat = StringBuilder::new();
    let mut nums: [Float64Builder; 10] = std::array::from_fn(|_| Float64Builder::new());
    for (id, list) in objects {
        for o in list {
            clip.append_value(id);
            ts.append_value(o.timestamp_us);
            track.append_value(&o.track_id);
            cat.append_value(&o.category);
            let c = &o.cuboid;
            let q = worldrig_scene::pose::quat_to_xyzw(&c.world_from_box);
            let v = [c.centre_m.x, c.centre_m.y, c.centre_m.z, c.size_lwh_m.x, c.size_lwh_m.y, c.size_lwh_m.z, q[0], q[1], q[2], q[3]];
            for (b, x) in nums.iter_mut().zip(v) {
                b.append_value(x);
            }
        }
    }
    let mut cols: Vec<ArrayRef> = vec![Arc::new(clip.finish()), Arc::new(ts.finish()), Arc::new(track.finish()), Arc::new(cat.finish())];
    cols.extend(nums.into_iter().map(|mut b| Arc::new(b.finish()) as ArrayRef));
    batch(Table::Objects, cols)
}

fn map_batch(map: &[(String, Vec<MapElement>)]) -> Result<RecordBatch, LogError> {
    let mut clip = StringBuilder::new();
    let mut id = StringBuilder::new();
    let mut kind = StringBuilder::new();
    let mut geom = StringBuilder::new();
    let mut verts = f64_list_builder();
    let mut attrs = StringBuilder::new();
    for (cid, list) in map {
        for e in list {
            clip.append_value(cid);
            id.append_value(&e.element_id);
            kind.append_value(e.kind.as_str());
            geom.append_value(e.geometry.type_name());
            verts.append_value(e.geometry.vertices().iter().flat_map(|p| [Some(p.x), Some(p.y), Some(p.z)]));
            if e.attributes.is_empty() {
                attrs.append_null();
            } else {
                attrs.append_value(serde_json::Value::Object(e.attributes.clone()).to_string());
            }
        }
    }
    batch(
        Table::Map,
        vec![Arc::new(clip.finish()), Arc::new(id.finish()), Arc::new(kind.finish()), Arc::new(geom.finish()), Arc::new(verts.finish()), Arc::new(attrs.finish())],
    )
}
