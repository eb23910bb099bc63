#!/usr/bin/env bash
# The main job on a fresh machine: build worldrig (installing a C++ compiler for the H.264 encoder
# if there is none), then `worldrig demo`: simulate a six-camera scene, generate the same drive with
# the bundled tiny multi-view model, check both and write out/demo/report.html with the two
# panoramas. Then a short tour: import the real RDS-HQ example clip (labels, 7-camera f-theta rig,
# 30 fps ego poses, HD map) into a scene log, validate and inspect it, render its HD map, simulate
# a small multi-camera clip and score it with the geometric consistency checker, round-trip that
# clip through the bundled tiny causal video tokenizer (PSNR / SSIM), and sample the bundled tiny
# Text2World model.
set -euo pipefail
cd "$(dirname "$0")/.."
EXAMPLE="${WORLDRIG_RDS_HQ:-../shared/data/rds-hq-example}"
OUT="${1:-out/rds-hq-example.log}"
if [ ! -d "$EXAMPLE/vehicle_pose" ]; then
  echo "error: RDS-HQ example not found at $EXAMPLE (set WORLDRIG_RDS_HQ to its directory)" >&2
  exit 2
fi
if ! command -v c++ >/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq g++ >/dev/null
  else
    echo "error: a C++ compiler (c++) is needed to build the H.264 encoder: install g++" >&2
    exit 2
  fi
fi
cargo build --release --locked
W=target/release/worldrig
$W demo --out "$(dirname "$OUT")/demo" --overwrite
$W import rds-hq "$EXAMPLE" --out "$OUT" --overwrite
$W log validate "$OUT"
$W log inspect "$OUT"
# The HD-map condition video of that drive through the 7-camera rig at 448x256, and a small
# simulated multi-camera clip with exact ground truth.
$W sim --from-log "$OUT" --max-frames 30 --resolution 448x256 --out "${OUT%.log}-hdmap.log" --overwrite
$W sim --preset small --seed 1 --out "$(dirname "$OUT")/sim-small.log" --overwrite
$W log inspect "$(dirname "$OUT")/sim-small.log"
$W check "$(dirname "$OUT")/sim-small.log" --out "$(dirname "$OUT")/sim-small-check"
# The bundled tiny tokenizer (checkpoints/tokenizer-tiny, docs/tokenizer.md) on that clip: 17 frames
# of each camera encoded to 5 latent frames and decoded.
$W tokenizer eval --model checkpoints/tokenizer-tiny --data "$(dirname "$OUT")/sim-small.log" --frames 17 --images 1
# The bundled tiny Text2World model (checkpoints/text2world-tiny, docs/text2world.md): a 17-frame
# clip from a caption, decoded through the tokenizer (PNG frames, GIF, scene log with provenance).
$W generate --model checkpoints/text2world-tiny --prompt "Straight road, two lanes in each direction, afternoon, clear." \
  --seed 0 --out "$(dirname "$OUT")/text2world-sample" --overwrite
