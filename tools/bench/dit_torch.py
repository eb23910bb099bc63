#!/usr/bin/env python3
"""PyTorch peer of the worldrig Text2World DiT, for tools/bench/dit.sh.

The same network as crates/model/src/dit/ (net.rs, layers.rs, rope.rs, text.rs), built from the
same config file (configs/dit/*.json, `model` section): 1x2x2 patches of the latent plus the
conditioning-mask channel, a linear token embedding, the sinusoidal noise embedding through two
linears with SiLU, the caption encoder (token + learned position embeddings, pre-norm transformer
layers with key-padding masks, a final norm) and its projection, `depth` DiT blocks (AdaLN-LoRA
modulation shift/scale/gate x 3 from the noise embedding; self-attention with 3D RoPE over
(t, h, w); cross-attention to the caption with the padding mask; GELU MLP), the fixed sine-cosine
absolute position embedding added to the tokens when `abs_pos` (default true), the final modulated
norm and linear, unpatchify. Layer norms have no affine and eps 1e-6 inside the square root,
attention scale 1/sqrt(head_dim), GELU exact (erf). EDM preconditioning and the weighted loss as
crates/model/src/diffusion/{precond,loss}.rs. Layout [batch, channels, time, height, width],
float32. The module names are burn's parameter names (burn stores Linear weights [in, out]; they
are transposed on load).

It times what crates/model/examples/dit_bench.rs times, with the same conventions, and prints one
JSON object per line:
  - train: forward through the EDM denoiser + lambda(sigma)-weighted MSE + backward + AdamW
    (beta 0.9/0.999, eps 1e-5, weight decay from the config, lr 1e-4: burn's AdamW defaults but
    the weight decay, as the Rust program) at batch x [16, T, H, W] latents, 24-token captions
    without padding, mask channel zeros, fresh inputs per step made outside the timed part;
    ITERS + 1 steps, the first dropped, the median (element len/2 of the sorted times);
  - sample: one denoiser evaluation at batch 2 (conditional + unconditional rows of one sample,
    the unconditional caption one <unk> padded to 24) plus the guidance mix, under
    torch.inference_mode();
  - matmul: torch.mm of two 1024 x 1024 float32 matrices, 10 timed after one warm-up.

Usage:
  python3 tools/bench/dit_torch.py configs/dit/tiny.json --iters 5 --threads 2 [--expect-params N]
  python3 tools/bench/dit_torch.py configs/dit/tiny.json --parity FILE   # FILE from
      `dit_bench --export FILE`: loads the Rust weights and compares the raw network output, the
      EDM loss, every parameter's gradient and a guided denoiser output; exits 1 on a mismatch.

Install: `pip install -r tools/bench/requirements-tokenizer.txt` (torch 2.15.0 from PyPI; see that
file). Run with OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset, as dit.sh does.
"""

import argparse
import json
import math
import os
import platform
import struct
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

CAPTION = 24
GUIDANCE = 2.0
SAMPLE_SIGMA = 2.5
PAD, UNK = 0, 1


# ---------------------------------------------------------------------------------------------------
# Config


def load_config(path):
    with open(path) as f:
        cfg = json.load(f)
    m = dict(cfg["model"])
    m.setdefault("rope_theta", 10000.0)
    m.setdefault("abs_pos", True)
    return m, cfg["train"]


def token_in(m):
    return (m["latent_channels"] + 1) * m["patch"] ** 2


def token_out(m):
    return m["latent_channels"] * m["patch"] ** 2


def expected_params(m):
    """Parameter count of the DiT described by `m`, from the layer list alone."""

    def lin(i, o, bias=True):
        return i * o + (o if bias else 0)

    d, h, r = m["width"], m["text_width"], m["adaln_rank"]

    def attn(w):
        return 3 * lin(w, w, False) + lin(w, w)

    def mlp(w, hidden):
        return lin(w, hidden) + lin(hidden, w)

    n = lin(token_in(m), d) + lin(256, d) + lin(d, d)
    n += m["vocab_size"] * h + m["max_caption_tokens"] * h + m["text_layers"] * (attn(h) + mlp(h, 4 * h))
    n += lin(h, d)
    n += m["depth"] * (lin(d, r) + lin(r, 9 * d) + 2 * attn(d) + mlp(d, m["mlp_ratio"] * d))
    n += lin(d, 2 * d) + lin(d, token_out(m))
    return n


