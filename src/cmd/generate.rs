//! `worldrig generate`: sample a clip from a Text2World run, decode it through the tokenizer and
//! write PNG frames, an animated GIF and a scene log with provenance.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use clap::Args;
use serde::Serialize;
use worldrig_model::data::load_videos;
use worldrig_model::device;
use worldrig_model::diffusion::Sampler;
use worldrig_model::dit::SampleConfig;
use worldrig_model::text2world::generate::{decode_frames, given_latents, load_tokenizer, SampleRequest};
use worldrig_model::text2world::load_run;
use worldrig_scene::pose::pose_from_parts;
use worldrig_scene::{Rig, Trajectory};
use worldrig_scenelog::{ClipRecord, Diag, FrameRecord, SceneLog, SceneLogWriter, Source, WriterOptions};

use super::video::write_videos;

/// The camera written into the scene log of a prompt-only clip: the front camera of the default rig.
const DEFAULT_RIG: &str = include_str!("../../configs/rigs/cosmos-6cam-448x256.json");

#[derive(Args)]
pub struct GenerateArgs {
    /// A Text2World or multi-view run (`worldrig train text2world|multiview`).
    #[arg(long)]
    pub(crate) model: PathBuf,
    /// The caption to generate from.
    #[arg(long, default_value = "")]
    pub(crate) prompt: String,
    /// Continue a logged clip (Video2World): `LOG:CLIP[:CAMERA]` (camera default: the first one);
    /// the model's given latent frames are encoded from its first frames.
    #[arg(long)]
    pub(crate) condition: Option<String>,
    /// Frames to generate (`1 + c*n` for the tokenizer's temporal compression `c`; default: the training window).
    #[arg(long)]
    pub(crate) frames: Option<usize>,
    #[arg(long, default_value_t = 0)]
    pub(crate) seed: u64,
    /// Sampler: euler, heun or dpmpp_2m (default: the run's).
    #[arg(long)]
    pub(crate) sampler: Option<String>,
    /// Steps of the Karras schedule (default: the run's).
    #[arg(long)]
    pub(crate) steps: Option<usize>,
    /// Classifier-free guidance scale (1: conditional only; default: the run's).
    #[arg(long)]
    pub(crate) guidance: Option<f64>,
    /// Multi-view runs: the scene log whose rig, ego trajectory (and, with --condition-frames, first
    /// frames) condition the generation.
    #[arg(long)]
    pub(crate) log: Option<PathBuf>,
    /// Multi-view runs: drive this trajectory instead of the log's: a JSON array of [x, y, z] waypoints
    /// in metres, in the rig frame of the first frame, 0.1 s apart (the run's trajectory step).
    #[arg(long)]
    pub(crate) trajectory: Option<PathBuf>,
    /// Multi-view runs: the clip of --log (default: its first).
    #[arg(long)]
    pub(crate) clip: Option<String>,
    /// Multi-view runs: continue the clip from this many given latent frames of every camera (0: from noise).
    #[arg(long, default_value_t = 0)]
    pub(crate) condition_frames: usize,
    /// Multi-view runs: generate each view on its own (the independent-views baseline).
    #[arg(long)]
    pub(crate) no_cross_view: bool,
    /// Multi-view runs: ignore the trajectory (the no-trajectory baseline).
    #[arg(long)]
    pub(crate) no_trajectory: bool,
    /// The tokenizer run, when it is not where the run recorded it.
    #[arg(long)]
    pub(crate) tokenizer: Option<PathBuf>,
    /// Output directory: frames/NNN.png, video.gif, video.mp4, log/ (scene log), generation.json (multi-view runs: frames/CAMERA/NNN.png, panorama.gif, panorama.mp4, log/, generation.json).
    #[arg(long)]
    pub(crate) out: PathBuf,
    /// Replace --out if it exists.
    #[arg(long)]
    pub(crate) overwrite: bool,
    #[arg(long, default_value = "cpu")]
    pub(crate) device: String,
}

#[derive(Serialize)]
struct Provenance<'a> {
    model: String,
    weights: String,
    weights_sha256: &'a str,
    tokenizer_sha256: &'a str,
    request: &'a SampleRequest,
    condition: Option<&'a str>,
    condition_frames: usize,
    frames: usize,
    width: usize,
    height: usize,
    sample_seconds: f64,
    decode_seconds: f64,
}

