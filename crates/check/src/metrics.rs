//! TSE, CSE, pose-estimation success and TAE over a scene log (`docs/checker.md`).
//!
//! The definitions follow the multi-view evaluation of the Cosmos world-foundation-model report
//! (NVIDIA, 2025; see `DESIGN.md` section 6):
//!
//! - every frame of every camera is decoded, converted to gray and described once
//!   ([`crate::features`]);
//! - a *temporal* pair is two consecutive frames of one camera, a *cross* pair the same frame of
//!   two cameras whose fields of view overlap ([`crate::overlap`], from the rig calibration);
//! - each pair's matches are lifted to bearing rays through the camera model. For the Sampson
//!   error the rays are re-projected into an ideal pinhole view of the camera (same focal length
//!   at the principal point, rays within [`MAX_RECTIFIED_ANGLE_DEG`] of the optical axis), a
//!   fundamental matrix is fitted by RANSAC, and the pair scores the median over its inliers of
//!   sqrt(Sampson error) in pixels. TSE and CSE are the medians over a clip's temporal and cross
//!   pairs;
//! - the relative pose of each pair is estimated on the rays (5-point essential matrix, RANSAC,
//!   cheirality, zero-baseline test) and compared with the log's poses: a pair succeeds when
//!   rotation and translation-direction errors are under the thresholds and enough inliers
//!   support the model ([`SuccessThresholds`]);
//! - TAE: each camera's temporal poses are chained into visual odometry (relative scale carried
//!   from step to step by triangulating the points two steps share), aligned to the logged camera
//!   centres by a similarity transform ([`crate::align`]), and scored by ATE and RPE.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use nalgebra::{Isometry3, Point2, Point3, Rotation3, Unit, UnitQuaternion, Vector3};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use worldrig_scene::{CameraModel, Pose3, Rig, Trajectory};
use worldrig_scenelog::{ClipRecord, Diag, SceneLog};

use crate::align::{rmse, rpe, umeyama};
use crate::error::CheckError;
use crate::features::{detect_and_describe, match_features, FeatureConfig, Features, MatchConfig};
use crate::image::GrayImage;
use crate::overlap::{focal_px, overlapping_pairs};
use crate::result::*;
use crate::twoview::{fit_fundamental, relative_pose, PoseStatus, TwoViewConfig};

/// Matches whose rays are further than this from the optical axis are left out of the Sampson
/// error (an ideal pinhole view stretches the periphery of a wide f-theta image without bound).
pub const MAX_RECTIFIED_ANGLE_DEG: f64 = 60.0;

/// Everything that decides the checker's output; saved in the report.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CheckOptions {
    pub features: FeatureConfig,
    pub matching: MatchConfig,
    pub two_view: TwoViewConfig,
    pub thresholds: SuccessThresholds,
    /// Check only these clips (all when empty).
    pub clips: Vec<String>,
    /// Only these cameras (all when empty).
    pub cameras: Vec<String>,
    /// Camera pairs overlapping less than this (the smaller directed fraction) get no CSE.
    pub min_overlap: f64,
    pub temporal: bool,
    pub cross: bool,
    /// Use every `frame_step`-th frame.
    pub frame_step: usize,
    /// At most this many frames per clip (after the step).
    pub max_frames: Option<usize>,
    /// Match visualisations per clip in the HTML report.
    pub previews: usize,
}

impl Default for SuccessThresholds {
    fn default() -> Self {
        Self {
            max_rotation_error_deg: 2.0,
            max_translation_error_deg: 10.0,
            min_inliers: 20,
            zero_baseline_m: 0.05,
            clip_min_pair_success: 0.5,
        }
    }
}

impl Default for CheckOptions {
    fn default() -> Self {
        Self {
            features: FeatureConfig::default(),
            matching: MatchConfig::default(),
            two_view: TwoViewConfig::default(),
            thresholds: SuccessThresholds::default(),
            clips: Vec::new(),
            cameras: Vec::new(),
            min_overlap: 0.15,
            temporal: true,
            cross: true,
            frame_step: 1,
            max_frames: None,
            previews: 2,
        }
    }
}

/// Encoded frames per (clip, camera): (frame index, timestamp, image bytes, where it came from).
type RawFrames = BTreeMap<(String, String), Vec<(i64, i64, worldrig_scenelog::ImageBytes, String)>>;

/// One decoded and described frame.
struct FrameData {
    frame_index: i64,
    timestamp_us: i64,
    gray: GrayImage,
    features: Features,
    /// Bearing ray of each keypoint (None outside the camera model's domain).
    rays: Vec<Option<Unit<Vector3<f64>>>>,
}

/// A pair to evaluate: camera indices (into the clip's camera list) and frame positions.
#[derive(Debug, Clone, Copy)]
struct PairJob {
    kind: PairKind,
    cam_a: usize,
    cam_b: usize,
    pos_a: usize,
    pos_b: usize,
}

