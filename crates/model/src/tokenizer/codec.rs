//! Using a trained tokenizer: loading a run, encoding and decoding whole videos in causal chunks,
//! latent files, and the PSNR/SSIM evaluation.

use std::path::{Path, PathBuf};
use std::time::Instant;

use burn::prelude::*;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::config::TokenizerConfig;
use super::model::Tokenizer;
use crate::data::{rgb8_to_unit, to_unit_frames, write_crop, Video};
use crate::metrics::{mse, psnr_from_mse, ssim_rgb};
use crate::train as tr;
use crate::ModelError;

/// A tokenizer ready for inference.
#[derive(Debug)]
pub struct LoadedTokenizer {
    pub config: TokenizerConfig,
    pub model: Tokenizer,
    /// The weights file it came from.
    pub weights: PathBuf,
}

/// Loads a run: its exported `model.bpk` + `tokenizer.json`, or, while it is still training, the
/// newest checkpoint (EMA weights when present).
pub fn load_run(run: &Path, device: &Device) -> Result<LoadedTokenizer, ModelError> {
    let cfg_path = run.join("tokenizer.json");
    let (config, weights) = if cfg_path.exists() && run.join("model.bpk").exists() {
        let text = std::fs::read_to_string(&cfg_path).map_err(|e| ModelError::Io(cfg_path.display().to_string(), e))?;
        let c: TokenizerConfig = serde_json::from_str(&text).map_err(|e| ModelError::Config(format!("{}: {e}", cfg_path.display())))?;
        (c, run.join("model.bpk"))
    } else {
        let rc_path = run.join("config.json");
        let text = std::fs::read_to_string(&rc_path).map_err(|e| {
            ModelError::Io(format!("{} (not a tokenizer run: no tokenizer.json + model.bpk, no config.json)", rc_path.display()), e)
        })?;
        let rc: super::train::RunConfig = serde_json::from_str(&text).map_err(|e| ModelError::Config(format!("{}: {e}", rc_path.display())))?;
        let (dir, _) = tr::latest_checkpoint(run).ok_or_else(|| ModelError::Checkpoint(format!("{}: no weights yet (no checkpoint)", run.display())))?;
        let ema = dir.join("ema.bpk");
        (rc.config.model, if ema.exists() { ema } else { dir.join("model.bpk") })
    };
    config.validate()?;
    let model = tr::load_module(config.init(device), &weights)?;
    Ok(LoadedTokenizer { config, model, weights })
}

impl LoadedTokenizer {
    /// The longest valid clip length (`1 + c*n`) not above `frames`.
    pub fn usable_frames(&self, frames: usize) -> usize {
        if frames == 0 {
            return 0;
        }
        let c = self.config.temporal_compression();
        1 + (frames - 1) / c * c
    }

    fn check_size(&self, v: &Video) -> Result<(), ModelError> {
        let s = self.config.spatial_compression();
        if v.width % s != 0 || v.height % s != 0 {
            return Err(ModelError::Data(format!(
                "{}: frames are {}x{}; the tokenizer needs width and height divisible by {s}",
                v.name(),
                v.width,
                v.height
            )));
        }
        Ok(())
    }

    /// The first `frames` frames of a video as a `[1, 3, frames, h, w]` tensor.
    pub fn video_tensor(&self, v: &Video, frames: usize, device: &Device) -> Result<Tensor<5>, ModelError> {
        self.check_size(v)?;
        let mut data = vec![0.0f32; 3 * frames * v.height * v.width];
        write_crop(v, 0, frames, 0, 0, v.height, v.width, &mut data);
        Ok(Tensor::from_data(TensorData::new(data, [1, 3, frames, v.height, v.width]), device))
    }

    pub fn encode(&self, x: Tensor<5>) -> Tensor<5> {
        self.model.encode_chunked(x, self.config.chunk_frames)
    }

    pub fn decode(&self, z: Tensor<5>) -> Tensor<5> {
        let c = self.config.temporal_compression();
        self.model.decode_chunked(z, (self.config.chunk_frames / c).max(1))
    }
}

/// Evaluation of one video.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct VideoEval {
    pub video: String,
    pub frames: usize,
    pub psnr_db: f64,
    pub ssim: f64,
}

/// `worldrig tokenizer eval` result.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EvalReport {
    pub weights: String,
    pub width: usize,
    pub height: usize,
    pub videos: Vec<VideoEval>,
    /// Mean over videos of the per-video PSNR (MSE over all frames of the video).
    pub video_psnr_db: f64,
    pub video_ssim: f64,
    /// Single frames encoded as 1-frame videos.
    pub image_psnr_db: f64,
    pub image_ssim: f64,
    pub images: usize,
    pub encode_frames_per_s: f64,
    pub decode_frames_per_s: f64,
}

