//! `worldrig import rds-hq` and `worldrig import strecha`.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Subcommand;
use worldrig_scenelog::calib::embedded_av22_rig;
use worldrig_scenelog::rdshq::{import_rds_hq, ImportOptions};
use worldrig_scenelog::strecha::{import_strecha, StrechaOptions};

use super::rig::load_rig;

#[derive(Subcommand)]
pub enum ImportCommand {
    /// Convert an RDS-HQ layout (one tar per clip per modality folder) into a scene log.
    RdsHq {
        /// The layout's root (holding vehicle_pose/, ftheta_intrinsic/, 3d_*/, ...).
        dir: PathBuf,
        /// The scene log to write (must not exist unless --overwrite).
        #[arg(long)]
        out: PathBuf,
        /// Rig config supplying extrinsics for cameras without per-camera poses
        /// (default: the shipped NVIDIA av22 median calibration, configs/rigs/av22-7cam.json).
        #[arg(long)]
        calibration: Option<PathBuf>,
        /// Import only these cameras (comma separated).
        #[arg(long, value_delimiter = ',')]
        cameras: Vec<String>,
        /// Pose rate of the layout in frames per second.
        #[arg(long, default_value_t = 30.0)]
        fps: f64,
        /// Caption to attach to every clip (repeatable).
        #[arg(long = "caption")]
        captions: Vec<String>,
        /// Replace an existing log.
        #[arg(long)]
        overwrite: bool,
        /// Print the import report as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Convert Strecha et al. (CVPR 2008) multi-view scenes (NNNN.jpg + NNNN.jpg.camera with
    /// ground-truth K, R, C) into a scene log of real photographs with exact poses.
    ///
    /// Each scene directory becomes one clip (clip id = the directory name) of a rig `strecha` with
    /// one pinhole camera `camera` (rig_from_camera = the FLU<-RDF axis change); image i in
    /// file-name order is frame i at timestamp i seconds (the benchmark has no capture times); the
    /// JPEG bytes are stored as-is; ego poses are world_from_camera * camera_from_rig in the
    /// benchmark's own world frame. All scenes of one log share the rig, so every .camera file
    /// must hold the same K and image size: scenes with different cameras are refused (import
    /// them into separate logs).
    #[command(verbatim_doc_comment)]
    Strecha {
        /// Scene directories (e.g. fountain-P11 Herz-Jesus-P8), one clip each.
        #[arg(required = true, num_args = 1..)]
        dirs: Vec<PathBuf>,
        /// The scene log to write (must not exist unless --overwrite).
        #[arg(long)]
        out: PathBuf,
        /// Replace an existing log.
        #[arg(long)]
        overwrite: bool,
        /// Print the import report as JSON.
        #[arg(long)]
        json: bool,
    },
}

pub fn run(cmd: ImportCommand) -> Result<ExitCode> {
    match cmd {
        ImportCommand::RdsHq { dir, out, calibration, cameras, fps, captions, overwrite, json } => {
            anyhow::ensure!(fps > 0.0 && fps.is_finite(), "--fps must be positive");
            let calibration = match calibration {
                Some(p) => load_rig(&p, None)?,
                None => embedded_av22_rig(),
            };
            let opts = ImportOptions { pose_fps: fps, calibration, cameras, extra_captions: captions, overwrite };
            let report = import_rds_hq(&dir, &out, &opts).with_context(|| format!("importing {} into {}", dir.display(), out.display()))?;
            if json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                let map: Vec<String> = report.map_elements.iter().map(|(k, n)| format!("{k} {n}")).collect();
                println!(
                    "imported {} clip(s) into {}: {} cameras, {} ego poses, {} objects, map: {}",
                    report.clips.len(),
                    out.display(),
                    report.cameras,
                    report.poses,
                    report.objects,
                    if map.is_empty() { "none".into() } else { map.join(", ") }
                );
                for n in &report.notes {
                    println!("note: {n}");
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        ImportCommand::Strecha { dirs, out, overwrite, json } => {
            let report = import_strecha(&dirs, &out, &StrechaOptions { overwrite }).with_context(|| format!("importing Strecha scenes into {}", out.display()))?;
            if json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                let clips: Vec<String> = report.clips.iter().map(|c| format!("{} ({} frames)", c.clip_id, c.frames)).collect();
                let cam = &report.camera;
                println!(
                    "imported {} clip(s) into {}: {}; rig `{}`, pinhole {}x{} fx {} fy {} cx {} cy {}, frames {} s apart",
                    report.clips.len(),
                    out.display(),
                    clips.join(", "),
                    report.rig_id,
                    cam.width,
                    cam.height,
                    cam.fx,
                    cam.fy,
                    cam.cx,
                    cam.cy,
                    report.frame_interval_us as f64 / 1e6
                );
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}
