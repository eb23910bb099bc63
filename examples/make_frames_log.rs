//! Writes a synthetic scene log whose `frames` table holds about `--megabytes` MB (1 MB = 1e6
//! bytes) of PNG images, for the frame-reading benchmark (`tools/bench/scenelog_read.sh`).
//!
//! ```text
//! cargo run --release --example make_frames_log -- --out DIR [--megabytes 1024]
//!     [--width 896 --height 512] [--seed 7] [--cameras 3] [--pool 12]
//! ```
//!
//! The log is valid (`worldrig log validate` passes): one pinhole rig of `--cameras` cameras of
//! the given size, one synthetic clip at 30 Hz, 10 Hz ego poses covering it, and frames cycling
//! through a pool of `--pool` distinct, deterministic textured-noise RGB PNGs (smooth multi-octave
//! value noise plus per-pixel grain, so they compress about as much as camera images do). Frames
//! are written with the default `WriterOptions` (64 frames per row group).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use image::codecs::png::{CompressionType, FilterType, PngEncoder};
use image::{ExtendedColorType, ImageEncoder};
use nalgebra::{Translation3, UnitQuaternion, Vector3};
use worldrig_scene::pose::flu_from_rdf;
use worldrig_scene::{Camera, CameraSpec, Pinhole, Pose3, Rig, Trajectory};
use worldrig_scenelog::{ClipRecord, FrameRecord, SceneLogWriter, Source, WriterOptions};

const USAGE: &str = "usage: make_frames_log --out DIR [--megabytes MB (1024)] [--width PX (896)] [--height PX (512)] \
[--seed N (7)] [--cameras N (3)] [--pool N (12)]";

struct Args {
    out: PathBuf,
    megabytes: f64,
    width: u32,
    height: u32,
    seed: u64,
    cameras: usize,
    pool: usize,
}

fn parse_args() -> Result<Args, String> {
    let mut out = None;
    let mut a = Args { out: PathBuf::new(), megabytes: 1024.0, width: 896, height: 512, seed: 7, cameras: 3, pool: 12 };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        if flag == "-h" || flag == "--help" {
            println!("{USAGE}");
            std::process::exit(0);
        }
        let mut value = || it.next().ok_or_else(|| format!("{flag} needs a value"));
        let num = |v: String| -> Result<f64, String> { v.parse::<f64>().map_err(|_| format!("{flag}: `{v}` is not a number")) };
        match flag.as_str() {
            "--out" => out = Some(PathBuf::from(value()?)),
            "--megabytes" => a.megabytes = num(value()?)?,
            "--width" => a.width = num(value()?)? as u32,
            "--height" => a.height = num(value()?)? as u32,
            "--seed" => a.seed = num(value()?)? as u64,
            "--cameras" => a.cameras = num(value()?)? as usize,
            "--pool" => a.pool = num(value()?)? as usize,
            other => return Err(format!("unknown argument `{other}`")),
        }
    }
    a.out = out.ok_or("--out is required")?;
    if !(a.megabytes > 0.0) || a.width < 16 || a.height < 16 || a.cameras == 0 || a.pool == 0 {
        return Err("--megabytes must be > 0, --width/--height >= 16, --cameras and --pool >= 1".into());
    }
    Ok(a)
}

/// splitmix64: a small deterministic generator (no extra dependency).
struct Rng(u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in [0, 1).
    fn unit(&mut self) -> f32 {
        (self.next_u64() >> 40) as f32 / (1u64 << 24) as f32
    }
}

/// A grid of random RGB values sampled with smooth (bilinear, smoothstep) interpolation.
struct ValueNoise {
    cell: f32,
    gw: usize,
    grid: Vec<[f32; 3]>,
}

