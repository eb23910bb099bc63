#!/usr/bin/env bash
# Trains the three tiny checkpoints from scratch, in order, on 2 CPU cores and the same simulated
# data (`worldrig sim --preset base --seed 100`): the causal video tokenizer, the Text2World model on
# its latents, and the multi-view model fine-tuned from that. Every stage is resumable: run the
# script again after an interruption and it continues where it stopped.
#
# Usage: tools/train_checkpoints.sh    (runs go to runs/{tokenizer,text2world,multiview}-tiny)
#
# The bundled checkpoints/ were made by these same stages, each started from the bundled result
# of the stage before (the scripts' defaults); the measured times are in each checkpoint's
# README.md: tokenizer 22 min (600 steps; the config's 1200 run about twice that), Text2World
# 59 min (4000 steps), multi-view 40 min (1000 steps): about 2 h in all.
set -euo pipefail
cd "$(dirname "$0")/.."
# The bundled tokenizer stopped at 600 of its config's 1200 steps (the loss was flat from step 100).
WORLDRIG_TOKENIZER_STEPS=600 tools/train_tokenizer.sh runs/tokenizer-tiny
WORLDRIG_TOKENIZER=runs/tokenizer-tiny tools/train_text2world.sh runs/text2world-tiny
# The bundled Text2World model continued the config's 2000 steps to 4000 (the cosine schedule
# stretched from step 2000).
target/release/worldrig train text2world --data runs/data/sim-train --tokenizer runs/tokenizer-tiny \
  --config configs/dit/tiny.json --out runs/text2world-tiny --resume --steps 4000
WORLDRIG_INIT=runs/text2world-tiny tools/train_multiview.sh runs/multiview-tiny