pub fn run(a: GenerateArgs) -> Result<ExitCode> {
    if a.out.exists() && !a.overwrite {
        bail!("{}: already exists (pass --overwrite to replace it)", a.out.display());
    }
    if a.model.join("multiview.json").exists() {
        return super::generate_mv::run(a);
    }
    if a.log.is_some() || a.clip.is_some() || a.trajectory.is_some() || a.condition_frames > 0 || a.no_cross_view || a.no_trajectory {
        bail!("{}: --log, --clip, --trajectory, --condition-frames, --no-cross-view and --no-trajectory are for multi-view runs (no multiview.json here)", a.model.display());
    }
    let dev = device::select(&a.device)?;
    let t2w = load_run(&a.model, &dev)?;
    let tok = load_tokenizer(&a.model, &t2w.card, a.tokenizer.as_deref(), &dev)?;
    let frames = a.frames.unwrap_or(t2w.card.frames);
    let Some(latent_frames) = tok.config.latent_frames(frames) else {
        bail!("--frames {frames}: must be 1 + {}*n for this tokenizer", tok.config.temporal_compression());
    };
    let req = sample_request(&a, a.prompt.clone(), latent_frames, &t2w.card.sample)?;
    let [height, width] = t2w.card.resolution;

    // The conditioning clip: its video, the camera and the ego poses the generated frames continue.
    let mut cond_source = None;
    let mut given = None;
    if let Some(spec) = &a.condition {
        let (log, clip, camera) = parse_condition(spec)?;
        let videos = load_videos(std::slice::from_ref(&log), &[])?;
        let video = videos
            .iter()
            .find(|v| v.clip_id == clip && camera.as_ref().is_none_or(|c| &v.camera == c))
            .with_context(|| format!("{}: no clip `{clip}`{} with frames", log.display(), camera.as_ref().map(|c| format!(" camera `{c}`")).unwrap_or_default()))?;
        let k = t2w.card.condition_frames.min(latent_frames.saturating_sub(1));
        if k == 0 {
            bail!("--condition needs at least 2 latent frames to generate (--frames {frames} gives {latent_frames})");
        }
        let need = tok.config.frames_for_latents(k);
        let z = given_latents(&t2w.card, &tok, video, need, latent_frames, &dev)?;
        given = Some((z, k));
        cond_source = Some((log, video.clip_id.clone(), video.camera.clone(), k, need));
    }

    tracing::info!(prompt = %req.prompt, frames, sampler = req.sampler.name(), steps = req.steps, guidance = req.guidance, seed = req.seed, "sampling");
    let t0 = Instant::now();
    let x = t2w.sample(&req, given, &dev);
    let sample_seconds = t0.elapsed().as_secs_f64();
    let t1 = Instant::now();
    let images = decode_frames(&t2w.card, &tok, x)?;
    let decode_seconds = t1.elapsed().as_secs_f64();

    // Rig, poses and clip record.
    let fps = 10.0;
    let (rig, trajectory, start_us, notes) = match &cond_source {
        Some((log, clip, camera, k, need)) => {
            let labels = SceneLog::open(log)?.read_labels(&mut Diag::strict())?;
            let rec = labels.clips.iter().find(|c| &c.value.clip_id == clip).context("conditioning clip has no clips row")?;
            let rig = labels.rigs.get(&rec.value.rig_id).with_context(|| format!("{}: no rig `{}`", log.display(), rec.value.rig_id))?;
            let rig = rig.value.subset(&rig.value.name, &[camera.as_str()])?.scaled_to(width as u32, height as u32)?;
            let fps = rec.value.frame_rate_hz;
            let start = rec.value.start_timestamp_us;
            let traj = match labels.poses.get(clip) {
                Some((_, t)) => t.resample(start, (1e6 / fps).round() as i64, frames)?,
                None => bail!("{}: clip `{clip}` has no ego poses", log.display()),
            };
            let note = format!(
                "Video2World continuation of {} clip {clip} camera {camera}: its first {need} frame(s) ({k} latent frame(s)) are given; ego poses are the source clip's",
                log.display()
            );
            (rig, traj, start, note)
        }
        None => {
            let full = Rig::from_json(DEFAULT_RIG)?;
            let front = full.cameras[0].name.clone();
            let rig = full.subset("text2world", &[front.as_str()])?.scaled_to(width as u32, height as u32)?;
            let step = (1e6 / fps) as i64;
            let times: Vec<i64> = (0..frames as i64).map(|k| k * step).collect();
            let identity = pose_from_parts([0.0; 3], [0.0, 0.0, 0.0, 1.0])?;
            let traj = Trajectory::new(times, vec![identity; frames])?;
            let note = "Text2World generation from a caption alone: the model is not conditioned on a camera or on ego motion, so the \
                        rig is the default front camera at the generated resolution and the ego poses are identity (unknown)"
                .to_string();
            (rig, traj, 0, note)
        }
    };
    let camera = rig.cameras[0].name.clone();
    let clip_id = format!("generated-{:016x}", a.seed);
    let step_us = if trajectory.len() > 1 { trajectory.timestamps_us()[1] - trajectory.timestamps_us()[0] } else { 100_000 };

    let tmp = super::partial_dir(&a.out)?;
    std::fs::create_dir_all(tmp.join("frames")).with_context(|| tmp.display().to_string())?;
    let mut pngs = Vec::with_capacity(images.len());
    for (k, img) in images.iter().enumerate() {
        let buf = image::RgbImage::from_raw(width as u32, height as u32, img.clone()).context("decoded frame size")?;
        let path = tmp.join("frames").join(format!("{k:03}.png"));
        buf.save(&path).with_context(|| path.display().to_string())?;
        pngs.push(std::fs::read(&path).with_context(|| path.display().to_string())?);
    }
    write_videos(&tmp.join("video"), &images, width, height, fps)?;

    let mut writer = SceneLogWriter::create(&tmp.join("log"), WriterOptions::default())?;
    writer.add_rig(&rig);
    let duration = trajectory.timestamps_us().last().copied().unwrap_or(0) - trajectory.timestamps_us()[0];
    writer.add_clip(ClipRecord {
        clip_id: clip_id.clone(),
        rig_id: rig.name.clone(),
        start_timestamp_us: start_us,
        duration_us: duration,
        frame_rate_hz: 1e6 / step_us as f64,
        source: Source::Synthetic,
        captions: if a.prompt.is_empty() { vec![] } else { vec![a.prompt.clone()] },
        generator: format!("worldrig generate {} (text2world)", env!("CARGO_PKG_VERSION")),
        checkpoint_sha256: Some(t2w.weights_sha256.clone()),
        seed: Some(a.seed as i64),
        prompt: Some(a.prompt.clone()),
        trajectory_xyz_m: None,
        notes: Some(notes),
    });
    writer.add_ego_poses(&clip_id, &trajectory);
    for (k, png) in pngs.into_iter().enumerate() {
        writer.add_frame(FrameRecord {
            clip_id: clip_id.clone(),
            camera: camera.clone(),
            frame_index: k as i64,
            timestamp_us: trajectory.timestamps_us()[k],
            image_format: "png".into(),
            image: png.into(),
        })?;
    }
    writer.finish()?;

    let prov = Provenance {
        model: a.model.display().to_string(),
        weights: t2w.weights.display().to_string(),
        weights_sha256: &t2w.weights_sha256,
        tokenizer_sha256: &t2w.card.tokenizer_sha256,
        request: &req,
        condition: a.condition.as_deref(),
        condition_frames: cond_source.as_ref().map(|c| c.3).unwrap_or(0),
        frames,
        width,
        height,
        sample_seconds,
        decode_seconds,
    };
    finish(&tmp, &a.out, &prov)?;
    println!("{}: {frames} frames of {width}x{height} ({}) in {sample_seconds:.1} s + {decode_seconds:.1} s decoding", a.out.display(), describe(&req));
    Ok(ExitCode::SUCCESS)
}

