//! `worldrig sim`: procedural multi-camera driving clips with exact ground truth, or the HD-map
//! condition video of a logged drive (`--from-log`).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Args, ValueEnum};
use serde::de::DeserializeOwned;
use worldrig_scene::Rig;
use worldrig_sim::fromlog::{simulate_from_log, FromLogConfig};
use worldrig_sim::generate::WorldParams;
use worldrig_sim::simulate::{simulate, SimConfig};

use super::rig::{load_rig, parse_resolution};

/// The default rig: Cosmos' six cameras of NVIDIA's median calibration at the working resolution.
const DEFAULT_RIG: &str = include_str!("../../configs/rigs/cosmos-6cam-448x256.json");

#[derive(Clone, Copy, ValueEnum)]
pub enum Preset {
    /// 1 clip, 4 frames at 10 Hz, 224x128: tests and CI.
    Tiny,
    /// 2 clips, 20 frames at 10 Hz, 448x256: the shipped sample dataset.
    Small,
    /// 8 clips, 40 frames at 10 Hz, 448x256: training data for the tiny models.
    Base,
}

impl Preset {
    /// (clips, frames, fps, width, height)
    fn values(self) -> (usize, usize, f64, u32, u32) {
        match self {
            Preset::Tiny => (1, 4, 10.0, 224, 128),
            Preset::Small => (2, 20, 10.0, 448, 256),
            Preset::Base => (8, 40, 10.0, 448, 256),
        }
    }
}

#[derive(Args)]
pub struct SimArgs {
    /// The scene log to write.
    #[arg(long)]
    out: PathBuf,
    /// Defaults for clips, frames, fps and resolution (flags override).
    #[arg(long, value_enum, default_value = "small")]
    preset: Preset,
    #[arg(long)]
    clips: Option<usize>,
    #[arg(long)]
    frames: Option<usize>,
    #[arg(long)]
    fps: Option<f64>,
    /// Rig config (default: configs/rigs/cosmos-6cam-448x256.json, built in).
    #[arg(long)]
    rig: Option<PathBuf>,
    /// Render at WIDTHxHEIGHT (the rig is rescaled exactly).
    #[arg(long)]
    resolution: Option<String>,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// straight, curved or intersection (default: drawn from the seed per clip).
    #[arg(long)]
    layout: Option<String>,
    /// Lanes each way, 1-4.
    #[arg(long)]
    lanes: Option<u32>,
    /// cruise, turn_left, turn_right, lane_change_left, lane_change_right, stop_and_go.
    #[arg(long)]
    manoeuvre: Option<String>,
    /// morning, noon, afternoon, dusk.
    #[arg(long)]
    time_of_day: Option<String>,
    /// clear, overcast, fog, rain.
    #[arg(long)]
    weather: Option<String>,
    /// Add pedestrians on sidewalks and crosswalks.
    #[arg(long)]
    pedestrians: bool,
    /// Render the HD map of this log along its ego trajectory instead of a procedural world.
    #[arg(long)]
    from_log: Option<PathBuf>,
    /// With --from-log: at most this many frames per clip.
    #[arg(long)]
    max_frames: Option<usize>,
    /// Replace an existing output log.
    #[arg(long)]
    overwrite: bool,
}

fn parse_enum<T: DeserializeOwned>(what: &str, s: &str) -> Result<T> {
    serde_json::from_value(serde_json::Value::String(s.to_string())).with_context(|| format!("invalid --{what} `{s}`"))
}

pub fn run(a: SimArgs) -> Result<ExitCode> {
    let (clips, frames, fps, w, h) = a.preset.values();
    let (clips, frames, fps) = (a.clips.unwrap_or(clips), a.frames.unwrap_or(frames), a.fps.unwrap_or(fps));
    anyhow::ensure!(fps > 0.0 && fps.is_finite(), "--fps must be positive");
    let resolution = match &a.resolution {
        Some(r) => Some(parse_resolution(r)?),
        None => None,
    };
    if let Some(src) = &a.from_log {
        let rig = match &a.rig {
            Some(p) => Some(load_rig(p, a.resolution.as_deref())?),
            None => None,
        };
        let cfg = FromLogConfig { rig, resolution: resolution.or(Some((w, h))), fps, max_frames: a.max_frames, max_dist_m: 120.0, overwrite: a.overwrite, progress: true };
        let n = simulate_from_log(src, &a.out, &cfg).with_context(|| format!("rendering the HD map of {}", src.display()))?;
        println!("wrote {}: {n} HD-map camera-frames", a.out.display());
        return Ok(ExitCode::SUCCESS);
    }
    let rig = match &a.rig {
        Some(p) => load_rig(p, None)?,
        None => Rig::from_json(DEFAULT_RIG).context("built-in rig")?,
    };
    let (rw, rh) = resolution.unwrap_or((w, h));
    let rig = rig.scaled_to(rw, rh)?;
    if let Some(l) = a.lanes {
        anyhow::ensure!((1..=4).contains(&l), "--lanes must be 1-4");
    }
    let world = WorldParams {
        seed: 0,
        duration_s: 0.0,
        layout: a.layout.as_deref().map(|s| parse_enum("layout", s)).transpose()?,
        lanes_each_way: a.lanes,
        manoeuvre: a.manoeuvre.as_deref().map(|s| parse_enum("manoeuvre", s)).transpose()?,
        time_of_day: a.time_of_day.as_deref().map(|s| parse_enum("time-of-day", s)).transpose()?,
        weather: a.weather.as_deref().map(|s| parse_enum("weather", s)).transpose()?,
        pedestrians: a.pedestrians,
    };
    let cfg = SimConfig { clips, frames, fps, seed: a.seed, rig, world, chunk_frames: 4, overwrite: a.overwrite, progress: true };
    let report = simulate(&cfg, &a.out).with_context(|| format!("simulating into {}", a.out.display()))?;
    println!(
        "wrote {}: {} clip(s), {} camera-frames ({:.1} MB of PNG) in {:.1} s ({:.1} camera-frames/s)",
        a.out.display(),
        report.clips.len(),
        report.camera_frames,
        report.png_bytes as f64 / 1e6,
        report.seconds,
        report.camera_frames as f64 / report.seconds
    );
    Ok(ExitCode::SUCCESS)
}
