#!/usr/bin/env python3
"""Write "foreign" worldrig scene logs with pyarrow, for interop tests of the Rust reader.

Usage:
    python3 tests/interop/write_foreign.py OUTDIR [--extra] [--force]

Requires: Python >= 3.8, pyarrow, numpy (nothing else).

Every log written here has the SAME logical content (see docs/scene-log-format.md for the
format); only the physical encoding differs. Each is a subdirectory of OUTDIR:

    zstd/ snappy/ gzip/ none/   canonical Arrow types; every file compressed with that codec
                                (Parquet dictionary encoding off, so these are "plain" pages)
    dictionary/                 use_dictionary=True, zstd; every utf8 column stored as
                                dictionary<int32, utf8> (list<utf8> stays canonical)
    row_groups/                 canonical types, zstd, row_group_size=2 for every table, and
                                frames as a directory frames/part-00000.parquet (3 rows, 2 row
                                groups) + frames/part-00001.parquet (3 rows, 2 row groups); the
                                split falls mid-way through a camera's frames
    large_types/                large_utf8 for every string (also inside lists), large_binary
                                image, large_list for every list column, int32 for every
                                timestamp_us column, float32 for rig cx/cy/fx/fy and all
                                ego_poses float columns (values chosen exactly representable in
                                float32, so they still compare equal as float64)

With --extra, also (doc-accepted encodings beyond the list above):

    lz4/ brotli/                canonical types, that codec
    no_arrow_schema/            canonical types, zstd, written with store_schema=False (no
                                ARROW:schema key-value entry: types come from Parquet
                                logical types alone, as other Parquet writers produce)
    views/                      utf8_view strings, binary_view image
    narrow/                     uint16 width/height, uint8 frame_index, uint32 timestamp_us and
                                clip start/duration, float16 ego_poses quaternion,
                                fixed_size_list<float64, 5> distortion

OUTDIR/expected.json describes the logical content (same schema as tests/interop/
check_worldrig_log.py reads):

    {
      "format_version": "1.0",
      "tables": {
        "<table>": {
          "key": [column names identifying a row],
          "columns": [{"name": ..., "type": canonical type, "required": bool}, ...],
          "rows": [{column: value, ...}, ...]       # null = JSON null
        }, ...
      },
      "images": {"width": 64, "height": 48, "pixel": "..."},
      "variants": {"<subdir>": "description", ...}
    }

Canonical type names are those of the format doc: utf8, binary, int32, int64, float64,
list<float64>, list<utf8>. An `image` value is an object
    {"sha256": hex sha256 of the encoded bytes, "bytes": length, "file": "images/<camera>_<i>.png",
     "width": 64, "height": 48, "pixels_rgb8_sha256": hex sha256 of the decoded RGB8 pixels,
     row-major, no padding}
The encoded PNGs are also written to OUTDIR/images/ so a writer under test can store exactly the
same bytes (and so match "sha256"); a writer that re-encodes can compare "pixels_rgb8_sha256".

Exits non-zero with a message on failure; refuses to write into a non-empty OUTDIR unless --force.
"""

import argparse
import hashlib
import json
import os
import shutil
import struct
import sys
import zlib

try:
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq
except ImportError as e:  # pragma: no cover
    sys.exit(f"write_foreign.py: needs pyarrow and numpy ({e})")


# --------------------------------------------------------------------------------------------
# Canonical schema (docs/scene-log-format.md, "Tables")
# --------------------------------------------------------------------------------------------

