//! Video files for generated clips and panoramas: an animated GIF (the `image` crate) and an H.264
//! MP4 (OpenH264, compiled from source by its crate, in an ISO-BMFF container written by `mp4`).
//! Both take packed RGB8 frames of one size.

use std::io::BufWriter;
use std::path::Path;

use anyhow::{bail, ensure, Context, Result};

/// `STEM.gif` and `STEM.mp4` of the same frames.
pub fn write_videos(stem: &Path, frames: &[Vec<u8>], width: usize, height: usize, fps: f64) -> Result<()> {
    write_gif(&stem.with_extension("gif"), frames, width, height, fps)?;
    write_mp4(&stem.with_extension("mp4"), frames, width, height, fps)
}

/// An animated GIF that loops forever.
fn write_gif(path: &Path, frames: &[Vec<u8>], width: usize, height: usize, fps: f64) -> Result<()> {
    use image::codecs::gif::{GifEncoder, Repeat};
    use image::{Delay, Frame, RgbaImage};
    let file = std::fs::File::create(path).with_context(|| path.display().to_string())?;
    let mut enc = GifEncoder::new_with_speed(BufWriter::new(file), 10);
    enc.set_repeat(Repeat::Infinite).with_context(|| path.display().to_string())?;
    let delay = Delay::from_numer_denom_ms((1000.0 / fps).round() as u32, 1);
    for f in frames {
        let rgba: Vec<u8> = f.chunks_exact(3).flat_map(|p| [p[0], p[1], p[2], 255]).collect();
        let img = RgbaImage::from_raw(width as u32, height as u32, rgba).context("frame size")?;
        enc.encode_frame(Frame::from_parts(img, 0, 0, delay)).with_context(|| path.display().to_string())?;
    }
    Ok(())
}

/// MP4 time units per second (the MPEG convention; exact for 10, 15, 24, 25, 30 and 60 Hz).
const TIMESCALE: u32 = 90_000;

/// The NAL units of an Annex-B byte stream, without their start codes.
fn annex_b_units(stream: &[u8]) -> Vec<&[u8]> {
    let mut starts = Vec::new(); // (start of the start code, start of the payload)
    let mut i = 0;
    while i + 3 <= stream.len() {
        if stream[i] == 0 && stream[i + 1] == 0 && stream[i + 2] == 1 {
            let sc = if i > 0 && stream[i - 1] == 0 { i - 1 } else { i };
            starts.push((sc, i + 3));
            i += 3;
        } else {
            i += 1;
        }
    }
    starts.iter().enumerate().map(|(k, &(_, p))| &stream[p..starts.get(k + 1).map_or(stream.len(), |n| n.0)]).filter(|u| !u.is_empty()).collect()
}

