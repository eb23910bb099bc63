//! Malformed scene logs are rejected with an error that names the file, table, row, column and
//! the rule broken; several problems are all reported; the CLI exits non-zero and never panics.

mod common;

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, BinaryArray, Float64Array, Int64Array, ListArray, RecordBatch, StringArray};
use arrow::datatypes::{Field, Float64Type, Schema};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::arrow::ArrowWriter;
use parquet::file::metadata::KeyValue;
use parquet::file::properties::WriterProperties;
use worldrig_scenelog::validate::{validate, Report, ValidateOptions};
use worldrig_scenelog::{Issue, Rule};

fn read_all(path: &Path) -> RecordBatch {
    let r = ParquetRecordBatchReaderBuilder::try_new(File::open(path).unwrap()).unwrap().build().unwrap();
    let batches: Vec<RecordBatch> = r.map(|b| b.unwrap()).collect();
    arrow::compute::concat_batches(&batches[0].schema(), &batches).unwrap()
}

fn write_batch(path: &Path, b: &RecordBatch, kv: Option<Vec<KeyValue>>) {
    let props = WriterProperties::builder().set_key_value_metadata(kv).build();
    let mut w = ArrowWriter::try_new(File::create(path).unwrap(), b.schema(), Some(props)).unwrap();
    w.write(b).unwrap();
    w.close().unwrap();
}

fn replace(b: &RecordBatch, name: &str, arr: ArrayRef) -> RecordBatch {
    let schema = b.schema();
    let i = schema.index_of(name).unwrap();
    let mut fields: Vec<Field> = schema.fields().iter().map(|f| f.as_ref().clone()).collect();
    fields[i] = Field::new(name, arr.data_type().clone(), true);
    let mut cols = b.columns().to_vec();
    cols[i] = arr;
    RecordBatch::try_new(Arc::new(Schema::new(fields)), cols).unwrap()
}

fn drop_col(b: &RecordBatch, name: &str) -> RecordBatch {
    let i = b.schema().index_of(name).unwrap();
    let mut b = b.clone();
    b.remove_column(i);
    b
}

fn table_path(log: &Path, table: &str) -> PathBuf {
    if table == "frames" {
        log.join("frames/part-00000.parquet")
    } else {
        log.join(format!("{table}.parquet"))
    }
}

fn edit(log: &Path, table: &str, f: impl FnOnce(&RecordBatch) -> RecordBatch) -> PathBuf {
    let p = table_path(log, table);
    let b = read_all(&p);
    write_batch(&p, &f(&b), None);
    p
}

fn f64s(b: &RecordBatch, name: &str, edit: impl Fn(usize, f64) -> f64) -> ArrayRef {
    let a = b.column_by_name(name).unwrap().as_any().downcast_ref::<Float64Array>().unwrap();
    Arc::new(Float64Array::from_iter_values(a.values().iter().enumerate().map(|(i, &v)| edit(i, v))))
}

fn i64s(b: &RecordBatch, name: &str, edit: impl Fn(usize, i64) -> i64) -> ArrayRef {
    let a = b.column_by_name(name).unwrap().as_any().downcast_ref::<Int64Array>().unwrap();
    Arc::new(Int64Array::from_iter_values(a.values().iter().enumerate().map(|(i, &v)| edit(i, v))))
}

fn strs(b: &RecordBatch, name: &str, edit: impl Fn(usize, Option<&str>) -> Option<String>) -> ArrayRef {
    let a = b.column_by_name(name).unwrap().as_any().downcast_ref::<StringArray>().unwrap();
    Arc::new(StringArray::from_iter((0..a.len()).map(|i| edit(i, a.is_valid(i).then(|| a.value(i))))))
}

fn fresh() -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let log = common::write_sample_log(&tmp.path().join("log"), 64);
    (tmp, log)
}

fn run(log: &Path) -> Report {
    validate(log, &ValidateOptions::default()).expect("validation runs")
}

