#!/usr/bin/env python3
"""Benchmark streaming the `frames` table of a worldrig scene log with pyarrow.

Usage:
    python3 tools/bench/read_pyarrow.py LOG [--repeat N] [--threads N] [--batch-size N]

Requires: Python >= 3.8, pyarrow (nothing else).

Reads LOG/frames.parquet or every LOG/frames/*.parquet (lexicographic order; names starting with
"." or "_" ignored) with pyarrow.parquet.ParquetFile(...).iter_batches(batch_size=64, columns=
<all columns>) -- streaming record batches, not read_table -- and touches each image buffer: the
image lengths are summed from every batch (pyarrow.compute.binary_length + sum; dictionary,
fixed-size and view encodings handled). The whole pass is repeated --repeat times (default 3) and
the fastest is reported, as one JSON line on stdout:

    {"reader": "pyarrow", "pyarrow_version": ..., "threads": ..., "batch_size": 64,
     "files": ..., "rows": ..., "bytes": ..., "seconds": ..., "rows_per_s": ..., "mb_per_s": ...,
     "repeat": ..., "all_seconds": [...]}

"bytes" is the total image payload (sum of image lengths), "mb_per_s" is bytes / 1e6 / seconds.
--threads N sets pyarrow's CPU thread pool (pyarrow.set_cpu_count(N)) and passes
use_threads=(N > 1) to iter_batches; without it pyarrow's defaults are used (use_threads=True,
pool of pyarrow.cpu_count() threads) and "threads" reports "default (<cpu_count>)".
The OS page cache is not dropped between repeats: after the first pass this measures decoding,
not disk.

Exits 1 with a message if LOG has no frames table, a file is unreadable, the image column is
missing, or the repeats disagree on rows/bytes; 2 on usage errors.
"""

import argparse
import json
import os
import sys
import time

try:
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq
except ImportError as e:  # pragma: no cover
    sys.exit(f"read_pyarrow.py: needs pyarrow ({e})")


def fail(msg):
    print(f"read_pyarrow.py: error: {msg}", file=sys.stderr)
    sys.exit(1)


def frames_files(log):
    f = os.path.join(log, "frames.parquet")
    d = os.path.join(log, "frames")
    if os.path.isfile(f) and os.path.isdir(d):
        fail(f"both {f} and {d}/ exist")
    if os.path.isfile(f):
        return [f]
    if os.path.isdir(d):
        files = sorted(x for x in os.listdir(d) if x.endswith(".parquet") and not x.startswith((".", "_")))
        if files:
            return [os.path.join(d, x) for x in files]
    fail(f"{log}: no frames table (frames.parquet or frames/*.parquet)")


def image_bytes(arr):
    """Sum of the value lengths of a binary-like array (touching the image column of a batch)."""
    t = arr.type
    if pa.types.is_dictionary(t):
        arr = arr.dictionary_decode()
        t = arr.type
    if getattr(pa.types, "is_binary_view", lambda _: False)(t):
        arr = arr.cast(pa.large_binary())  # binary_length has no view kernel (pyarrow 26)
        t = arr.type
    if pa.types.is_fixed_size_binary(t):
        return t.byte_width * (len(arr) - arr.null_count)
    s = pc.sum(pc.binary_length(arr)).as_py()
    return int(s or 0)


def one_pass(files, batch_size, use_threads):
    rows = nbytes = 0
    for path in files:
        pf = pq.ParquetFile(path)
        cols = pf.schema_arrow.names
        if "image" not in cols:
            fail(f"{path}: no 'image' column")
        kw = {"batch_size": batch_size, "columns": cols}
        if use_threads is not None:
            kw["use_threads"] = use_threads
        for batch in pf.iter_batches(**kw):
            rows += batch.num_rows
            nbytes += image_bytes(batch.column("image"))
    return rows, nbytes


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("log", help="scene log directory")
    ap.add_argument("--repeat", type=int, default=3, help="passes over the data; the best is reported (default 3)")
    ap.add_argument("--threads", type=int, default=None,
                    help="pyarrow CPU threads (default: pyarrow's default)")
    ap.add_argument("--batch-size", type=int, default=64, help="iter_batches batch_size (default 64)")
    args = ap.parse_args()
    if args.repeat < 1:
        ap.error("--repeat must be >= 1")
    if args.threads is not None and args.threads < 1:
        ap.error("--threads must be >= 1")
    if args.batch_size < 1:
        ap.error("--batch-size must be >= 1")
    if not os.path.isdir(args.log):
        fail(f"{args.log}: not a directory")

    if args.threads is not None:
        pa.set_cpu_count(args.threads)
        use_threads = args.threads > 1
        threads = args.threads
    else:
        use_threads = None
        threads = f"default ({pa.cpu_count()})"

    files = frames_files(args.log)
    times, result = [], None
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        try:
            r = one_pass(files, args.batch_size, use_threads)
        except (OSError, pa.ArrowException) as e:
            fail(f"reading {args.log}/frames: {type(e).__name__}: {e}")
        times.append(time.perf_counter() - t0)
        if result is not None and r != result:
            fail(f"passes disagree: {result} vs {r}")
        result = r

    rows, nbytes = result
    best = min(times)
    print(json.dumps({
        "reader": "pyarrow",
        "pyarrow_version": pa.__version__,
        "threads": threads,
        "batch_size": args.batch_size,
        "files": len(files),
        "rows": rows,
        "bytes": nbytes,
        "seconds": best,
        "rows_per_s": rows / best if best > 0 else None,
        "mb_per_s": nbytes / 1e6 / best if best > 0 else None,
        "repeat": args.repeat,
        "all_seconds": times,
    }))


if __name__ == "__main__":
    main()
