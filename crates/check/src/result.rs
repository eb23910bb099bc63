//! The checker's results: what `worldrig check` writes as `report.json` and renders as HTML.
//!
//! Units are in the field names. `None` (JSON `null`) means "not measurable" (too few matches,
//! no overlapping cameras, a zero-baseline pair for translation error), never zero.

use serde::{Deserialize, Serialize};

/// Thresholds that decide pose-estimation success (documented in `docs/checker.md`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SuccessThresholds {
    /// Maximum rotation error (geodesic angle between estimated and logged relative rotation).
    pub max_rotation_error_deg: f64,
    /// Maximum angle between estimated and logged translation directions.
    pub max_translation_error_deg: f64,
    /// Minimum RANSAC inliers of the essential matrix.
    pub min_inliers: usize,
    /// Logged baselines shorter than this count as zero-baseline (stationary): success then
    /// requires the estimator to report zero baseline (or a translation-free fit) and a correct
    /// rotation.
    pub zero_baseline_m: f64,
    /// A clip succeeds when at least this fraction of its pairs succeed.
    pub clip_min_pair_success: f64,
}

/// Which frames a pair compares.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Hash)]
#[serde(rename_all = "snake_case")]
pub enum PairKind {
    /// Consecutive frames of one camera (TSE).
    Temporal,
    /// The same time step in two cameras whose fields of view overlap (CSE).
    Cross,
}

/// What the relative-pose estimation concluded for a pair.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum PoseOutcome {
    /// Rotation and translation direction estimated.
    Estimated,
    /// No measurable translation (rotation only explains the matches).
    ZeroBaseline,
    /// Fewer matches or inliers than the minimum.
    TooFewMatches,
    /// No consistent model (degenerate configuration, cheirality failure).
    Degenerate,
}

/// One frame pair.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct PairResult {
    pub kind: PairKind,
    pub camera_a: String,
    pub camera_b: String,
    /// Frame indices within the clip (equal for cross pairs).
    pub frame_a: usize,
    pub frame_b: usize,
    pub keypoints_a: usize,
    pub keypoints_b: usize,
    /// Putative matches (mutual nearest neighbours passing the ratio test).
    pub matches: usize,
    /// Inliers of the RANSAC fundamental matrix.
    pub f_inliers: usize,
    /// Median over the fundamental inliers of sqrt(Sampson error), in pixels; the TSE/CSE sample.
    pub sampson_px: Option<f64>,
    /// Median over all putative matches of sqrt(Sampson error) under the epipolar geometry of the
    /// log's poses and calibration (the rotation-only transfer error when the logged baseline is
    /// zero), in pixels: agreement with the geometry the video is supposed to show.
    pub logged_sampson_px: Option<f64>,
    /// Inliers of the RANSAC essential matrix (on rays).
    pub e_inliers: usize,
    pub pose: PoseOutcome,
    /// Geodesic angle between the estimated and logged relative rotations.
    pub rotation_error_deg: Option<f64>,
    /// Angle between the estimated and logged translation directions (None when either is
    /// undefined: zero baseline logged or estimated).
    pub translation_error_deg: Option<f64>,
    /// Logged distance between the two camera centres.
    pub baseline_m: f64,
    pub success: bool,
}

/// TSE of one camera over a clip.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct CameraTse {
    pub camera: String,
    /// One entry per consecutive pair (frame t, t+1): the pair's Sampson error.
    pub per_frame_px: Vec<Option<f64>>,
    pub median_px: Option<f64>,
}

/// CSE of one overlapping camera pair over a clip.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct CameraPairCse {
    pub camera_a: String,
    pub camera_b: String,
    /// Fraction of camera a's image whose rays (at the overlap test depth) land in camera b.
    pub overlap_fraction: f64,
    pub per_frame_px: Vec<Option<f64>>,
    pub median_px: Option<f64>,
}

