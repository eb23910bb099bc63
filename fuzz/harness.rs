//! The logic shared by the fuzz targets (`fuzz/fuzz_targets/*.rs`) and their regression test
//! (`tests/reader_robustness.rs`), included into both with `#[path = ...] mod harness;` so a
//! crash input found by `cargo fuzz` replays through exactly the same code in `cargo test`.
//!
//! Needs these crates in the including package: `worldrig_scenelog`, `worldrig_scene`,
//! `nalgebra`, `image` (png), `serde_json`, `tempfile`.

#![allow(dead_code)]

use std::cell::{Cell, RefCell};
use std::io;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;
use std::sync::{Mutex, Once, OnceLock};

use worldrig_scene::pose::{pose_from_parts, quat_from_xyzw};
use worldrig_scene::{Camera, CameraSpec, Cuboid, FTheta, FThetaParams, MapElement, MapElementKind, MapGeometry, ObjectSample, Pinhole, PolyDirection, Rig, Trajectory};
use worldrig_scenelog::inspect::{inspect, LogSummary};
use worldrig_scenelog::validate::{validate, Report, ValidateOptions};
use worldrig_scenelog::{ClipRecord, FrameRecord, LogError, SceneLogWriter, Source, WriterOptions};

/// The tables, in the order the `scenelog_table` target's first input byte selects them
/// (`data[0] % 6`).
pub const TABLES: [&str; 6] = ["rig", "clips", "ego_poses", "frames", "objects", "map"];

/// Image size of both cameras of the base log.
pub const IMAGE_W: u32 = 16;
pub const IMAGE_H: u32 = 12;
/// Frames per camera in the base log.
pub const FRAMES_PER_CAMERA: usize = 3;

/// The valid base log, as the bytes of one Parquet file per table (in [`TABLES`] order). The
/// frames shard the writer puts at `frames/part-00000.parquet` is kept here as `frames`.
pub fn base_tables() -> &'static [Vec<u8>; 6] {
    static BASE: OnceLock<[Vec<u8>; 6]> = OnceLock::new();
    BASE.get_or_init(|| build_base_tables().expect("building the valid base scene log"))
}

fn png(seed: u8) -> Vec<u8> {
    let img = image::RgbImage::from_fn(IMAGE_W, IMAGE_H, |x, y| image::Rgb([(x * 16) as u8, (y * 20) as u8, seed.wrapping_mul(40)]));
    let mut out = io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png).expect("encoding a PNG");
    out.into_inner()
}

