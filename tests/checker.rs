//! `worldrig check` validated against ground truth (`docs/checker.md`):
//! - simulator clips, whose poses are exact, must pass (rotation error, pose success, TSE, CSE);
//! - real photographs with ground-truth cameras (the Strecha scenes) must pass;
//! - negative controls (shuffled frames, swapped cameras, noise images) must fail;
//! - gates (`--fail-under`, `--fail-above`) and bad input behave.

mod common;

use std::path::{Path, PathBuf};

use common::{shared, stdout, worldrig};
use serde_json::Value;
use worldrig_scenelog::{Diag, FrameRecord, ImageBytes, SceneLog, SceneLogWriter, WriterOptions};

fn sim_log(dir: &Path, name: &str, extra: &[&str]) -> PathBuf {
    let out = dir.join(name);
    let mut args = vec!["sim", "--clips", "1", "--resolution", "448x256", "--out", out.to_str().unwrap()];
    if !extra.contains(&"--frames") {
        args.extend_from_slice(&["--frames", "6"]);
    }
    args.extend_from_slice(extra);
    let o = worldrig(&args);
    assert!(o.status.success(), "sim failed: {}", String::from_utf8_lossy(&o.stderr));
    out
}

/// Runs `worldrig check LOG --json` and returns (summary, full report).
fn check(log: &Path, out: &Path, extra: &[&str]) -> (Value, Value) {
    let mut args = vec!["check", log.to_str().unwrap(), "--out", out.to_str().unwrap(), "--json"];
    args.extend_from_slice(extra);
    let o = worldrig(&args);
    assert!(o.status.success(), "check failed: {}", String::from_utf8_lossy(&o.stderr));
    let summary: Value = serde_json::from_str(&stdout(&o)).expect("summary JSON on stdout");
    let report: Value = serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).unwrap()).unwrap();
    assert!(out.join("report.html").is_file());
    (summary, report)
}

fn num(v: &Value, key: &str) -> Option<f64> {
    v.get(key).and_then(Value::as_f64)
}

/// Rewrites a log with its frames' images replaced by `f(frames)` (same rows, other pixels).
fn rewrite_frames(src: &Path, dest: &Path, f: impl FnOnce(&mut Vec<FrameRecord>)) {
    let log = SceneLog::open(src).unwrap();
    let mut diag = Diag::strict();
    let labels = log.read_labels(&mut diag).unwrap();
    let mut frames = log.frames(true).collect_all(&mut diag).unwrap();
    frames.sort_by(|a, b| (a.camera.as_str(), a.frame_index).cmp(&(b.camera.as_str(), b.frame_index)));
    f(&mut frames);
    let mut w = SceneLogWriter::create(dest, WriterOptions::default()).unwrap();
    for r in labels.rigs.values() {
        w.add_rig(&r.value);
    }
    for c in &labels.clips {
        w.add_clip(c.value.clone());
    }
    for (clip, (_, t)) in &labels.poses {
        w.add_ego_poses(clip, t);
    }
    for (clip, objs) in labels.objects {
        w.add_objects(&clip, objs.into_iter().map(|o| o.value).collect());
    }
    for (clip, els) in labels.map {
        w.add_map(&clip, els.into_iter().map(|o| o.value).collect());
    }
    for fr in frames {
        w.add_frame(fr).unwrap();
    }
    w.finish().unwrap();
}

#[test]
fn simulator_clips_pass_with_exact_ground_truth() {
    let dir = tempfile::tempdir().unwrap();
    // Textured drives with the manoeuvre drawn from the seed (docs/checker.md has a wider sweep).
    let (mut ok, mut n) = (0.0, 0.0);
    for seed in ["1", "4"] {
        let log = sim_log(dir.path(), &format!("seed{seed}"), &["--seed", seed]);
        let (s, report) = check(&log, &dir.path().join(format!("report{seed}")), &[]);
        eprintln!("seed {seed}: {}", serde_json::to_string(&s).unwrap());
        let rot = num(&s, "median_rotation_error_deg").expect("rotation error");
        let tse = num(&s, "tse_px").expect("TSE");
        let cse = num(&s, "cse_px").expect("CSE");
        assert!(rot < 0.2, "seed {seed}: median rotation error {rot} deg");
        assert!(tse < 0.5 && cse < 0.5, "seed {seed}: TSE {tse} CSE {cse}");
        let logged = num(&s, "tse_logged_px").expect("logged-geometry TSE");
        assert!(logged < 0.5, "seed {seed}: TSE against the logged poses {logged}");
        let ate = num(&s, "ate_m").expect("ATE");
        assert!(ate < 0.1, "seed {seed}: ATE {ate} m");
        let clip = &report["clips"][0];
        assert!(clip["cse"].as_array().unwrap().len() >= 2, "CSE pairs found from the rig");
        let temporal: Vec<&Value> = clip["pairs"].as_array().unwrap().iter().filter(|p| p["kind"] == "temporal").collect();
        n += temporal.len() as f64;
        ok += temporal.iter().filter(|p| p["success"] == true).count() as f64;
    }
    assert!(ok / n >= 0.95, "pose success {ok}/{n}");
}

