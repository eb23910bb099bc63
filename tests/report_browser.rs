//! The HTML report in a real browser: a synthetic [`CheckReport`] (fabricated numbers: this tests
//! rendering, not the checker) is written with `report::write_html` and loaded by
//! `tools/check_report_browser.sh` in headless Chromium, which checks that every figure rendered.
//!
//! Without `/usr/bin/chromium` the browser part is skipped with a notice, except under `CI=true`,
//! where it fails (CI installs Chromium). `WORLDRIG_REPORT_OUT=DIR` keeps the page and its
//! screenshot in DIR.

use std::path::{Path, PathBuf};
use std::process::Command;

use worldrig_check::report::{match_preview, write_html, write_json};
use worldrig_check::result::*;
use worldrig_check::GrayImage;

const CHROMIUM: &str = "/usr/bin/chromium";

/// A textured frame with a shift, so the two sides of a preview differ.
fn frame(w: usize, h: usize, shift: usize) -> GrayImage {
    let data = (0..w * h)
        .map(|i| {
            let (x, y) = ((i % w + shift) as f64, (i / w) as f64);
            let v = 120.0 + 60.0 * (x * 0.07).sin() * (y * 0.05).cos() + 40.0 * ((x + y) * 0.013).sin();
            v.clamp(0.0, 255.0) as u8
        })
        .collect();
    GrayImage::from_vec(w, h, data).expect("buffer size")
}

fn clip(id: &str, cameras: &[&str], frames: usize, seed: usize) -> ClipReport {
    let cams: Vec<String> = cameras.iter().map(|c| c.to_string()).collect();
    let wobble = |k: usize| (((k * 7919 + seed * 104_729) % 1000) as f64) / 1000.0;
    let tse: Vec<CameraTse> = cams
        .iter()
        .enumerate()
        .map(|(i, c)| CameraTse {
            camera: c.clone(),
            per_frame_px: (0..frames - 1)
                .map(|t| (!(i == 2 && (10..13).contains(&t))).then(|| 0.45 + 0.08 * i as f64 + 0.25 * wobble(t * 13 + i)))
                .collect(),
            median_px: Some(0.55 + 0.08 * i as f64),
        })
        .collect();
    let mut cse = Vec::new();
    for (a, b) in [(0, 1), (0, 2), (1, 3), (2, 4), (3, 5), (4, 5)] {
        if b < cams.len() {
            cse.push(CameraPairCse {
                camera_a: cams[a].clone(),
                camera_b: cams[b].clone(),
                overlap_fraction: 0.2,
                per_frame_px: vec![Some(1.5 + 0.4 * a as f64); frames],
                median_px: if a == 4 { None } else { Some(1.2 + 0.35 * (a + b) as f64 * wobble(a + b)) },
            });
        }
    }
    let given: Vec<[f64; 3]> =
        (0..frames).map(|t| [t as f64 * 1.5, 6.0 * (t as f64 * 0.08).sin(), 0.0]).collect();
    let trajectories = cams
        .iter()
        .enumerate()
        .map(|(i, c)| CameraTrajectory {
            camera: c.clone(),
            given_m: given.clone(),
            estimated_m: given
                .iter()
                .enumerate()
                .map(|(t, p)| {
                    (i != 5 || t < frames / 2)
                        .then(|| [p[0] + 0.3 * (i as f64 - 2.5) * wobble(t), p[1] + 0.2 * wobble(t + i) - 0.1, 0.0])
                })
                .collect(),
            ate_m: Some(0.08 + 0.03 * i as f64),
            rpe_translation_m: Some(0.02 + 0.005 * i as f64),
            rpe_rotation_deg: Some(0.12),
            alignment_scale: Some(0.98),
            note: (i == 5).then(|| "odometry lost track after frame 15".to_string()),
        })
        .collect();
    let mut pairs = Vec::new();
    for (i, c) in cams.iter().enumerate() {
        for t in 0..frames - 1 {
            let ok = (t + i) % 7 != 0;
            pairs.push(PairResult {
                kind: PairKind::Temporal,
                camera_a: c.clone(),
                camera_b: c.clone(),
                frame_a: t,
                frame_b: t + 1,
                keypoints_a: 1200,
                keypoints_b: 1180,
                matches: 420,
                f_inliers: 360,
                sampson_px: Some(0.5),
                logged_sampson_px: Some(0.6),
                e_inliers: 350,
                pose: if ok { PoseOutcome::Estimated } else { PoseOutcome::TooFewMatches },
                rotation_error_deg: Some(0.2),
                translation_error_deg: Some(1.1),
                baseline_m: 1.5,
                success: ok,
            });
        }
    }
    let (w, h) = (448, 256);
    let (a, b) = (frame(w, h, 0), frame(w, h, 18));
    let pts_a: Vec<(f32, f32)> = (0..150).map(|k| ((k * 37 % w) as f32, (k * 53 % h) as f32)).collect();
    let pts_b: Vec<(f32, f32)> = pts_a.iter().map(|&(x, y)| ((x - 18.0).max(0.0), y)).collect();
    let inlier: Vec<bool> = (0..150).map(|k| k % 6 != 0).collect();
    let previews = vec![
        match_preview(&format!("{} frames 0 → 1 (temporal)", cams[0]), &a, &b, &pts_a, &pts_b, &inlier),
        match_preview(&format!("{} ↔ {} frame 0 (cross)", cams[0], cams[1]), &a, &b, &pts_a, &pts_b, &inlier),
    ];
    ClipReport {
        clip_id: id.to_string(),
        cameras: cams,
        frames,
        tse,
        cse,
        tse_px: Some(0.62),
        cse_px: Some(1.84),
        tse_logged_px: Some(0.7),
        cse_logged_px: None,
        pose_success_rate: Some(0.86),
        temporal_success_rate: Some(0.86),
        cross_success_rate: None,
        clip_success: seed % 2 == 0,
        median_rotation_error_deg: Some(0.21),
        median_translation_error_deg: Some(1.4),
        trajectories,
        pairs,
        previews,
    }
}