/// A pair's result plus what TAE and the previews need.
struct PairOut {
    result: PairResult,
    /// Estimated `b_from_a` (rotation, unit translation or zero) when the pose was estimated.
    rotation: Option<Rotation3<f64>>,
    translation_dir: Option<Vector3<f64>>,
    /// Essential-matrix inlier correspondences (keypoint indices in a and b).
    inlier_matches: Vec<(u32, u32)>,
    /// All putative matches (for previews) and which are fundamental inliers.
    matches: Vec<(u32, u32)>,
    f_inlier: Vec<bool>,
}

/// The camera's pose in the world at a frame: `world_from_rig(t) * rig_from_camera`.
fn world_from_camera(poses: &Trajectory, rig: &Rig, cam: usize, t_us: i64) -> Pose3 {
    poses.pose_at(t_us) * rig.cameras[cam].rig_from_camera
}

/// Runs the checker on a scene log.
///
/// `progress(done, total)` is called as frames are described and pairs evaluated.
pub fn check_log(path: &Path, opts: &CheckOptions, progress: &(dyn Fn(usize, usize) + Sync)) -> Result<CheckReport, CheckError> {
    let started = Instant::now();
    if opts.frame_step == 0 {
        return Err(CheckError::Invalid("frame step must be at least 1".into()));
    }
    let log = SceneLog::open(path)?;
    let mut diag = Diag::strict();
    let labels = log.read_labels(&mut diag)?;
    let clips: Vec<&ClipRecord> = labels
        .clips
        .iter()
        .map(|c| &c.value)
        .filter(|c| opts.clips.is_empty() || opts.clips.iter().any(|id| id == &c.clip_id))
        .collect();
    for id in &opts.clips {
        if !clips.iter().any(|c| &c.clip_id == id) {
            return Err(CheckError::Invalid(format!("{}: no clip `{id}` in the clips table", path.display())));
        }
    }
    if clips.is_empty() {
        return Err(CheckError::Invalid(format!("{}: the log has no clips", path.display())));
    }

    // Frame bytes per (clip, camera), in frame order.
    let read_started = Instant::now();
    type Raw = (i64, i64, worldrig_scenelog::ImageBytes, String);
    let mut raw: BTreeMap<(String, String), Vec<Raw>> = BTreeMap::new();
    let mut stream = log.frames(true);
    while let Some(batch) = stream.next_batch(&mut diag)? {
        for f in batch {
            let what = format!(
                "{} table frames row {} column image (clip {}, camera {}, frame {})",
                f.loc.file.display(),
                f.loc.row,
                f.value.clip_id,
                f.value.camera,
                f.value.frame_index
            );
            let v = f.value;
            if !clips.iter().any(|c| c.clip_id == v.clip_id) {
                continue;
            }
            if !opts.cameras.is_empty() && !opts.cameras.iter().any(|c| c == &v.camera) {
                continue;
            }
            raw.entry((v.clip_id, v.camera)).or_default().push((v.frame_index, v.timestamp_us, v.image, what));
        }
    }

    let mut decode_s = read_started.elapsed().as_secs_f64();
    let without: Vec<&str> = clips.iter().filter(|c| !raw.keys().any(|(clip, _)| clip == &c.clip_id)).map(|c| c.clip_id.as_str()).collect();
    if without.len() == clips.len() {
        return Err(CheckError::Invalid(format!(
            "{}: no frames for clip(s) {}{}: nothing to check (a log of labels only, e.g. an imported RDS-HQ layout without videos)",
            path.display(),
            without.join(", "),
            if opts.cameras.is_empty() { String::new() } else { format!(" with camera(s) {}", opts.cameras.join(", ")) }
        )));
    }
    for id in &without {
        tracing::warn!("{}: clip {id} has no frames; it is reported with no pairs", path.display());
    }
    let mut clip_reports = Vec::new();
    for clip in &clips {
        let rig = &labels
            .rigs
            .get(&clip.rig_id)
            .ok_or_else(|| CheckError::Invalid(format!("{}: clip `{}` names rig `{}`, which the rigs table lacks", path.display(), clip.clip_id, clip.rig_id)))?
            .value;
        let poses = &labels
            .poses
            .get(&clip.clip_id)
            .ok_or_else(|| CheckError::Invalid(format!("{}: clip `{}` has no ego poses", path.display(), clip.clip_id)))?
            .1;
        clip_reports.push(check_clip(clip, rig, poses, &mut raw, opts, progress, &mut decode_s)?);
    }

    let elapsed_s = started.elapsed().as_secs_f64();
    let summary = summarize(&clip_reports, elapsed_s, decode_s);
    Ok(CheckReport {
        log: path.display().to_string(),
        tool: format!("worldrig {}", env!("CARGO_PKG_VERSION")),
        config: serde_json::to_value(opts).unwrap_or(serde_json::Value::Null),
        thresholds: opts.thresholds.clone(),
        summary,
        clips: clip_reports,
    })
}