R, O = True, False  # required / nullable
SCHEMA = {
    "rig": [
        ("rig_id", "utf8", R), ("camera", "utf8", R), ("model", "utf8", R),
        ("width_px", "int32", R), ("height_px", "int32", R),
        ("cx_px", "float64", R), ("cy_px", "float64", R),
        ("fx_px", "float64", O), ("fy_px", "float64", O),
        ("distortion", "list<float64>", O), ("poly", "list<float64>", O),
        ("poly_direction", "utf8", O),
        ("linear_c", "float64", O), ("linear_d", "float64", O), ("linear_e", "float64", O),
        ("rig_from_camera_tx_m", "float64", R), ("rig_from_camera_ty_m", "float64", R),
        ("rig_from_camera_tz_m", "float64", R),
        ("rig_from_camera_qx", "float64", R), ("rig_from_camera_qy", "float64", R),
        ("rig_from_camera_qz", "float64", R), ("rig_from_camera_qw", "float64", R),
    ],
    "clips": [
        ("clip_id", "utf8", R), ("rig_id", "utf8", R),
        ("start_timestamp_us", "int64", R), ("duration_us", "int64", R),
        ("frame_rate_hz", "float64", R), ("source", "utf8", R),
        ("captions", "list<utf8>", O), ("generator", "utf8", R),
        ("checkpoint_sha256", "utf8", O), ("seed", "int64", O), ("prompt", "utf8", O),
        ("trajectory_xyz_m", "list<float64>", O), ("notes", "utf8", O),
    ],
    "ego_poses": [
        ("clip_id", "utf8", R), ("timestamp_us", "int64", R),
        ("world_from_rig_tx_m", "float64", R), ("world_from_rig_ty_m", "float64", R),
        ("world_from_rig_tz_m", "float64", R),
        ("world_from_rig_qx", "float64", R), ("world_from_rig_qy", "float64", R),
        ("world_from_rig_qz", "float64", R), ("world_from_rig_qw", "float64", R),
    ],
    "frames": [
        ("clip_id", "utf8", R), ("camera", "utf8", R), ("frame_index", "int64", R),
        ("timestamp_us", "int64", R), ("image_format", "utf8", R), ("image", "binary", R),
    ],
    "objects": [
        ("clip_id", "utf8", R), ("timestamp_us", "int64", R), ("track_id", "utf8", R),
        ("category", "utf8", R),
        ("centre_x_m", "float64", R), ("centre_y_m", "float64", R), ("centre_z_m", "float64", R),
        ("length_m", "float64", R), ("width_m", "float64", R), ("height_m", "float64", R),
        ("qx", "float64", R), ("qy", "float64", R), ("qz", "float64", R), ("qw", "float64", R),
    ],
    "map": [
        ("clip_id", "utf8", R), ("element_id", "utf8", R), ("kind", "utf8", R),
        ("geometry", "utf8", R), ("vertices_xyz_m", "list<float64>", R),
        ("attributes_json", "utf8", O),
    ],
}

KEYS = {
    "rig": ["rig_id", "camera"],
    "clips": ["clip_id"],
    "ego_poses": ["clip_id", "timestamp_us"],
    "frames": ["clip_id", "camera", "frame_index"],
    "objects": ["clip_id", "track_id", "timestamp_us"],
    "map": ["clip_id", "element_id"],
}

CANONICAL_ARROW = {
    "utf8": pa.string(),
    "binary": pa.binary(),
    "int32": pa.int32(),
    "int64": pa.int64(),
    "float64": pa.float64(),
    "list<float64>": pa.list_(pa.float64()),
    "list<utf8>": pa.list_(pa.string()),
}


# --------------------------------------------------------------------------------------------
# Tiny PNG encoder (RGB8, filter 0, non-interlaced)
# --------------------------------------------------------------------------------------------

def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def encode_png_rgb8(pixels: "np.ndarray") -> bytes:
    """pixels: uint8 array of shape (height, width, 3)."""
    assert pixels.dtype == np.uint8 and pixels.ndim == 3 and pixels.shape[2] == 3
    height, width, _ = pixels.shape
    raw = b"".join(b"\x00" + pixels[y].tobytes() for y in range(height))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit, colour type 2 (RGB)
    return (b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr)
            + _png_chunk(b"IDAT", zlib.compress(raw, 9)) + _png_chunk(b"IEND", b""))


