#!/usr/bin/env python3
"""OpenCV peer of `worldrig check` for the checker benchmark (tools/bench/check.sh).

Usage:
    python3 tools/bench/check_opencv.py LOG [--detector orb|sift] [--json OUT.json]
        [--nfeatures auto|N] [--ratio 0.8] [--threshold-px 1.0] [--distance-thresh 50]
        [--cross] [--threads 2]
        [--max-rotation-error-deg 2] [--max-translation-error-deg 10] [--min-inliers 20]
        [--zero-baseline-m 0.05] [--clips ID,...] [--cameras NAME,...] [--seed 0]

Requires: Python >= 3.9 with the exact versions pinned in tools/bench/requirements-check.txt
(opencv-python-headless, numpy, pyarrow).

Reads a scene log (docs/scene-log-format.md: tables rig, clips, ego_poses, frames; single files
or sharded directories) and, for every consecutive frame pair of each camera (temporal pairs) and,
with --cross, every pair of cameras at the same frame index (cross pairs; unlike worldrig's
checker there is no field-of-view overlap filter, so pairs of cameras that see nothing in common
count as failures), runs OpenCV's
classical two-view pipeline:

  1. detection and description, once per frame: ORB (`cv2.ORB_create`, Hamming) or SIFT
     (`cv2.SIFT_create`, L2). The keypoint budget `--nfeatures auto` follows worldrig's own
     checker: 8000 per megapixel, at most 5000 (e.g. 917 at 448x256, 5000 at 1024x683);
  2. brute-force kNN matching (k = 2, `cv2.BFMatcher`) with Lowe's ratio test (`--ratio`);
  3. keypoints -> unit bearing rays through the log's camera model: pinhole with optional OpenCV
     distortion (`cv2.undistortPoints`), or f-theta (backward polynomial evaluated in numpy;
     a forward polynomial is inverted by Newton's method), with the linear (c, d, e) term;
  4. Sampson error: rays within 60 degrees of the optical axis are re-projected into an ideal
     pinhole view of the camera (its focal length, as worldrig's checker does, so f-theta and
     pinhole cameras are scored alike; for an undistorted pinhole camera this is the image
     itself), `cv2.findFundamentalMat(FM_RANSAC, threshold_px, 0.999)` is fitted and the pair
     scores the median over its inliers of sqrt(Sampson distance) in pixels (null below
     --min-inliers inliers);
  5. relative pose: rays with z > 0.1 become normalized coordinates (x/z, y/z);
     `cv2.findEssentialMat` (identity camera matrix, RANSAC, prob 0.999, threshold =
     threshold_px / focal_px) and `cv2.recoverPose` on the RANSAC inliers (cheirality test;
     points triangulated farther than --distance-thresh baselines do not vote, OpenCV's default
     50) give R, t with x_b = R x_a + t;
  6. errors against the log: camera_from_world at a frame = inverse(world_from_rig(t) *
     rig_from_camera), ego poses interpolated at the frame's timestamp (linear translation,
     slerp rotation); the logged b_from_a = camera_b_from_world * inverse(camera_a_from_world);
     rotation error = geodesic angle between estimated and logged rotation; translation error =
     angle between estimated and logged translation directions (null when the logged baseline is
     below --zero-baseline-m: such a pair succeeds on rotation and inliers alone).

A pair succeeds when inliers (the essential matrix's RANSAC inliers) >=
--min-inliers, rotation error <= --max-rotation-error-deg and translation error <=
--max-translation-error-deg (the defaults 2 deg, 10 deg, 20 are worldrig's checker's).

Timing: `seconds` of a pair is the wall time of its matching, ray conversion and both
estimations, plus the detection time of any frame first described for this pair (each frame is
described once); file reading and image decoding (cv2.imdecode to grayscale) are excluded.
`pairs_per_s` = pairs / sum of those seconds, so the sum over pairs is the whole detect + match
+ estimate time.

Output (--json OUT, or stdout without it): {"tool", "opencv_version", "num_threads",
"config": {...}, "pairs": [{clip, kind, camera_a, camera_b, frame_a, frame_b, keypoints_a,
keypoints_b, matches, f_inliers, inliers, cheirality_inliers, sampson_px, rotation_error_deg, translation_error_deg,
baseline_m, success, seconds}], "summary": {pairs, pairs_per_s, detect_match_estimate_s,
median_rotation_error_deg, median_translation_error_deg, success_rate, tse_px, cse_px}}.
TSE (CSE) is the median over clips of each clip's median temporal (cross) pair Sampson error,
as in worldrig's checker. A one-line summary goes to stderr. Exits 0 on success, 2 on usage or
input errors.
"""

