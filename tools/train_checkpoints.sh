#!/usr/bin/env bash
# Trains the three tiny checkpoints from scratch, in order, on 2 CPU cores and the same simulated
# data (`worldrig sim --preset base --seed 100`): the causal video tokenizer, the Text2World model on
# its latents, and the multi-view model fine-tuned from that. Every stage is resumable: run the
# script again after an interruption and it continues where it stopped.
#
# Usage: tools/train_checkpoints.sh    (runs go to runs/{tokenizer,text2world,multiview}-tiny)
#
# The bundled checkpoints/ were made by these same stages, each started from the bundled result of
# the stage before (the scripts' defaults); the measured times are in each checkpoint's README.md.
set -euo pipefail
cd "$(dirname "$0")/.."
# Tokenizer: 4000 steps, then the cosine schedule stretched to 10000 (the loss was still falling).
WORLDRIG_TOKENIZER_STEPS=4000 tools/train_tokenizer.sh runs/tokenizer-tiny
WORLDRIG_TOKENIZER_STEPS=10000 tools/train_tokenizer.sh runs/tokenizer-tiny
# Text2World: the config's 4000 steps on the tokenizer's latents.
WORLDRIG_TOKENIZER=runs/tokenizer-tiny tools/train_text2world.sh runs/text2world-tiny
# Multi-view: the config's 1000 steps from the Text2World model.
WORLDRIG_INIT=runs/text2world-tiny tools/train_multiview.sh runs/multiview-tiny