/// Visual odometry of one camera, expressed as the rig trajectory it implies.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct CameraTrajectory {
    pub camera: String,
    /// Rig positions from the log (or the conditioning trajectory), metres, world frame.
    pub given_m: Vec<[f64; 3]>,
    /// Rig positions recovered from this camera's video after similarity alignment to `given_m`;
    /// None for frames the odometry could not reach.
    pub estimated_m: Vec<Option<[f64; 3]>>,
    /// Absolute trajectory error (RMSE of aligned positions).
    pub ate_m: Option<f64>,
    /// Relative pose error over one frame step: RMSE of translation and mean rotation error.
    pub rpe_translation_m: Option<f64>,
    pub rpe_rotation_deg: Option<f64>,
    /// Scale of the similarity alignment (1 for metric odometry).
    pub alignment_scale: Option<f64>,
    /// Why the trajectory could not be estimated, when it could not.
    pub note: Option<String>,
}

/// A match visualisation: two frames side by side with inlier matches drawn.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct MatchPreview {
    pub title: String,
    /// PNG, base64-encoded (embedded in the HTML page; omitted from JSON).
    #[serde(skip)]
    pub png_base64: String,
}

/// All results for one clip.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ClipReport {
    pub clip_id: String,
    pub cameras: Vec<String>,
    pub frames: usize,
    pub tse: Vec<CameraTse>,
    pub cse: Vec<CameraPairCse>,
    /// Clip TSE: median over all temporal pairs.
    pub tse_px: Option<f64>,
    /// Clip CSE: median over all cross pairs.
    pub cse_px: Option<f64>,
    /// Medians of the pairs' `logged_sampson_px`, temporal and cross.
    pub tse_logged_px: Option<f64>,
    pub cse_logged_px: Option<f64>,
    /// Pose-estimation success rate over this clip's temporal pairs (camera motion recovered from
    /// one camera's video, the protocol of the Cosmos report); cross pairs are in
    /// `cross_success_rate`.
    pub pose_success_rate: Option<f64>,
    pub temporal_success_rate: Option<f64>,
    pub cross_success_rate: Option<f64>,
    pub clip_success: bool,
    /// Medians over the temporal pairs (like `pose_success_rate`).
    pub median_rotation_error_deg: Option<f64>,
    pub median_translation_error_deg: Option<f64>,
    pub trajectories: Vec<CameraTrajectory>,
    pub pairs: Vec<PairResult>,
    #[serde(skip)]
    pub previews: Vec<MatchPreview>,
}

/// The summary over all clips (each metric the median over clips, or the rate over pairs/clips).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Summary {
    pub clips: usize,
    pub pairs: usize,
    pub tse_px: Option<f64>,
    pub cse_px: Option<f64>,
    pub tse_logged_px: Option<f64>,
    pub cse_logged_px: Option<f64>,
    /// Success rate over all temporal pairs.
    pub pose_success_pairs: Option<f64>,
    /// Success rate over all cross pairs (relative pose between cameras at one instant).
    pub cross_pose_success_pairs: Option<f64>,
    pub pose_success_clips: Option<f64>,
    pub median_rotation_error_deg: Option<f64>,
    pub median_translation_error_deg: Option<f64>,
    pub ate_m: Option<f64>,
    pub rpe_translation_m: Option<f64>,
    pub rpe_rotation_deg: Option<f64>,
    /// Wall time of the whole check (reading, decoding, features, pairs, trajectories) and
    /// pairs per second over it.
    pub elapsed_s: f64,
    pub pairs_per_s: f64,
    /// Wall time spent reading and decoding frames, and the throughput without it (features,
    /// matching, estimation: what a peer that is handed decoded images does).
    pub decode_s: f64,
    pub compute_pairs_per_s: f64,
}

/// The whole report.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct CheckReport {
    /// The log checked (as given on the command line).
    pub log: String,
    /// `worldrig <version>`.
    pub tool: String,
    /// The resolved configuration (features, matching, RANSAC, thresholds), as JSON.
    pub config: serde_json::Value,
    pub thresholds: SuccessThresholds,
    pub summary: Summary,
    pub clips: Vec<ClipReport>,
}