def test_image(width: int, height: int, frame_index: int, camera_index: int) -> "np.ndarray":
    """Pixel (x, y) = ((x*4 + k) % 256, (y*5) % 256, (17*camera_index) % 256)."""
    x = np.arange(width, dtype=np.int64)[None, :]
    y = np.arange(height, dtype=np.int64)[:, None]
    img = np.empty((height, width, 3), dtype=np.uint8)
    img[:, :, 0] = (x * 4 + frame_index) % 256
    img[:, :, 1] = (y * 5) % 256
    img[:, :, 2] = (17 * camera_index) % 256
    return img


# --------------------------------------------------------------------------------------------
# Logical content
# --------------------------------------------------------------------------------------------

W, H = 64, 48
CLIP = "clip_a"
T0 = 1_000_000
DT = 100_000
N = 3
Q_RDF_TO_FLU = (-0.5, 0.5, -0.5, 0.5)
CAMERAS = ["cam_front", "cam_left"]


def build_content():
    """Returns (rows per table, {image file name: png bytes})."""
    qx, qy, qz, qw = Q_RDF_TO_FLU
    rig_base = {k: None for k, _, _ in SCHEMA["rig"]}
    rig = [
        dict(rig_base, rig_id="testrig", camera="cam_front", model="pinhole", width_px=W, height_px=H,
             cx_px=32.0, cy_px=24.0, fx_px=50.0, fy_px=50.0, distortion=[0.01, -0.002, 0.0, 0.0, 0.0],
             rig_from_camera_tx_m=1.5, rig_from_camera_ty_m=0.0, rig_from_camera_tz_m=1.4,
             rig_from_camera_qx=qx, rig_from_camera_qy=qy, rig_from_camera_qz=qz, rig_from_camera_qw=qw),
        dict(rig_base, rig_id="testrig", camera="cam_left", model="ftheta", width_px=W, height_px=H,
             cx_px=32.5, cy_px=24.25, poly=[0.0, 0.02, 1e-5], poly_direction="backward",
             rig_from_camera_tx_m=1.0, rig_from_camera_ty_m=0.8, rig_from_camera_tz_m=1.3,
             rig_from_camera_qx=qx, rig_from_camera_qy=qy, rig_from_camera_qz=qz, rig_from_camera_qw=qw),
    ]
    clips = [{
        "clip_id": CLIP, "rig_id": "testrig", "start_timestamp_us": T0, "duration_us": (N - 1) * DT,
        "frame_rate_hz": 10.0, "source": "real", "captions": ["a foreign clip", "second caption"],
        "generator": "pyarrow interop", "checkpoint_sha256": None, "seed": None, "prompt": None,
        "trajectory_xyz_m": None, "notes": None,
    }]
    ego = [{
        "clip_id": CLIP, "timestamp_us": T0 + k * DT,
        "world_from_rig_tx_m": k * 1.0, "world_from_rig_ty_m": 0.0, "world_from_rig_tz_m": 0.0,
        "world_from_rig_qx": 0.0, "world_from_rig_qy": 0.0, "world_from_rig_qz": 0.0, "world_from_rig_qw": 1.0,
    } for k in range(N)]
    frames, images = [], {}
    for k in range(N):  # ordered by timestamp, then camera
        for ci, cam in enumerate(CAMERAS):
            png = encode_png_rgb8(test_image(W, H, k, ci))
            images[f"{cam}_{k}.png"] = (png, test_image(W, H, k, ci).tobytes())
            frames.append({"clip_id": CLIP, "camera": cam, "frame_index": k, "timestamp_us": T0 + k * DT,
                           "image_format": "png", "image": png, "_file": f"{cam}_{k}.png"})
    objects = [{
        "clip_id": CLIP, "timestamp_us": T0 + k * DT, "track_id": "car_1", "category": "car",
        "centre_x_m": 10.0 + k, "centre_y_m": 2.0, "centre_z_m": 0.8,
        "length_m": 4.5, "width_m": 1.9, "height_m": 1.6,
        "qx": 0.0, "qy": 0.0, "qz": 0.0, "qw": 1.0,
    } for k in range(N)]
    map_rows = [
        {"clip_id": CLIP, "element_id": "ll_1", "kind": "lane_line", "geometry": "polyline",
         "vertices_xyz_m": [0.0, 1.75, 0.0, 10.0, 1.75, 0.0, 20.0, 1.8, 0.0],
         "attributes_json": '{"color":"white"}'},
        {"clip_id": CLIP, "element_id": "cw_1", "kind": "crosswalk", "geometry": "polygon",
         "vertices_xyz_m": [12.0, -3.0, 0.0, 12.0, 3.0, 0.0, 15.0, 3.0, 0.0, 15.0, -3.0, 0.0],
         "attributes_json": None},
    ]
    return {"rig": rig, "clips": clips, "ego_poses": ego, "frames": frames, "objects": objects,
            "map": map_rows}, images


