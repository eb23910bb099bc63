//! Multi-view training samples: the cached single-camera windows of one clip that start at the same
//! frame, in rig order, with the rig's calibration features and the ego trajectory from the log.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use worldrig_scene::CameraSpec;
use worldrig_scenelog::{Diag, SceneLog};

use super::views::{camera_features, frame_poses, trajectory_features};
use crate::text2world::LatentCache;
use crate::ModelError;

/// One multi-view sample.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MvGroup {
    pub log: PathBuf,
    pub clip_id: String,
    pub start: usize,
    /// Cache window of each view, in rig order.
    pub windows: Vec<usize>,
    /// `[views, CAMERA_FEATURES]`, flattened.
    pub camera: Vec<f32>,
    /// `[3 * points]`.
    pub trajectory: Vec<f32>,
    /// `[latent frames, POSE_FEATURES]`, flattened.
    pub frame_pose: Vec<f32>,
}

/// The time (microseconds from the clip start) each latent frame of a window starting at frame
/// `start` stands for: frame `start` for the first latent frame (an image latent), then the last
/// frame of each group of `temporal` frames.
pub fn latent_frame_times(start: usize, latent_frames: usize, temporal: usize, frame_us: f64) -> Vec<i64> {
    (0..latent_frames).map(|k| ((start + k * temporal) as f64 * frame_us).round() as i64).collect()
}

/// The rigs' cameras (in rig order) of the clips behind `cache`, and every complete group: a start
/// frame of a clip for which every camera of its rig has a cached window.
pub fn groups(cache: &LatentCache, logs: &[PathBuf], points: usize, step_us: i64, temporal: usize) -> Result<(Vec<CameraSpec>, Vec<MvGroup>), ModelError> {
    let mut by_key: BTreeMap<(PathBuf, String, usize), BTreeMap<String, usize>> = BTreeMap::new();
    for (i, w) in cache.index.windows.iter().enumerate() {
        by_key.entry((w.log.clone(), w.clip_id.clone(), w.start)).or_default().insert(w.camera.clone(), i);
    }
    let latent_frames = cache.index.shape[1];
    let mut out = Vec::new();
    let mut rig_cameras: Option<(String, Vec<CameraSpec>)> = None;
    for log in logs {
        let labels = SceneLog::open(log)?.read_labels(&mut Diag::strict())?;
        for clip in &labels.clips {
            let c = &clip.value;
            let rig = labels.rigs.get(&c.rig_id).ok_or_else(|| ModelError::Data(format!("{} table clips row {} column rig_id: clip {} names rig `{}`, which the log does not have", clip.loc.file.display(), clip.loc.row, c.clip_id, c.rig_id)))?;
            let cams = &rig.value.cameras;
            match &rig_cameras {
                None => rig_cameras = Some((format!("{} clip {}", log.display(), c.clip_id), cams.clone())),
                Some((first, known)) => {
                    let names: Vec<&str> = cams.iter().map(|c| c.name.as_str()).collect();
                    let known_names: Vec<&str> = known.iter().map(|c| c.name.as_str()).collect();
                    if names != known_names {
                        return Err(ModelError::Data(format!(
                            "{} clip {}: cameras {names:?} differ from {known_names:?} of {first}; train a multi-view model on logs of one rig layout",
                            log.display(),
                            c.clip_id
                        )));
                    }
                }
            }
            let Some((_, traj)) = labels.poses.get(&c.clip_id) else {
                return Err(ModelError::Data(format!("{}: clip {} has no ego poses", log.display(), c.clip_id)));
            };
            let camera: Vec<f32> = cams.iter().flat_map(camera_features).collect();
            let frame_us = 1e6 / c.frame_rate_hz;
            for ((l, clip_id, start), per_cam) in by_key.range((log.clone(), c.clip_id.clone(), 0)..=(log.clone(), c.clip_id.clone(), usize::MAX)) {
                let _ = (l, clip_id);
                let Some(windows) = cams.iter().map(|cam| per_cam.get(&cam.name).copied()).collect::<Option<Vec<usize>>>() else { continue };
                let t0 = c.start_timestamp_us + (*start as f64 * frame_us).round() as i64;
                let times: Vec<i64> = latent_frame_times(*start, latent_frames, temporal, frame_us).iter().map(|t| c.start_timestamp_us + t).collect();
                out.push(MvGroup {
                    log: log.clone(),
                    clip_id: c.clip_id.clone(),
                    start: *start,
                    windows,
                    camera: camera.clone(),
                    trajectory: trajectory_features(traj, t0, step_us, points),
                    frame_pose: frame_poses(traj, &times),
                });
            }
        }
    }
    let cams = rig_cameras.map(|r| r.1).unwrap_or_default();
    if out.is_empty() {
        return Err(ModelError::Data("no clip has a training window for every camera of its rig (multi-view training needs all cameras)".into()));
    }
    Ok((cams, out))
}
