//! `worldrig sim --from-log`: the HD-map condition video of a logged drive. Every clip's map is
//! drawn along its real ego trajectory through every camera of a rig (the log's own, or any other),
//! as Cosmos-Drive-Dreams uses for control, and written as a new scene log with the same poses,
//! map and objects.

use std::path::Path;

use indicatif::{ProgressBar, ProgressStyle};
use rayon::prelude::*;
use worldrig_scene::{Pose3, Rig, Trajectory};
use worldrig_scenelog::reader::Labels;
use worldrig_scenelog::{ClipRecord, Diag, FrameRecord, SceneLog, SceneLogWriter, Source, WriterOptions};

use crate::error::SimError;
use crate::hdmap::render_hdmap;
use crate::simulate::encode_png;

#[derive(Debug, Clone)]
pub struct FromLogConfig {
    /// Render through this rig instead of each clip's own.
    pub rig: Option<Rig>,
    /// Rescale the clip's own rig to this size (ignored with `rig`).
    pub resolution: Option<(u32, u32)>,
    /// Frame rate of the rendered video (the log's poses are interpolated).
    pub fps: f64,
    /// At most this many frames per clip (all that fit in the clip when `None`).
    pub max_frames: Option<usize>,
    /// Map elements further than this from the camera are not drawn.
    pub max_dist_m: f64,
    pub overwrite: bool,
    pub progress: bool,
}

pub fn simulate_from_log(src: &Path, out: &Path, cfg: &FromLogConfig) -> Result<u64, SimError> {
    let log = SceneLog::open(src)?;
    let mut d = Diag::strict();
    let Labels { rigs, clips, poses, objects, map } = log.read_labels(&mut d)?;
    let mut writer = SceneLogWriter::create(out, WriterOptions { overwrite: cfg.overwrite, ..Default::default() })?;
    let mut written_rigs: Vec<String> = Vec::new();
    let mut frames_written = 0u64;
    for clip in clips {
        let clip = clip.value;
        let rig = match (&cfg.rig, cfg.resolution) {
            (Some(r), _) => r.clone(),
            (None, res) => {
                let r = rigs.get(&clip.rig_id).map(|r| r.value.clone()).ok_or_else(|| SimError::Invalid(format!("clip {} refers to missing rig {}", clip.clip_id, clip.rig_id)))?;
                match res {
                    Some((w, h)) => Rig { name: format!("{}@{w}x{h}", r.name), ..r.scaled_to(w, h)? },
                    None => r,
                }
            }
        };
        let Some((_, trajectory)) = poses.get(&clip.clip_id) else {
            return Err(SimError::Invalid(format!("clip {} has no ego poses", clip.clip_id)));
        };
        let elements: Vec<_> = map.get(&clip.clip_id).map(|v| v.iter().map(|e| e.value.clone()).collect()).unwrap_or_default();
        let step_us = (1e6 / cfg.fps).round() as i64;
        let mut n = (trajectory.duration_us() / step_us) as usize + 1;
        if let Some(m) = cfg.max_frames {
            n = n.min(m);
        }
        let times: Vec<i64> = (0..n as i64).map(|k| trajectory.start_us() + k * step_us).collect();
        let frame_poses: Vec<Pose3> = times.iter().map(|&t| trajectory.pose_at(t)).collect();
        let bar = if cfg.progress { ProgressBar::new((n * rig.cameras.len()) as u64) } else { ProgressBar::hidden() };
        bar.set_style(ProgressStyle::with_template("{spinner} hd-map {pos}/{len} camera-frames {bar:30} eta {eta}").unwrap_or_else(|_| ProgressStyle::default_bar()));
        for chunk in (0..n).collect::<Vec<_>>().chunks(8) {
            let jobs: Vec<(usize, usize)> = chunk.iter().flat_map(|&k| (0..rig.cameras.len()).map(move |c| (k, c))).collect();
            let pngs: Vec<Result<Vec<u8>, SimError>> = jobs
                .par_iter()
                .map(|&(k, c)| {
                    let cam = &rig.cameras[c];
                    let img = render_hdmap(&cam.model, &(frame_poses[k] * cam.rig_from_camera), &elements, cfg.max_dist_m);
                    bar.inc(1);
                    encode_png(&img)
                })
                .collect();
            for (&(k, c), png) in jobs.iter().zip(pngs) {
                writer.add_frame(FrameRecord {
                    clip_id: clip.clip_id.clone(),
                    camera: rig.cameras[c].name.clone(),
                    frame_index: k as i64,
                    timestamp_us: times[k],
                    image_format: "png".into(),
                    image: png?.into(),
                })?;
                frames_written += 1;
            }
        }
        bar.finish_and_clear();
        if !written_rigs.contains(&rig.name) {
            writer.add_rig(&rig);
            written_rigs.push(rig.name.clone());
        }
        let frame_traj = Trajectory::new(times.clone(), frame_poses)?;
        writer.add_ego_poses(&clip.clip_id, &frame_traj);
        writer.add_map(&clip.clip_id, elements);
        if let Some(o) = objects.get(&clip.clip_id) {
            writer.add_objects(&clip.clip_id, o.iter().map(|l| l.value.clone()).collect());
        }
        writer.add_clip(ClipRecord {
            rig_id: rig.name.clone(),
            start_timestamp_us: times[0],
            duration_us: times[times.len() - 1] - times[0],
            frame_rate_hz: cfg.fps,
            source: Source::Synthetic,
            generator: format!("worldrig sim --from-log {}", env!("CARGO_PKG_VERSION")),
            notes: Some(format!("HD-map condition video of {} clip {} from {}", clip.source.as_str(), clip.clip_id, src.display())),
            ..clip
        });
    }
    writer.finish()?;
    Ok(frames_written)
}
