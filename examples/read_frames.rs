//! Benchmarks streaming the `frames` table of a scene log with worldrig's reader, the Rust
//! counterpart of `tools/bench/read_pyarrow.py` (see `tools/bench/scenelog_read.sh`).
//!
//! ```text
//! cargo run --release --example read_frames -- LOG [--repeat 3] [--raw]
//! ```
//!
//! Streams every frame with `SceneLog::frames(true)` batch by batch (`FrameStream::next_batch`
//! with a strict `Diag`; at most 64 rows per batch, never more than a row group) and sums the
//! image byte lengths. The whole pass is repeated `--repeat` times and the fastest is reported as
//! one JSON line with the fields `read_pyarrow.py` prints:
//!
//! ```text
//! {"reader": "worldrig", "worldrig_version": ..., "threads": 1, "batch_size": 64, "files": ...,
//!  "rows": ..., "bytes": ..., "seconds": ..., "rows_per_s": ..., "mb_per_s": ...,
//!  "repeat": ..., "all_seconds": [...]}
//! ```
//!
//! "bytes" is the total image payload and "mb_per_s" is bytes / 1e6 / seconds, as for pyarrow.
//! `--raw` instead reads the same files with the parquet crate's `ParquetRecordBatchReader`
//! directly (all columns, batches of 64, image lengths summed from the offsets; reader
//! "parquet-rs"): a reference for the cost of worldrig's own layer on top of the decoder.
//! Exits 1 on a read error or when the passes disagree, 2 on usage errors.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use arrow::array::{Array, AsArray};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use worldrig_scenelog::reader::FRAME_BATCH_ROWS;
use worldrig_scenelog::{Diag, SceneLog, Table};

const USAGE: &str = "usage: read_frames LOG [--repeat N (3)] [--raw]";

/// One pass with worldrig's frame stream: (rows, image bytes).
fn pass_worldrig(log: &SceneLog) -> Result<(u64, u64), String> {
    let mut diag = Diag::strict();
    let mut stream = log.frames(true);
    let (mut rows, mut bytes) = (0u64, 0u64);
    while let Some(batch) = stream.next_batch(&mut diag).map_err(|e| e.to_string())? {
        rows += batch.len() as u64;
        bytes += batch.iter().map(|f| f.value.image.len() as u64).sum::<u64>();
    }
    Ok((rows, bytes))
}

/// One pass with the parquet crate alone: (rows, image bytes).
fn pass_raw(files: &[PathBuf]) -> Result<(u64, u64), String> {
    let (mut rows, mut bytes) = (0u64, 0u64);
    for path in files {
        let err = |e: &dyn std::fmt::Display| format!("{}: {e}", path.display());
        let file = File::open(path).map_err(|e| err(&e))?;
        let reader = ParquetRecordBatchReaderBuilder::try_new(file)
            .map_err(|e| err(&e))?
            .with_batch_size(FRAME_BATCH_ROWS)
            .build()
            .map_err(|e| err(&e))?;
        for batch in reader {
            let batch = batch.map_err(|e| err(&e))?;
            rows += batch.num_rows() as u64;
            let image = batch.column_by_name("image").ok_or_else(|| err(&"no `image` column"))?;
            let image = image.as_binary_opt::<i32>().ok_or_else(|| err(&format!("image column is {}, not binary", image.data_type())))?;
            let offsets = image.value_offsets();
            bytes += (offsets[offsets.len() - 1] - offsets[0]) as u64;
        }
    }
    Ok((rows, bytes))
}

fn run(log_path: &Path, repeat: usize, raw: bool) -> Result<String, String> {
    let log = SceneLog::open(log_path).map_err(|e| e.to_string())?;
    let files = log.files().table_files(Table::Frames).to_vec();
    if files.is_empty() {
        return Err(format!("{}: no frames table (frames.parquet or frames/*.parquet)", log_path.display()));
    }
    let mut times = Vec::with_capacity(repeat);
    let mut result = None;
    for _ in 0..repeat {
        let t0 = Instant::now();
        let r = if raw { pass_raw(&files)? } else { pass_worldrig(&log)? };
        times.push(t0.elapsed().as_secs_f64());
        if result.is_some_and(|prev| prev != r) {
            return Err(format!("passes disagree: {:?} vs {r:?}", result.unwrap()));
        }
        result = Some(r);
    }
    let (rows, bytes) = result.unwrap_or_default();
    let best = times.iter().copied().fold(f64::INFINITY, f64::min);
    let rate = |x: f64| if best > 0.0 { serde_json::json!(x / best) } else { serde_json::Value::Null };
    let out = serde_json::json!({
        "reader": if raw { "parquet-rs" } else { "worldrig" },
        "worldrig_version": env!("CARGO_PKG_VERSION"),
        "threads": 1,
        "batch_size": FRAME_BATCH_ROWS,
        "files": files.len(),
        "rows": rows,
        "bytes": bytes,
        "seconds": best,
        "rows_per_s": rate(rows as f64),
        "mb_per_s": rate(bytes as f64 / 1e6),
        "repeat": repeat,
        "all_seconds": times,
    });
    Ok(out.to_string())
}

fn main() -> ExitCode {
    let mut log = None;
    let mut repeat = 3usize;
    let mut raw = false;
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        match a.as_str() {
            "-h" | "--help" => {
                println!("{USAGE}");
                return ExitCode::SUCCESS;
            }
            "--raw" => raw = true,
            "--repeat" => match it.next().and_then(|v| v.parse::<usize>().ok()) {
                Some(n) if n >= 1 => repeat = n,
                _ => {
                    eprintln!("read_frames: --repeat needs an integer >= 1\n{USAGE}");
                    return ExitCode::from(2);
                }
            },
            s if s.starts_with('-') => {
                eprintln!("read_frames: unknown argument `{s}`\n{USAGE}");
                return ExitCode::from(2);
            }
            s if log.is_none() => log = Some(PathBuf::from(s)),
            s => {
                eprintln!("read_frames: unexpected argument `{s}`\n{USAGE}");
                return ExitCode::from(2);
            }
        }
    }
    let Some(log) = log else {
        eprintln!("read_frames: LOG is required\n{USAGE}");
        return ExitCode::from(2);
    };
    match run(&log, repeat, raw) {
        Ok(line) => {
            println!("{line}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("read_frames: error: {e}");
            ExitCode::FAILURE
        }
    }
}
