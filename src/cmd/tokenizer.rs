//! `worldrig tokenizer train|encode|decode|eval`: the causal video tokenizer.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use burn::prelude::*;
use clap::{Args, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use worldrig_model::data::{load_videos, to_unit_frames, unit_to_rgb8};
use worldrig_model::device;
use worldrig_model::tokenizer::codec::{self, LatentEntry, LatentIndex};
use worldrig_model::tokenizer::config::builtin;
use worldrig_model::tokenizer::train::{train, TrainOptions};
use worldrig_model::tokenizer::TokenizerFile;
use worldrig_model::train::write_atomic;

#[derive(Subcommand)]
pub enum TokenizerCommand {
    /// Train a tokenizer on the videos of scene logs (resumable).
    Train(TrainArgs),
    /// Encode the videos of a scene log into latents (`.npy` per clip and camera, plus index.json).
    Encode(EncodeArgs),
    /// Decode a latent directory written by `encode` into PNG frames.
    Decode(DecodeArgs),
    /// Reconstruction quality (PSNR, SSIM) on held-out videos and single images.
    Eval(EvalArgs),
}

#[derive(Args)]
pub struct TrainArgs {
    /// Scene logs with frames (repeatable).
    #[arg(long, required = true, num_args = 1..)]
    data: Vec<PathBuf>,
    /// Config file, or the name of a shipped one (tiny, base).
    #[arg(long, default_value = "tiny")]
    config: String,
    /// Use only these cameras (comma separated; default all).
    #[arg(long, value_delimiter = ',')]
    cameras: Vec<String>,
    #[command(flatten)]
    run: super::RunFlags,
}

#[derive(Args)]
pub struct EncodeArgs {
    /// A trained tokenizer run directory.
    #[arg(long)]
    model: PathBuf,
    /// The scene log whose videos to encode.
    #[arg(long)]
    data: PathBuf,
    /// Output directory for the latents.
    #[arg(long)]
    out: PathBuf,
    #[arg(long, value_delimiter = ',')]
    cameras: Vec<String>,
    #[arg(long, default_value = "cpu")]
    device: String,
}

#[derive(Args)]
pub struct DecodeArgs {
    #[arg(long)]
    model: PathBuf,
    /// A directory written by `worldrig tokenizer encode`.
    #[arg(long)]
    latents: PathBuf,
    /// Output directory: `<clip>/<camera>/<frame>.png`.
    #[arg(long)]
    out: PathBuf,
    #[arg(long, default_value = "cpu")]
    device: String,
}

#[derive(Args)]
pub struct EvalArgs {
    #[arg(long)]
    model: PathBuf,
    /// Held-out scene logs (repeatable).
    #[arg(long, required = true, num_args = 1..)]
    data: Vec<PathBuf>,
    /// Frames per video (the longest `1 + c*n` not above this, nor the video's length).
    #[arg(long, default_value_t = 17)]
    frames: usize,
    /// Single frames per video also encoded as 1-frame clips (images).
    #[arg(long, default_value_t = 2)]
    images: usize,
    #[arg(long, value_delimiter = ',')]
    cameras: Vec<String>,
    /// Write the report here as JSON (atomically).
    #[arg(long)]
    out: Option<PathBuf>,
    #[arg(long)]
    json: bool,
    #[arg(long, default_value = "cpu")]
    device: String,
}

pub fn run(c: TokenizerCommand) -> Result<ExitCode> {
    match c {
        TokenizerCommand::Train(a) => run_train(a),
        TokenizerCommand::Encode(a) => run_encode(a),
        TokenizerCommand::Decode(a) => run_decode(a),
        TokenizerCommand::Eval(a) => run_eval(a),
    }
}

/// Reads a config by path, or a shipped one by name.
pub fn load_config(spec: &str) -> Result<TokenizerFile> {
    let p = Path::new(spec);
    if p.exists() {
        return Ok(TokenizerFile::load(p)?);
    }
    match builtin(spec) {
        Some(text) => Ok(TokenizerFile::from_json(text, &format!("built-in config `{spec}`"))?),
        None => bail!("{spec}: no such config file, and not a shipped config name (tiny, base)"),
    }
}

pub(crate) fn bar(total: u64, what: &str) -> ProgressBar {
    let pb = ProgressBar::new(total);
    pb.set_style(
        ProgressStyle::with_template(&format!("{what} {{bar:30}} {{pos}}/{{len}} [{{elapsed_precise}} < {{eta_precise}}] {{msg}}"))
            .expect("valid template"),
    );
    pb
}

fn run_train(a: TrainArgs) -> Result<ExitCode> {
    let file = load_config(&a.config)?;
    let dev = device::select(&a.run.device)?;
    tracing::info!(logs = a.data.len(), "decoding training videos");
    let videos = load_videos(&a.data, &a.cameras)?;
    let frames: usize = videos.iter().map(|v| v.frames.len()).sum();
    tracing::info!(videos = videos.len(), frames, "training data in memory");
    let opts = TrainOptions { out: a.run.out.clone(), data: a.data.clone(), cameras: a.cameras.clone(), resume: a.run.resume, max_steps_now: a.run.max_steps_now, total_steps: a.run.steps };
    super::train_with_progress(&a.run, file.train.steps, "model.bpk + tokenizer.json", |on_step| train(&file, &videos, &opts, &dev, on_step))
}

fn run_encode(a: EncodeArgs) -> Result<ExitCode> {
    let dev = device::select(&a.device)?;
    let tok = codec::load_run(&a.model, &dev)?;
    let videos = load_videos(std::slice::from_ref(&a.data), &a.cameras)?;
    let tmp = super::partial_dir(&a.out)?;
    let pb = bar(videos.len() as u64, "encode");
    let mut entries = Vec::new();
    for v in &videos {
        let frames = tok.usable_frames(v.frames.len());
        let z = tok.encode(tok.video_tensor(v, frames, &dev)?);
        let [_, c, t, h, w] = z.dims();
        let data = z.into_data();
        let file = format!("{}__{}.npy", sanitize(&v.clip_id), sanitize(&v.camera));
        codec::write_npy_f32(&tmp.join(&file), &[c, t, h, w], data.as_slice::<f32>().map_err(|e| anyhow::anyhow!("{e:?}"))?)?;
        entries.push(LatentEntry {
            file,
            log: a.data.display().to_string(),
            clip_id: v.clip_id.clone(),
            camera: v.camera.clone(),
            frames,
            width: v.width,
            height: v.height,
            shape: vec![c, t, h, w],
        });
        pb.inc(1);
    }
    pb.finish_and_clear();
    let index = LatentIndex { tokenizer: tok.weights.display().to_string(), config: tok.config.clone(), entries };
    write_atomic(&tmp.join("index.json"), serde_json::to_string_pretty(&index)?.as_bytes())?;
    super::publish(&tmp, &a.out)?;
    println!("{}: {} video(s) encoded", a.out.display(), index.entries.len());
    Ok(ExitCode::SUCCESS)
}

fn run_decode(a: DecodeArgs) -> Result<ExitCode> {
    let dev = device::select(&a.device)?;
    let tok = codec::load_run(&a.model, &dev)?;
    let ipath = a.latents.join("index.json");
    let index: LatentIndex =
        serde_json::from_str(&std::fs::read_to_string(&ipath).with_context(|| ipath.display().to_string())?).with_context(|| ipath.display().to_string())?;
    if index.config != tok.config {
        bail!("{}: latents were made by a tokenizer with a different architecture than {}", ipath.display(), a.model.display());
    }
    let tmp = super::partial_dir(&a.out)?;
    let pb = bar(index.entries.len() as u64, "decode");
    for e in &index.entries {
        let p = a.latents.join(&e.file);
        let bytes = std::fs::read(&p).with_context(|| p.display().to_string())?;
        let arr = worldrig_scenelog::npy::parse_npy(&bytes).with_context(|| p.display().to_string())?;
        if arr.shape != e.shape {
            bail!("{}: shape {:?}, index.json says {:?}", p.display(), arr.shape, e.shape);
        }
        let vals: Vec<f32> = arr.as_f64().context("numeric array expected")?.iter().map(|&v| v as f32).collect();
        let z = Tensor::<5>::from_data(TensorData::new(vals, [1, e.shape[0], e.shape[1], e.shape[2], e.shape[3]]), &dev);
        let y = tok.decode(z);
        let [_, _, t, h, w] = y.dims();
        let data = y.into_data();
        let frames = to_unit_frames(data.as_slice::<f32>().map_err(|e| anyhow::anyhow!("{e:?}"))?, t, h, w);
        let dir = tmp.join(sanitize(&e.clip_id)).join(sanitize(&e.camera));
        std::fs::create_dir_all(&dir).with_context(|| dir.display().to_string())?;
        for (k, f) in frames.iter().enumerate() {
            let img = image::RgbImage::from_raw(w as u32, h as u32, unit_to_rgb8(f)).expect("frame size");
            let fp = dir.join(format!("{k:06}.png"));
            img.save(&fp).with_context(|| fp.display().to_string())?;
        }
        pb.inc(1);
    }
    pb.finish_and_clear();
    super::publish(&tmp, &a.out)?;
    println!("{}: {} video(s) decoded", a.out.display(), index.entries.len());
    Ok(ExitCode::SUCCESS)
}

fn run_eval(a: EvalArgs) -> Result<ExitCode> {
    let dev = device::select(&a.device)?;
    let tok = codec::load_run(&a.model, &dev)?;
    let videos = load_videos(&a.data, &a.cameras)?;
    let pb = bar(videos.len() as u64, "eval");
    let report = codec::evaluate(&tok, &videos, a.frames, a.images, &dev, |d, _| pb.set_position(d as u64))?;
    pb.finish_and_clear();
    if let Some(out) = &a.out {
        write_atomic(out, serde_json::to_string_pretty(&report)?.as_bytes())?;
    }
    if a.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        println!(
            "{} videos at {}x{}: PSNR {:.2} dB, SSIM {:.4}; {} single images: PSNR {:.2} dB, SSIM {:.4}; encode {:.1} frames/s, decode {:.1} frames/s",
            report.videos.len(),
            report.width,
            report.height,
            report.video_psnr_db,
            report.video_ssim,
            report.images,
            report.image_psnr_db,
            report.image_ssim,
            report.encode_frames_per_s,
            report.decode_frames_per_s
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn sanitize(s: &str) -> String {
    s.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.' { c } else { '_' }).collect()
}
