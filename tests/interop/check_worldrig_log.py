#!/usr/bin/env python3
"""Check a worldrig scene log (e.g. one written by the Rust writer) with pyarrow against an
expected.json (as written by tests/interop/write_foreign.py).

Usage:
    python3 tests/interop/check_worldrig_log.py LOG EXPECTED_JSON
        [--no-metadata-check] [--accepted-types] [--image-pixels] [--max-errors N]

Requires: Python >= 3.8, pyarrow (numpy only as pyarrow's own dependency).

For every table in EXPECTED_JSON["tables"] it finds LOG/<table>.parquet or the files
LOG/<table>/*.parquet (lexicographic order; names starting with "." or "_" ignored), reads each
file with pyarrow.parquet.read_table and checks:

  * Parquet key-value metadata on every file: worldrig:format_version == "1.0",
    worldrig:table == the table name, worldrig:writer present and non-empty
    (skipped with --no-metadata-check, e.g. for logs written by pyarrow);
  * every column's Arrow data type is the canonical one from the format doc (utf8, binary,
    int32, int64, float64, list<float64>, list<utf8>); list child field names ("item" vs
    "element") and field nullability are not compared. With --accepted-types any encoding the
    doc's "Types accepted on read" table allows passes instead (large_*, *_view, dictionary,
    narrower ints and floats, large/fixed-size lists);
  * required columns exist and hold no nulls; a missing nullable column is accepted (with a
    note) only if every expected value in it is null; extra columns are reported as notes;
  * rows: same number as expected, matched by the table's "key" columns (so row order across
    files does not matter), no duplicate keys, and every value equal to the expected one:
    strings and integers exactly, floats within 1e-12 (absolute, or relative for |x| > 1;
    float32/float16 stored values within their own precision), lists
    element-wise, images by sha256 of the encoded bytes (and length). With --image-pixels
    images are instead compared by decoding the PNG (built-in decoder: 8-bit, non-interlaced)
    and hashing the RGB8 pixels ("pixels_rgb8_sha256"), for writers that re-encode;
  * time-sampled tables (ego_poses, objects, frames) have strictly increasing timestamp_us
    within each clip (per track for objects, per camera for frames) in file order.

Prints "interop ok: N tables, M rows" and exits 0 on success; prints every problem (up to
--max-errors) to stderr and exits 1 otherwise; exits 2 on usage errors or an unreadable
EXPECTED_JSON.

expected.json schema (see write_foreign.py): {"format_version": "1.0", "tables": {"<table>":
{"key": [...], "columns": [{"name", "type", "required"}], "rows": [{col: value}]}}}; an image
value is {"sha256", "bytes", "pixels_rgb8_sha256", "width", "height", ...}.
"""

import argparse
import hashlib
import json
import math
import os
import struct
import sys
import zlib

try:
    import pyarrow as pa
    import pyarrow.parquet as pq
    import pyarrow.types as pt
except ImportError as e:  # pragma: no cover
    print(f"check_worldrig_log.py: needs pyarrow ({e})", file=sys.stderr)
    sys.exit(2)

FORMAT_VERSION = "1.0"
KNOWN_TABLES = ["rig", "clips", "ego_poses", "frames", "objects", "map"]
# table -> (columns grouping a time series, in addition to clip_id)
TIME_SERIES = {"ego_poses": [], "objects": ["track_id"], "frames": ["camera"]}
FLOAT_TOL = 1e-12


class Failure(Exception):
    pass


# --------------------------------------------------------------------------------------------
# Types
# --------------------------------------------------------------------------------------------

def _is(name, dt):
    f = getattr(pt, name, None)
    return bool(f and f(dt))


def canonical_ok(ty, dt):
    if ty == "utf8":
        return pt.is_string(dt)
    if ty == "binary":
        return pt.is_binary(dt)
    if ty == "int32":
        return pt.is_int32(dt)
    if ty == "int64":
        return pt.is_int64(dt)
    if ty == "float64":
        return pt.is_float64(dt)
    if ty == "list<float64>":
        return pt.is_list(dt) and pt.is_float64(dt.value_type)
    if ty == "list<utf8>":
        return pt.is_list(dt) and pt.is_string(dt.value_type)
    raise Failure(f"expected.json: unknown column type {ty!r}")


