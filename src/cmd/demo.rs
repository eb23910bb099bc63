//! `worldrig demo`: the whole product in one command. Simulate a six-camera scene with exact ground
//! truth, generate the same drive with the bundled multi-view model (its rig, its ego trajectory,
//! its caption), score both with the geometric consistency checker, and write an HTML report with
//! the two panoramas and the metrics side by side.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{bail, ensure, Context, Result};
use clap::{Args, Parser};
use serde::Serialize;
use worldrig_check::metrics::CheckOptions;
use worldrig_check::result::Summary;
use worldrig_model::data::load_videos;
use worldrig_model::multiview::MvCard;
use worldrig_scenelog::{Diag, SceneLog};

use super::check::{check_to, fmt};
use super::generate::GenerateArgs;
use super::generate_mv::{panorama, panorama_layout};
use super::sim::SimArgs;
use super::video::write_videos;
use super::{partial_dir, publish};

/// The bundled multi-view checkpoint, relative to the working directory or, failing that, to the
/// source tree the binary was built from.
const BUNDLED: &str = "checkpoints/multiview-tiny";

#[derive(Args)]
pub struct DemoArgs {
    /// The multi-view run to generate with (default: the bundled checkpoints/multiview-tiny).
    #[arg(long)]
    model: Option<PathBuf>,
    /// Output directory: report.html, demo.json, scene.log (simulated), generated/ (frames,
    /// panorama.mp4 and .gif, scene log), check-scene/ and check-generated/ (checker reports).
    #[arg(long, default_value = "out/demo")]
    out: PathBuf,
    /// Seed of the simulated scene and of the sampler.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Latent frames of every camera given from the simulated clip (1: its first frame; 0: generate
    /// from the caption, the rig and the trajectory alone).
    #[arg(long, default_value_t = 1)]
    condition_frames: usize,
    /// Sampler steps (default: the run's).
    #[arg(long)]
    steps: Option<usize>,
    /// Replace --out if it exists.
    #[arg(long)]
    overwrite: bool,
    #[arg(long, default_value = "cpu")]
    device: String,
}

/// Parses another subcommand's flags with its own clap definition (defaults and checks included).
#[derive(Parser)]
struct Sub<T: Args> {
    #[command(flatten)]
    args: T,
}

fn sub<T: Args>(name: &str, flags: Vec<String>) -> Result<T> {
    Ok(Sub::<T>::try_parse_from(std::iter::once(name.to_string()).chain(flags)).with_context(|| format!("demo: arguments for `{name}`"))?.args)
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|x| x.to_string()).collect()
}

fn resolve_model(model: &Option<PathBuf>) -> Result<PathBuf> {
    if let Some(m) = model {
        return Ok(m.clone());
    }
    let local = PathBuf::from(BUNDLED);
    if local.join("multiview.json").is_file() {
        return Ok(local);
    }
    let built = Path::new(env!("CARGO_MANIFEST_DIR")).join(BUNDLED);
    if built.join("multiview.json").is_file() {
        return Ok(built);
    }
    bail!("the bundled multi-view checkpoint was not found at {BUNDLED} (nor at {}): run from the repository root, or pass --model RUN", built.display())
}

#[derive(Serialize)]
struct Timings {
    simulate_s: f64,
    /// Loading the model and tokenizer, sampling every view, decoding, writing (the `generate` step).
    generate_s: f64,
    sample_s: f64,
    decode_s: f64,
    check_s: f64,
    total_s: f64,
}

#[derive(Serialize)]
struct DemoRecord {
    tool: String,
    model: String,
    model_sha256: String,
    seed: u64,
    condition_frames: usize,
    cameras: Vec<String>,
    frames: usize,
    width: usize,
    height: usize,
    caption: String,
    timings: Timings,
    /// Peak resident memory of the whole process (Linux `VmHWM`), bytes.
    peak_rss_bytes: Option<u64>,
    scene: Summary,
    generated: Summary,
}

/// Peak resident set size of this process, where the OS reports it.
fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}


