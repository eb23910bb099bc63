//! `worldrig tokenizer train|eval|encode|decode` end to end on a small simulated log, and its errors.

mod common;

use common::{fails, ok, s};

const CONFIG: &str = r#"{
  "name": "test",
  "model": {"in_channels": 3, "latent_channels": 8, "patch": 4, "patch_time": 2, "channels": [16, 32],
            "encoder_blocks": [1, 1], "decoder_blocks": [1, 1], "temporal_down": [true], "temporal_kernel": 3, "chunk_frames": 8},
  "train": {"steps": 4, "batch": 1, "frames": 5, "crop": [32, 64], "lr": 0.001, "warmup_steps": 1, "min_lr_ratio": 0.1,
            "weight_decay": 0.0001, "grad_clip": 1.0, "ema": 0.99, "ssim_weight": 0.2, "checkpoint_every": 2, "log_every": 1, "seed": 3}
}"#;

#[test]
fn train_eval_encode_decode() {
    let tmp = tempfile::tempdir().unwrap();
    let log = tmp.path().join("sim");
    ok(&["sim", "--clips", "1", "--frames", "5", "--resolution", "224x128", "--seed", "3", "--out", s(&log)]);
    let cfg = tmp.path().join("test.json");
    std::fs::write(&cfg, CONFIG).unwrap();
    let run = tmp.path().join("run");

    let out = ok(&["tokenizer", "train", "--data", s(&log), "--config", s(&cfg), "--out", s(&run)]);
    assert!(out.contains("finished"), "{out}");
    for f in ["config.json", "losses.jsonl", "model.bpk", "tokenizer.json"] {
        assert!(run.join(f).exists(), "{f} missing");
    }
    let losses = std::fs::read_to_string(run.join("losses.jsonl")).unwrap();
    assert_eq!(losses.lines().count(), 4, "{losses}");
    // A second start into the same directory needs --resume.
    let err = fails(&["tokenizer", "train", "--data", s(&log), "--config", s(&cfg), "--out", s(&run)]);
    assert!(err.contains("--resume"), "{err}");
    // --resume on a finished run is a no-op that keeps the weights.
    ok(&["tokenizer", "train", "--data", s(&log), "--config", s(&cfg), "--out", s(&run), "--resume"]);

    let eval = ok(&["tokenizer", "eval", "--model", s(&run), "--data", s(&log), "--frames", "5", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&eval).unwrap();
    assert_eq!(v["videos"].as_array().unwrap().len(), 6);
    assert_eq!(v["width"], 224);
    let psnr = v["video_psnr_db"].as_f64().unwrap();
    assert!(psnr.is_finite() && psnr > 5.0, "{psnr}");
    assert_eq!(v["images"], 12);

    let lat = tmp.path().join("latents");
    ok(&["tokenizer", "encode", "--model", s(&run), "--data", s(&log), "--out", s(&lat)]);
    let index: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(lat.join("index.json")).unwrap()).unwrap();
    let entries = index["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 6);
    assert_eq!(entries[0]["shape"], serde_json::json!([8, 2, 16, 28]));
    let npy = std::fs::read(lat.join(entries[0]["file"].as_str().unwrap())).unwrap();
    let arr = worldrig_scenelog::npy::parse_npy(&npy).unwrap();
    assert_eq!(arr.shape, vec![8, 2, 16, 28]);

    let dec = tmp.path().join("decoded");
    ok(&["tokenizer", "decode", "--model", s(&run), "--latents", s(&lat), "--out", s(&dec)]);
    let clip = entries[0]["clip_id"].as_str().unwrap();
    let cam = entries[0]["camera"].as_str().unwrap();
    let frames: Vec<_> = std::fs::read_dir(dec.join(clip).join(cam)).unwrap().collect();
    assert_eq!(frames.len(), 5);
    let img = image::open(dec.join(clip).join(cam).join("000004.png")).unwrap();
    assert_eq!((img.width(), img.height()), (224, 128));
}

#[test]
fn bad_input_is_reported_clearly() {
    let tmp = tempfile::tempdir().unwrap();
    let missing = tmp.path().join("nope.json");
    let err = fails(&["tokenizer", "train", "--data", "datasets/sim-sample", "--config", s(&missing), "--out", s(&tmp.path().join("r"))]);
    assert!(err.contains("nope.json"), "{err}");

    let bad = tmp.path().join("bad.json");
    std::fs::write(&bad, CONFIG.replace("\"frames\": 5", "\"frames\": 4")).unwrap();
    let err = fails(&["tokenizer", "train", "--data", "datasets/sim-sample", "--config", s(&bad), "--out", s(&tmp.path().join("r"))]);
    assert!(err.contains("bad.json") && err.contains("train.frames"), "{err}");

    let err = fails(&["tokenizer", "eval", "--model", s(&tmp.path().join("no-run")), "--data", "datasets/sim-sample"]);
    assert!(err.contains("no-run"), "{err}");

    let err = fails(&["tokenizer", "train", "--data", s(&tmp.path().join("no-log")), "--out", s(&tmp.path().join("r2"))]);
    assert!(err.contains("no-log"), "{err}");
    assert!(!tmp.path().join("r2").exists(), "nothing is written when the data cannot be read");

    // The shipped sample has 4 frames: too short for 5-frame training samples.
    let good = tmp.path().join("good.json");
    std::fs::write(&good, CONFIG).unwrap();
    let err = fails(&["tokenizer", "train", "--data", "datasets/sim-sample", "--config", s(&good), "--out", s(&tmp.path().join("r3"))]);
    assert!(err.contains("5 frames"), "{err}");
}

#[test]
fn bundled_tokenizer_reconstructs_the_sample_log() {
    // checkpoints/tokenizer-tiny on the shipped sample (4 frames: the first of each camera is coded
    // as an image). A broken or mismatched checkpoint fails to load or falls far below this.
    let eval = ok(&["tokenizer", "eval", "--model", "checkpoints/tokenizer-tiny", "--data", "datasets/sim-sample", "--frames", "5", "--images", "1", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&eval).unwrap();
    assert_eq!(v["videos"].as_array().unwrap().len(), 6);
    let psnr = v["image_psnr_db"].as_f64().unwrap();
    let ssim = v["image_ssim"].as_f64().unwrap();
    assert!(psnr > 28.0 && ssim > 0.85, "PSNR {psnr:.2} dB, SSIM {ssim:.3}");
}
