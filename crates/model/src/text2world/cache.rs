//! Training windows encoded once: every `window_stride`-th start of `frames` consecutive frames of
//! every video, resized to the training resolution and encoded by the tokenizer as a clip of its
//! own (so the first latent frame of a window is an image latent, as in generation).
//!
//! On disk, in the run directory: `latents/index.json` (what each window is, its captions, the
//! per-channel statistics, the tokenizer's hash) and `latents/latents.f32` (raw little-endian f32,
//! windows one after another, each `[channels, latent frames, height, width]`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use burn::prelude::*;
use serde::{Deserialize, Serialize};
use worldrig_scenelog::{Diag, SceneLog};

use crate::data::{write_crop, Video};
use crate::tokenizer::codec::LoadedTokenizer;
use crate::train::write_atomic;
use crate::ModelError;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WindowInfo {
    pub log: PathBuf,
    pub clip_id: String,
    pub camera: String,
    /// First frame of the window in the video.
    pub start: usize,
    /// Index into [`CacheIndex::caption_sets`].
    pub captions: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CacheIndex {
    pub tokenizer_sha256: String,
    pub frames: usize,
    /// `[height, width]` the videos were resized to.
    pub resolution: [usize; 2],
    /// `[channels, latent frames, height, width]` of one window.
    pub shape: [usize; 4],
    pub windows: Vec<WindowInfo>,
    /// The captions of each clip (empty when a clip has none).
    pub caption_sets: Vec<Vec<String>>,
    /// Per-channel mean and standard deviation of the raw latents over all windows.
    pub mean: Vec<f64>,
    pub std: Vec<f64>,
}

/// Encoded training windows in memory.
#[derive(Debug, Clone)]
pub struct LatentCache {
    pub index: CacheIndex,
    /// Raw latents, window after window.
    pub data: Vec<f32>,
}

/// Resizes every frame of a video to `width x height` (bilinear with area-matched support, so
/// down-scaling averages). A video already at that size is returned unchanged.
pub fn resize_video(v: &Video, height: usize, width: usize) -> Video {
    if v.width == width && v.height == height {
        return v.clone();
    }
    use rayon::prelude::*;
    let frames = v
        .frames
        .par_iter()
        .map(|f| {
            let img = image::RgbImage::from_raw(v.width as u32, v.height as u32, f.clone()).expect("frame size matches the video");
            image::imageops::resize(&img, width as u32, height as u32, image::imageops::FilterType::Triangle).into_raw()
        })
        .collect();
    Video { log: v.log.clone(), clip_id: v.clip_id.clone(), camera: v.camera.clone(), width, height, frames }
}

/// The captions of every clip of the given logs, by (log, clip id).
pub fn read_captions(logs: &[PathBuf]) -> Result<BTreeMap<(PathBuf, String), Vec<String>>, ModelError> {
    let mut out = BTreeMap::new();
    for path in logs {
        let log = SceneLog::open(path)?;
        for c in log.read_clips(&mut Diag::strict())? {
            out.insert((path.clone(), c.value.clip_id.clone()), c.value.captions.clone());
        }
    }
    Ok(out)
}

impl LatentCache {
    /// Values per window.
    pub fn window_len(&self) -> usize {
        self.index.shape.iter().product()
    }

    pub fn len(&self) -> usize {
        self.index.windows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.index.windows.is_empty()
    }

    pub fn window(&self, i: usize) -> &[f32] {
        let n = self.window_len();
        &self.data[i * n..(i + 1) * n]
    }

    /// Window `i` normalised per channel to standard deviation `sigma_data`, written into `dst`.
    pub fn write_normalised(&self, i: usize, sigma_data: f64, dst: &mut [f32]) {
        let [c, t, h, w] = self.index.shape;
        let plane = t * h * w;
        let src = self.window(i);
        for ch in 0..c {
            let m = self.index.mean[ch] as f32;
            let s = (sigma_data / self.index.std[ch]) as f32;
            for (d, v) in dst[ch * plane..(ch + 1) * plane].iter_mut().zip(&src[ch * plane..(ch + 1) * plane]) {
                *d = (v - m) * s;
            }
        }
    }

    /// Encodes every window of `videos` (resized to `resolution = [height, width]`).
    /// `captions` maps (log, clip id) to the clip's captions; `progress(done, total)` is called
    /// after each encoded batch.
    #[allow(clippy::too_many_arguments)]
    pub fn build(
        videos: &[Video],
        captions: &BTreeMap<(PathBuf, String), Vec<String>>,
        tok: &LoadedTokenizer,
        tokenizer_sha256: &str,
        frames: usize,
        resolution: [usize; 2],
        stride: usize,
        device: &Device,
        mut progress: impl FnMut(usize, usize),
    ) -> Result<Self, ModelError> {
        let [h, w] = resolution;
        let s = tok.config.spatial_compression();
        if h % s != 0 || w % s != 0 {
            return Err(ModelError::Config(format!("train.resolution {h}x{w} (height x width) must be divisible by the tokenizer's spatial compression {s}")));
        }
        let lt = tok.config.latent_frames(frames).ok_or_else(|| {
            ModelError::Config(format!("train.frames {frames} must be 1 + {}*n for this tokenizer", tok.config.temporal_compression()))
        })?;
        let mut sets: Vec<Vec<String>> = Vec::new();
        let mut set_of: BTreeMap<(PathBuf, String), usize> = BTreeMap::new();
        let mut jobs: Vec<(usize, usize)> = Vec::new(); // (video, start)
        let mut windows = Vec::new();
        for (vi, v) in videos.iter().enumerate() {
            if v.frames.len() < frames {
                tracing::warn!(video = %v.name(), frames = v.frames.len(), needed = frames, "video too short for a training window; skipped");
                continue;
            }
            let key = (v.log.clone(), v.clip_id.clone());
            let ci = *set_of.entry(key.clone()).or_insert_with(|| {
                sets.push(captions.get(&key).cloned().unwrap_or_default());
                sets.len() - 1
            });
            let mut start = 0;
            while start + frames <= v.frames.len() {
                jobs.push((vi, start));
                windows.push(WindowInfo { log: v.log.clone(), clip_id: v.clip_id.clone(), camera: v.camera.clone(), start, captions: ci });
                start += stride;
            }
        }
        if jobs.is_empty() {
            return Err(ModelError::Data(format!(
                "no video has the {frames} frames a training window needs (have {} video(s){})",
                videos.len(),
                videos.first().map(|v| format!(", e.g. {} with {} frames", v.name(), v.frames.len())).unwrap_or_default()
            )));
        }
        for (set, (log, clip)) in sets.iter().zip(set_of.keys()) {
            if set.is_empty() {
                tracing::warn!(log = %log.display(), clip = %clip, "clip has no captions: its windows train the unconditional model only");
            }
        }
        let lh = h / s;
        let lw = w / s;
        let shape = [tok.config.latent_channels, lt, lh, lw];
        let per = shape.iter().product::<usize>();
        let mut data = Vec::with_capacity(jobs.len() * per);
        let resized: Vec<Option<Video>> = {
            let used: std::collections::BTreeSet<usize> = jobs.iter().map(|j| j.0).collect();
            videos.iter().enumerate().map(|(i, v)| used.contains(&i).then(|| resize_video(v, h, w))).collect()
        };
        const BATCH: usize = 4;
        let plane = 3 * frames * h * w;
        for (done, chunk) in jobs.chunks(BATCH).enumerate() {
            let mut x = vec![0.0f32; chunk.len() * plane];
            for (k, &(vi, start)) in chunk.iter().enumerate() {
                let v = resized[vi].as_ref().expect("resized");
                write_crop(v, start, frames, 0, 0, h, w, &mut x[k * plane..(k + 1) * plane]);
            }
            let x: Tensor<5> = Tensor::from_data(TensorData::new(x, [chunk.len(), 3, frames, h, w]), device);
            let z = tok.encode(x);
            data.extend_from_slice(z.into_data().as_slice::<f32>().map_err(|e| ModelError::Data(format!("latents: {e:?}")))?);
            progress((done * BATCH + chunk.len()).min(jobs.len()), jobs.len());
        }
        let (mean, std) = channel_stats(&data, shape);
        Ok(Self {
            index: CacheIndex {
                tokenizer_sha256: tokenizer_sha256.to_string(),
                frames,
                resolution,
                shape,
                windows,
                caption_sets: sets,
                mean,
                std,
            },
            data,
        })
    }

    /// Writes `dir/index.json` and `dir/latents.f32` (each through a temporary file).
    pub fn save(&self, dir: &Path) -> Result<(), ModelError> {
        std::fs::create_dir_all(dir).map_err(|e| ModelError::Io(dir.display().to_string(), e))?;
        let mut bytes = Vec::with_capacity(self.data.len() * 4);
        for v in &self.data {
            bytes.extend_from_slice(&v.to_le_bytes());
        }
        write_atomic(&dir.join("latents.f32"), &bytes)?;
        write_atomic(&dir.join("index.json"), serde_json::to_string(&self.index).expect("index serialises").as_bytes())
    }

    /// Reads a cache written by [`save`](Self::save); `None` when there is none.
    pub fn load(dir: &Path) -> Result<Option<Self>, ModelError> {
        let ip = dir.join("index.json");
        let dp = dir.join("latents.f32");
        if !ip.exists() || !dp.exists() {
            return Ok(None);
        }
        let text = std::fs::read_to_string(&ip).map_err(|e| ModelError::Io(ip.display().to_string(), e))?;
        let index: CacheIndex = serde_json::from_str(&text).map_err(|e| ModelError::Data(format!("{}: {e}", ip.display())))?;
        let bytes = std::fs::read(&dp).map_err(|e| ModelError::Io(dp.display().to_string(), e))?;
        let per: usize = index.shape.iter().product();
        if bytes.len() != index.windows.len() * per * 4 {
            return Err(ModelError::Data(format!(
                "{}: {} bytes, but {} windows of {:?} need {}",
                dp.display(),
                bytes.len(),
                index.windows.len(),
                index.shape,
                index.windows.len() * per * 4
            )));
        }
        let data = bytes.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect();
        Ok(Some(Self { index, data }))
    }

    /// Every caption of the cached clips (for the vocabulary).
    pub fn all_captions(&self) -> impl Iterator<Item = &str> {
        self.index.caption_sets.iter().flatten().map(String::as_str)
    }
}

/// Loads the videos and captions of `logs` (only `cameras`, when any are named) and encodes every
/// training window with `tok`, logging progress and the time taken.
#[allow(clippy::too_many_arguments)]
pub fn encode_windows(
    tok: &LoadedTokenizer,
    tokenizer_sha256: &str,
    logs: &[PathBuf],
    cameras: &[String],
    frames: usize,
    resolution: [usize; 2],
    stride: usize,
    device: &Device,
) -> Result<LatentCache, ModelError> {
    let started = std::time::Instant::now();
    let videos = crate::data::load_videos(logs, cameras)?;
    let captions = read_captions(logs)?;
    let cache = LatentCache::build(&videos, &captions, tok, tokenizer_sha256, frames, resolution, stride, device, |done, total| {
        if done == total || done % 64 == 0 {
            tracing::info!(done, total, "encoding training windows");
        }
    })?;
    tracing::info!(
        windows = cache.len(),
        videos = videos.len(),
        shape = ?cache.index.shape,
        seconds = format!("{:.1}", started.elapsed().as_secs_f64()),
        "training windows encoded"
    );
    Ok(cache)
}

/// Per-channel mean and standard deviation (floored at 1e-6) of windows laid out `shape`.
fn channel_stats(data: &[f32], shape: [usize; 4]) -> (Vec<f64>, Vec<f64>) {
    let [c, t, h, w] = shape;
    let plane = t * h * w;
    let per = c * plane;
    let mut sum = vec![0f64; c];
    let mut sq = vec![0f64; c];
    for win in data.chunks_exact(per) {
        for ch in 0..c {
            for &v in &win[ch * plane..(ch + 1) * plane] {
                sum[ch] += v as f64;
                sq[ch] += (v as f64) * (v as f64);
            }
        }
    }
    let n = (data.len() / per * plane) as f64;
    let mean: Vec<f64> = sum.iter().map(|s| s / n).collect();
    let std = sq.iter().zip(&mean).map(|(q, m)| (q / n - m * m).max(0.0).sqrt().max(1e-6)).collect();
    (mean, std)
}
