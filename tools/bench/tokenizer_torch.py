#!/usr/bin/env python3
"""PyTorch peer of the worldrig causal video tokenizer, for tools/bench/tokenizer.sh.

The same network as crates/model/src/tokenizer/model.rs, layer for layer, built from the same config
file (configs/tokenizer/*.json): causal time-to-depth (frame 0 paired with itself at the start of a
clip), space-to-depth with the same channel order, factorised residual blocks (RMS channel norm,
SiLU, 1x3x3 conv, k x1x1 temporal conv padded on the past side with the first frame repeated, RMS
norm, SiLU, 1x3x3 conv), pointwise down/up projections, the optional linear shortcut per latent
cell (`linear_shortcut`: pixels of a cell -> latent and back, body output convs zero-initialised),
and the same chunked causal coding with the temporal convolutions' last k-1 input frames carried
between chunks. Same loss (L1 + w * (1 - SSIM) of the luma, separable 7x7 box window, no padding)
and AdamW (beta 0.9 / 0.999, eps 1e-5, weight decay 1e-4, lr 1e-4: burn 0.22's defaults, which the
Rust program uses). Layout [batch, channels, time, height, width], float32. Checked against the Rust
model by loading a Rust run's weights (the module names match burn's parameter names): same latents
to ~1e-5 and the same decoded frames to 1/255.

It times what crates/model/examples/tokenizer_bench.rs times, with the same conventions:
  - training step (forward + backward + AdamW + reading the loss) at the config's train.batch x
    train.frames x train.crop, a fresh uniform [-1, 1] clip per step (made outside the timed part),
    ITERS + 1 steps, the first dropped, the median (upper median for an even count) reported;
  - encode / decode of one clip of FRAMES frames at HxW in causal chunks (chunk_frames frames, then
    chunk_frames / temporal compression latent frames), min(ITERS, 3) + 1 passes, the first dropped,
    the median reported; under torch.inference_mode() (the Rust side runs without autodiff).

Usage:
  python3 tools/bench/tokenizer_torch.py configs/tokenizer/tiny.json --hw 256x448 --frames 17 \
      --iters 5 --threads 2 [--expect-params N] [--check]

--check runs the cheap correctness checks first (parameter count against the count derived from the
config, latent and decoded shapes for 1, 5, 9 and 17 frames, chunked = whole-clip coding, latents
independent of later frames); --check-only stops after them.

Install (PyPI only): `pip install -r tools/bench/requirements-tokenizer.txt`. PyPI's Linux x86_64
torch wheel is the CUDA build; its CPU kernels (MKL, oneDNN) are the same as the CPU-only build's,
but even libtorch_cpu.so links libcudart and libcupti, so `pip install --no-deps torch` does not
import (it fails looking for libcublasLt). The full install pulls ~2.5 GB of NVIDIA runtime wheels
that are loaded but never used here. Run it with OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset
(`env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python3 ...`), as tokenizer.sh does; torch's own
BLAS is MKL, which they do not affect, and the script prints torch's parallel backend info.
"""

import argparse
import json
import os
import platform
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


# ---------------------------------------------------------------------------------------------------
# Config


def load_config(path):
    """The `model` and `train` objects of a tokenizer config file, with model.rs's defaults."""
    with open(path) as f:
        cfg = json.load(f)
    m = dict(cfg["model"])
    m.setdefault("in_channels", 3)
    m.setdefault("patch_time", 1)
    m.setdefault("temporal_kernel", 3)
    m.setdefault("chunk_frames", 16)
    m.setdefault("linear_shortcut", False)
    return m, cfg["train"]


def temporal_compression(m):
    return m["patch_time"] << sum(1 for d in m["temporal_down"] if d)


def spatial_compression(m):
    return m["patch"] << (len(m["channels"]) - 1)


