#!/usr/bin/env bash
# Trains the tiny causal video tokenizer on simulated clips and evaluates it on held-out clips
# (docs/results.md). Resumable: run it again after an interruption and training continues from
# the newest checkpoint.
#
#   training data: `worldrig sim --preset base --seed 100`  (8 clips x 40 frames x 6 cameras, 448x256, 10 Hz)
#   held-out data: `worldrig sim --clips 2 --frames 17 --resolution 448x256 --seed 200`
#
# Usage: tools/train_tokenizer.sh [RUN_DIR] [CONFIG]   (default runs/tokenizer-tiny, configs/tokenizer/tiny.json)
# Environment: WORLDRIG_DATA (default runs/data), WORLDRIG_TOKENIZER_STEPS (default: the config's steps).
set -euo pipefail
cd "$(dirname "$0")/.."
RUN="${1:-runs/tokenizer-tiny}"
CONFIG="${2:-configs/tokenizer/tiny.json}"
source tools/train_data.sh
STEPS=()
[ -z "${WORLDRIG_TOKENIZER_STEPS:-}" ] || STEPS=(--steps "$WORLDRIG_TOKENIZER_STEPS")
$W tokenizer train --data "$DATA/sim-train" --config "$CONFIG" --out "$RUN" "${RESUME[@]}" "${STEPS[@]}"
$W tokenizer eval --model "$RUN" --data "$DATA/sim-heldout" --frames 17 --images 2 --out "$RUN/eval-heldout.json"
