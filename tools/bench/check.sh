#!/usr/bin/env bash
# Checker benchmark: worldrig check against OpenCV (ORB and SIFT + ratio test + findEssentialMat +
# recoverPose, tools/bench/check_opencv.py) on the same pairs, in one run:
#   - the Strecha scenes (../shared/data/strecha: real photographs, ground-truth cameras, 17 pairs)
#   - a simulated 6-camera clip at 448x256 (exact ground truth)
# Temporal pairs only (OpenCV's peer has no overlap filter for cross pairs). Throughput counts
# features + matching + estimation on decoded images for both sides (file reading and image
# decoding excluded; worldrig reports it separately as decode_s). 2 cores, best of RUNS runs.
# Usage: tools/bench/check.sh [RUNS]   (needs pip install -r tools/bench/requirements-check.txt)
set -euo pipefail
cd "$(dirname "$0")/../.."
RUNS="${1:-3}"
python3 -c "import cv2, numpy, pyarrow" 2>/dev/null || python3 -m pip install --quiet -r tools/bench/requirements-check.txt
cargo build --release --locked --quiet
W=target/release/worldrig
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
WORLDRIG_LOG=warn $W import strecha ../shared/data/strecha/fountain-P11 ../shared/data/strecha/Herz-Jesus-P8 --out "$TMP/strecha" > /dev/null
WORLDRIG_LOG=warn $W sim --clips 1 --frames 8 --resolution 448x256 --seed 1 --out "$TMP/sim" > /dev/null 2>&1

echo "| data | tool | pairs | pairs/s | median rotation error (deg) | median translation error (deg) | pose success | TSE (px) |"
echo "|---|---|---|---|---|---|---|---|"
for DATA in strecha sim; do
  FILES=()
  for i in $(seq "$RUNS"); do
    WORLDRIG_LOG=warn $W check "$TMP/$DATA" --out "$TMP/wr-$DATA-$i" --no-cross > /dev/null
    FILES+=("$TMP/wr-$DATA-$i/report.json")
  done
  python3 tools/bench/check_row.py worldrig "$DATA" "${FILES[@]}"
  for DET in orb sift; do
    FILES=()
    for i in $(seq "$RUNS"); do
      env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python3 tools/bench/check_opencv.py "$TMP/$DATA" --detector "$DET" --threads 2 --json "$TMP/cv-$DATA-$DET-$i.json" > /dev/null
      FILES+=("$TMP/cv-$DATA-$DET-$i.json")
    done
    python3 tools/bench/check_row.py "$DET" "$DATA" "${FILES[@]}"
  done
done
