#!/usr/bin/env bash
# Installs what the test suite needs on a fresh machine, then runs every test once, optimised.
#   - a C++ compiler: the OpenH264 encoder behind the MP4 panoramas is built from source
#   - python3 + pyarrow/numpy: the Arrow interoperability tests (tests/pyarrow_interop.rs)
#   - ../shared/data beside the repository: the real calibration, RDS-HQ example clip, Strecha scenes
#   - Debian's chromium: the checker's HTML report is rendered in a real headless browser
#     (tests/report_browser.rs); installed with apt-get when missing and running as root
# and finally compiles the wgpu GPU backend (it cannot run without a GPU).
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v c++ >/dev/null; then
  # OpenH264 (the MP4 panoramas) is compiled from its C++ source by its crate's build script.
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "installing a C++ compiler (g++) for the H.264 encoder" >&2
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq g++ >/dev/null
  else
    echo "error: a C++ compiler (c++) is needed to build the H.264 encoder: install g++" >&2
    exit 2
  fi
fi
if ! python3 -c "import pyarrow, numpy" 2>/dev/null; then
  echo "installing pyarrow and numpy for the interoperability tests" >&2
  python3 -m pip install --quiet --disable-pip-version-check "pyarrow==26.0.1" "numpy==2.4.6"
fi
if [ ! -x /usr/bin/chromium ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "installing Debian's chromium for the report browser test" >&2
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) || echo "warning: could not install chromium" >&2
  else
    echo "warning: /usr/bin/chromium missing; tests/report_browser.rs fails under CI=true" >&2
  fi
fi
if [ ! -f ../shared/data/av22_median_calib.npz ]; then
  echo "error: ../shared/data (reference calibration and RDS-HQ example) must sit beside the repository" >&2
  exit 2
fi

LOG=$(mktemp)
trap 'rm -f "$LOG"' EXIT
status=0
cargo test --release --workspace --locked "$@" 2>&1 | tee "$LOG" || status=$?
# One plain closing line with the totals over every test binary and doc-test run.
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i } } END { printf "%d passed, %d failed\n", p, f }' "$LOG"
# The GPU backends build offline but cannot run here (no GPU; Mesa's software Vulkan crashes in
# burn's matmul): compile them at least. `cuda` downloads an LLVM bundle at build time and is never
# enabled here.
if [ "$status" = 0 ]; then
  echo "cargo check --features wgpu (GPU backend compiles)" >&2
  cargo check --release --workspace --locked --features wgpu || status=$?
fi
exit "$status"
