//! `worldrig sim`: generate worlds, drive the ego car through them, render every camera of a rig
//! at every frame, and write the result as a scene log with exact ground truth (ego poses,
//! objects, map, captions, provenance). Output is bitwise identical for the same arguments.

use std::path::Path;

use indicatif::{ProgressBar, ProgressStyle};
use rayon::prelude::*;
use worldrig_scene::{Cuboid, ObjectSample, Pose3, Rig, Trajectory};
use worldrig_scenelog::{ClipRecord, FrameRecord, SceneLogWriter, Source, WriterOptions};

use crate::error::SimError;
use crate::generate::{generate, WorldParams};
use crate::render::{render, CameraRays, Placed, SceneView};
use crate::texture::hash_u32;
use crate::world::World;

/// What to simulate.
#[derive(Debug, Clone)]
pub struct SimConfig {
    pub clips: usize,
    pub frames: usize,
    pub fps: f64,
    pub seed: u64,
    pub rig: Rig,
    /// Template for every clip's world (its seed is replaced per clip).
    pub world: WorldParams,
    /// Frames rendered in parallel per chunk (bounds memory).
    pub chunk_frames: usize,
    pub overwrite: bool,
    pub progress: bool,
}

/// What was written.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct SimReport {
    pub clips: Vec<String>,
    pub camera_frames: u64,
    pub png_bytes: u64,
    pub seconds: f64,
}

/// The seed of clip `index` of a run with `seed`.
pub fn clip_seed(seed: u64, index: usize) -> u64 {
    let lo = hash_u32(seed as u32 ^ hash_u32(index as u32 ^ 0x5bd1_e995));
    let hi = hash_u32((seed >> 32) as u32 ^ hash_u32(index as u32).wrapping_add(0x27d4_eb2f));
    (((hi as u64) << 32) | lo as u64) & (i64::MAX as u64)
}

/// Frame timestamps (microseconds from 0).
pub fn frame_times_us(frames: usize, fps: f64) -> Vec<i64> {
    (0..frames).map(|k| (k as f64 * 1e6 / fps).round() as i64).collect()
}

/// Everything placed in the world at time `t_us`.
pub fn scene_at(world: &World, t_us: i64) -> SceneView<'_> {
    let mut solids = Vec::with_capacity(world.statics.len() + world.agents.len() * 8);
    let identity = Pose3::identity();
    for s in &world.statics {
        let id = solids.len() as u32;
        solids.push(Placed::new(s, &identity, id));
    }
    for (i, a) in world.agents.iter().enumerate() {
        let pose = a.trajectory.pose_at(t_us);
        // The parts of one agent are culled together (group ids above every solid id).
        let group = u32::MAX / 2 + i as u32;
        for p in &a.parts {
            let id = solids.len() as u32;
            solids.push(Placed::new(p, &pose, id).in_group(group));
        }
    }
    SceneView { ground: &world.ground, env: &world.env, solids }
}

/// Encodes an RGB image as PNG (deterministic).
pub fn encode_png(img: &image::RgbImage) -> Result<Vec<u8>, SimError> {
    let mut out = Vec::with_capacity(img.len() / 2);
    let enc = image::codecs::png::PngEncoder::new_with_quality(&mut out, image::codecs::png::CompressionType::Fast, image::codecs::png::FilterType::Paeth);
    image::ImageEncoder::write_image(enc, img.as_raw(), img.width(), img.height(), image::ExtendedColorType::Rgb8).map_err(|e| SimError::Encode(e.to_string()))?;
    Ok(out)
}

fn objects_of(world: &World, times: &[i64]) -> Vec<ObjectSample> {
    let mut out = Vec::new();
    for &t in times {
        for a in &world.agents {
            let p = a.trajectory.pose_at(t);
            out.push(ObjectSample {
                timestamp_us: t,
                track_id: a.track_id.clone(),
                category: a.category.clone(),
                cuboid: Cuboid { centre_m: nalgebra::Point3::from(p.translation.vector), size_lwh_m: a.size_lwh_m, world_from_box: p.rotation },
            });
        }
    }
    out
}

/// Stops the other render workers when one panics (so that none waits for the writer forever
/// and the panic reaches the caller).
struct ReleaseOnPanic<'a> {
    stop: &'a std::sync::atomic::AtomicBool,
    written: &'a (std::sync::Mutex<usize>, std::sync::Condvar),
}

impl Drop for ReleaseOnPanic<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
            let _guard = self.written.0.lock().unwrap_or_else(|e| e.into_inner());
            self.written.1.notify_all();
        }
    }
}