#[test]
fn a_stationary_car_reports_zero_baseline_never_a_heading() {
    let dir = tempfile::tempdir().unwrap();
    // Stop-and-go over 10 s at 2 Hz: the ego drives, stops, drives on.
    let log = sim_log(dir.path(), "stop", &["--seed", "5", "--manoeuvre", "stop_and_go", "--frames", "20", "--fps", "2"]);
    let (_, report) = check(&log, &dir.path().join("report"), &["--no-cross", "--cameras", "camera_front_wide_120fov,camera_rear_left_70fov,camera_cross_right_120fov"]);
    let pairs = report["clips"][0]["pairs"].as_array().unwrap().clone();
    let still: Vec<&Value> = pairs.iter().filter(|p| p["baseline_m"].as_f64().unwrap() < 1e-6).collect();
    assert!(still.len() >= 6, "the clip has stationary pairs ({})", still.len());
    for p in &still {
        assert_eq!(p["pose"], "zero_baseline", "stationary pair reported as {}", p);
        assert!(p["translation_error_deg"].is_null());
        assert!(p["rotation_error_deg"].as_f64().unwrap() < 0.2, "{p}");
        assert_eq!(p["success"], true);
    }
    let moving: Vec<&Value> = pairs.iter().filter(|p| p["baseline_m"].as_f64().unwrap() > 0.3).collect();
    let ok = moving.iter().filter(|p| p["success"] == true).count();
    // Frames 0.5 s apart while braking and pulling away: most moving pairs still succeed.
    assert!(ok * 4 >= moving.len() * 3, "moving pairs: {ok}/{}", moving.len());
}

#[test]
fn strecha_photographs_pass_with_ground_truth_cameras() {
    let dir = tempfile::tempdir().unwrap();
    let data = shared().join("strecha");
    for scene in ["fountain-P11", "Herz-Jesus-P8"] {
        let log = dir.path().join(scene);
        let o = worldrig(&["import", "strecha", data.join(scene).to_str().unwrap(), "--out", log.to_str().unwrap()]);
        assert!(o.status.success(), "import failed: {}", String::from_utf8_lossy(&o.stderr));
        let (s, _) = check(&log, &dir.path().join(format!("{scene}-report")), &[]);
        eprintln!("{scene}: {}", serde_json::to_string(&s).unwrap());
        let rot = num(&s, "median_rotation_error_deg").unwrap();
        let tr = num(&s, "median_translation_error_deg").unwrap();
        assert!(rot <= 0.5, "{scene}: median rotation error {rot} deg");
        assert!(tr <= 2.0, "{scene}: median translation-direction error {tr} deg");
        assert_eq!(num(&s, "pose_success_pairs"), Some(1.0), "{scene}: every adjacent pair succeeds");
    }
}

