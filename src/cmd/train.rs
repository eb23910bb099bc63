//! `worldrig train text2world`: diffusion pre-training of the DiT on single-camera clips.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use clap::{Args, Subcommand};
use worldrig_model::device;
use worldrig_model::dit::DitFile;
use worldrig_model::multiview::{MvFile, MvOptions};
use worldrig_model::text2world::{train, T2wOptions};


#[derive(Subcommand)]
pub enum TrainCommand {
    /// Text2World: the caption-conditioned single-view video diffusion model (resumable).
    Text2world(Text2WorldArgs),
    /// Multi-view: post-train a Text2World run on multi-camera logs, conditioned on the ego trajectory (resumable).
    Multiview(MultiviewArgs),
}

#[derive(Args)]
pub struct MultiviewArgs {
    /// The Text2World run to start from (`worldrig train text2world`).
    #[arg(long)]
    init: PathBuf,
    /// Multi-camera scene logs with frames, ego poses and captions (repeatable; one rig layout).
    #[arg(long, required = true, num_args = 1..)]
    data: Vec<PathBuf>,
    /// Multi-view config file, or the name of a shipped one (tiny).
    #[arg(long, default_value = "tiny")]
    config: String,
    #[command(flatten)]
    run: super::RunFlags,
}

#[derive(Args)]
pub struct Text2WorldArgs {
    /// Scene logs with frames and captions (repeatable); every camera of every clip is a training video.
    #[arg(long, required = true, num_args = 1..)]
    data: Vec<PathBuf>,
    /// A trained tokenizer run (`worldrig tokenizer train`).
    #[arg(long)]
    tokenizer: PathBuf,
    /// DiT config file, or the name of a shipped one (tiny).
    #[arg(long, default_value = "tiny")]
    config: String,
    /// Use only these cameras (comma separated; default all).
    #[arg(long, value_delimiter = ',')]
    cameras: Vec<String>,
    #[command(flatten)]
    run: super::RunFlags,
}

pub fn run(c: TrainCommand) -> Result<ExitCode> {
    match c {
        TrainCommand::Text2world(a) => run_text2world(a),
        TrainCommand::Multiview(a) => run_multiview(a),
    }
}

fn run_multiview(a: MultiviewArgs) -> Result<ExitCode> {
    let file = MvFile::resolve(&a.config)?;
    let dev = device::select(&a.run.device)?;
    let opts = MvOptions { out: a.run.out.clone(), data: a.data.clone(), init: a.init.clone(), resume: a.run.resume, max_steps_now: a.run.max_steps_now, total_steps: a.run.steps };
    super::train_with_progress(&a.run, file.train.steps, "model.bpk", |on_step| worldrig_model::multiview::train::train(&file, &opts, &dev, on_step))
}

fn run_text2world(a: Text2WorldArgs) -> Result<ExitCode> {
    let file = DitFile::resolve(&a.config)?;
    let dev = device::select(&a.run.device)?;
    let opts = T2wOptions {
        out: a.run.out.clone(),
        data: a.data.clone(),
        cameras: a.cameras.clone(),
        tokenizer: a.tokenizer.clone(),
        resume: a.run.resume,
        max_steps_now: a.run.max_steps_now,
        total_steps: a.run.steps,
    };
    super::train_with_progress(&a.run, file.train.steps, "model.bpk", |on_step| train(&file, &opts, &dev, on_step))
}