def _acc_str(dt):
    if pt.is_dictionary(dt):
        dt = dt.value_type
    return pt.is_string(dt) or pt.is_large_string(dt) or _is("is_string_view", dt)


def _acc_bin(dt):
    if pt.is_fixed_size_binary(dt):
        return True
    if pt.is_dictionary(dt):
        dt = dt.value_type
    return pt.is_binary(dt) or pt.is_large_binary(dt) or _is("is_binary_view", dt)


def _acc_float(dt):
    return pt.is_float64(dt) or pt.is_float32(dt) or pt.is_float16(dt)


def _list_child(dt):
    if pt.is_list(dt) or pt.is_large_list(dt) or pt.is_fixed_size_list(dt):
        return dt.value_type
    return None


def accepted_ok(ty, dt):
    if ty == "utf8":
        return _acc_str(dt)
    if ty == "binary":
        return _acc_bin(dt)
    if ty == "int64":
        return any(f(dt) for f in (pt.is_int64, pt.is_int32, pt.is_int16, pt.is_int8,
                                   pt.is_uint32, pt.is_uint16, pt.is_uint8))
    if ty == "int32":
        return any(f(dt) for f in (pt.is_int32, pt.is_int16, pt.is_int8, pt.is_uint16, pt.is_uint8))
    if ty == "float64":
        return _acc_float(dt)
    if ty == "list<float64>":
        c = _list_child(dt)
        return c is not None and _acc_float(c)
    if ty == "list<utf8>":
        c = _list_child(dt)
        return c is not None and _acc_str(c)
    raise Failure(f"expected.json: unknown column type {ty!r}")


def float_tol(dt):
    """Tolerance for a float stored as `dt` (or a list of them)."""
    c = _list_child(dt)
    if c is not None:
        dt = c
    if pt.is_float32(dt):
        return 2.0 ** -23
    if pt.is_float16(dt):
        return 2.0 ** -10
    return FLOAT_TOL


# --------------------------------------------------------------------------------------------
# Minimal PNG decoder (8-bit grey / grey+alpha / RGB / RGBA, non-interlaced) -> RGB8 bytes
# --------------------------------------------------------------------------------------------

PNG_SIG = b"\x89PNG\r\n\x1a\n"


def decode_png_rgb8(data):
    """Returns (width, height, rgb8 bytes). Raises ValueError for anything unsupported."""
    if data[:8] != PNG_SIG:
        raise ValueError("not a PNG (bad signature)")
    pos, idat, hdr = 8, [], None
    while pos + 12 <= len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length:pos + 12 + length])
        if zlib.crc32(kind + body) & 0xFFFFFFFF != crc:
            raise ValueError(f"bad CRC in {kind!r} chunk")
        pos += 12 + length
        if kind == b"IHDR":
            hdr = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat.append(body)
        elif kind == b"IEND":
            break
    if hdr is None:
        raise ValueError("no IHDR chunk")
    w, h, depth, ctype, _comp, _filt, interlace = hdr
    channels = {0: 1, 2: 3, 4: 2, 6: 4}.get(ctype)
    if depth != 8 or channels is None or interlace != 0:
        raise ValueError(f"unsupported PNG: bit depth {depth}, colour type {ctype}, interlace {interlace}")
    raw = zlib.decompress(b"".join(idat))
    stride, bpp = w * channels, channels
    if len(raw) != h * (stride + 1):
        raise ValueError(f"PNG data is {len(raw)} bytes, expected {h * (stride + 1)}")
    out = bytearray()
    prev = bytearray(stride)
    for y in range(h):
        f = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        if f == 0:
            pass
        elif f == 1:
            for i in range(bpp, stride):
                line[i] = (line[i] + line[i - bpp]) & 0xFF
        elif f == 2:
            for i in range(stride):
                line[i] = (line[i] + prev[i]) & 0xFF
        elif f == 3:
            for i in range(stride):
                left = line[i - bpp] if i >= bpp else 0
                line[i] = (line[i] + ((left + prev[i]) >> 1)) & 0xFF
        elif f == 4:
            for i in range(stride):
                a = line[i - bpp] if i >= bpp else 0
                b = prev[i]
                c = prev[i - bpp] if i >= bpp else 0
                p = a + b - c
                pa_, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pred = a if (pa_ <= pb and pa_ <= pc) else (b if pb <= pc else c)
                line[i] = (line[i] + pred) & 0xFF
        else:
            raise ValueError(f"bad PNG filter type {f} on row {y}")
        out += line
        prev = line
    if ctype == 2:
        rgb = bytes(out)
    elif ctype == 6:
        if any(a != 255 for a in out[3::4]):
            raise ValueError("RGBA PNG with non-opaque pixels")
        rgb = bytes(b for i, b in enumerate(out) if i % 4 != 3)
    elif ctype == 0:
        rgb = bytes(b for g in out for b in (g, g, g))
    else:  # 4: grey + alpha
        if any(a != 255 for a in out[1::2]):
            raise ValueError("grey+alpha PNG with non-opaque pixels")
        rgb = bytes(b for g in out[0::2] for b in (g, g, g))
    return w, h, rgb