/// An H.264 (constrained baseline) MP4 at `fps`: rate control off (OpenH264's fixed quantiser,
/// about 38 dB on smooth synthetic frames), an IDR frame every two seconds. Odd sizes are
/// padded to even ones by repeating the last column or row (4:2:0 needs even dimensions).
/// Output is deterministic: the encoder runs on one thread.
fn write_mp4(path: &Path, frames: &[Vec<u8>], width: usize, height: usize, fps: f64) -> Result<()> {
    use openh264::encoder::{Encoder, EncoderConfig, FrameRate, IntraFramePeriod, QpRange, RateControlMode};
    use openh264::formats::{RgbSliceU8, YUVBuffer};
    use openh264::OpenH264API;
    let name = path.display().to_string();
    ensure!(!frames.is_empty(), "{name}: no frames to write");
    ensure!(width > 0 && height > 0 && width <= u16::MAX as usize && height <= u16::MAX as usize, "{name}: frame size {width}x{height} out of range");
    ensure!(fps.is_finite() && fps > 0.0, "{name}: frame rate {fps} must be positive");
    let (w2, h2) = (width.next_multiple_of(2), height.next_multiple_of(2));
    let config = EncoderConfig::new()
        .skip_frames(false)
        .rate_control_mode(RateControlMode::Off)
        .max_frame_rate(FrameRate::from_hz(fps as f32))
        .qp(QpRange::new(10, 36))
        .intra_frame_period(IntraFramePeriod::from_num_frames((2.0 * fps).round().max(1.0) as u32))
        .num_threads(1);
    let mut enc = Encoder::with_api_config(OpenH264API::from_source(), config).with_context(|| format!("{name}: starting the H.264 encoder"))?;
    let (mut sps, mut pps): (Option<Vec<u8>>, Option<Vec<u8>>) = (None, None);
    let mut samples: Vec<(Vec<u8>, bool)> = Vec::with_capacity(frames.len());
    let mut padded = vec![0u8; w2 * h2 * 3];
    let mut stream = Vec::new();
    for (k, f) in frames.iter().enumerate() {
        ensure!(f.len() == width * height * 3, "{name}: frame {k} holds {} bytes, expected {width}x{height}x3", f.len());
        for y in 0..h2 {
            let sy = y.min(height - 1);
            let row = &f[sy * width * 3..(sy + 1) * width * 3];
            let dst = &mut padded[y * w2 * 3..(y + 1) * w2 * 3];
            dst[..width * 3].copy_from_slice(row);
            if w2 > width {
                dst[width * 3..].copy_from_slice(&row[(width - 1) * 3..]);
            }
        }
        let yuv = YUVBuffer::from_rgb8_source(RgbSliceU8::new(&padded, (w2, h2)));
        stream.clear();
        enc.encode(&yuv).with_context(|| format!("{name}: encoding frame {k}"))?.write_vec(&mut stream);
        let mut sample = Vec::with_capacity(stream.len());
        let mut sync = false;
        for unit in annex_b_units(&stream) {
            match unit[0] & 0x1f {
                7 => {
                    sps.get_or_insert_with(|| unit.to_vec());
                }
                8 => {
                    pps.get_or_insert_with(|| unit.to_vec());
                }
                t => {
                    sync |= t == 5;
                    sample.extend_from_slice(&(unit.len() as u32).to_be_bytes());
                    sample.extend_from_slice(unit);
                }
            }
        }
        if sample.is_empty() {
            bail!("{name}: the encoder produced no picture for frame {k}");
        }
        samples.push((sample, sync));
    }
    let (Some(sps), Some(pps)) = (sps, pps) else { bail!("{name}: the encoder produced no sequence or picture parameter set") };
    ensure!(sps.len() >= 4, "{name}: malformed sequence parameter set");

    let file = std::fs::File::create(path).with_context(|| name.clone())?;
    let mp4_config = mp4::Mp4Config {
        major_brand: "isom".parse().expect("fourcc"),
        minor_version: 512,
        compatible_brands: ["isom", "iso2", "avc1", "mp41"].iter().map(|b| b.parse().expect("fourcc")).collect(),
        timescale: 1000,
    };
    let mut mux = mp4::Mp4Writer::write_start(BufWriter::new(file), &mp4_config).with_context(|| name.clone())?;
    mux.add_track(&mp4::TrackConfig {
        track_type: mp4::TrackType::Video,
        timescale: TIMESCALE,
        language: "und".into(),
        media_conf: mp4::MediaConfig::AvcConfig(mp4::AvcConfig { width: w2 as u16, height: h2 as u16, seq_param_set: sps, pic_param_set: pps }),
    })
    .with_context(|| name.clone())?;
    let tick = |k: usize| (k as f64 * TIMESCALE as f64 / fps).round() as u64;
    for (k, (bytes, is_sync)) in samples.into_iter().enumerate() {
        let sample = mp4::Mp4Sample { start_time: tick(k), duration: (tick(k + 1) - tick(k)) as u32, rendering_offset: 0, is_sync, bytes: bytes::Bytes::from(bytes) };
        mux.write_sample(1, &sample).with_context(|| format!("{name}: writing frame {k}"))?;
    }
    mux.write_end().with_context(|| name.clone())?;
    use std::io::Write;
    mux.into_writer().flush().with_context(|| name)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Decodes every frame of an MP4 written by `write_mp4` back to RGB8.
    fn read_mp4(path: &Path) -> (usize, usize, f64, Vec<Vec<u8>>) {
        use openh264::decoder::Decoder;
        use openh264::formats::YUVSource;
        let data = std::fs::read(path).unwrap();
        let size = data.len() as u64;
        let mut r = mp4::Mp4Reader::read_header(std::io::Cursor::new(data), size).unwrap();
        let (&id, track) = r.tracks().iter().next().unwrap();
        let (w, h) = (track.width() as usize, track.height() as usize);
        let secs = track.duration().as_secs_f64();
        let avcc = track.trak.mdia.minf.stbl.stsd.avc1.clone().unwrap().avcc;
        let mut dec = Decoder::new().unwrap();
        let mut prefix = Vec::new();
        for u in avcc.sequence_parameter_sets.iter().chain(&avcc.picture_parameter_sets) {
            prefix.extend_from_slice(&[0, 0, 0, 1]);
            prefix.extend_from_slice(&u.bytes);
        }
        let n = r.sample_count(id).unwrap();
        let mut out = Vec::new();
        for s in 1..=n {
            let sample = r.read_sample(id, s).unwrap().unwrap();
            let mut annex = if s == 1 { prefix.clone() } else { Vec::new() };
            let mut b = &sample.bytes[..];
            while b.len() >= 4 {
                let len = u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize;
                annex.extend_from_slice(&[0, 0, 0, 1]);
                annex.extend_from_slice(&b[4..4 + len]);
                b = &b[4 + len..];
            }
            let yuv = dec.decode(&annex).unwrap().expect("one picture per sample");
            assert_eq!(yuv.dimensions(), (w, h));
            let mut rgb = vec![0u8; w * h * 3];
            yuv.write_rgb8(&mut rgb);
            out.push(rgb);
        }
        (w, h, secs, out)
    }

    fn psnr(a: &[u8], b: &[u8]) -> f64 {
        let mse = a.iter().zip(b).map(|(&x, &y)| (x as f64 - y as f64).powi(2)).sum::<f64>() / a.len() as f64;
        10.0 * (255.0f64 * 255.0 / mse.max(1e-12)).log10()
    }

    /// A textured scene drifting right by 3 px per frame.
    fn clip(w: usize, h: usize, n: usize) -> Vec<Vec<u8>> {
        (0..n)
            .map(|k| {
                let mut f = vec![0u8; w * h * 3];
                for y in 0..h {
                    for x in 0..w {
                        let u = (x + 3 * k) as f64;
                        let v = y as f64;
                        let p = (y * w + x) * 3;
                        f[p] = (128.0 + 90.0 * (u * 0.11).sin() * (v * 0.07).cos()) as u8;
                        f[p + 1] = (110.0 + 60.0 * (u * 0.05 + v * 0.03).sin()) as u8;
                        f[p + 2] = (30.0 + 180.0 * v / h as f64) as u8;
                    }
                }
                f
            })
            .collect()
    }

    #[test]
    fn mp4_round_trips_through_a_decoder() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("clip.mp4");
        let frames = clip(96, 64, 25);
        write_mp4(&path, &frames, 96, 64, 10.0).unwrap();
        let (w, h, secs, decoded) = read_mp4(&path);
        assert_eq!((w, h, decoded.len()), (96, 64, 25));
        assert!((secs - 2.5).abs() < 1e-6, "duration {secs}");
        for (k, (a, b)) in frames.iter().zip(&decoded).enumerate() {
            let p = psnr(a, b);
            assert!(p > 30.0, "frame {k}: {p:.1} dB");
        }
        // Deterministic, and a different clip gives a different file.
        let again = dir.path().join("again.mp4");
        write_mp4(&again, &frames, 96, 64, 10.0).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), std::fs::read(&again).unwrap());
        write_mp4(&again, &frames[1..], 96, 64, 10.0).unwrap();
        assert_ne!(std::fs::read(&path).unwrap(), std::fs::read(&again).unwrap());
    }

    #[test]
    fn mp4_pads_odd_sizes_and_rejects_bad_input() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("odd.mp4");
        let frames = clip(45, 31, 3);
        write_mp4(&path, &frames, 45, 31, 30.0).unwrap();
        let (w, h, _, decoded) = read_mp4(&path);
        assert_eq!((w, h, decoded.len()), (46, 32, 3));
        let crop: Vec<u8> = (0..31).flat_map(|y| decoded[0][y * 46 * 3..(y * 46 + 45) * 3].to_vec()).collect();
        assert!(psnr(&frames[0], &crop) > 28.0);
        let e = write_mp4(&path, &[vec![0u8; 10]], 45, 31, 30.0).unwrap_err().to_string();
        assert!(e.contains("frame 0 holds 10 bytes"), "{e}");
        assert!(write_mp4(&path, &[], 45, 31, 30.0).is_err());
        assert!(write_mp4(&path, &frames, 45, 31, 0.0).is_err());
    }
}
