//! The DiT network: 3D RoPE's relative-position property, patchify round trip, shapes, the
//! identity start of adaLN-Zero, caption vocabulary and checkpoint round trip.

use burn::module::{Module, ModuleVisitor, Param};
use burn::prelude::*;
use worldrig_model::dit::net::{patchify, unpatchify};
use worldrig_model::dit::rope;
use worldrig_model::dit::text::{CaptionVocab, PAD, UNK};
use worldrig_model::dit::DitConfig;
use worldrig_model::rng::SplitMix64;

fn tiny() -> DitConfig {
    serde_json::from_str(
        r#"{"latent_channels": 4, "patch": 2, "width": 48, "depth": 2, "heads": 4, "mlp_ratio": 2, "adaln_rank": 8,
            "text_width": 16, "text_layers": 1, "text_heads": 2, "max_caption_tokens": 12, "vocab_size": 32}"#,
    )
    .unwrap()
}

fn random(shape: [usize; 5], seed: u64, device: &Device) -> Tensor<5> {
    let mut g = SplitMix64::new(seed);
    let n = shape.iter().product();
    Tensor::from_data(TensorData::new((0..n).map(|_| g.unit() as f32 * 2.0 - 1.0).collect::<Vec<f32>>(), shape), device)
}

fn vals<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data().as_slice::<f32>().unwrap().to_vec()
}

#[test]
fn rope_scores_depend_only_on_relative_position() {
    let device = Device::flex();
    let head_dim = 24;
    let mut g = SplitMix64::new(5);
    let q: Vec<f32> = (0..head_dim).map(|_| g.unit() as f32 - 0.5).collect();
    let k: Vec<f32> = (0..head_dim).map(|_| g.unit() as f32 - 0.5).collect();
    // One token at position p, through tables with an origin offset.
    let score = |pq: [f64; 3], pk: [f64; 3]| -> f32 {
        let (cq, sq) = rope::tables([1, 1, 1], pq, head_dim, 10000.0, &device);
        let (ck, sk) = rope::tables([1, 1, 1], pk, head_dim, 10000.0, &device);
        let tq: Tensor<3> = Tensor::<1>::from_data(TensorData::new(q.clone(), [head_dim]), &device).reshape([1, 1, head_dim]);
        let tk: Tensor<3> = Tensor::<1>::from_data(TensorData::new(k.clone(), [head_dim]), &device).reshape([1, 1, head_dim]);
        (rope::apply(tq, &cq, &sq, 1) * rope::apply(tk, &ck, &sk, 1)).sum().into_scalar::<f32>()
    };
    let base = score([1.0, 2.0, 3.0], [4.0, 0.0, 7.0]);
    for shift in [[5.0, 0.0, 0.0], [0.0, 3.0, 0.0], [0.0, 0.0, -9.0], [2.0, 11.0, 4.0]] {
        let moved = score([1.0 + shift[0], 2.0 + shift[1], 3.0 + shift[2]], [4.0 + shift[0], 0.0 + shift[1], 7.0 + shift[2]]);
        assert!((base - moved).abs() < 1e-4, "shift {shift:?}: {base} vs {moved}");
    }
    // ... and does change with the offset along each axis.
    for d in [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]] {
        let other = score([1.0 + d[0], 2.0 + d[1], 3.0 + d[2]], [4.0, 0.0, 7.0]);
        assert!((base - other).abs() > 1e-4, "axis {d:?} has no effect");
    }
    // The rotation preserves norms.
    let (c, s) = rope::tables([2, 3, 4], [0.0; 3], head_dim, 10000.0, &device);
    let x = random([1, 1, 24, 2 * head_dim, 1], 3, &device).reshape([1, 24, 2 * head_dim]);
    let n0 = x.clone().square().sum().into_scalar::<f32>();
    let n1 = rope::apply(x, &c, &s, 2).square().sum().into_scalar::<f32>();
    assert!((n0 - n1).abs() < 1e-3 * n0);
}

#[test]
fn patchify_round_trips_and_orders_tokens_time_major() {
    let device = Device::flex();
    let x = random([2, 4, 3, 6, 8], 1, &device);
    let t = patchify(x.clone(), 2);
    assert_eq!(t.dims(), [2, 3 * 3 * 4, 16]);
    assert_eq!(vals(unpatchify(t.clone(), 2, 4, 3, 6, 8)), vals(x.clone()));
    // Token 0 holds the top-left 2x2 cell of frame 0, channel-major.
    let tok0 = vals(t.narrow(1, 0, 1));
    let x0 = x.into_data();
    let xs = x0.as_slice::<f32>().unwrap();
    let at = |c: usize, y: usize, xx: usize| xs[((c * 3) * 6 + y) * 8 + xx];
    assert_eq!(tok0[0], at(0, 0, 0));
    assert_eq!(tok0[1], at(0, 0, 1));
    assert_eq!(tok0[2], at(0, 1, 0));
    assert_eq!(tok0[4], at(1, 0, 0));
}