def expected_params(m):
    """Parameter count of the tokenizer described by `m`, from the layer list alone."""

    def conv(cin, cout, kernel_volume):
        return cin * cout * kernel_volume + cout  # every burn Conv3d here has a bias

    def resblock(c):
        # two channel norms, two 1x3x3 convs, one k x1x1 conv
        return 2 * c + 2 * conv(c, c, 9) + conv(c, c, m["temporal_kernel"])

    ch, s = m["channels"], len(m["channels"])
    pin = m["in_channels"] * m["patch"] * m["patch"] * m["patch_time"]
    n = conv(pin, ch[0], 9) + conv(ch[-1], m["latent_channels"], 9) + ch[-1]  # encoder in, out, norm
    n += conv(m["latent_channels"], ch[-1], 9) + conv(ch[0], pin, 9) + ch[0]  # decoder in, out, norm
    for i in range(s):
        n += (m["encoder_blocks"][i] + m["decoder_blocks"][i]) * resblock(ch[i])
    for i in range(s - 1):
        f = 8 if m["temporal_down"][i] else 4
        n += conv(ch[i] * f, ch[i + 1], 1) + conv(ch[i + 1], ch[i] * f, 1)
    if m["linear_shortcut"]:
        cell = cell_channels(m)
        n += conv(cell, m["latent_channels"], 1) + conv(m["latent_channels"], cell, 1)
    return n


def cell_channels(m):
    """Channels of one latent cell's pixels stacked (`cells`): in_channels x s x s x c."""
    return m["in_channels"] * spatial_compression(m) ** 2 * temporal_compression(m)


# ---------------------------------------------------------------------------------------------------
# The network (model.rs)


class CausalState:
    """Carried state of the causal convolutions between chunks of one clip (model.rs CausalState)."""

    def __init__(self):
        self.started = False
        self.caches = []
        self.next = []
        self.read = 0

    def begin(self):
        self.read = 0
        self.next = []

    def finish(self):
        self.caches, self.next = self.next, []
        self.started = True

    def take(self):
        if not self.started:
            return None
        c = self.caches[self.read] if self.read < len(self.caches) else None
        self.read += 1
        return c

    def push(self, t):
        self.next.append(t)


class ChannelNorm(nn.Module):
    """Per-voxel RMS normalisation over channels with a learned gain."""

    def __init__(self, channels):
        super().__init__()
        self.gamma = nn.Parameter(torch.ones(channels))

    def forward(self, x):
        rms = (x.square().mean(dim=1, keepdim=True) + 1e-6).sqrt()
        return x / rms * self.gamma.view(1, -1, 1, 1, 1)


def spatial_conv(cin, cout):
    return nn.Conv3d(cin, cout, (1, 3, 3), padding=(0, 1, 1))


def out_conv(cin, cout, zero):
    """The body's last convolution; zero-initialised when a linear shortcut carries the signal."""
    c = spatial_conv(cin, cout)
    if zero:
        nn.init.zeros_(c.weight)
        nn.init.zeros_(c.bias)
    return c


def pointwise(cin, cout):
    return nn.Conv3d(cin, cout, 1)


class CausalTimeConv(nn.Module):
    """A k x1x1 temporal convolution padded only on the past side."""

    def __init__(self, channels, kernel):
        super().__init__()
        self.conv = nn.Conv3d(channels, channels, (kernel, 1, 1))
        self.kernel = kernel

    def forward(self, x, state):
        k = self.kernel
        if k == 1:
            return self.conv(x)
        b, c, t, h, w = x.shape
        past = state.take()
        if past is None:
            past = x[:, :, :1].expand(b, c, k - 1, h, w)
        padded = torch.cat([past, x], dim=2)
        state.push(padded[:, :, t:t + k - 1])
        return self.conv(padded)


class ResBlock(nn.Module):
    """norm, SiLU, 1x3x3 conv, causal temporal conv, norm, SiLU, 1x3x3 conv, plus the input."""

    def __init__(self, channels, kernel):
        super().__init__()
        self.norm1 = ChannelNorm(channels)
        self.conv1 = spatial_conv(channels, channels)
        self.time = CausalTimeConv(channels, kernel)
        self.norm2 = ChannelNorm(channels)
        self.conv2 = spatial_conv(channels, channels)
        with torch.no_grad():
            self.conv2.weight.mul_(0.1)

    def forward(self, x, state):
        h = self.conv1(F.silu(self.norm1(x)))
        h = self.time(h, state)
        h = self.conv2(F.silu(self.norm2(h)))
        return x + h