impl ValueNoise {
    fn new(rng: &mut Rng, width: u32, height: u32, cell: f32) -> Self {
        let gw = (width as f32 / cell) as usize + 2;
        let gh = (height as f32 / cell) as usize + 2;
        let grid = (0..gw * gh).map(|_| [rng.unit(), rng.unit(), rng.unit()]).collect();
        Self { cell, gw, grid }
    }
    fn at(&self, x: u32, y: u32) -> [f32; 3] {
        let fx = x as f32 / self.cell;
        let fy = y as f32 / self.cell;
        let (ix, iy) = (fx as usize, fy as usize);
        let s = |t: f32| t * t * (3.0 - 2.0 * t);
        let (tx, ty) = (s(fx - ix as f32), s(fy - iy as f32));
        let g = |i: usize, j: usize| self.grid[j * self.gw + i];
        let (a, b, c, d) = (g(ix, iy), g(ix + 1, iy), g(ix, iy + 1), g(ix + 1, iy + 1));
        std::array::from_fn(|k| {
            let top = a[k] + (b[k] - a[k]) * tx;
            let bot = c[k] + (d[k] - c[k]) * tx;
            top + (bot - top) * ty
        })
    }
}

/// One deterministic textured-noise RGB image (row-major, 3 bytes per pixel).
fn texture(width: u32, height: u32, seed: u64) -> Vec<u8> {
    let mut rng = Rng(seed);
    let octaves = [(96.0, 150.0), (24.0, 60.0), (6.0, 25.0)];
    let layers: Vec<(ValueNoise, f32)> = octaves.iter().map(|&(cell, amp)| (ValueNoise::new(&mut rng, width, height, cell), amp)).collect();
    let tint = [rng.unit() * 40.0, rng.unit() * 40.0, rng.unit() * 40.0];
    let mut px = Vec::with_capacity(width as usize * height as usize * 3);
    for y in 0..height {
        // A vertical gradient (bright "sky" above, darker "road" below) under the texture.
        let base = 40.0 * (1.0 - y as f32 / height as f32);
        for x in 0..width {
            let mut v = [base + tint[0], base + tint[1], base + tint[2]];
            for (layer, amp) in &layers {
                let n = layer.at(x, y);
                for k in 0..3 {
                    v[k] += (n[k] - 0.5) * amp;
                }
            }
            // Sensor-like grain: +-6 levels per channel.
            let grain = rng.next_u64();
            for k in 0..3 {
                let g = ((grain >> (k * 8)) & 0xff) as f32 / 255.0 * 12.0 - 6.0;
                px.push((v[k] + 100.0 + g).clamp(0.0, 255.0) as u8);
            }
        }
    }
    px
}

fn encode_png(rgb: &[u8], width: u32, height: u32) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    PngEncoder::new_with_quality(&mut out, CompressionType::Default, FilterType::Adaptive)
        .write_image(rgb, width, height, ExtendedColorType::Rgb8)
        .map_err(|e| format!("encoding PNG: {e}"))?;
    Ok(out)
}

fn rig(args: &Args) -> Rig {
    let (w, h) = (args.width, args.height);
    let hfov = 100f64.to_radians();
    let f = w as f64 / 2.0 / (hfov / 2.0).tan();
    let cameras = (0..args.cameras)
        .map(|i| {
            // Spread the cameras around the car, the first facing forward.
            let yaw = i as f64 * std::f64::consts::TAU / args.cameras as f64;
            let rot = UnitQuaternion::from_axis_angle(&Vector3::z_axis(), yaw) * flu_from_rdf();
            let pos = Translation3::new(1.5 * yaw.cos(), 0.9 * yaw.sin(), 1.6);
            CameraSpec {
                name: if i == 0 { "camera_front".to_string() } else { format!("camera_{i}") },
                model: Camera::Pinhole(Pinhole::new(w, h, f, f, w as f64 / 2.0, h as f64 / 2.0)),
                rig_from_camera: Pose3::from_parts(pos, rot),
            }
        })
        .collect();
    Rig { name: "bench_rig".into(), source: "synthetic (examples/make_frames_log.rs)".into(), cameras }
}

