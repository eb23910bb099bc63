//! `worldrig rig from-calib|show`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use clap::Subcommand;
use worldrig_scene::camera::max_round_trip_error_px;
use worldrig_scene::{Camera, CameraModel, Rig};
use worldrig_scenelog::calib::{rig_from_av22_npz, rig_from_front_at, DEFAULT_FRONT_MOUNT_M};

#[derive(Subcommand)]
pub enum RigCommand {
    /// Derive a rig config from NVIDIA's av22_median_calib.npz.
    FromCalib {
        /// The calibration file.
        npz: PathBuf,
        /// Rig name written into the config.
        #[arg(long, default_value = "av22-7cam")]
        name: String,
        /// Keep only these cameras, in this order (comma separated RDS-HQ names).
        #[arg(long, value_delimiter = ',')]
        cameras: Vec<String>,
        /// Rescale every camera to WIDTHxHEIGHT (f-theta scales exactly through its linear term).
        #[arg(long)]
        resolution: Option<String>,
        /// Front camera position in the rig frame (x,y,z metres; FLU, rear-axle origin).
        #[arg(long, value_delimiter = ',', num_args = 3, default_values_t = DEFAULT_FRONT_MOUNT_M)]
        front_mount: Vec<f64>,
        /// Output JSON path.
        #[arg(long)]
        out: PathBuf,
    },
    /// Print a rig config's cameras, fields of view and projection round-trip error.
    Show {
        rig: PathBuf,
        /// Rescale first (WIDTHxHEIGHT).
        #[arg(long)]
        resolution: Option<String>,
    },
}

/// Parses `WIDTHxHEIGHT`.
pub fn parse_resolution(s: &str) -> Result<(u32, u32)> {
    let (w, h) = s.split_once(['x', 'X']).with_context(|| format!("resolution `{s}` is not WIDTHxHEIGHT"))?;
    let (w, h): (u32, u32) = (w.trim().parse().context("width")?, h.trim().parse().context("height")?);
    if w == 0 || h == 0 {
        bail!("resolution `{s}` must be positive");
    }
    Ok((w, h))
}

/// Loads a rig config, optionally rescaled.
pub fn load_rig(path: &Path, resolution: Option<&str>) -> Result<Rig> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let rig = Rig::from_json(&text).with_context(|| format!("parsing rig config {}", path.display()))?;
    match resolution {
        Some(r) => {
            let (w, h) = parse_resolution(r)?;
            Ok(rig.scaled_to(w, h)?)
        }
        None => Ok(rig),
    }
}

/// Writes `text` to `path` through a temporary file renamed on success.
pub fn write_atomic(path: &Path, text: &str) -> Result<()> {
    let tmp = path.with_extension(format!("tmp-{}", std::process::id()));
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    std::fs::write(&tmp, text).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("renaming {} to {}", tmp.display(), path.display()))?;
    Ok(())
}

pub fn run(cmd: RigCommand) -> Result<ExitCode> {
    match cmd {
        RigCommand::FromCalib { npz, name, cameras, resolution, front_mount, out } => {
            let mount = [front_mount[0], front_mount[1], front_mount[2]];
            let mut rig = rig_from_av22_npz(&npz, &rig_from_front_at(mount), &name)?;
            if !cameras.is_empty() {
                let names: Vec<&str> = cameras.iter().map(String::as_str).collect();
                rig = rig.subset(&name, &names)?;
            }
            if let Some(r) = resolution {
                let (w, h) = parse_resolution(&r)?;
                rig = rig.scaled_to(w, h)?;
            }
            write_atomic(&out, &(rig.to_json_pretty() + "\n"))?;
            tracing::info!("wrote rig `{}` with {} cameras to {}", rig.name, rig.cameras.len(), out.display());
            Ok(ExitCode::SUCCESS)
        }
        RigCommand::Show { rig, resolution } => {
            let rig = load_rig(&rig, resolution.as_deref())?;
            println!("rig {} ({} cameras)", rig.name, rig.cameras.len());
            if !rig.source.is_empty() {
                println!("source: {}", rig.source);
            }
            for c in &rig.cameras {
                let t = c.rig_from_camera.translation.vector;
                let a = c.optical_axis_rig();
                let yaw = a.y.atan2(a.x).to_degrees();
                let fov = match &c.model {
                    Camera::Ftheta(f) => format!("max ray angle {:.1} deg", f.max_ray_angle_rad().to_degrees()),
                    Camera::Pinhole(p) => format!("hfov {:.1} deg", (2.0 * (p.width as f64 / (2.0 * p.fx)).atan()).to_degrees()),
                };
                println!(
                    "  {:<28} {:<7} {}x{}  at ({:+.2}, {:+.2}, {:+.2}) m  yaw {:+6.1} deg  {}  round trip {:.1e} px",
                    c.name,
                    c.model.kind(),
                    c.model.width(),
                    c.model.height(),
                    t.x,
                    t.y,
                    t.z,
                    yaw,
                    fov,
                    max_round_trip_error_px(&c.model, 64)
                );
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}