/// Median of the finite values (mean of the middle two for an even count); `None` when none.
pub(crate) fn median(mut v: Vec<f64>) -> Option<f64> {
    v.retain(|x| x.is_finite());
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    Some(if n % 2 == 1 { v[n / 2] } else { 0.5 * (v[n / 2 - 1] + v[n / 2]) })
}

fn rate(v: impl Iterator<Item = bool>) -> Option<f64> {
    let (mut n, mut k) = (0usize, 0usize);
    for s in v {
        n += 1;
        k += s as usize;
    }
    (n > 0).then(|| k as f64 / n as f64)
}

fn check_clip(
    clip: &ClipRecord,
    rig: &Rig,
    poses: &Trajectory,
    raw: &mut RawFrames,
    opts: &CheckOptions,
    progress: &(dyn Fn(usize, usize) + Sync),
    decode_s: &mut f64,
) -> Result<ClipReport, CheckError> {
    // Cameras of the rig that have frames in this clip, in rig order.
    let mut cams: Vec<usize> = Vec::new();
    let mut frames_raw = Vec::new();
    for (ci, spec) in rig.cameras.iter().enumerate() {
        if let Some(mut v) = raw.remove(&(clip.clip_id.clone(), spec.name.clone())) {
            v.sort_by_key(|f| f.0);
            let mut v: Vec<_> = v.into_iter().step_by(opts.frame_step).collect();
            if let Some(m) = opts.max_frames {
                v.truncate(m);
            }
            cams.push(ci);
            frames_raw.push(v);
        }
    }
    let names: Vec<String> = cams.iter().map(|&c| rig.cameras[c].name.clone()).collect();
    let n_frames = frames_raw.iter().map(|v| v.len()).max().unwrap_or(0);

    // Pairs.
    let mut jobs = Vec::new();
    if opts.temporal {
        for (k, frames) in frames_raw.iter().enumerate() {
            for p in 0..frames.len().saturating_sub(1) {
                jobs.push(PairJob { kind: PairKind::Temporal, cam_a: k, cam_b: k, pos_a: p, pos_b: p + 1 });
            }
        }
    }
    let overlaps: Vec<(usize, usize, f64)> = if opts.cross {
        let sub_idx: BTreeMap<usize, usize> = cams.iter().enumerate().map(|(k, &c)| (c, k)).collect();
        overlapping_pairs(rig, opts.min_overlap)
            .into_iter()
            .filter_map(|p| Some((*sub_idx.get(&p.a)?, *sub_idx.get(&p.b)?, p.fraction)))
            .collect()
    } else {
        Vec::new()
    };
    for &(a, b, _) in &overlaps {
        for (pa, fa) in frames_raw[a].iter().enumerate() {
            if let Some(pb) = frames_raw[b].iter().position(|fb| fb.0 == fa.0) {
                jobs.push(PairJob { kind: PairKind::Cross, cam_a: a, cam_b: b, pos_a: pa, pos_b: pb });
            }
        }
    }

    let total_frames: usize = frames_raw.iter().map(|v| v.len()).sum();
    let total = total_frames + jobs.len();
    let done = AtomicUsize::new(0);
    let tick = || {
        let d = done.fetch_add(1, Ordering::Relaxed) + 1;
        progress(d, total);
    };

    // Decode every frame, then describe each once.
    let flat: Vec<(usize, usize)> = frames_raw.iter().enumerate().flat_map(|(k, v)| (0..v.len()).map(move |p| (k, p))).collect();
    let decode_started = Instant::now();
    let decoded: Vec<Result<GrayImage, CheckError>> = flat
        .par_iter()
        .map(|&(k, p)| {
            let (_, _, bytes, what) = &frames_raw[k][p];
            GrayImage::decode(bytes, what)
        })
        .collect();
    *decode_s += decode_started.elapsed().as_secs_f64();
    let described: Vec<Result<FrameData, CheckError>> = flat
        .par_iter()
        .zip(decoded)
        .map(|(&(k, p), gray)| {
            let (idx, t, _, what) = &frames_raw[k][p];
            let gray = gray?;
            let model = &rig.cameras[cams[k]].model;
            if gray.width != model.width() as usize || gray.height != model.height() as usize {
                return Err(CheckError::Invalid(format!(
                    "{what}: image is {}x{} but camera {} is calibrated for {}x{}",
                    gray.width,
                    gray.height,
                    rig.cameras[cams[k]].name,
                    model.width(),
                    model.height()
                )));
            }
            let features = detect_and_describe(&gray, &opts.features);
            let rays = features.keypoints.iter().map(|kp| model.unproject(&Point2::new(kp.x as f64, kp.y as f64))).collect();
            tick();
            Ok(FrameData { frame_index: *idx, timestamp_us: *t, gray, features, rays })
        })
        .collect();
    let mut frames: Vec<Vec<FrameData>> = frames_raw.iter().map(|v| Vec::with_capacity(v.len())).collect();
    for ((k, _), d) in flat.iter().zip(described) {
        frames[*k].push(d?);
    }
    drop(frames_raw);

    let focal: Vec<f64> = cams.iter().map(|&c| focal_px(&rig.cameras[c].model)).collect();
    let max_cos = MAX_RECTIFIED_ANGLE_DEG.to_radians().cos();

    let outs: Vec<PairOut> = jobs
        .par_iter()
        .enumerate()
        .map(|(j, job)| {
            let out = eval_pair(job, j, &frames, &cams, &names, &focal, max_cos, rig, poses, opts);
            tick();
            out
        })
        .collect();

    // Aggregate.
    let mut tse = Vec::new();
    for (k, name) in names.iter().enumerate() {
        let per: Vec<Option<f64>> =
            outs.iter().filter(|o| o.result.kind == PairKind::Temporal && o.result.camera_a == *name).map(|o| o.result.sampson_px).collect();
        if frames[k].len() >= 2 && opts.temporal {
            tse.push(CameraTse { camera: name.clone(), median_px: median(per.iter().flatten().copied().collect()), per_frame_px: per });
        }
    }
    let mut cse = Vec::new();
    for &(a, b, frac) in &overlaps {
        let per: Vec<Option<f64>> = outs
            .iter()
            .filter(|o| o.result.kind == PairKind::Cross && o.result.camera_a == names[a] && o.result.camera_b == names[b])
            .map(|o| o.result.sampson_px)
            .collect();
        cse.push(CameraPairCse {
            camera_a: names[a].clone(),
            camera_b: names[b].clone(),
            overlap_fraction: frac,
            median_px: median(per.iter().flatten().copied().collect()),
            per_frame_px: per,
        });
    }
    let pairs: Vec<PairResult> = outs.iter().map(|o| o.result.clone()).collect();
    let of = |kind: Option<PairKind>| pairs.iter().filter(move |p| kind.is_none_or(|k| p.kind == k));
    let pose_success_rate = rate(of(Some(PairKind::Temporal)).map(|p| p.success));
    let trajectories = (0..cams.len()).filter(|_| opts.temporal).map(|k| camera_trajectory(k, &names, &frames, &jobs, &outs, rig, &cams, poses)).collect();
    let previews = make_previews(opts.previews, &jobs, &outs, &frames, &names);

    Ok(ClipReport {
        clip_id: clip.clip_id.clone(),
        cameras: names.clone(),
        frames: n_frames,
        tse_px: median(of(Some(PairKind::Temporal)).filter_map(|p| p.sampson_px).collect()),
        cse_px: median(of(Some(PairKind::Cross)).filter_map(|p| p.sampson_px).collect()),
        tse_logged_px: median(of(Some(PairKind::Temporal)).filter_map(|p| p.logged_sampson_px).collect()),
        cse_logged_px: median(of(Some(PairKind::Cross)).filter_map(|p| p.logged_sampson_px).collect()),
        temporal_success_rate: rate(of(Some(PairKind::Temporal)).map(|p| p.success)),
        cross_success_rate: rate(of(Some(PairKind::Cross)).map(|p| p.success)),
        clip_success: pose_success_rate.is_some_and(|r| r >= opts.thresholds.clip_min_pair_success),
        pose_success_rate,
        median_rotation_error_deg: median(of(Some(PairKind::Temporal)).filter_map(|p| p.rotation_error_deg).collect()),
        median_translation_error_deg: median(of(Some(PairKind::Temporal)).filter_map(|p| p.translation_error_deg).collect()),
        tse,
        cse,
        trajectories,
        pairs,
        previews,
    })
}