def expected_json(rows, images, variants):
    tables = {}
    for name, cols in SCHEMA.items():
        out_rows = []
        for r in rows[name]:
            o = {}
            for c, _, _ in cols:
                v = r[c]
                if c == "image":
                    png, pixels = images[r["_file"]]
                    v = {"sha256": hashlib.sha256(png).hexdigest(), "bytes": len(png),
                         "file": "images/" + r["_file"], "width": W, "height": H,
                         "pixels_rgb8_sha256": hashlib.sha256(pixels).hexdigest()}
                o[c] = v
            out_rows.append(o)
        tables[name] = {
            "key": KEYS[name],
            "columns": [{"name": c, "type": t, "required": req} for c, t, req in cols],
            "rows": out_rows,
        }
    return {
        "format_version": "1.0",
        "description": "logical content of the logs written by tests/interop/write_foreign.py",
        "tables": tables,
        "images": {"width": W, "height": H, "format": "png",
                   "pixel": "(x, y) = ((x*4 + frame_index) % 256, (y*5) % 256, (17*camera_index) % 256), "
                            "camera_index: cam_front 0, cam_left 1; RGB8"},
        "variants": variants,
    }


# --------------------------------------------------------------------------------------------
# Encodings
# --------------------------------------------------------------------------------------------

def arrow_table(name, rows, types=None):
    """Build a pyarrow table for `name`; `types` maps column -> pyarrow type (else canonical)."""
    types = types or {}
    arrays, fields = [], []
    for c, t, req in SCHEMA[name]:
        typ = types.get(c, CANONICAL_ARROW[t])
        values = [r[c] for r in rows]
        if pa.types.is_dictionary(typ):
            arr = pa.array(values, typ.value_type).dictionary_encode()
            if arr.type.index_type != typ.index_type:
                arr = arr.cast(typ)
        else:
            arr = pa.array(values, typ)
        arrays.append(arr)
        fields.append(pa.field(c, typ, nullable=not req))
    return pa.Table.from_arrays(arrays, schema=pa.schema(fields))


def canonical_types_for(name):
    return {}


def dictionary_types(name):
    return {c: pa.dictionary(pa.int32(), pa.string()) for c, t, _ in SCHEMA[name] if t == "utf8"}


def large_types(name):
    out = {}
    for c, t, _ in SCHEMA[name]:
        if t == "utf8":
            out[c] = pa.large_string()
        elif t == "binary":
            out[c] = pa.large_binary()
        elif t == "list<float64>":
            out[c] = pa.large_list(pa.float64())
        elif t == "list<utf8>":
            out[c] = pa.large_list(pa.large_string())
    if name in ("ego_poses", "frames", "objects"):
        out["timestamp_us"] = pa.int32()
    if name == "rig":
        for c in ("cx_px", "cy_px", "fx_px", "fy_px"):
            out[c] = pa.float32()
    if name == "ego_poses":
        for c, t, _ in SCHEMA[name]:
            if t == "float64":
                out[c] = pa.float32()
    return out