fn build_base_tables() -> Result<[Vec<u8>; 6], Box<dyn std::error::Error>> {
    // Camera frames are RDF; rig frame FLU: this rotation takes camera axes to rig axes.
    let rdf = [-0.5, 0.5, -0.5, 0.5];
    let pinhole = Pinhole {
        width: IMAGE_W,
        height: IMAGE_H,
        fx: 12.0,
        fy: 12.0,
        cx: 8.0,
        cy: 6.0,
        distortion: Some([0.01, -0.002, 0.0, 0.0, 0.0]),
    };
    let ftheta = FTheta::new(FThetaParams {
        width: IMAGE_W,
        height: IMAGE_H,
        cx: 8.2,
        cy: 5.9,
        poly: vec![0.0, 0.08, 1e-4],
        poly_direction: PolyDirection::Backward,
        linear_cde: [1.0, 0.0, 0.0],
    })?;
    let rig = Rig {
        name: "fuzz_rig".into(),
        source: "fuzz harness".into(),
        cameras: vec![
            CameraSpec { name: "cam_front".into(), model: Camera::Pinhole(pinhole), rig_from_camera: pose_from_parts([1.5, 0.0, 1.4], rdf)? },
            CameraSpec { name: "cam_wide".into(), model: Camera::Ftheta(ftheta), rig_from_camera: pose_from_parts([1.4, 0.1, 1.5], rdf)? },
        ],
    };
    let t0 = 1_000_000i64;
    let clip = ClipRecord {
        clip_id: "clip_0".into(),
        rig_id: rig.name.clone(),
        start_timestamp_us: t0,
        duration_us: 200_000,
        frame_rate_hz: 10.0,
        source: Source::Synthetic,
        captions: vec!["a straight road".into(), "light traffic".into()],
        generator: "worldrig fuzz".into(),
        checkpoint_sha256: Some("0".repeat(64)),
        seed: Some(7),
        prompt: Some("drive".into()),
        trajectory_xyz_m: Some(vec![0.0, 0.0, 0.0, 1.0, 0.0, 0.0]),
        notes: Some("fuzz base log".into()),
    };
    let ts: Vec<i64> = (0..5).map(|i| t0 + i * 50_000).collect();
    let poses = ts.iter().enumerate().map(|(i, _)| pose_from_parts([i as f64 * 0.5, 0.01 * i as f64, 0.0], [0.0, 0.0, 0.0, 1.0])).collect::<Result<Vec<_>, _>>()?;
    let trajectory = Trajectory::new(ts, poses)?;
    let mut objects = Vec::new();
    for i in 0..3i64 {
        for (track, category, size) in [("t1", "car", [4.5, 1.9, 1.5]), ("t2", "pedestrian", [0.6, 0.6, 1.8])] {
            objects.push(ObjectSample {
                timestamp_us: t0 + i * 100_000,
                track_id: track.into(),
                category: category.into(),
                cuboid: Cuboid {
                    centre_m: nalgebra::Point3::new(10.0 + i as f64, if track == "t1" { 3.0 } else { -4.0 }, 0.9),
                    size_lwh_m: nalgebra::Vector3::new(size[0], size[1], size[2]),
                    world_from_box: quat_from_xyzw([0.0, 0.0, 0.0998, 0.9950])?,
                },
            });
        }
    }
    let p = nalgebra::Point3::new;
    let mut attributes = serde_json::Map::new();
    attributes.insert("colour".into(), serde_json::Value::String("white".into()));
    attributes.insert("dashed".into(), serde_json::Value::Bool(true));
    let map = vec![
        MapElement { element_id: "ll_0".into(), kind: MapElementKind::LaneLine, geometry: MapGeometry::Polyline(vec![p(0.0, 1.8, 0.0), p(30.0, 1.8, 0.0)]), attributes },
        MapElement {
            element_id: "cw_0".into(),
            kind: MapElementKind::Crosswalk,
            geometry: MapGeometry::Polygon(vec![p(20.0, -3.0, 0.0), p(23.0, -3.0, 0.0), p(23.0, 3.0, 0.0), p(20.0, 3.0, 0.0)]),
            attributes: Default::default(),
        },
        MapElement {
            element_id: "sign_0".into(),
            kind: MapElementKind::Sign,
            geometry: MapGeometry::Cuboid((0..8).map(|i| p(25.0 + (i & 1) as f64 * 0.1, -5.0 + (i >> 1 & 1) as f64, 2.0 + (i >> 2) as f64)).collect()),
            attributes: Default::default(),
        },
    ];

    let tmp = tempfile::tempdir()?;
    let dest = tmp.path().join("base");
    // Two frames per row group: the frames file has several row groups.
    let mut w = SceneLogWriter::create(&dest, WriterOptions { frames_per_row_group: 2, ..Default::default() })?;
    w.add_rig(&rig).add_clip(clip).add_ego_poses("clip_0", &trajectory).add_objects("clip_0", objects).add_map("clip_0", map);
    for i in 0..FRAMES_PER_CAMERA {
        for (c, camera) in ["cam_front", "cam_wide"].into_iter().enumerate() {
            w.add_frame(FrameRecord {
                clip_id: "clip_0".into(),
                camera: camera.into(),
                frame_index: i as i64,
                timestamp_us: t0 + i as i64 * 100_000 + c as i64,
                image_format: "png".into(),
                image: png((i * 2 + c) as u8).into(),
            })?;
        }
    }
    w.finish()?;
    let read = |rel: &str| std::fs::read(dest.join(rel));
    Ok([
        read("rig.parquet")?,
        read("clips.parquet")?,
        read("ego_poses.parquet")?,
        read("frames/part-00000.parquet")?,
        read("objects.parquet")?,
        read("map.parquet")?,
    ])
}

/// Writes the base log into `dir` with table `table` (an index into [`TABLES`]) replaced by
/// `bytes`; every table is a single `<table>.parquet` file.
pub fn write_log(dir: &Path, table: usize, bytes: &[u8]) -> io::Result<()> {
    for (i, (name, base)) in TABLES.iter().zip(base_tables()).enumerate() {
        std::fs::write(dir.join(format!("{name}.parquet")), if i == table { bytes } else { base })?;
    }
    Ok(())
}

/// What reading a log gave.
pub struct Outcome {
    pub validate: Result<Report, LogError>,
    pub inspect: Result<LogSummary, LogError>,
}

impl Outcome {
    /// Whether `validate` found the log faulty (an error or a problem report).
    pub fn validate_rejected(&self) -> bool {
        self.validate.as_ref().map_or(true, |r| !r.valid)
    }
}