/// A clip where nothing could be measured: the page must still show its (empty) figures.
fn unmeasurable(cameras: &[&str]) -> ClipReport {
    let cams: Vec<String> = cameras.iter().map(|c| c.to_string()).collect();
    ClipReport {
        clip_id: "clip-0002".into(),
        tse: cams.iter().map(|c| CameraTse { camera: c.clone(), per_frame_px: vec![None; 5], median_px: None }).collect(),
        cse: vec![],
        frames: 6,
        tse_px: None,
        cse_px: None,
        tse_logged_px: Some(0.7),
        cse_logged_px: None,
        pose_success_rate: None,
        temporal_success_rate: None,
        cross_success_rate: None,
        clip_success: false,
        median_rotation_error_deg: None,
        median_translation_error_deg: None,
        trajectories: cams
            .iter()
            .map(|c| CameraTrajectory {
                camera: c.clone(),
                given_m: vec![],
                estimated_m: vec![None; 6],
                ate_m: None,
                rpe_translation_m: None,
                rpe_rotation_deg: None,
                alignment_scale: None,
                note: Some("too few matches".into()),
            })
            .collect(),
        cameras: cams,
        pairs: vec![],
        previews: vec![],
    }
}

fn report(cameras: &[&str]) -> CheckReport {
    let mut clips = vec![clip("clip-0000", cameras, 30, 0), clip("clip-0001 <night>", cameras, 24, 1)];
    clips.push(unmeasurable(cameras));
    CheckReport {
        log: "logs/sim-6cam".into(),
        tool: "worldrig 0.1.0".into(),
        config: serde_json::json!({"features": {"max_keypoints": 2000}, "ransac": {"threshold_px": 1.0}}),
        thresholds: SuccessThresholds {
            max_rotation_error_deg: 5.0,
            max_translation_error_deg: 10.0,
            min_inliers: 30,
            zero_baseline_m: 0.05,
            clip_min_pair_success: 0.5,
        },
        summary: Summary {
            clips: clips.len(),
            pairs: clips.iter().map(|c| c.pairs.len()).sum(),
            tse_px: Some(0.62),
            cse_px: Some(1.84),
            tse_logged_px: Some(0.7),
            cse_logged_px: None,
            pose_success_pairs: Some(0.86),
            cross_pose_success_pairs: Some(0.4),
            pose_success_clips: Some(0.5),
            median_rotation_error_deg: Some(0.21),
            median_translation_error_deg: Some(1.4),
            ate_m: Some(0.12),
            rpe_translation_m: Some(0.03),
            rpe_rotation_deg: Some(0.12),
            elapsed_s: 12.5,
            pairs_per_s: 24.3,
            decode_s: 0.5,
            compute_pairs_per_s: 20.0,
        },
        clips,
    }
}