import argparse
import json
import math
import os
import sys
import time

try:
    import cv2
    import numpy as np
    import pyarrow.parquet as pq
except ImportError as e:  # pragma: no cover
    print(f"check_opencv.py: needs opencv-python-headless, numpy and pyarrow "
          f"(pip install -r tools/bench/requirements-check.txt): {e}", file=sys.stderr)
    sys.exit(2)

# worldrig's checker: keypoints per megapixel, capped (crates/check FeatureConfig defaults).
FEATURES_PER_MEGAPIXEL = 8000.0
MAX_FEATURES = 5000
# Rays further than this from the optical axis are left out of the Sampson error.
MAX_RECTIFIED_ANGLE_DEG = 60.0
# Rays with a smaller z (cos of the angle to the axis) are left out of the essential matrix.
MIN_RAY_Z = 0.1
RANSAC_CONFIDENCE = 0.999


class InputError(Exception):
    """A problem with the scene log (reported with its file and exit status 2)."""


# ------------------------------------------------------------------------------------------
# Reading the log
# ------------------------------------------------------------------------------------------

def table_files(log, table):
    """The Parquet files of a table: LOG/<table>.parquet or LOG/<table>/*.parquet (sorted)."""
    single = os.path.join(log, table + ".parquet")
    if os.path.isfile(single):
        return [single]
    folder = os.path.join(log, table)
    if os.path.isdir(folder):
        return [os.path.join(folder, n) for n in sorted(os.listdir(folder))
                if n.endswith(".parquet") and not n.startswith((".", "_"))]
    return []


def read_rows(log, table, columns=None, required=True):
    """All rows of a (small) table as a list of dicts."""
    files = table_files(log, table)
    if not files and required:
        raise InputError(f"{log}: no `{table}` table")
    rows = []
    for f in files:
        t = pq.read_table(f, columns=columns)
        rows.extend(t.to_pylist())
    return rows


