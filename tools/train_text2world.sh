#!/usr/bin/env bash
# Trains the tiny Text2World model (configs/dit/tiny.json) on simulated clips encoded by the
# bundled tiny tokenizer, then samples it: one clip from a caption alone and one Video2World
# continuation of a held-out clip (docs/text2world.md). Resumable: run it again after an
# interruption and training continues from the newest checkpoint.
#
#   training data: `worldrig sim --preset base --seed 100`  (8 clips x 40 frames x 6 cameras, 448x256, 10 Hz)
#   held-out data: `worldrig sim --clips 2 --frames 17 --resolution 448x256 --seed 200`
#
# Usage: tools/train_text2world.sh [RUN_DIR] [CONFIG]   (default runs/text2world-tiny, configs/dit/tiny.json)
# Environment: WORLDRIG_DATA (default runs/data), WORLDRIG_TOKENIZER (default checkpoints/tokenizer-tiny).
set -euo pipefail
cd "$(dirname "$0")/.."
RUN="${1:-runs/text2world-tiny}"
CONFIG="${2:-configs/dit/tiny.json}"
TOKENIZER="${WORLDRIG_TOKENIZER:-checkpoints/tokenizer-tiny}"
source tools/train_data.sh
$W train text2world --data "$DATA/sim-train" --tokenizer "$TOKENIZER" --config "$CONFIG" --out "$RUN" "${RESUME[@]}"
PROMPT="A clear afternoon on a two-lane street; the ego car drives straight ahead."
$W generate --model "$RUN" --prompt "$PROMPT" --seed 0 --out "$RUN/samples/prompt" --overwrite
$W generate --model "$RUN" --prompt "$PROMPT" --seed 0 \
  --condition "$DATA/sim-heldout:sim-00000000000000c8-000:camera_front_wide_120fov" --out "$RUN/samples/continue" --overwrite