#[allow(clippy::too_many_arguments)]
fn eval_pair(
    job: &PairJob,
    j: usize,
    frames: &[Vec<FrameData>],
    cams: &[usize],
    names: &[String],
    focal: &[f64],
    max_cos: f64,
    rig: &Rig,
    poses: &Trajectory,
    opts: &CheckOptions,
) -> PairOut {
    let fa = &frames[job.cam_a][job.pos_a];
    let fb = &frames[job.cam_b][job.pos_b];
    let matches: Vec<(u32, u32)> = match_features(&fa.features, &fb.features, &opts.matching).iter().map(|m| (m.a, m.b)).collect();

    // Rays of the matches (both ends inside the camera models' domains).
    let mut ray_idx = Vec::with_capacity(matches.len());
    let mut b1 = Vec::with_capacity(matches.len());
    let mut b2 = Vec::with_capacity(matches.len());
    for (m, &(ia, ib)) in matches.iter().enumerate() {
        if let (Some(ra), Some(rb)) = (fa.rays[ia as usize], fb.rays[ib as usize]) {
            ray_idx.push(m);
            b1.push(ra.into_inner());
            b2.push(rb.into_inner());
        }
    }

    // Sampson error in the ideal pinhole views.
    let (f1, f2) = (focal[job.cam_a], focal[job.cam_b]);
    let mut rect_idx = Vec::with_capacity(b1.len());
    let mut x1 = Vec::with_capacity(b1.len());
    let mut x2 = Vec::with_capacity(b1.len());
    for (k, (p, q)) in b1.iter().zip(&b2).enumerate() {
        if p.z >= max_cos && q.z >= max_cos {
            rect_idx.push(ray_idx[k]);
            x1.push(Point2::new(f1 * p.x / p.z, f1 * p.y / p.z));
            x2.push(Point2::new(f2 * q.x / q.z, f2 * q.y / q.z));
        }
    }
    let mut tv = opts.two_view.clone();
    tv.seed = opts.two_view.seed.wrapping_add(j as u64);
    let ffit = fit_fundamental(&x1, &x2, &tv);
    let mut f_inlier = vec![false; matches.len()];
    let (f_inliers, sampson_px) = match &ffit {
        Some(fit) => {
            for &i in &fit.inliers {
                f_inlier[rect_idx[i]] = true;
            }
            (fit.inliers.len(), (fit.inliers.len() >= opts.thresholds.min_inliers).then_some(fit.median_sampson_px))
        }
        None => (0, None),
    };

    // Relative pose on rays.
    let rp = relative_pose(&b1, &b2, 0.5 * (f1 + f2), &tv);
    tracing::debug!(
        "pair {} {}#{} {}#{}: {} matches, status {:?}, E inliers {}, rotation-only inliers {}, parallax {}, in front {}",
        j,
        names[job.cam_a],
        job.pos_a,
        names[job.cam_b],
        job.pos_b,
        b1.len(),
        rp.status,
        rp.essential_inliers,
        rp.rotation_only_inliers,
        rp.parallax_inliers,
        rp.in_front
    );

    // Ground truth b_from_a.
    let ta = fa.timestamp_us;
    let tb = fb.timestamp_us;
    let w_a = world_from_camera(poses, rig, cams[job.cam_a], ta);
    let w_b = world_from_camera(poses, rig, cams[job.cam_b], tb);
    let b_from_a: Isometry3<f64> = w_b.inverse() * w_a;
    let baseline_m = b_from_a.translation.vector.norm();
    let zero_logged = baseline_m < opts.thresholds.zero_baseline_m;
    let logged_sampson_px = logged_error_px(&b_from_a, zero_logged, &b1, &b2, f1, f2, max_cos, opts.thresholds.min_inliers);

    let rotation_error_deg = rp.rotation.map(|r| {
        let gt = b_from_a.rotation;
        let est = UnitQuaternion::from_rotation_matrix(&r);
        est.angle_to(&gt).to_degrees()
    });
    let t_est = rp.translation_dir.map(|t| t.into_inner());
    let translation_error_deg = match (t_est, zero_logged) {
        (Some(t), false) => Some(t.angle(&b_from_a.translation.vector).to_degrees()),
        _ => None,
    };
    let pose = match rp.status {
        PoseStatus::Ok => PoseOutcome::Estimated,
        PoseStatus::ZeroBaseline => PoseOutcome::ZeroBaseline,
        PoseStatus::TooFewMatches => PoseOutcome::TooFewMatches,
        PoseStatus::Degenerate => PoseOutcome::Degenerate,
    };
    let e_inliers = rp.inliers.len();
    let th = &opts.thresholds;
    let rot_ok = rotation_error_deg.is_some_and(|e| e <= th.max_rotation_error_deg);
    let success = e_inliers >= th.min_inliers
        && rot_ok
        && match pose {
            PoseOutcome::Estimated => !zero_logged && translation_error_deg.is_some_and(|e| e <= th.max_translation_error_deg),
            PoseOutcome::ZeroBaseline => zero_logged,
            _ => false,
        };
    let inlier_matches = rp.inliers.iter().map(|&i| matches[ray_idx[i]]).collect();
    PairOut {
        result: PairResult {
            kind: job.kind,
            camera_a: names[job.cam_a].clone(),
            camera_b: names[job.cam_b].clone(),
            frame_a: fa.frame_index as usize,
            frame_b: fb.frame_index as usize,
            keypoints_a: fa.features.keypoints.len(),
            keypoints_b: fb.features.keypoints.len(),
            matches: matches.len(),
            f_inliers,
            sampson_px,
            logged_sampson_px,
            e_inliers,
            pose,
            rotation_error_deg,
            translation_error_deg,
            baseline_m,
            success,
        },
        rotation: rp.rotation,
        translation_dir: match pose {
            PoseOutcome::Estimated => t_est,
            PoseOutcome::ZeroBaseline => Some(Vector3::zeros()),
            _ => None,
        },
        inlier_matches,
        matches,
        f_inlier,
    }
}

