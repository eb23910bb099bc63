//! RMS normalisation over channels with a learned gain, followed by SiLU, fused, on NCDHW tensors
//! viewed as `[batch, channels, positions]`: `y = silu(x / sqrt(mean_c x^2 + eps) * gain)`.
//!
//! Tasks are (image, range of positions); each sums the squares over channels for its positions
//! (contiguous runs per channel, so the loops vectorise), then writes every channel. The backward
//! recomputes the statistics from the input and needs two passes per task.

use rayon::prelude::*;

use super::{simd, SharedMut};

pub const EPS: f32 = 1e-6;
/// Positions per task.
const RANGE: usize = 2048;

fn tasks(batch: usize, positions: usize) -> Vec<(usize, usize, usize)> {
    (0..batch).flat_map(|b| (0..positions).step_by(RANGE).map(move |s| (b, s, RANGE.min(positions - s)))).collect()
}

/// Inverse RMS over channels of positions `start..start + len` of image `b`.
fn inverse_rms(x: &[f32], channels: usize, positions: usize, b: usize, start: usize, len: usize, inv: &mut [f32]) {
    inv.fill(0.0);
    for c in 0..channels {
        let o = (b * channels + c) * positions + start;
        simd::add_squares(inv, &x[o..o + len]);
    }
    simd::inv_rms(inv, channels as f32, EPS);
}

/// Forward on `x [batch, channels, positions]` with `gain [channels]`.
pub fn forward(x: &[f32], gain: &[f32], batch: usize, positions: usize) -> Vec<f32> {
    let channels = gain.len();
    assert_eq!(x.len(), batch * channels * positions, "norm_silu: input shape");
    // SAFETY: the tasks write every channel of every position.
    let mut y = unsafe { super::uninit(x.len()) };
    let yp = SharedMut::new(y.as_mut_ptr());
    tasks(batch, positions).into_par_iter().for_each_init(
        || vec![0f32; RANGE],
        |inv, (b, start, len)| {
            let inv = &mut inv[..len];
            inverse_rms(x, channels, positions, b, start, len, inv);
            for (c, &g) in gain.iter().enumerate() {
                let o = (b * channels + c) * positions + start;
                // SAFETY: this task alone writes positions start..start + len of image b.
                let dst = unsafe { std::slice::from_raw_parts_mut(yp.ptr().add(o), len) };
                simd::norm_silu_forward(&x[o..o + len], inv, g, dst);
            }
        },
    );
    y
}

/// Backward: `(dx, dgain)` from the output gradient `dy`.
pub fn backward(x: &[f32], gain: &[f32], dy: &[f32], batch: usize, positions: usize) -> (Vec<f32>, Vec<f32>) {
    let channels = gain.len();
    assert!(x.len() == batch * channels * positions && dy.len() == x.len(), "norm_silu backward: shapes");
    // SAFETY: as in `forward`.
    let mut dx = unsafe { super::uninit(x.len()) };
    let dxp = SharedMut::new(dx.as_mut_ptr());
    let dgain = tasks(batch, positions)
        .into_par_iter()
        .map_init(
            || (vec![0f32; RANGE], vec![0f32; RANGE]),
            |(inv, dot), (b, start, len)| {
                let (inv, dot) = (&mut inv[..len], &mut dot[..len]);
                inverse_rms(x, channels, positions, b, start, len, inv);
                dot.fill(0.0);
                let mut dgain = vec![0f32; channels];
                for (c, &g) in gain.iter().enumerate() {
                    let o = (b * channels + c) * positions + start;
                    // SAFETY: as in `forward`.
                    let dst = unsafe { std::slice::from_raw_parts_mut(dxp.ptr().add(o), len) };
                    dgain[c] = simd::norm_silu_backward_pass1(&x[o..o + len], inv, &dy[o..o + len], g, dst, dot);
                }
                for c in 0..channels {
                    let o = (b * channels + c) * positions + start;
                    // SAFETY: as above.
                    let dst = unsafe { std::slice::from_raw_parts_mut(dxp.ptr().add(o), len) };
                    simd::norm_backward_pass2(&x[o..o + len], inv, dot, channels as f32, dst);
                }
                dgain
            },
        )
        .reduce(|| vec![0f32; channels], |mut a, b| {
            a.iter_mut().zip(&b).for_each(|(a, b)| *a += b);
            a
        });
    (dx, dgain)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reference(x: &[f64], gain: &[f64], batch: usize, positions: usize) -> Vec<f64> {
        let c = gain.len();
        let mut y = vec![0f64; x.len()];
        for b in 0..batch {
            for p in 0..positions {
                let ms: f64 = (0..c).map(|k| x[(b * c + k) * positions + p].powi(2)).sum::<f64>() / c as f64;
                let r = 1.0 / (ms + EPS as f64).sqrt();
                for k in 0..c {
                    let u = x[(b * c + k) * positions + p] * r * gain[k];
                    y[(b * c + k) * positions + p] = u / (1.0 + (-u).exp());
                }
            }
        }
        y
    }

    #[test]
    fn forward_and_backward_match_f64_reference() {
        let (batch, c, positions) = (2, 5, 2100 + 37);
        let x: Vec<f32> = (0..batch * c * positions).map(|i| (i as f32 * 0.731).sin() * 2.0).collect();
        let gain: Vec<f32> = (0..c).map(|k| 0.5 + 0.3 * k as f32).collect();
        let g: Vec<f32> = (0..x.len()).map(|i| (i as f32 * 0.193).cos()).collect();
        let y = forward(&x, &gain, batch, positions);
        let x64: Vec<f64> = x.iter().map(|v| *v as f64).collect();
        let g64: Vec<f64> = gain.iter().map(|v| *v as f64).collect();
        let want = reference(&x64, &g64, batch, positions);
        let err = y.iter().zip(&want).map(|(a, b)| (*a as f64 - b).abs()).fold(0.0, f64::max);
        assert!(err < 2e-6, "forward error {err}");
        let (dx, dgain) = backward(&x, &gain, &g, batch, positions);
        let obj = |x: &[f64], gain: &[f64]| -> f64 { reference(x, gain, batch, positions).iter().zip(&g).map(|(y, g)| y * *g as f64).sum() };
        let h = 1e-5;
        for i in [0usize, 3, 2047, 2048, 2136, 5000, 9000, x.len() - 1] {
            let (mut up, mut down) = (x64.clone(), x64.clone());
            up[i] += h;
            down[i] -= h;
            let num = (obj(&up, &g64) - obj(&down, &g64)) / (2.0 * h);
            assert!((dx[i] as f64 - num).abs() < 1e-4 * (1.0 + num.abs()), "dx[{i}]: {} vs {num}", dx[i]);
        }
        for k in 0..c {
            let (mut up, mut down) = (g64.clone(), g64.clone());
            up[k] += h;
            down[k] -= h;
            let num = (obj(&x64, &up) - obj(&x64, &down)) / (2.0 * h);
            assert!((dgain[k] as f64 - num).abs() < 1e-3 * (1.0 + num.abs()), "dgain[{k}]: {} vs {num}", dgain[k]);
        }
    }
}
