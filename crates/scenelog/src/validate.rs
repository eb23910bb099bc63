//! Validation of a whole scene log: every table read in collecting mode, then the references
//! between tables (clips -> rigs, rows -> clips, frames -> cameras), per-camera frame order, and
//! image decoding (in parallel over each batch).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use rayon::prelude::*;
use serde::Serialize;
use worldrig_scene::CameraModel;

use crate::error::{Diag, Issue, Loc, LogError, Rule};
use crate::reader::{Labels, Located, SceneLog};
use crate::schema::Table;

/// What to check.
#[derive(Debug, Clone)]
pub struct ValidateOptions {
    /// Keep at most this many problems (all are counted).
    pub max_issues: usize,
    /// Fully decode every image (otherwise only the header is parsed for its size).
    pub decode_images: bool,
}

impl Default for ValidateOptions {
    fn default() -> Self {
        Self { max_issues: 100, decode_images: true }
    }
}

/// The outcome of a validation.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub path: std::path::PathBuf,
    pub valid: bool,
    /// Problems found (all counted, at most `max_issues` listed).
    pub problem_count: usize,
    pub problems: Vec<Issue>,
    pub tables: BTreeMap<&'static str, usize>,
    pub clips: usize,
    pub frames: u64,
}

/// Why an image is unusable, or its (width, height).
pub fn image_size(bytes: &[u8], format: &str, full_decode: bool) -> Result<(u32, u32), String> {
    let fmt = match format {
        "png" => image::ImageFormat::Png,
        "jpeg" => image::ImageFormat::Jpeg,
        other => return Err(format!("unsupported image format `{other}`")),
    };
    if full_decode {
        let img = image::load_from_memory_with_format(bytes, fmt).map_err(|e| e.to_string())?;
        Ok((img.width(), img.height()))
    } else {
        let r = image::ImageReader::with_format(std::io::Cursor::new(bytes), fmt);
        r.into_dimensions().map_err(|e| e.to_string())
    }
}