/// Validates (decoding images) and inspects the log in `dir`. Either may fail; neither may panic.
pub fn check_log(dir: &Path) -> Outcome {
    let opts = ValidateOptions { max_issues: 100, decode_images: true };
    Outcome { validate: validate(dir, &opts), inspect: inspect(dir) }
}

/// The `scenelog_table` fuzz target: `data[0] % 6` picks the table, the rest is its file.
/// `None` for empty input.
pub fn scenelog_table(data: &[u8]) -> Option<Outcome> {
    let (&selector, bytes) = data.split_first()?;
    let dir = tempfile::tempdir().expect("creating a temporary directory");
    write_log(dir.path(), usize::from(selector) % TABLES.len(), bytes).expect("writing the log");
    Some(check_log(dir.path()))
}

/// A `scenelog_table` input for `table` (an index into [`TABLES`]) with file bytes `bytes`.
pub fn table_input(table: usize, bytes: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(bytes.len() + 1);
    v.push(table as u8);
    v.extend_from_slice(bytes);
    v
}

/// The `npy` fuzz target: the input as one `.npy` file and as an `.npz` archive.
pub fn npy(data: &[u8]) {
    let _ = worldrig_scenelog::npy::parse_npy(data);
    let _ = worldrig_scenelog::npy::read_npz_bytes(data);
}

/// Runs the fuzz target `target` (a directory name under `fuzz/corpus` / `fuzz/regressions`).
pub fn run_target(target: &str, data: &[u8]) -> Result<(), String> {
    match target {
        "scenelog_table" => {
            scenelog_table(data);
            Ok(())
        }
        "npy" => {
            npy(data);
            Ok(())
        }
        other => Err(format!("unknown fuzz target `{other}`")),
    }
}

thread_local! {
    /// The message, location and backtrace of the last panic on this thread.
    static LAST_PANIC: RefCell<Option<String>> = const { RefCell::new(None) };
    /// Whether this thread is inside [`catch_panic`].
    static CATCHING: Cell<bool> = const { Cell::new(false) };
}
/// The last panic on a thread-pool worker (rayon decodes images; it re-raises on the caller).
static WORKER_PANIC: Mutex<Option<String>> = Mutex::new(None);

/// Wraps the panic hook (once): a panic inside [`catch_panic`] (or on a rayon worker, which
/// re-raises it on the caller) is recorded instead of being passed on to the previous hook, which
/// prints it and, under libfuzzer-sys, aborts the process. The reader contains some panics of the
/// parquet crate itself (`catch_unwind` in `table.rs`, reported as unreadable files); only a
/// panic that escapes the API is a bug, so that is what [`catch_panic`] reports.
fn install_panic_hook() {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let worker = std::thread::current().name().is_some_and(|n| n.contains("rayon"));
            if !worker && !CATCHING.with(Cell::get) {
                return previous(info);
            }
            let msg = info
                .payload()
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| info.payload().downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "<non-string panic payload>".into());
            let loc = info.location().map(|l| format!("{}:{}:{}", l.file(), l.line(), l.column())).unwrap_or_default();
            let bt = std::backtrace::Backtrace::force_capture().to_string();
            // The frames in this project's crates and in dependencies' sources.
            let frames: Vec<&str> = bt.lines().filter(|l| l.contains("at ") && (l.contains("crates/") || l.contains(".cargo/registry"))).take(16).collect();
            let text = format!("panicked at {loc}: {msg}\n{}", frames.join("\n"));
            if worker {
                *WORKER_PANIC.lock().unwrap_or_else(|e| e.into_inner()) = Some(text.clone());
            }
            LAST_PANIC.with(|p| *p.borrow_mut() = Some(text));
        }));
    });
}

/// Runs `f`; a panic escaping it becomes `Err(message, location and backtrace frames)`.
pub fn catch_panic<T>(f: impl FnOnce() -> T) -> Result<T, String> {
    install_panic_hook();
    LAST_PANIC.with(|p| p.borrow_mut().take());
    let outer = CATCHING.with(|c| c.replace(true));
    let result = catch_unwind(AssertUnwindSafe(f));
    CATCHING.with(|c| c.set(outer));
    result.map_err(|_| {
        LAST_PANIC
            .with(|p| p.borrow_mut().take())
            .or_else(|| WORKER_PANIC.lock().unwrap_or_else(|e| e.into_inner()).take())
            .unwrap_or_else(|| "panic".into())
    })
}

/// For the fuzz targets: runs `f` and aborts (a crash for libFuzzer) when a panic escapes it.
pub fn abort_on_escaping_panic(f: impl FnOnce()) {
    if let Err(panic) = catch_panic(f) {
        eprintln!("{panic}");
        std::process::abort();
    }
}
