//! Times the tokenizer on synthetic input: training step (forward + backward + AdamW) at the
//! config's crop, and encode / decode frames per second at a full frame size.
//!
//! cargo run --release -p worldrig-model --example tokenizer_bench -- [CONFIG.json] [HxW] [frames] [iters]

use std::time::Instant;

use burn::optim::{AdamWConfig, GradientsParams};
use burn::prelude::*;
use worldrig_model::tokenizer::{loss::reconstruction_loss, TokenizerFile};

fn main() {
    worldrig_model::alloc::keep_freed_memory();
    let args: Vec<String> = std::env::args().collect();
    let cfg = args.get(1).map(String::as_str).unwrap_or("configs/tokenizer/tiny.json");
    let file = TokenizerFile::load(std::path::Path::new(cfg)).expect("config");
    let hw: Vec<usize> = args.get(2).map(String::as_str).unwrap_or("256x448").split('x').map(|s| s.parse().unwrap()).collect();
    let frames: usize = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(17);
    let iters: usize = args.get(4).and_then(|s| s.parse().ok()).unwrap_or(5);
    let device = Device::flex();
    device.seed(0);
    let t = &file.train;
    let params;
    {
        let ad = device.clone().autodiff();
        let mut model = file.model.init(&ad);
        params = model.num_params();
        let mut optim = AdamWConfig::new().init();
        let shape = [t.batch, 3, t.frames, t.crop[0], t.crop[1]];
        let mut times = Vec::new();
        for i in 0..iters + 1 {
            let x: Tensor<5> = Tensor::random(shape, burn::tensor::Distribution::Uniform(-1.0, 1.0), &ad);
            let t0 = Instant::now();
            let (loss, _, _) = reconstruction_loss(model.forward(x.clone()), x, t.ssim_weight);
            let g = GradientsParams::from_grads(loss.backward(), &model);
            model = optim.step(1e-4, model, g);
            let _ = loss.into_scalar::<f32>();
            if i > 0 {
                times.push(t0.elapsed().as_secs_f64());
            }
        }
        times.sort_by(f64::total_cmp);
        println!(
            "train step: {} params, batch {} x {} frames x {}x{}: median {:.3} s/step ({:.1} frames/s)",
            params,
            t.batch,
            t.frames,
            t.crop[0],
            t.crop[1],
            times[times.len() / 2],
            (t.batch * t.frames) as f64 / times[times.len() / 2]
        );
    }
    let model = file.model.init(&device);
    let x: Tensor<5> = Tensor::random([1, 3, frames, hw[0], hw[1]], burn::tensor::Distribution::Uniform(-1.0, 1.0), &device);
    let (mut te, mut td) = (Vec::new(), Vec::new());
    for i in 0..iters.min(3) + 1 {
        let t0 = Instant::now();
        let z = model.encode_chunked(x.clone(), file.model.chunk_frames);
        let z = Tensor::<5>::from_data(z.into_data(), &device);
        let t1 = Instant::now();
        let c = file.model.temporal_compression();
        let y = model.decode_chunked(z, file.model.chunk_frames / c);
        let _ = y.into_data();
        if i > 0 {
            te.push(t1.duration_since(t0).as_secs_f64());
            td.push(t1.elapsed().as_secs_f64());
        }
    }
    te.sort_by(f64::total_cmp);
    td.sort_by(f64::total_cmp);
    println!(
        "inference {}x{} x {} frames: encode {:.1} frames/s, decode {:.1} frames/s",
        hw[0],
        hw[1],
        frames,
        frames as f64 / te[te.len() / 2],
        frames as f64 / td[td.len() / 2]
    );
}
