#!/usr/bin/env bash
# Tokenizer benchmark: worldrig's causal video tokenizer (burn flex, crates/model/examples/
# tokenizer_bench.rs) against the same network in PyTorch on CPU (tools/bench/tokenizer_torch.py:
# same layers, shapes and parameter count, checked), same config and shapes, in one run, THREADS
# threads each (default 2, both cores):
#   - training step: forward + backward + AdamW at the config's train batch x frames x crop
#     (L1 + ssim_weight * (1 - SSIM)); median of ITERS steps after one warm-up step
#   - encode and decode frames/s of one HxW clip of FRAMES frames in causal chunks of chunk_frames;
#     median of min(ITERS, 3) passes after one warm-up pass
# Ratios: frames/s ours / PyTorch, step time PyTorch / ours: > 1 means worldrig is faster.
# The machine's load average is printed before, between and after the two programs. On a machine
# with other work running, THREADS=1 gives the steadier comparison (PyTorch's OpenMP threads stall
# badly when one of the 2 cores is busy elsewhere).
# Usage: tools/bench/tokenizer.sh [CONFIG] [HxW] [FRAMES] [ITERS] [THREADS]
#   (defaults configs/tokenizer/tiny.json 256x448 17 5 2; needs
#    pip install -r tools/bench/requirements-tokenizer.txt)
set -euo pipefail
cd "$(dirname "$0")/../.."
CONFIG="${1:-configs/tokenizer/tiny.json}"
HW="${2:-256x448}"
FRAMES="${3:-17}"
ITERS="${4:-5}"
THREADS="${5:-2}"
python3 -c "import torch" 2>/dev/null || python3 -m pip install --quiet -r tools/bench/requirements-tokenizer.txt
cargo build --release --locked --quiet -p worldrig-model --example tokenizer_bench
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
load() { echo "load average ($1): $(cut -d' ' -f1-3 /proc/loadavg)"; }
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
echo "date: $(date -u '+%Y-%m-%d %H:%M UTC'), commit $(git rev-parse --short HEAD)$([ -z "$(git status --porcelain -- crates configs)" ] || echo ', uncommitted changes in crates/ or configs/')"
load "before"
RAYON_NUM_THREADS="$THREADS" target/release/examples/tokenizer_bench "$CONFIG" "$HW" "$FRAMES" "$ITERS" | tee "$TMP/ours.txt"
load "after worldrig"
PARAMS=$(sed -n 's/^train step: \([0-9]*\) params.*/\1/p' "$TMP/ours.txt")
env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python3 tools/bench/tokenizer_torch.py "$CONFIG" \
  --hw "$HW" --frames "$FRAMES" --iters "$ITERS" --threads "$THREADS" --expect-params "$PARAMS" --check | tee "$TMP/torch.txt"
load "after PyTorch"

# step seconds, encode frames/s, decode frames/s of one program's output
numbers() {
  sed -n -e 's/^train step: .* median \([0-9.]*\) s\/step.*/\1/p' \
    -e 's/^inference .*: encode \([0-9.]*\) frames\/s, decode \([0-9.]*\) frames\/s.*/\1 \2/p' "$1" | tr '\n' ' '
}
read -r OS OE OD <<< "$(numbers "$TMP/ours.txt")"
read -r PS PE PD <<< "$(numbers "$TMP/torch.txt")"
TV=$(python3 -c "import torch; print(torch.__version__)")
TRAIN=$(sed -n 's/^train step: [0-9]* params, \(batch [^:]*\):.*/\1/p' "$TMP/ours.txt")
echo
echo "| metric ($PARAMS params, $THREADS threads each) | worldrig (burn flex) | PyTorch $TV (CPU) | ratio (> 1: worldrig faster) |"
echo "|---|---:|---:|---:|"
awk -v t="$TRAIN" -v o="$OS" -v p="$PS" 'BEGIN { printf "| training step, %s (s/step) | %.3f | %.3f | %.2fx |\n", t, o, p, p / o }'
awk -v d="$HW x $FRAMES frames" -v o="$OE" -v p="$PE" 'BEGIN { printf "| encode %s (frames/s) | %.1f | %.1f | %.2fx |\n", d, o, p, o / p }'
awk -v d="$HW x $FRAMES frames" -v o="$OD" -v p="$PD" 'BEGIN { printf "| decode %s (frames/s) | %.1f | %.1f | %.2fx |\n", d, o, p, o / p }'
