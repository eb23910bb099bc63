# Sourced by the training scripts (tools/train_*.sh) from the repository root, with RUN set:
# builds worldrig (W), sets RESUME to --resume when $RUN already holds a run, and simulates the
# shared training and held-out data into $DATA (default runs/data) unless it is already there:
#   training data: `worldrig sim --preset base --seed 100`  (8 clips x 40 frames x 6 cameras, 448x256, 10 Hz)
#   held-out data: `worldrig sim --clips 2 --frames 17 --resolution 448x256 --seed 200`
DATA="${WORLDRIG_DATA:-runs/data}"
cargo build --release --locked --quiet
W=target/release/worldrig
mkdir -p "$DATA"
[ -d "$DATA/sim-train" ] || $W sim --preset base --seed 100 --out "$DATA/sim-train"
[ -d "$DATA/sim-heldout" ] || $W sim --clips 2 --frames 17 --resolution 448x256 --seed 200 --out "$DATA/sim-heldout"
RESUME=()
[ ! -f "${RUN:?}/config.json" ] || RESUME=(--resume)