pub fn run(a: DemoArgs) -> Result<ExitCode> {
    let t_all = Instant::now();
    if a.out.exists() && !a.overwrite {
        bail!("{} exists (pass --overwrite to replace it)", a.out.display());
    }
    let model = resolve_model(&a.model)?;
    let card_path = model.join("multiview.json");
    let card: MvCard = serde_json::from_str(&std::fs::read_to_string(&card_path).with_context(|| card_path.display().to_string())?)
        .with_context(|| format!("{}: not a multi-view run card", card_path.display()))?;
    let [height, width] = card.text2world.resolution;
    let frames = card.text2world.frames;
    let tmp = partial_dir(&a.out)?;

    // 1. A simulated scene at the model's resolution: the ground truth the generation is compared to.
    tracing::info!(seed = a.seed, frames, width, height, "demo: simulating the scene");
    let t = Instant::now();
    let scene = tmp.join("scene.log");
    let sim_flags = strings(&["--clips", "1", "--frames", &frames.to_string(), "--fps", "10", "--resolution", &format!("{width}x{height}"), "--seed", &a.seed.to_string(), "--out", &scene.display().to_string()]);
    ensure!(super::sim::run(sub::<SimArgs>("sim", sim_flags)?)? == ExitCode::SUCCESS, "demo: simulation failed");
    let simulate_s = t.elapsed().as_secs_f64();

    // 2. The same drive generated by the multi-view model.
    tracing::info!(model = %model.display(), condition_frames = a.condition_frames, "demo: generating every camera");
    let t = Instant::now();
    let generated = tmp.join("generated");
    let mut gen_flags = strings(&[
        "--model",
        &model.display().to_string(),
        "--log",
        &scene.display().to_string(),
        "--seed",
        &a.seed.to_string(),
        "--condition-frames",
        &a.condition_frames.to_string(),
        "--device",
        &a.device,
        "--out",
        &generated.display().to_string(),
    ]);
    if let Some(n) = a.steps {
        gen_flags.extend(strings(&["--steps", &n.to_string()]));
    }
    ensure!(super::generate::run(sub::<GenerateArgs>("generate", gen_flags)?)? == ExitCode::SUCCESS, "demo: generation failed");
    let generate_s = t.elapsed().as_secs_f64();
    let gen_json: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(generated.join("generation.json"))?)?;
    let num = |k: &str| gen_json.get(k).and_then(|v| v.as_f64()).unwrap_or(f64::NAN);
    let (sample_s, decode_s) = (num("sample_seconds"), num("decode_seconds"));

    // 3. Both through the checker.
    let t = Instant::now();
    let scene_summary = check_to(&scene, &CheckOptions::default(), &tmp.join("check-scene"))?.summary;
    let gen_summary = check_to(&generated.join("log"), &CheckOptions::default(), &tmp.join("check-generated"))?.summary;
    let check_s = t.elapsed().as_secs_f64();

    // 4. The simulated scene's panorama, laid out like the generated one.
    let labels = SceneLog::open(&scene)?.read_labels(&mut Diag::strict())?;
    let clip = labels.clips.first().context("demo: the simulated log has no clip")?.value.clone();
    let rig = labels.rigs.get(&clip.rig_id).context("demo: the simulated log has no rig")?.value.clone();
    let names: Vec<String> = rig.cameras.iter().map(|c| c.name.clone()).collect();
    let videos = load_videos(std::slice::from_ref(&scene), &names)?;
    let per_view: Vec<Vec<Vec<u8>>> = names
        .iter()
        .map(|n| videos.iter().find(|v| &v.camera == n).map(|v| v.frames[..frames].to_vec()).with_context(|| format!("demo: no frames for {n}")))
        .collect::<Result<_>>()?;
    let layout = panorama_layout(&rig);
    let (pano, pw, ph) = panorama(&layout, &per_view, width, height);
    write_videos(&tmp.join("scene-panorama"), &pano, pw, ph, clip.frame_rate_hz)?;

    let caption = clip.captions.first().cloned().unwrap_or_default();
    let record = DemoRecord {
        tool: format!("worldrig {}", env!("CARGO_PKG_VERSION")),
        model: model.display().to_string(),
        model_sha256: gen_json.get("weights_sha256").and_then(|v| v.as_str()).unwrap_or_default().to_string(),
        seed: a.seed,
        condition_frames: a.condition_frames,
        cameras: names.clone(),
        frames,
        width,
        height,
        caption,
        timings: Timings { simulate_s, generate_s, sample_s, decode_s, check_s, total_s: t_all.elapsed().as_secs_f64() },
        peak_rss_bytes: peak_rss_bytes(),
        scene: scene_summary,
        generated: gen_summary,
    };
    let mut f = std::fs::File::create(tmp.join("demo.json"))?;
    f.write_all(serde_json::to_string_pretty(&record)?.as_bytes())?;
    std::fs::write(tmp.join("report.html"), report_html(&record, &layout_names(&layout, &names)))?;
    publish(&tmp, &a.out)?;

    let g = &record.generated;
    let sc = &record.scene;
    println!(
        "{}: {} cameras x {frames} frames at {width}x{height}; generation {:.1} s (sampling {:.1} s, decoding {:.1} s), peak memory {}\n  {:<10} {:>10} {:>10} {:>14} {:>10}\n  {:<10} {:>10} {:>10} {:>14} {:>10}\n  {:<10} {:>10} {:>10} {:>14} {:>10}\n  report: {}",
        a.out.display(),
        names.len(),
        record.timings.generate_s,
        sample_s,
        decode_s,
        record.peak_rss_bytes.map(|b| format!("{:.2} GiB", b as f64 / (1u64 << 30) as f64)).unwrap_or_else(|| "n/a".into()),
        "",
        "TSE",
        "CSE",
        "pose success",
        "ATE",
        "scene",
        fmt(sc.tse_px, " px"),
        fmt(sc.cse_px, " px"),
        fmt(sc.pose_success_pairs.map(|x| x * 100.0), " %"),
        fmt(sc.ate_m, " m"),
        "generated",
        fmt(g.tse_px, " px"),
        fmt(g.cse_px, " px"),
        fmt(g.pose_success_pairs.map(|x| x * 100.0), " %"),
        fmt(g.ate_m, " m"),
        a.out.join("report.html").display()
    );
    Ok(ExitCode::SUCCESS)
}


