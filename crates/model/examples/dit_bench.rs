//! Times the Text2World DiT (burn flex) on synthetic input, one JSON object per line:
//!   - `train`: forward through the EDM denoiser + weighted MSE loss + backward + AdamW, at
//!     `batch` x latents [16, frames, h, w] with 24-token captions (no padding), conditioning mask
//!     all zeros; fresh inputs per step (made outside the timed part);
//!   - `sample`: one no-grad denoiser evaluation at batch 2 (classifier-free guidance: the
//!     conditional and unconditional passes of one sample batched together) plus the guidance mix;
//!   - `matmul`: a 1024 x 1024 x 1024 f32 matrix product (the machine's peak for this backend).
//! Each entry holds every timed run (after one warm-up) and the median (element len/2 of the sorted
//! times), the parameter count and the analytic FLOPs (see `flops`).
//!
//! cargo run --release -p worldrig-model --example dit_bench -- [CONFIG] [ITERS] [BATCH] [TxHxW]
//!   (defaults tiny 5 4 5x16x28; threads: RAYON_NUM_THREADS)
//! cargo run --release -p worldrig-model --example dit_bench -- --export FILE [CONFIG]
//!   writes a parity file (safetensors layout) for tools/bench/dit_torch.py --parity FILE: the
//!   weights (the zero-initialised adaLN-Zero projections filled with small random values so the
//!   comparison is not vacuous), one training batch and its raw network output, EDM loss and every
//!   parameter's gradient, and one guided sampling batch with its denoised output.

use std::time::Instant;

use burn::module::{Module, ModuleMapper, ModuleVisitor, Param};
use burn::optim::{AdamWConfig, GradientsParams};
use burn::prelude::*;
use serde_json::json;
use worldrig_model::diffusion::{denoising_loss, gaussian, guidance, Denoiser, Edm, LogNormal};
use worldrig_model::dit::text::{PAD, UNK};
use worldrig_model::dit::{Dit, DitConfig, DitFile};
use worldrig_model::rng::SplitMix64;

const CAPTION: usize = 24;
const GUIDANCE: f64 = 2.0;
const SAMPLE_SIGMA: f64 = 2.5;

/// Conditioning of one batch: mask channel, caption ids and padding.
struct Cond {
    mask: Tensor<5>,
    ids: Tensor<2, Int>,
    pad: Tensor<2, Bool>,
}

fn cond_batch(b: usize, lat: [usize; 3], uncond_rows: &[usize], rng: &mut SplitMix64, cfg: &DitConfig, device: &Device) -> Cond {
    let mut ids = vec![0i64; b * CAPTION];
    let mut pad = vec![false; b * CAPTION];
    for r in 0..b {
        for j in 0..CAPTION {
            if uncond_rows.contains(&r) {
                // the empty caption: one <unk>, padded (CaptionVocab::ids / batch)
                ids[r * CAPTION + j] = if j == 0 { UNK as i64 } else { PAD as i64 };
                pad[r * CAPTION + j] = j > 0;
            } else {
                ids[r * CAPTION + j] = 2 + rng.below(cfg.vocab_size - 2) as i64;
            }
        }
    }
    Cond {
        mask: Tensor::zeros([b, 1, lat[0], lat[1], lat[2]], device),
        ids: Tensor::from_data(TensorData::new(ids, [b, CAPTION]), device),
        pad: Tensor::from_data(TensorData::new(pad, [b, CAPTION]), device),
    }
}

fn net(model: &Dit) -> impl Fn(Tensor<5>, Tensor<1>, &Cond) -> Tensor<5> + '_ {
    move |x: Tensor<5>, c: Tensor<1>, k: &Cond| model.forward(x, c, k.mask.clone(), k.ids.clone(), k.pad.clone())
}

/// Multiply-accumulates of one forward pass per sample, counting the linear layers and the
/// attention products (QK^T and AV); norms, RoPE, activations and softmax are not counted.
fn macs(cfg: &DitConfig, n: usize, l: usize) -> f64 {
    let (d, h, r) = (cfg.width as f64, cfg.text_width as f64, cfg.adaln_rank as f64);
    let (n, l) = (n as f64, l as f64);
    let text_layer = 4.0 * l * h * h + 2.0 * l * l * h + 2.0 * l * h * 4.0 * h;
    let block = d * r + r * 9.0 * d // adaLN-LoRA
        + 4.0 * n * d * d + 2.0 * n * n * d // self-attention: q, k, v, out; QK^T, AV
        + 2.0 * n * d * d + 2.0 * l * d * d + 2.0 * n * l * d // cross-attention
        + 2.0 * n * d * cfg.mlp_ratio as f64 * d; // MLP
    n * cfg.token_in() as f64 * d
        + 256.0 * d + d * d // noise embedding
        + cfg.text_layers as f64 * text_layer + l * h * d
        + cfg.depth as f64 * block
        + d * 2.0 * d + n * d * cfg.token_out() as f64
}

