#!/usr/bin/env bash
# Scene-log frame-reading benchmark: worldrig vs pyarrow on the same ~1 GB log of PNG frames.
set -euo pipefail

usage() {
    cat <<'EOF'
usage: tools/bench/scenelog_read.sh [--megabytes MB] [--log DIR] [--keep] [--repeat N]
                                    [--width PX] [--height PX] [--seed N]

Builds the examples once (cargo build --release --examples), writes a scene log whose frames
table holds about MB megabytes (1 MB = 1e6 bytes) of PNG images with examples/make_frames_log.rs
(default 1024 MB of 896x512 frames, seed 7) in a temporary directory, and on that same file runs
  - examples/read_frames.rs         worldrig's SceneLog::frames(true), batch by batch
  - examples/read_frames.rs --raw   the parquet crate alone (reference, not part of the ratio)
  - tools/bench/read_pyarrow.py     pyarrow iter_batches, default threads
  - tools/bench/read_pyarrow.py --threads 1
each reporting the best of N passes (default 3; the page cache is warm, so this measures Parquet
decoding, not disk). Prints the machine, versions, a markdown results table and the ratios
worldrig / pyarrow.

  --megabytes MB  size of the PNG payload to generate (default 1024)
  --log DIR       use DIR as the log: read it if it exists, otherwise create it there; must be
                  outside the repository; a log given this way that already existed is never deleted
  --keep          keep the generated log (and print where it is)
  --repeat N      passes per reader (default 3)
  --width PX, --height PX, --seed N   passed to make_frames_log (default 896, 512, 7)
  -h, --help      this text

Needs cargo and python3 with pyarrow. Writes nothing into the repository except cargo's target dir.
EOF
}

die() { echo "scenelog_read.sh: error: $*" >&2; exit 1; }

MB=1024 LOG="" KEEP=0 REPEAT=3 WIDTH=896 HEIGHT=512 SEED=7
while [[ $# -gt 0 ]]; do
    case "$1" in
        -h|--help) usage; exit 0 ;;
        --keep) KEEP=1; shift ;;
        --megabytes|--log|--repeat|--width|--height|--seed)
            [[ $# -ge 2 ]] || { echo "scenelog_read.sh: $1 needs a value" >&2; usage >&2; exit 2; }
            case "$1" in
                --megabytes) MB=$2 ;; --log) LOG=$2 ;; --repeat) REPEAT=$2 ;;
                --width) WIDTH=$2 ;; --height) HEIGHT=$2 ;; --seed) SEED=$2 ;;
            esac
            shift 2 ;;
        *) echo "scenelog_read.sh: unknown argument '$1'" >&2; usage >&2; exit 2 ;;
    esac
done
[[ "$REPEAT" =~ ^[1-9][0-9]*$ ]] || { echo "scenelog_read.sh: --repeat must be a positive integer" >&2; exit 2; }

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)
cd "$REPO"
command -v cargo >/dev/null || die "cargo not found"
command -v python3 >/dev/null || die "python3 not found"
python3 -c 'import pyarrow' 2>/dev/null || die "python3 cannot import pyarrow (pip install pyarrow)"

# Where the log goes: a fresh temp dir unless --log; never inside the repository.
WORK=$(mktemp -d "${TMPDIR:-/tmp}/worldrig-scenelog-bench.XXXXXX")
CREATED=0
if [[ -z "$LOG" ]]; then
    LOG="$WORK/log"
