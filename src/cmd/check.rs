//! `worldrig check`: geometric consistency of a scene log's video (TSE, CSE, pose-estimation
//! success, TAE), written as `report.json` and a self-contained `report.html`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use worldrig_check::metrics::{check_log, CheckOptions};
use worldrig_check::report::{write_html, write_json};
use worldrig_check::result::{CheckReport, Summary};

#[derive(Args)]
pub struct CheckArgs {
    /// The scene log to check (real, simulated or generated).
    log: PathBuf,
    /// Directory for report.json and report.html (created if missing).
    #[arg(long)]
    out: PathBuf,
    /// Check only these clips (comma separated; default all).
    #[arg(long, value_delimiter = ',')]
    clips: Vec<String>,
    /// Check only these cameras (comma separated; default all).
    #[arg(long, value_delimiter = ',')]
    cameras: Vec<String>,
    /// Options as JSON (the `config` object of a previous report.json); flags override it.
    #[arg(long)]
    config: Option<PathBuf>,
    /// RANSAC seed.
    #[arg(long)]
    seed: Option<u64>,
    /// Use every N-th frame.
    #[arg(long)]
    frame_step: Option<usize>,
    /// At most this many frames per clip.
    #[arg(long)]
    max_frames: Option<usize>,
    /// Skip cross-camera pairs (no CSE).
    #[arg(long)]
    no_cross: bool,
    /// Skip temporal pairs (no TSE, no TAE).
    #[arg(long)]
    no_temporal: bool,
    /// Print the summary as JSON on stdout.
    #[arg(long)]
    json: bool,
    /// Exit with status 1 when a higher-is-better metric is below VALUE (repeatable):
    /// pose_success_pairs, cross_pose_success_pairs, pose_success_clips.
    #[arg(long = "fail-under", value_name = "METRIC=VALUE")]
    fail_under: Vec<String>,
    /// Exit with status 1 when a lower-is-better metric is above VALUE (repeatable): tse_px, cse_px,
    /// tse_logged_px, cse_logged_px, median_rotation_error_deg, median_translation_error_deg, ate_m, rpe_translation_m, rpe_rotation_deg.
    #[arg(long = "fail-above", value_name = "METRIC=VALUE")]
    fail_above: Vec<String>,
}

const HIGHER_BETTER: [&str; 3] = ["pose_success_pairs", "cross_pose_success_pairs", "pose_success_clips"];
const LOWER_BETTER: [&str; 9] =
    ["tse_px", "cse_px", "tse_logged_px", "cse_logged_px", "median_rotation_error_deg", "median_translation_error_deg", "ate_m", "rpe_translation_m", "rpe_rotation_deg"];

fn metric(s: &Summary, name: &str) -> Option<f64> {
    match name {
        "pose_success_pairs" => s.pose_success_pairs,
        "pose_success_clips" => s.pose_success_clips,
        "cross_pose_success_pairs" => s.cross_pose_success_pairs,
        "tse_logged_px" => s.tse_logged_px,
        "cse_logged_px" => s.cse_logged_px,
        "tse_px" => s.tse_px,
        "cse_px" => s.cse_px,
        "median_rotation_error_deg" => s.median_rotation_error_deg,
        "median_translation_error_deg" => s.median_translation_error_deg,
        "ate_m" => s.ate_m,
        "rpe_translation_m" => s.rpe_translation_m,
        "rpe_rotation_deg" => s.rpe_rotation_deg,
        _ => None,
    }
}

/// Parses `METRIC=VALUE` gates, checking the metric belongs to `allowed`.
fn parse_gates(raw: &[String], flag: &str, allowed: &[&str], other_flag: &str, other: &[&str]) -> Result<Vec<(String, f64)>> {
    raw.iter()
        .map(|g| {
            let Some((name, value)) = g.split_once('=') else { bail!("{flag} {g}: expected METRIC=VALUE") };
            if other.contains(&name) {
                bail!("{flag} {g}: `{name}` is better when lower; use {other_flag}");
            }
            if !allowed.contains(&name) {
                bail!("{flag} {g}: unknown metric `{name}` (one of {})", allowed.join(", "));
            }
            let v: f64 = value.parse().with_context(|| format!("{flag} {g}: `{value}` is not a number"))?;
            Ok((name.to_string(), v))
        })
        .collect()
}

pub(crate) fn fmt(v: Option<f64>, unit: &str) -> String {
    v.map_or("n/a".to_string(), |x| format!("{x:.3}{unit}"))
}

