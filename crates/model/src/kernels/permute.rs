//! Axis permutation into a contiguous tensor, multi-threaded: the copies behind the tokenizer's
//! space/time-to-depth rearrangements (`reshape -> permute -> reshape`), which burn materialises
//! with a generic strided iterator on one thread.
//!
//! Size-1 axes are dropped and neighbouring output axes that are also neighbours in the input are
//! merged, so the copy becomes rows of the last output axis read with one source stride (a plain
//! copy when that stride is 1). Rows are split over the rayon pool.

use rayon::prelude::*;

/// `out = x.permute(axes)`, contiguous, for `x` contiguous of shape `shape`.
pub fn permute(x: &[f32], shape: &[usize], axes: &[usize]) -> Vec<f32> {
    let d = shape.len();
    assert!(axes.len() == d && (0..d).all(|i| axes.contains(&i)), "permute: axes {axes:?} are not a permutation of {d} axes");
    assert_eq!(x.len(), shape.iter().product::<usize>(), "permute: input length");
    let mut stride = vec![1usize; d];
    for i in (0..d.saturating_sub(1)).rev() {
        stride[i] = stride[i + 1] * shape[i + 1];
    }
    // Output axes as (size, source stride), size-1 axes dropped, contiguous runs merged.
    let mut dims: Vec<(usize, usize)> = Vec::with_capacity(d);
    for &a in axes {
        if shape[a] == 1 {
            continue;
        }
        match dims.last_mut() {
            Some((n, s)) if *s == stride[a] * shape[a] => {
                *n *= shape[a];
                *s = stride[a];
            }
            _ => dims.push((shape[a], stride[a])),
        }
    }
    // SAFETY: the blocks below cover every output element (or the copy does).
    let mut out = unsafe { super::uninit(x.len()) };
    if dims.is_empty() {
        out.copy_from_slice(x);
        return out;
    }
    // The innermost block: the last output axis, or the last two when the last is short (a
    // depth-to-space's 2 or 4), read along the second-to-last axis's stride (often 1).
    let inner = if dims.len() >= 2 && dims[dims.len() - 1].0 < 16 { 2 } else { 1 };
    let (outer, block) = dims.split_at(dims.len() - inner);
    let row: usize = block.iter().map(|&(n, _)| n).product();
    // Blocks per task: about 16k values.
    let per_task = (16384 / row).max(1);
    out.par_chunks_mut(per_task * row).enumerate().for_each(|(t, chunk)| {
        for (k, dst) in chunk.chunks_mut(row).enumerate() {
            // Source offset of block `t * per_task + k` (mixed radix over the outer axes).
            let mut r = t * per_task + k;
            let mut src = 0;
            for &(n, s) in outer.iter().rev() {
                src += (r % n) * s;
                r /= n;
            }
            match *block {
                [(n, 1)] => dst.copy_from_slice(&x[src..src + n]),
                [(_, step)] => dst.iter_mut().enumerate().for_each(|(i, v)| *v = x[src + i * step]),
                [(n1, s1), (n2, s2)] => {
                    for i2 in 0..n2 {
                        let base = src + i2 * s2;
                        for i1 in 0..n1 {
                            dst[i1 * n2 + i2] = x[base + i1 * s1];
                        }
                    }
                }
                _ => unreachable!("blocks have one or two axes"),
            }
        }
    });
    out
}

/// The inverse permutation of `axes`.
pub fn inverse(axes: &[usize]) -> Vec<usize> {
    let mut inv = vec![0; axes.len()];
    for (i, &a) in axes.iter().enumerate() {
        inv[a] = i;
    }
    inv
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Index-by-index reference.
    fn reference(x: &[f32], shape: &[usize], axes: &[usize]) -> Vec<f32> {
        let out_shape: Vec<usize> = axes.iter().map(|&a| shape[a]).collect();
        let n: usize = shape.iter().product();
        let mut out = vec![0f32; n];
        for (o, v) in out.iter_mut().enumerate() {
            // Output multi-index, then the input offset.
            let mut r = o;
            let mut idx = vec![0; shape.len()];
            for i in (0..shape.len()).rev() {
                idx[axes[i]] = r % out_shape[i];
                r /= out_shape[i];
            }
            let off = idx.iter().zip(shape).fold(0, |acc, (i, s)| acc * s + i);
            *v = x[off];
        }
        out
    }

    #[test]
    fn matches_index_by_index_reference_and_inverts() {
        let cases: Vec<(Vec<usize>, Vec<usize>)> = vec![
            // space-to-depth by 2 of [b*c, t, h/2, 2, w/2, 2, 1]
            (vec![6, 3, 4, 2, 5, 2, 1], vec![0, 3, 5, 1, 2, 4, 6]),
            // depth-to-space inverse
            (vec![6, 2, 2, 3, 4, 5, 1], vec![0, 3, 4, 1, 5, 2, 6]),
            // time-to-depth
            (vec![2, 5, 3, 2, 4, 6], vec![0, 3, 1, 2, 4, 5]),
            (vec![7], vec![0]),
            (vec![1, 1, 3], vec![2, 0, 1]),
            (vec![300, 70], vec![1, 0]),
            // depth-to-space by 4 with a long source stride on the last axis
            (vec![3, 4, 4, 2, 5, 6, 1], vec![0, 3, 4, 1, 5, 2, 6]),
        ];
        for (shape, axes) in cases {
            let n: usize = shape.iter().product();
            let x: Vec<f32> = (0..n).map(|i| i as f32 * 0.5 - 3.0).collect();
            let got = permute(&x, &shape, &axes);
            assert_eq!(got, reference(&x, &shape, &axes), "{shape:?} {axes:?}");
            let out_shape: Vec<usize> = axes.iter().map(|&a| shape[a]).collect();
            assert_eq!(permute(&got, &out_shape, &inverse(&axes)), x, "inverse of {shape:?} {axes:?}");
        }
    }
}
