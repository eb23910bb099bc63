//! `worldrig train multiview` end to end: post-training a small Text2World run on a simulated
//! six-camera clip lowers the loss, resumes exactly, and rejects bad input.

mod common;

use common::{fails, ok, s};

use std::path::Path;

use worldrig_model::train::flat_params;

const T2W: &str = r#"{
  "name": "test",
  "model": {"latent_channels": 16, "patch": 2, "width": 128, "depth": 2, "heads": 4, "mlp_ratio": 2, "adaln_rank": 16,
            "text_width": 32, "text_layers": 1, "text_heads": 2, "max_caption_tokens": 32, "vocab_size": 256},
  "train": {"steps": 20, "batch": 2, "frames": 5, "resolution": [128, 224], "window_stride": 1, "lr": 0.002,
            "warmup_steps": 5, "min_lr_ratio": 0.05, "weight_decay": 0.0, "grad_clip": 1.0, "ema": null,
            "caption_dropout": 0.1, "p_mean": -0.4, "p_std": 1.2, "sigma_data": 0.5, "condition_prob": 0.3,
            "condition_frames": 1, "augment_sigma": 0.001, "checkpoint_every": 100, "log_every": 10, "seed": 1},
  "sample": {"sampler": "heun", "steps": 8, "sigma_min": 0.002, "sigma_max": 80.0, "rho": 7.0, "guidance": 1.0}
}"#;

const MV: &str = r#"{
  "name": "test", "trajectory_points": 8, "trajectory_step_s": 0.1, "cross_view": true, "trajectory": true,
  "train": {"steps": 300, "batch": 1, "window_stride": 1, "lr": 0.003, "warmup_steps": 5, "min_lr_ratio": 0.05,
            "weight_decay": 0.0, "grad_clip": 1.0, "ema": null, "caption_dropout": 0.0, "p_mean": -0.4, "p_std": 1.2,
            "condition_prob": 0.3, "condition_frames": 1, "augment_sigma": 0.001, "checkpoint_every": 100, "log_every": 50, "seed": 2},
  "sample": {"sampler": "heun", "steps": 8, "sigma_min": 0.002, "sigma_max": 80.0, "rho": 7.0, "guidance": 1.0}
}"#;

