//! The fused kernels as a burn backend extension on flex, with hand-written backward passes for
//! flex under autodiff.

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::flex::FlexTensor;
use burn::backend::tensor::FloatTensor;
use burn::backend::{backend_extension, Autodiff, Backend, Flex};
use burn::tensor::{DType, Shape, TensorData};
use rayon::prelude::*;

use super::attention::{self, AttnDims};
use super::conv::{self, ConvDims};
use super::norm;
use super::permute;
use super::simd;
use super::ssim::{self as ssim_kernel, SsimDims};

#[backend_extension(Flex, Autodiff)]
pub trait FusedOps: Backend {
    /// Multi-head attention on `[batch, n, heads * head_dim]` queries / keys / values with an
    /// additive key bias `[batch, nk]` (not differentiated).
    fn fused_attention(q: FloatTensor<Self>, k: FloatTensor<Self>, v: FloatTensor<Self>, bias: FloatTensor<Self>, heads: usize) -> FloatTensor<Self>;
    /// Exact (erf) GELU.
    fn fused_gelu(x: FloatTensor<Self>) -> FloatTensor<Self>;
    /// 3D convolution, stride 1, zero padding `pad_h`, `pad_w` in height and width:
    /// `x [b, ci, t, h, w]`, `weight [co, ci, kt, kh, kw]`, `bias [co]`.
    fn fused_conv3d(x: FloatTensor<Self>, weight: FloatTensor<Self>, bias: FloatTensor<Self>, pad_h: usize, pad_w: usize) -> FloatTensor<Self>;
    /// `silu(x / sqrt(mean over axis 1 of x^2 + 1e-6) * gain)` on `x [b, c, ...]`, `gain [c]`.
    fn fused_norm_silu(x: FloatTensor<Self>, gain: FloatTensor<Self>) -> FloatTensor<Self>;
    /// Mean SSIM (7x7 uniform window, no padding) of the channel means of `x` and `y`
    /// `[b, c, t, h, w]`, as a `[1]` tensor.
    fn fused_ssim(x: FloatTensor<Self>, y: FloatTensor<Self>) -> FloatTensor<Self>;
    /// `x.permute(axes)`, materialised contiguously.
    fn fused_permute(x: FloatTensor<Self>, axes: Vec<usize>) -> FloatTensor<Self>;
}

/// The tensor's f32 values in row-major order (copied only when strided or offset).
fn values(t: &FlexTensor) -> std::borrow::Cow<'_, [f32]> {
    assert_eq!(t.dtype(), DType::F32, "fused kernels run in f32 (got {:?})", t.dtype());
    match t.as_slice::<f32>() {
        Some(s) => std::borrow::Cow::Borrowed(s),
        None => std::borrow::Cow::Owned(t.to_contiguous().into_data().try_into_vec::<f32>().expect("f32 values")),
    }
}

fn tensor(data: Vec<f32>, shape: Shape) -> FlexTensor {
    FlexTensor::from_data(TensorData::new(data, shape))
}

fn attn_dims(q: &FlexTensor, k: &FlexTensor, heads: usize) -> AttnDims {
    let (qs, ks) = (q.layout().shape(), k.layout().shape());
    assert!(qs.num_dims() == 3 && ks.num_dims() == 3, "fused attention takes [batch, tokens, width] tensors");
    assert!(qs[2] % heads == 0, "width {} is not divisible by {heads} heads", qs[2]);
    AttnDims { batch: qs[0], nq: qs[1], nk: ks[1], heads, head_dim: qs[2] / heads }
}

/// Attention forward on flex tensors; also returns the log-sum-exp when `keep_lse`.
fn attention_forward(q: &FlexTensor, k: &FlexTensor, v: &FlexTensor, bias: &FlexTensor, heads: usize, keep_lse: bool) -> (FlexTensor, Option<FlexTensor>) {
    let d = attn_dims(q, k, heads);
    let mut out = vec![0f32; d.batch * d.nq * d.width()];
    let mut lse = keep_lse.then(|| vec![0f32; d.batch * d.heads * d.nq]);
    attention::forward(d, &values(q), &values(k), &values(v), &values(bias), &mut out, lse.as_deref_mut());
    (tensor(out, q.layout().shape().clone()), lse.map(|l| tensor(l, Shape::new([d.batch, d.heads, d.nq]))))
}

const CHUNK: usize = 1 << 14;

fn gelu_forward(x: &FlexTensor) -> FlexTensor {
    let xs = values(x);
    let mut y = vec![0f32; xs.len()];
    y.par_chunks_mut(CHUNK).zip(xs.par_chunks(CHUNK)).for_each(|(y, x)| simd::gelu_forward(x, y));
    tensor(y, x.layout().shape().clone())
}

