//! Report writing: JSON round trip, atomic output, a self-contained and escaped HTML page, match
//! previews.

use super::*;
use crate::image::GrayImage;
use crate::result::*;

fn pair(kind: PairKind, a: &str, b: &str, t: usize, success: bool) -> PairResult {
    PairResult {
        kind,
        camera_a: a.into(),
        camera_b: b.into(),
        frame_a: t,
        frame_b: if kind == PairKind::Temporal { t + 1 } else { t },
        keypoints_a: 800,
        keypoints_b: 790,
        matches: 300,
        f_inliers: 250,
        sampson_px: Some(0.5),
        logged_sampson_px: Some(0.6),
        e_inliers: 240,
        pose: if success { PoseOutcome::Estimated } else { PoseOutcome::Degenerate },
        rotation_error_deg: Some(0.3),
        translation_error_deg: success.then_some(1.2),
        baseline_m: 1.0,
        success,
    }
}

fn gradient(w: usize, h: usize) -> GrayImage {
    GrayImage::from_vec(w, h, (0..w * h).map(|i| ((i % w) * 255 / w.max(1)) as u8).collect()).unwrap()
}

/// A small report with the given camera names; clip 0 has data everywhere, clip 1 has nothing
/// measurable.
fn sample(cameras: &[&str]) -> CheckReport {
    let cams: Vec<String> = cameras.iter().map(|s| s.to_string()).collect();
    let frames = 12;
    let tse = cams
        .iter()
        .enumerate()
        .map(|(i, c)| CameraTse {
            camera: c.clone(),
            per_frame_px: (0..frames - 1)
                .map(|t| if t == 4 && i == 0 { None } else { Some(0.4 + 0.05 * i as f64 + 0.02 * (t % 3) as f64) })
                .collect(),
            median_px: Some(0.45 + 0.05 * i as f64),
        })
        .collect();
    let cse = vec![CameraPairCse {
        camera_a: cams[0].clone(),
        camera_b: cams[1].clone(),
        overlap_fraction: 0.3,
        per_frame_px: vec![Some(1.4); frames],
        median_px: Some(1.4),
    }];
    let trajectories = cams
        .iter()
        .enumerate()
        .map(|(i, c)| CameraTrajectory {
            camera: c.clone(),
            given_m: (0..frames).map(|t| [t as f64 * 2.0, (t as f64 * 0.3).sin(), 0.0]).collect(),
            estimated_m: (0..frames)
                .map(|t| (t != 6).then(|| [t as f64 * 2.0 + 0.1 * i as f64, (t as f64 * 0.3).sin() + 0.05, 0.0]))
                .collect(),
            ate_m: Some(0.1 + 0.01 * i as f64),
            rpe_translation_m: Some(0.02),
            rpe_rotation_deg: Some(0.1),
            alignment_scale: Some(1.0),
            note: None,
        })
        .collect();
    let mut pairs = vec![pair(PairKind::Temporal, &cams[0], &cams[0], 0, true)];
    pairs.push(pair(PairKind::Cross, &cams[0], &cams[1], 0, false));
    let img = gradient(64, 40);
    let pts: Vec<(f32, f32)> = (0..10).map(|k| (5.0 + 5.0 * k as f32, 20.0)).collect();
    let inl: Vec<bool> = (0..10).map(|k| k % 3 != 0).collect();
    let preview = match_preview(&format!("{} t=0 → t=1", cams[0]), &img, &img, &pts, &pts, &inl);
    let clip0 = ClipReport {
        clip_id: "clip-0001".into(),
        cameras: cams.clone(),
        frames,
        tse,
        cse,
        tse_px: Some(0.47),
        cse_px: Some(1.4),
        tse_logged_px: Some(0.7),
        cse_logged_px: None,
        pose_success_rate: Some(0.5),
        temporal_success_rate: Some(1.0),
        cross_success_rate: Some(0.0),
        clip_success: false,
        median_rotation_error_deg: Some(0.3),
        median_translation_error_deg: Some(1.2),
        trajectories,
        pairs,
        previews: vec![preview],
    };
    let clip1 = ClipReport {
        clip_id: "empty clip".into(),
        cameras: cams.clone(),
        frames: 2,
        tse: cams.iter().map(|c| CameraTse { camera: c.clone(), per_frame_px: vec![None], median_px: None }).collect(),
        cse: vec![],
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
        trajectories: vec![],
        pairs: vec![],
        previews: vec![MatchPreview { title: "broken".into(), png_base64: String::new() }],
    };
    CheckReport {
        log: "logs/sample".into(),
        tool: "worldrig 0.1.0".into(),
        config: serde_json::json!({"ransac": {"iterations": 1000}}),
        thresholds: SuccessThresholds {
            max_rotation_error_deg: 5.0,
            max_translation_error_deg: 10.0,
            min_inliers: 20,
            zero_baseline_m: 0.05,
            clip_min_pair_success: 0.5,
        },
        summary: Summary {
            clips: 2,
            pairs: 2,
            tse_px: Some(0.47),
            cse_px: Some(1.4),
            tse_logged_px: Some(0.7),
            cse_logged_px: None,
            pose_success_pairs: Some(0.5),
            cross_pose_success_pairs: Some(0.4),
            pose_success_clips: Some(0.0),
            median_rotation_error_deg: Some(0.3),
            median_translation_error_deg: Some(1.2),
            ate_m: Some(0.1),
            rpe_translation_m: Some(0.02),
            rpe_rotation_deg: Some(0.1),
            elapsed_s: 1.5,
            pairs_per_s: 1.33,
            decode_s: 0.5,
            compute_pairs_per_s: 20.0,
        },
        clips: vec![clip0, clip1],
    }
}