fi
LOG_ABS=$(realpath -m -- "$LOG")
case "$LOG_ABS/" in "$REPO"/*) rm -rf "$WORK"; die "--log $LOG is inside the repository ($REPO); put it elsewhere" ;; esac
mkdir -p "$(dirname "$LOG_ABS")"
cleanup() {
    if [[ $CREATED -eq 1 && $KEEP -eq 0 ]]; then rm -rf "$LOG_ABS"; fi
    rm -rf "$WORK"
}
trap cleanup EXIT

echo "## building examples (cargo build --release --examples)" >&2
cargo build --release --examples >&2
TARGET_DIR=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
BIN="$TARGET_DIR/release/examples"
[[ -x "$BIN/make_frames_log" && -x "$BIN/read_frames" ]] || die "examples not found in $BIN"

if [[ -e "$LOG_ABS" ]]; then
    echo "## using existing log $LOG_ABS (not regenerated, not deleted)" >&2
else
    echo "## writing ~${MB} MB of PNG frames to $LOG_ABS" >&2
    CREATED=1
    "$BIN/make_frames_log" --out "$LOG_ABS" --megabytes "$MB" --width "$WIDTH" --height "$HEIGHT" --seed "$SEED" >&2
fi
# Warm the page cache so no reader pays for the disk on its first pass.
find "$LOG_ABS" -name '*.parquet' -exec cat {} + >/dev/null

echo "## reading (best of $REPEAT passes each)" >&2
run() { local out=$1; shift; echo "+ $*" >&2; "$@" | tee "$WORK/$out" >&2; }
run worldrig.json "$BIN/read_frames" "$LOG_ABS" --repeat "$REPEAT"
run raw.json "$BIN/read_frames" "$LOG_ABS" --repeat "$REPEAT" --raw
run pyarrow.json python3 tools/bench/read_pyarrow.py "$LOG_ABS" --repeat "$REPEAT"
run pyarrow1.json python3 tools/bench/read_pyarrow.py "$LOG_ABS" --repeat "$REPEAT" --threads 1

CPU=$(grep -m1 '^model name' /proc/cpuinfo 2>/dev/null | sed 's/^model name[[:space:]]*:[[:space:]]*//' || true)
MEM=$(awk '/^MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo 2>/dev/null || true)
REV=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
git diff --quiet HEAD 2>/dev/null || REV="$REV (uncommitted changes)"
export BENCH_MACHINE="$(nproc) CPUs, ${CPU:-unknown CPU}, ${MEM:-? GiB} RAM, $(uname -sr)"
export BENCH_VERSIONS="worldrig $REV; $(rustc -V); $(python3 -V 2>&1)"
export BENCH_CMD="tools/bench/scenelog_read.sh --megabytes $MB --repeat $REPEAT --width $WIDTH --height $HEIGHT --seed $SEED"
export BENCH_WORK="$WORK"

python3 - <<'EOF'
import json, os
w = os.environ["BENCH_WORK"]
load = lambda f: json.load(open(os.path.join(w, f)))
wr, raw, pa, pa1 = load("worldrig.json"), load("raw.json"), load("pyarrow.json"), load("pyarrow1.json")
if len({(r["rows"], r["bytes"]) for r in (wr, raw, pa, pa1)}) != 1:
    raise SystemExit("scenelog_read.sh: error: the readers disagree on rows/bytes")
print()
print(f"command:  {os.environ['BENCH_CMD']}")
print(f"machine:  {os.environ['BENCH_MACHINE']}")
print(f"versions: {os.environ['BENCH_VERSIONS']}; pyarrow {pa['pyarrow_version']}")
print(f"data:     {wr['rows']} frames, {wr['bytes'] / 1e6:.1f} MB of PNG in {wr['files']} file(s), "
      f"batches of {wr['batch_size']}, best of {wr['repeat']} passes, page cache warm")
print()
print("| reader | threads | best s | rows/s | MB/s | worldrig / this |")
print("|---|---|---:|---:|---:|---:|")
rows = [("worldrig `SceneLog::frames(true)`", wr), ("pyarrow `iter_batches`", pa), ("pyarrow `iter_batches`", pa1),
        ("parquet-rs `ParquetRecordBatchReader` (reference)", raw)]
for name, r in rows:
    print(f"| {name} | {r['threads']} | {r['seconds']:.3f} | {r['rows_per_s']:,.0f} | {r['mb_per_s']:,.0f} | "
          f"{r['seconds'] / wr['seconds']:.2f}x |")
print()
print(f"ratio worldrig / pyarrow (default threads): {pa['seconds'] / wr['seconds']:.2f}x")
print(f"ratio worldrig / pyarrow (1 thread):        {pa1['seconds'] / wr['seconds']:.2f}x")
print(f"(ratio = worldrig throughput / pyarrow throughput; >= 1.0x means worldrig is at least as fast)")
EOF

if [[ $CREATED -eq 1 && $KEEP -eq 1 ]]; then echo "## kept the log at $LOG_ABS" >&2; fi
