//! One module per subcommand group, and what several of them share.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

pub mod check;
pub mod demo;
pub mod generate;
pub mod generate_mv;
pub mod import;
pub mod log;
pub mod rig;
pub mod sim;
pub mod tokenizer;
pub mod train;
pub mod video;

/// An empty temporary directory beside `out` (`.NAME.partial`), renamed to `out` by [`publish`]
/// once everything is written, so a failed run leaves no half-written output.
pub fn partial_dir(out: &Path) -> Result<PathBuf> {
    let tmp = out.with_file_name(format!(".{}.partial", out.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default()));
    if tmp.exists() {
        std::fs::remove_dir_all(&tmp).with_context(|| tmp.display().to_string())?;
    }
    std::fs::create_dir_all(&tmp).with_context(|| tmp.display().to_string())?;
    Ok(tmp)
}

/// Replaces `out` by the finished temporary directory `tmp`.
pub fn publish(tmp: &Path, out: &Path) -> Result<()> {
    if out.exists() {
        std::fs::remove_dir_all(out).with_context(|| out.display().to_string())?;
    }
    std::fs::rename(tmp, out).with_context(|| format!("renaming {} to {}", tmp.display(), out.display()))
}

/// Flags every training command shares.
#[derive(clap::Args)]
pub struct RunFlags {
    /// Run directory (config.json, losses.jsonl, checkpoints/, and at the end the exported weights).
    #[arg(long)]
    pub out: PathBuf,
    /// Continue the run in --out from its newest checkpoint.
    #[arg(long)]
    pub resume: bool,
    /// Override train.steps, the run's total (also with --resume: the schedule is stretched from the current step).
    #[arg(long)]
    pub steps: Option<u64>,
    /// Stop after this many steps in this invocation (resume later with --resume).
    #[arg(long)]
    pub max_steps_now: Option<u64>,
    /// Backend: cpu (burn flex), or wgpu / vulkan / cuda when built with that feature.
    #[arg(long, default_value = "cpu")]
    pub device: String,
}

/// Runs a training command's loop under a progress bar (the run's total steps, loss and learning
/// rate), then prints its closing line.
pub fn train_with_progress<E>(
    run: &RunFlags,
    config_steps: u64,
    exported: &str,
    train: impl FnOnce(&dyn Fn(worldrig_model::train::StepInfo)) -> std::result::Result<worldrig_model::train::TrainSummary, E>,
) -> Result<std::process::ExitCode>
where
    anyhow::Error: From<E>,
{
    let pb = tokenizer::bar(run.steps.unwrap_or(config_steps), "train");
    let summary = train(&|s| {
        pb.set_length(s.total);
        pb.set_position(s.step);
        pb.set_message(format!("loss {:.4} lr {:.2e}", s.loss, s.lr));
    })?;
    pb.finish_and_clear();
    report_training(&run.out, &summary, exported);
    Ok(std::process::ExitCode::SUCCESS)
}

/// The closing line of a training command.
fn report_training(out: &Path, summary: &worldrig_model::train::TrainSummary, exported: &str) {
    println!(
        "{}: step {}/{} ({}), loss {:.4}{}, {:.0} s of training in all",
        out.display(),
        summary.steps_done,
        summary.total_steps,
        if summary.finished { format!("finished: {exported} written") } else { "resume with --resume".to_string() },
        summary.last_loss,
        match summary.first_loss {
            Some(f) => format!(" (first step of this run {f:.4}; {:.2} s/step)", summary.seconds_per_step),
            None => " (no steps run now)".to_string(),
        },
        summary.seconds
    );
}