/// Validates the log at `path` (see `docs/scene-log-format.md`, "Validation").
pub fn validate(path: &Path, opts: &ValidateOptions) -> Result<Report, LogError> {
    let log = SceneLog::open(path)?;
    let mut d = Diag::collect(opts.max_issues);
    let Labels { rigs, clips, poses, objects, map } = log.read_labels(&mut d)?;

    let clip_ids: BTreeSet<&str> = clips.iter().map(|c| c.value.clip_id.as_str()).collect();
    let clip_rig: BTreeMap<&str, &str> = clips.iter().map(|c| (c.value.clip_id.as_str(), c.value.rig_id.as_str())).collect();
    for c in &clips {
        if !rigs.contains_key(&c.value.rig_id) {
            d.report(Issue::at(Rule::MissingClip, &c.loc, Table::Clips.name(), "rig_id", format!("rig `{}` is not in the rig table", c.value.rig_id)))?;
        }
        if !poses.contains_key(&c.value.clip_id) && log.files().has(Table::EgoPoses) {
            d.report(Issue::at(Rule::MissingClip, &c.loc, Table::Clips.name(), "clip_id", format!("clip `{}` has no ego poses", c.value.clip_id)))?;
        }
    }
    let missing = |d: &mut Diag, loc: &Loc, table: Table, clip: &str| -> Result<(), LogError> {
        d.report(Issue::at(Rule::MissingClip, loc, table.name(), "clip_id", format!("clip `{clip}` is not in the clips table")))
    };
    for (clip, (loc, _)) in &poses {
        if !clip_ids.contains(clip.as_str()) {
            missing(&mut d, loc, Table::EgoPoses, clip)?;
        }
    }
    for (clip, list) in &objects {
        if !clip_ids.contains(clip.as_str()) {
            missing(&mut d, &list[0].loc, Table::Objects, clip)?;
        }
    }
    for (clip, list) in &map {
        if !clip_ids.contains(clip.as_str()) {
            missing(&mut d, &list[0].loc, Table::Map, clip)?;
        }
    }

    // Frames: streamed batch by batch; order checked per (clip, camera); images decoded in parallel.
    let mut frames_total = 0u64;
    let mut last: BTreeMap<(String, String), (i64, i64)> = BTreeMap::new();
    let mut reported_missing: BTreeSet<String> = BTreeSet::new();
    let mut stream = log.frames(true);
    while let Some(batch) = stream.next_batch(&mut d)? {
        frames_total += batch.len() as u64;
        let mut to_decode: Vec<(&Located<crate::reader::FrameRecord>, (u32, u32))> = Vec::with_capacity(batch.len());
        for f in &batch {
            let v = &f.value;
            let issue = |rule, col: &str, msg: String| Issue::at(rule, &f.loc, Table::Frames.name(), col, msg);
            let Some(rig_id) = clip_rig.get(v.clip_id.as_str()) else {
                if reported_missing.insert(v.clip_id.clone()) {
                    d.report(issue(Rule::MissingClip, "clip_id", format!("clip `{}` is not in the clips table", v.clip_id)))?;
                }
                continue;
            };
            let Some(rig) = rigs.get(*rig_id) else { continue };
            let Some(cam) = rig.value.camera(&v.camera) else {
                d.report(issue(
                    Rule::UnknownCamera,
                    "camera",
                    format!("camera `{}` is not in rig `{}` (cameras: {})", v.camera, rig_id, rig.value.camera_names().join(", ")),
                ))?;
                continue;
            };
            let key = (v.clip_id.clone(), v.camera.clone());
            if let Some(&(pi, pt)) = last.get(&key) {
                if v.frame_index <= pi {
                    d.report(issue(Rule::BadValue, "frame_index", format!("frame index {} after {} for camera `{}`", v.frame_index, pi, v.camera)))?;
                    continue;
                }
                if v.timestamp_us == pt {
                    d.report(issue(Rule::DuplicateTimestamp, "timestamp_us", format!("timestamp {} repeats for camera `{}`", pt, v.camera)))?;
                    continue;
                }
                if v.timestamp_us < pt {
                    d.report(issue(Rule::NonMonotonicTimestamp, "timestamp_us", format!("timestamp {} after {} for camera `{}`", v.timestamp_us, pt, v.camera)))?;
                    continue;
                }
            }
            last.insert(key, (v.frame_index, v.timestamp_us));
            to_decode.push((f, (cam.model.width(), cam.model.height())));
        }
        let decoded: Vec<Option<Issue>> = to_decode
            .par_iter()
            .map(|(f, (w, h))| {
                let v = &f.value;
                match image_size(&v.image, &v.image_format, opts.decode_images) {
                    Ok((iw, ih)) if (iw, ih) == (*w, *h) => None,
                    Ok((iw, ih)) => Some(Issue::at(
                        Rule::UndecodableImage,
                        &f.loc,
                        Table::Frames.name(),
                        "image",
                        format!("image is {iw}x{ih} but camera `{}` is {w}x{h}", v.camera),
                    )),
                    Err(e) => Some(Issue::at(Rule::UndecodableImage, &f.loc, Table::Frames.name(), "image", format!("{} image does not decode: {e}", v.image_format))),
                }
            })
            .collect();
        for issue in decoded.into_iter().flatten() {
            d.report(issue)?;
        }
    }

    let mut tables = BTreeMap::new();
    for t in Table::ALL {
        let n = log.files().table_files(t).len();
        if n > 0 {
            tables.insert(t.name(), n);
        }
    }
    Ok(Report {
        path: path.to_path_buf(),
        valid: d.is_clean(),
        problem_count: d.total(),
        problems: d.issues().to_vec(),
        tables,
        clips: clips.len(),
        frames: frames_total,
    })
}