/// The sampling request from the flags, falling back on the run's defaults.
pub(crate) fn sample_request(a: &GenerateArgs, prompt: String, latent_frames: usize, s: &SampleConfig) -> Result<SampleRequest> {
    let sampler = match a.sampler.as_deref() {
        None => s.sampler,
        Some(name) => match Sampler::ALL.iter().find(|x| x.name() == name) {
            Some(x) => *x,
            None => bail!("--sampler {name}: expected one of euler, heun, dpmpp_2m"),
        },
    };
    let req = SampleRequest {
        prompt,
        latent_frames,
        seed: a.seed,
        sampler,
        steps: a.steps.unwrap_or(s.steps),
        sigma_min: s.sigma_min,
        sigma_max: s.sigma_max,
        rho: s.rho,
        guidance: a.guidance.unwrap_or(s.guidance),
    };
    if req.steps == 0 {
        bail!("--steps must be positive");
    }
    Ok(req)
}

/// Writes `generation.json` (the provenance) into `tmp`, then replaces `out` by it.
pub(crate) fn finish<P: Serialize>(tmp: &Path, out: &Path, prov: &P) -> Result<()> {
    std::fs::write(tmp.join("generation.json"), serde_json::to_string_pretty(prov)?).with_context(|| tmp.display().to_string())?;
    super::publish(tmp, out)
}

/// `heun 20 steps, guidance 2, seed 0`.
pub(crate) fn describe(req: &SampleRequest) -> String {
    format!("{} {} steps, guidance {}, seed {}", req.sampler.name(), req.steps, req.guidance, req.seed)
}

/// `LOG:CLIP[:CAMERA]` (the log path may itself contain colons: the clip and camera are split from the right).
fn parse_condition(spec: &str) -> Result<(PathBuf, String, Option<String>)> {
    let parts: Vec<&str> = spec.rsplitn(3, ':').collect();
    match parts.as_slice() {
        [clip, log] if !clip.is_empty() && !log.is_empty() => Ok((PathBuf::from(log), clip.to_string(), None)),
        [a, b, log] => {
            // LOG:CLIP:CAMERA, unless LOG itself contains a colon and only LOG:CLIP was meant.
            if Path::new(&format!("{log}:{b}")).is_dir() && !Path::new(log).is_dir() {
                Ok((PathBuf::from(format!("{log}:{b}")), a.to_string(), None))
            } else {
                Ok((PathBuf::from(log), b.to_string(), Some(a.to_string())))
            }
        }
        _ => bail!("--condition {spec}: expected LOG:CLIP or LOG:CLIP:CAMERA"),
    }
}