/// Asserts the report has a problem with exactly this rule, file, table, row and column.
fn expect(report: &Report, rule: Rule, file: &Path, table: &str, row: Option<u64>, column: Option<&str>) -> Issue {
    assert!(!report.valid, "log accepted, expected {rule:?}");
    let found = report.problems.iter().find(|p| {
        p.rule == rule && p.file == file && p.table == Some(table) && p.row == row && p.column.as_deref() == column
    });
    match found {
        Some(i) => {
            let text = i.to_string();
            assert!(text.contains(&file.display().to_string()) && text.contains(table), "message lacks location: {text}");
            if let Some(r) = row {
                assert!(text.contains(&format!("row {r}")), "message lacks row: {text}");
            }
            if let Some(c) = column {
                assert!(text.contains(&format!("`{c}`")), "message lacks column: {text}");
            }
            i.clone()
        }
        None => panic!("no {rule:?} at {}:{table}:{row:?}:{column:?}; problems: {:#?}", file.display(), report.problems),
    }
}

#[test]
fn sample_log_is_valid() {
    let (_t, log) = fresh();
    let r = run(&log);
    assert!(r.valid, "{:#?}", r.problems);
    assert_eq!((r.clips, r.frames), (1, 6));
}

#[test]
fn nan_and_infinite_values() {
    let (_t, log) = fresh();
    let p = edit(&log, "ego_poses", |b| replace(b, "world_from_rig_tx_m", f64s(b, "world_from_rig_tx_m", |i, v| if i == 1 { f64::NAN } else { v })));
    let q = edit(&log, "objects", |b| replace(b, "centre_y_m", f64s(b, "centre_y_m", |i, v| if i == 2 { f64::INFINITY } else { v })));
    let r = run(&log);
    expect(&r, Rule::NonFinite, &p, "ego_poses", Some(1), Some("world_from_rig_tx_m"));
    expect(&r, Rule::NonFinite, &q, "objects", Some(2), Some("centre_y_m"));
}

#[test]
fn non_unit_quaternion() {
    let (_t, log) = fresh();
    let p = edit(&log, "ego_poses", |b| replace(b, "world_from_rig_qw", f64s(b, "world_from_rig_qw", |i, v| if i == 2 { 2.0 } else { v })));
    expect(&run(&log), Rule::NonUnitQuaternion, &p, "ego_poses", Some(2), Some("world_from_rig_qw"));
}

#[test]
fn duplicate_and_backwards_timestamps() {
    let (_t, log) = fresh();
    let p = edit(&log, "ego_poses", |b| replace(b, "timestamp_us", i64s(b, "timestamp_us", |i, v| if i == 1 { 1_000_000 } else { v })));
    expect(&run(&log), Rule::DuplicateTimestamp, &p, "ego_poses", Some(1), Some("timestamp_us"));
    let (_t2, log2) = fresh();
    let p2 = edit(&log2, "ego_poses", |b| replace(b, "timestamp_us", i64s(b, "timestamp_us", |i, v| if i == 2 { 1_050_000 } else { v })));
    expect(&run(&log2), Rule::NonMonotonicTimestamp, &p2, "ego_poses", Some(2), Some("timestamp_us"));
    // Frames: per camera. Rows alternate cameras (0: front, 1: left, 2: front, ...).
    let (_t3, log3) = fresh();
    let p3 = edit(&log3, "frames", |b| replace(b, "timestamp_us", i64s(b, "timestamp_us", |i, v| if i == 4 { 1_050_000 } else { v })));
    expect(&run(&log3), Rule::NonMonotonicTimestamp, &p3, "frames", Some(4), Some("timestamp_us"));
}

#[test]
fn missing_column_and_wrong_type() {
    let (_t, log) = fresh();
    let p = edit(&log, "ego_poses", |b| drop_col(b, "world_from_rig_qz"));
    let q = edit(&log, "objects", |b| {
        let ts = b.column_by_name("timestamp_us").unwrap().as_any().downcast_ref::<Int64Array>().unwrap();
        replace(b, "timestamp_us", Arc::new(StringArray::from_iter_values(ts.values().iter().map(|v| v.to_string()))))
    });
    let r = run(&log);
    expect(&r, Rule::MissingColumn, &p, "ego_poses", None, Some("world_from_rig_qz"));
    let i = expect(&r, Rule::WrongType, &q, "objects", None, Some("timestamp_us"));
    assert!(i.message.contains("Utf8") && i.message.contains("int64"), "{}", i.message);
}

