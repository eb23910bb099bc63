#!/usr/bin/env bash
# Text2World DiT benchmark: worldrig's DiT (burn flex, crates/model/examples/dit_bench.rs) against
# the same network in PyTorch on CPU (tools/bench/dit_torch.py: same layers, shapes and parameter
# count, checked), same config and shapes, in one run:
#   0. parity: dit_bench --export writes the Rust model's weights (adaLN-Zero projections filled
#      with small random values), a training batch with its raw network output, EDM loss and all
#      gradients, and a guided sampling batch with its output; dit_torch.py --parity loads them and
#      fails the run unless it computes the same (1e-4 of the output scale; gradients 1e-3 of each
#      parameter's largest gradient);
#   1. training step: forward through the EDM denoiser + lambda(sigma)-weighted MSE + backward +
#      AdamW at batch 4 x latents [16, 5, 16, 28] (560 tokens per sample), 24-token captions;
#   2. sampling step: one denoiser evaluation at batch 2 (conditional + unconditional rows of one
#      sample for classifier-free guidance) plus the guidance mix, no autodiff;
#   3. a 1024^3 f32 matrix product (each library's matmul peak on this machine).
# For each thread count (RAYON_NUM_THREADS for burn, built with its `rayon` feature;
# torch.set_num_threads for PyTorch), ROUNDS
# rounds each run both programs once (order alternating per round, so both see the same background
# load), ITERS timed steps after one warm-up per program run; the tables give the median of all
# timed steps of all rounds. Model GFLOP/s count the network's linear layers and attention products
# analytically (forward = 2 x MACs, training = 3 x forward). The load average is printed per round.
# Usage: tools/bench/dit.sh [CONFIG] [ITERS] [ROUNDS] ["THREADS..."]
#   (defaults configs/dit/tiny.json 5 3 "1 2"; needs pip install -r tools/bench/requirements-tokenizer.txt)
set -euo pipefail
cd "$(dirname "$0")/../.."
CONFIG="${1:-configs/dit/tiny.json}"
ITERS="${2:-5}"
ROUNDS="${3:-3}"
THREADS="${4:-1 2}"
python3 -c "import torch" 2>/dev/null || python3 -m pip install --quiet -r tools/bench/requirements-tokenizer.txt
cargo build --release --locked --quiet -p worldrig-model --example dit_bench
BIN=target/release/examples/dit_bench
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
torchpy() { env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python3 -W ignore tools/bench/dit_torch.py "$@"; }
loadavg() { cut -d' ' -f1-3 /proc/loadavg; }
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
echo "date: $(date -u '+%Y-%m-%d %H:%M UTC'), commit $(git rev-parse --short HEAD)$([ -z "$(git status --porcelain -- crates configs)" ] || echo ', uncommitted changes in crates/ or configs/')"
echo "load average (before): $(loadavg)"

"$BIN" --export "$TMP/parity.safetensors" "$CONFIG" | tee "$TMP/export.json"
PARAMS=$(sed -n 's/.*"params":\([0-9]*\).*/\1/p' "$TMP/export.json")
torchpy "$CONFIG" --info --parity "$TMP/parity.safetensors" --expect-params "$PARAMS" | tee "$TMP/parity.json"

: > "$TMP/results.jsonl"
for T in $THREADS; do
  for R in $(seq "$ROUNDS"); do
    echo "threads $T, round $R, load average: $(loadavg)"
    burn() { RAYON_NUM_THREADS="$T" "$BIN" "$CONFIG" "$ITERS" | tee -a "$TMP/results.jsonl"; }
    torch() { OMP_NUM_THREADS="$T" torchpy "$CONFIG" --iters "$ITERS" --threads "$T" --expect-params "$PARAMS" | tee -a "$TMP/results.jsonl"; }
    if [ $((R % 2)) = 1 ]; then burn; torch; else torch; burn; fi
  done
done
echo "load average (after): $(loadavg)"

TV=$(python3 -W ignore -c "import torch; print(torch.__version__)")
python3 - "$TMP/results.jsonl" "$TV" <<'EOF'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
tv = sys.argv[2]
def pooled(impl, what, t):
    ms = sorted(v for r in rows if r["impl"] == impl and r["what"] == what and r["threads"] == t for v in r["ms"])
    one = next(r for r in rows if r["impl"] == impl and r["what"] == what and r["threads"] == t)
    return ms[len(ms) // 2], len(ms), one
for t in sorted({r["threads"] for r in rows}):
    res = {}
    for impl in ("burn-flex", "pytorch"):
        for what in ("train", "sample", "matmul"):
            res[impl, what] = pooled(impl, what, t)
    tr = res["burn-flex", "train"][2]
    peak = max(1e3 * res[i, "matmul"][2]["gflop"] / res[i, "matmul"][0] for i in ("burn-flex", "pytorch"))
    def val(impl, key):
        ms, n, r = res[impl, key[0]]
        if key[1] == "ms": return ms
        if key[1] == "tok": return r["tokens"] * 1e3 / ms
        if key[1] == "gf": return r["gflop"] * 1e3 / ms
        if key[1] == "pct": return 100 * r["gflop"] * 1e3 / ms / peak
    metrics = [
        (f"training step, batch {tr['batch']} x {tr['latent']} latents (ms/step)", ("train", "ms"), "{:.1f}", False),
        (f"training tokens/s ({tr['tokens']} tokens/step)", ("train", "tok"), "{:,.0f}", True),
        ("sampling step, batch 2 (cond + uncond), ms/step", ("sample", "ms"), "{:.1f}", False),
        (f"training model GFLOP/s ({tr['gflop']:.1f} GFLOP/step)", ("train", "gf"), "{:.1f}", True),
        (f"sampling model GFLOP/s ({res['burn-flex', 'sample'][2]['gflop']:.2f} GFLOP/step)", ("sample", "gf"), "{:.1f}", True),
        ("matmul 1024^3 f32 GFLOP/s", ("matmul", "gf"), "{:.1f}", True),
        (f"training, % of the machine's matmul peak ({peak:.0f} GFLOP/s)", ("train", "pct"), "{:.0f}%", True),
        ("sampling, % of the machine's matmul peak", ("sample", "pct"), "{:.0f}%", True),
    ]
    n_train, n_sample = res["burn-flex", "train"][1], res["burn-flex", "sample"][1]
    print()
    print(f"| {t} thread{'s' if t > 1 else ''} each, {tr['params']:,} params (medians of {n_train} steps) | worldrig (burn flex) | PyTorch {tv} (CPU) | ratio (> 1: worldrig faster) |")
    print("|---|---:|---:|---:|")
    for name, key, fmt, higher in metrics:
        b, p = val("burn-flex", key), val("pytorch", key)
        print(f"| {name} | {fmt.format(b)} | {fmt.format(p)} | {(b / p if higher else p / b):.2f}x |")
EOF
