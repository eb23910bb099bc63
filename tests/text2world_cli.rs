//! `worldrig train text2world` and `worldrig generate` end to end with the bundled tokenizer: a
//! small DiT overfits one simulated clip, sampling it decodes close to the clip, generation is
//! deterministic, resume is exact, and bad input fails cleanly.

mod common;

use common::{fails, ok, s};

use std::path::{Path, PathBuf};

use worldrig_model::data::load_videos;
use worldrig_model::metrics::{mse, psnr_from_mse};
use worldrig_model::text2world::load_run;
use worldrig_model::train::flat_params;

/// A DiT small enough to overfit one clip in seconds.
const CONFIG: &str = r#"{
  "name": "test",
  "model": {"latent_channels": 16, "patch": 2, "width": 128, "depth": 2, "heads": 4, "mlp_ratio": 2, "adaln_rank": 16,
            "text_width": 32, "text_layers": 1, "text_heads": 2, "max_caption_tokens": 32, "vocab_size": 256},
  "train": {"steps": 400, "batch": 2, "frames": 5, "resolution": [128, 224], "window_stride": 1, "lr": 0.003,
            "warmup_steps": 20, "min_lr_ratio": 0.05, "weight_decay": 0.0, "grad_clip": 1.0, "ema": null,
            "caption_dropout": 0.0, "p_mean": -0.4, "p_std": 1.2, "sigma_data": 0.5, "condition_prob": 0.3,
            "condition_frames": 1, "augment_sigma": 0.001, "checkpoint_every": 100, "log_every": 50, "seed": 1},
  "sample": {"sampler": "heun", "steps": 12, "sigma_min": 0.002, "sigma_max": 80.0, "rho": 7.0, "guidance": 1.0}
}"#;

const CAMERA: &str = "camera_front_wide_120fov";

fn tokenizer() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("checkpoints/tokenizer-tiny")
}

fn probe_losses(run: &Path) -> Vec<(u64, f64)> {
    std::fs::read_to_string(run.join("losses.jsonl"))
        .unwrap()
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            (v["step"].as_u64().unwrap(), v["probe"].as_f64().unwrap())
        })
        .collect()
}

fn frames_of(dir: &Path) -> Vec<Vec<u8>> {
    let mut names: Vec<PathBuf> = std::fs::read_dir(dir.join("frames")).unwrap().map(|e| e.unwrap().path()).collect();
    names.sort();
    names.iter().map(|p| image::open(p).unwrap().to_rgb8().into_raw()).collect()
}

fn unit(f: &[u8]) -> Vec<f32> {
    f.iter().map(|&v| v as f32 / 255.0).collect()
}

#[test]
fn overfit_one_clip_generate_it_and_resume_exactly() {
    let tmp = tempfile::tempdir().unwrap();
    let log = tmp.path().join("sim");
    ok(&["sim", "--clips", "1", "--frames", "5", "--resolution", "224x128", "--seed", "3", "--out", s(&log)]);
    let cfg = tmp.path().join("dit.json");
    std::fs::write(&cfg, CONFIG).unwrap();
    let run = tmp.path().join("run");
    let tok = tokenizer();

    let out = ok(&["train", "text2world", "--data", s(&log), "--cameras", CAMERA, "--tokenizer", s(&tok), "--config", s(&cfg), "--out", s(&run)]);
    assert!(out.contains("finished"), "{out}");
    for f in ["config.json", "text2world.json", "losses.jsonl", "model.bpk", "latents/index.json", "latents/latents.f32"] {
        assert!(run.join(f).exists(), "{f} missing");
    }
    // The loss on the fixed probe batches fell at least 5x.
    let probes = probe_losses(&run);
    assert_eq!(probes.first().unwrap().0, 0);
    assert_eq!(probes.last().unwrap().0, 400);
    let (first, last) = (probes.first().unwrap().1, probes.last().unwrap().1);
    assert!(last * 5.0 <= first, "probe loss {first:.4} -> {last:.4}: not 5x lower");
    eprintln!("probe loss {first:.4} -> {last:.4} ({:.1}x lower)", first / last);

    // Sampling from the caption decodes to within 20 dB of the clip.
    let clips = worldrig_scenelog::SceneLog::open(&log).unwrap().read_clips(&mut worldrig_scenelog::Diag::strict()).unwrap();
    let caption = clips[0].value.captions[0].clone();
    let g1 = tmp.path().join("g1");
    let text = ok(&["generate", "--model", s(&run), "--prompt", &caption, "--seed", "7", "--out", s(&g1)]);
    assert!(text.contains("5 frames of 224x128"), "{text}");
    let generated = frames_of(&g1);
    assert_eq!(generated.len(), 5);
    let video = load_videos(std::slice::from_ref(&log), &[CAMERA.to_string()]).unwrap().remove(0);
    let (mut err, mut n) = (0.0, 0.0);
    for (g, r) in generated.iter().zip(&video.frames) {
        err += mse(&unit(g), &unit(r));
        n += 1.0;
    }
    let psnr = psnr_from_mse(err / n);
    assert!(psnr >= 20.0, "generated clip is {psnr:.2} dB from the clip it was trained on");
    eprintln!("sampled clip: {psnr:.2} dB PSNR against the training clip");
    assert!(g1.join("video.gif").exists());
    assert!(g1.join("video.mp4").exists());
    ok(&["log", "validate", s(&g1.join("log"))]);
    let prov: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(g1.join("generation.json")).unwrap()).unwrap();
    assert_eq!(prov["request"]["seed"], 7);
    assert_eq!(prov["weights_sha256"].as_str().unwrap().len(), 64);

    // Deterministic for a seed; another seed gives another clip.
    let g2 = tmp.path().join("g2");
    ok(&["generate", "--model", s(&run), "--prompt", &caption, "--seed", "7", "--out", s(&g2)]);
    assert!(frames_of(&g2) == generated, "same seed, different frames");
    let g3 = tmp.path().join("g3");
    ok(&["generate", "--model", s(&run), "--prompt", &caption, "--seed", "8", "--out", s(&g3)]);
    assert!(frames_of(&g3) != generated, "another seed gave the same frames");
    // An existing --out is not replaced without --overwrite.
    let err = fails(&["generate", "--model", s(&run), "--prompt", &caption, "--out", s(&g3)]);
    assert!(err.contains("--overwrite"), "{err}");

    // Video2World: continue the logged clip from its first frame.
    let clip_id = &clips[0].value.clip_id;
    let g4 = tmp.path().join("g4");
    let cond = format!("{}:{clip_id}:{CAMERA}", s(&log));
    ok(&["generate", "--model", s(&run), "--prompt", &caption, "--condition", &cond, "--sampler", "euler", "--steps", "8", "--out", s(&g4)]);
    let continued = frames_of(&g4);
    assert_eq!(continued.len(), 5);
    ok(&["log", "validate", s(&g4.join("log"))]);

    // Resume is exact: 3 + 3 steps give the weights of 6 uninterrupted steps.
    let a = tmp.path().join("a");
    let b = tmp.path().join("b");
    let base = ["train", "text2world", "--data", s(&log), "--cameras", CAMERA, "--tokenizer", s(&tok), "--config", s(&cfg), "--steps", "6"];
    let with = |extra: &[&str]| -> Vec<String> { base.iter().chain(extra).map(|x| x.to_string()).collect() };
    let run_args = |v: Vec<String>| ok(&v.iter().map(String::as_str).collect::<Vec<_>>());
    run_args(with(&["--out", s(&a)]));
    run_args(with(&["--out", s(&b), "--max-steps-now", "3"]));
    assert!(!b.join("model.bpk").exists());
    run_args(with(&["--out", s(&b), "--resume"]));
    let device = burn::prelude::Device::flex();
    let pa = flat_params(&load_run(&a, &device).unwrap().model);
    let pb = flat_params(&load_run(&b, &device).unwrap().model);
    assert!(!pa.is_empty() && pa == pb, "the resumed run's weights differ from the uninterrupted run's");
}

