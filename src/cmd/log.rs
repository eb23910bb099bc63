//! `worldrig log validate|inspect`.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Subcommand;
use worldrig_scenelog::inspect::{inspect, LogSummary};
use worldrig_scenelog::rewrite::rewrite;
use worldrig_scenelog::validate::{validate, ValidateOptions};
use worldrig_scenelog::WriterOptions;

#[derive(Subcommand)]
pub enum LogCommand {
    /// Check every rule of the scene-log format; exit 1 when any problem is found.
    Validate {
        /// The scene log (a directory of Parquet tables).
        path: PathBuf,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
        /// List at most this many problems (all are counted).
        #[arg(long, default_value_t = 100)]
        max_issues: usize,
        /// Only parse image headers instead of decoding every image.
        #[arg(long)]
        no_decode: bool,
    },
    /// Copy a log (any accepted encoding) into worldrig's canonical form.
    Rewrite {
        path: PathBuf,
        #[arg(long)]
        out: PathBuf,
        /// Frames per Parquet row group.
        #[arg(long, default_value_t = 64)]
        frames_per_row_group: usize,
        /// Replace an existing output log.
        #[arg(long)]
        overwrite: bool,
    },
    /// Summarise a scene log: clips, cameras, duration, rates, distance, frames per camera.
    Inspect {
        path: PathBuf,
        #[arg(long)]
        json: bool,
    },
}

pub fn run(cmd: LogCommand) -> Result<ExitCode> {
    match cmd {
        LogCommand::Validate { path, json, max_issues, no_decode } => {
            let opts = ValidateOptions { max_issues, decode_images: !no_decode };
            let report = validate(&path, &opts).with_context(|| format!("validating {}", path.display()))?;
            if json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                for p in &report.problems {
                    println!("{p}");
                }
                if report.problem_count > report.problems.len() {
                    println!("... and {} more", report.problem_count - report.problems.len());
                }
                let tables: Vec<String> = report.tables.iter().map(|(t, n)| format!("{t} ({n} file{})", if *n == 1 { "" } else { "s" })).collect();
                println!(
                    "{}: {} ({} clip(s), {} frame(s); tables: {})",
                    path.display(),
                    if report.valid { "valid".to_string() } else { format!("INVALID, {} problem(s)", report.problem_count) },
                    report.clips,
                    report.frames,
                    tables.join(", ")
                );
            }
            Ok(if report.valid { ExitCode::SUCCESS } else { ExitCode::from(1) })
        }
        LogCommand::Rewrite { path, out, frames_per_row_group, overwrite } => {
            anyhow::ensure!(frames_per_row_group > 0, "--frames-per-row-group must be positive");
            let opts = WriterOptions { frames_per_row_group, overwrite, ..Default::default() };
            let stats = rewrite(&path, &out, opts).with_context(|| format!("rewriting {} into {}", path.display(), out.display()))?;
            println!(
                "wrote {}: {} rig(s), {} clip(s), {} poses, {} objects, {} map elements, {} frames",
                out.display(),
                stats.rigs,
                stats.clips,
                stats.poses,
                stats.objects,
                stats.map_elements,
                stats.frames
            );
            Ok(ExitCode::SUCCESS)
        }
        LogCommand::Inspect { path, json } => {
            let summary = inspect(&path).with_context(|| format!("inspecting {}", path.display()))?;
            if json {
                println!("{}", serde_json::to_string_pretty(&summary)?);
            } else {
                print_summary(&summary);
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn print_summary(s: &LogSummary) {
    println!("scene log {}", s.path.display());
    for (rig, cams) in &s.rigs {
        println!("rig {rig}: {} camera(s): {}", cams.len(), cams.join(", "));
    }
    println!("{} clip(s)", s.clips.len());
    for c in &s.clips {
        println!("clip {}", c.clip_id);
        println!("  source       {} ({})", c.source, c.generator);
        println!("  rig          {} ({} cameras)", c.rig_id, c.cameras.len());
        println!("  duration     {:.2} s", c.duration_s);
        println!("  frame rate   {:.2} Hz", c.frame_rate_hz);
        println!("  ego poses    {} at {:.2} Hz", c.pose_count, c.pose_rate_hz);
        println!("  distance     {:.1} m", c.distance_m);
        if c.frames_per_camera.is_empty() {
            println!("  frames       none (label-only clip)");
        } else {
            println!("  frames       {} in all", c.frames_per_camera.values().sum::<u64>());
            for cam in &c.cameras {
                println!("    {:<32} {}", cam, c.frames_per_camera.get(cam).copied().unwrap_or(0));
            }
        }
        if c.object_samples > 0 {
            println!("  objects      {} tracks, {} samples", c.object_tracks, c.object_samples);
        }
        if !c.map_elements.is_empty() {
            let m: Vec<String> = c.map_elements.iter().map(|(k, n)| format!("{k} {n}")).collect();
            println!("  map          {}", m.join(", "));
        }
        for cap in &c.captions {
            println!("  caption      {cap}");
        }
        if let Some(n) = &c.notes {
            println!("  notes        {n}");
        }
    }
}