/// Ids of the `<figure class="wr-fig">` elements, checking each holds an `<svg>` or `<img>`.
fn figure_ids(html: &str) -> Vec<String> {
    let mut ids = Vec::new();
    for chunk in html.split("<figure class=\"wr-fig\" id=\"").skip(1) {
        let id = chunk.split('"').next().unwrap().to_string();
        let body = chunk.split("</figure>").next().unwrap();
        assert!(body.contains("<svg") || body.contains("<img"), "figure {id} has no picture");
        ids.push(id);
    }
    ids
}

fn data_figures(html: &str) -> usize {
    let rest = html.split("<body data-figures=\"").nth(1).unwrap();
    rest.split('"').next().unwrap().parse().unwrap()
}

#[test]
fn json_round_trips_without_previews() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("report.json");
    let report = sample(&["front", "left"]);
    write_json(&report, &path).unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    let back: CheckReport = serde_json::from_str(&text).unwrap();
    assert!(back.clips.iter().all(|c| c.previews.is_empty()));
    assert!(!text.contains("png_base64") && !text.contains("previews"));
    // Same document as the report serialised directly (compared after parsing both the same way:
    // serde_json's default float parser may differ from the written value in the last bit).
    let parsed: serde_json::Value = serde_json::from_str(&text).unwrap();
    let direct: serde_json::Value = serde_json::from_str(&serde_json::to_string(&report).unwrap()).unwrap();
    assert_eq!(parsed, direct);
    assert_eq!(back.clips.len(), 2);
    assert_eq!(back.clips[0].cameras, report.clips[0].cameras);
    // Overwrites in place and leaves no temporary file behind.
    write_json(&report, &path).unwrap();
    let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(names, vec![std::ffi::OsString::from("report.json")]);
}

#[test]
fn write_errors_name_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("missing").join("report.html");
    let err = write_html(&sample(&["front", "left"]), &path).unwrap_err();
    assert!(matches!(err, CheckError::Io { .. }));
    assert!(err.to_string().contains(&path.display().to_string()), "{err}");
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0, "nothing left behind");
}

#[test]
fn html_is_self_contained_and_counts_its_figures() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("report.html");
    let report = sample(&["front", "cross_left", "cross_right"]);
    write_html(&report, &path).unwrap();
    let html = std::fs::read_to_string(&path).unwrap();
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);

    assert!(!html.contains("http://") && !html.contains("https://"), "external reference in the page");
    assert!(!html.contains("<script"), "the page has no scripts");
    for attr in ["src=\"", "href=\""] {
        for rest in html.split(attr).skip(1) {
            assert!(rest.starts_with("data:") || rest.starts_with('#'), "{attr}{}", &rest[..rest.len().min(40)]);
        }
    }

    let ids = figure_ids(&html);
    let expected = [
        "summary-ref",
        "tse-0-clip-0001",
        "cse-0-clip-0001",
        "traj-0-clip-0001",
        "match-0-clip-0001-0",
        "tse-1-empty-clip",
        "cse-1-empty-clip",
        "traj-1-empty-clip",
    ];
    assert_eq!(ids, expected);
    assert_eq!(data_figures(&html), expected.len());
    assert!(html.contains("<img alt=\"front t=0 → t=1\" src=\"data:image/png;base64,iVBOR"));
    assert!(html.contains("broken: no image"));
    // Axis labels are SVG text.
    assert!(html.contains(">Sampson error (px)") || html.contains(">\nSampson error (px)"));
    assert!(html.contains("x (m)"));
    // Reference figures.
    for r in ["0.69", "1.71", "2.11", "6.48", "VideoLDM-MultiView"] {
        assert!(html.contains(r), "{r}");
    }
}