fn conv_dims(x: &FlexTensor, weight: &FlexTensor, pad: [usize; 2]) -> ConvDims {
    let (xs, ws) = (x.layout().shape(), weight.layout().shape());
    assert!(xs.num_dims() == 5 && ws.num_dims() == 5 && xs[1] == ws[1], "fused conv3d: input {xs:?} and weight {ws:?} do not match");
    ConvDims { batch: xs[0], cin: xs[1], cout: ws[0], input: [xs[2], xs[3], xs[4]], kernel: [ws[2], ws[3], ws[4]], pad }
}

/// Convolution forward; also returns what the backward can reuse when `keep`.
fn conv_forward(x: &FlexTensor, weight: &FlexTensor, bias: &FlexTensor, pad: [usize; 2], keep: bool) -> (FlexTensor, Option<Vec<f32>>) {
    let d = conv_dims(x, weight, pad);
    let (out, kept) = conv::forward_keeping(d, &values(x), &values(weight), &values(bias), keep);
    let [t, h, w] = d.output();
    (tensor(out, Shape::new([d.batch, d.cout, t, h, w])), kept)
}

/// `(batch, positions)` of a `[b, c, ...]` tensor normalised over axis 1 by a `[c]` gain.
fn norm_dims(x: &FlexTensor, gain: &FlexTensor) -> (usize, usize) {
    let (xs, gs) = (x.layout().shape(), gain.layout().shape());
    assert!(xs.num_dims() >= 2 && gs.num_dims() == 1 && xs[1] == gs[0], "fused norm: input {xs:?} and gain {gs:?} do not match");
    (xs[0], xs.num_elements() / (xs[0] * xs[1]))
}

fn norm_silu_forward(x: &FlexTensor, gain: &FlexTensor) -> FlexTensor {
    let (b, p) = norm_dims(x, gain);
    tensor(norm::forward(&values(x), &values(gain), b, p), x.layout().shape().clone())
}

fn ssim_dims(x: &FlexTensor, y: &FlexTensor) -> SsimDims {
    let (xs, ys) = (x.layout().shape(), y.layout().shape());
    assert!(xs.num_dims() == 5 && xs == ys, "fused ssim: inputs {xs:?} and {ys:?} must be equal [b, c, t, h, w] shapes");
    SsimDims { batch: xs[0], channels: xs[1], frames: xs[2], height: xs[3], width: xs[4] }
}

fn ssim_forward(x: &FlexTensor, y: &FlexTensor) -> FlexTensor {
    let d = ssim_dims(x, y);
    tensor(vec![ssim_kernel::forward(d, &values(x), &values(y))], Shape::new([1]))
}

fn permute_forward(x: &FlexTensor, axes: &[usize]) -> FlexTensor {
    let shape = x.layout().shape();
    let dims: Vec<usize> = (0..shape.num_dims()).map(|i| shape[i]).collect();
    let out: Vec<usize> = axes.iter().map(|&a| dims[a]).collect();
    tensor(permute::permute(&values(x), &dims, axes), Shape::from(out))
}

impl FusedOps for Flex {
    fn fused_attention(q: FlexTensor, k: FlexTensor, v: FlexTensor, bias: FlexTensor, heads: usize) -> FlexTensor {
        attention_forward(&q, &k, &v, &bias, heads, false).0
    }

    fn fused_gelu(x: FlexTensor) -> FlexTensor {
        gelu_forward(&x)
    }

    fn fused_conv3d(x: FlexTensor, weight: FlexTensor, bias: FlexTensor, pad_h: usize, pad_w: usize) -> FlexTensor {
        conv_forward(&x, &weight, &bias, [pad_h, pad_w], false).0
    }

    fn fused_norm_silu(x: FlexTensor, gain: FlexTensor) -> FlexTensor {
        norm_silu_forward(&x, &gain)
    }

    fn fused_ssim(x: FlexTensor, y: FlexTensor) -> FlexTensor {
        ssim_forward(&x, &y)
    }

    fn fused_permute(x: FlexTensor, axes: Vec<usize>) -> FlexTensor {
        permute_forward(&x, &axes)
    }
}

#[derive(Debug)]
struct PermuteBackward;

impl Backward<Flex, 1> for PermuteBackward {
    type State = Vec<usize>;

    fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, _checkpointer: &mut Checkpointer) {
        let dy = grads.consume::<Flex>(&ops.node);
        let [parent] = ops.parents;
        if let Some(node) = parent {
            grads.register::<Flex>(node.id, permute_forward(&dy, &permute::inverse(&ops.state)));
        }
    }
}