/// Median over all matches of the error against the logged geometry `b_from_a`, in pixels of the
/// ideal pinhole views: sqrt(Sampson error) under `F = K2^-T [t]x R K1^-1`, or, for a zero logged
/// baseline, the rotation-only transfer error `f2 * angle(b2, R b1)`. `None` with fewer than
/// `min_matches` usable matches.
#[allow(clippy::too_many_arguments)]
fn logged_error_px(
    b_from_a: &Isometry3<f64>,
    zero_baseline: bool,
    b1: &[Vector3<f64>],
    b2: &[Vector3<f64>],
    f1: f64,
    f2: f64,
    max_cos: f64,
    min_matches: usize,
) -> Option<f64> {
    let r = b_from_a.rotation.to_rotation_matrix();
    let errs: Vec<f64> = if zero_baseline {
        b1.iter().zip(b2).map(|(p, q)| f2 * (r * p).angle(q)).collect()
    } else {
        let t = b_from_a.translation.vector.normalize();
        let e = t.cross_matrix() * r.matrix();
        let k1_inv = nalgebra::Matrix3::new(1.0 / f1, 0.0, 0.0, 0.0, 1.0 / f1, 0.0, 0.0, 0.0, 1.0);
        let k2_inv = nalgebra::Matrix3::new(1.0 / f2, 0.0, 0.0, 0.0, 1.0 / f2, 0.0, 0.0, 0.0, 1.0);
        let f = k2_inv.transpose() * e * k1_inv;
        b1.iter()
            .zip(b2)
            .filter(|(p, q)| p.z >= max_cos && q.z >= max_cos)
            .map(|(p, q)| {
                let x1 = Vector3::new(f1 * p.x / p.z, f1 * p.y / p.z, 1.0);
                let x2 = Vector3::new(f2 * q.x / q.z, f2 * q.y / q.z, 1.0);
                let fx1 = f * x1;
                let ftx2 = f.transpose() * x2;
                let d = fx1.x * fx1.x + fx1.y * fx1.y + ftx2.x * ftx2.x + ftx2.y * ftx2.y;
                if d > 0.0 {
                    x2.dot(&fx1).abs() / d.sqrt()
                } else {
                    f64::INFINITY
                }
            })
            .collect()
    };
    if errs.len() < min_matches {
        return None;
    }
    median(errs)
}