fn probes(run: &Path) -> Vec<f64> {
    std::fs::read_to_string(run.join("losses.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["probe"].as_f64().unwrap())
        .collect()
}

fn weights(run: &Path) -> Vec<f32> {
    let device = burn::prelude::Device::flex();
    let card: worldrig_model::multiview::MvCard = serde_json::from_str(&std::fs::read_to_string(run.join("multiview.json")).unwrap()).unwrap();
    let base = card.text2world.model.init(&device);
    let m = worldrig_model::multiview::MultiViewDit::new(base, &card.text2world.model, card.trajectory_points, &device);
    flat_params(&worldrig_model::train::load_module(m, &run.join("model.bpk")).unwrap())
}

#[test]
fn post_training_lowers_the_loss_and_resumes_exactly() {
    let tmp = tempfile::tempdir().unwrap();
    let log = tmp.path().join("sim");
    ok(&["sim", "--clips", "1", "--frames", "6", "--resolution", "224x128", "--seed", "5", "--out", s(&log)]);
    let tok = Path::new(env!("CARGO_MANIFEST_DIR")).join("checkpoints/tokenizer-tiny");
    let t2w_cfg = tmp.path().join("t2w.json");
    std::fs::write(&t2w_cfg, T2W).unwrap();
    let t2w = tmp.path().join("t2w");
    ok(&["train", "text2world", "--data", s(&log), "--tokenizer", s(&tok), "--config", s(&t2w_cfg), "--out", s(&t2w)]);

    let cfg = tmp.path().join("mv.json");
    std::fs::write(&cfg, MV).unwrap();
    let run = tmp.path().join("mv");
    let out = ok(&["train", "multiview", "--init", s(&t2w), "--data", s(&log), "--config", s(&cfg), "--out", s(&run)]);
    assert!(out.contains("finished"), "{out}");
    let card: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(run.join("multiview.json")).unwrap()).unwrap();
    assert_eq!(card["cameras"].as_array().unwrap().len(), 6);
    assert_eq!(card["cameras"][0]["model"]["width"], 224, "cameras are stored at the model resolution");
    let p = probes(&run);
    let (first, last) = (p[0], *p.last().unwrap());
    assert!(last < 0.8 * first, "multi-view probe loss {first:.4} -> {last:.4}: did not fall by 20%");
    eprintln!("multi-view probe loss {first:.4} -> {last:.4}");

    // Generation for the log's rig: every camera, a panorama, a valid scene log, deterministic.
    let g = tmp.path().join("g");
    let text = ok(&["generate", "--model", s(&run), "--log", s(&log), "--seed", "3", "--out", s(&g)]);
    assert!(text.contains("6 views x 5 frames of 224x128"), "{text}");
    assert!(g.join("panorama.gif").exists());
    assert!(g.join("panorama.mp4").exists());
    let pano = image::open(g.join("panorama.gif")).unwrap();
    assert_eq!((pano.width(), pano.height()), (3 * 224, 2 * 128));
    ok(&["log", "validate", s(&g.join("log"))]);
    let frames = |dir: &Path| -> Vec<Vec<u8>> {
        let mut v = Vec::new();
        let mut cams: Vec<_> = std::fs::read_dir(dir.join("frames")).unwrap().map(|e| e.unwrap().path()).collect();
        cams.sort();
        assert_eq!(cams.len(), 6);
        for c in cams {
            let mut f: Vec<_> = std::fs::read_dir(&c).unwrap().map(|e| e.unwrap().path()).collect();
            f.sort();
            assert_eq!(f.len(), 5);
            v.extend(f.iter().map(|p| std::fs::read(p).unwrap()));
        }
        v
    };
    let g2 = tmp.path().join("g2");
    ok(&["generate", "--model", s(&run), "--log", s(&log), "--seed", "3", "--out", s(&g2)]);
    assert!(frames(&g) == frames(&g2), "same seed, different frames");
    // Video2World from the log's first frames, and the two baselines.
    let g3 = tmp.path().join("g3");
    ok(&["generate", "--model", s(&run), "--log", s(&log), "--condition-frames", "1", "--no-cross-view", "--no-trajectory", "--steps", "4", "--out", s(&g3)]);
    let prov: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(g3.join("generation.json")).unwrap()).unwrap();
    assert_eq!(prov["cross_view"], false);
    assert_eq!(prov["condition_frames"], 1);
    assert!(frames(&g3) != frames(&g));
    // A planned trajectory instead of the logged one: 2 m per step straight ahead.
    let plan = tmp.path().join("plan.json");
    std::fs::write(&plan, serde_json::to_string(&(0..8).map(|k| [2.0 * k as f64, 0.0, 0.0]).collect::<Vec<_>>()).unwrap()).unwrap();
    let g4 = tmp.path().join("g4");
    ok(&["generate", "--model", s(&run), "--log", s(&log), "--trajectory", s(&plan), "--steps", "4", "--out", s(&g4)]);
    ok(&["log", "validate", s(&g4.join("log"))]);
    std::fs::write(&plan, "[[0, 0, 0]]").unwrap();
    let err = fails(&["generate", "--model", s(&run), "--log", s(&log), "--trajectory", s(&plan), "--out", s(&tmp.path().join("g5"))]);
    assert!(err.contains("at least 2"), "{err}");

    // Resume: 3 + 3 steps equal 6 uninterrupted ones.
    let a = tmp.path().join("a");
    let b = tmp.path().join("b");
    let args = |out: &Path, extra: &[&str]| -> Vec<String> {
        ["train", "multiview", "--init", s(&t2w), "--data", s(&log), "--config", s(&cfg), "--steps", "6", "--out", s(out)].iter().chain(extra).map(|x| x.to_string()).collect()
    };
    let run_args = |v: Vec<String>| ok(&v.iter().map(String::as_str).collect::<Vec<_>>());
    run_args(args(&a, &[]));
    run_args(args(&b, &["--max-steps-now", "3"]));
    run_args(args(&b, &["--resume"]));
    let (wa, wb) = (weights(&a), weights(&b));
    assert!(!wa.is_empty() && wa == wb, "the resumed multi-view run differs from the uninterrupted one");

    // Bad input: the init is not a Text2World run; nothing is written.
    let bad = tmp.path().join("bad");
    let err = fails(&["train", "multiview", "--init", s(&tok), "--data", s(&log), "--config", s(&cfg), "--out", s(&bad)]);
    assert!(err.contains("text2world.json"), "{err}");
    assert!(!bad.exists());
}
