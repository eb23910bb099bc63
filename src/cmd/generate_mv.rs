//! `worldrig generate` for multi-view runs: every camera of a log's rig, conditioned on the caption,
//! the rig's calibration and the clip's ego trajectory; written as per-camera PNG frames, a panorama
//! GIF and a scene log with provenance.

use std::process::ExitCode;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use serde::Serialize;
use worldrig_model::data::load_videos;
use worldrig_model::device;
use worldrig_model::multiview::data::latent_frame_times;
use worldrig_model::multiview::generate::{load_run, MvConditions};
use worldrig_model::multiview::{camera_features, frame_poses, trajectory_features, trajectory_from_waypoints, MvMode};
use worldrig_model::text2world::generate::{decode_frames, given_latents, load_tokenizer, SampleRequest};
use worldrig_scene::{CameraModel, Rig};
use worldrig_scenelog::{ClipRecord, Diag, FrameRecord, SceneLog, SceneLogWriter, Source, WriterOptions};

use super::generate::{describe, finish, sample_request, GenerateArgs};
use super::video::write_videos;
use super::partial_dir;

#[derive(Serialize)]
struct Provenance<'a> {
    model: String,
    weights: String,
    weights_sha256: &'a str,
    tokenizer_sha256: &'a str,
    request: &'a SampleRequest,
    log: String,
    clip: &'a str,
    cameras: Vec<String>,
    condition_frames: usize,
    cross_view: bool,
    trajectory: bool,
    frames: usize,
    width: usize,
    height: usize,
    sample_seconds: f64,
    decode_seconds: f64,
}

/// Panorama rows: the cameras looking forward (optical axis with x >= 0 in the rig frame) from
/// left to right, over the others from rear-left to rear-right. For Cosmos' six cameras this is
/// [cross-left, front, cross-right] over [rear-left, rear, rear-right].
pub fn panorama_layout(rig: &Rig) -> Vec<Vec<usize>> {
    let mut front: Vec<(f64, usize)> = Vec::new();
    let mut rear: Vec<(f64, usize)> = Vec::new();
    for (i, c) in rig.cameras.iter().enumerate() {
        let a = c.optical_axis_rig();
        let az = a.y.atan2(a.x).to_degrees(); // +: to the left
        if a.x >= 0.0 {
            front.push((-az, i));
        } else {
            rear.push((if az < 0.0 { az + 360.0 } else { az }, i));
        }
    }
    front.sort_by(|a, b| a.0.total_cmp(&b.0));
    rear.sort_by(|a, b| a.0.total_cmp(&b.0));
    [front, rear].into_iter().filter(|r| !r.is_empty()).map(|r| r.into_iter().map(|x| x.1).collect()).collect()
}

/// Every frame of the panorama of `views` (per view, its RGB8 frames of `w x h`): `layout` rows of
/// views, black where a row is shorter. Returns the frames and their width and height.
pub fn panorama(layout: &[Vec<usize>], views: &[Vec<Vec<u8>>], w: usize, h: usize) -> (Vec<Vec<u8>>, usize, usize) {
    let cols = layout.iter().map(Vec::len).max().unwrap_or(1);
    let (pw, ph) = (cols * w, layout.len() * h);
    let frames = views.first().map_or(0, Vec::len);
    let pano = (0..frames)
        .map(|k| {
            let mut out = vec![0u8; pw * ph * 3];
            for (r, row) in layout.iter().enumerate() {
                for (c, &v) in row.iter().enumerate() {
                    let src = &views[v][k];
                    for y in 0..h {
                        let d = ((r * h + y) * pw + c * w) * 3;
                        out[d..d + w * 3].copy_from_slice(&src[y * w * 3..(y + 1) * w * 3]);
                    }
                }
            }
            out
        })
        .collect();
    (pano, pw, ph)
}

/// `--trajectory FILE`: a JSON array of at least two `[x, y, z]` waypoints (metres).
fn read_waypoints(path: &std::path::Path) -> Result<Vec<[f64; 3]>> {
    let text = std::fs::read_to_string(path).with_context(|| path.display().to_string())?;
    let v: Vec<[f64; 3]> = serde_json::from_str(&text).with_context(|| format!("{}: expected a JSON array of [x, y, z] waypoints in metres", path.display()))?;
    if v.len() < 2 {
        bail!("{}: {} waypoint(s); at least 2 are needed", path.display(), v.len());
    }
    if let Some(i) = v.iter().position(|p| p.iter().any(|c| !c.is_finite())) {
        bail!("{}: waypoint {i} is not finite", path.display());
    }
    Ok(v)
}