/// PSNR and SSIM of reconstructions of the first `max_frames` (at most) frames of each video, and
/// of `images_per_video` single frames per video encoded as images.
pub fn evaluate(
    tok: &LoadedTokenizer,
    videos: &[Video],
    max_frames: usize,
    images_per_video: usize,
    device: &Device,
    mut progress: impl FnMut(usize, usize),
) -> Result<EvalReport, ModelError> {
    let mut out = Vec::new();
    let (mut enc_s, mut dec_s, mut nframes) = (0.0, 0.0, 0usize);
    let (mut img_mse, mut img_ssim, mut n_img) = (Vec::new(), 0.0, 0usize);
    for (i, v) in videos.iter().enumerate() {
        let frames = tok.usable_frames(v.frames.len().min(max_frames));
        if frames == 0 {
            continue;
        }
        let x = tok.video_tensor(v, frames, device)?;
        let t0 = Instant::now();
        let z = tok.encode(x);
        let z = Tensor::<5>::from_data(z.into_data(), device);
        let t1 = Instant::now();
        let y = tok.decode(z);
        let data = y.into_data();
        let t2 = Instant::now();
        enc_s += (t1 - t0).as_secs_f64();
        dec_s += (t2 - t1).as_secs_f64();
        nframes += frames;
        let rec = to_unit_frames(data.as_slice::<f32>().map_err(|e| ModelError::Data(format!("{e:?}")))?, frames, v.height, v.width);
        let per: Vec<(f64, f64)> = rec
            .par_iter()
            .enumerate()
            .map(|(k, r)| {
                let gt = rgb8_to_unit(&v.frames[k]);
                (mse(&gt, r), ssim_rgb(&gt, r, v.width, v.height))
            })
            .collect();
        let m = per.iter().map(|p| p.0).sum::<f64>() / frames as f64;
        let s = per.iter().map(|p| p.1).sum::<f64>() / frames as f64;
        out.push(VideoEval { video: v.name(), frames, psnr_db: psnr_from_mse(m), ssim: s });

        // Single images: evenly spaced frames, each a 1-frame clip.
        for j in 0..images_per_video.min(v.frames.len()) {
            let k = j * v.frames.len() / images_per_video.min(v.frames.len());
            let mut d = vec![0.0f32; 3 * v.height * v.width];
            write_crop(v, k, 1, 0, 0, v.height, v.width, &mut d);
            let x = Tensor::<5>::from_data(TensorData::new(d, [1, 3, 1, v.height, v.width]), device);
            let y = tok.model.forward(x).into_data();
            let r = &to_unit_frames(y.as_slice::<f32>().map_err(|e| ModelError::Data(format!("{e:?}")))?, 1, v.height, v.width)[0];
            let gt = rgb8_to_unit(&v.frames[k]);
            img_mse.push(mse(&gt, r));
            img_ssim += ssim_rgb(&gt, r, v.width, v.height);
            n_img += 1;
        }
        progress(i + 1, videos.len());
    }
    if out.is_empty() {
        return Err(ModelError::Data("no video long enough to evaluate".into()));
    }
    let n = out.len() as f64;
    let (w, h) = (videos[0].width, videos[0].height);
    Ok(EvalReport {
        weights: tok.weights.display().to_string(),
        width: w,
        height: h,
        video_psnr_db: out.iter().map(|v| v.psnr_db).sum::<f64>() / n,
        video_ssim: out.iter().map(|v| v.ssim).sum::<f64>() / n,
        image_psnr_db: if n_img > 0 { img_mse.iter().map(|m| psnr_from_mse(*m)).sum::<f64>() / n_img as f64 } else { f64::NAN },
        image_ssim: if n_img > 0 { img_ssim / n_img as f64 } else { f64::NAN },
        images: n_img,
        encode_frames_per_s: nframes as f64 / enc_s.max(1e-9),
        decode_frames_per_s: nframes as f64 / dec_s.max(1e-9),
        videos: out,
    })
}

/// Writes a little-endian `f32` `.npy` file.
pub fn write_npy_f32(path: &Path, shape: &[usize], data: &[f32]) -> Result<(), ModelError> {
    let dims: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
    let shape_s = if dims.len() == 1 { format!("({},)", dims[0]) } else { format!("({})", dims.join(", ")) };
    let mut header = format!("{{'descr': '<f4', 'fortran_order': False, 'shape': {shape_s}, }}");
    // Magic (6) + version (2) + length (2) + header + '\n' padded to a multiple of 64.
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut bytes = Vec::with_capacity(10 + header.len() + data.len() * 4);
    bytes.extend_from_slice(b"\x93NUMPY\x01\x00");
    bytes.extend_from_slice(&(header.len() as u16).to_le_bytes());
    bytes.extend_from_slice(header.as_bytes());
    for v in data {
        bytes.extend_from_slice(&v.to_le_bytes());
    }
    tr::write_atomic(path, &bytes)
}

/// One encoded video in a latent directory's `index.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LatentEntry {
    pub file: String,
    pub log: String,
    pub clip_id: String,
    pub camera: String,
    pub frames: usize,
    pub width: usize,
    pub height: usize,
    /// `[channels, latent_frames, h, w]`.
    pub shape: Vec<usize>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LatentIndex {
    pub tokenizer: String,
    pub config: TokenizerConfig,
    pub entries: Vec<LatentEntry>,
}
