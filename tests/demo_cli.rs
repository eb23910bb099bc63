//! `worldrig demo` end to end on the bundled checkpoints: simulate, generate every camera, check
//! both, and a report whose two MP4 panoramas decode in a real browser.

mod common;

use common::{fails, ok, s};

use std::path::Path;
use std::process::Command;

const CHROMIUM: &str = "/usr/bin/chromium";

fn json(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))).unwrap()
}

/// (width, height, samples, seconds) of an MP4's video track.
fn mp4_track(path: &Path) -> (u16, u16, u32, f64) {
    let data = std::fs::read(path).unwrap();
    assert_eq!(&data[4..8], b"ftyp", "{}: not an MP4", path.display());
    let size = data.len() as u64;
    let r = mp4::Mp4Reader::read_header(std::io::Cursor::new(data), size).unwrap();
    assert_eq!(r.tracks().len(), 1);
    let (_, t) = r.tracks().iter().next().unwrap();
    assert_eq!(t.media_type().unwrap(), mp4::MediaType::H264);
    (t.width(), t.height(), t.sample_count(), t.duration().as_secs_f64())
}

#[test]
fn demo_simulates_generates_checks_and_reports() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("demo");
    // Two sampler steps keep the test short; the demo's default is the run's 20.
    let text = ok(&["demo", "--steps", "2", "--seed", "1", "--out", s(&out)]);
    assert!(text.contains("6 cameras x 17 frames at 224x128"), "{text}");
    assert!(!tmp.path().join(".demo.partial").exists());

    let rec = json(&out.join("demo.json"));
    let cams: Vec<String> = rec["cameras"].as_array().unwrap().iter().map(|c| c.as_str().unwrap().to_string()).collect();
    assert_eq!(cams.len(), 6);
    // The weights are the bundled ones.
    let bundled = Path::new(env!("CARGO_MANIFEST_DIR")).join("checkpoints/multiview-tiny/model.bpk");
    assert_eq!(rec["model_sha256"].as_str().unwrap(), worldrig_model::train::sha256_file(&bundled).unwrap());
    // The simulated scene at the model's resolution is geometrically sound: the checker recovers
    // most logged relative poses from its frames.
    let scene_success = rec["scene"]["pose_success_pairs"].as_f64().unwrap();
    assert!(scene_success > 0.5, "scene pose success {scene_success}");
    assert!(rec["scene"]["tse_px"].as_f64().unwrap() < 1.0);
    assert!(rec["timings"]["sample_s"].as_f64().unwrap() > 0.0);
    assert!(rec["peak_rss_bytes"].as_u64().unwrap() > 0);

    // Every output is there and the logs are valid.
    ok(&["log", "validate", s(&out.join("scene.log"))]);
    ok(&["log", "validate", s(&out.join("generated/log"))]);
    for c in &cams {
        for i in [0, 16] {
            let p = out.join(format!("generated/frames/{c}/{i:03}.png"));
            let img = image::open(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            assert_eq!((img.width(), img.height()), (224, 128));
        }
    }
    for d in ["check-scene", "check-generated"] {
        let r = json(&out.join(d).join("report.json"));
        assert_eq!(r["summary"]["clips"].as_u64(), Some(1), "{d}");
        assert!(out.join(d).join("report.html").is_file());
    }
    for p in ["scene-panorama.mp4", "generated/panorama.mp4"] {
        let (w, h, n, secs) = mp4_track(&out.join(p));
        assert_eq!((w, h, n), (672, 256, 17), "{p}");
        assert!((secs - 1.7).abs() < 1e-6, "{p}: {secs} s");
        assert!(out.join(p.replace(".mp4", ".gif")).is_file());
    }
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    for needle in ["src=\"scene-panorama.mp4\"", "src=\"generated/panorama.mp4\"", "check-generated/report.html", "<table id=\"metrics\""] {
        assert!(html.contains(needle), "report.html lacks {needle}");
    }
    let tse = format!("{:.3} px", rec["scene"]["tse_px"].as_f64().unwrap());
    assert!(html.contains(&tse), "report.html lacks the scene TSE {tse}");

    // The report in a real browser: both panoramas decode.
    if Path::new(CHROMIUM).exists() {
        let profile = tempfile::tempdir().unwrap();
        let url = format!("file://{}", out.join("report.html").display());
        let o = Command::new(CHROMIUM)
            .args(["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-dev-shm-usage"])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .args(["--virtual-time-budget=10000", "--dump-dom", &url])
            .output()
            .expect("run chromium");
        let dom = String::from_utf8_lossy(&o.stdout);
        assert!(dom.contains("data-videos-loaded=\"2\""), "the panoramas did not decode in chromium:\n{}", &dom[..dom.len().min(2000)]);
        assert!(dom.contains("data-size=\"672x256\""), "{dom}");
        assert!(!dom.contains("data-video-error"), "{dom}");
    } else if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("{CHROMIUM} is missing under CI=true: .ci/run must install chromium");
    } else {
        eprintln!("SKIPPED the browser part: {CHROMIUM} not installed");
    }

    // An existing output is kept unless --overwrite; a missing model fails before anything is written.
    let e = fails(&["demo", "--steps", "1", "--out", s(&out)]);
    assert!(e.contains("exists") && e.contains("--overwrite"), "{e}");
    assert!(out.join("report.html").is_file());
    let other = tmp.path().join("other");
    let e = fails(&["demo", "--model", s(&tmp.path().join("nope")), "--out", s(&other)]);
    assert!(e.contains("nope") && e.contains("multiview.json"), "{e}");
    assert!(!other.exists() && !tmp.path().join(".other.partial").exists());
}

#[test]
fn bundled_multiview_checkpoint_matches_its_parents() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("checkpoints");
    let card = json(&root.join("multiview-tiny/multiview.json"));
    let sha = |p: &str| worldrig_model::train::sha256_file(&root.join(p)).unwrap();
    // Fine-tuned from the bundled Text2World model, whose tokenizer is the bundled one.
    assert_eq!(card["init_sha256"].as_str().unwrap(), sha("text2world-tiny/model.bpk"));
    assert_eq!(card["text2world"]["tokenizer_sha256"].as_str().unwrap(), sha("tokenizer-tiny/model.bpk"));
    assert_eq!(card["cameras"].as_array().unwrap().len(), 6);
    // Its training log runs the config's 1000 steps and ends below where it started.
    let log: Vec<serde_json::Value> =
        std::fs::read_to_string(root.join("multiview-tiny/losses.jsonl")).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(log.last().unwrap()["step"].as_u64(), Some(1000));
    let (first, last) = (log[0]["probe"].as_f64().unwrap(), log.last().unwrap()["probe"].as_f64().unwrap());
    assert!(last < first, "probe {first} -> {last}");
    // The three bundled checkpoints stay within the 30 MB budget.
    let total: u64 = ["tokenizer-tiny", "text2world-tiny", "multiview-tiny"]
        .iter()
        .flat_map(|d| std::fs::read_dir(root.join(d)).unwrap().map(|e| e.unwrap().metadata().unwrap().len()))
        .sum();
    assert!(total <= 30_000_000, "{total} bytes");
}
