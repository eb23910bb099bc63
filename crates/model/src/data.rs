//! Video clips from scene logs, decoded into memory, and the tensors the models see.
//!
//! A *video* is one camera of one clip: its frames in `frame_index` order, RGB8. Tensors are
//! `[batch, 3, time, height, width]` with pixels mapped from [0, 255] to [-1, 1].

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use worldrig_scenelog::{Diag, SceneLog};

use crate::rng::SplitMix64;
use crate::ModelError;

#[derive(Debug, Clone)]
pub struct Video {
    pub log: PathBuf,
    pub clip_id: String,
    pub camera: String,
    pub width: usize,
    pub height: usize,
    /// RGB8, `width * height * 3` bytes per frame.
    pub frames: Vec<Vec<u8>>,
}

impl Video {
    pub fn name(&self) -> String {
        format!("{}:{}:{}", self.log.display(), self.clip_id, self.camera)
    }
}

/// Reads and decodes every frame of the given logs (all clips, all cameras unless `cameras` names some).
pub fn load_videos(logs: &[PathBuf], cameras: &[String]) -> Result<Vec<Video>, ModelError> {
    let mut out = Vec::new();
    for path in logs {
        out.extend(load_log(path, cameras)?);
    }
    if out.is_empty() {
        let names: Vec<String> = logs.iter().map(|p| p.display().to_string()).collect();
        return Err(ModelError::Data(format!("{}: no frames (a log of labels only?)", names.join(", "))));
    }
    Ok(out)
}

fn load_log(path: &Path, cameras: &[String]) -> Result<Vec<Video>, ModelError> {
    let log = SceneLog::open(path)?;
    let mut diag = Diag::strict();
    let mut raw: BTreeMap<(String, String), Vec<(i64, String, worldrig_scenelog::ImageBytes, String)>> = BTreeMap::new();
    let mut stream = log.frames(true);
    while let Some(batch) = stream.next_batch(&mut diag)? {
        for f in batch {
            let where_ = format!("{} table frames row {} column image", f.loc.file.display(), f.loc.row);
            let v = f.value;
            if !cameras.is_empty() && !cameras.iter().any(|c| c == &v.camera) {
                continue;
            }
            raw.entry((v.clip_id, v.camera)).or_default().push((v.frame_index, v.image_format, v.image, where_));
        }
    }
    raw.into_par_iter()
        .map(|((clip_id, camera), mut rows)| {
            rows.sort_by_key(|r| r.0);
            let mut frames = Vec::with_capacity(rows.len());
            let (mut w, mut h) = (0usize, 0usize);
            for (k, (index, format, bytes, where_)) in rows.iter().enumerate() {
                if *index != k as i64 {
                    return Err(ModelError::Data(format!(
                        "{where_}: clip {clip_id} camera {camera}: frame_index {index} where {k} was expected (frames must be contiguous from 0)"
                    )));
                }
                let fmt = match format.as_str() {
                    "png" => image::ImageFormat::Png,
                    "jpeg" => image::ImageFormat::Jpeg,
                    other => return Err(ModelError::Data(format!("{where_}: unknown image_format `{other}`"))),
                };
                let img = image::load_from_memory_with_format(bytes, fmt)
                    .map_err(|e| ModelError::Data(format!("{where_} (clip {clip_id}, camera {camera}, frame {index}): cannot decode: {e}")))?
                    .to_rgb8();
                let (iw, ih) = (img.width() as usize, img.height() as usize);
                if k == 0 {
                    (w, h) = (iw, ih);
                } else if (iw, ih) != (w, h) {
                    return Err(ModelError::Data(format!("{where_}: frame {index} is {iw}x{ih}, earlier frames {w}x{h}")));
                }
                frames.push(img.into_raw());
            }
            Ok(Video { log: path.to_path_buf(), clip_id, camera, width: w, height: h, frames })
        })
        .collect()
}

/// Writes frames `start..start+len` of `video`, cropped to `[y0, y0+ch) x [x0, x0+cw)`, into `dst`
/// laid out `[3, len, ch, cw]` in [-1, 1].
pub fn write_crop(video: &Video, start: usize, len: usize, y0: usize, x0: usize, ch: usize, cw: usize, dst: &mut [f32]) {
    let plane = ch * cw;
    assert_eq!(dst.len(), 3 * len * plane);
    for t in 0..len {
        let f = &video.frames[start + t];
        for y in 0..ch {
            let row = &f[((y0 + y) * video.width + x0) * 3..((y0 + y) * video.width + x0 + cw) * 3];
            for c in 0..3 {
                let base = (c * len + t) * plane + y * cw;
                for x in 0..cw {
                    dst[base + x] = row[x * 3 + c] as f32 * (2.0 / 255.0) - 1.0;
                }
            }
        }
    }
}

/// A random training batch `[batch, 3, frames, crop_h, crop_w]` (flattened) from the videos long and
/// large enough; drawn from `rng` only, so a seed and a step number reproduce it.
pub fn sample_batch(videos: &[Video], rng: &mut SplitMix64, batch: usize, frames: usize, crop: [usize; 2]) -> Result<Vec<f32>, ModelError> {
    let usable: Vec<&Video> = videos.iter().filter(|v| v.frames.len() >= frames && v.height >= crop[0] && v.width >= crop[1]).collect();
    if usable.is_empty() {
        return Err(ModelError::Data(format!(
            "no video has {frames} frames of at least {}x{} (height x width); have {} video(s), e.g. {}",
            crop[0],
            crop[1],
            videos.len(),
            videos.first().map(|v| format!("{} with {} frames of {}x{}", v.name(), v.frames.len(), v.height, v.width)).unwrap_or_default()
        )));
    }
    let per = 3 * frames * crop[0] * crop[1];
    let mut out = vec![0.0f32; batch * per];
    for b in 0..batch {
        let v = usable[rng.below(usable.len())];
        let start = rng.below(v.frames.len() - frames + 1);
        let y0 = rng.below(v.height - crop[0] + 1);
        let x0 = rng.below(v.width - crop[1] + 1);
        write_crop(v, start, frames, y0, x0, crop[0], crop[1], &mut out[b * per..(b + 1) * per]);
    }
    Ok(out)
}

/// Converts `[3, t, h, w]` values in [-1, 1] to `t` interleaved RGB frames in [0, 1] (clamped).
pub fn to_unit_frames(data: &[f32], t: usize, h: usize, w: usize) -> Vec<Vec<f32>> {
    let plane = h * w;
    (0..t)
        .map(|ti| {
            let mut f = vec![0.0f32; plane * 3];
            for c in 0..3 {
                let src = &data[(c * t + ti) * plane..(c * t + ti + 1) * plane];
                for (i, v) in src.iter().enumerate() {
                    f[i * 3 + c] = ((v + 1.0) * 0.5).clamp(0.0, 1.0);
                }
            }
            f
        })
        .collect()
}

/// RGB8 frame to interleaved [0, 1].
pub fn rgb8_to_unit(f: &[u8]) -> Vec<f32> {
    f.iter().map(|&v| v as f32 / 255.0).collect()
}

/// Interleaved [0, 1] to RGB8 (rounded).
pub fn unit_to_rgb8(f: &[f32]) -> Vec<u8> {
    f.iter().map(|&v| (v.clamp(0.0, 1.0) * 255.0).round() as u8).collect()
}
