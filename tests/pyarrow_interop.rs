//! Interoperability with pyarrow, both directions:
//! - logs written by pyarrow with every accepted encoding (zstd, snappy, gzip, lz4, brotli, none,
//!   dictionary encoding, small row groups and sharded tables, large/view/narrow types, no embedded
//!   Arrow schema) are read by worldrig: each is validated, then rewritten through worldrig's
//!   domain types;
//! - pyarrow reads every rewritten log and checks metadata, canonical types and every value
//!   against the content the foreign writer started from.
//!
//! Needs python3 with pyarrow (`.ci/run` installs it). Set WORLDRIG_SKIP_PYARROW=1 to skip on a
//! machine without it; the test fails otherwise, so CI cannot silently skip it.

mod common;

use std::path::Path;
use std::process::Command;

use worldrig_scenelog::validate::{validate, ValidateOptions};

fn python_has_pyarrow() -> bool {
    Command::new("python3").args(["-c", "import pyarrow"]).status().is_ok_and(|s| s.success())
}

#[test]
fn pyarrow_and_worldrig_read_each_other() {
    if std::env::var_os("WORLDRIG_SKIP_PYARROW").is_some() {
        eprintln!("WORLDRIG_SKIP_PYARROW set: skipping");
        return;
    }
    assert!(python_has_pyarrow(), "python3 with pyarrow is required (pip install pyarrow numpy), or set WORLDRIG_SKIP_PYARROW=1");
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let tmp = tempfile::tempdir().unwrap();
    let foreign = tmp.path().join("foreign");
    let out = Command::new("python3")
        .arg(root.join("tests/interop/write_foreign.py"))
        .arg(&foreign)
        .arg("--extra")
        .output()
        .unwrap();
    assert!(out.status.success(), "write_foreign.py failed: {}", String::from_utf8_lossy(&out.stderr));
    let expected = foreign.join("expected.json");
    let variants = ["zstd", "snappy", "gzip", "none", "dictionary", "row_groups", "large_types", "lz4", "brotli", "no_arrow_schema", "views", "narrow"];
    for v in variants {
        let src = foreign.join(v);
        assert!(src.is_dir(), "variant {v} was not written");
        let report = validate(&src, &ValidateOptions::default()).unwrap();
        assert!(report.valid, "{v}: worldrig rejects a valid pyarrow log: {:#?}", report.problems);
        assert_eq!(report.frames, 6, "{v}");
        let dst = tmp.path().join(format!("rewritten_{v}"));
        let o = common::worldrig(&["log", "rewrite", src.to_str().unwrap(), "--out", dst.to_str().unwrap()]);
        assert!(o.status.success(), "{v}: rewrite failed: {}", String::from_utf8_lossy(&o.stderr));
        let check = Command::new("python3").arg(root.join("tests/interop/check_worldrig_log.py")).arg(&dst).arg(&expected).output().unwrap();
        assert!(
            check.status.success(),
            "{v}: pyarrow check of worldrig's output failed:\n{}{}",
            String::from_utf8_lossy(&check.stdout),
            String::from_utf8_lossy(&check.stderr)
        );
    }
}

#[test]
fn pyarrow_reads_worldrig_writer_output_natively() {
    if std::env::var_os("WORLDRIG_SKIP_PYARROW").is_some() {
        return;
    }
    assert!(python_has_pyarrow(), "python3 with pyarrow is required, or set WORLDRIG_SKIP_PYARROW=1");
    let tmp = tempfile::tempdir().unwrap();
    let log = common::write_sample_log(&tmp.path().join("log"), 2);
    // Frames in row groups of 2: pyarrow sees 3 row groups and all 6 images decode as PNG.
    let script = r#"
import sys, pyarrow.parquet as pq, zlib, struct
f = pq.ParquetFile(sys.argv[1] + "/frames/part-00000.parquet")
assert f.metadata.num_row_groups == 3, f.metadata.num_row_groups
kv = f.metadata.metadata
assert kv[b"worldrig:format_version"] == b"1.0" and kv[b"worldrig:table"] == b"frames", kv
t = f.read()
assert t.num_rows == 6
for img in t.column("image").to_pylist():
    assert img[:8] == b"\x89PNG\r\n\x1a\n"
    w, h = struct.unpack(">II", img[16:24])
    assert (w, h) == (64, 48), (w, h)
clips = pq.read_table(sys.argv[1] + "/clips.parquet").to_pylist()
assert clips[0]["clip_id"] == "clip_a" and clips[0]["seed"] == 7 and clips[0]["captions"] == ["a test clip"], clips
rig = pq.read_table(sys.argv[1] + "/rig.parquet").to_pylist()
assert [r["camera"] for r in rig] == ["cam_front", "cam_left"]
assert rig[1]["poly"] == [0.0, 0.02, 1e-5] and rig[1]["poly_direction"] == "backward"
print("ok")
"#;
    let o = Command::new("python3").arg("-c").arg(script).arg(&log).output().unwrap();
    assert!(o.status.success(), "{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
}