#[derive(Debug)]
struct SsimBackward;

impl Backward<Flex, 2> for SsimBackward {
    type State = (FlexTensor, FlexTensor);

    fn backward(self, ops: Ops<Self::State, 2>, grads: &mut Gradients, _checkpointer: &mut Checkpointer) {
        let (x, y) = ops.state;
        let grad = values(&grads.consume::<Flex>(&ops.node))[0];
        let d = ssim_dims(&x, &y);
        let [px, py] = ops.parents;
        let (dx, dy) = ssim_kernel::backward(d, &values(&x), &values(&y), grad, px.is_some(), py.is_some());
        if let (Some(node), Some(dx)) = (px, dx) {
            grads.register::<Flex>(node.id, tensor(dx, x.layout().shape().clone()));
        }
        if let (Some(node), Some(dy)) = (py, dy) {
            grads.register::<Flex>(node.id, tensor(dy, y.layout().shape().clone()));
        }
    }
}

#[derive(Debug)]
struct NormSiluBackward;

impl Backward<Flex, 2> for NormSiluBackward {
    type State = (FlexTensor, FlexTensor);

    fn backward(self, ops: Ops<Self::State, 2>, grads: &mut Gradients, _checkpointer: &mut Checkpointer) {
        let (x, gain) = ops.state;
        let dy = grads.consume::<Flex>(&ops.node);
        let (b, p) = norm_dims(&x, &gain);
        let (dx, dgain) = norm::backward(&values(&x), &values(&gain), &values(&dy), b, p);
        let [px, pg] = ops.parents;
        if let Some(node) = px {
            grads.register::<Flex>(node.id, tensor(dx, x.layout().shape().clone()));
        }
        if let Some(node) = pg {
            grads.register::<Flex>(node.id, tensor(dgain, gain.layout().shape().clone()));
        }
    }
}

#[derive(Debug)]
struct ConvBackward;

impl Backward<Flex, 3> for ConvBackward {
    /// Input, weight, padding, and what the forward kept for the backward.
    type State = (FlexTensor, FlexTensor, [usize; 2], Option<std::sync::Arc<Vec<f32>>>);

    fn backward(self, ops: Ops<Self::State, 3>, grads: &mut Gradients, _checkpointer: &mut Checkpointer) {
        let (x, weight, pad, kept) = ops.state;
        let dout = grads.consume::<Flex>(&ops.node);
        let d = conv_dims(&x, &weight, pad);
        let [px, pw, pb] = ops.parents;
        let (dx, dw, db) = conv::backward_with(d, &values(&x), &values(&weight), &values(&dout), px.is_some(), kept.as_deref().map(|v| v.as_slice()));
        if let (Some(node), Some(dx)) = (px, dx) {
            grads.register::<Flex>(node.id, tensor(dx, x.layout().shape().clone()));
        }
        if let Some(node) = pw {
            grads.register::<Flex>(node.id, tensor(dw, weight.layout().shape().clone()));
        }
        if let Some(node) = pb {
            grads.register::<Flex>(node.id, tensor(db, Shape::new([d.cout])));
        }
    }
}

#[derive(Debug)]
struct AttentionBackward;

#[derive(Debug, Clone)]
struct AttentionState {
    q: FlexTensor,
    k: FlexTensor,
    v: FlexTensor,
    bias: FlexTensor,
    out: FlexTensor,
    lse: FlexTensor,
    heads: usize,
}

impl Backward<Flex, 3> for AttentionBackward {
    type State = AttentionState;

    fn backward(self, ops: Ops<Self::State, 3>, grads: &mut Gradients, _checkpointer: &mut Checkpointer) {
        let s = ops.state;
        let dout = grads.consume::<Flex>(&ops.node);
        let d = attn_dims(&s.q, &s.k, s.heads);
        let (mut dq, mut dk, mut dv) = (vec![0f32; d.batch * d.nq * d.width()], vec![0f32; d.batch * d.nk * d.width()], vec![0f32; d.batch * d.nk * d.width()]);
        attention::backward(d, &values(&s.q), &values(&s.k), &values(&s.v), &values(&s.bias), &values(&s.out), &values(&s.lse), &values(&dout), &mut dq, &mut dk, &mut dv);
        let [pq, pk, pv] = ops.parents;
        for (parent, grad, shape) in [(pq, dq, s.q.layout().shape()), (pk, dk, s.k.layout().shape()), (pv, dv, s.v.layout().shape())] {
            if let Some(node) = parent {
                grads.register::<Flex>(node.id, tensor(grad, shape.clone()));
            }
        }
    }
}

#[derive(Debug)]
struct GeluBackward;

