//! Measures the feature detector and matcher on the Strecha et al. (CVPR 2008) multi-view images with
//! known cameras, and optionally on the frames of a scene log.
//!
//! ```text
//! cargo run --release -p worldrig-check --example features_strecha -- [options]
//!   --data DIR     Strecha scenes (default: ../shared/data/strecha beside the repository)
//!   --blur SIGMA   Gaussian blur both images first (pixels)
//!   --jpeg QUALITY re-encode both images as JPEG first
//!   --log DIR      also match consecutive frames of every camera of a scene log
//!   --verbose      with --log: one line per frame pair
//!   --dump DIR     with --log: write the frame images to DIR
//!   --bench N      timing only: detect + describe (and match consecutive frames) on the decoded
//!                  frames of --log (or the Strecha images without --log) N times; best run
//! ```
//!
//! Per adjacent pair: keypoints, matches, matches with Sampson distance under 2 px against the
//! ground-truth fundamental matrix (count and ratio), their median distance and the fraction of
//! 8x8 grid cells they cover. Also detection throughput (keypoints per second, one image at a time).

use std::path::PathBuf;
use std::time::Instant;

use worldrig_check::features::eval::{fundamental, pair_stats, PinholeCamera};
use worldrig_check::features::{detect_and_describe, match_features, FeatureConfig, Features, MatchConfig};
use worldrig_check::GrayImage;

fn degrade(img: GrayImage, blur_sigma: Option<f32>, jpeg_quality: Option<u8>) -> GrayImage {
    let mut img = img;
    if let Some(s) = blur_sigma {
        let g = image::GrayImage::from_raw(img.width as u32, img.height as u32, img.data.clone()).expect("size");
        let b = image::imageops::blur(&g, s);
        img = GrayImage { width: img.width, height: img.height, data: b.into_raw() };
    }
    if let Some(q) = jpeg_quality {
        let mut bytes = Vec::new();
        let enc = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut bytes, q);
        image::ImageEncoder::write_image(enc, &img.data, img.width as u32, img.height as u32, image::ExtendedColorType::L8).expect("jpeg");
        img = GrayImage::decode(&bytes, "re-encoded").expect("decode");
    }
    img
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let opt = |name: &str| args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).cloned();
    let data = opt("--data").map(PathBuf::from).unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/strecha"));
    let blur: Option<f32> = opt("--blur").and_then(|s| s.parse().ok());
    let jpeg: Option<u8> = opt("--jpeg").and_then(|s| s.parse().ok());
    let cfg = FeatureConfig::default();
    let mcfg = MatchConfig::default();
    if let Some(n) = opt("--bench").and_then(|s| s.parse::<usize>().ok()) {
        bench(&data, opt("--log").map(PathBuf::from).as_deref(), &cfg, &mcfg, n.max(1));
        return;
    }
    println!("degradation: blur sigma {blur:?}, jpeg quality {jpeg:?}");
    println!("{:<14} {:>5} {:>6} {:>6} {:>7} {:>7} {:>6} {:>8} {:>6}", "scene", "pair", "kp_a", "kp_b", "matches", "inliers", "ratio", "med_px", "spread");
    let (mut n_kp, mut secs) = (0usize, 0.0f64);
    let mut ratios = Vec::new();
    let (mut match_secs, mut n_pairs, mut n_img) = (0.0f64, 0usize, 0usize);
    for scene in ["fountain-P11", "Herz-Jesus-P8"] {
        let dir = data.join(scene);
        let mut views: Vec<(Features, PinholeCamera, usize, usize)> = Vec::new();
        for i in 0.. {
            let p = dir.join(format!("{i:04}.jpg"));
            if !p.exists() {
                break;
            }
            let img = degrade(GrayImage::open(&p).expect("image"), blur, jpeg);
            let cam = PinholeCamera::open_strecha(&dir.join(format!("{i:04}.jpg.camera"))).expect("camera");
            let t0 = Instant::now();
            let f = detect_and_describe(&img, &cfg);
            secs += t0.elapsed().as_secs_f64();
            n_kp += f.len();
            n_img += 1;
            views.push((f, cam, img.width, img.height));
        }
        for i in 0..views.len().saturating_sub(1) {
            let (a, b) = (&views[i], &views[i + 1]);
            let f = fundamental(&a.1, &b.1).expect("invertible K");
            let t0 = Instant::now();
            let m = match_features(&a.0, &b.0, &mcfg);
            match_secs += t0.elapsed().as_secs_f64();
            n_pairs += 1;
            let st = pair_stats(&a.0, &b.0, &m, &f, a.2, a.3, 2.0);
            ratios.push(st.inlier_ratio);
            println!(
                "{:<14} {:>2}-{:<2} {:>6} {:>6} {:>7} {:>7} {:>6.3} {:>8.3} {:>6.2}",
                scene, i, i + 1, a.0.len(), b.0.len(), st.matches, st.inliers, st.inlier_ratio, st.inlier_median_px, st.spread
            );
        }
    }
    ratios.sort_by(f64::total_cmp);
    if !ratios.is_empty() {
        println!("inlier ratio: min {:.3}, median {:.3}", ratios[0], ratios[ratios.len() / 2]);
    }
    println!(
        "detect+describe 1024x683: {:.0} keypoints/s ({:.1} ms per image); matching {:.1} ms per pair; {} threads",
        n_kp as f64 / secs,
        1e3 * secs / n_img.max(1) as f64,
        1e3 * match_secs / n_pairs.max(1) as f64,
        rayon::current_num_threads()
    );
    if let Some(log) = opt("--log") {
        let dump = opt("--dump").map(PathBuf::from);
        sim_frames(&PathBuf::from(log), &cfg, &mcfg, args.iter().any(|a| a == "--verbose"), dump.as_deref());
    }
}

