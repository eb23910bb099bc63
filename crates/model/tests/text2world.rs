//! Text2World training pieces without a tokenizer: the latent normalisation, the batches a step
//! draws, and the loss on them.

use burn::prelude::*;
use worldrig_model::dit::text::CaptionVocab;
use worldrig_model::dit::DitFile;
use worldrig_model::rng::SplitMix64;
use worldrig_model::text2world::cache::{CacheIndex, LatentCache, WindowInfo};
use worldrig_model::text2world::train::{batch_loss, make_batch, probe_loss};

const SHAPE: [usize; 4] = [4, 2, 4, 6];

/// A cache of `n` windows whose channel `c` has mean `c` and standard deviation `c + 1`.
fn cache(n: usize) -> LatentCache {
    let mut rng = SplitMix64::new(5);
    let per: usize = SHAPE.iter().product();
    let plane = per / SHAPE[0];
    let mut data = Vec::with_capacity(n * per);
    for _ in 0..n {
        for c in 0..SHAPE[0] {
            for _ in 0..plane {
                let u = rng.unit() * 2.0 - 1.0; // uniform: variance 1/3
                data.push((c as f64 + (c as f64 + 1.0) * u * 3f64.sqrt()) as f32);
            }
        }
    }
    let windows = (0..n)
        .map(|i| WindowInfo { log: "log".into(), clip_id: format!("clip{}", i % 2), camera: "cam".into(), start: i, captions: i % 2 })
        .collect();
    let mut index = CacheIndex {
        tokenizer_sha256: "0".repeat(64),
        frames: 5,
        resolution: [32, 48],
        shape: SHAPE,
        windows,
        caption_sets: vec![vec!["a red car on a straight road".into(), "straight road, red car".into()], vec![]],
        mean: vec![],
        std: vec![],
    };
    // Statistics as the cache builder computes them.
    let (mut sum, mut sq) = (vec![0f64; SHAPE[0]], vec![0f64; SHAPE[0]]);
    for w in data.chunks(per) {
        for c in 0..SHAPE[0] {
            for &v in &w[c * plane..(c + 1) * plane] {
                sum[c] += v as f64;
                sq[c] += (v as f64).powi(2);
            }
        }
    }
    let count = (n * plane) as f64;
    index.mean = sum.iter().map(|s| s / count).collect();
    index.std = sq.iter().zip(&index.mean).map(|(q, m)| (q / count - m * m).sqrt()).collect();
    LatentCache { index, data }
}

fn file() -> DitFile {
    let mut f = DitFile::resolve("tiny").unwrap();
    f.model.latent_channels = SHAPE[0];
    f.model.width = 32;
    f.model.heads = 2;
    f.model.depth = 1;
    f.model.text_width = 16;
    f.model.text_heads = 2;
    f.model.text_layers = 1;
    f.train.batch = 3;
    f
}

fn vals<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data().as_slice::<f32>().unwrap().to_vec()
}

#[test]
fn normalised_windows_have_zero_mean_and_sigma_data_std() {
    let c = cache(6);
    let per = c.window_len();
    let plane = per / SHAPE[0];
    let mut all = vec![0f32; 6 * per];
    for i in 0..6 {
        c.write_normalised(i, 0.5, &mut all[i * per..(i + 1) * per]);
    }
    for ch in 0..SHAPE[0] {
        let v: Vec<f64> = all.chunks(per).flat_map(|w| w[ch * plane..(ch + 1) * plane].iter().map(|&x| x as f64)).collect();
        let m = v.iter().sum::<f64>() / v.len() as f64;
        let s = (v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / v.len() as f64).sqrt();
        assert!(m.abs() < 1e-5, "channel {ch}: mean {m}");
        assert!((s - 0.5).abs() < 1e-5, "channel {ch}: std {s}");
    }
}

#[test]
fn a_step_draws_the_same_batch_every_time() {
    let device = Device::flex();
    let c = cache(5);
    let f = file();
    let vocab = CaptionVocab::build(c.all_captions(), 64, 16);
    let a = make_batch(&c, &vocab, &f.train, 7, &device);
    let b = make_batch(&c, &vocab, &f.train, 7, &device);
    let other = make_batch(&c, &vocab, &f.train, 8, &device);
    assert_eq!(a.captions, b.captions);
    assert_eq!(vals(a.x0.clone()), vals(b.x0));
    assert_eq!(vals(a.noise.clone()), vals(b.noise));
    assert_eq!(vals(a.sigma.clone()), vals(b.sigma));
    assert_ne!(vals(a.noise), vals(other.noise));
    assert_eq!(a.x0.dims(), [3, SHAPE[0], SHAPE[1], SHAPE[2], SHAPE[3]]);
}

#[test]
fn caption_dropout_and_video2world_steps_follow_the_config() {
    let device = Device::flex();
    let c = cache(4);
    let mut f = file();
    let vocab = CaptionVocab::build(c.all_captions(), 64, 16);
    // Dropout 1: every caption is the empty one (the unconditional model).
    f.train.caption_dropout = 1.0;
    for step in 0..5 {
        assert!(make_batch(&c, &vocab, &f.train, step, &device).captions.iter().all(String::is_empty));
    }
    // Dropout 0: windows of the clip without captions get the empty caption, the others one of theirs.
    f.train.caption_dropout = 0.0;
    let mut seen = 0;
    for step in 0..20 {
        for cap in make_batch(&c, &vocab, &f.train, step, &device).captions {
            assert!(cap.is_empty() || c.index.caption_sets[0].contains(&cap), "{cap}");
            seen += !cap.is_empty() as usize;
        }
    }
    assert!(seen > 0);
    // condition_prob 1: the first latent frame is marked given; 0: none is.
    f.train.condition_prob = 1.0;
    let b = make_batch(&c, &vocab, &f.train, 3, &device);
    assert_eq!(b.v2w.cond_frames, 1);
    let m = vals(b.cond);
    let per_frame = SHAPE[2] * SHAPE[3];
    for (i, v) in m.iter().enumerate() {
        let frame = (i / per_frame) % SHAPE[1];
        assert_eq!(*v, if frame == 0 { 1.0 } else { 0.0 });
    }
    f.train.condition_prob = 0.0;
    let b = make_batch(&c, &vocab, &f.train, 3, &device);
    assert_eq!(b.v2w.cond_frames, 0);
    assert!(vals(b.cond).iter().all(|&v| v == 0.0));
}

#[test]
fn untrained_loss_is_near_one_and_probe_is_deterministic() {
    let device = Device::flex();
    device.seed(1);
    let c = cache(6);
    let f = file();
    let vocab = CaptionVocab::build(c.all_captions(), 64, 16);
    let model = f.model.init(&device);
    // The output layer starts at zero, so F = 0 and D(x) = c_skip x, whose weighted error
    // ((c_skip - 1)^2 sigma_data^2 + c_skip^2 sigma^2) / c_out^2 is exactly 1 in expectation for data
    // of standard deviation sigma_data, at every noise level.
    let mut sum = 0.0;
    for step in 0..8 {
        sum += batch_loss(&model, make_batch(&c, &vocab, &f.train, step, &device), f.train.sigma_data).into_scalar::<f32>() as f64;
    }
    let l = sum / 8.0;
    assert!((l - 1.0).abs() < 0.25, "{l}");
    let p1 = probe_loss(&model, &c, &vocab, &f.train, &device);
    let p2 = probe_loss(&model, &c, &vocab, &f.train, &device);
    assert_eq!(p1, p2);
}