pub fn run(a: GenerateArgs) -> Result<ExitCode> {
    let dev = device::select(&a.device)?;
    let mv = load_run(&a.model, &dev)?;
    let card = mv.card.text2world.clone();
    let tok = load_tokenizer(&a.model, &card, a.tokenizer.as_deref(), &dev)?;
    let Some(log) = a.log.clone() else {
        bail!("{}: a multi-view run generates for a log's rig and ego trajectory: pass --log LOG [--clip ID]", a.model.display());
    };
    if a.condition.is_some() {
        bail!("--condition is for Text2World runs; multi-view runs continue --log's clip with --condition-frames K");
    }
    let labels = SceneLog::open(&log)?.read_labels(&mut Diag::strict())?;
    let clip = match &a.clip {
        Some(id) => labels.clips.iter().find(|c| &c.value.clip_id == id).with_context(|| format!("{}: no clip `{id}`", log.display()))?,
        None => labels.clips.first().with_context(|| format!("{}: no clips", log.display()))?,
    };
    let clip = clip.value.clone();
    let [height, width] = card.resolution;
    let rig = labels.rigs.get(&clip.rig_id).with_context(|| format!("{}: no rig `{}`", log.display(), clip.rig_id))?;
    let rig = rig.value.scaled_to(width as u32, height as u32)?;
    let (_, logged) = labels.poses.get(&clip.clip_id).with_context(|| format!("{}: clip `{}` has no ego poses", log.display(), clip.clip_id))?;
    let planned;
    let traj = match &a.trajectory {
        None => logged,
        Some(path) => {
            let waypoints = read_waypoints(path)?;
            let origin = logged.pose_at(clip.start_timestamp_us);
            planned = trajectory_from_waypoints(&origin, clip.start_timestamp_us, mv.card.trajectory_step_us, &waypoints)?;
            &planned
        }
    };
    let frames = a.frames.unwrap_or(card.frames);
    let Some(latent_frames) = tok.config.latent_frames(frames) else {
        bail!("--frames {frames}: must be 1 + {}*n for this tokenizer", tok.config.temporal_compression());
    };
    let frame_us = 1e6 / clip.frame_rate_hz;
    let start = clip.start_timestamp_us;
    let temporal = tok.config.temporal_compression();
    let lt_times: Vec<i64> = latent_frame_times(0, latent_frames, temporal, frame_us).iter().map(|t| start + t).collect();
    let cond = MvConditions {
        camera: rig.cameras.iter().flat_map(camera_features).collect(),
        trajectory: trajectory_features(traj, start, mv.card.trajectory_step_us, mv.card.trajectory_points),
        frame_pose: frame_poses(traj, &lt_times),
    };
    let views = rig.cameras.len();
    let k = a.condition_frames;
    let given = if k > 0 {
        if k >= latent_frames {
            bail!("--condition-frames {k}: must be below the {latent_frames} latent frames of --frames {frames}");
        }
        let names: Vec<String> = rig.cameras.iter().map(|c| c.name.clone()).collect();
        let videos = load_videos(std::slice::from_ref(&log), &names)?;
        let need = tok.config.frames_for_latents(k);
        let mut zs = Vec::with_capacity(views);
        for name in &names {
            let v = videos
                .iter()
                .find(|v| v.clip_id == clip.clip_id && &v.camera == name)
                .with_context(|| format!("{}: clip `{}` has no frames for camera `{name}` (needed by --condition-frames)", log.display(), clip.clip_id))?;
            zs.push(given_latents(&card, &tok, v, need, latent_frames, &dev)?);
        }
        Some((burn::tensor::Tensor::cat(zs, 0), k))
    } else {
        None
    };
    let prompt = if a.prompt.is_empty() { clip.captions.first().cloned().unwrap_or_default() } else { a.prompt.clone() };
    let req = sample_request(&a, prompt, latent_frames, &mv.card.sample)?;
    let mode = MvMode { cross_view: mv.card.cross_view && !a.no_cross_view, trajectory: mv.card.trajectory && !a.no_trajectory };
    tracing::info!(views, frames, prompt = %req.prompt, sampler = req.sampler.name(), steps = req.steps, guidance = req.guidance, seed = req.seed, ?mode, "sampling");
    let t0 = Instant::now();
    let x = mv.sample(&req, views, &cond, given, mode, &dev);
    let sample_seconds = t0.elapsed().as_secs_f64();
    let t1 = Instant::now();
    let mut per_view: Vec<Vec<Vec<u8>>> = Vec::with_capacity(views);
    for v in 0..views {
        per_view.push(decode_frames(&card, &tok, x.clone().narrow(0, v, 1))?);
    }
    let decode_seconds = t1.elapsed().as_secs_f64();

    let tmp = partial_dir(&a.out)?;
    let times: Vec<i64> = (0..frames).map(|i| start + (i as f64 * frame_us).round() as i64).collect();
    let poses = traj.resample(start, frame_us.round() as i64, frames)?;
    let clip_id = format!("{}-generated-{:016x}", clip.clip_id, a.seed);
    let mut writer = SceneLogWriter::create(&tmp.join("log"), WriterOptions::default())?;
    let mut out_rig = rig.clone();
    out_rig.source = format!("{} (rescaled to {width}x{height})", rig.source);
    writer.add_rig(&out_rig);
    writer.add_clip(ClipRecord {
        clip_id: clip_id.clone(),
        rig_id: out_rig.name.clone(),
        start_timestamp_us: start,
        duration_us: times[frames - 1] - times[0],
        frame_rate_hz: clip.frame_rate_hz,
        source: Source::Synthetic,
        captions: vec![req.prompt.clone()],
        generator: format!("worldrig generate {} (multiview)", env!("CARGO_PKG_VERSION")),
        checkpoint_sha256: Some(mv.weights_sha256.clone()),
        seed: Some(a.seed as i64),
        prompt: Some(req.prompt.clone()),
        trajectory_xyz_m: Some(cond.trajectory.iter().map(|v| *v as f64 * 10.0).collect()),
        notes: Some(format!(
            "generated for clip {} of {} (its rig; {}; {} given latent frame(s); cross-view attention {}, trajectory conditioning {})",
            clip.clip_id,
            log.display(),
            match &a.trajectory {
                Some(p) => format!("the trajectory of {}, from the clip's first pose", p.display()),
                None => "its ego trajectory".to_string(),
            },
            k,
            if mode.cross_view { "on" } else { "off" },
            if mode.trajectory { "on" } else { "off" }
        )),
    });
    writer.add_ego_poses(&clip_id, &poses);
    for (v, cam) in rig.cameras.iter().enumerate() {
        let dir = tmp.join("frames").join(&cam.name);
        std::fs::create_dir_all(&dir).with_context(|| dir.display().to_string())?;
        for (i, img) in per_view[v].iter().enumerate() {
            let buf = image::RgbImage::from_raw(cam.model.width(), cam.model.height(), img.clone()).context("decoded frame size")?;
            let path = dir.join(format!("{i:03}.png"));
            buf.save(&path).with_context(|| path.display().to_string())?;
            writer.add_frame(FrameRecord {
                clip_id: clip_id.clone(),
                camera: cam.name.clone(),
                frame_index: i as i64,
                timestamp_us: times[i],
                image_format: "png".into(),
                image: std::fs::read(&path).with_context(|| path.display().to_string())?.into(),
            })?;
        }
    }
    writer.finish()?;
    let (pano, pw, ph) = panorama(&panorama_layout(&rig), &per_view, width, height);
    write_videos(&tmp.join("panorama"), &pano, pw, ph, clip.frame_rate_hz)?;
    let prov = Provenance {
        model: a.model.display().to_string(),
        weights: mv.weights.display().to_string(),
        weights_sha256: &mv.weights_sha256,
        tokenizer_sha256: &card.tokenizer_sha256,
        request: &req,
        log: log.display().to_string(),
        clip: &clip.clip_id,
        cameras: rig.cameras.iter().map(|c| c.name.clone()).collect(),
        condition_frames: k,
        cross_view: mode.cross_view,
        trajectory: mode.trajectory,
        frames,
        width,
        height,
        sample_seconds,
        decode_seconds,
    };
    finish(&tmp, &a.out, &prov)?;
    println!("{}: {views} views x {frames} frames of {width}x{height} ({}) in {sample_seconds:.1} s + {decode_seconds:.1} s decoding", a.out.display(), describe(&req));
    Ok(ExitCode::SUCCESS)
}