/// Consecutive frames of each camera of a scene log: keypoints and matches.
fn sim_frames(root: &std::path::Path, cfg: &FeatureConfig, mcfg: &MatchConfig, verbose: bool, dump: Option<&std::path::Path>) {
    let log = worldrig_scenelog::SceneLog::open(root).expect("scene log");
    let mut diag = worldrig_scenelog::Diag::collect(100);
    let mut frames = log.frames(true).collect_all(&mut diag).expect("frames");
    frames.sort_by(|a, b| (&a.clip_id, &a.camera, a.frame_index).cmp(&(&b.clip_id, &b.camera, b.frame_index)));
    let (mut n_kp, mut secs, mut n_img) = (0usize, 0.0f64, 0usize);
    let mut prev: Option<(String, String, Features)> = None;
    let mut kps = Vec::new();
    let mut matches = Vec::new();
    for fr in &frames {
        let img = GrayImage::decode(fr.image.as_slice(), "frame").expect("frame image");
        let t0 = Instant::now();
        let f = detect_and_describe(&img, cfg);
        secs += t0.elapsed().as_secs_f64();
        n_kp += f.len();
        n_img += 1;
        kps.push(f.len());
        if let Some((c, cam, pf)) = &prev {
            if *c == fr.clip_id && *cam == fr.camera {
                let m = match_features(pf, &f, mcfg).len();
                if verbose {
                    println!("  {} {} frame {}: keypoints {} -> {}, matches {}", fr.clip_id, fr.camera, fr.frame_index, pf.len(), f.len(), m);
                }
                matches.push(m);
            }
        }
        if let Some(dir) = dump {
            let name = format!("{}_{}_{:04}.{}", fr.clip_id, fr.camera, fr.frame_index, fr.image_format);
            std::fs::write(dir.join(name), fr.image.as_slice()).expect("dump frame");
        }
        prev = Some((fr.clip_id.clone(), fr.camera.clone(), f));
        if n_img == 1 {
            println!("scene log frames {}x{}", img.width, img.height);
        }
    }
    kps.sort_unstable();
    matches.sort_unstable();
    let med = |v: &[usize]| v.get(v.len() / 2).copied().unwrap_or(0);
    println!(
        "scene log: {} frames, keypoints min {} median {}, consecutive-frame matches min {} median {} ({} pairs); {:.0} keypoints/s",
        n_img, kps.first().copied().unwrap_or(0), med(&kps), matches.first().copied().unwrap_or(0), med(&matches), matches.len(), n_kp as f64 / secs
    );
}

/// Best-of-`runs` timing of detection + description per image and of matching consecutive images.
fn bench(data: &std::path::Path, log: Option<&std::path::Path>, cfg: &FeatureConfig, mcfg: &MatchConfig, runs: usize) {
    let images: Vec<GrayImage> = match log {
        Some(root) => {
            let log = worldrig_scenelog::SceneLog::open(root).expect("scene log");
            let mut diag = worldrig_scenelog::Diag::collect(100);
            let mut frames = log.frames(true).collect_all(&mut diag).expect("frames");
            frames.sort_by(|a, b| (&a.clip_id, &a.camera, a.frame_index).cmp(&(&b.clip_id, &b.camera, b.frame_index)));
            frames.iter().map(|fr| GrayImage::decode(fr.image.as_slice(), "frame").expect("frame image")).collect()
        }
        None => ["fountain-P11", "Herz-Jesus-P8"]
            .iter()
            .flat_map(|scene| (0..4).map(move |i| data.join(scene).join(format!("{i:04}.jpg"))))
            .map(|p| GrayImage::open(&p).expect("image"))
            .collect(),
    };
    let (mut best_det, mut best_match, mut n_kp, mut n_match, mut hash) = (f64::MAX, f64::MAX, 0usize, 0usize, 0xcbf2_9ce4_8422_2325u64);
    for _ in 0..runs {
        let t0 = Instant::now();
        let feats: Vec<Features> = images.iter().map(|img| detect_and_describe(img, cfg)).collect();
        best_det = best_det.min(t0.elapsed().as_secs_f64());
        n_kp = feats.iter().map(|f| f.len()).sum();
        let t0 = Instant::now();
        n_match = feats.windows(2).map(|w| match_features(&w[0], &w[1], mcfg).len()).sum();
        best_match = best_match.min(t0.elapsed().as_secs_f64());
        // Fingerprint of the output (FNV-1a over keypoint fields and descriptors), to spot changes.
        hash = 0xcbf2_9ce4_8422_2325;
        for f in &feats {
            for (k, d) in f.keypoints.iter().zip(&f.descriptors) {
                let words = [k.x.to_bits() as u64, k.y.to_bits() as u64, k.angle_rad.to_bits() as u64, k.response.to_bits() as u64, d[0], d[1], d[2], d[3]];
                for w in words {
                    hash = (hash ^ w).wrapping_mul(0x0000_0100_0000_01B3);
                }
            }
        }
    }
    let n = images.len().max(1) as f64;
    println!(
        "{} images {}x{}: detect+describe {:.2} ms per image, {:.0} keypoints/s ({:.0} keypoints per image); matching {:.2} ms per pair ({} matches); {} threads, best of {}; output {:016x}",
        images.len(),
        images.first().map_or(0, |i| i.width),
        images.first().map_or(0, |i| i.height),
        1e3 * best_det / n,
        n_kp as f64 / best_det,
        n_kp as f64 / n,
        1e3 * best_match / (n - 1.0).max(1.0),
        n_match,
        rayon::current_num_threads(),
        runs,
        hash
    );
}