/// Runs the simulation and writes the log at `out`.
pub fn simulate(cfg: &SimConfig, out: &Path) -> Result<SimReport, SimError> {
    if cfg.frames == 0 || cfg.clips == 0 || !(cfg.fps > 0.0) {
        return Err(SimError::Invalid(format!("need clips > 0, frames > 0 and fps > 0 (got {}, {}, {})", cfg.clips, cfg.frames, cfg.fps)));
    }
    cfg.rig.validate()?;
    let started = std::time::Instant::now();
    let rays: Vec<CameraRays> = cfg.rig.cameras.par_iter().map(|c| CameraRays::new(&c.model)).collect();
    let mut writer = SceneLogWriter::create(out, WriterOptions { overwrite: cfg.overwrite, ..Default::default() })?;
    writer.add_rig(&cfg.rig);
    let total = (cfg.clips * cfg.frames * cfg.rig.cameras.len()) as u64;
    let bar = if cfg.progress { ProgressBar::new(total) } else { ProgressBar::hidden() };
    bar.set_style(
        ProgressStyle::with_template("{spinner} rendering {pos}/{len} camera-frames [{elapsed_precise}] {bar:30} {per_sec} eta {eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let mut report = SimReport::default();
    let times = frame_times_us(cfg.frames, cfg.fps);
    let duration_s = times[times.len() - 1] as f64 * 1e-6;
    for c in 0..cfg.clips {
        let seed = clip_seed(cfg.seed, c);
        let params = WorldParams { seed, duration_s: duration_s + 1.0, ..cfg.world.clone() };
        let world = generate(&params);
        let clip_id = format!("sim-{:016x}-{c:03}", cfg.seed);
        tracing::info!(clip = %clip_id, layout = ?world.layout, lanes = world.lanes_each_way, manoeuvre = ?world.manoeuvre, "generated world");
        let poses: Vec<Pose3> = times.iter().map(|&t| world.ego.pose_at(t)).collect();
        let trajectory = Trajectory::new(times.clone(), poses.clone())?;
        // Render workers (one per rayon thread) take camera-frames in order from a shared counter
        // and hand them to this thread, which writes them in order. There is no barrier between
        // frames, and a worker waits before starting a job more than `window` jobs ahead of the
        // writer, which bounds memory like the old per-chunk batches.
        let cams = cfg.rig.cameras.len();
        let n_jobs = cfg.frames * cams;
        let window = (cfg.chunk_frames.max(1) * cams).max(2 * rayon::current_num_threads());
        let next = std::sync::atomic::AtomicUsize::new(0);
        let written = (std::sync::Mutex::new(0usize), std::sync::Condvar::new());
        let stop = std::sync::atomic::AtomicBool::new(false);
        std::thread::scope(|scope| -> Result<(), SimError> {
            let (tx, rx) = std::sync::mpsc::channel::<(usize, Result<Vec<u8>, SimError>)>();
            for _ in 0..rayon::current_num_threads().max(1) {
                let tx = tx.clone();
                let (world, poses, times, rays, bar, next, written, stop) = (&world, &poses, &times, &rays, &bar, &next, &written, &stop);
                scope.spawn(move || {
                    let _release = ReleaseOnPanic { stop, written };
                    loop {
                        let j = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        if j >= n_jobs {
                            break;
                        }
                        {
                            let mut w = written.0.lock().unwrap_or_else(|e| e.into_inner());
                            while j >= *w + window && !stop.load(std::sync::atomic::Ordering::Relaxed) {
                                w = written.1.wait(w).unwrap_or_else(|e| e.into_inner());
                            }
                        }
                        if stop.load(std::sync::atomic::Ordering::Relaxed) {
                            break;
                        }
                        let (k, ci) = (j / cams, j % cams);
                        let view = scene_at(world, times[k]);
                        let world_from_camera = poses[k] * cfg.rig.cameras[ci].rig_from_camera;
                        let frame = render(&rays[ci], &world_from_camera, &view);
                        let png = encode_png(&frame.image);
                        bar.inc(1);
                        if tx.send((j, png)).is_err() {
                            break;
                        }
                    }
                });
            }
            drop(tx);
            let mut write_all = || -> Result<(), SimError> {
                let mut pending = std::collections::BTreeMap::new();
                let mut j = 0;
                while j < n_jobs {
                    let Some(png) = pending.remove(&j) else {
                        let (i, png) = rx.recv().map_err(|_| SimError::Invalid("a render worker stopped".into()))?;
                        pending.insert(i, png);
                        continue;
                    };
                    let png = png?;
                    let (k, ci) = (j / cams, j % cams);
                    report.png_bytes += png.len() as u64;
                    report.camera_frames += 1;
                    writer.add_frame(FrameRecord {
                        clip_id: clip_id.clone(),
                        camera: cfg.rig.cameras[ci].name.clone(),
                        frame_index: k as i64,
                        timestamp_us: times[k],
                        image_format: "png".into(),
                        image: png.into(),
                    })?;
                    j += 1;
                    *written.0.lock().unwrap_or_else(|e| e.into_inner()) = j;
                    written.1.notify_all();
                }
                Ok(())
            };
            let result = write_all();
            if result.is_err() {
                // Release waiting workers so that the scope can end.
                stop.store(true, std::sync::atomic::Ordering::Relaxed);
                let _guard = written.0.lock().unwrap_or_else(|e| e.into_inner());
                written.1.notify_all();
            }
            result
        })?;
        let notes = serde_json::json!({
            "layout": world.layout, "lanes_each_way": world.lanes_each_way, "manoeuvre": world.manoeuvre,
            "time_of_day": world.env.time_of_day, "weather": world.env.weather, "pedestrians": cfg.world.pedestrians,
        });
        writer.add_clip(ClipRecord {
            clip_id: clip_id.clone(),
            rig_id: cfg.rig.name.clone(),
            start_timestamp_us: times[0],
            duration_us: times[times.len() - 1] - times[0],
            frame_rate_hz: cfg.fps,
            source: Source::Synthetic,
            captions: world.captions.clone(),
            generator: format!("worldrig sim {}", env!("CARGO_PKG_VERSION")),
            checkpoint_sha256: None,
            seed: Some(seed as i64),
            prompt: None,
            trajectory_xyz_m: None,
            notes: Some(notes.to_string()),
        });
        writer.add_ego_poses(&clip_id, &trajectory);
        writer.add_objects(&clip_id, objects_of(&world, &times));
        writer.add_map(&clip_id, world.map.clone());
        report.clips.push(clip_id);
    }
    bar.finish_and_clear();
    writer.finish()?;
    report.seconds = started.elapsed().as_secs_f64();
    Ok(report)
}