#[test]
fn negative_controls_fail() {
    let dir = tempfile::tempdir().unwrap();
    // A left turn sampled at 2 Hz: frames 5 m apart, the view turning.
    let log = sim_log(dir.path(), "base", &["--seed", "2", "--manoeuvre", "turn_left", "--frames", "8", "--fps", "2"]);

    // Shuffled frames: each camera's images permuted in time (k -> 5k mod 8: steps of +5 and -3).
    let shuffled = dir.path().join("shuffled");
    rewrite_frames(&log, &shuffled, |frames| {
        let cams: Vec<String> = frames.iter().map(|f| f.camera.clone()).collect();
        for cam in cams.iter().collect::<std::collections::BTreeSet<_>>() {
            let idx: Vec<usize> = (0..frames.len()).filter(|&i| &frames[i].camera == cam).collect();
            let imgs: Vec<ImageBytes> = idx.iter().map(|&i| frames[i].image.clone()).collect();
            let n = idx.len();
            for (k, &i) in idx.iter().enumerate() {
                frames[i].image = imgs[(k * 5) % n].clone();
            }
        }
    });
    // Swapped cameras: the front and cross-left images traded (same size, different views).
    let swapped = dir.path().join("swapped");
    rewrite_frames(&log, &swapped, |frames| {
        let front: Vec<usize> = (0..frames.len()).filter(|&i| frames[i].camera.contains("front_wide")).collect();
        let left: Vec<usize> = (0..frames.len()).filter(|&i| frames[i].camera.contains("cross_left")).collect();
        for (&a, &b) in front.iter().zip(&left) {
            let t = frames[a].image.clone();
            frames[a].image = frames[b].image.clone();
            frames[b].image = t;
        }
    });
    // Noise images.
    let noise = dir.path().join("noise");
    rewrite_frames(&log, &noise, |frames| {
        let mut state = 0x1234_5678_u64;
        for f in frames.iter_mut() {
            let img = image::load_from_memory(&f.image).unwrap();
            let (w, h) = (img.width(), img.height());
            let px: Vec<u8> = (0..w * h * 3)
                .map(|_| {
                    state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                    (state >> 56) as u8
                })
                .collect();
            let mut png = Vec::new();
            image::RgbImage::from_raw(w, h, px).unwrap().write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png).unwrap();
            f.image = ImageBytes::from(png);
        }
    });

    let (good, _) = check(&log, &dir.path().join("r-good"), &[]);
    let good_logged = num(&good, "tse_logged_px").unwrap();
    // Which pairs each manipulation breaks: shuffling time keeps the cameras of one instant
    // consistent with each other (cross pairs), swapping two cameras leaves the other four intact.
    for (name, log, cross_only) in [("shuffled", &shuffled, false), ("swapped", &swapped, true), ("noise", &noise, false)] {
        let (s, report) = check(log, &dir.path().join(format!("r-{name}")), &[]);
        eprintln!("{name}: {}", serde_json::to_string(&s).unwrap());
        let pairs = report["clips"][0]["pairs"].as_array().unwrap().clone();
        // Pairs touching the manipulated frames.
        let touched: Vec<&Value> = pairs
            .iter()
            .filter(|p| name != "shuffled" || p["kind"] == "temporal")
            .filter(|p| {
                !cross_only
                    || ["camera_a", "camera_b"].iter().any(|k| {
                        let c = p[*k].as_str().unwrap();
                        c.contains("front_wide") || c.contains("cross_left")
                    })
            })
            .collect();
        let ok = touched.iter().filter(|p| p["success"] == true).count() as f64 / touched.len() as f64;
        assert!(ok <= 0.1, "{name}: {ok} of the manipulated pairs still succeed");
        // Large (or unmeasurable) error against the logged geometry.
        let logged: Vec<f64> = touched.iter().filter_map(|p| p["logged_sampson_px"].as_f64()).collect();
        let median = if logged.is_empty() { f64::INFINITY } else { logged[logged.len() / 2] };
        assert!(median > 10.0 * good_logged.max(0.5), "{name}: logged-geometry Sampson {median} px vs {good_logged} px for the real clip");
        if name == "noise" {
            // Noise has no consistent geometry at all: no pair measurable, or a large error.
            let tse = num(&s, "tse_px");
            assert!(tse.is_none_or(|t| t > 2.0), "noise TSE {tse:?}");
        }
    }
}

#[test]
fn gates_and_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    let log = sim_log(dir.path(), "tiny", &["--seed", "3", "--frames", "3"]);
    let out = dir.path().join("r");
    let o = worldrig(&["check", log.to_str().unwrap(), "--out", out.to_str().unwrap(), "--fail-under", "pose_success_pairs=1.01"]);
    assert_eq!(o.status.code(), Some(1), "an unreachable gate fails with status 1");
    assert!(String::from_utf8_lossy(&o.stderr).contains("pose_success_pairs"));
    let o = worldrig(&["check", log.to_str().unwrap(), "--out", out.to_str().unwrap(), "--fail-above", "tse_px=100"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let o = worldrig(&["check", log.to_str().unwrap(), "--out", out.to_str().unwrap(), "--fail-under", "tse_px=1"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--fail-above"), "a lower-is-better metric points at --fail-above");
    let o = worldrig(&["check", log.to_str().unwrap(), "--out", out.to_str().unwrap(), "--clips", "nope"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("nope"));
    let o = worldrig(&["check", dir.path().join("missing").to_str().unwrap(), "--out", out.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    let o = worldrig(&["check", log.to_str().unwrap(), "--out", out.to_str().unwrap(), "--cameras", "no_such_camera"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("no frames"), "{}", String::from_utf8_lossy(&o.stderr));
}