fn median(v: &[f64]) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    s[s.len() / 2]
}

fn ms(v: &[f64]) -> Vec<f64> {
    v.iter().map(|s| (s * 1e5).round() / 100.0).collect()
}

fn main() {
    worldrig_model::alloc::keep_freed_memory();
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("--export") {
        let file = args.get(2).expect("--export FILE");
        let cfg = args.get(3).map(String::as_str).unwrap_or("tiny");
        export(std::path::Path::new(file), &DitFile::resolve(cfg).expect("config"));
        return;
    }
    let cfg_name = args.get(1).map(String::as_str).unwrap_or("tiny");
    let file = DitFile::resolve(cfg_name).expect("config");
    let iters: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(5);
    let batch: usize = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(4);
    let lat: Vec<usize> = args.get(4).map(String::as_str).unwrap_or("5x16x28").split('x').map(|s| s.parse().unwrap()).collect();
    let lat = [lat[0], lat[1], lat[2]];
    let cfg = &file.model;
    let c = cfg.latent_channels;
    let tokens = lat[0] * (lat[1] / cfg.patch) * (lat[2] / cfg.patch);
    let fwd_flops = 2.0 * macs(cfg, tokens, CAPTION);
    let threads = rayon::current_num_threads();
    let sd = file.train.sigma_data;
    let device = Device::flex();
    device.seed(0);
    let mut rng = SplitMix64::new(1);
    let params;
    {
        let ad = device.clone().autodiff();
        let mut model = cfg.init(&ad);
        params = model.num_params();
        let mut optim = AdamWConfig::new().with_weight_decay(file.train.weight_decay).init();
        let density = LogNormal { p_mean: file.train.p_mean, p_std: file.train.p_std };
        let mut times = Vec::new();
        for i in 0..iters + 1 {
            let x0 = gaussian([batch, c, lat[0], lat[1], lat[2]], &mut rng, &ad).mul_scalar(sd);
            let noise = gaussian([batch, c, lat[0], lat[1], lat[2]], &mut rng, &ad);
            let sigma = density.sample(batch, &mut rng, &ad);
            let cond = cond_batch(batch, lat, &[], &mut rng, cfg, &ad);
            let t0 = Instant::now();
            let den = Denoiser::new(Edm::new(sd), net(&model));
            let loss = denoising_loss(|x, s| den.denoise_batch(x, s, &cond), x0, sigma, noise, sd);
            let g = GradientsParams::from_grads(loss.backward(), &model);
            drop(den);
            model = optim.step(1e-4, model, g);
            let _ = loss.into_scalar::<f32>();
            if i > 0 {
                times.push(t0.elapsed().as_secs_f64());
            }
        }
        let m = median(&times);
        println!(
            "{}",
            json!({"impl": "burn-flex", "what": "train", "threads": threads, "params": params, "batch": batch,
                   "latent": [c, lat[0], lat[1], lat[2]], "tokens": batch * tokens, "caption_tokens": CAPTION,
                   "ms": ms(&times), "median_ms": m * 1e3, "tokens_per_s": (batch * tokens) as f64 / m,
                   "gflop": 3.0 * batch as f64 * fwd_flops / 1e9, "gflop_per_s": 3.0 * batch as f64 * fwd_flops / 1e9 / m})
        );
    }
    {
        let model = cfg.init(&device);
        let den = Denoiser::new(Edm::new(sd), net(&model));
        let mut times = Vec::new();
        for i in 0..iters + 1 {
            let x = gaussian([1, c, lat[0], lat[1], lat[2]], &mut rng, &device).mul_scalar(SAMPLE_SIGMA);
            let cond = cond_batch(2, lat, &[1], &mut rng, cfg, &device);
            let t0 = Instant::now();
            let d = den.denoise(Tensor::cat(vec![x.clone(), x], 0), SAMPLE_SIGMA, &cond);
            let y = guidance(d.clone().narrow(0, 0, 1), d.narrow(0, 1, 1), GUIDANCE);
            let _ = y.into_data();
            if i > 0 {
                times.push(t0.elapsed().as_secs_f64());
            }
        }
        let m = median(&times);
        println!(
            "{}",
            json!({"impl": "burn-flex", "what": "sample", "threads": threads, "params": params, "batch": 2,
                   "tokens": 2 * tokens, "ms": ms(&times), "median_ms": m * 1e3,
                   "gflop": 2.0 * fwd_flops / 1e9, "gflop_per_s": 2.0 * fwd_flops / 1e9 / m})
        );
    }
    {
        let n = 1024;
        let a: Tensor<2> = Tensor::random([n, n], burn::tensor::Distribution::Uniform(-1.0, 1.0), &device);
        let b: Tensor<2> = Tensor::random([n, n], burn::tensor::Distribution::Uniform(-1.0, 1.0), &device);
        let mut times = Vec::new();
        for i in 0..11 {
            let t0 = Instant::now();
            let y = a.clone().matmul(b.clone());
            let _ = y.into_data();
            if i > 0 {
                times.push(t0.elapsed().as_secs_f64());
            }
        }
        let m = median(&times);
        let gflop = 2.0 * (n * n * n) as f64 / 1e9;
        println!(
            "{}",
            json!({"impl": "burn-flex", "what": "matmul", "threads": threads, "n": n, "ms": ms(&times),
                   "median_ms": m * 1e3, "gflop": gflop, "gflop_per_s": gflop / m})
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Parity export

/// Every float parameter with its module path (`blocks.0.self_attn.q.weight`), in burn's layout.
struct Named<'a> {
    path: Vec<String>,
    grads: Option<&'a GradientsParams>,
    out: Vec<(String, Vec<usize>, Vec<f32>)>,
}

impl ModuleVisitor for Named<'_> {
    fn enter_module(&mut self, name: &str, _: &str) {
        self.path.push(name.to_string());
    }
    fn exit_module(&mut self, _: &str, _: &str) {
        self.path.pop();
    }
    fn visit_float<const D: usize>(&mut self, p: &Param<Tensor<D>>) {
        let name = self.path.join(".");
        let t = match self.grads {
            Some(g) => g.get::<D>(p.id).unwrap_or_else(|| panic!("no gradient for {name}")),
            None => p.val(),
        };
        let dims = t.dims().to_vec();
        self.out.push((name, dims, t.into_data().convert::<f32>().as_slice::<f32>().unwrap().to_vec()));
    }
}

/// Fills all-zero parameters (adaLN-Zero up-projections, final layers) with uniform(-0.1, 0.1).
struct FillZeros(SplitMix64);

impl ModuleMapper for FillZeros {
    fn map_float<const D: usize>(&mut self, p: Param<Tensor<D>>) -> Param<Tensor<D>> {
        p.map(|t| {
            let v = t.clone().into_data().convert::<f32>().as_slice::<f32>().unwrap().to_vec();
            if v.iter().any(|x| *x != 0.0) {
                return t;
            }
            let dims = t.dims();
            let r: Vec<f32> = v.iter().map(|_| (self.0.unit() as f32 * 2.0 - 1.0) * 0.1).collect();
            let t2: Tensor<D> = Tensor::from_data(TensorData::new(r, dims), &t.device());
            if t.is_require_grad() {
                t2.require_grad()
            } else {
                t2
            }
        })
    }
}

enum Blob {
    F32(Vec<f32>),
    I64(Vec<i64>),
    Bool(Vec<bool>),
}

fn host_f32<const D: usize>(t: Tensor<D>) -> (Vec<usize>, Blob) {
    (t.dims().to_vec(), Blob::F32(t.into_data().convert::<f32>().as_slice::<f32>().unwrap().to_vec()))
}

/// Writes `entries` in the safetensors layout: u64 header length, JSON header, raw little-endian data.
fn write_safetensors(path: &std::path::Path, entries: Vec<(String, Vec<usize>, Blob)>) {
    let mut header = serde_json::Map::new();
    let mut data: Vec<u8> = Vec::new();
    for (name, shape, blob) in entries {
        let start = data.len();
        let dtype = match blob {
            Blob::F32(v) => {
                v.iter().for_each(|x| data.extend_from_slice(&x.to_le_bytes()));
                "F32"
            }
            Blob::I64(v) => {
                v.iter().for_each(|x| data.extend_from_slice(&x.to_le_bytes()));
                "I64"
            }
            Blob::Bool(v) => {
                data.extend(v.iter().map(|&b| b as u8));
                "BOOL"
            }
        };
        header.insert(name, json!({"dtype": dtype, "shape": shape, "data_offsets": [start, data.len()]}));
    }
    let mut h = serde_json::to_string(&header).unwrap().into_bytes();
    while h.len() % 8 != 0 {
        h.push(b' ');
    }
    let mut bytes = (h.len() as u64).to_le_bytes().to_vec();
    bytes.extend(h);
    bytes.extend(data);
    std::fs::write(path, bytes).expect("write parity file");
}

fn cond_entries(prefix: &str, k: &Cond, out: &mut Vec<(String, Vec<usize>, Blob)>) {
    let (s, m) = host_f32(k.mask.clone());
    out.push((format!("{prefix}.mask"), s, m));
    out.push((format!("{prefix}.ids"), k.ids.dims().to_vec(), Blob::I64(k.ids.clone().into_data().convert::<i64>().as_slice::<i64>().unwrap().to_vec())));
    out.push((format!("{prefix}.pad"), k.pad.dims().to_vec(), Blob::Bool(k.pad.clone().into_data().as_slice::<bool>().unwrap().to_vec())));
}

fn export(path: &std::path::Path, file: &DitFile) {
    let cfg = &file.model;
    let (c, lat, batch, sd) = (cfg.latent_channels, [5usize, 16, 28], 4usize, file.train.sigma_data);
    let device = Device::flex();
    device.seed(7);
    let mut rng = SplitMix64::new(11);
    let ad = device.clone().autodiff();
    let model_ad = cfg.init(&ad).map(&mut FillZeros(SplitMix64::new(5)));
    let model = model_ad.valid();
    let mut out: Vec<(String, Vec<usize>, Blob)> = Vec::new();
    let mut named = Named { path: vec![], grads: None, out: vec![] };
    model.visit(&mut named);
    for (n, s, v) in named.out {
        out.push((format!("param.{n}"), s, Blob::F32(v)));
    }

    // Training batch: raw network output at c_in x, the EDM loss and the gradients.
    let x0 = gaussian([batch, c, lat[0], lat[1], lat[2]], &mut rng, &ad).mul_scalar(sd);
    let noise = gaussian([batch, c, lat[0], lat[1], lat[2]], &mut rng, &ad);
    let sigma = LogNormal { p_mean: file.train.p_mean, p_std: file.train.p_std }.sample(batch, &mut rng, &ad);
    let mut cond = cond_batch(batch, lat, &[], &mut rng, cfg, &ad);
    // one padded caption in the training batch, so the key mask is exercised too
    let mut pad = cond.pad.clone().into_data().as_slice::<bool>().unwrap().to_vec();
    let mut ids = cond.ids.clone().into_data().convert::<i64>().as_slice::<i64>().unwrap().to_vec();
    for j in 10..CAPTION {
        pad[3 * CAPTION + j] = true;
        ids[3 * CAPTION + j] = PAD as i64;
    }
    cond.pad = Tensor::from_data(TensorData::new(pad, [batch, CAPTION]), &ad);
    cond.ids = Tensor::from_data(TensorData::new(ids, [batch, CAPTION]), &ad);
    for (n, t) in [("train.x0", x0.clone()), ("train.noise", noise.clone())] {
        let (s, b) = host_f32(t);
        out.push((n.into(), s, b));
    }
    let (s, b) = host_f32(sigma.clone());
    out.push(("train.sigma".into(), s, b));
    cond_entries("train", &cond, &mut out);
    let edm = Edm::new(sd);
    let [_, _, c_in, c_noise] = edm.scalings(sigma.clone());
    let x = x0.clone() + noise.clone() * sigma.clone().reshape([batch, 1, 1, 1, 1]);
    let f = net(&model_ad)(x * c_in.reshape([batch, 1, 1, 1, 1]), c_noise, &cond);
    let (s, b) = host_f32(f);
    out.push(("train.out_f".into(), s, b));
    let den = Denoiser::new(edm, net(&model_ad));
    let loss = denoising_loss(|x, s| den.denoise_batch(x, s, &cond), x0, sigma, noise, sd);
    let (s, b) = host_f32(loss.clone());
    out.push(("train.loss".into(), s, b));
    let grads = GradientsParams::from_grads(loss.backward(), &model_ad);
    let mut named = Named { path: vec![], grads: Some(&grads), out: vec![] };
    model_ad.visit(&mut named);
    for (n, s, v) in named.out {
        out.push((format!("grad.{n}"), s, Blob::F32(v)));
    }

    // Guided sampling batch (conditional + unconditional rows of one sample).
    let x = gaussian([1, c, lat[0], lat[1], lat[2]], &mut rng, &device).mul_scalar(SAMPLE_SIGMA);
    let cond = cond_batch(2, lat, &[1], &mut rng, cfg, &device);
    let den = Denoiser::new(edm, net(&model));
    let d = den.denoise(Tensor::cat(vec![x.clone(), x.clone()], 0), SAMPLE_SIGMA, &cond);
    let y = guidance(d.clone().narrow(0, 0, 1), d.narrow(0, 1, 1), GUIDANCE);
    let (s, b) = host_f32(x);
    out.push(("sample.x".into(), s, b));
    cond_entries("sample", &cond, &mut out);
    let (s, b) = host_f32(y);
    out.push(("sample.guided".into(), s, b));
    let n = out.len();
    write_safetensors(path, out);
    println!(
        "{}",
        json!({"export": path.display().to_string(), "tensors": n, "params": model.num_params(),
               "sigma_sample": SAMPLE_SIGMA, "guidance": GUIDANCE, "sigma_data": sd})
    );
}