const CAMERAS: [&str; 6] =
    ["camera_front_wide_120fov", "camera_cross_left_120fov", "camera_cross_right_120fov", "camera_rear_left_70fov", "camera_rear_right_70fov", "camera_rear_tele_30fov"];

fn out_dir() -> (Option<tempfile::TempDir>, PathBuf) {
    match std::env::var_os("WORLDRIG_REPORT_OUT") {
        Some(d) => {
            let d = PathBuf::from(d);
            std::fs::create_dir_all(&d).expect("create WORLDRIG_REPORT_OUT");
            (None, d)
        }
        None => {
            let t = tempfile::tempdir().expect("tempdir");
            let p = t.path().to_path_buf();
            (Some(t), p)
        }
    }
}

fn figure_count(html: &str) -> usize {
    html.matches("<figure class=\"wr-fig\"").count()
}

#[test]
fn html_report_is_self_contained_and_escaped() {
    let (_keep, dir) = out_dir();
    let mut cams = CAMERAS.to_vec();
    cams[3] = "<script>alert('x')</script>";
    let r = report(&cams);
    let path = dir.join("escaped.html");
    write_html(&r, &path).expect("write html");
    write_json(&r, &dir.join("escaped.json")).expect("write json");
    let html = std::fs::read_to_string(&path).expect("read html");

    assert!(!html.contains("http://") && !html.contains("https://"), "external reference in the page");
    for attr in ["src=\"", "href=\""] {
        for rest in html.split(attr).skip(1) {
            assert!(rest.starts_with("data:image/png;base64,") || rest.starts_with('#'), "{attr}{}", &rest[..60.min(rest.len())]);
        }
    }
    assert!(!html.contains("<script"), "camera name injected markup");
    assert!(html.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;"));
    assert!(html.contains("clip-0001 &lt;night&gt;"));

    // Summary figure + per clip TSE, CSE, trajectory and two previews (none for the third clip).
    let n = figure_count(&html);
    assert_eq!(n, 1 + 2 * 5 + 3);
    assert!(html.contains(&format!("<body data-figures=\"{n}\">")));
    for id in ["summary-ref", "tse-0-clip-0000", "cse-0-clip-0000", "traj-0-clip-0000", "match-0-clip-0000-0", "match-1-clip-0001-night-1", "traj-2-clip-0002"] {
        assert!(html.contains(&format!("id=\"{id}\"")), "figure {id} missing");
    }
}

fn run_browser_check(report: &Path, shot: &Path) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tools/check_report_browser.sh");
    let out = Command::new("bash").arg(&script).arg(report).arg(shot).output().expect("run check_report_browser.sh");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    println!("{text}");
    assert!(out.status.success(), "browser check failed:\n{text}");
    assert!(text.contains("OK (14 figures"), "{text}");
}

#[test]
fn html_report_renders_in_chromium() {
    if !Path::new(CHROMIUM).exists() {
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("{CHROMIUM} is missing under CI=true: .ci/run must install chromium");
        }
        eprintln!("SKIPPED html_report_renders_in_chromium: {CHROMIUM} not installed (apt-get install -y chromium)");
        return;
    }
    let (_keep, dir) = out_dir();
    let path = dir.join("report.html");
    write_html(&report(&CAMERAS), &path).expect("write html");
    run_browser_check(&path, &dir.join("report.png"));

    // A page whose figures do not all render must fail the check.
    let broken = std::fs::read_to_string(&path).expect("read html").replacen("<svg", "<div", 1);
    let bad = dir.join("broken.html");
    std::fs::write(&bad, broken).expect("write broken page");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tools/check_report_browser.sh");
    let out = Command::new("bash").arg(&script).arg(&bad).arg(dir.join("broken.png")).output().expect("run script");
    assert_eq!(out.status.code(), Some(1), "a page with a missing figure passed:\n{}", String::from_utf8_lossy(&out.stderr));
}