#[test]
fn bad_input_fails_and_writes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let log = tmp.path().join("sim");
    ok(&["sim", "--clips", "1", "--frames", "3", "--resolution", "224x128", "--seed", "3", "--out", s(&log)]);
    let cfg = tmp.path().join("dit.json");
    std::fs::write(&cfg, CONFIG).unwrap();
    let run = tmp.path().join("run");
    // Clips of 3 frames cannot give a 5-frame window.
    let err = fails(&["train", "text2world", "--data", s(&log), "--tokenizer", s(&tokenizer()), "--config", s(&cfg), "--out", s(&run)]);
    assert!(err.contains("5 frames"), "{err}");
    assert!(!run.exists(), "a failed start left {}", run.display());
    // A tokenizer that is not there.
    let err = fails(&["train", "text2world", "--data", s(&log), "--tokenizer", s(&tmp.path().join("nope")), "--config", s(&cfg), "--out", s(&run)]);
    assert!(err.contains("nope"), "{err}");
    assert!(!run.exists());
    // A model that is not a Text2World run.
    let err = fails(&["generate", "--model", s(&tokenizer()), "--prompt", "x", "--out", s(&tmp.path().join("g"))]);
    assert!(err.contains("text2world.json"), "{err}");
    assert!(!tmp.path().join("g").exists());
    // A config with a bad field names it.
    let bad = tmp.path().join("bad.json");
    std::fs::write(&bad, CONFIG.replace("\"caption_dropout\": 0.0", "\"caption_dropout\": 1.5")).unwrap();
    let err = fails(&["train", "text2world", "--data", s(&log), "--tokenizer", s(&tokenizer()), "--config", s(&bad), "--out", s(&run)]);
    assert!(err.contains("caption_dropout"), "{err}");
}

#[test]
fn bundled_text2world_checkpoint_generates() {
    let run = Path::new(env!("CARGO_MANIFEST_DIR")).join("checkpoints/text2world-tiny");
    // Its training log: the probe loss fell.
    let p = probe_losses(&run);
    let (first, last) = (p.first().unwrap().1, p.last().unwrap().1);
    assert!(last < 0.7 * first, "bundled run: probe loss {first:.4} -> {last:.4}");
    let tmp = tempfile::tempdir().unwrap();
    let g = tmp.path().join("g");
    let text = ok(&["generate", "--model", s(&run), "--prompt", "Straight road, two lanes in each direction, afternoon, clear.", "--frames", "5", "--steps", "4", "--seed", "1", "--out", s(&g)]);
    assert!(text.contains("5 frames of 224x128"), "{text}");
    assert_eq!(frames_of(&g).len(), 5);
    ok(&["log", "validate", s(&g.join("log"))]);
    let prov: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(g.join("generation.json")).unwrap()).unwrap();
    let sha = worldrig_model::train::sha256_file(&run.join("model.bpk")).unwrap();
    assert_eq!(prov["weights_sha256"].as_str().unwrap(), sha);
}