def macs(m, n, l):
    """Multiply-accumulates of one forward pass per sample (as dit_bench.rs `macs`): linear layers
    and the attention products QK^T and AV."""
    d, h, r = m["width"], m["text_width"], m["adaln_rank"]
    text_layer = 4 * l * h * h + 2 * l * l * h + 2 * l * h * 4 * h
    block = (d * r + r * 9 * d + 4 * n * d * d + 2 * n * n * d + 2 * n * d * d + 2 * l * d * d + 2 * n * l * d
             + 2 * n * d * m["mlp_ratio"] * d)
    return (n * token_in(m) * d + 256 * d + d * d + m["text_layers"] * text_layer + l * h * d
            + m["depth"] * block + d * 2 * d + n * d * token_out(m))


# ---------------------------------------------------------------------------------------------------
# The network (crates/model/src/dit)


def norm3(x):
    """Layer norm over the last axis, no affine, eps inside the square root (layers.rs norm3)."""
    return F.layer_norm(x, (x.shape[-1],), eps=1e-6)


def axis_split(head_dim):
    half = head_dim // 2
    t = max(half // 4, 1)
    h = (half - t) // 2
    w = half - t - h
    return [2 * t, 2 * h, 2 * w]


def rope_tables(grid, head_dim, theta):
    """(cos, sin) [tokens, head_dim] for a t-major t x h x w grid (rope.rs tables, origin 0)."""
    split = axis_split(head_dim)
    half = head_dim // 2
    tt, yy, xx = torch.meshgrid(torch.arange(grid[0], dtype=torch.float64), torch.arange(grid[1], dtype=torch.float64),
                                torch.arange(grid[2], dtype=torch.float64), indexing="ij")
    pos = [tt.reshape(-1), yy.reshape(-1), xx.reshape(-1)]
    angles = []
    for a in range(3):
        na = split[a] // 2
        inv = torch.tensor([theta ** (-(2.0 * i) / split[a]) for i in range(na)], dtype=torch.float64)
        angles.append(pos[a][:, None] * inv[None, :])
    ang = torch.cat(angles, dim=1)  # [n, half]
    assert ang.shape[1] == half
    cos, sin = ang.cos().float(), ang.sin().float()
    return torch.cat([cos, cos], 1), torch.cat([sin, sin], 1)


def absolute_pos(grid, width):
    """Fixed sine-cosine absolute position embedding [tokens, width] (rope.rs absolute): per axis
    a block of split[a] values, sines then cosines of position * 10000^(-i / (split[a] / 2))."""
    split = axis_split(width)
    tt, yy, xx = torch.meshgrid(torch.arange(grid[0], dtype=torch.float64), torch.arange(grid[1], dtype=torch.float64),
                                torch.arange(grid[2], dtype=torch.float64), indexing="ij")
    pos = [tt.reshape(-1), yy.reshape(-1), xx.reshape(-1)]
    parts = []
    for a in range(3):
        half = split[a] // 2
        inv = torch.tensor([10000.0 ** (-i / half) for i in range(half)], dtype=torch.float64)
        ang = pos[a][:, None] * inv[None, :]
        parts += [ang.sin(), ang.cos()]
    return torch.cat(parts, 1).float()


def rope_apply(x, cos, sin):
    half = x.shape[-1] // 2
    x1, x2 = x[..., :half], x[..., half:]
    return x * cos + torch.cat([-x2, x1], dim=-1) * sin


class Attention(nn.Module):
    def __init__(self, width, ctx_width, heads):
        super().__init__()
        self.q = nn.Linear(width, width, bias=False)
        self.k = nn.Linear(ctx_width, width, bias=False)
        self.v = nn.Linear(ctx_width, width, bias=False)
        self.out = nn.Linear(width, width)
        self.heads = heads

    def split(self, x):
        b, n, d = x.shape
        return x.view(b, n, self.heads, d // self.heads).transpose(1, 2)

    def forward(self, x, ctx=None, rope=None, key_pad=None):
        b, n, d = x.shape
        ctx = x if ctx is None else ctx
        q, k, v = self.split(self.q(x)), self.split(self.k(ctx)), self.split(self.v(ctx))
        if rope is not None:
            q, k = rope_apply(q, *rope), rope_apply(k, *rope)
        mask = None if key_pad is None else ~key_pad[:, None, None, :]  # torch: True = attend
        o = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
        return self.out(o.transpose(1, 2).reshape(b, n, d))


class Mlp(nn.Module):
    def __init__(self, width, hidden):
        super().__init__()
        self.fc1 = nn.Linear(width, hidden)
        self.fc2 = nn.Linear(hidden, width)

    def forward(self, x):
        return self.fc2(F.gelu(self.fc1(x)))


class TextLayer(nn.Module):
    def __init__(self, width, heads):
        super().__init__()
        self.attn = Attention(width, width, heads)
        self.mlp = Mlp(width, 4 * width)


class CaptionEncoder(nn.Module):
    def __init__(self, vocab, max_tokens, width, layers, heads):
        super().__init__()
        self.tokens = nn.Embedding(vocab, width)
        self.positions = nn.Embedding(max_tokens, width)
        self.layers = nn.ModuleList(TextLayer(width, heads) for _ in range(layers))

    def forward(self, ids, pad):
        b, n = ids.shape
        x = self.tokens(ids) + self.positions(torch.arange(n).expand(b, n))
        for l in self.layers:
            x = x + l.attn(norm3(x), key_pad=pad)
            x = x + l.mlp(norm3(x))
        return norm3(x)


def zero_linear(i, o):
    lin = nn.Linear(i, o)
    nn.init.zeros_(lin.weight)
    nn.init.zeros_(lin.bias)
    return lin


class AdaLnLora(nn.Module):
    def __init__(self, d, r):
        super().__init__()
        self.down = nn.Linear(d, r)
        self.up = zero_linear(r, 9 * d)


def modulate(x, shift, scale):
    return norm3(x) * (scale + 1.0) + shift


class DitBlock(nn.Module):
    def __init__(self, d, heads, r, mlp_ratio):
        super().__init__()
        self.ada = AdaLnLora(d, r)
        self.self_attn = Attention(d, d, heads)
        self.cross_attn = Attention(d, d, heads)
        self.mlp = Mlp(d, mlp_ratio * d)

    def forward(self, x, emb, text, text_pad, rope):
        b, _, d = x.shape
        m = self.ada.up(self.ada.down(F.silu(emb))).reshape(b, 9, d)
        p = [m[:, i:i + 1] for i in range(9)]
        x = x + p[2] * self.self_attn(modulate(x, p[0], p[1]), rope=rope)
        x = x + p[5] * self.cross_attn(modulate(x, p[3], p[4]), ctx=text, key_pad=text_pad)
        return x + p[8] * self.mlp(modulate(x, p[6], p[7]))


def sinusoidal(c, dim):
    half = dim // 2
    freqs = torch.tensor([math.exp(-math.log(10000.0) * i / half) for i in range(half)], dtype=torch.float32)
    a = c[:, None] * freqs[None, :]
    return torch.cat([a.cos(), a.sin()], 1)


def patchify(x, p):
    b, c, t, h, w = x.shape
    x = x.reshape(b, c, t, h // p, p, w // p, p)
    return x.permute(0, 2, 3, 5, 1, 4, 6).reshape(b, t * (h // p) * (w // p), c * p * p)


def unpatchify(x, p, c, t, h, w):
    b = x.shape[0]
    x = x.reshape(b, t, h // p, w // p, c, p, p)
    return x.permute(0, 4, 1, 2, 5, 3, 6).reshape(b, c, t, h, w)


class Dit(nn.Module):
    def __init__(self, m):
        super().__init__()
        d = m["width"]
        self.embed = nn.Linear(token_in(m), d)
        self.t_fc1 = nn.Linear(256, d)
        self.t_fc2 = nn.Linear(d, d)
        self.text = CaptionEncoder(m["vocab_size"], m["max_caption_tokens"], m["text_width"], m["text_layers"],
                                   m["text_heads"])
        self.text_proj = nn.Linear(m["text_width"], d)
        self.blocks = nn.ModuleList(DitBlock(d, m["heads"], m["adaln_rank"], m["mlp_ratio"]) for _ in range(m["depth"]))
        self.final_ada = zero_linear(d, 2 * d)
        self.final_out = zero_linear(d, token_out(m))
        self.patch, self.heads, self.theta, self.abs_pos = m["patch"], m["heads"], m["rope_theta"], m["abs_pos"]
        self._rope = {}
        self._abs = {}

    def rope(self, grid, head_dim):
        key = (tuple(grid), head_dim)
        if key not in self._rope:  # the Rust model rebuilds the tables per call; they are constants
            self._rope[key] = rope_tables(grid, head_dim, self.theta)
        return self._rope[key]

    def forward(self, x_in, c_noise, cond, ids, pad):
        b, c, t, h, w = x_in.shape
        p = self.patch
        x = self.embed(patchify(torch.cat([x_in, cond], 1), p))
        if self.abs_pos:
            grid = (t, h // p, w // p)
            if grid not in self._abs:  # a constant, as the RoPE tables
                self._abs[grid] = absolute_pos(grid, x.shape[2])
            x = x + self._abs[grid][None]
        rope = self.rope([t, h // p, w // p], x.shape[2] // self.heads)
        emb = self.t_fc2(F.silu(self.t_fc1(sinusoidal(c_noise, 256))))
        text = self.text_proj(self.text(ids, pad))
        for blk in self.blocks:
            x = blk(x, emb, text, pad, rope)
        d = x.shape[2]
        m = self.final_ada(F.silu(emb)).reshape(b, 2, d)
        x = modulate(x, m[:, 0:1], m[:, 1:2])
        return unpatchify(self.final_out(x), p, c, t, h, w)


# ---------------------------------------------------------------------------------------------------
# EDM (crates/model/src/diffusion)


def per_sample(v, x):
    return v.reshape(-1, *([1] * (x.dim() - 1)))


def denoise_batch(model, x, sigma, cond, sd):
    var = sigma.square() + sd * sd
    c_in = var.sqrt().reciprocal()
    c_skip = var.reciprocal() * (sd * sd)
    c_out = sigma * c_in * sd
    c_noise = sigma.log() / 4.0
    f = model(x * per_sample(c_in, x), c_noise, *cond)
    return x * per_sample(c_skip, x) + f * per_sample(c_out, x)


def denoise(model, x, sigma, cond, sd):
    var = sigma * sigma + sd * sd
    c_noise = torch.full((x.shape[0],), math.log(sigma) / 4.0)
    f = model(x * (1.0 / math.sqrt(var)), c_noise, *cond)
    return x * (sd * sd / var) + f * (sigma * sd / math.sqrt(var))


def denoising_loss(model, x0, sigma, noise, cond, sd):
    x = x0 + noise * per_sample(sigma, x0)
    den = denoise_batch(model, x, sigma, cond, sd)
    s2 = sigma.square()
    weight = (s2 + sd * sd) / (s2 * (sd * sd))
    return ((den - x0).square() * per_sample(weight, x0)).mean()


def guidance(cond, uncond, scale):
    return cond * scale + uncond * (1.0 - scale)


# ---------------------------------------------------------------------------------------------------
# Parity with the Rust model


def read_safetensors(path):
    dtypes = {"F32": torch.float32, "I64": torch.int64, "BOOL": torch.bool}
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    data = bytearray(raw[8 + n:])
    out = {}
    for name, e in header.items():
        a, b = e["data_offsets"]
        t = torch.frombuffer(data[a:b], dtype=dtypes[e["dtype"]]) if b > a else torch.empty(0, dtype=dtypes[e["dtype"]])
        out[name] = t.reshape(e["shape"]).clone()
    return out


def load_burn_weights(model, tensors):
    """Copies `param.<burn path>` tensors into the model (Linear weights transposed)."""
    used = set()
    with torch.no_grad():
        for name, mod in model.named_modules():
            for pname, p in mod.named_parameters(recurse=False):
                key = f"param.{name}.{pname}"
                src = tensors[key]
                if isinstance(mod, nn.Linear) and pname == "weight":
                    src = src.t()
                assert tuple(src.shape) == tuple(p.shape), f"{key}: {tuple(src.shape)} vs {tuple(p.shape)}"
                p.copy_(src)
                used.add(key)
    extra = sorted(k for k in tensors if k.startswith("param.") and k not in used)
    assert not extra, f"Rust parameters without a PyTorch peer: {extra}"
    return used


def run_parity(m, t, path):
    tensors = read_safetensors(path)
    model = Dit(m)
    used = load_burn_weights(model, tensors)
    sd = t["sigma_data"]
    res = {"parity": path, "params_loaded": len(used)}
    ok = True

    def cmp(name, got, want, tol):
        nonlocal ok
        err = (got - want).abs().max().item()
        scale = want.abs().max().item()
        res[name] = {"max_abs_err": err, "max_abs": scale}
        if not err <= tol * max(scale, 1.0):
            ok = False
            res[name]["FAIL"] = True
        return err

    x0, noise, sigma = tensors["train.x0"], tensors["train.noise"], tensors["train.sigma"]
    cond = (tensors["train.mask"], tensors["train.ids"], tensors["train.pad"])
    var = sigma.square() + sd * sd
    with torch.no_grad():
        xin = (x0 + noise * per_sample(sigma, x0)) * per_sample(var.sqrt().reciprocal(), x0)
        f = model(xin, sigma.log() / 4.0, *cond)
    cmp("train_out_f", f, tensors["train.out_f"], 1e-4)
    loss = denoising_loss(model, x0, sigma, noise, cond, sd)
    # 1e-4: burn flex's f32 mean over the ~287k weighted squared errors is ~3e-5 off PyTorch's,
    # whose f32 loss agrees with a float64 evaluation to ~1e-7 (the network outputs agree to ~1e-6)
    cmp("train_loss", loss.detach().reshape(1), tensors["train.loss"].reshape(1), 1e-4)
    loss.backward()
    worst, worst_name = 0.0, ""
    for name, mod in model.named_modules():
        for pname, p in mod.named_parameters(recurse=False):
            g = p.grad
            if isinstance(mod, nn.Linear) and pname == "weight":
                g = g.t()
            want = tensors[f"grad.{name}.{pname}"]
            rel = (g - want).abs().max().item() / max(want.abs().max().item(), 1e-12)
            if rel > worst:
                worst, worst_name = rel, f"{name}.{pname}"
    res["grads_worst_rel_err"] = {"param": worst_name, "max_abs_err_over_max_abs": worst}
    if worst > 1e-3:
        ok = False
        res["grads_worst_rel_err"]["FAIL"] = True
    with torch.inference_mode():
        x = tensors["sample.x"]
        scond = (tensors["sample.mask"], tensors["sample.ids"], tensors["sample.pad"])
        d = denoise(model, torch.cat([x, x], 0), SAMPLE_SIGMA, scond, sd)
        y = guidance(d[0:1], d[1:2], GUIDANCE)
    cmp("sample_guided", y, tensors["sample.guided"], 1e-4)
    res["ok"] = ok
    print(json.dumps(res))
    return ok


# ---------------------------------------------------------------------------------------------------
# Timing


def median(v):
    return sorted(v)[len(v) // 2]


def caption_batch(b, uncond_rows, gen, vocab):
    ids = torch.randint(2, vocab, (b, CAPTION), generator=gen)
    pad = torch.zeros(b, CAPTION, dtype=torch.bool)
    for r in uncond_rows:
        ids[r] = PAD
        ids[r, 0] = UNK
        pad[r, 1:] = True
    return ids, pad


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("config", nargs="?", default="configs/dit/tiny.json")
    ap.add_argument("--iters", type=int, default=5, help="timed steps (plus one warm-up)")
    ap.add_argument("--threads", type=int, default=2, help="torch.set_num_threads")
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--latent", default="5x16x28", help="latent frames x height x width")
    ap.add_argument("--expect-params", type=int, help="fail unless the model has this many parameters")
    ap.add_argument("--parity", help="compare against a `dit_bench --export` file and stop")
    ap.add_argument("--info", action="store_true", help="print torch's build and parallel info first")
    a = ap.parse_args()

    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    m, t = load_config(a.config)
    if a.info:
        print(f"# torch {torch.__version__}, python {platform.python_version()}, "
              f"cpu capability {torch.backends.cpu.get_cpu_capability()}, mkldnn {torch.backends.mkldnn.is_available()}, "
              f"OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', '(unset)')}")
        print("# " + torch.__config__.parallel_info().rstrip().replace("\n", "\n# "))

    model = Dit(m)
    params = sum(p.numel() for p in model.parameters())
    derived = expected_params(m)
    if params != derived:
        sys.exit(f"parameter count {params} differs from the count derived from the config, {derived}")
    if a.expect_params is not None and params != a.expect_params:
        sys.exit(f"parameter count {params} differs from the Rust model's {a.expect_params}")
    if a.parity:
        sys.exit(0 if run_parity(m, t, a.parity) else 1)

    lat = [int(v) for v in a.latent.split("x")]
    c, b, sd = m["latent_channels"], a.batch, t["sigma_data"]
    tokens = lat[0] * (lat[1] // m["patch"]) * (lat[2] // m["patch"])
    fwd_flops = 2.0 * macs(m, tokens, CAPTION)
    gen = torch.Generator().manual_seed(1)
    threads = torch.get_num_threads()

    # Training step, as dit_bench.rs.
    model.train()
    optim = torch.optim.AdamW(model.parameters(), lr=1e-4, betas=(0.9, 0.999), eps=1e-5,
                              weight_decay=t["weight_decay"])
    times = []
    for i in range(a.iters + 1):
        x0 = torch.randn((b, c, *lat), generator=gen) * sd
        noise = torch.randn((b, c, *lat), generator=gen)
        sigma = (t["p_mean"] + t["p_std"] * torch.randn(b, generator=gen)).exp()
        cond = (torch.zeros(b, 1, *lat),) + caption_batch(b, [], gen, m["vocab_size"])
        t0 = time.perf_counter()
        optim.zero_grad(set_to_none=True)
        loss = denoising_loss(model, x0, sigma, noise, cond, sd)
        loss.backward()
        optim.step()
        loss.item()
        if i > 0:
            times.append(time.perf_counter() - t0)
    s = median(times)
    print(json.dumps({"impl": "pytorch", "what": "train", "threads": threads, "params": params, "batch": b,
                      "latent": [c, *lat], "tokens": b * tokens, "caption_tokens": CAPTION,
                      "ms": [round(v * 1e3, 2) for v in times], "median_ms": s * 1e3, "tokens_per_s": b * tokens / s,
                      "gflop": 3 * b * fwd_flops / 1e9, "gflop_per_s": 3 * b * fwd_flops / 1e9 / s}))

    # Guided sampling step: conditional + unconditional rows of one sample.
    model = Dit(m).eval()
    times = []
    with torch.inference_mode():
        for i in range(a.iters + 1):
            x = torch.randn((1, c, *lat), generator=gen) * SAMPLE_SIGMA
            cond = (torch.zeros(2, 1, *lat),) + caption_batch(2, [1], gen, m["vocab_size"])
            t0 = time.perf_counter()
            d = denoise(model, torch.cat([x, x], 0), SAMPLE_SIGMA, cond, sd)
            y = guidance(d[0:1], d[1:2], GUIDANCE)
            y.sum().item()
            if i > 0:
                times.append(time.perf_counter() - t0)
    s = median(times)
    print(json.dumps({"impl": "pytorch", "what": "sample", "threads": threads, "params": params, "batch": 2,
                      "tokens": 2 * tokens, "ms": [round(v * 1e3, 2) for v in times], "median_ms": s * 1e3,
                      "gflop": 2 * fwd_flops / 1e9, "gflop_per_s": 2 * fwd_flops / 1e9 / s}))

    # Matrix-multiply peak.
    n = 1024
    ma, mb = torch.rand(n, n, generator=gen) * 2 - 1, torch.rand(n, n, generator=gen) * 2 - 1
    times = []
    for i in range(11):
        t0 = time.perf_counter()
        y = torch.mm(ma, mb)
        y[0, 0].item()
        if i > 0:
            times.append(time.perf_counter() - t0)
    s = median(times)
    gflop = 2.0 * n ** 3 / 1e9
    print(json.dumps({"impl": "pytorch", "what": "matmul", "threads": threads, "n": n,
                      "ms": [round(v * 1e3, 2) for v in times], "median_ms": s * 1e3, "gflop": gflop,
                      "gflop_per_s": gflop / s}))


if __name__ == "__main__":
    main()