#[test]
fn forward_shapes_and_zero_start() {
    let device = Device::flex();
    device.seed(1);
    let cfg = tiny();
    cfg.validate().unwrap();
    let net = cfg.init(&device);
    let vocab = CaptionVocab::build(["a car drives on a road", "rain at night"], cfg.vocab_size, cfg.max_caption_tokens);
    let (ids, pad) = vocab.batch(&["a car at night".to_string(), "road".to_string()], &device);
    let x = random([2, 4, 3, 4, 6], 2, &device);
    let cond = Tensor::zeros([2, 1, 3, 4, 6], &device);
    let c_noise = Tensor::from_data(TensorData::new(vec![0.1f32, -0.5], [2]), &device);
    let y = net.forward(x, c_noise.clone(), cond.clone(), ids.clone(), pad.clone());
    assert_eq!(y.dims(), [2, 4, 3, 4, 6]);
    // adaLN-Zero and the zero output layer: the untrained network outputs exactly zero.
    assert!(vals(y).iter().all(|v| *v == 0.0));
    // Once the output layer is non-zero, the output depends on the noise level and the caption.
    let mut net = net;
    net.final_out = burn::nn::LinearConfig::new(cfg.width, cfg.token_out()).init(&device);
    for b in &mut net.blocks {
        b.ada.up = burn::nn::LinearConfig::new(cfg.adaln_rank, 9 * cfg.width).init(&device);
    }
    let x = random([2, 4, 3, 4, 6], 2, &device);
    let a = vals(net.forward(x.clone(), c_noise.clone(), cond.clone(), ids.clone(), pad.clone()));
    let b = vals(net.forward(x.clone(), c_noise.clone().add_scalar(1.0), cond.clone(), ids.clone(), pad.clone()));
    assert_ne!(a, b);
    let (ids2, pad2) = vocab.batch(&["rain".to_string(), "road".to_string()], &device);
    let c = vals(net.forward(x, c_noise, cond, ids2, pad2));
    let n = a.len() / 2;
    assert_ne!(a[..n], c[..n], "caption has no effect");
    assert_eq!(a[n..], c[n..], "the second caption did not change");
}

#[test]
fn vocabulary_is_deterministic_and_pads() {
    let caps = ["Sunny morning, a straight road", "a straight road at night", "night rain"];
    let v = CaptionVocab::build(caps, 8, 4);
    assert_eq!(v, CaptionVocab::build(caps, 8, 4));
    assert_eq!(v.words[..2], ["<pad>".to_string(), "<unk>".to_string()]);
    assert_eq!(v.len(), 8);
    // Most frequent first: "a", "night", "road", "straight" appear twice.
    assert_eq!(v.words[2..6], ["a", "night", "road", "straight"].map(String::from));
    assert_eq!(v.ids("zebra crossing"), vec![UNK, UNK]);
    assert_eq!(v.ids("a straight road at night in rain").len(), 4);
    let device = Device::flex();
    let (ids, pad) = v.batch(&["night".to_string(), "a road".to_string()], &device);
    assert_eq!(ids.dims(), [2, 2]);
    let ids = ids.into_data().convert::<i64>().as_slice::<i64>().unwrap().to_vec();
    assert_eq!(ids[1], PAD as i64);
    assert_eq!(pad.into_data().as_slice::<bool>().unwrap(), &[false, true, false, false]);
}

struct All(Vec<f32>);
impl ModuleVisitor for All {
    fn visit_float<const D: usize>(&mut self, p: &Param<Tensor<D>>) {
        self.0.extend(p.val().into_data().as_slice::<f32>().unwrap());
    }
}

#[test]
fn checkpoint_round_trip() {
    let device = Device::flex();
    device.seed(3);
    let cfg = tiny();
    let net = cfg.init(&device);
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("dit.bpk");
    worldrig_model::train::save_module(net.clone(), &p).unwrap();
    device.seed(4);
    let loaded = worldrig_model::train::load_module(cfg.init(&device), &p).unwrap();
    let (mut a, mut b) = (All(vec![]), All(vec![]));
    net.visit(&mut a);
    loaded.visit(&mut b);
    assert!(a.0.iter().zip(&b.0).all(|(x, y)| x.to_bits() == y.to_bits()) && a.0.len() == b.0.len());
    assert!(net.num_params() > 10_000);
}