def quat_to_matrix(x, y, z, w):
    n = math.sqrt(x * x + y * y + z * z + w * w)
    x, y, z, w = x / n, y / n, z / n, w / n
    return np.array([
        [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
        [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
        [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
    ])


def pose_from_row(row, prefix):
    """4x4 homogeneous transform from the translation/quaternion columns `<prefix>_tx_m` ..."""
    m = np.eye(4)
    m[:3, :3] = quat_to_matrix(row[prefix + "_qx"], row[prefix + "_qy"], row[prefix + "_qz"], row[prefix + "_qw"])
    m[:3, 3] = [row[prefix + "_tx_m"], row[prefix + "_ty_m"], row[prefix + "_tz_m"]]
    return m


def inverse(m):
    out = np.eye(4)
    out[:3, :3] = m[:3, :3].T
    out[:3, 3] = -m[:3, :3].T @ m[:3, 3]
    return out


def slerp_pose(a, b, alpha):
    """Interpolates two 4x4 poses: linear translation, spherical-linear rotation."""
    rel = a[:3, :3].T @ b[:3, :3]
    angle = math.acos(max(-1.0, min(1.0, (np.trace(rel) - 1.0) / 2.0)))
    out = np.eye(4)
    out[:3, 3] = (1 - alpha) * a[:3, 3] + alpha * b[:3, 3]
    if angle < 1e-12:
        out[:3, :3] = a[:3, :3]
    else:
        axis = np.array([rel[2, 1] - rel[1, 2], rel[0, 2] - rel[2, 0], rel[1, 0] - rel[0, 1]])
        norm = np.linalg.norm(axis)
        if norm < 1e-12:  # 180 degrees: axis from the symmetric part
            w, v = np.linalg.eigh(rel + rel.T)
            axis = v[:, np.argmax(w)]
        else:
            axis = axis / norm
        rvec = (axis * angle * alpha).reshape(3, 1)
        out[:3, :3] = a[:3, :3] @ cv2.Rodrigues(rvec)[0]
    return out


class Trajectory:
    """A clip's ego poses (world_from_rig), looked up at any timestamp inside their span."""

    def __init__(self, samples):
        samples.sort(key=lambda s: s[0])
        self.ts = [s[0] for s in samples]
        self.poses = [s[1] for s in samples]

    def at(self, t_us):
        ts = self.ts
        if not ts:
            return None
        if t_us <= ts[0]:
            return self.poses[0] if t_us == ts[0] else None
        if t_us >= ts[-1]:
            return self.poses[-1] if t_us == ts[-1] else None
        i = int(np.searchsorted(ts, t_us))
        if ts[i] == t_us:
            return self.poses[i]
        alpha = (t_us - ts[i - 1]) / (ts[i] - ts[i - 1])
        return slerp_pose(self.poses[i - 1], self.poses[i], alpha)


# ------------------------------------------------------------------------------------------
# Camera models
# ------------------------------------------------------------------------------------------

def poly_eval(coeffs, x):
    out = np.zeros_like(x)
    for c in reversed(coeffs):
        out = out * x + c
    return out


def poly_deriv(coeffs):
    return [i * c for i, c in enumerate(coeffs)][1:]


class CameraModel:
    """A rig camera: pixels (worldrig convention, pixel (0, 0) spans [0, 1)) to unit rays."""

    def __init__(self, row):
        self.name = row["camera"]
        self.model = row["model"]
        self.width = int(row["width_px"])
        self.height = int(row["height_px"])
        self.cx = float(row["cx_px"])
        self.cy = float(row["cy_px"])
        self.rig_from_camera = pose_from_row(row, "rig_from_camera")
        if self.model == "pinhole":
            self.fx, self.fy = float(row["fx_px"]), float(row["fy_px"])
            self.k = np.array([[self.fx, 0, self.cx], [0, self.fy, self.cy], [0, 0, 1.0]])
            d = row.get("distortion")
            self.distortion = np.array(d, dtype=np.float64) if d is not None and any(v != 0 for v in d) else None
            self.focal = 0.5 * (self.fx + self.fy)
        elif self.model == "ftheta":
            self.poly = [float(v) for v in row["poly"]]
            self.direction = row["poly_direction"]
            c = row.get("linear_c")
            d = row.get("linear_d")
            e = row.get("linear_e")
            self.linear = np.array([[1.0 if c is None else c, 0.0 if d is None else d],
                                    [0.0 if e is None else e, 1.0]])
            self.linear_inv = np.linalg.inv(self.linear)
            # Pixels per radian at the axis: 1 / bw'(0) (backward) or fw'(0) (forward).
            slope = self.poly[1] if len(self.poly) > 1 else 0.0
            if slope <= 0:
                raise InputError(f"camera `{self.name}`: f-theta polynomial has no positive linear term")
            self.focal = 1.0 / slope if self.direction == "backward" else slope
        else:
            raise InputError(f"camera `{self.name}`: unknown model `{self.model}`")

    def rays(self, px):
        """Unit rays (N x 3, camera RDF) of pixels (N x 2); NaN rows outside the model's domain."""
        px = np.asarray(px, dtype=np.float64).reshape(-1, 2)
        if self.model == "pinhole":
            if self.distortion is None:
                n = np.stack([(px[:, 0] - self.cx) / self.fx, (px[:, 1] - self.cy) / self.fy], axis=1)
            else:
                n = cv2.undistortPoints(px.reshape(-1, 1, 2), self.k, self.distortion,
                                        criteria=(cv2.TERM_CRITERIA_COUNT | cv2.TERM_CRITERIA_EPS, 50, 1e-12)).reshape(-1, 2)
            v = np.concatenate([n, np.ones((len(n), 1))], axis=1)
            return v / np.linalg.norm(v, axis=1, keepdims=True)
        d = (px - [self.cx, self.cy]) @ self.linear_inv.T  # undo [[c, d], [e, 1]]
        r = np.linalg.norm(d, axis=1)
        if self.direction == "backward":
            theta = poly_eval(self.poly, r)
        else:
            # Newton's method on fw(theta) = r, started from the linear term.
            theta = r * (1.0 / self.poly[1])
            dpoly = poly_deriv(self.poly)
            for _ in range(30):
                step = (poly_eval(self.poly, theta) - r) / np.maximum(poly_eval(dpoly, theta), 1e-12)
                theta = theta - step
                if np.all(np.abs(step) < 1e-14):
                    break
        safe_r = np.where(r > 0, r, 1.0)
        direction = d / safe_r[:, None]
        s = np.sin(theta)
        rays = np.stack([s * direction[:, 0], s * direction[:, 1], np.cos(theta)], axis=1)
        rays[r == 0] = [0.0, 0.0, 1.0]
        rays[~np.isfinite(theta) | (theta < 0) | (theta > math.pi)] = np.nan
        return rays


def load_rigs(log):
    rigs = {}
    for row in read_rows(log, "rig"):
        rigs.setdefault(row["rig_id"], {})[row["camera"]] = CameraModel(row)
    return rigs


# ------------------------------------------------------------------------------------------
# Two-view estimation
# ------------------------------------------------------------------------------------------

def feature_budget(width, height):
    return int(min(round(FEATURES_PER_MEGAPIXEL * width * height / 1e6), MAX_FEATURES))


class Detector:
    def __init__(self, kind, nfeatures):
        self.kind = kind
        self.nfeatures = nfeatures
        self._by_budget = {}
        self.matcher = cv2.BFMatcher(cv2.NORM_HAMMING if kind == "orb" else cv2.NORM_L2)

    def _create(self, budget):
        """The detector for a keypoint budget (one per image size)."""
        if budget not in self._by_budget:
            create = cv2.ORB_create if self.kind == "orb" else cv2.SIFT_create
            self._by_budget[budget] = create(nfeatures=budget)
        return self._by_budget[budget]

    def budget(self, gray):
        h, w = gray.shape[:2]
        return feature_budget(w, h) if self.nfeatures == "auto" else int(self.nfeatures)

    def detect(self, gray):
        det = self._create(self.budget(gray))
        kps, desc = det.detectAndCompute(gray, None)
        # OpenCV puts the centre of pixel (0, 0) at (0, 0); worldrig at (0.5, 0.5).
        pts = np.array([k.pt for k in kps], dtype=np.float64).reshape(-1, 2) + 0.5
        return pts, desc

    def match(self, desc_a, desc_b, ratio):
        if desc_a is None or desc_b is None or len(desc_a) < 2 or len(desc_b) < 2:
            return np.zeros((0, 2), dtype=np.int64)
        pairs = []
        for m in self.matcher.knnMatch(desc_a, desc_b, k=2):
            if len(m) == 2 and m[0].distance < ratio * m[1].distance:
                pairs.append((m[0].queryIdx, m[0].trainIdx))
        return np.array(pairs, dtype=np.int64).reshape(-1, 2)


def sampson_px(f, x1, x2):
    """sqrt(Sampson distance) of each correspondence (N x 2 pixel arrays) under F."""
    h1 = np.concatenate([x1, np.ones((len(x1), 1))], axis=1)
    h2 = np.concatenate([x2, np.ones((len(x2), 1))], axis=1)
    fx1 = h1 @ f.T
    ftx2 = h2 @ f
    num = np.sum(h2 * fx1, axis=1) ** 2
    den = fx1[:, 0] ** 2 + fx1[:, 1] ** 2 + ftx2[:, 0] ** 2 + ftx2[:, 1] ** 2
    return np.sqrt(num / np.maximum(den, 1e-300))


def angle_deg(u, v):
    nu, nv = np.linalg.norm(u), np.linalg.norm(v)
    c = float(np.dot(u, v) / (nu * nv))
    return math.degrees(math.acos(max(-1.0, min(1.0, c))))


def rotation_angle_deg(r):
    """Angle of a rotation matrix in degrees (through the rotation vector: exact near zero)."""
    return math.degrees(float(np.linalg.norm(cv2.Rodrigues(np.asarray(r, dtype=np.float64))[0])))


def two_view(rays_a, rays_b, cam_a, cam_b, args):
    """Sampson error and relative pose (b_from_a) of matched rays; see the module docs."""
    out = {"f_inliers": 0, "sampson_px": None, "inliers": 0, "cheirality_inliers": 0, "r": None, "t": None}
    valid = np.all(np.isfinite(rays_a), axis=1) & np.all(np.isfinite(rays_b), axis=1)
    ra, rb = rays_a[valid], rays_b[valid]

    # Sampson error in ideal pinhole views (rays within MAX_RECTIFIED_ANGLE_DEG of the axis).
    cos_max = math.cos(math.radians(MAX_RECTIFIED_ANGLE_DEG))
    keep = (ra[:, 2] >= cos_max) & (rb[:, 2] >= cos_max)
    x1 = cam_a.focal * ra[keep, :2] / ra[keep, 2:3]
    x2 = cam_b.focal * rb[keep, :2] / rb[keep, 2:3]
    if len(x1) >= 8:
        f, mask = cv2.findFundamentalMat(x1, x2, cv2.FM_RANSAC, args.threshold_px, RANSAC_CONFIDENCE)
        if f is not None and mask is not None and f.shape == (3, 3):
            inl = mask.ravel().astype(bool)
            out["f_inliers"] = int(inl.sum())
            if out["f_inliers"] >= args.min_inliers:
                out["sampson_px"] = float(np.median(sampson_px(f, x1[inl], x2[inl])))

    # Relative pose on normalized coordinates of rays in front of both cameras.
    front = (ra[:, 2] > MIN_RAY_Z) & (rb[:, 2] > MIN_RAY_Z)
    n1 = np.ascontiguousarray(ra[front, :2] / ra[front, 2:3])
    n2 = np.ascontiguousarray(rb[front, :2] / rb[front, 2:3])
    if len(n1) >= 5:
        focal = 0.5 * (cam_a.focal + cam_b.focal)
        eye = np.eye(3)
        e, mask = cv2.findEssentialMat(n1, n2, eye, method=cv2.RANSAC, prob=RANSAC_CONFIDENCE,
                                       threshold=args.threshold_px / focal)
        if e is not None and e.shape[0] >= 3:
            e = e[:3]  # several solutions may be stacked; take the first (best-scored)
            out["inliers"] = int(np.count_nonzero(mask))
            _, r, t, pose_mask, _ = cv2.recoverPose(e, n1, n2, eye, distanceThresh=args.distance_thresh, mask=mask.copy())
            out["cheirality_inliers"] = int(np.count_nonzero(pose_mask))
            out["r"], out["t"] = r, t.ravel()
    return out


# ------------------------------------------------------------------------------------------
# Driver
# ------------------------------------------------------------------------------------------

def median(values):
    v = [x for x in values if x is not None and math.isfinite(x)]
    return float(np.median(v)) if v else None


def iter_frames(log, clips, cameras):
    """Yields (clip_id, camera, frame_index, timestamp_us, gray image) one row group at a time."""
    files = table_files(log, "frames")
    if not files:
        raise InputError(f"{log}: no `frames` table (a label-only log has nothing to check)")
    cols = ["clip_id", "camera", "frame_index", "timestamp_us", "image_format", "image"]
    for f in files:
        pf = pq.ParquetFile(f)
        for g in range(pf.num_row_groups):
            for row in pf.read_row_group(g, columns=cols).to_pylist():
                if clips and row["clip_id"] not in clips:
                    continue
                if cameras and row["camera"] not in cameras:
                    continue
                buf = np.frombuffer(row["image"], dtype=np.uint8)
                gray = cv2.imdecode(buf, cv2.IMREAD_GRAYSCALE)
                if gray is None:
                    raise InputError(f"{f}: clip {row['clip_id']} camera {row['camera']} frame "
                                     f"{row['frame_index']}: image does not decode")
                yield row["clip_id"], row["camera"], int(row["frame_index"]), int(row["timestamp_us"]), gray


def run(args):
    log = args.log
    rigs = load_rigs(log)
    clip_rig = {r["clip_id"]: r["rig_id"] for r in read_rows(log, "clips", ["clip_id", "rig_id"])}
    samples = {}
    for r in read_rows(log, "ego_poses"):
        samples.setdefault(r["clip_id"], []).append((int(r["timestamp_us"]), pose_from_row(r, "world_from_rig")))
    trajectories = {c: Trajectory(s) for c, s in samples.items()}
    clip_filter = set(args.clips) if args.clips else None
    cam_filter = set(args.cameras) if args.cameras else None

    # Decode every frame (not timed); features are computed lazily and timed.
    frames = {}  # (clip, camera) -> {frame_index: (timestamp_us, gray)}
    for clip, cam, idx, ts, gray in iter_frames(log, clip_filter, cam_filter):
        frames.setdefault((clip, cam), {})[idx] = (ts, gray)

    detector = Detector(args.detector, args.nfeatures)
    features = {}  # (clip, camera, frame_index) -> (pixels, descriptors, rays)

    def describe(clip, cam, idx):
        key = (clip, cam, idx)
        if key not in features:
            gray = frames[(clip, cam)][idx][1]
            model = rigs[clip_rig[clip]][cam]
            pts, desc = detector.detect(gray)
            features[key] = (pts, desc, model.rays(pts) if len(pts) else np.zeros((0, 3)))
        return features[key]

    def camera_from_world(clip, cam, ts):
        world_from_rig = trajectories[clip].at(ts) if clip in trajectories else None
        if world_from_rig is None:
            raise InputError(f"{log}: clip {clip} has no ego pose covering timestamp {ts} us")
        return inverse(world_from_rig @ rigs[clip_rig[clip]][cam].rig_from_camera)

    jobs = []  # (clip, kind, cam_a, idx_a, cam_b, idx_b)
    for (clip, cam), by_idx in sorted(frames.items()):
        if clip not in clip_rig:
            raise InputError(f"{log}: frames of clip {clip} which is not in `clips`")
        if cam not in rigs.get(clip_rig[clip], {}):
            raise InputError(f"{log}: frames of camera {cam} which is not in rig {clip_rig[clip]}")
        idxs = sorted(by_idx)
        jobs.extend((clip, "temporal", cam, a, cam, b) for a, b in zip(idxs, idxs[1:]))
    if args.cross:
        by_clip = {}
        for (clip, cam) in frames:
            by_clip.setdefault(clip, []).append(cam)
        for clip, cams in sorted(by_clip.items()):
            cams.sort()
            for i, ca in enumerate(cams):
                for cb in cams[i + 1:]:
                    common = sorted(set(frames[(clip, ca)]) & set(frames[(clip, cb)]))
                    jobs.extend((clip, "cross", ca, k, cb, k) for k in common)

    results = []
    for clip, kind, ca, ia, cb, ib in jobs:
        rig = rigs[clip_rig[clip]]
        t0 = time.perf_counter()
        pa, da, rays_a = describe(clip, ca, ia)
        pb, db, rays_b = describe(clip, cb, ib)
        m = detector.match(da, db, args.ratio)
        est = two_view(rays_a[m[:, 0]], rays_b[m[:, 1]], rig[ca], rig[cb], args)
        seconds = time.perf_counter() - t0

        ts_a, ts_b = frames[(clip, ca)][ia][0], frames[(clip, cb)][ib][0]
        b_from_a = camera_from_world(clip, cb, ts_b) @ inverse(camera_from_world(clip, ca, ts_a))
        baseline = float(np.linalg.norm(b_from_a[:3, 3]))
        rot_err = trans_err = None
        if est["r"] is not None:
            rot_err = rotation_angle_deg(est["r"].T @ b_from_a[:3, :3])
            if baseline >= args.zero_baseline_m:
                trans_err = angle_deg(est["t"], b_from_a[:3, 3])
        success = (est["inliers"] >= args.min_inliers
                   and rot_err is not None and rot_err <= args.max_rotation_error_deg
                   and (baseline < args.zero_baseline_m
                        or (trans_err is not None and trans_err <= args.max_translation_error_deg)))
        results.append({
            "clip": clip, "kind": kind, "camera_a": ca, "camera_b": cb, "frame_a": ia, "frame_b": ib,
            "keypoints_a": int(len(pa)), "keypoints_b": int(len(pb)), "matches": int(len(m)),
            "f_inliers": est["f_inliers"], "inliers": est["inliers"],
            "cheirality_inliers": est["cheirality_inliers"], "sampson_px": est["sampson_px"],
            "rotation_error_deg": rot_err, "translation_error_deg": trans_err, "baseline_m": baseline,
            "success": bool(success), "seconds": seconds,
        })

    total_s = sum(r["seconds"] for r in results)

    def clip_median_of(kind):
        per_clip = {}
        for r in results:
            if r["kind"] == kind:
                per_clip.setdefault(r["clip"], []).append(r["sampson_px"])
        return median([median(v) for v in per_clip.values()])

    summary = {
        "pairs": len(results),
        "pairs_per_s": (len(results) / total_s) if total_s > 0 else None,
        "detect_match_estimate_s": total_s,
        "median_rotation_error_deg": median([r["rotation_error_deg"] for r in results]),
        "median_translation_error_deg": median([r["translation_error_deg"] for r in results]),
        "success_rate": (sum(r["success"] for r in results) / len(results)) if results else None,
        "tse_px": clip_median_of("temporal"),
        "cse_px": clip_median_of("cross") if args.cross else None,
    }
    return {
        "tool": "opencv",
        "log": log,
        "opencv_version": cv2.__version__,
        "num_threads": cv2.getNumThreads(),
        "config": {
            "detector": args.detector, "nfeatures": args.nfeatures, "ratio": args.ratio,
            "threshold_px": args.threshold_px, "distance_thresh": args.distance_thresh,
            "ransac_confidence": RANSAC_CONFIDENCE, "cross": args.cross,
            "max_rotation_error_deg": args.max_rotation_error_deg,
            "max_translation_error_deg": args.max_translation_error_deg,
            "min_inliers": args.min_inliers, "zero_baseline_m": args.zero_baseline_m,
            "max_rectified_angle_deg": MAX_RECTIFIED_ANGLE_DEG, "min_ray_z": MIN_RAY_Z, "seed": args.seed,
            "timing": "detect + match + estimate wall time; file reading and image decoding excluded",
        },
        "pairs": results,
        "summary": summary,
    }


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("log", help="scene log directory")
    p.add_argument("--detector", choices=["orb", "sift"], default="orb")
    p.add_argument("--nfeatures", default="auto",
                   help="keypoints per image, or `auto` (worldrig's budget: 8000/MP, at most 5000)")
    p.add_argument("--ratio", type=float, default=0.8, help="Lowe ratio test")
    p.add_argument("--threshold-px", type=float, default=1.0, help="RANSAC inlier threshold in pixels")
    p.add_argument("--distance-thresh", type=float, default=50.0,
                   help="recoverPose: points triangulated farther than this (in baselines) do not vote")
    p.add_argument("--cross", action="store_true", help="also pair cameras at the same frame index")
    p.add_argument("--threads", type=int, default=2, help="cv2.setNumThreads")
    p.add_argument("--max-rotation-error-deg", type=float, default=2.0)
    p.add_argument("--max-translation-error-deg", type=float, default=10.0)
    p.add_argument("--min-inliers", type=int, default=20)
    p.add_argument("--zero-baseline-m", type=float, default=0.05,
                   help="logged baselines shorter than this get no translation error")
    p.add_argument("--clips", type=lambda s: [x for x in s.split(",") if x], default=[], help="only these clips")
    p.add_argument("--cameras", type=lambda s: [x for x in s.split(",") if x], default=[], help="only these cameras")
    p.add_argument("--seed", type=int, default=0, help="cv2.setRNGSeed (RANSAC sampling)")
    p.add_argument("--json", metavar="OUT", help="write the JSON here (default: stdout)")
    args = p.parse_args(argv)
    if args.nfeatures != "auto":
        try:
            if int(args.nfeatures) <= 0:
                raise ValueError
        except ValueError:
            p.error("--nfeatures must be `auto` or a positive integer")
    if args.threads < 1:
        p.error("--threads must be at least 1")
    return args


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    cv2.setNumThreads(args.threads)
    cv2.setRNGSeed(args.seed)
    try:
        out = run(args)
    except (InputError, OSError) as e:
        print(f"check_opencv.py: {e}", file=sys.stderr)
        return 2
    text = json.dumps(out, indent=1)
    if args.json:
        with open(args.json, "w") as f:
            f.write(text + "\n")
    else:
        print(text)
    s = out["summary"]

    def fmt(v, spec=".3f"):
        return "n/a" if v is None else format(v, spec)

    print(f"opencv {out['opencv_version']} ({out['num_threads']} threads) {args.detector}: {s['pairs']} pairs, "
          f"{fmt(s['pairs_per_s'], '.2f')} pairs/s, rot {fmt(s['median_rotation_error_deg'])} deg, "
          f"trans {fmt(s['median_translation_error_deg'])} deg, success {fmt(s['success_rate'])}, "
          f"TSE {fmt(s['tse_px'])} px", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