pub fn run(a: CheckArgs) -> Result<ExitCode> {
    let under = parse_gates(&a.fail_under, "--fail-under", &HIGHER_BETTER, "--fail-above", &LOWER_BETTER)?;
    let above = parse_gates(&a.fail_above, "--fail-above", &LOWER_BETTER, "--fail-under", &HIGHER_BETTER)?;
    let mut opts = match &a.config {
        Some(p) => {
            let text = std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?;
            serde_json::from_str::<CheckOptions>(&text).with_context(|| format!("parsing check options in {}", p.display()))?
        }
        None => CheckOptions::default(),
    };
    if !a.clips.is_empty() {
        opts.clips = a.clips.clone();
    }
    if !a.cameras.is_empty() {
        opts.cameras = a.cameras.clone();
    }
    if let Some(s) = a.seed {
        opts.two_view.seed = s;
    }
    if let Some(s) = a.frame_step {
        anyhow::ensure!(s >= 1, "--frame-step must be at least 1");
        opts.frame_step = s;
    }
    if a.max_frames.is_some() {
        opts.max_frames = a.max_frames;
    }
    opts.cross &= !a.no_cross;
    opts.temporal &= !a.no_temporal;
    anyhow::ensure!(opts.cross || opts.temporal, "--no-cross and --no-temporal leave nothing to check");

    let report = check_to(&a.log, &opts, &a.out)?;
    let html_path = a.out.join("report.html");

    let s = &report.summary;
    if a.json {
        println!("{}", serde_json::to_string_pretty(s)?);
    } else {
        println!(
            "{} clip(s), {} pairs in {:.1} s ({:.1} pairs/s)\n  TSE {}  CSE {}  (against the logged geometry: {} / {})\n  pose success: temporal pairs {}  cross pairs {}  clips {}\n  median rotation error {}  translation-direction error {}\n  TAE: ATE {}  RPE {} / {}\n  report: {}",
            s.clips,
            s.pairs,
            s.elapsed_s,
            s.pairs_per_s,
            fmt(s.tse_px, " px"),
            fmt(s.cse_px, " px"),
            fmt(s.tse_logged_px, " px"),
            fmt(s.cse_logged_px, " px"),
            fmt(s.pose_success_pairs.map(|x| 100.0 * x), " %"),
            fmt(s.cross_pose_success_pairs.map(|x| 100.0 * x), " %"),
            fmt(s.pose_success_clips.map(|x| 100.0 * x), " %"),
            fmt(s.median_rotation_error_deg, " deg"),
            fmt(s.median_translation_error_deg, " deg"),
            fmt(s.ate_m, " m"),
            fmt(s.rpe_translation_m, " m"),
            fmt(s.rpe_rotation_deg, " deg"),
            html_path.display()
        );
    }

    let mut failed = Vec::new();
    for (name, limit) in &under {
        match metric(s, name) {
            Some(v) if v >= *limit => {}
            Some(v) => failed.push(format!("{name} = {v:.4} is below {limit}")),
            None => failed.push(format!("{name} could not be measured (limit {limit})")),
        }
    }
    for (name, limit) in &above {
        match metric(s, name) {
            Some(v) if v <= *limit => {}
            Some(v) => failed.push(format!("{name} = {v:.4} is above {limit}")),
            None => failed.push(format!("{name} could not be measured (limit {limit})")),
        }
    }
    if failed.is_empty() {
        Ok(ExitCode::SUCCESS)
    } else {
        for f in &failed {
            eprintln!("check failed: {f}");
        }
        Ok(ExitCode::from(1))
    }
}

/// Checks `log` with a progress bar and writes `report.json` and `report.html` into `out`.
pub(crate) fn check_to(log: &Path, opts: &CheckOptions, out: &Path) -> Result<CheckReport> {
    let bar = ProgressBar::new(0);
    bar.set_style(
        ProgressStyle::with_template("{spinner} checking [{bar:30}] {pos}/{len} frames+pairs {elapsed_precise} eta {eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    let progress = |done: usize, total: usize| {
        bar.set_length(total as u64);
        bar.set_position(done as u64);
    };
    let report = check_log(log, opts, &progress).with_context(|| format!("checking {}", log.display()))?;
    bar.finish_and_clear();
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    write_json(&report, &out.join("report.json"))?;
    write_html(&report, &out.join("report.html"))?;
    Ok(report)
}
