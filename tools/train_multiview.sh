#!/usr/bin/env bash
# Fine-tunes the bundled tiny Text2World model into the tiny multi-view, trajectory-conditioned
# model (configs/multiview/tiny.json) on simulated six-camera clips, then generates one held-out
# clip with it (docs/multiview.md). Resumable: run it again after an interruption and training
# continues from the newest checkpoint.
#
#   training data: `worldrig sim --preset base --seed 100`  (8 clips x 40 frames x 6 cameras, 448x256, 10 Hz)
#   held-out data: `worldrig sim --clips 2 --frames 17 --resolution 448x256 --seed 200`
#
# Usage: tools/train_multiview.sh [RUN_DIR] [CONFIG]   (default runs/multiview-tiny, configs/multiview/tiny.json)
# Environment: WORLDRIG_DATA (default runs/data), WORLDRIG_INIT (default checkpoints/text2world-tiny).
set -euo pipefail
cd "$(dirname "$0")/.."
RUN="${1:-runs/multiview-tiny}"
CONFIG="${2:-configs/multiview/tiny.json}"
INIT="${WORLDRIG_INIT:-checkpoints/text2world-tiny}"
source tools/train_data.sh
$W train multiview --init "$INIT" --data "$DATA/sim-train" --config "$CONFIG" --out "$RUN" "${RESUME[@]}"
$W generate --model "$RUN" --log "$DATA/sim-heldout" --seed 0 --out "$RUN/samples/heldout" --overwrite
