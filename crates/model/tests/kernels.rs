//! The fused flex kernels compute what burn's composed operations compute, forward and backward: on
//! the whole DiT (attention, GELU), on attention with padded keys, on the whole tokenizer
//! (convolutions, channel norm + SiLU), with and without its linear shortcut, and on its loss
//! (SSIM). One test only: it flips the
//! process-wide `kernels::set_enabled` switch, which tests running in parallel would see.

use burn::module::{Module, ModuleVisitor, Param};
use burn::prelude::*;
use worldrig_model::dit::text::CaptionVocab;
use worldrig_model::dit::DitConfig;
use worldrig_model::kernels;
use worldrig_model::rng::SplitMix64;

fn random<const D: usize>(shape: [usize; D], seed: u64, device: &Device) -> Tensor<D> {
    let mut g = SplitMix64::new(seed);
    let n = shape.iter().product();
    Tensor::from_data(TensorData::new((0..n).map(|_| g.unit() as f32 * 2.0 - 1.0).collect::<Vec<f32>>(), shape), device)
}

fn vals<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data().convert::<f32>().as_slice::<f32>().unwrap().to_vec()
}

fn max_diff(a: &[f32], b: &[f32]) -> (f32, f32) {
    assert_eq!(a.len(), b.len());
    let d = a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f32::max);
    let s = b.iter().map(|x| x.abs()).fold(0.0, f32::max);
    (d, s)
}

struct Grads<'a>(&'a burn::tensor::Gradients, Vec<Vec<f32>>);
impl ModuleVisitor for Grads<'_> {
    fn visit_float<const D: usize>(&mut self, p: &Param<Tensor<D>>) {
        self.1.push(p.val().grad(self.0).map(vals).unwrap_or_default());
    }
}

/// Reconstruction and every parameter gradient of a small tokenizer on a 9-frame 32x48 clip.
fn tokenizer_run(fused: bool, shortcut: bool) -> (Vec<f32>, Vec<Vec<f32>>) {
    kernels::set_enabled(fused);
    let device = Device::flex().autodiff();
    device.seed(12);
    let mut cfg: worldrig_model::tokenizer::TokenizerConfig = serde_json::from_str(
        r#"{"in_channels": 3, "latent_channels": 8, "patch": 4, "patch_time": 2, "channels": [16, 32],
            "encoder_blocks": [1, 1], "decoder_blocks": [1, 1], "temporal_down": [true], "temporal_kernel": 3, "chunk_frames": 8}"#,
    )
    .unwrap();
    cfg.linear_shortcut = shortcut;
    let model = cfg.init(&device);
    let x = random([2, 3, 9, 32, 48], 13, &device);
    let y = model.forward(x.clone());
    let grads = (y.clone() - x).abs().mean().backward();
    let mut g = Grads(&grads, vec![]);
    model.visit(&mut g);
    kernels::set_enabled(true);
    (vals(y), g.1)
}

fn compare_grads(what: &str, f: &[Vec<f32>], c: &[Vec<f32>]) -> usize {
    assert_eq!(f.len(), c.len());
    let mut checked = 0;
    for (i, (a, b)) in f.iter().zip(c).enumerate() {
        assert_eq!(a.is_empty(), b.is_empty(), "{what} parameter {i}: gradient present in one path only");
        if !a.is_empty() {
            let (d, s) = max_diff(a, b);
            assert!(d <= 1e-4 * s + 1e-7, "{what} parameter {i}: gradient differs by {d} (scale {s})");
            checked += 1;
        }
    }
    checked
}

/// Output and every parameter gradient of a DiT whose zero-initialised layers were filled.
fn dit_run(fused: bool) -> (Vec<f32>, Vec<Vec<f32>>, f32) {
    kernels::set_enabled(fused);
    let device = Device::flex().autodiff();
    device.seed(11);
    let cfg: DitConfig = serde_json::from_str(
        r#"{"latent_channels": 4, "patch": 2, "width": 48, "depth": 2, "heads": 4, "mlp_ratio": 2, "adaln_rank": 8,
            "text_width": 16, "text_layers": 1, "text_heads": 2, "max_caption_tokens": 12, "vocab_size": 32}"#,
    )
    .unwrap();
    let mut net = cfg.init(&device);
    net.final_out = burn::nn::LinearConfig::new(cfg.width, cfg.token_out()).init(&device);
    for b in &mut net.blocks {
        b.ada.up = burn::nn::LinearConfig::new(cfg.adaln_rank, 9 * cfg.width).init(&device);
    }
    let vocab = CaptionVocab::build(["a car drives on a road", "rain at night"], cfg.vocab_size, cfg.max_caption_tokens);
    let (ids, pad) = vocab.batch(&["a car at night on a road".to_string(), "rain".to_string()], &device);
    // 3 x 4 x 6 patches = 72 tokens per sample: two of the kernel's 64-query blocks.
    let x = random([2, 4, 3, 8, 12], 2, &device);
    let cond = Tensor::zeros([2, 1, 3, 8, 12], &device);
    let c_noise = Tensor::from_data(TensorData::new(vec![0.1f32, -0.5], [2]), &device);
    let y = net.forward(x, c_noise, cond, ids, pad);
    let target = random([2, 4, 3, 8, 12], 3, &device);
    let loss = (y.clone() - target).square().mean();
    let l = loss.clone().into_scalar::<f32>();
    let grads = loss.backward();
    let mut g = Grads(&grads, vec![]);
    net.visit(&mut g);
    kernels::set_enabled(true);
    (vals(y), g.1, l)
}