# --------------------------------------------------------------------------------------------
# Reading
# --------------------------------------------------------------------------------------------

def table_files(log, name):
    f = os.path.join(log, f"{name}.parquet")
    d = os.path.join(log, name)
    has_f, has_d = os.path.isfile(f), os.path.isdir(d)
    if has_f and has_d:
        raise Failure(f"{name}: both {f} and directory {d} exist")
    if has_f:
        return [f]
    if has_d:
        files = sorted(x for x in os.listdir(d) if x.endswith(".parquet") and not x.startswith((".", "_")))
        return [os.path.join(d, x) for x in files]
    return []


def read_metadata(path):
    md = pq.ParquetFile(path).metadata
    kv = md.metadata or {}
    return {k.decode("utf-8", "replace"): v.decode("utf-8", "replace") for k, v in kv.items()}


# --------------------------------------------------------------------------------------------
# Values
# --------------------------------------------------------------------------------------------

def _num(x):
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def float_eq(got, exp, tol):
    if not _num(got) or not _num(exp):
        return False
    if math.isnan(exp) or math.isnan(got):
        return math.isnan(exp) and math.isnan(got)
    return abs(got - exp) <= tol * max(1.0, abs(exp))


def scalar_eq(ty, got, exp, tol):
    if exp is None or got is None:
        return exp is None and got is None
    if ty.startswith("float"):
        return float_eq(got, exp, tol)
    if ty.startswith("int"):
        return isinstance(got, int) and not isinstance(got, bool) and got == exp
    if ty == "utf8":
        return isinstance(got, str) and got == exp
    raise Failure(f"unsupported scalar type {ty}")


def describe(v, limit=120):
    if isinstance(v, (bytes, bytearray)):
        return f"<{len(v)} bytes, sha256 {hashlib.sha256(v).hexdigest()}>"
    s = repr(v)
    return s if len(s) <= limit else s[:limit] + "..."


def compare_value(ty, got, exp, tol, image_pixels):
    """Returns None if equal, else a message."""
    if ty in ("list<float64>", "list<utf8>"):
        if exp is None or got is None:
            return None if exp is None and got is None else f"got {describe(got)}, expected {describe(exp)}"
        got = list(got)
        if len(got) != len(exp):
            return f"list length {len(got)}, expected {len(exp)}: got {describe(got)}, expected {describe(exp)}"
        inner = "float64" if ty == "list<float64>" else "utf8"
        for i, (g, e) in enumerate(zip(got, exp)):
            if not scalar_eq(inner, g, e, tol):
                return f"element {i}: got {describe(g)}, expected {describe(e)}"
        return None
    if ty == "binary":
        if exp is None or got is None:
            return None if exp is None and got is None else f"got {describe(got)}, expected {describe(exp)}"
        if not isinstance(got, (bytes, bytearray)):
            return f"got {describe(got)}, expected bytes"
        if not isinstance(exp, dict):
            raise Failure("expected.json: binary values must be objects with a sha256")
        if image_pixels:
            try:
                w, h, rgb = decode_png_rgb8(bytes(got))
            except (ValueError, zlib.error, struct.error) as e:
                return f"image does not decode: {e}"
            if (w, h) != (exp.get("width"), exp.get("height")):
                return f"image is {w}x{h}, expected {exp.get('width')}x{exp.get('height')}"
            sha = hashlib.sha256(rgb).hexdigest()
            if sha != exp["pixels_rgb8_sha256"]:
                return f"decoded RGB8 pixels sha256 {sha}, expected {exp['pixels_rgb8_sha256']}"
            return None
        sha = hashlib.sha256(got).hexdigest()
        if sha != exp["sha256"] or ("bytes" in exp and len(got) != exp["bytes"]):
            return (f"image sha256 {sha} ({len(got)} bytes), expected {exp['sha256']} "
                    f"({exp.get('bytes', '?')} bytes)")
        return None
    if not scalar_eq(ty, got, exp, tol):
        return f"got {describe(got)}, expected {describe(exp)}"
    return None


