//! Times the fused convolution kernel (`kernels::conv`) on every convolution shape of one tiny
//! tokenizer training step (configs/tokenizer/tiny.json: batch 2, 9 frames, 128x128 crop; 29
//! convolutions), forward and backward (the input gradient only where the step needs it), and
//! prints GFLOP/s per shape and the step's total.
//! Usage: RAYON_NUM_THREADS=2 cargo run --release -p worldrig-model --example conv_bench [ITERS] [taps]
//! (`taps`: the per-tap products for every shape, without Winograd's F(4x4, 3x3)).

use std::time::Instant;

use worldrig_model::kernels::conv::{backward, backward_taps, forward, forward_taps, ConvDims};

/// (count per step, cin, cout, [t, h, w], (kernel, pad), input gradient needed)
type Shape = (usize, usize, usize, [usize; 3], ([usize; 3], [usize; 2]), bool);

fn main() {
    worldrig_model::alloc::keep_freed_memory();
    let iters: usize = std::env::args().nth(1).and_then(|s| s.parse().ok()).unwrap_or(5);
    // `taps`: the per-tap products for every shape (no Winograd), for comparison.
    let taps = std::env::args().nth(2).is_some_and(|s| s == "taps");
    let fwd = if taps { forward_taps } else { forward };
    let bwd = if taps { backward_taps } else { backward };
    let s3 = ([1, 3, 3], [1, 1]);
    let t3 = ([3, 1, 1], [0, 0]);
    let p1 = ([1, 1, 1], [0, 0]);
    let shapes: Vec<Shape> = vec![
        (1, 96, 64, [5, 32, 32], s3, false),
        (6, 64, 64, [5, 32, 32], s3, true),
        (3, 64, 64, [7, 32, 32], t3, true),
        (1, 512, 128, [3, 16, 16], p1, true),
        (8, 128, 128, [3, 16, 16], s3, true),
        (4, 128, 128, [5, 16, 16], t3, true),
        (1, 128, 16, [3, 16, 16], s3, true),
        (1, 768, 16, [3, 16, 16], p1, false),
        (1, 16, 768, [3, 16, 16], p1, true),
        (1, 16, 128, [3, 16, 16], s3, true),
        (1, 128, 512, [3, 16, 16], p1, true),
        (1, 64, 96, [5, 32, 32], s3, true),
    ];
    let val = |n: usize, seed: u32| (0..n).map(|i| ((i as u32).wrapping_mul(2654435761).wrapping_add(seed) >> 8) as f32 / (1u32 << 24) as f32 - 0.5).collect::<Vec<f32>>();
    let (mut tf, mut tb, mut flops) = (0.0, 0.0, 0.0);
    for (count, cin, cout, input, (kernel, pad), need) in shapes {
        let d = ConvDims { batch: 2, cin, cout, input, kernel, pad };
        let [t, h, w] = input;
        let x = val(2 * cin * t * h * w, 1);
        let wt = val(cout * cin * kernel.iter().product::<usize>(), 2);
        let bias = val(cout, 3);
        let y = forward(d, &x, &wt, &bias);
        let g = val(y.len(), 4);
        let mut f = Vec::new();
        let mut b = Vec::new();
        for _ in 0..iters {
            let t0 = Instant::now();
            std::hint::black_box(fwd(d, &x, &wt, &bias));
            f.push(t0.elapsed().as_secs_f64());
            let t0 = Instant::now();
            std::hint::black_box(bwd(d, &x, &wt, &g, need));
            b.push(t0.elapsed().as_secs_f64());
        }
        f.sort_by(f64::total_cmp);
        b.sort_by(f64::total_cmp);
        let (fm, bm) = (f[iters / 2], b[iters / 2]);
        // Multiply-adds: every output value sums cin x kernel taps.
        let fl = 2.0 * y.len() as f64 * (cin * kernel.iter().product::<usize>()) as f64;
        let bfl = fl * if need { 2.0 } else { 1.0 };
        println!("{count:>2} x {cin:>3}->{cout:<3} {input:?} k{kernel:?}: fwd {:6.2} ms {:5.0} GF/s, bwd {:6.2} ms {:5.0} GF/s", fm * 1e3, fl / fm / 1e9, bm * 1e3, bfl / bm / 1e9);
        tf += count as f64 * fm;
        tb += count as f64 * bm;
        flops += count as f64 * (fl + bfl);
    }
    println!("total per step: forward {:.1} ms, backward {:.1} ms, {:.1} GFLOP, {:.0} GF/s", tf * 1e3, tb * 1e3, flops / 1e9, flops / (tf + tb) / 1e9);
}
