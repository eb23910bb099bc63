//! The causal video tokenizer: shapes, causality, chunked = whole-clip, overfitting, checkpoints
//! and exact resume.

use std::path::{Path, PathBuf};

use burn::module::{Module, ModuleVisitor, Param};
use burn::prelude::*;
use worldrig_model::data::{load_videos, Video};
use worldrig_model::tokenizer::codec::load_run;
use worldrig_model::tokenizer::train::{train, TrainOptions};
use worldrig_model::tokenizer::{TokenizerConfig, TokenizerFile};
use worldrig_model::train::{flat_params, load_module, save_module};

fn small_config() -> TokenizerConfig {
    serde_json::from_str(
        r#"{"in_channels": 3, "latent_channels": 8, "patch": 4, "patch_time": 2, "channels": [16, 32],
            "encoder_blocks": [1, 1], "decoder_blocks": [1, 1], "temporal_down": [true], "temporal_kernel": 3, "chunk_frames": 8}"#,
    )
    .unwrap()
}

/// Both variants: with and without the linear shortcut.
fn configs() -> [TokenizerConfig; 2] {
    let mut with = small_config();
    with.linear_shortcut = true;
    [small_config(), with]
}

fn random_clip(frames: usize, h: usize, w: usize, seed: u64, device: &Device) -> Tensor<5> {
    let mut g = worldrig_model::rng::SplitMix64::new(seed);
    let data: Vec<f32> = (0..3 * frames * h * w).map(|_| g.unit() as f32 * 2.0 - 1.0).collect();
    Tensor::from_data(TensorData::new(data, [1, 3, frames, h, w]), device)
}

fn values(t: Tensor<5>) -> Vec<f32> {
    t.into_data().as_slice::<f32>().unwrap().to_vec()
}

#[test]
fn shapes_for_several_lengths() {
    let device = Device::flex();
    device.seed(1);
    let cfg = small_config();
    cfg.validate().unwrap();
    assert_eq!(cfg.spatial_compression(), 8);
    assert_eq!(cfg.temporal_compression(), 4);
    let model = cfg.init(&device);
    for (frames, latent) in [(1, 1), (5, 2), (9, 3), (17, 5)] {
        assert_eq!(cfg.latent_frames(frames), Some(latent));
        let z = model.encode(random_clip(frames, 16, 24, frames as u64, &device));
        assert_eq!(z.dims(), [1, 8, latent, 2, 3], "{frames} frames");
        let y = model.decode(z);
        assert_eq!(y.dims(), [1, 3, frames, 16, 24], "{frames} frames");
    }
    assert_eq!(cfg.latent_frames(4), None);
    // The 8x temporal config shipped beside tiny.
    let t8 = TokenizerFile::load(&repo().join("configs/tokenizer/tiny-t8.json")).unwrap();
    assert_eq!(t8.model.temporal_compression(), 8);
    let m8 = t8.model.init(&device);
    let z = m8.encode(random_clip(17, 16, 16, 3, &device));
    assert_eq!(z.dims(), [1, 16, 3, 2, 2]);
    assert_eq!(m8.decode(z).dims(), [1, 3, 17, 16, 16]);
}

#[test]
fn latents_never_depend_on_later_frames() {
    for cfg in configs() {
        causality(&cfg);
    }
}

fn causality(cfg: &TokenizerConfig) {
    let device = Device::flex();
    device.seed(2);
    let mut model = cfg.init(&device);
    if cfg.linear_shortcut {
        // Give the zero-initialised body outputs weight so both paths are exercised.
        model.encoder.conv_out = burn::nn::conv::Conv3dConfig::new([32, 8], [1, 3, 3]).with_padding(burn::nn::PaddingConfig3d::Explicit(0, 1, 1)).init(&device);
        model.decoder.conv_out = burn::nn::conv::Conv3dConfig::new([16, 96], [1, 3, 3]).with_padding(burn::nn::PaddingConfig3d::Explicit(0, 1, 1)).init(&device);
    }
    let a = random_clip(13, 16, 16, 10, &device);
    // Same first 5 frames (latents 0 and 1 cover frames 0..=4), different frames 5..12.
    let b = Tensor::cat(vec![a.clone().narrow(2, 0, 5), random_clip(8, 16, 16, 11, &device)], 2);
    let za = model.encode(a.clone());
    let zb = model.encode(b.clone());
    assert_eq!(values(za.clone().narrow(2, 0, 2)), values(zb.clone().narrow(2, 0, 2)), "latents 0-1 changed");
    assert_ne!(values(za.clone().narrow(2, 2, 1)), values(zb.clone().narrow(2, 2, 1)), "latent 2 must see frames 5-8");
    // The decoder is causal too: frames 0..=4 come from latents 0..=1 only.
    let ya = model.decode(za);
    let yb = model.decode(zb);
    assert_eq!(values(ya.narrow(2, 0, 5)), values(yb.narrow(2, 0, 5)));
    // A single image is a one-frame video: the first latent of any clip is the image's latent (up to
    // float rounding: a different length changes how the matrix products are blocked).
    let img = values(model.encode(a.clone().narrow(2, 0, 1)));
    let first = values(model.encode(a).narrow(2, 0, 1));
    let err = img.iter().zip(&first).map(|(x, y)| (x - y).abs()).fold(0.0f32, f32::max);
    assert!(err < 1e-5, "{err}");
}