/// Midpoint triangulation of rays `b1` (camera 1) and `b2` (camera 2) with `X2 = R X1 + t`:
/// the distances along each ray, `None` when the rays are (nearly) parallel or a point is behind.
fn ray_depths(r: &Rotation3<f64>, t: &Vector3<f64>, b1: &Vector3<f64>, b2: &Vector3<f64>) -> Option<(f64, f64)> {
    // Solve l1 * (R b1) - l2 * b2 = -t in the least-squares sense.
    let a = r * b1;
    let aa = a.dot(&a);
    let ab = a.dot(b2);
    let bb = b2.dot(b2);
    let det = aa * bb - ab * ab;
    if det < 1e-10 {
        return None;
    }
    let at = a.dot(t);
    let bt = b2.dot(t);
    let l1 = (-at * bb + ab * bt) / det;
    let l2 = (aa * bt - ab * at) / det;
    (l1 > 0.0 && l2 > 0.0 && l1.is_finite() && l2.is_finite()).then_some((l1, l2))
}

/// Visual odometry of camera `k` chained over its temporal pairs, aligned to the logged camera
/// centres by a similarity transform.
#[allow(clippy::too_many_arguments)]
fn camera_trajectory(
    k: usize,
    names: &[String],
    frames: &[Vec<FrameData>],
    jobs: &[PairJob],
    outs: &[PairOut],
    rig: &Rig,
    cams: &[usize],
    poses: &Trajectory,
) -> CameraTrajectory {
    let fr = &frames[k];
    let given: Vec<Point3<f64>> =
        fr.iter().map(|f| Point3::from(world_from_camera(poses, rig, cams[k], f.timestamp_us).translation.vector)).collect();
    let mut traj = CameraTrajectory {
        camera: names[k].clone(),
        given_m: given.iter().map(|p| [p.x, p.y, p.z]).collect(),
        estimated_m: vec![None; fr.len()],
        ate_m: None,
        rpe_translation_m: None,
        rpe_rotation_deg: None,
        alignment_scale: None,
        note: None,
    };
    if fr.len() < 3 {
        traj.note = Some("fewer than 3 frames".into());
        return traj;
    }
    // Step p: frames p -> p+1.
    let steps: Vec<Option<&PairOut>> = (0..fr.len() - 1)
        .map(|p| {
            jobs.iter()
                .zip(outs)
                .find(|(j, _)| j.kind == PairKind::Temporal && j.cam_a == k && j.pos_a == p)
                .map(|(_, o)| o)
                .filter(|o| o.rotation.is_some() && o.translation_dir.is_some())
        })
        .collect();
    let failed = steps.iter().filter(|s| s.is_none()).count();
    if failed * 2 > steps.len() {
        traj.note = Some(format!("{failed} of {} steps have no pose estimate", steps.len()));
        return traj;
    }
    // Relative scale s_p of each step (s_0 = 1): depths of points shared by steps p-1 and p,
    // both expressed in frame p, must agree.
    let mut scales = vec![1.0f64; steps.len()];
    let mut motions: Vec<(Rotation3<f64>, Vector3<f64>)> = Vec::with_capacity(steps.len());
    let mut last_scale = 1.0;
    let mut last_motion = (Rotation3::identity(), Vector3::zeros());
    for p in 0..steps.len() {
        let Some(o) = steps[p] else {
            // No estimate: constant-velocity fallback.
            motions.push(last_motion);
            continue;
        };
        let (Some(r), Some(t)) = (o.rotation, o.translation_dir) else { unreachable!("filtered above") };
        let mut s = last_scale;
        if t.norm() > 0.0 && p > 0 {
            if let (Some(prev), Some((pr, pt))) = (steps[p - 1], steps[p - 1].and_then(|q| Some((q.rotation?, q.translation_dir?)))) {
                if pt.norm() > 0.0 {
                    // Depths in frame p from step p-1 (camera 2 side) and from step p (camera 1 side).
                    let mut prev_depth: BTreeMap<u32, f64> = BTreeMap::new();
                    for &(ia, ib) in &prev.inlier_matches {
                        if let (Some(ra), Some(rb)) = (frames[k][p - 1].rays[ia as usize], fr[p].rays[ib as usize]) {
                            if let Some((_, l2)) = ray_depths(&pr, &pt, &ra, &rb) {
                                prev_depth.insert(ib, l2 * scales[p - 1]);
                            }
                        }
                    }
                    let mut ratios = Vec::new();
                    for &(ia, ib) in &o.inlier_matches {
                        let Some(&dp) = prev_depth.get(&ia) else { continue };
                        if let (Some(ra), Some(rb)) = (fr[p].rays[ia as usize], fr[p + 1].rays[ib as usize]) {
                            if let Some((l1, _)) = ray_depths(&r, &t, &ra, &rb) {
                                ratios.push(dp / l1);
                            }
                        }
                    }
                    if ratios.len() >= 5 {
                        if let Some(m) = median(ratios) {
                            s = m;
                        }
                    }
                }
            }
        }
        if t.norm() > 0.0 {
            scales[p] = s;
            last_scale = s;
        }
        last_motion = (r, t * scales[p]);
        motions.push(last_motion);
    }
    // Chain: world_from_cam(p+1) = world_from_cam(p) * (cam_{p+1}_from_cam_p)^-1.
    let mut w = Isometry3::identity();
    let mut est = vec![Point3::origin()];
    for (r, t) in &motions {
        let step = Isometry3::from_parts(nalgebra::Translation3::from(*t), UnitQuaternion::from_rotation_matrix(r));
        w *= step.inverse();
        est.push(Point3::from(w.translation.vector));
    }
    let Some(sim) = umeyama(&est, &given, true) else {
        traj.note = Some("the logged camera did not move or the odometry has no extent: nothing to align".into());
        return traj;
    };
    let aligned: Vec<Point3<f64>> = est.iter().map(|p| sim.apply(p)).collect();
    traj.ate_m = rmse(&aligned, &given);
    let est_rel: Vec<Rotation3<f64>> = motions.iter().map(|m| m.0).collect();
    let given_rel: Vec<Rotation3<f64>> = (0..fr.len() - 1)
        .map(|p| {
            let a = world_from_camera(poses, rig, cams[k], fr[p].timestamp_us);
            let b = world_from_camera(poses, rig, cams[k], fr[p + 1].timestamp_us);
            (b.inverse() * a).rotation.to_rotation_matrix()
        })
        .collect();
    let (rt, rr) = rpe(&aligned, &given, &est_rel, &given_rel);
    traj.rpe_translation_m = rt;
    traj.rpe_rotation_deg = rr;
    traj.alignment_scale = Some(sim.scale);
    traj.estimated_m = aligned.iter().map(|p| Some([p.x, p.y, p.z])).collect();
    if failed > 0 {
        traj.note = Some(format!("{failed} step(s) without a pose estimate bridged at constant velocity"));
    }
    traj
}