def space_to_depth(x, f):
    """[b, c, t, h, w] -> [b, c*f*f, t, h/f, w/f], channels ordered (c, row offset, column offset)."""
    b, c, t, h, w = x.shape
    x = x.reshape(b * c, t, h // f, f, w // f, f)
    return x.permute(0, 3, 5, 1, 2, 4).reshape(b, c * f * f, t, h // f, w // f)


def depth_to_space(x, f):
    """Inverse of space_to_depth."""
    b, cff, t, h, w = x.shape
    c = cff // (f * f)
    x = x.reshape(b * c, f, f, t, h, w)
    return x.permute(0, 3, 4, 1, 5, 2).reshape(b, c, t, h * f, w * f)


def time_to_depth(x, clip_start):
    """Frames (2j-1, 2j) stacked on channels, (pair member, c); frame 0 paired with itself at a clip start."""
    if clip_start:
        x = torch.cat([x[:, :, :1], x], dim=2)
    b, c, t, h, w = x.shape
    assert t % 2 == 0
    x = x.reshape(b, c, t // 2, 2, h, w)
    return x.permute(0, 3, 1, 2, 4, 5).reshape(b, 2 * c, t // 2, h, w)


def depth_to_time(x, clip_start):
    """Inverse of time_to_depth; at a clip start the repeated frame 0 is dropped."""
    b, c2, t, h, w = x.shape
    c = c2 // 2
    x = x.reshape(b, 2, c, t, h, w).permute(0, 2, 3, 1, 4, 5).reshape(b, c, 2 * t, h, w)
    return x[:, :, 1:] if clip_start else x


def cells(x, spatial, temporal_levels, clip_start):
    """All pixels of each latent cell stacked on channels, with the network's causal frame grouping."""
    for _ in range(temporal_levels):
        x = time_to_depth(x, clip_start)
    return space_to_depth(x, spatial)


def uncells(x, spatial, temporal_levels, clip_start):
    """Inverse of cells."""
    x = depth_to_space(x, spatial)
    for _ in range(temporal_levels):
        x = depth_to_time(x, clip_start)
    return x


class Down(nn.Module):
    def __init__(self, cin, cout, temporal):
        super().__init__()
        self.proj = pointwise(cin * (8 if temporal else 4), cout)
        self.temporal = temporal

    def forward(self, x, clip_start):
        x = space_to_depth(x, 2)
        if self.temporal:
            x = time_to_depth(x, clip_start)
        return self.proj(x)


class Up(nn.Module):
    def __init__(self, cin, cout, temporal):
        super().__init__()
        self.proj = pointwise(cin, cout * (8 if temporal else 4))
        self.temporal = temporal

    def forward(self, x, clip_start):
        x = self.proj(x)
        if self.temporal:
            x = depth_to_time(x, clip_start)
        return depth_to_space(x, 2)


class Encoder(nn.Module):
    def __init__(self, m):
        super().__init__()
        ch, s, k = m["channels"], len(m["channels"]), m["temporal_kernel"]
        pin = m["in_channels"] * m["patch"] * m["patch"] * m["patch_time"]
        self.patch, self.patch_time = m["patch"], m["patch_time"]
        self.conv_in = spatial_conv(pin, ch[0])
        self.stages = nn.ModuleList(
            nn.ModuleList(ResBlock(ch[i], k) for _ in range(m["encoder_blocks"][i])) for i in range(s)
        )
        self.downs = nn.ModuleList(Down(ch[i], ch[i + 1], m["temporal_down"][i]) for i in range(s - 1))
        self.norm_out = ChannelNorm(ch[-1])
        self.conv_out = out_conv(ch[-1], m["latent_channels"], m["linear_shortcut"])
        # Linear path from the pixels of a latent cell straight to the latent.
        self.shortcut = pointwise(cell_channels(m), m["latent_channels"]) if m["linear_shortcut"] else None
        self.spatial = spatial_compression(m)
        self.temporal_levels = temporal_compression(m).bit_length() - 1

    def forward(self, x, state):
        clip_start = not state.started
        state.begin()
        linear = None
        if self.shortcut is not None:
            linear = self.shortcut(cells(x, self.spatial, self.temporal_levels, clip_start))
        if self.patch_time == 2:
            x = time_to_depth(x, clip_start)
        h = self.conv_in(space_to_depth(x, self.patch))
        for i, blocks in enumerate(self.stages):
            for blk in blocks:
                h = blk(h, state)
            if i < len(self.downs):
                h = self.downs[i](h, clip_start)
        state.finish()
        z = self.conv_out(F.silu(self.norm_out(h)))
        return z if linear is None else z + linear


class Decoder(nn.Module):
    def __init__(self, m):
        super().__init__()
        ch, s, k = m["channels"], len(m["channels"]), m["temporal_kernel"]
        pin = m["in_channels"] * m["patch"] * m["patch"] * m["patch_time"]
        self.patch, self.patch_time = m["patch"], m["patch_time"]
        self.conv_in = spatial_conv(m["latent_channels"], ch[-1])
        # Stages from the coarsest to the finest.
        self.stages = nn.ModuleList(
            nn.ModuleList(ResBlock(ch[i], k) for _ in range(m["decoder_blocks"][i])) for i in reversed(range(s))
        )
        self.ups = nn.ModuleList(Up(ch[i + 1], ch[i], m["temporal_down"][i]) for i in reversed(range(s - 1)))
        self.norm_out = ChannelNorm(ch[0])
        self.conv_out = out_conv(ch[0], pin, m["linear_shortcut"])
        # Linear path from a latent cell back to its pixels (mirror of the encoder's).
        self.shortcut = pointwise(m["latent_channels"], cell_channels(m)) if m["linear_shortcut"] else None
        self.spatial = spatial_compression(m)
        self.temporal_levels = temporal_compression(m).bit_length() - 1

    def forward(self, z, state):
        clip_start = not state.started
        state.begin()
        linear = None
        if self.shortcut is not None:
            linear = uncells(self.shortcut(z), self.spatial, self.temporal_levels, clip_start)
        h = self.conv_in(z)
        for i, blocks in enumerate(self.stages):
            for blk in blocks:
                h = blk(h, state)
            if i < len(self.ups):
                h = self.ups[i](h, clip_start)
        state.finish()
        x = depth_to_space(self.conv_out(F.silu(self.norm_out(h))), self.patch)
        if self.patch_time == 2:
            x = depth_to_time(x, clip_start)
        return x if linear is None else x + linear


class Tokenizer(nn.Module):
    def __init__(self, m):
        super().__init__()
        self.encoder = Encoder(m)
        self.decoder = Decoder(m)

    def encode(self, x):
        return self.encoder(x, CausalState())

    def decode(self, z):
        return self.decoder(z, CausalState())

    def forward(self, x):
        return self.decode(self.encode(x))

    def encode_chunked(self, x, chunk):
        t = x.shape[2]
        state = CausalState()
        first = min(t, 1 + chunk)
        out = [self.encoder(x[:, :, :first], state)]
        at = first
        while at < t:
            n = min(chunk, t - at)
            out.append(self.encoder(x[:, :, at:at + n], state))
            at += n
        return torch.cat(out, dim=2)

    def decode_chunked(self, z, chunk):
        t = z.shape[2]
        chunk = max(chunk, 1)
        state = CausalState()
        out = []
        at = 0
        while at < t:
            n = min(chunk, t - at)
            out.append(self.decoder(z[:, :, at:at + n], state))
            at += n
        return torch.cat(out, dim=2)


# ---------------------------------------------------------------------------------------------------
# Loss (loss.rs)


def ssim(x, y):
    """Mean SSIM over frames of the luma (channel mean) of two [b, c, t, h, w] tensors in [-1, 1]."""
    x = x.mean(dim=1)  # [b, t, h, w]
    y = y.mean(dim=1)
    c1, c2 = (0.01 * 2.0) ** 2, (0.03 * 2.0) ** 2

    def pool(v):  # a 7x7 box filter as two 1-D passes, no padding
        return F.avg_pool2d(F.avg_pool2d(v, (7, 1), stride=1), (1, 7), stride=1)

    mx, my = pool(x), pool(y)
    sxx = pool(x * x) - mx * mx
    syy = pool(y * y) - my * my
    sxy = pool(x * y) - mx * my
    num = (2.0 * mx * my + c1) * (2.0 * sxy + c2)
    den = (mx * mx + my * my + c1) * (sxx + syy + c2)
    return (num / den).mean()


def reconstruction_loss(recon, target, ssim_weight):
    l1 = (recon - target).abs().mean()
    if ssim_weight == 0.0:
        return l1
    return l1 + (1.0 - ssim(recon, target)) * ssim_weight


# ---------------------------------------------------------------------------------------------------
# Checks and timing


def uniform(shape, gen):
    return torch.rand(shape, generator=gen) * 2.0 - 1.0


def run_checks(m):
    """Cheap correctness checks of the port; raises AssertionError on the first failure."""
    model = Tokenizer(m).eval()
    with torch.no_grad():  # zero-initialised output convs would make the body's checks vacuous
        for conv in (model.encoder.conv_out, model.decoder.conv_out):
            nn.init.uniform_(conv.weight, -0.1, 0.1)
    n = sum(p.numel() for p in model.parameters())
    assert n == expected_params(m), f"parameters: model {n}, derived from the config {expected_params(m)}"
    c, s = temporal_compression(m), spatial_compression(m)
    h, w = 2 * s, 3 * s
    gen = torch.Generator().manual_seed(1)
    with torch.inference_mode():
        for frames in (1, 5, 9, 17):
            if (frames - 1) % c:
                continue
            latent = 1 + (frames - 1) // c
            z = model.encode(uniform((1, m["in_channels"], frames, h, w), gen))
            want = (1, m["latent_channels"], latent, h // s, w // s)
            assert tuple(z.shape) == want, f"{frames} frames: latent {tuple(z.shape)}, want {want}"
            y = model.decode(z)
            want = (1, m["in_channels"], frames, h, w)
            assert tuple(y.shape) == want, f"{frames} frames: decoded {tuple(y.shape)}, want {want}"
            print(f"check: {frames} frames -> latent {tuple(z.shape)} -> decoded {tuple(y.shape)}")
        # Chunked coding equals whole-clip coding (the carried temporal state is right).
        frames = 1 + 6 * c
        x = uniform((1, m["in_channels"], frames, h, w), gen)
        z = model.encode(x)
        for chunk in (c, 2 * c, 3 * c):
            err = (model.encode_chunked(x, chunk) - z).abs().max().item()
            assert err < 1e-4, f"encode chunk {chunk}: max difference {err}"
        y = model.decode(z)
        for chunk in (1, 2, 3):
            err = (model.decode_chunked(z, chunk) - y).abs().max().item()
            assert err < 1e-4, f"decode chunk {chunk}: max difference {err}"
        # Causality: latents 0..1 cover frames 0..c; changing later frames leaves them alone.
        x2 = torch.cat([x[:, :, :1 + c], uniform((1, m["in_channels"], frames - 1 - c, h, w), gen)], dim=2)
        z2 = model.encode(x2)
        assert torch.equal(z[:, :, :2], z2[:, :, :2]), "latents 0-1 depend on later frames"
        assert not torch.equal(z[:, :, 2:3], z2[:, :, 2:3]), "latent 2 must see frames c+1..2c"
        y2 = model.decode(z2)
        assert torch.equal(y[:, :, :1 + c], y2[:, :, :1 + c]), "decoded frames 0..c depend on later latents"
    print("check: chunked = whole clip, causal in time: ok")


def median(times):
    """The element at len/2 of the sorted times, as the Rust program reports."""
    return sorted(times)[len(times) // 2]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("config", nargs="?", default="configs/tokenizer/tiny.json")
    ap.add_argument("--hw", default="256x448", help="frame size HxW for encode/decode")
    ap.add_argument("--frames", type=int, default=17, help="frames of the encode/decode clip")
    ap.add_argument("--iters", type=int, default=5, help="timed training steps (plus one warm-up)")
    ap.add_argument("--threads", type=int, default=2, help="torch.set_num_threads")
    ap.add_argument("--expect-params", type=int, help="fail unless the model has this many parameters")
    ap.add_argument("--check", action="store_true", help="run the correctness checks before timing")
    ap.add_argument("--check-only", action="store_true", help="run the correctness checks and stop")
    a = ap.parse_args()

    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    m, t = load_config(a.config)
    hh, ww = (int(v) for v in a.hw.split("x"))

    print(f"torch {torch.__version__}, python {platform.python_version()}, "
          f"cpu capability {torch.backends.cpu.get_cpu_capability()}, mkldnn {torch.backends.mkldnn.is_available()}")
    print(f"OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', '(unset)')} "
          f"OPENBLAS_L2_SIZE={os.environ.get('OPENBLAS_L2_SIZE', '(unset)')}")
    print(torch.__config__.parallel_info().rstrip())

    model = Tokenizer(m)
    params = sum(p.numel() for p in model.parameters())
    derived = expected_params(m)
    print(f"params: {params} (derived from {a.config}: {derived})")
    if params != derived:
        sys.exit(f"parameter count {params} differs from the count derived from the config, {derived}")
    if a.expect_params is not None and params != a.expect_params:
        sys.exit(f"parameter count {params} differs from the expected {a.expect_params}")
    if a.check or a.check_only:
        run_checks(m)
        if a.check_only:
            return

    # Training step: forward + backward + AdamW, as tokenizer_bench.rs (lr 1e-4, burn's defaults).
    model.train()
    optim = torch.optim.AdamW(model.parameters(), lr=1e-4, betas=(0.9, 0.999), eps=1e-5, weight_decay=1e-4)
    shape = (t["batch"], m["in_channels"], t["frames"], t["crop"][0], t["crop"][1])
    gen = torch.Generator().manual_seed(0)
    times = []
    for i in range(a.iters + 1):
        x = uniform(shape, gen)
        t0 = time.perf_counter()
        optim.zero_grad(set_to_none=True)
        loss = reconstruction_loss(model(x), x, t["ssim_weight"])
        loss.backward()
        optim.step()
        loss.item()
        if i > 0:
            times.append(time.perf_counter() - t0)
    step = median(times)
    print(f"train step: {params} params, batch {t['batch']} x {t['frames']} frames x {t['crop'][0]}x{t['crop'][1]}: "
          f"median {step:.3f} s/step ({t['batch'] * t['frames'] / step:.1f} frames/s)")

    # Encode / decode in causal chunks, as Tokenizer::encode_chunked / decode_chunked.
    model = Tokenizer(m).eval()
    x = uniform((1, m["in_channels"], a.frames, hh, ww), gen)
    te, td = [], []
    with torch.inference_mode():
        for i in range(min(a.iters, 3) + 1):
            t0 = time.perf_counter()
            z = model.encode_chunked(x, m["chunk_frames"])
            t1 = time.perf_counter()
            y = model.decode_chunked(z, m["chunk_frames"] // temporal_compression(m))
            t2 = time.perf_counter()
            assert y.shape == x.shape
            if i > 0:
                te.append(t1 - t0)
                td.append(t2 - t1)
    print(f"inference {hh}x{ww} x {a.frames} frames: encode {a.frames / median(te):.1f} frames/s, "
          f"decode {a.frames / median(td):.1f} frames/s")
    print(f"all timed runs (s): step {[round(v, 4) for v in times]}, encode {[round(v, 4) for v in te]}, "
          f"decode {[round(v, 4) for v in td]}")


if __name__ == "__main__":
    main()