# --------------------------------------------------------------------------------------------
# Check
# --------------------------------------------------------------------------------------------

class Checker:
    def __init__(self, log, expected, args):
        self.log, self.expected, self.args = log, expected, args
        self.errors, self.notes = [], []
        self.rows_checked = 0

    def err(self, msg):
        self.errors.append(msg)

    def note(self, msg):
        self.notes.append(msg)

    def run(self):
        tables = self.expected.get("tables")
        if not isinstance(tables, dict) or not tables:
            raise Failure("expected.json: no \"tables\" object")
        if not os.path.isdir(self.log):
            raise Failure(f"{self.log}: not a directory")
        for name in KNOWN_TABLES:
            if name not in tables and table_files(self.log, name):
                self.err(f"{name}: table present in the log but not in expected.json")
        for name, spec in tables.items():
            self.check_table(name, spec)
        return len(tables)

    def check_table(self, name, spec):
        files = table_files(self.log, name)
        if not files:
            self.err(f"{name}: missing (no {name}.parquet and no {name}/*.parquet)")
            return
        columns = spec["columns"]
        exp_rows = spec["rows"]
        key = spec["key"]
        got_rows, stored_types = [], {}
        for path in files:
            rel = os.path.relpath(path, self.log)
            if not self.args.no_metadata_check:
                self.check_metadata(rel, path, name)
            try:
                t = pq.read_table(path)
            except Exception as e:  # noqa: BLE001
                self.err(f"{rel}: unreadable: {type(e).__name__}: {e}")
                continue
            present = set(t.schema.names)
            for extra in t.schema.names:
                if extra not in {c["name"] for c in columns}:
                    self.note(f"{rel}: extra column {extra!r} ({t.schema.field(extra).type})")
            if len(t.schema.names) != len(present):
                self.err(f"{rel}: duplicate column names {t.schema.names}")
            usable = []
            for c in columns:
                cname, ty, required = c["name"], c["type"], c["required"]
                if cname not in present:
                    if required:
                        self.err(f"{rel}: missing required column {cname!r}")
                    elif any(r.get(cname) is not None for r in exp_rows):
                        self.err(f"{rel}: missing nullable column {cname!r}, which has expected non-null values")
                    else:
                        self.note(f"{rel}: nullable column {cname!r} absent (all expected values null)")
                    continue
                dt = t.schema.field(cname).type
                if not accepted_ok(ty, dt):
                    self.err(f"{rel}: column {cname!r} has type {dt}, not an accepted encoding of {ty}; "
                             "values not compared")
                    continue
                if not self.args.accepted_types and not canonical_ok(ty, dt):
                    # still compare the values below, for a more useful report
                    self.err(f"{rel}: column {cname!r} has type {dt}, not canonical {ty}")
                if required and t.column(cname).null_count:
                    self.err(f"{rel}: required column {cname!r} has {t.column(cname).null_count} nulls")
                stored_types[cname] = dt
                usable.append(cname)
            cols = {cname: t.column(cname).to_pylist() for cname in usable}
            for i in range(t.num_rows):
                row = {cname: cols[cname][i] for cname in usable}
                row["__where"] = f"{rel} row {i}"
                got_rows.append(row)

        self.check_rows(name, columns, key, exp_rows, got_rows, stored_types)
        self.check_time_order(name, got_rows)
        self.rows_checked += len(got_rows)

    def check_metadata(self, rel, path, name):
        try:
            kv = read_metadata(path)
        except Exception as e:  # noqa: BLE001
            self.err(f"{rel}: unreadable Parquet footer: {type(e).__name__}: {e}")
            return
        v = kv.get("worldrig:format_version")
        if v != FORMAT_VERSION:
            self.err(f"{rel}: worldrig:format_version is {v!r}, expected {FORMAT_VERSION!r}")
        tn = kv.get("worldrig:table")
        if tn != name:
            self.err(f"{rel}: worldrig:table is {tn!r}, expected {name!r}")
        if not kv.get("worldrig:writer"):
            self.err(f"{rel}: worldrig:writer missing or empty")

    def check_rows(self, name, columns, key, exp_rows, got_rows, stored_types):
        if len(got_rows) != len(exp_rows):
            self.err(f"{name}: {len(got_rows)} rows, expected {len(exp_rows)}")
        if any(k not in g for g in got_rows for k in key):
            self.err(f"{name}: key columns {key} not all readable; values not compared")
            return

        def k_of(r):
            return tuple(r.get(k) for k in key)

        exp_by_key = {}
        for r in exp_rows:
            if k_of(r) in exp_by_key:
                raise Failure(f"expected.json: {name}: duplicate key {k_of(r)}")
            exp_by_key[k_of(r)] = r
        seen = {}
        for g in got_rows:
            kk = k_of(g)
            if kk in seen:
                self.err(f"{name}: duplicate key {dict(zip(key, kk))} at {seen[kk]} and {g['__where']}")
                continue
            seen[kk] = g["__where"]
            e = exp_by_key.get(kk)
            if e is None:
                self.err(f"{g['__where']}: unexpected row with key {dict(zip(key, kk))}")
                continue
            for c in columns:
                cname = c["name"]
                if cname not in g:
                    continue  # missing / mistyped column already reported
                tol = float_tol(stored_types[cname])
                msg = compare_value(c["type"], g[cname], e.get(cname), tol, self.args.image_pixels)
                if msg:
                    self.err(f"{g['__where']} ({name} {dict(zip(key, kk))}): column {cname!r}: {msg}")
        for kk in exp_by_key:
            if kk not in seen:
                self.err(f"{name}: missing row with key {dict(zip(key, kk))}")

    def check_time_order(self, name, got_rows):
        if name not in TIME_SERIES:
            return
        group_cols = ["clip_id"] + TIME_SERIES[name]
        last = {}
        for g in got_rows:
            if "timestamp_us" not in g or any(c not in g for c in group_cols):
                return
            gk = tuple(g[c] for c in group_cols)
            ts = g["timestamp_us"]
            if gk in last and ts is not None and last[gk][0] is not None and ts <= last[gk][0]:
                self.err(f"{g['__where']}: {name} timestamp_us {ts} not after {last[gk][0]} "
                         f"({last[gk][1]}) within {dict(zip(group_cols, gk))}")
            last[gk] = (ts, g["__where"])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("log", help="scene log directory")
    ap.add_argument("expected_json", help="expected.json (as written by write_foreign.py)")
    ap.add_argument("--no-metadata-check", action="store_true",
                    help="do not require worldrig:* key-value metadata (logs written by other tools)")
    ap.add_argument("--accepted-types", action="store_true",
                    help="accept any encoding from the doc's 'Types accepted on read' instead of canonical types")
    ap.add_argument("--image-pixels", action="store_true",
                    help="compare images by decoded RGB8 pixels instead of encoded-bytes sha256")
    ap.add_argument("--max-errors", type=int, default=50, help="errors printed (default 50)")
    args = ap.parse_args()

    try:
        with open(args.expected_json) as f:
            expected = json.load(f)
    except (OSError, ValueError) as e:
        print(f"check_worldrig_log.py: cannot read {args.expected_json}: {e}", file=sys.stderr)
        sys.exit(2)

    checker = Checker(args.log, expected, args)
    try:
        n_tables = checker.run()
    except Failure as e:
        print(f"interop FAILED: {e}", file=sys.stderr)
        sys.exit(1)
    for n in checker.notes:
        print(f"note: {n}", file=sys.stderr)
    if checker.errors:
        for e in checker.errors[:args.max_errors]:
            print(f"error: {e}", file=sys.stderr)
        if len(checker.errors) > args.max_errors:
            print(f"error: ... and {len(checker.errors) - args.max_errors} more", file=sys.stderr)
        print(f"interop FAILED: {len(checker.errors)} error(s) in {args.log}", file=sys.stderr)
        sys.exit(1)
    print(f"interop ok: {n_tables} tables, {checker.rows_checked} rows")


if __name__ == "__main__":
    main()