def view_types(name):
    out = {}
    for c, t, _ in SCHEMA[name]:
        if t == "utf8":
            out[c] = pa.string_view()
        elif t == "binary":
            out[c] = pa.binary_view()
    return out


def narrow_types(name):
    out = {}
    if name == "rig":
        out.update(width_px=pa.uint16(), height_px=pa.uint16(),
                   distortion=pa.list_(pa.float64(), 5))  # fixed_size_list
    if name == "clips":
        out.update(start_timestamp_us=pa.uint32(), duration_us=pa.uint32())
    if name in ("ego_poses", "frames", "objects"):
        out["timestamp_us"] = pa.uint32()
    if name == "frames":
        out["frame_index"] = pa.uint8()
    if name == "ego_poses":
        for c in ("world_from_rig_qx", "world_from_rig_qy", "world_from_rig_qz", "world_from_rig_qw"):
            out[c] = pa.float16()
    return out


def build_table(name, rows, types):
    types = dict(types)
    half = {c for c, t in types.items() if t == pa.float16()}
    if half:
        for c in half:
            del types[c]
    t = arrow_table(name, rows, types)
    for c in half:
        i = t.schema.get_field_index(c)
        arr = pa.array(np.array([r[c] for r in rows], dtype=np.float16))
        t = t.set_column(i, pa.field(c, pa.float16(), nullable=t.schema.field(i).nullable), arr)
    return t


BASE = {"compression": "zstd", "use_dictionary": False, "types": canonical_types_for,
        "row_group_size": None, "frames_parts": None, "store_schema": True}

VARIANTS = {
    "zstd": (dict(BASE, compression="zstd"), "canonical types, zstd"),
    "snappy": (dict(BASE, compression="snappy"), "canonical types, snappy"),
    "gzip": (dict(BASE, compression="gzip"), "canonical types, gzip"),
    "none": (dict(BASE, compression="none"), "canonical types, uncompressed"),
    "dictionary": (dict(BASE, use_dictionary=True, types=dictionary_types),
                   "utf8 columns as dictionary<int32, utf8>, Parquet dictionary encoding, zstd"),
    "row_groups": (dict(BASE, row_group_size=2, frames_parts=[(0, 3), (3, 6)]),
                   "canonical types, row groups of 2 rows, frames/ split into part-00000 and part-00001"),
    "large_types": (dict(BASE, types=large_types),
                    "large_utf8 / large_binary / large_list, int32 timestamp_us, float32 rig cx/cy/fx/fy "
                    "and ego_poses floats"),
}
EXTRA_VARIANTS = {
    "lz4": (dict(BASE, compression="lz4"), "canonical types, lz4"),
    "brotli": (dict(BASE, compression="brotli"), "canonical types, brotli"),
    "no_arrow_schema": (dict(BASE, store_schema=False), "canonical types, zstd, no ARROW:schema metadata"),
    "views": (dict(BASE, types=view_types), "utf8_view strings, binary_view image"),
    "narrow": (dict(BASE, types=narrow_types),
               "uint16 width/height, uint32 timestamps/start/duration, uint8 frame_index, float16 ego "
               "quaternion, fixed_size_list<float64, 5> distortion"),
}


def write_variant(outdir, opts, rows):
    os.makedirs(outdir)
    kw = {"compression": opts["compression"], "use_dictionary": opts["use_dictionary"],
          "store_schema": opts["store_schema"]}
    if opts["row_group_size"]:
        kw["row_group_size"] = opts["row_group_size"]
    for name in SCHEMA:
        types = opts["types"](name)
        if name == "frames" and opts["frames_parts"]:
            os.makedirs(os.path.join(outdir, "frames"))
            for i, (a, b) in enumerate(opts["frames_parts"]):
                t = build_table(name, rows[name][a:b], types)
                pq.write_table(t, os.path.join(outdir, "frames", f"part-{i:05d}.parquet"), **kw)
        else:
            t = build_table(name, rows[name], types)
            pq.write_table(t, os.path.join(outdir, f"{name}.parquet"), **kw)