fn layout_names(layout: &[Vec<usize>], names: &[String]) -> Vec<Vec<String>> {
    layout.iter().map(|r| r.iter().map(|&i| names[i].clone()).collect()).collect()
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// The demo page: both panoramas (MP4, with GIF links) and the checker's metrics side by side.
fn report_html(r: &DemoRecord, layout: &[Vec<String>]) -> String {
    type Get = fn(&Summary) -> Option<f64>;
    let rows: [(&str, &str, Get, f64, &str); 10] = [
        ("TSE", "median Sampson error over consecutive frames (px; lower is better)", |s| s.tse_px, 1.0, " px"),
        ("CSE", "median Sampson error between overlapping cameras at one instant (px)", |s| s.cse_px, 1.0, " px"),
        ("TSE, logged geometry", "Sampson error of the matches under the logged ego motion (px)", |s| s.tse_logged_px, 1.0, " px"),
        ("CSE, logged geometry", "Sampson error of the matches under the rig's calibration (px)", |s| s.cse_logged_px, 1.0, " px"),
        ("pose success, temporal", "frame pairs whose estimated relative pose agrees with the logged one", |s| s.pose_success_pairs, 100.0, " %"),
        ("pose success, cross-camera", "camera pairs whose estimated relative pose agrees with the calibration", |s| s.cross_pose_success_pairs, 100.0, " %"),
        ("rotation error", "median over temporal pairs (deg)", |s| s.median_rotation_error_deg, 1.0, " deg"),
        ("translation-direction error", "median over temporal pairs (deg)", |s| s.median_translation_error_deg, 1.0, " deg"),
        ("ATE", "absolute trajectory error of the visual odometry after Umeyama alignment (m)", |s| s.ate_m, 1.0, " m"),
        ("RPE", "relative pose error per step, translation (m)", |s| s.rpe_translation_m, 1.0, " m"),
    ];
    let mut table = String::new();
    for (name, what, get, scale, unit) in rows {
        let cell = |s: &Summary| get(s).map_or_else(|| "n/a".to_string(), |v| format!("{:.3}{unit}", v * scale));
        table.push_str(&format!("<tr><th title=\"{}\">{}</th><td>{}</td><td>{}</td></tr>\n", esc(what), esc(name), cell(&r.scene), cell(&r.generated)));
    }
    let layout_text = layout.iter().map(|row| format!("[{}]", row.join(", "))).collect::<Vec<_>>().join(" over ");
    let t = &r.timings;
    format!(
        r#"<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>worldrig demo</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1440px; color: #222; }}
.pair {{ display: flex; gap: 1.5em; flex-wrap: wrap; }}
figure {{ margin: 0; }} video, img {{ max-width: 100%; background: #000; }}
table {{ border-collapse: collapse; margin-top: 1em; }} th, td {{ border: 1px solid #ccc; padding: 0.3em 0.8em; text-align: right; }}
th {{ text-align: left; font-weight: normal; }} thead th {{ font-weight: bold; }}
code {{ background: #f3f3f3; padding: 0 0.2em; }} .small {{ color: #666; font-size: 0.9em; }}
</style></head><body>
<h1>worldrig demo</h1>
<p>A simulated drive with exact ground truth, and the same drive generated by the multi-view model
from the same rig, ego trajectory and caption{given}. Both are scored by the geometric consistency checker.</p>
<p class="small">Caption: <em>{caption}</em><br>Model <code>{model}</code> (weights SHA-256 <code>{sha}</code>), seed {seed},
{n} cameras x {frames} frames at {w}x{h}, laid out {layout}.</p>
<div class="pair">
<figure><video id="scene" src="scene-panorama.mp4" autoplay loop muted playsinline controls></video>
<figcaption>Simulated (ground truth) &mdash; <a href="scene-panorama.gif">GIF</a>, <a href="check-scene/report.html">checker report</a></figcaption></figure>
<figure><video id="generated" src="generated/panorama.mp4" autoplay loop muted playsinline controls></video>
<figcaption>Generated &mdash; <a href="generated/panorama.gif">GIF</a>, <a href="check-generated/report.html">checker report</a>, <a href="generated/generation.json">provenance</a></figcaption></figure>
</div>
<h2>Geometric consistency</h2>
<table id="metrics"><thead><tr><th>metric</th><th>simulated</th><th>generated</th></tr></thead><tbody>
{table}</tbody></table>
<p class="small">Hover a metric for its definition; <code>docs/checker.md</code> has the details.</p>
<h2>Timing</h2>
<p class="small">simulate {sim:.1} s; generate {gen:.1} s (sampling {samp:.1} s, decoding {dec:.1} s); check {chk:.1} s; total {tot:.1} s; peak memory {rss}.</p>
<script>
// Marks the page once both panoramas have decoded (or one failed), for automated checks.
document.querySelectorAll("video").forEach(function (v) {{
  function ready() {{ v.dataset.size = v.videoWidth + "x" + v.videoHeight; document.body.dataset.videosLoaded = document.querySelectorAll("video[data-size]").length; }}
  if (v.readyState >= 2) ready(); else v.addEventListener("loadeddata", ready, {{ once: true }});
  v.addEventListener("error", function () {{ document.body.dataset.videoError = v.id; }});
}});
</script>
</body></html>
"#,
        given = if r.condition_frames > 0 { format!(", continuing its first {} latent frame(s) (Video2World)", r.condition_frames) } else { String::new() },
        caption = esc(&r.caption),
        model = esc(&r.model),
        sha = esc(&r.model_sha256),
        seed = r.seed,
        n = r.cameras.len(),
        frames = r.frames,
        w = r.width,
        h = r.height,
        layout = esc(&layout_text),
        sim = t.simulate_s,
        gen = t.generate_s,
        samp = t.sample_s,
        dec = t.decode_s,
        chk = t.check_s,
        tot = t.total_s,
        rss = r.peak_rss_bytes.map_or_else(|| "n/a".to_string(), |b| format!("{:.2} GiB", b as f64 / (1u64 << 30) as f64)),
    )
}
