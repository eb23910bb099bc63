//! Fused multi-head attention on the CPU, forward and backward, in the spirit of FlashAttention
//! (Dao et al. 2022): scores are computed per block of queries into a small buffer, the softmax
//! statistics (`logsumexp` per query) are kept instead of the probabilities, and the backward
//! recomputes the probabilities block by block. Nothing of size `queries x keys` outlives one block.
//!
//! Layout: queries `[batch, nq, heads * head_dim]`, keys and values `[batch, nk, heads * head_dim]`
//! (heads side by side in the last axis, as the projections produce them: no head split or merge
//! copies), an additive key bias `[batch, nk]` (0, or a large negative value for padding). One task
//! per `(batch, head)` runs on the rayon pool; each writes only its own head's columns.
//! Matrix products go through the `gemm` crate (the same kernels burn's flex backend uses).

use gemm::Parallelism;
use rayon::prelude::*;

use super::{matmul, simd, SharedMut};

/// Shape of one attention call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AttnDims {
    pub batch: usize,
    pub nq: usize,
    pub nk: usize,
    pub heads: usize,
    pub head_dim: usize,
}

impl AttnDims {
    pub fn width(&self) -> usize {
        self.heads * self.head_dim
    }
    pub fn scale(&self) -> f32 {
        1.0 / (self.head_dim as f32).sqrt()
    }
}

/// Queries per block: the score buffer is `BLOCK x nk`.
const BLOCK: usize = 64;

fn check(d: &AttnDims, q: &[f32], k: &[f32], v: &[f32], bias: &[f32]) {
    let w = d.width();
    assert_eq!(q.len(), d.batch * d.nq * w, "attention: queries shape");
    assert_eq!(k.len(), d.batch * d.nk * w, "attention: keys shape");
    assert_eq!(v.len(), d.batch * d.nk * w, "attention: values shape");
    assert_eq!(bias.len(), d.batch * d.nk, "attention: key bias shape");
}

/// Scores of queries `q0..q0+m` of one head against all keys into `s` (`m x nk`), scaled.
///
/// # Safety
/// `qp`/`kp` point at the head's first column of the batch row; `s` holds `m * nk` values.
unsafe fn scores(d: &AttnDims, qp: *const f32, kp: *const f32, q0: usize, m: usize, s: &mut [f32]) {
    let w = d.width() as isize;
    // S = Q_blk K^T: lhs rows of q (row stride w), rhs K^T[c, j] = k[j * w + c].
    unsafe { matmul(m, d.nk, d.head_dim, s.as_mut_ptr(), d.nk as isize, 1, false, qp.offset(q0 as isize * w), w, 1, kp, 1, w, d.scale(), Parallelism::None) }
}

/// Forward: `out = softmax(q k^T / sqrt(head_dim) + bias) v` per head; fills `lse`
/// (`[batch, heads, nq]`, the log-sum-exp of each query's scores) when given.
pub fn forward(d: AttnDims, q: &[f32], k: &[f32], v: &[f32], bias: &[f32], out: &mut [f32], lse: Option<&mut [f32]>) {
    check(&d, q, k, v, bias);
    assert_eq!(out.len(), q.len(), "attention: output shape");
    let w = d.width();
    let out_ptr = SharedMut::new(out.as_mut_ptr());
    let lse_ptr = lse.map(|l| {
        assert_eq!(l.len(), d.batch * d.heads * d.nq, "attention: lse shape");
        SharedMut::new(l.as_mut_ptr())
    });
    (0..d.batch * d.heads).into_par_iter().for_each_init(
        || vec![0f32; BLOCK.min(d.nq) * d.nk],
        |s, task| {
            let (b, h) = (task / d.heads, task % d.heads);
            let col = h * d.head_dim;
            let qp = q[b * d.nq * w + col..].as_ptr();
            let kp = k[b * d.nk * w + col..].as_ptr();
            let vp = v[b * d.nk * w + col..].as_ptr();
            let bias = &bias[b * d.nk..(b + 1) * d.nk];
            for q0 in (0..d.nq).step_by(BLOCK) {
                let m = BLOCK.min(d.nq - q0);
                let s = &mut s[..m * d.nk];
                // SAFETY: in-bounds by `check`; `s` is this task's own buffer.
                unsafe { scores(&d, qp, kp, q0, m, s) };
                for (i, row) in s.chunks_exact_mut(d.nk).enumerate() {
                    let (mx, sum) = simd::softmax_row(row, bias);
                    simd::scale_row(row, 1.0 / sum);
                    if let Some(l) = lse_ptr {
                        // SAFETY: element (b, h, q0 + i) belongs to this task only.
                        unsafe { *l.ptr().add(task * d.nq + q0 + i) = mx + sum.ln() };
                    }
                }
                // O_blk = P V, written into this head's columns of rows q0.. of batch row b.
                // SAFETY: the destination columns belong to this task only.
                unsafe {
                    let op = out_ptr.ptr().add((b * d.nq + q0) * w + col);
                    matmul(m, d.head_dim, d.nk, op, w as isize, 1, false, s.as_ptr(), d.nk as isize, 1, vp, w as isize, 1, 1.0, Parallelism::None);
                }
            }
        },
    );
}

