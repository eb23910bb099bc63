#!/usr/bin/env bash
# `worldrig demo` on the bundled tiny checkpoints (6 views x 17 frames at 224x128, Heun 20 steps
# with guidance): wall time of the generation step (loading the model and tokenizer, sampling,
# decoding, writing) and of the whole demo, and the peak resident memory of the process (VmHWM,
# recorded in demo.json).
# Usage: tools/bench/demo.sh [RUNS]   (default 3; seeds 1..RUNS)
set -euo pipefail
cd "$(dirname "$0")/../.."
RUNS="${1:-3}"
cargo build --release --locked --quiet
W=target/release/worldrig
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'); load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "| seed | generation (s) | sampling (s) | decoding (s) | whole demo (s) | peak memory (MiB) |"
echo "|---|---|---|---|---|---|"
for SEED in $(seq 1 "$RUNS"); do
  START=$(date +%s.%N)
  WORLDRIG_LOG=warn $W demo --seed "$SEED" --out "$TMP/demo$SEED" > /dev/null
  END=$(date +%s.%N)
  python3 - "$TMP/demo$SEED/demo.json" "$SEED" "$START" "$END" <<'PY'
import json, sys
d = json.load(open(sys.argv[1])); t = d["timings"]
print("| %s | %.1f | %.1f | %.1f | %.1f | %.0f |" % (sys.argv[2], t["generate_s"], t["sample_s"], t["decode_s"],
      float(sys.argv[4]) - float(sys.argv[3]), d["peak_rss_bytes"] / 2**20))
PY
done
