//! A summary of a scene log: clips, cameras, duration, rates, distance, frames per camera.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Serialize;

use crate::error::{Diag, LogError};
use crate::reader::{Labels, SceneLog};

#[derive(Debug, Clone, Serialize)]
pub struct ClipSummary {
    pub clip_id: String,
    pub rig_id: String,
    pub source: &'static str,
    pub generator: String,
    pub cameras: Vec<String>,
    pub duration_s: f64,
    pub frame_rate_hz: f64,
    pub pose_count: usize,
    pub pose_rate_hz: f64,
    pub distance_m: f64,
    pub frames_per_camera: BTreeMap<String, u64>,
    pub object_tracks: usize,
    pub object_samples: usize,
    pub map_elements: BTreeMap<&'static str, usize>,
    pub captions: Vec<String>,
    pub notes: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct LogSummary {
    pub path: std::path::PathBuf,
    pub rigs: BTreeMap<String, Vec<String>>,
    pub clips: Vec<ClipSummary>,
}

/// Reads the log (strictly: the first problem is an error) and summarises it. Frames are counted
/// without reading image bytes.
pub fn inspect(path: &Path) -> Result<LogSummary, LogError> {
    let log = SceneLog::open(path)?;
    let mut d = Diag::strict();
    let Labels { rigs, clips, poses, objects, map } = log.read_labels(&mut d)?;
    let mut frames: BTreeMap<(String, String), u64> = BTreeMap::new();
    let mut stream = log.frames(false);
    while let Some(batch) = stream.next_batch(&mut d)? {
        for f in batch {
            *frames.entry((f.value.clip_id, f.value.camera)).or_default() += 1;
        }
    }
    let mut out = Vec::new();
    for c in clips {
        let c = c.value;
        let cameras = rigs.get(&c.rig_id).map(|r| r.value.camera_names().iter().map(|s| s.to_string()).collect()).unwrap_or_default();
        let frames_per_camera = frames.iter().filter(|((clip, _), _)| *clip == c.clip_id).map(|((_, cam), n)| (cam.clone(), *n)).collect();
        let (pose_count, pose_rate_hz, distance_m) = poses.get(&c.clip_id).map(|(_, t)| (t.len(), t.mean_rate_hz(), t.distance_m())).unwrap_or((0, 0.0, 0.0));
        let objs = objects.get(&c.clip_id);
        let object_tracks = objs.map(|o| o.iter().map(|s| s.value.track_id.as_str()).collect::<std::collections::BTreeSet<_>>().len()).unwrap_or(0);
        let mut map_elements = BTreeMap::new();
        for e in map.get(&c.clip_id).into_iter().flatten() {
            *map_elements.entry(e.value.kind.as_str()).or_default() += 1;
        }
        out.push(ClipSummary {
            clip_id: c.clip_id,
            rig_id: c.rig_id,
            source: c.source.as_str(),
            generator: c.generator,
            cameras,
            duration_s: c.duration_us as f64 * 1e-6,
            frame_rate_hz: c.frame_rate_hz,
            pose_count,
            pose_rate_hz,
            distance_m,
            frames_per_camera,
            object_tracks,
            object_samples: objs.map(|o| o.len()).unwrap_or(0),
            map_elements,
            captions: c.captions,
            notes: c.notes,
        });
    }
    let rigs = rigs.into_iter().map(|(k, v)| (k, v.value.camera_names().iter().map(|s| s.to_string()).collect())).collect();
    Ok(LogSummary { path: path.to_path_buf(), rigs, clips: out })
}