def verify_variant(outdir, rows, opts):
    """Read a written variant back with pyarrow and compare with the logical rows."""
    for name in SCHEMA:
        p = os.path.join(outdir, f"{name}.parquet")
        files = [p] if os.path.exists(p) else sorted(
            os.path.join(outdir, name, f) for f in os.listdir(os.path.join(outdir, name))
            if f.endswith(".parquet") and not f.startswith((".", "_")))
        t = pa.concat_tables([pq.read_table(f) for f in files])
        if t.num_rows != len(rows[name]):
            raise RuntimeError(f"{outdir}: {name} has {t.num_rows} rows, wrote {len(rows[name])}")
        got = t.to_pylist()
        for i, (g, e) in enumerate(zip(got, rows[name])):
            for c, _, _ in SCHEMA[name]:
                gv, ev = g[c], e[c]
                if isinstance(ev, float) and gv is not None:
                    ok = abs(gv - ev) <= 1e-12 * max(1.0, abs(ev))
                elif isinstance(ev, list) and gv is not None:
                    ok = len(gv) == len(ev) and all(abs(a - b) <= 1e-12 * max(1.0, abs(b)) if isinstance(b, float) else a == b
                                                    for a, b in zip(gv, ev))
                else:
                    ok = gv == ev
                if not ok:
                    raise RuntimeError(f"{outdir}: {name} row {i} column {c}: read back {gv!r}, wrote {ev!r}")
        if opts["row_group_size"]:
            for f in files:
                md = pq.ParquetFile(f).metadata
                if md.num_rows > 2 and md.num_row_groups < 2:
                    raise RuntimeError(f"{f}: expected several row groups, got {md.num_row_groups}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("outdir")
    ap.add_argument("--extra", action="store_true",
                    help="also write lz4/, brotli/, no_arrow_schema/, views/, narrow/")
    ap.add_argument("--force", action="store_true", help="replace the variant directories if OUTDIR is not empty")
    args = ap.parse_args()

    variants = dict(VARIANTS)
    if args.extra:
        variants.update(EXTRA_VARIANTS)

    out = args.outdir
    if os.path.exists(out) and not os.path.isdir(out):
        sys.exit(f"write_foreign.py: error: {out} exists and is not a directory")
    os.makedirs(out, exist_ok=True)
    if os.listdir(out):
        if not args.force:
            sys.exit(f"write_foreign.py: error: {out} is not empty (use --force to overwrite)")
        for d in list(VARIANTS) + list(EXTRA_VARIANTS) + ["images"]:
            shutil.rmtree(os.path.join(out, d), ignore_errors=True)

    rows, images = build_content()
    try:
        for name, (opts, _) in variants.items():
            write_variant(os.path.join(out, name), opts, rows)
            verify_variant(os.path.join(out, name), rows, opts)
    except Exception as e:  # noqa: BLE001 -- report any pyarrow failure clearly
        sys.exit(f"write_foreign.py: error writing {name}/: {type(e).__name__}: {e}")

    os.makedirs(os.path.join(out, "images"))
    for fname, (png, _) in images.items():
        with open(os.path.join(out, "images", fname), "wb") as f:
            f.write(png)
    with open(os.path.join(out, "expected.json"), "w") as f:
        json.dump(expected_json(rows, images, {k: d for k, (_, d) in variants.items()}), f, indent=1)
        f.write("\n")
    print(f"wrote {len(variants)} logs ({', '.join(variants)}), images/ and expected.json to {out} "
          f"(pyarrow {pa.__version__})")


if __name__ == "__main__":
    main()