#[test]
fn chunked_coding_matches_the_whole_clip() {
    for cfg in configs() {
        chunked(&cfg);
    }
}

fn chunked(cfg: &TokenizerConfig) {
    let device = Device::flex();
    device.seed(3);
    let model = cfg.init(&device);
    let x = random_clip(25, 16, 16, 20, &device);
    let whole = values(model.encode(x.clone()));
    for chunk in [4, 8, 12] {
        let chunked = values(model.encode_chunked(x.clone(), chunk));
        let err = whole.iter().zip(&chunked).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
        assert!(err < 1e-4, "encode chunk {chunk}: max difference {err}");
    }
    let z = model.encode(x);
    let whole = values(model.decode(z.clone()));
    for chunk in [1, 2, 3] {
        let chunked = values(model.decode_chunked(z.clone(), chunk));
        assert_eq!(whole.len(), chunked.len());
        let err = whole.iter().zip(&chunked).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
        assert!(err < 1e-4, "decode chunk {chunk}: max difference {err}");
    }
}

#[test]
fn checkpoint_round_trip_is_bit_exact() {
    let device = Device::flex();
    device.seed(4);
    let cfg = small_config();
    let model = cfg.init(&device);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("model.bpk");
    save_module(model.clone(), &path).unwrap();
    device.seed(5);
    let fresh = cfg.init(&device);
    assert_ne!(flat_params(&fresh), flat_params(&model));
    let loaded = load_module(fresh, &path).unwrap();
    let (a, b) = (flat_params(&model), flat_params(&loaded));
    assert_eq!(a.len(), b.len());
    assert!(a.iter().zip(&b).all(|(x, y)| x.to_bits() == y.to_bits()));
    let x = random_clip(5, 16, 16, 6, &device);
    assert_eq!(values(model.forward(x.clone())), values(loaded.forward(x)));
    // A missing or foreign file is a clear error.
    let err = load_module(cfg.init(&device), &dir.path().join("nope.bpk")).unwrap_err().to_string();
    assert!(err.contains("nope.bpk"), "{err}");
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A `frames`-frame, 32x64 video panning across the first front-camera frame of the shipped sample log
/// (3 px per frame).
fn sample_video(frames: usize) -> Video {
    let mut v = load_videos(&[repo().join("datasets/sim-sample")], &["camera_front_wide_120fov".to_string()]).unwrap().remove(0);
    let (h, w) = (32, 64);
    let (y0, x0) = (v.height / 2 - h / 2, v.width / 2 - w / 2 - 3 * frames / 2);
    let src = v.frames[0].clone();
    v.frames = (0..frames)
        .map(|k| {
            let mut out = Vec::with_capacity(h * w * 3);
            for y in 0..h {
                let s = ((y0 + y) * v.width + x0 + 3 * k) * 3;
                out.extend_from_slice(&src[s..s + w * 3]);
            }
            out
        })
        .collect();
    v.width = w;
    v.height = h;
    v
}

fn overfit_file(steps: u64) -> TokenizerFile {
    let mut f = TokenizerFile::from_json(worldrig_model::tokenizer::config::builtin("tiny").unwrap(), "tiny").unwrap();
    f.model = small_config();
    f.train.steps = steps;
    f.train.batch = 1;
    f.train.frames = 5;
    f.train.crop = [32, 64];
    f.train.lr = 3e-3;
    f.train.warmup_steps = 10;
    f.train.checkpoint_every = 1000;
    f.train.log_every = 10;
    f.train.ssim_weight = 0.2;
    f.validate().unwrap();
    f
}

#[test]
fn overfitting_one_clip_lowers_the_loss_tenfold() {
    let video = sample_video(4 + 1);
    let file = overfit_file(400);
    let dir = tempfile::tempdir().unwrap();
    let opts = TrainOptions { out: dir.path().join("run"), data: vec![], cameras: vec![], resume: false, max_steps_now: None, total_steps: None };
    let s = train(&file, &[video], &opts, &Device::flex(), |_| {}).unwrap();
    let first = s.first_loss.unwrap();
    assert!(s.finished);
    assert!(s.last_loss * 10.0 <= first, "loss {first:.4} -> {:.4}: less than 10x lower", s.last_loss);
    // The run exports weights that load and reconstruct the clip.
    let tok = load_run(&opts.out, &Device::flex()).unwrap();
    assert_eq!(tok.config, file.model);
    assert!(opts.out.join("losses.jsonl").exists() && opts.out.join("config.json").exists());
}

#[test]
fn resumed_training_equals_an_uninterrupted_run() {
    let video = sample_video(5);
    let mut file = overfit_file(8);
    file.train.checkpoint_every = 3;
    file.train.ema = Some(0.9);
    file.train.log_every = 1;
    let dir = tempfile::tempdir().unwrap();
    let device = Device::flex();
    let whole = TrainOptions { out: dir.path().join("whole"), data: vec![], cameras: vec![], resume: false, max_steps_now: None, total_steps: None };
    train(&file, std::slice::from_ref(&video), &whole, &device, |_| {}).unwrap();
    let split = TrainOptions { out: dir.path().join("split"), max_steps_now: Some(5), ..whole.clone() };
    let s = train(&file, std::slice::from_ref(&video), &split, &device, |_| {}).unwrap();
    assert!(!s.finished && s.steps_done == 5);
    // Starting again without --resume refuses to overwrite the run.
    let err = train(&file, std::slice::from_ref(&video), &TrainOptions { max_steps_now: None, ..split.clone() }, &device, |_| {}).unwrap_err();
    assert!(err.to_string().contains("--resume"), "{err}");
    let s = train(&file, std::slice::from_ref(&video), &TrainOptions { resume: true, max_steps_now: None, ..split.clone() }, &device, |_| {}).unwrap();
    assert!(s.finished && s.steps_done == 8);
    let a = flat_params(&load_run(&whole.out, &device).unwrap().model);
    let b = flat_params(&load_run(&split.out, &device).unwrap().model);
    let same = a.iter().zip(&b).filter(|(x, y)| x.to_bits() == y.to_bits()).count();
    assert!(a.len() == b.len() && same == a.len(), "the resumed run's weights differ from the uninterrupted run's ({same}/{} equal)", a.len());
    let la = std::fs::read_to_string(whole.out.join("losses.jsonl")).unwrap();
    let lb = std::fs::read_to_string(split.out.join("losses.jsonl")).unwrap();
    let strip = |s: &str| -> Vec<(u64, String)> {
        s.lines()
            .map(|l| {
                let v: serde_json::Value = serde_json::from_str(l).unwrap();
                (v["step"].as_u64().unwrap(), format!("{:.6}", v["loss"].as_f64().unwrap()))
            })
            .collect()
    };
    assert_eq!(strip(&la), strip(&lb));
}

#[test]
fn every_parameter_receives_gradients() {
    let device = Device::flex().autodiff();
    device.seed(7);
    let model = small_config().init(&device);
    let x = random_clip(5, 16, 16, 8, &device);
    let loss = (model.forward(x.clone()) - x).abs().mean();
    let grads = loss.backward();
    struct Check<'a>(&'a burn::tensor::Gradients, usize, usize);
    impl ModuleVisitor for Check<'_> {
        fn visit_float<const D: usize>(&mut self, p: &Param<Tensor<D>>) {
            self.1 += 1;
            if p.val().grad(self.0).is_some() {
                self.2 += 1;
            }
        }
    }
    let mut c = Check(&grads, 0, 0);
    model.visit(&mut c);
    assert_eq!(c.2, c.1, "only {} of {} parameters get a gradient", c.2, c.1);
}