fn make_previews(n: usize, jobs: &[PairJob], outs: &[PairOut], frames: &[Vec<FrameData>], names: &[String]) -> Vec<crate::result::MatchPreview> {
    let mut picks: Vec<usize> = Vec::new();
    // First temporal pair of the first camera, then the cross pair with the most matches in the
    // middle of the clip, then further temporal pairs.
    if let Some(i) = jobs.iter().position(|j| j.kind == PairKind::Temporal) {
        picks.push(i);
    }
    if let Some((i, _)) = jobs.iter().enumerate().filter(|(_, j)| j.kind == PairKind::Cross).max_by_key(|(i, _)| outs[*i].result.f_inliers) {
        picks.push(i);
    }
    picks.extend(jobs.iter().enumerate().filter(|(_, j)| j.kind == PairKind::Temporal).map(|(i, _)| i).skip(1).step_by(7));
    picks.truncate(n);
    picks
        .into_iter()
        .map(|i| {
            let (j, o) = (&jobs[i], &outs[i]);
            let fa = &frames[j.cam_a][j.pos_a];
            let fb = &frames[j.cam_b][j.pos_b];
            let pa: Vec<(f32, f32)> = o.matches.iter().map(|m| (fa.features.keypoints[m.0 as usize].x, fa.features.keypoints[m.0 as usize].y)).collect();
            let pb: Vec<(f32, f32)> = o.matches.iter().map(|m| (fb.features.keypoints[m.1 as usize].x, fb.features.keypoints[m.1 as usize].y)).collect();
            let title = format!(
                "{} {} frame {} / {} frame {}: {} matches, {} inliers, Sampson {}",
                match j.kind {
                    PairKind::Temporal => "temporal",
                    PairKind::Cross => "cross",
                },
                names[j.cam_a],
                fa.frame_index,
                names[j.cam_b],
                fb.frame_index,
                o.result.matches,
                o.result.f_inliers,
                o.result.sampson_px.map_or("n/a".to_string(), |s| format!("{s:.2} px"))
            );
            crate::report::match_preview(&title, &fa.gray, &fb.gray, &pa, &pb, &o.f_inlier)
        })
        .collect()
}