#[test]
fn fused_kernels_match_burns_composed_operations() {
    // The whole DiT: output, loss and the gradient of every parameter.
    let (y_f, g_f, l_f) = dit_run(true);
    let (y_c, g_c, l_c) = dit_run(false);
    let (d, s) = max_diff(&y_f, &y_c);
    assert!(d <= 1e-5 * s.max(1.0), "DiT output differs by {d} (scale {s})");
    assert!((l_f - l_c).abs() <= 1e-5 * l_c.abs(), "loss {l_f} vs {l_c}");
    let checked = compare_grads("DiT", &g_f, &g_c);
    assert!(checked > 20, "only {checked} gradients compared");

    // Attention alone across the kernel's 64-query blocks, with padded keys, and GELU: forward
    // and the gradients of all inputs.
    let device = Device::flex().autodiff();
    let run = |fused: bool| {
        kernels::set_enabled(fused);
        let q = random([2, 150, 24], 5, &device).require_grad();
        let k = random([2, 70, 24], 6, &device).require_grad();
        let v = random([2, 70, 24], 7, &device).require_grad();
        // Keys 60..70 of the second batch row are padding.
        let pad: Tensor<2, Bool> = Tensor::from_data(TensorData::new((0..140).map(|i| i >= 70 + 60).collect::<Vec<bool>>(), [2, 70]), &device);
        let o = kernels::attention(q.clone() * 3.0, k.clone(), v.clone(), Some(pad), 3);
        let g = kernels::gelu(o.clone() * 4.0);
        let w = random([2, 150, 24], 8, &device);
        let grads = (g.clone() * w).sum().backward();
        let out = (vals(o), vals(g), vals(q.grad(&grads).unwrap()), vals(k.grad(&grads).unwrap()), vals(v.grad(&grads).unwrap()));
        kernels::set_enabled(true);
        out
    };
    let (f, c) = (run(true), run(false));
    for (name, a, b, tol) in [("attention", &f.0, &c.0, 1e-5), ("gelu", &f.1, &c.1, 2e-6), ("dq", &f.2, &c.2, 1e-4), ("dk", &f.3, &c.3, 1e-4), ("dv", &f.4, &c.4, 1e-4)] {
        let (d, s) = max_diff(a, b);
        assert!(d <= tol * s.max(1.0), "{name}: differs by {d} (scale {s})");
    }
    // The padded keys of the second batch row get no gradient in either path.
    for j in 60..70 {
        assert!(f.3[(70 + j) * 24..(71 + j) * 24].iter().all(|x| x.abs() < 1e-12));
    }

    // The tokenizer: every convolution and norm + SiLU, with and without the linear shortcut.
    for shortcut in [false, true] {
        let (y_f, g_f) = tokenizer_run(true, shortcut);
        let (y_c, g_c) = tokenizer_run(false, shortcut);
        let (d, s) = max_diff(&y_f, &y_c);
        assert!(d <= 1e-5 * s.max(1.0), "tokenizer (shortcut {shortcut}) output differs by {d} (scale {s})");
        let checked = compare_grads("tokenizer", &g_f, &g_c);
        assert!(checked > 20, "only {checked} tokenizer gradients compared");
    }

    // The tokenizer's loss: L1 + 0.2 (1 - SSIM) of a reconstruction against a fixed target, value
    // and reconstruction gradient, and SSIM's gradient with respect to both inputs.
    let run = |fused: bool| {
        kernels::set_enabled(fused);
        let recon = random([2, 3, 4, 20, 27], 21, &device).require_grad();
        let target = (recon.clone().detach() * 0.7 + random([2, 3, 4, 20, 27], 22, &device) * 0.3).into_data();
        let target = Tensor::<5>::from_data(target, &device).require_grad();
        let (loss, _, s) = worldrig_model::tokenizer::loss::reconstruction_loss(recon.clone(), target.clone().detach(), 0.2);
        let grads = loss.clone().backward();
        let dr = vals(recon.grad(&grads).unwrap());
        let grads = (kernels::ssim(recon.clone(), target.clone()) * 3.0).backward();
        let out = (vals(loss), vals(s), dr, vals(recon.grad(&grads).unwrap()), vals(target.grad(&grads).unwrap()));
        kernels::set_enabled(true);
        out
    };
    let (f, c) = (run(true), run(false));
    for (name, a, b, tol) in [("loss", &f.0, &c.0, 1e-5), ("ssim", &f.1, &c.1, 1e-5), ("loss gradient", &f.2, &c.2, 1e-4), ("ssim dx", &f.3, &c.3, 1e-4), ("ssim dy", &f.4, &c.4, 1e-4)] {
        let (d, s) = max_diff(a, b);
        assert!(d <= tol * s.max(1e-3), "{name}: differs by {d} (scale {s})");
    }
}