#[test]
fn pca_initialisation_starts_as_the_best_linear_codec() {
    let video = sample_video(9);
    let device = Device::flex();
    device.seed(9);
    let mut cfg = small_config();
    cfg.linear_shortcut = true;
    let model = cfg.init(&device);
    let mut data = vec![0f32; 3 * 9 * 32 * 64];
    worldrig_model::data::write_crop(&video, 0, 9, 0, 0, 32, 64, &mut data);
    let x: Tensor<5> = Tensor::from_data(TensorData::new(data, [1, 3, 9, 32, 64]), &device);
    let l1 = |m: &worldrig_model::tokenizer::Tokenizer| (m.forward(x.clone()) - x.clone()).abs().mean().into_scalar::<f32>();
    let before = l1(&model);
    let (model, info) = worldrig_model::tokenizer::init::pca_init(model, &[video], 4096, 1, &device).unwrap();
    let after = l1(&model);
    assert!(info.explained > 0.5 && info.explained <= 1.0, "{info:?}");
    assert!(after < 0.5 * before && after < 0.1, "L1 {before:.4} -> {after:.4}");
    // The body starts at zero output: the model is exactly its linear path.
    let z = model.encode(x.clone());
    let lin = model.encoder.shortcut.as_ref().unwrap().forward(worldrig_model::tokenizer::model::cells(x.clone(), 8, 2, true));
    assert_eq!(values(z), values(lin));
    // Without the shortcut there is nothing to initialise.
    assert!(worldrig_model::tokenizer::init::pca_init(small_config().init(&device), &[sample_video(5)], 64, 1, &device).is_err());
}