impl Backward<Flex, 1> for GeluBackward {
    type State = FlexTensor;

    fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, _checkpointer: &mut Checkpointer) {
        let dy = grads.consume::<Flex>(&ops.node);
        let [parent] = ops.parents;
        if let Some(node) = parent {
            let (xs, dys) = (values(&ops.state), values(&dy));
            let mut dx = vec![0f32; xs.len()];
            dx.par_chunks_mut(CHUNK).zip(xs.par_chunks(CHUNK)).zip(dys.par_chunks(CHUNK)).for_each(|((dx, x), dy)| simd::gelu_backward(x, dy, dx));
            grads.register::<Flex>(node.id, tensor(dx, ops.state.layout().shape().clone()));
        }
    }
}

impl<C: CheckpointStrategy> FusedOps for Autodiff<Flex, C> {
    fn fused_attention(q: FloatTensor<Self>, k: FloatTensor<Self>, v: FloatTensor<Self>, bias: FloatTensor<Self>, heads: usize) -> FloatTensor<Self> {
        let (q, qn) = q.into_parts();
        let (k, kn) = k.into_parts();
        let (v, vn) = v.into_parts();
        let bias = bias.into_primitive();
        match AttentionBackward.prepare::<C>([qn, kn, vn]).compute_bound().stateful() {
            OpsKind::Tracked(prep) => {
                let (out, lse) = attention_forward(&q, &k, &v, &bias, heads, true);
                let state = AttentionState { q, k, v, bias, out: out.clone(), lse: lse.expect("lse kept"), heads };
                prep.finish(state, out)
            }
            OpsKind::UnTracked(prep) => prep.finish(attention_forward(&q, &k, &v, &bias, heads, false).0),
        }
    }

    fn fused_gelu(x: FloatTensor<Self>) -> FloatTensor<Self> {
        let (x, xn) = x.into_parts();
        match GeluBackward.prepare::<C>([xn]).compute_bound().stateful() {
            OpsKind::Tracked(prep) => {
                let y = gelu_forward(&x);
                prep.finish(x, y)
            }
            OpsKind::UnTracked(prep) => prep.finish(gelu_forward(&x)),
        }
    }

    fn fused_conv3d(x: FloatTensor<Self>, weight: FloatTensor<Self>, bias: FloatTensor<Self>, pad_h: usize, pad_w: usize) -> FloatTensor<Self> {
        let (x, xn) = x.into_parts();
        let (weight, wn) = weight.into_parts();
        let (bias, bn) = bias.into_parts();
        let pad = [pad_h, pad_w];
        match ConvBackward.prepare::<C>([xn, wn, bn]).compute_bound().stateful() {
            OpsKind::Tracked(prep) => {
                let (out, kept) = conv_forward(&x, &weight, &bias, pad, true);
                prep.finish((x, weight, pad, kept.map(std::sync::Arc::new)), out)
            }
            OpsKind::UnTracked(prep) => prep.finish(conv_forward(&x, &weight, &bias, pad, false).0),
        }
    }

    fn fused_norm_silu(x: FloatTensor<Self>, gain: FloatTensor<Self>) -> FloatTensor<Self> {
        let (x, xn) = x.into_parts();
        let (gain, gn) = gain.into_parts();
        match NormSiluBackward.prepare::<C>([xn, gn]).compute_bound().stateful() {
            OpsKind::Tracked(prep) => {
                let out = norm_silu_forward(&x, &gain);
                prep.finish((x, gain), out)
            }
            OpsKind::UnTracked(prep) => prep.finish(norm_silu_forward(&x, &gain)),
        }
    }

    fn fused_ssim(x: FloatTensor<Self>, y: FloatTensor<Self>) -> FloatTensor<Self> {
        let (x, xn) = x.into_parts();
        let (y, yn) = y.into_parts();
        match SsimBackward.prepare::<C>([xn, yn]).compute_bound().stateful() {
            OpsKind::Tracked(prep) => {
                let out = ssim_forward(&x, &y);
                prep.finish((x, y), out)
            }
            OpsKind::UnTracked(prep) => prep.finish(ssim_forward(&x, &y)),
        }
    }

    fn fused_permute(x: FloatTensor<Self>, axes: Vec<usize>) -> FloatTensor<Self> {
        let (x, xn) = x.into_parts();
        match PermuteBackward.prepare::<C>([xn]).compute_bound().stateful() {
            OpsKind::Tracked(prep) => {
                let out = permute_forward(&x, &axes);
                prep.finish(axes, out)
            }
            OpsKind::UnTracked(prep) => prep.finish(permute_forward(&x, &axes)),
        }
    }
}
