//! The worldrig scene-log format: a directory of Apache Parquet tables (rig, clips, ego poses,
//! frames, objects, map) described in `docs/scene-log-format.md`.
//!
//! - [`writer::SceneLogWriter`] writes a log atomically (to a temporary directory renamed on
//!   success) with format metadata on every file.
//! - [`reader::SceneLog`] reads one back; frames are streamed one row group at a time.
//! - [`validate::validate`] checks every rule of the format and reports each problem with its
//!   file, table, row and column.
//! - [`rdshq`] imports the public RDS-HQ per-clip tar layout; [`calib`] reads NVIDIA's
//!   `av22_median_calib.npz` rig calibration; [`strecha`] imports the Strecha et al. multi-view
//!   benchmark scenes (real photographs with ground-truth cameras).
//!
//! ```
//! use worldrig_scenelog::Table;
//!
//! // Every table's canonical Arrow schema, as written; `frames` streams images per row group.
//! let frames = Table::parse("frames").unwrap();
//! let names: Vec<String> = frames.schema().fields().iter().map(|f| f.name().clone()).collect();
//! assert_eq!(names, ["clip_id", "camera", "frame_index", "timestamp_us", "image_format", "image"]);
//! assert!(Table::EgoPoses.required() && !Table::Frames.required());
//! ```

pub mod calib;
pub mod error;
pub mod inspect;
pub mod npy;
pub mod rdshq;
pub mod reader;
pub mod rewrite;
pub mod schema;
pub mod strecha;
pub mod table;
pub mod validate;
pub mod writer;

pub use error::{Diag, Issue, Loc, LogError, Rule};
pub use reader::{ClipRecord, FrameRecord, ImageBytes, SceneLog, Source};
pub use schema::{Table, FORMAT_VERSION};
pub use writer::{SceneLogWriter, WriterOptions};
