#!/usr/bin/env bash
# Simulator throughput: camera-frames per second for the 6-camera rig (Cosmos' subset of NVIDIA's
# median calibration) at 448x256 and 896x512, rendering + PNG encoding + Parquet writing, all cores.
# Usage: tools/bench/sim.sh [FRAMES]   (default 20 frames x 6 cameras per resolution)
set -euo pipefail
cd "$(dirname "$0")/../.."
FRAMES="${1:-20}"
cargo build --release --locked --quiet
W=target/release/worldrig
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
echo "| resolution | camera-frames | seconds | camera-frames/s |"
echo "|---|---|---|---|"
for RES in 448x256 896x512; do
  for SEED in 1 2; do
    START=$(date +%s.%N)
    WORLDRIG_LOG=warn $W sim --clips 1 --frames "$FRAMES" --resolution "$RES" --seed "$SEED" --layout intersection --out "$TMP/$RES-$SEED" > /dev/null 2>&1
    END=$(date +%s.%N)
    N=$((FRAMES * 6))
    awk -v r="$RES" -v n="$N" -v s="$START" -v e="$END" 'BEGIN { printf "| %s (seed %s) | %d | %.2f | %.1f |\n", r, "'"$SEED"'", n, e - s, n / (e - s) }'
  done
done