fn summarize(clips: &[ClipReport], elapsed_s: f64, decode_s: f64) -> Summary {
    let pairs: Vec<&PairResult> = clips.iter().flat_map(|c| c.pairs.iter()).collect();
    let trajs: Vec<&CameraTrajectory> = clips.iter().flat_map(|c| c.trajectories.iter()).collect();
    Summary {
        clips: clips.len(),
        pairs: pairs.len(),
        tse_px: median(clips.iter().filter_map(|c| c.tse_px).collect()),
        cse_px: median(clips.iter().filter_map(|c| c.cse_px).collect()),
        tse_logged_px: median(clips.iter().filter_map(|c| c.tse_logged_px).collect()),
        cse_logged_px: median(clips.iter().filter_map(|c| c.cse_logged_px).collect()),
        pose_success_pairs: rate(pairs.iter().filter(|p| p.kind == PairKind::Temporal).map(|p| p.success)),
        cross_pose_success_pairs: rate(pairs.iter().filter(|p| p.kind == PairKind::Cross).map(|p| p.success)),
        pose_success_clips: rate(clips.iter().map(|c| c.clip_success)),
        median_rotation_error_deg: median(pairs.iter().filter(|p| p.kind == PairKind::Temporal).filter_map(|p| p.rotation_error_deg).collect()),
        median_translation_error_deg: median(pairs.iter().filter(|p| p.kind == PairKind::Temporal).filter_map(|p| p.translation_error_deg).collect()),
        ate_m: median(trajs.iter().filter_map(|t| t.ate_m).collect()),
        rpe_translation_m: median(trajs.iter().filter_map(|t| t.rpe_translation_m).collect()),
        rpe_rotation_deg: median(trajs.iter().filter_map(|t| t.rpe_rotation_deg).collect()),
        elapsed_s,
        pairs_per_s: if elapsed_s > 0.0 { pairs.len() as f64 / elapsed_s } else { 0.0 },
        decode_s,
        compute_pairs_per_s: if elapsed_s > decode_s { pairs.len() as f64 / (elapsed_s - decode_s) } else { 0.0 },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ray_depths_triangulate_a_known_point() {
        let r = Rotation3::from_euler_angles(0.02, -0.05, 0.01);
        let t = Vector3::new(0.3, -0.1, -1.0);
        let x1 = Vector3::new(1.0, -0.5, 8.0);
        let x2 = r * x1 + t;
        let (l1, l2) = ray_depths(&r, &t, &x1.normalize(), &x2.normalize()).unwrap();
        assert!((l1 - x1.norm()).abs() < 1e-9 && (l2 - x2.norm()).abs() < 1e-9);
        // A point behind camera 1 is rejected.
        assert!(ray_depths(&r, &t, &(-x1).normalize(), &x2.normalize()).is_none());
    }

    #[test]
    fn medians_and_rates() {
        assert_eq!(median(vec![3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(vec![4.0, 1.0, 2.0, 3.0]), Some(2.5));
        assert_eq!(median(vec![f64::NAN]), None);
        assert_eq!(rate([true, false, true, true].into_iter()), Some(0.75));
        assert_eq!(rate(std::iter::empty()), None);
    }
}