#[test]
fn null_in_required_column() {
    let (_t, log) = fresh();
    let p = edit(&log, "clips", |b| replace(b, "generator", strs(b, "generator", |_, _| None)));
    expect(&run(&log), Rule::NullValue, &p, "clips", Some(0), Some("generator"));
    // A pinhole camera needs fx even though the column is nullable for f-theta rows.
    let (_t2, log2) = fresh();
    let p2 = edit(&log2, "rig", |b| {
        let a = b.column_by_name("fx_px").unwrap().as_any().downcast_ref::<Float64Array>().unwrap().clone();
        let v: Float64Array = (0..a.len()).map(|_| None::<f64>).collect();
        let _ = a;
        replace(b, "fx_px", Arc::new(v))
    });
    expect(&run(&log2), Rule::NullValue, &p2, "rig", Some(0), Some("fx_px"));
}

#[test]
fn frames_of_unknown_camera_and_bad_images() {
    let (_t, log) = fresh();
    let p = edit(&log, "frames", |b| {
        let b = replace(b, "camera", strs(b, "camera", |i, v| if i == 3 { Some("cam_rear".into()) } else { v.map(str::to_string) }));
        let img = b.column_by_name("image").unwrap().as_any().downcast_ref::<BinaryArray>().unwrap().clone();
        let wrong_size = common::png(32, 32, 1);
        let vals: Vec<Vec<u8>> = (0..img.len())
            .map(|i| match i {
                4 => img.value(i)[..img.value(i).len() / 2].to_vec(), // truncated PNG
                5 => wrong_size.clone(),
                _ => img.value(i).to_vec(),
            })
            .collect();
        replace(&b, "image", Arc::new(BinaryArray::from_iter_values(vals.iter())))
    });
    let r = run(&log);
    let i = expect(&r, Rule::UnknownCamera, &p, "frames", Some(3), Some("camera"));
    assert!(i.message.contains("cam_rear") && i.message.contains("cam_front"), "{}", i.message);
    expect(&r, Rule::UndecodableImage, &p, "frames", Some(4), Some("image"));
    let i = expect(&r, Rule::UndecodableImage, &p, "frames", Some(5), Some("image"));
    assert!(i.message.contains("32x32") && i.message.contains("64x48"), "{}", i.message);
}

#[test]
fn references_to_missing_clips_and_rigs() {
    let (_t, log) = fresh();
    let p = edit(&log, "objects", |b| replace(b, "clip_id", strs(b, "clip_id", |_, _| Some("clip_gone".into()))));
    let q = edit(&log, "clips", |b| replace(b, "rig_id", strs(b, "rig_id", |_, _| Some("no_such_rig".into()))));
    let r = run(&log);
    let i = expect(&r, Rule::MissingClip, &p, "objects", Some(0), Some("clip_id"));
    assert!(i.message.contains("clip_gone"));
    expect(&r, Rule::MissingClip, &q, "clips", Some(0), Some("rig_id"));
}

#[test]
fn truncated_non_parquet_and_missing_files() {
    let (_t, log) = fresh();
    let rig = log.join("rig.parquet");
    let bytes = std::fs::read(&rig).unwrap();
    std::fs::write(&rig, &bytes[..bytes.len() / 2]).unwrap();
    let poses = log.join("ego_poses.parquet");
    std::fs::write(&poses, b"timestamp_us,x\n1,2\n").unwrap();
    std::fs::remove_file(log.join("clips.parquet")).unwrap();
    let r = run(&log);
    expect(&r, Rule::UnreadableFile, &rig, "rig", None, None);
    expect(&r, Rule::UnreadableFile, &poses, "ego_poses", None, None);
    expect(&r, Rule::MissingTable, &log.join("clips.parquet"), "clips", None, None);
}