#[test]
fn html_escapes_names() {
    let evil = "<script>alert(1)</script>";
    let mut report = sample(&[evil, "left\"><img src=x>"]);
    report.clips[0].clip_id = "<b>clip</b>".into();
    report.log = "a&b".into();
    let html = render_html(&report).unwrap();
    assert!(!html.contains("<script"));
    assert!(!html.contains("<b>clip"));
    assert!(!html.contains("<img src=x"));
    assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(html.contains("&lt;b&gt;clip&lt;/b&gt;"));
    assert!(html.contains("a&amp;b"));
    assert_eq!(data_figures(&html), figure_ids(&html).len());
}

#[test]
fn empty_report_renders() {
    let mut report = sample(&["front", "left"]);
    report.clips.clear();
    let html = render_html(&report).unwrap();
    assert_eq!(figure_ids(&html), vec!["summary-ref"]);
    assert_eq!(data_figures(&html), 1);
}

#[test]
fn match_preview_draws_side_by_side() {
    let a = gradient(100, 60);
    let b = gradient(80, 50);
    let pts_a: Vec<(f32, f32)> = (0..200).map(|k| ((k % 100) as f32, (k % 60) as f32)).collect();
    let pts_b: Vec<(f32, f32)> = (0..200).map(|k| ((k % 80) as f32, (k % 50) as f32)).collect();
    let inl: Vec<bool> = (0..200).map(|k| k % 4 != 0).collect();
    let p = match_preview("front", &a, &b, &pts_a, &pts_b, &inl);
    assert_eq!(p.title, "front");
    use base64::Engine;
    let png = base64::engine::general_purpose::STANDARD.decode(&p.png_base64).unwrap();
    let img = image::load_from_memory(&png).unwrap().to_rgb8();
    assert_eq!(img.dimensions(), (100 + 8 + 80, 60));
    let green = img.pixels().filter(|p| p.0 == [46, 204, 64]).count();
    let red = img.pixels().filter(|p| p.0 == [230, 57, 53]).count();
    assert!(green > 0 && red > 0, "green {green} red {red}");

    // Large frames are scaled down.
    let big = gradient(1920, 1080);
    let p = match_preview("big", &big, &big, &[(1900.0, 1000.0)], &[(10.0, 10.0)], &[true]);
    let png = base64::engine::general_purpose::STANDARD.decode(&p.png_base64).unwrap();
    let img = image::load_from_memory(&png).unwrap();
    assert!(img.width() as usize <= MAX_PREVIEW_WIDTH, "{}", img.width());

    // An empty frame gives no picture rather than an error.
    let p = match_preview("empty", &GrayImage::new(0, 0), &b, &[], &[], &[]);
    assert!(p.png_base64.is_empty());
}

#[test]
fn match_selection_is_bounded_and_keeps_both_kinds() {
    let inl: Vec<bool> = (0..500).map(|k| k % 5 != 0).collect();
    let s = preview::select_matches(&inl, MAX_PREVIEW_LINES);
    assert_eq!(s.len(), MAX_PREVIEW_LINES);
    let outs = s.iter().filter(|&&i| !inl[i]).count();
    assert_eq!(outs, MAX_PREVIEW_LINES / 4);
    let mut d = s.clone();
    d.sort();
    d.dedup();
    assert_eq!(d.len(), s.len());
    // Few inliers: outliers fill the rest.
    let inl: Vec<bool> = (0..100).map(|k| k < 5).collect();
    let s = preview::select_matches(&inl, MAX_PREVIEW_LINES);
    assert_eq!(s.len(), MAX_PREVIEW_LINES);
    assert_eq!(s.iter().filter(|&&i| inl[i]).count(), 5);
    assert!(preview::select_matches(&[], 60).is_empty());
}
