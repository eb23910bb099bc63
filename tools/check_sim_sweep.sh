#!/usr/bin/env bash
# Validation of `worldrig check` on simulated clips with exact ground truth (docs/checker.md):
# one 6-frame 448x256 clip of the Cosmos 6-camera rig per seed, manoeuvre drawn from the seed,
# checked with default options; prints one markdown row per seed and the pooled pose success.
# Usage: tools/check_sim_sweep.sh [FIRST_SEED] [LAST_SEED]   (default 1 8)
set -euo pipefail
cd "$(dirname "$0")/.."
FIRST="${1:-1}"
LAST="${2:-8}"
cargo build --release --locked --quiet
W=target/release/worldrig
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
for SEED in $(seq "$FIRST" "$LAST"); do
  WORLDRIG_LOG=warn $W sim --clips 1 --frames 6 --resolution 448x256 --seed "$SEED" --out "$TMP/sim$SEED" > /dev/null 2>&1
  WORLDRIG_LOG=warn $W check "$TMP/sim$SEED" --out "$TMP/r$SEED" > /dev/null
done
python3 - "$TMP" "$FIRST" "$LAST" <<'PY'
import json, sys
tmp, first, last = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
f = lambda v, d=3: "n/a" if v is None else "%.*f" % (d, v)
print("| seed | temporal pose success | cross pose success | median rotation error (deg) | median translation error (deg) | TSE (px) | CSE (px) | TSE / CSE vs logged geometry (px) | ATE (m) |")
print("|---|---|---|---|---|---|---|---|---|")
ok = n = 0
for seed in range(first, last + 1):
    r = json.load(open("%s/r%d/report.json" % (tmp, seed)))
    s, c = r["summary"], r["clips"][0]
    t = [p for p in c["pairs"] if p["kind"] == "temporal"]
    ok += sum(p["success"] for p in t); n += len(t)
    x = [p for p in c["pairs"] if p["kind"] == "cross"]
    print("| %d | %d/%d | %d/%d | %s | %s | %s | %s | %s / %s | %s |" % (
        seed, sum(p["success"] for p in t), len(t), sum(p["success"] for p in x), len(x),
        f(s["median_rotation_error_deg"]), f(s["median_translation_error_deg"], 2), f(s["tse_px"]), f(s["cse_px"]),
        f(s["tse_logged_px"]), f(s["cse_logged_px"]), f(s["ate_m"])))
print()
print("pooled temporal pose success: %d/%d = %.1f %%" % (ok, n, 100.0 * ok / n))
PY