fn run(args: Args) -> Result<(), String> {
    let t0 = Instant::now();
    let (w, h) = (args.width, args.height);
    let mut pool = Vec::with_capacity(args.pool);
    for k in 0..args.pool {
        let img_seed = args.seed.wrapping_mul(1_000_003).wrapping_add(k as u64);
        pool.push(encode_png(&texture(w, h, img_seed), w, h)?);
    }
    let pool_mean = pool.iter().map(Vec::len).sum::<usize>() as f64 / pool.len() as f64;
    let t_pool = t0.elapsed();

    let target = (args.megabytes * 1e6) as u64;
    let rig = rig(&args);
    let ncam = rig.cameras.len();
    let clip_id = "bench_clip_0000";
    let start_us: i64 = 1_700_000_000_000_000;
    let frame_step_us: i64 = 33_333; // 30 Hz

    let mut writer = SceneLogWriter::create(&args.out, WriterOptions::default()).map_err(|e| e.to_string())?;
    writer.add_rig(&rig);
    let (mut frames, mut bytes) = (0u64, 0u64);
    while bytes < target {
        let image = pool[(frames % pool.len() as u64) as usize].clone();
        bytes += image.len() as u64;
        let frame_index = (frames / ncam as u64) as i64;
        writer
            .add_frame(FrameRecord {
                clip_id: clip_id.into(),
                camera: rig.cameras[(frames % ncam as u64) as usize].name.clone(),
                frame_index,
                timestamp_us: start_us + frame_index * frame_step_us,
                image_format: "png".into(),
                image: image.into(),
            })
            .map_err(|e| e.to_string())?;
        frames += 1;
    }
    let last_us = start_us + ((frames - 1) / ncam as u64) as i64 * frame_step_us;

    // 10 Hz ego poses covering every frame: straight ahead at 10 m/s.
    let pose_step_us: i64 = 100_000;
    let n_poses = ((last_us - start_us) / pose_step_us + 2) as usize;
    let ts: Vec<i64> = (0..n_poses as i64).map(|i| start_us + i * pose_step_us).collect();
    let poses: Vec<Pose3> = ts
        .iter()
        .map(|t| Pose3::from_parts(Translation3::new((t - start_us) as f64 * 1e-5, 0.0, 0.0), UnitQuaternion::identity()))
        .collect();
    let traj = Trajectory::new(ts, poses).map_err(|e| e.to_string())?;
    writer.add_ego_poses(clip_id, &traj);
    writer.add_clip(ClipRecord {
        clip_id: clip_id.into(),
        rig_id: rig.name.clone(),
        start_timestamp_us: start_us,
        duration_us: last_us - start_us,
        frame_rate_hz: 1e6 / frame_step_us as f64,
        source: Source::Synthetic,
        captions: vec!["synthetic textured-noise frames for the scene-log read benchmark".into()],
        generator: format!("worldrig examples/make_frames_log {}", env!("CARGO_PKG_VERSION")),
        checkpoint_sha256: None,
        seed: Some(args.seed as i64),
        prompt: None,
        trajectory_xyz_m: None,
        notes: Some(format!("{} distinct PNGs of {w}x{h} cycled; target {} MB", pool.len(), args.megabytes)),
    });
    let dest = writer.finish().map_err(|e| e.to_string())?;

    let mut on_disk = 0u64;
    let mut shards = 0usize;
    let frames_dir = dest.join("frames");
    if let Ok(rd) = std::fs::read_dir(&frames_dir) {
        for e in rd.flatten() {
            on_disk += e.metadata().map(|m| m.len()).unwrap_or(0);
            shards += 1;
        }
    }
    let per_rg = WriterOptions::default().frames_per_row_group as u64;
    println!(
        "wrote {}: rig `{}` ({ncam} pinhole cameras {w}x{h}), clip `{clip_id}`, {} ego poses, {frames} frames \
         ({} per camera, ~{} row groups of <= {per_rg}), {:.1} MB of PNG ({} distinct images, mean {:.0} bytes), \
         frames table {:.1} MB in {shards} file(s); pool encoded in {:.1}s, total {:.1}s",
        dest.display(),
        rig.name,
        n_poses,
        frames.div_ceil(ncam as u64),
        frames.div_ceil(per_rg),
        bytes as f64 / 1e6,
        pool.len(),
        pool_mean,
        on_disk as f64 / 1e6,
        t_pool.as_secs_f64(),
        t0.elapsed().as_secs_f64(),
    );
    Ok(())
}

fn main() -> ExitCode {
    match parse_args() {
        Err(e) => {
            eprintln!("make_frames_log: {e}\n{USAGE}");
            ExitCode::from(2)
        }
        Ok(args) => match run(args) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("make_frames_log: error: {e}");
                ExitCode::FAILURE
            }
        },
    }
}