/// Backward: gradients of queries, keys and values from the output gradient `dout`, the forward's
/// inputs, output and `lse`.
#[allow(clippy::too_many_arguments)]
pub fn backward(d: AttnDims, q: &[f32], k: &[f32], v: &[f32], bias: &[f32], out: &[f32], lse: &[f32], dout: &[f32], dq: &mut [f32], dk: &mut [f32], dv: &mut [f32]) {
    check(&d, q, k, v, bias);
    let w = d.width();
    assert_eq!(out.len(), q.len(), "attention backward: output shape");
    assert_eq!(dout.len(), q.len(), "attention backward: output gradient shape");
    assert_eq!(lse.len(), d.batch * d.heads * d.nq, "attention backward: lse shape");
    assert!(dq.len() == q.len() && dk.len() == k.len() && dv.len() == v.len(), "attention backward: gradient shapes");
    let (dq_ptr, dk_ptr, dv_ptr) = (SharedMut::new(dq.as_mut_ptr()), SharedMut::new(dk.as_mut_ptr()), SharedMut::new(dv.as_mut_ptr()));
    (0..d.batch * d.heads).into_par_iter().for_each_init(
        || (vec![0f32; BLOCK.min(d.nq) * d.nk], vec![0f32; BLOCK.min(d.nq) * d.nk]),
        |(p, dp), task| {
            let (b, h) = (task / d.heads, task % d.heads);
            let col = h * d.head_dim;
            let (qoff, koff) = (b * d.nq * w + col, b * d.nk * w + col);
            let (qp, kp, vp) = (q[qoff..].as_ptr(), k[koff..].as_ptr(), v[koff..].as_ptr());
            let bias = &bias[b * d.nk..(b + 1) * d.nk];
            let lse = &lse[task * d.nq..(task + 1) * d.nq];
            let wi = w as isize;
            for q0 in (0..d.nq).step_by(BLOCK) {
                let m = BLOCK.min(d.nq - q0);
                let (p, dp) = (&mut p[..m * d.nk], &mut dp[..m * d.nk]);
                // SAFETY (whole block): offsets are in bounds by the shape checks; the gradient
                // columns written (this head's, of batch row b) belong to this task only.
                unsafe {
                    scores(&d, qp, kp, q0, m, p);
                    for (i, row) in p.chunks_exact_mut(d.nk).enumerate() {
                        simd::exp_row_shifted(row, bias, lse[q0 + i]);
                    }
                    let dop = dout[qoff + q0 * w..].as_ptr();
                    // dV += P^T dO_blk (P^T[j, i] = p[i * nk + j]).
                    matmul(d.nk, d.head_dim, m, dv_ptr.ptr().add(koff), wi, 1, q0 > 0, p.as_ptr(), 1, d.nk as isize, dop, wi, 1, 1.0, Parallelism::None);
                    // dP = dO_blk V^T.
                    matmul(m, d.nk, d.head_dim, dp.as_mut_ptr(), d.nk as isize, 1, false, dop, wi, 1, vp, 1, wi, 1.0, Parallelism::None);
                    for (i, (prow, dprow)) in p.chunks_exact_mut(d.nk).zip(dp.chunks_exact(d.nk)).enumerate() {
                        let r = qoff + (q0 + i) * w;
                        let di = simd::dot_row(&dout[r..r + d.head_dim], &out[r..r + d.head_dim]);
                        simd::softmax_grad_row(prow, dprow, di);
                    }
                    // dQ_blk = scale dS K; dK += scale dS^T Q_blk.
                    matmul(m, d.head_dim, d.nk, dq_ptr.ptr().add(qoff + q0 * w), wi, 1, false, p.as_ptr(), d.nk as isize, 1, kp, wi, 1, d.scale(), Parallelism::None);
                    matmul(d.nk, d.head_dim, m, dk_ptr.ptr().add(koff), wi, 1, q0 > 0, p.as_ptr(), 1, d.nk as isize, qp.offset(q0 as isize * wi), wi, 1, d.scale(), Parallelism::None);
                }
            }
        },
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::kernels::test_values as lcg;

    /// Plain f64 attention of one (batch, head), for reference.
    fn reference(d: &AttnDims, q: &[f32], k: &[f32], v: &[f32], bias: &[f32]) -> Vec<f64> {
        let w = d.width();
        let mut out = vec![0f64; q.len()];
        for b in 0..d.batch {
            for h in 0..d.heads {
                for i in 0..d.nq {
                    let s: Vec<f64> = (0..d.nk)
                        .map(|j| {
                            let dot: f64 = (0..d.head_dim).map(|c| q[(b * d.nq + i) * w + h * d.head_dim + c] as f64 * k[(b * d.nk + j) * w + h * d.head_dim + c] as f64).sum();
                            dot / (d.head_dim as f64).sqrt() + bias[b * d.nk + j] as f64
                        })
                        .collect();
                    let m = s.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
                    let e: Vec<f64> = s.iter().map(|x| (x - m).exp()).collect();
                    let z: f64 = e.iter().sum();
                    for c in 0..d.head_dim {
                        out[(b * d.nq + i) * w + h * d.head_dim + c] = (0..d.nk).map(|j| e[j] / z * v[(b * d.nk + j) * w + h * d.head_dim + c] as f64).sum();
                    }
                }
            }
        }
        out
    }

    fn case(d: AttnDims) -> (Vec<f32>, Vec<f32>, Vec<f32>, Vec<f32>) {
        let w = d.width();
        let q: Vec<f32> = lcg(1, d.batch * d.nq * w).iter().map(|x| x * 2.0).collect();
        let k: Vec<f32> = lcg(2, d.batch * d.nk * w).iter().map(|x| x * 2.0).collect();
        let v = lcg(3, d.batch * d.nk * w);
        let bias: Vec<f32> = (0..d.batch * d.nk).map(|i| if i % d.nk >= d.nk - 2 && i / d.nk == 1 { -1e30 } else { 0.0 }).collect();
        (q, k, v, bias)
    }

    #[test]
    fn forward_matches_f64_reference_across_blocks_and_padding() {
        for d in [AttnDims { batch: 2, nq: 70, nk: 37, heads: 3, head_dim: 8 }, AttnDims { batch: 2, nq: 5, nk: 130, heads: 2, head_dim: 6 }] {
            let (q, k, v, bias) = case(d);
            let mut out = vec![0f32; q.len()];
            let mut lse = vec![0f32; d.batch * d.heads * d.nq];
            forward(d, &q, &k, &v, &bias, &mut out, Some(&mut lse));
            let want = reference(&d, &q, &k, &v, &bias);
            let err = out.iter().zip(&want).map(|(a, b)| (*a as f64 - b).abs()).fold(0.0, f64::max);
            assert!(err < 2e-6, "{d:?}: max error {err}");
        }
    }

    /// Finite differences of `sum(out * g)` in f64 against the backward's gradients.
    #[test]
    fn backward_matches_finite_differences() {
        let d = AttnDims { batch: 2, nq: 67, nk: 9, heads: 2, head_dim: 4 };
        let (q, k, v, bias) = case(d);
        let g = lcg(4, q.len());
        let mut out = vec![0f32; q.len()];
        let mut lse = vec![0f32; d.batch * d.heads * d.nq];
        forward(d, &q, &k, &v, &bias, &mut out, Some(&mut lse));
        let (mut dq, mut dk, mut dv) = (vec![0f32; q.len()], vec![0f32; k.len()], vec![0f32; v.len()]);
        backward(d, &q, &k, &v, &bias, &out, &lse, &g, &mut dq, &mut dk, &mut dv);
        let objective = |q: &[f32], k: &[f32], v: &[f32]| -> f64 { reference(&d, q, k, v, &bias).iter().zip(&g).map(|(o, g)| o * *g as f64).sum() };
        let eps = 1e-2f32;
        for (which, grad) in [(0, &dq), (1, &dk), (2, &dv)] {
            for idx in [0usize, 5, 17, 100, 131, 200] {
                let mut args = [q.clone(), k.clone(), v.clone()];
                if idx >= args[which].len() {
                    continue;
                }
                args[which][idx] += eps;
                let up = objective(&args[0], &args[1], &args[2]);
                args[which][idx] -= 2.0 * eps;
                let down = objective(&args[0], &args[1], &args[2]);
                let num = (up - down) / (2.0 * eps as f64);
                assert!((grad[idx] as f64 - num).abs() < 2e-3 * (1.0 + num.abs()), "input {which} element {idx}: {} vs {num}", grad[idx]);
            }
        }
        // Padded keys get no gradient.
        let w = d.width();
        for j in d.nk - 2..d.nk {
            assert!(dk[(d.nk + j) * w..(d.nk + j + 1) * w].iter().all(|x| x.abs() < 1e-20));
            assert!(dv[(d.nk + j) * w..(d.nk + j + 1) * w].iter().all(|x| x.abs() < 1e-20));
        }
    }
}