#[test]
fn newer_major_version_is_refused() {
    let (_t, log) = fresh();
    let p = log.join("map.parquet");
    let b = read_all(&p);
    write_batch(&p, &b, Some(vec![KeyValue::new("worldrig:format_version".to_string(), "2.0".to_string())]));
    expect(&run(&log), Rule::UnsupportedVersion, &p, "map", None, None);
}

#[test]
fn bad_values_and_duplicates() {
    let (_t, log) = fresh();
    let p = edit(&log, "map", |b| {
        let l = b.column_by_name("vertices_xyz_m").unwrap().as_any().downcast_ref::<ListArray>().unwrap();
        let rows: Vec<Option<Vec<Option<f64>>>> = (0..l.len())
            .map(|i| {
                let v = l.value(i);
                let v = v.as_any().downcast_ref::<Float64Array>().unwrap();
                let n = if i == 1 { 4 } else { v.len() };
                Some(v.values()[..n].iter().map(|&x| Some(x)).collect())
            })
            .collect();
        replace(b, "vertices_xyz_m", Arc::new(ListArray::from_iter_primitive::<Float64Type, _, _>(rows)))
    });
    let q = edit(&log, "rig", |b| replace(b, "model", strs(b, "model", |i, v| if i == 1 { Some("fisheye".into()) } else { v.map(str::to_string) })));
    let c = edit(&log, "clips", |b| arrow::compute::concat_batches(&b.schema(), [b, b]).unwrap());
    let r = run(&log);
    expect(&r, Rule::BadValue, &p, "map", Some(1), Some("vertices_xyz_m"));
    let i = expect(&r, Rule::BadValue, &q, "rig", Some(1), Some("model"));
    assert!(i.message.contains("fisheye"));
    expect(&r, Rule::DuplicateKey, &c, "clips", Some(1), Some("clip_id"));
}

#[test]
fn every_problem_is_reported_up_to_the_limit() {
    let (_t, log) = fresh();
    edit(&log, "ego_poses", |b| replace(b, "world_from_rig_ty_m", f64s(b, "world_from_rig_ty_m", |i, v| if i == 1 { v } else { f64::NAN })));
    edit(&log, "objects", |b| replace(b, "length_m", f64s(b, "length_m", |_, _| -1.0)));
    let r = run(&log);
    assert_eq!(r.problem_count, 5, "{:#?}", r.problems);
    let r1 = validate(&log, &ValidateOptions { max_issues: 1, decode_images: true }).unwrap();
    assert_eq!((r1.problem_count, r1.problems.len()), (5, 1));
}

#[test]
fn cli_exit_codes_and_json() {
    let (_t, log) = fresh();
    let ok = common::worldrig(&["log", "validate", log.to_str().unwrap()]);
    assert!(ok.status.success(), "{}", common::stdout(&ok));
    let p = edit(&log, "ego_poses", |b| replace(b, "world_from_rig_qw", f64s(b, "world_from_rig_qw", |i, v| if i == 0 { 0.5 } else { v })));
    let bad = common::worldrig(&["log", "validate", log.to_str().unwrap()]);
    assert_eq!(bad.status.code(), Some(1));
    let text = common::stdout(&bad);
    assert!(text.contains(&p.display().to_string()) && text.contains("row 0") && text.contains("`world_from_rig_qw`") && text.contains("non_unit_quaternion"), "{text}");
    let json = common::worldrig(&["log", "validate", "--json", log.to_str().unwrap()]);
    assert_eq!(json.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(v["valid"], false);
    assert_eq!(v["problems"][0]["rule"], "non_unit_quaternion");
    assert_eq!(v["problems"][0]["row"], 0);
    assert_eq!(v["problems"][0]["table"], "ego_poses");
    // Inspect refuses an invalid log with the same location, exit 2, no panic.
    let ins = common::worldrig(&["log", "inspect", log.to_str().unwrap()]);
    assert_eq!(ins.status.code(), Some(2));
    let err = String::from_utf8_lossy(&ins.stderr);
    assert!(err.contains("row 0") && err.contains("world_from_rig_qw") && !err.contains("panicked"), "{err}");
    // Not a directory / missing path.
    let missing = common::worldrig(&["log", "validate", "/nonexistent/log"]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("/nonexistent/log"));
}
