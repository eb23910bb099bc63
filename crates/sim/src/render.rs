//! CPU ray caster: one exact ray per pixel through the camera model.
//!
//! Each camera's per-pixel rays are computed once from its [`CameraModel`] (`unproject` at pixel
//! centres), so pinhole and f-theta cameras are both exact: a world point is drawn at the pixel
//! whose ray hits it, which is where `CameraModel::project` puts it. Visibility is the nearest hit
//! along each ray (a ray-cast depth buffer; [`Frame::depth_m`]). Solids are culled per 64x64 group
//! against the group's ray cone, then per 16x16 tile by a slab test of their bounding boxes in
//! interval arithmetic over the tile's ray directions. Textures are procedural, world-anchored and box-filtered over the
//! pixel footprint; pixels on object silhouettes are supersampled (the centre ray and two more) after the first pass.

use image::RgbImage;
use nalgebra::{Isometry3, Matrix3, Point2, Vector3};
use worldrig_scene::{Camera, CameraModel, Pose3};

use crate::texture::{box_coverage, floor_f32, fbm_filtered, hash3, mix3, periodic_coverage, scale3, unit, value_noise};
use crate::world::{Environment, Ground, Material, Shape, Solid};

const TILE: usize = 16;
/// Tiles per culling group side.
const GROUP: usize = 4;
/// Rays are traced no further than this (fog and the sky take over).
const MAX_DIST_M: f32 = 400.0;

#[derive(Debug, Clone, Copy)]
struct TileCone {
    axis: Vector3<f32>,
    cos_half: f32,
    sin_half: f32,
    any_valid: bool,
}

/// The rays of one camera, in its own frame, computed once.
#[derive(Debug, Clone)]
pub struct CameraRays {
    camera: Camera,
    width: usize,
    height: usize,
    /// Unit ray through each pixel centre; zero where the model has no ray.
    dirs: Vec<Vector3<f32>>,
    /// Angle subtended by each pixel (radians), for texture filtering.
    pixel_angle: Vec<f32>,
    tiles_x: usize,
    tiles_y: usize,
    /// Cones of GROUP x GROUP tiles, for the first culling level.
    groups: Vec<TileCone>,
    groups_x: usize,
}

impl CameraRays {
    pub fn new(camera: &Camera) -> Self {
        let (w, h) = (camera.width() as usize, camera.height() as usize);
        let mut dirs = vec![Vector3::zeros(); w * h];
        for j in 0..h {
            for i in 0..w {
                if let Some(r) = camera.unproject(&Point2::new(i as f64 + 0.5, j as f64 + 0.5)) {
                    dirs[j * w + i] = r.into_inner().cast::<f32>();
                }
            }
        }
        let mut pixel_angle = vec![0.0f32; w * h];
        for j in 0..h {
            for i in 0..w {
                let d = dirs[j * w + i];
                let n = if i + 1 < w { dirs[j * w + i + 1] } else if i > 0 { dirs[j * w + i - 1] } else { d };
                let m = if j + 1 < h { dirs[(j + 1) * w + i] } else if j > 0 { dirs[(j - 1) * w + i] } else { d };
                let a = d.dot(&n).clamp(-1.0, 1.0).acos().max(d.dot(&m).clamp(-1.0, 1.0).acos());
                pixel_angle[j * w + i] = a.max(1e-5);
            }
        }
        let (tiles_x, tiles_y) = (w.div_ceil(TILE), h.div_ceil(TILE));
        let groups_x = w.div_ceil(TILE * GROUP);
        let groups = cones(&dirs, &pixel_angle, w, h, TILE * GROUP);
        Self { camera: camera.clone(), width: w, height: h, dirs, pixel_angle, tiles_x, tiles_y, groups, groups_x }
    }

    pub fn camera(&self) -> &Camera {
        &self.camera
    }
}

/// The bounding cone of the rays of each `size` x `size` block of pixels, widened by two pixels.
fn cones(dirs: &[Vector3<f32>], pixel_angle: &[f32], w: usize, h: usize, size: usize) -> Vec<TileCone> {
    let (nx, ny) = (w.div_ceil(size), h.div_ceil(size));
    let mut out = Vec::with_capacity(nx * ny);
    for ty in 0..ny {
        for tx in 0..nx {
            let block = || (ty * size..((ty + 1) * size).min(h)).flat_map(move |j| (tx * size..((tx + 1) * size).min(w)).map(move |i| j * w + i));
            let mut sum = Vector3::zeros();
            let mut any = false;
            let mut widest = 0.0f32;
            for p in block() {
                if dirs[p] != Vector3::zeros() {
                    sum += dirs[p];
                    any = true;
                    widest = widest.max(pixel_angle[p]);
                }
            }
            let axis = if any { sum.normalize() } else { Vector3::z() };
            let cos_min = block().filter(|&p| dirs[p] != Vector3::zeros()).map(|p| axis.dot(&dirs[p])).fold(1.0f32, f32::min);
            // Widen by two pixels' worth so silhouette supersamples stay inside the cone.
            let half = (cos_min.clamp(-1.0, 1.0).acos() + 2.0 * widest).min(std::f32::consts::PI);
            out.push(TileCone { axis, cos_half: half.cos(), sin_half: half.sin(), any_valid: any });
        }
    }
    out
}

/// A solid placed in the world at the current time, ready for intersection.
#[derive(Debug, Clone)]
pub struct Placed<'a> {
    /// local_from_world rotation and translation.
    rot_lw: Matrix3<f32>,
    trans_lw: Vector3<f32>,
    /// world_from_local rotation (for normals).
    rot_wl: Matrix3<f32>,
    shape: Shape,
    material: &'a Material,
    centre_w: Vector3<f32>,
    radius: f32,
    /// World-axis-aligned bounding box (padded so that it is conservative in `f32`).
    aabb: Aabb,
    /// The upper box of a vehicle (its cabin): the renderer paints windows on it.
    cabin: bool,
    /// Stable id for silhouette detection.
    id: u32,
    /// Consecutive solids with the same group (the parts of one vehicle) are culled together.
    group: u32,
}

impl<'a> Placed<'a> {
    /// Places `solid`, whose pose is relative to `world_from_parent`.
    pub fn new(solid: &'a Solid, world_from_parent: &Pose3, id: u32) -> Self {
        let wl: Isometry3<f64> = world_from_parent * solid.pose;
        let lw = wl.inverse();
        let radius = match solid.shape {
            Shape::Box { half_extents_m } => half_extents_m.norm(),
            Shape::Cylinder { radius_m, height_m } => (radius_m * radius_m + 0.25 * height_m * height_m).sqrt(),
            Shape::Sphere { radius_m } => radius_m,
            Shape::Wheel { radius_m, half_width_m } => (radius_m * radius_m + half_width_m * half_width_m).sqrt(),
        };
        let centre_local = match solid.shape {
            Shape::Cylinder { height_m, .. } => Vector3::new(0.0, 0.0, 0.5 * height_m),
            _ => Vector3::zeros(),
        };
        let cabin = matches!(solid.material, Material::VehicleBody { .. }) && solid.pose.translation.vector.z > 0.0;
        // Local bounds of the shape, then their world AABB: centre and |R| * half extents.
        let (lo, hi) = match solid.shape {
            Shape::Box { half_extents_m: h } => (-h, h),
            Shape::Cylinder { radius_m: r, height_m } => (Vector3::new(-r, -r, 0.0), Vector3::new(r, r, height_m)),
            Shape::Sphere { radius_m: r } => (Vector3::repeat(-r), Vector3::repeat(r)),
            Shape::Wheel { radius_m: r, half_width_m: hw } => (Vector3::new(-r, -hw, -r), Vector3::new(r, hw, r)),
        };
        let c_w = wl * nalgebra::Point3::from(0.5 * (lo + hi));
        let half_w = wl.rotation.to_rotation_matrix().into_inner().abs() * (0.5 * (hi - lo));
        let pad = Vector3::repeat(1e-3) + c_w.coords.abs() * 1e-5 + half_w * 1e-5;
        let aabb = Aabb { lo: (c_w.coords - half_w - pad).cast(), hi: (c_w.coords + half_w + pad).cast() };
        Self {
            rot_lw: lw.rotation.to_rotation_matrix().into_inner().cast(),
            trans_lw: lw.translation.vector.cast(),
            rot_wl: wl.rotation.to_rotation_matrix().into_inner().cast(),
            shape: solid.shape,
            material: &solid.material,
            centre_w: (wl * nalgebra::Point3::from(centre_local)).coords.cast(),
            radius: radius as f32,
            aabb,
            cabin,
            id,
            group: id,
        }
    }

    /// Marks this solid as part of `group` (e.g. one agent): consecutive solids of one group share
    /// a bounding sphere in culling.
    pub fn in_group(mut self, group: u32) -> Self {
        self.group = group;
        self
    }
}

/// A world-axis-aligned box.
#[derive(Debug, Clone, Copy)]
struct Aabb {
    lo: Vector3<f32>,
    hi: Vector3<f32>,
}

impl Aabb {
    fn union(&self, o: &Aabb) -> Aabb {
        Aabb { lo: self.lo.inf(&o.lo), hi: self.hi.sup(&o.hi) }
    }

    /// Relative to `origin`.
    fn shifted(&self, origin: &Vector3<f32>) -> Aabb {
        Aabb { lo: self.lo - origin, hi: self.hi - origin }
    }

    /// Whether any ray of `packet` can meet this box (relative to the camera): the slab test in
    /// interval arithmetic (the per-axis entry distance bounded below and exit distance bounded
    /// above over all directions of the packet).
    #[inline(always)]
    fn packet_may_hit(&self, packet: &Packet) -> bool {
        let mut t0 = 0.0f32;
        let mut t1 = packet.t_far;
        for k in 0..3 {
            let (lo, hi) = (self.lo[k], self.hi[k]);
            let [imin, imax] = packet.inv[k];
            let (entry, exit) = match packet.sign[k] {
                // d > 0: enters at `lo`, leaves at `hi`; 1/d in [imin, imax], both positive.
                1 => (lo * if lo >= 0.0 { imin } else { imax }, hi * if hi >= 0.0 { imax } else { imin }),
                // d < 0: enters at `hi`, leaves at `lo`; 1/d in [imin, imax], both negative.
                -1 => (hi * if hi >= 0.0 { imin } else { imax }, lo * if lo >= 0.0 { imax } else { imin }),
                _ => continue, // some direction (nearly) parallel to the slab: no bound
            };
            t0 = t0.max(entry);
            t1 = t1.min(exit);
        }
        t0 <= t1
    }
}

/// A world-axis-aligned box relative to the camera, laid out for the per-ray slab test: four
/// lanes, the fourth an unbounded dummy axis (so that it never tightens the interval).
#[derive(Debug, Clone, Copy)]
#[repr(C, align(16))]
struct Slab {
    lo: [f32; 4],
    hi: [f32; 4],
}

impl Slab {
    fn new(b: &Aabb) -> Slab {
        Slab { lo: [b.lo.x, b.lo.y, b.lo.z, -f32::MAX], hi: [b.hi.x, b.hi.y, b.hi.z, f32::MAX] }
    }

    /// Whether the ray from the origin with inverse direction `inv` (finite, fourth lane 1: see
    /// [`inverse_dir`]) meets this box at some `t` in `[0, t_max]`: per axis the entry and exit
    /// distances, then the latest entry against the earliest exit. No NaN can occur, so the
    /// lane-wise min/max give the same answer as scalar comparisons.
    #[cfg(target_arch = "x86_64")]
    #[inline(always)]
    fn may_hit(&self, inv: &[f32; 4], t_max: f32) -> bool {
        use std::arch::x86_64::*;
        // SAFETY: SSE is part of the x86-64 baseline; `Slab` is 16-byte aligned for the aligned
        // loads, and `inv` is read unaligned.
        unsafe {
            let i = _mm_loadu_ps(inv.as_ptr());
            let a = _mm_mul_ps(_mm_load_ps(self.lo.as_ptr()), i);
            let b = _mm_mul_ps(_mm_load_ps(self.hi.as_ptr()), i);
            let (near, far) = (_mm_min_ps(a, b), _mm_max_ps(a, b));
            let near = _mm_max_ps(near, _mm_shuffle_ps::<0b01_00_11_10>(near, near));
            let near = _mm_max_ps(near, _mm_shuffle_ps::<0b10_11_00_01>(near, near));
            let far = _mm_min_ps(far, _mm_shuffle_ps::<0b01_00_11_10>(far, far));
            let far = _mm_min_ps(far, _mm_shuffle_ps::<0b10_11_00_01>(far, far));
            let t0 = _mm_max_ss(near, _mm_setzero_ps());
            let t1 = _mm_min_ss(far, _mm_set_ss(t_max));
            _mm_comile_ss(t0, t1) != 0
        }
    }

    #[cfg(not(target_arch = "x86_64"))]
    #[inline(always)]
    fn may_hit(&self, inv: &[f32; 4], t_max: f32) -> bool {
        let mut t0 = 0.0f32;
        let mut t1 = t_max;
        for k in 0..3 {
            let (a, b) = (self.lo[k] * inv[k], self.hi[k] * inv[k]);
            let (near, far) = if a < b { (a, b) } else { (b, a) };
            t0 = if near > t0 { near } else { t0 };
            t1 = if far < t1 { far } else { t1 };
        }
        t0 <= t1
    }
}

/// Bounds over a block of rays (a tile and its one-pixel ring, which covers its sub-pixel rays):
/// per world axis the sign shared by every direction (or 0) and the range of `1 / d`, and the
/// furthest distance any of them searches.
#[derive(Debug, Clone, Copy)]
struct Packet {
    sign: [i8; 3],
    inv: [[f32; 2]; 3],
    t_far: f32,
}

impl Packet {
    /// `None` when the block has no valid ray. `border_pad`: extra padding of the direction
    /// bounds (radians) for blocks at the image border, whose outermost sub-pixel rays lie
    /// outside every pixel-centre ray.
    fn new(ctx: &TraceCtx<'_, '_>, dirs: &[Vector3<f32>], w: usize, rows: std::ops::Range<usize>, cols: std::ops::Range<usize>, border_pad: Option<f32>) -> Option<Packet> {
        let (mut lo, mut hi) = (Vector3::repeat(f32::INFINITY), Vector3::repeat(f32::NEG_INFINITY));
        for j in rows {
            for d in &dirs[j * w + cols.start..j * w + cols.end] {
                if no_ray(d) {
                    continue;
                }
                lo = lo.inf(d);
                hi = hi.sup(d);
            }
        }
        if lo.x > hi.x {
            return None;
        }
        // The furthest search of any ray: `search_limits` depends on `d.z` alone and, on each
        // side of horizontal, is monotone in it (largest nearest to horizontal), so its maximum
        // over the block is at an end of the block's `d.z` range or at 0 when the range holds 0.
        let reach = |z: f32| {
            let (t_max, t_search) = search_limits(ctx, &Vector3::new(0.0, 0.0, z));
            t_max.min(t_search)
        };
        let mut t_far = reach(lo.z).max(reach(hi.z));
        if lo.z <= 0.0 && hi.z >= 0.0 {
            t_far = t_far.max(reach(0.0));
        }
        // Sub-pixel rays lie between the block's rays up to second-order terms: pad a little.
        let pad = 1e-4 + border_pad.unwrap_or(0.0);
        if border_pad.is_some() {
            t_far = MAX_DIST_M;
        }
        let mut sign = [0i8; 3];
        let mut inv = [[0.0f32; 2]; 3];
        for k in 0..3 {
            let (a, b) = (lo[k] - pad, hi[k] + pad);
            if a > 0.0 {
                sign[k] = 1;
                inv[k] = [1.0 / b, 1.0 / a];
            } else if b < 0.0 {
                sign[k] = -1;
                inv[k] = [1.0 / b, 1.0 / a];
            }
        }
        Some(Packet { sign, inv, t_far: t_far * 1.001 + 1e-3 })
    }
}

/// Whether a camera has no ray through a pixel (its direction is stored as zero).
#[inline(always)]
fn no_ray(d: &Vector3<f32>) -> bool {
    d.x == 0.0 && d.y == 0.0 && d.z == 0.0
}

/// `1 / d` per component, with zero components replaced by a tiny value of the same sign so that
/// the result is finite and slab tests need no special case; a fourth lane of 1 (see [`Slab`]).
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn inverse_dir(d: &Vector3<f32>) -> [f32; 4] {
    use std::arch::x86_64::*;
    // SAFETY: SSE is part of the x86-64 baseline; no memory is touched but `out`.
    unsafe {
        let v = _mm_set_ps(1.0, d.z, d.y, d.x);
        let sign = _mm_set1_ps(-0.0);
        let tiny = _mm_cmplt_ps(_mm_andnot_ps(sign, v), _mm_set1_ps(1e-20));
        let replaced = _mm_or_ps(_mm_and_ps(v, sign), _mm_set1_ps(1e-20));
        let x = _mm_or_ps(_mm_and_ps(tiny, replaced), _mm_andnot_ps(tiny, v));
        let mut out = [0.0f32; 4];
        _mm_storeu_ps(out.as_mut_ptr(), _mm_div_ps(_mm_set1_ps(1.0), x));
        out
    }
}

#[cfg(not(target_arch = "x86_64"))]
#[inline(always)]
fn inverse_dir(d: &Vector3<f32>) -> [f32; 4] {
    let inv = |x: f32| 1.0 / if x.abs() < 1e-20 { 1e-20f32.copysign(x) } else { x };
    [inv(d.x), inv(d.y), inv(d.z), 1.0]
}

/// A bounding sphere and box over consecutive solids `first .. first + count`.
#[derive(Debug, Clone, Copy)]
struct Cluster {
    first: u32,
    count: u32,
    centre_w: Vector3<f32>,
    radius: f32,
    aabb: Aabb,
}

fn clusters(solids: &[Placed<'_>]) -> Vec<Cluster> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < solids.len() {
        let mut j = i + 1;
        while j < solids.len() && solids[j].group == solids[i].group {
            j += 1;
        }
        let part = &solids[i..j];
        let centre = part.iter().fold(Vector3::zeros(), |a, s| a + s.centre_w) / part.len() as f32;
        let radius = part.iter().map(|s| (s.centre_w - centre).norm() + s.radius).fold(0.0f32, f32::max);
        let aabb = part[1..].iter().fold(part[0].aabb, |a, s| a.union(&s.aabb));
        out.push(Cluster { first: i as u32, count: (j - i) as u32, centre_w: centre, radius: radius * 1.0001 + 1e-4, aabb });
        i = j;
    }
    out
}

/// Everything visible at one instant.
pub struct SceneView<'a> {
    pub ground: &'a dyn Ground,
    pub env: &'a Environment,
    pub solids: Vec<Placed<'a>>,
}

/// A rendered image and its depth (metres along the ray; infinity for sky).
pub struct Frame {
    pub image: RgbImage,
    pub depth_m: Vec<f32>,
}

struct Hit {
    t: f32,
    /// Index into the solids list, or `u32::MAX` for the ground.
    solid: u32,
    normal_local: Vector3<f32>,
    p_local: Vector3<f32>,
}

/// Entry distance of the ray `o + t d`, projected onto one coordinate plane (`(ou, ov)` and
/// `(du, dv)`), into the infinite circular cylinder of radius `r` about that plane's origin: the
/// smaller root, or `None` when the ray is parallel to the axis or misses. `b^2 - a c` is formed
/// as `a r^2 - (o x d)^2`, without the cancellation of `|o|^2` against `r^2`.
#[inline]
fn circle_entry(ou: f32, ov: f32, du: f32, dv: f32, r: f32) -> Option<f32> {
    let a = du * du + dv * dv;
    if a <= 1e-12 {
        return None;
    }
    let b = ou * du + ov * dv;
    let cross = ou * dv - ov * du;
    let disc = a * r * r - cross * cross;
    (disc >= 0.0).then(|| (-b - disc.sqrt()) / a)
}

#[inline]
fn intersect(shape: &Shape, o: &Vector3<f32>, d: &Vector3<f32>, t_max: f32) -> Option<(f32, Vector3<f32>)> {
    match *shape {
        Shape::Box { half_extents_m } => {
            let h: Vector3<f32> = half_extents_m.cast();
            let mut t0 = 1e-4f32;
            let mut t1 = t_max;
            let mut axis = 3usize;
            let mut sign = 0.0f32;
            for k in 0..3 {
                if d[k].abs() < 1e-12 {
                    if o[k].abs() > h[k] {
                        return None;
                    }
                    continue;
                }
                let inv = 1.0 / d[k];
                let (mut a, mut b) = ((-h[k] - o[k]) * inv, (h[k] - o[k]) * inv);
                let mut s = -1.0;
                if a > b {
                    std::mem::swap(&mut a, &mut b);
                    s = 1.0;
                }
                if a > t0 {
                    t0 = a;
                    axis = k;
                    sign = s;
                }
                t1 = t1.min(b);
                if t0 > t1 {
                    return None;
                }
            }
            if axis == 3 {
                return None; // ray starts inside the box
            }
            let mut n = Vector3::zeros();
            n[axis] = sign;
            Some((t0, n))
        }
        Shape::Sphere { radius_m } => {
            // Discriminant from the closest approach to the centre (no cancellation of |o|^2).
            let r = radius_m as f32;
            let b = o.dot(d); // d is a unit vector
            let disc = r * r - (o - d * b).norm_squared();
            if disc < 0.0 {
                return None;
            }
            let t = -b - disc.sqrt();
            (t > 1e-4 && t < t_max).then(|| (t, (o + d * t) / r))
        }
        Shape::Cylinder { radius_m, height_m } => {
            let (r, hgt) = (radius_m as f32, height_m as f32);
            let mut best: Option<(f32, Vector3<f32>)> = None;
            if let Some(t) = circle_entry(o.x, o.y, d.x, d.y, r) {
                let z = o.z + t * d.z;
                if t > 1e-4 && t < t_max && (0.0..=hgt).contains(&z) {
                    best = Some((t, Vector3::new((o.x + t * d.x) / r, (o.y + t * d.y) / r, 0.0)));
                }
            }
            if d.z < 0.0 {
                let t = (hgt - o.z) / d.z;
                let (x, y) = (o.x + t * d.x, o.y + t * d.y);
                if t > 1e-4 && x * x + y * y <= r * r && best.is_none_or(|b| t < b.0) && t < t_max {
                    best = Some((t, Vector3::z()));
                }
            }
            best
        }
        Shape::Wheel { radius_m, half_width_m } => {
            let (r, hw) = (radius_m as f32, half_width_m as f32);
            let mut best: Option<(f32, Vector3<f32>)> = None;
            if let Some(t) = circle_entry(o.x, o.z, d.x, d.z, r) {
                let y = o.y + t * d.y;
                if t > 1e-4 && t < t_max && y.abs() <= hw {
                    best = Some((t, Vector3::new((o.x + t * d.x) / r, 0.0, (o.z + t * d.z) / r)));
                }
            }
            if d.y.abs() > 1e-12 {
                let cap = if o.y > 0.0 { hw } else { -hw };
                let t = (cap - o.y) / d.y;
                let (x, z) = (o.x + t * d.x, o.z + t * d.z);
                if t > 1e-4 && t < t_max && x * x + z * z <= r * r && best.is_none_or(|b| t < b.0) {
                    best = Some((t, Vector3::new(0.0, cap.signum(), 0.0)));
                }
            }
            best
        }
    }
}

/// Linear [0, 1] to sRGB 8-bit, through a lookup table.
struct Srgb {
    lut: [u8; 4096],
}

impl Srgb {
    fn new() -> Self {
        let lut = std::array::from_fn(|i| {
            let c = i as f32 / 4095.0;
            let s = if c <= 0.003_130_8 { 12.92 * c } else { 1.055 * c.powf(1.0 / 2.4) - 0.055 };
            (s * 255.0 + 0.5).clamp(0.0, 255.0) as u8
        });
        Self { lut }
    }
    #[inline]
    fn encode(&self, c: f32) -> u8 {
        // clamp(c, 0, 1) * 4095 with plain comparisons (NaN maps to 0, as before).
        let x = c * 4095.0;
        let x = if x > 0.0 { x } else { 0.0 };
        let x = if x < 4095.0 { x } else { 4095.0 };
        self.lut[x as i32 as usize & 4095]
    }
}

fn srgb() -> &'static Srgb {
    static LUT: std::sync::OnceLock<Srgb> = std::sync::OnceLock::new();
    LUT.get_or_init(Srgb::new)
}

/// Renders `view` through a camera at `world_from_camera`.
pub fn render(rays: &CameraRays, world_from_camera: &Pose3, view: &SceneView<'_>) -> Frame {
    let (w, h) = (rays.width, rays.height);
    let rot: Matrix3<f32> = world_from_camera.rotation.to_rotation_matrix().into_inner().cast();
    let origin: Vector3<f32> = world_from_camera.translation.vector.cast();
    // Per solid: the camera origin in its local frame (constant over the image).
    let local_origin: Vec<Vector3<f32>> = view.solids.iter().map(|s| s.rot_lw * origin + s.trans_lw).collect();
    // Bounding spheres relative to the camera, (centre - origin, |centre - origin|^2, radius^2),
    // of every solid and of every cluster, and each cluster's distance from the camera (no hit on
    // its solids can be nearer).
    let rel = |c: &Vector3<f32>, r: f32| {
        let v = c - origin;
        (v, v.norm_squared(), r * r)
    };
    let boxes: Vec<Slab> = view.solids.iter().map(|s| Slab::new(&s.aabb.shifted(&origin))).collect();
    let clusters = clusters(&view.solids);
    let cluster_boxes: Vec<Aabb> = clusters.iter().map(|c| c.aabb.shifted(&origin)).collect();
    let cluster_slabs: Vec<Slab> = cluster_boxes.iter().map(Slab::new).collect();
    let near: Vec<f32> = clusters.iter().map(|c| (rel(&c.centre_w, c.radius).1.sqrt() - c.radius).max(0.0)).collect();
    // Nothing is higher than this: an upward ray is done once it climbs past it.
    let z_top = clusters.iter().map(|c| c.centre_w.z + c.radius).fold(f32::MIN, f32::max);
    let ctx = TraceCtx { view, local_origin: &local_origin, boxes: &boxes, clusters: &clusters, cluster_boxes: &cluster_slabs, near: &near, origin, z_top };

    let mut ids = vec![0u32; w * h];
    let mut colour = vec![[0.0f32; 3]; w * h];
    let mut depth = vec![f32::INFINITY; w * h];
    // Two-level culling of clusters: against 4x4-tile groups, then each tile against its group's list.
    let cone_test = |axis_w: &Vector3<f32>, cos_half: f32, sin_half: f32, c: &Cluster| -> bool {
        let v = c.centre_w - origin;
        let dist = v.norm();
        if dist - c.radius > MAX_DIST_M {
            return false;
        }
        if dist <= c.radius {
            return true;
        }
        // Sphere-cone test: angle(v, axis) <= half + asin(radius / dist), i.e.
        // cos(angle) >= cos(half + r) = cos_half cos_r - sin_half sin_r.
        let cos_a = v.dot(axis_w) / dist;
        let sin_r = c.radius / dist;
        let cos_r = (1.0 - sin_r * sin_r).max(0.0).sqrt();
        cos_a >= cos_half * cos_r - sin_half * sin_r
    };
    // Lists are kept in order of distance to the bounding sphere: once that exceeds the nearest
    // hit so far, no later solid can be hit nearer and the ray is done.
    let mut order: Vec<u32> = (0..clusters.len() as u32).collect();
    order.sort_by(|&a, &b| near[a as usize].total_cmp(&near[b as usize]).then(a.cmp(&b)));
    let group_lists: Vec<Vec<u32>> = rays
        .groups
        .iter()
        .map(|g| {
            if !g.any_valid {
                return Vec::new();
            }
            let axis_w = rot * g.axis;
            order.iter().copied().filter(|&k| cone_test(&axis_w, g.cos_half, g.sin_half, &clusters[k as usize])).collect()
        })
        .collect();
    // World ray directions (zero where the camera has no ray).
    let dirs: Vec<Vector3<f32>> = rays.dirs.iter().map(|dc| if no_ray(dc) { *dc } else { rot * dc }).collect();
    let mut lists: Vec<Vec<u32>> = vec![Vec::new(); rays.tiles_x * rays.tiles_y];
    for ti in 0..lists.len() {
        let (tx, ty) = (ti % rays.tiles_x, ti / rays.tiles_x);
        let (rows, cols) = (ty * TILE..((ty + 1) * TILE).min(h), tx * TILE..((tx + 1) * TILE).min(w));
        // Each tile keeps the clusters that some ray of it (or of its ring) can meet.
        let ring = (rows.start.saturating_sub(1)..(rows.end + 1).min(h), cols.start.saturating_sub(1)..(cols.end + 1).min(w));
        let border = (rows.start == 0 || cols.start == 0 || rows.end == h || cols.end == w).then(|| {
            // A pixel's angle bounds how far a ray half a pixel beyond it turns.
            (ring.0.clone()).flat_map(|j| ring.1.clone().map(move |i| j * w + i)).map(|p| rays.pixel_angle[p]).fold(0.0f32, f32::max)
        });
        let Some(packet) = Packet::new(&ctx, &dirs, w, ring.0, ring.1, border) else { continue };
        let group = &group_lists[(ty / GROUP) * rays.groups_x + tx / GROUP];
        lists[ti] = group.iter().copied().filter(|&k| cluster_boxes[k as usize].packet_may_hit(&packet)).collect();
        let list = &lists[ti];
        for j in rows {
            for i in cols.clone() {
                let p = j * w + i;
                let d = dirs[p];
                if no_ray(&d) {
                    continue;
                }
                let (c, id, t) = trace(&ctx, list, &d, rays.pixel_angle[p]);
                colour[p] = c;
                ids[p] = id;
                depth[p] = t;
            }
        }
    }
    // Silhouette supersampling: re-render pixels whose neighbours see something else.
    let mut edge = Vec::new();
    for j in 0..h {
        for i in 0..w {
            let p = j * w + i;
            let me = ids[p];
            let differs = (i + 1 < w && ids[p + 1] != me) || (j + 1 < h && ids[p + w] != me) || (i > 0 && ids[p - 1] != me) || (j > 0 && ids[p - w] != me);
            if differs && !no_ray(&rays.dirs[p]) {
                edge.push(p);
            }
        }
    }
    // Two more samples besides the centre, offset by a third of a pixel along the anti-diagonal:
    // the three samples have distinct columns and rows, so horizontal and vertical edges get three
    // coverage levels each (the centre ray is reused; a fourth sample cost more than it showed).
    const SUB: [(f32, f32); 2] = [(-1.0 / 3.0, 1.0 / 3.0), (1.0 / 3.0, -1.0 / 3.0)];
    for &p in &edge {
        let (i, j) = (p % w, p / w);
        // The tile's packet covers its one-pixel ring, so its list covers these sub-pixel rays.
        let list = &lists[(j / TILE) * rays.tiles_x + i / TILE];
        let mut acc = colour[p];
        let mut n = 1.0f32;
        for (sx, sy) in SUB {
            let Some(d) = sub_pixel_ray(&dirs, w, h, i, j, sx, sy).or_else(|| {
                let ray = rays.camera.unproject(&Point2::new(i as f64 + 0.5 + sx as f64, j as f64 + 0.5 + sy as f64))?;
                Some(rot * ray.into_inner().cast::<f32>())
            }) else {
                continue;
            };
            let (c, _, _) = trace(&ctx, list, &d, rays.pixel_angle[p] * 0.5);
            for k in 0..3 {
                acc[k] += c[k];
            }
            n += 1.0;
        }
        colour[p] = [acc[0] / n, acc[1] / n, acc[2] / n];
    }
    let lut = srgb();
    let tint = view.env.tint;
    let mut image = RgbImage::new(w as u32, h as u32);
    for (p, px) in image.pixels_mut().enumerate() {
        let c = colour[p];
        px.0 = [lut.encode(c[0] * tint[0]), lut.encode(c[1] * tint[1]), lut.encode(c[2] * tint[2])];
    }
    Frame { image, depth_m: depth }
}

/// The ray at offset `(sx, sy)` pixels from the centre of pixel `(i, j)` (|offset| < 1/2),
/// bilinearly interpolated between the four nearest pixel-centre rays `dirs` (extrapolated at
/// the image border) and normalised. Within a pixel the camera's ray field is smooth, so this
/// is exact to second order (within 1e-3 pixel for the rig's cameras; tested) and costs a fraction of
/// an `unproject`. `None` where a neighbouring pixel has no ray.
#[inline]
fn sub_pixel_ray(dirs: &[Vector3<f32>], w: usize, h: usize, i: usize, j: usize, sx: f32, sy: f32) -> Option<Vector3<f32>> {
    if w < 2 || h < 2 {
        return None;
    }
    // The left/upper neighbour pair that brackets the sample (clamped at the border).
    let i0 = if sx < 0.0 { i.max(1) - 1 } else { i.min(w - 2) };
    let j0 = if sy < 0.0 { j.max(1) - 1 } else { j.min(h - 2) };
    let (fx, fy) = (i as f32 + sx - i0 as f32, j as f32 + sy - j0 as f32);
    let (a, b, c, d) = (dirs[j0 * w + i0], dirs[j0 * w + i0 + 1], dirs[(j0 + 1) * w + i0], dirs[(j0 + 1) * w + i0 + 1]);
    if no_ray(&a) || no_ray(&b) || no_ray(&c) || no_ray(&d) {
        return None;
    }
    let top = a + (b - a) * fx;
    let bot = c + (d - c) * fx;
    Some((top + (bot - top) * fy).normalize())
}

/// Per-render constants shared by every ray.
struct TraceCtx<'v, 'a> {
    view: &'v SceneView<'a>,
    local_origin: &'v [Vector3<f32>],
    /// Bounding boxes of the solids and of the clusters, relative to the camera.
    boxes: &'v [Slab],
    clusters: &'v [Cluster],
    cluster_boxes: &'v [Slab],
    near: &'v [f32],
    origin: Vector3<f32>,
    /// Highest point of any solid (world z).
    z_top: f32,
}

/// Where the ray `d` meets the ground (or `MAX_DIST_M`), and how far it can meet a solid.
#[inline(always)]
fn search_limits(ctx: &TraceCtx<'_, '_>, d: &Vector3<f32>) -> (f32, f32) {
    let origin = &ctx.origin;
    let mut t_max = MAX_DIST_M;
    if d.z < -1e-6 {
        let t = -origin.z / d.z;
        if t > 0.0 && t < t_max {
            t_max = t;
        }
    }
    // Above every solid the ray can only meet the sky: search no further than that.
    let mut t_search = t_max;
    if d.z > 1e-6 && ctx.z_top > origin.z {
        t_search = t_search.min((ctx.z_top - origin.z) / d.z);
    } else if d.z > 1e-6 {
        t_search = 0.0;
    }
    (t_max, t_search)
}

#[inline]
fn trace(ctx: &TraceCtx<'_, '_>, list: &[u32], d: &Vector3<f32>, pixel_angle: f32) -> ([f32; 3], u32, f32) {
    let (view, origin) = (ctx.view, &ctx.origin);
    let (mut t_max, t_search) = search_limits(ctx, d);
    let mut best: Option<Hit> = None;
    if t_max < MAX_DIST_M {
        best = Some(Hit { t: t_max, solid: u32::MAX, normal_local: Vector3::z(), p_local: origin + d * t_max });
    }
    let inv = inverse_dir(d);
    for &c in list {
        if ctx.near[c as usize] > t_max.min(t_search) {
            break; // the list is sorted by this distance
        }
        if !ctx.cluster_boxes[c as usize].may_hit(&inv, t_max) {
            continue;
        }
        let cl = ctx.clusters[c as usize];
        for k in cl.first..cl.first + cl.count {
            if cl.count > 1 && !ctx.boxes[k as usize].may_hit(&inv, t_max) {
                continue;
            }
            let s = &view.solids[k as usize];
            let o = ctx.local_origin[k as usize];
            let dl = s.rot_lw * d;
            if let Some((t, n)) = intersect(&s.shape, &o, &dl, t_max) {
                t_max = t;
                best = Some(Hit { t, solid: k, normal_local: n, p_local: o + dl * t });
            }
        }
    }
    let env = view.env;
    let Some(hit) = best else {
        return (sky(env, d), 0, f32::INFINITY);
    };
    let footprint = hit.t * pixel_angle;
    let (albedo, normal_w, id) = if hit.solid == u32::MAX {
        // Grazing rays stretch the footprint along the view direction.
        let fp = footprint / (-d.z).max(0.05).sqrt();
        (view.ground.albedo(hit.p_local.x as f64, hit.p_local.y as f64, fp as f64), Vector3::z(), 1)
    } else {
        let s = &view.solids[hit.solid as usize];
        let n_w = s.rot_wl * hit.normal_local;
        (material_albedo(s, &hit.p_local, &hit.normal_local, footprint), n_w, s.id + 2)
    };
    let sun = env.sun_dir.cast::<f32>();
    let lambert = normal_w.dot(&sun).max(0.0);
    let mut c = [0.0f32; 3];
    for k in 0..3 {
        c[k] = albedo[k] * (env.ambient_colour[k] + env.sun_colour[k] * lambert);
    }
    if env.fog_density_per_m > 0.0 {
        let f = (-env.fog_density_per_m * hit.t).exp();
        c = mix3(env.fog_colour, c, f);
    }
    (c, id, hit.t)
}

fn sky(env: &Environment, d: &Vector3<f32>) -> [f32; 3] {
    let e = d.z.max(0.0).sqrt();
    let mut c = mix3(env.sky_horizon, env.sky_zenith, e);
    if env.fog_density_per_m > 0.0 {
        c = mix3(env.fog_colour, c, (1.0 - env.fog_density_per_m * 40.0).clamp(0.0, 1.0));
    }
    c
}

/// Face coordinates of a box hit: (u, v) in metres across the face, v up from the base for
/// side faces; and whether it is a side face.
#[inline]
fn box_face_uv(h: &Vector3<f32>, p: &Vector3<f32>, n: &Vector3<f32>) -> (f32, f32, bool, u32) {
    if n.x.abs() > 0.5 {
        (p.y + h.y, p.z + h.z, true, if n.x > 0.0 { 0 } else { 1 })
    } else if n.y.abs() > 0.5 {
        (p.x + h.x, p.z + h.z, true, if n.y > 0.0 { 2 } else { 3 })
    } else {
        (p.x + h.x, p.y + h.y, false, if n.z > 0.0 { 4 } else { 5 })
    }
}

fn material_albedo(s: &Placed<'_>, p: &Vector3<f32>, n: &Vector3<f32>, fp: f32) -> [f32; 3] {
    let r = fp * 0.5;
    match s.material {
        Material::Plain { albedo } => {
            let v = fbm_filtered(p.x + p.z * 0.7, p.y - p.z * 0.3, 0.8, 4, fp, 11);
            scale3(*albedo, 0.8 + 0.4 * v)
        }
        Material::Facade { wall, window, spacing_m, floor_h_m, window_w_m, window_h_m, seed } => {
            let Shape::Box { half_extents_m } = s.shape else { return *wall };
            let h: Vector3<f32> = half_extents_m.cast();
            let (u, v, side, face) = box_face_uv(&h, p, n);
            let grain = fbm_filtered(u, v, 1.5, 5, fp, seed.wrapping_add(face));
            let wall_c = scale3(*wall, 0.75 + 0.5 * grain);
            if !side {
                return scale3([0.25, 0.25, 0.27], 0.7 + 0.6 * grain);
            }
            // Mortar courses every 0.5 m (filtered away at distance).
            let mortar = periodic_coverage(v, 0.5, 0.06, r);
            let wall_c = mix3(wall_c, scale3(*wall, 0.55), mortar * 0.6);
            let (sp, fh) = (*spacing_m, *floor_h_m);
            let col = floor_f32(u / sp) as i32;
            let row = floor_f32(v / fh) as i32;
            let (cu, cv) = (u - col as f32 * sp, v - row as f32 * fh);
            let x0 = 0.5 * (sp - window_w_m);
            let y0 = 0.3 * fh;
            let width_ok = u > 0.6 && u < 2.0 * if face < 2 { h.y } else { h.x } - 0.6;
            if !width_ok || v < 0.8 {
                return wall_c;
            }
            let cov = box_coverage(cu, x0, x0 + window_w_m, r) * box_coverage(cv, y0, y0 + window_h_m, r);
            if cov <= 0.0 {
                return wall_c;
            }
            let hsh = hash3(col, row, seed.wrapping_mul(31).wrapping_add(face));
            let lit = unit(hsh) < 0.25;
            let shade = 0.5 + 0.9 * unit(hsh >> 3);
            let mut win = scale3(*window, shade);
            if lit {
                win = mix3(win, [0.9, 0.75, 0.45], 0.5);
            }
            // Mullions: a cross in the window.
            let mull = (box_coverage(cu, x0 + 0.5 * window_w_m - 0.04, x0 + 0.5 * window_w_m + 0.04, r)
                + box_coverage(cv, y0 + 0.6 * window_h_m - 0.04, y0 + 0.6 * window_h_m + 0.04, r))
            .min(1.0);
            let win = mix3(win, [0.8, 0.8, 0.78], mull);
            mix3(wall_c, win, cov)
        }
        Material::VehicleBody { paint, seed } => {
            let Shape::Box { half_extents_m } = s.shape else { return *paint };
            let h: Vector3<f32> = half_extents_m.cast();
            let (u, v, side, face) = box_face_uv(&h, p, n);
            let speck = fbm_filtered(u * 3.0, v * 3.0, 1.0, 3, fp * 3.0, *seed);
            let body = scale3(*paint, 0.85 + 0.3 * speck);
            if !side {
                return body;
            }
            let hh = 2.0 * h.z;
            if s.cabin {
                // Windows band with pillars at the ends and in the middle of long sides.
                let len = if face < 2 { 2.0 * h.y } else { 2.0 * h.x };
                let band = box_coverage(v, 0.12 * hh, 0.9 * hh, r);
                let mut pillars = box_coverage(u, 0.0, 0.12, r) + box_coverage(u, len - 0.12, len, r);
                if face >= 2 {
                    pillars += box_coverage(u, 0.5 * len - 0.06, 0.5 * len + 0.06, r);
                }
                let glass = mix3([0.05, 0.07, 0.09], [0.25, 0.3, 0.35], 0.3 + 0.4 * speck);
                return mix3(body, glass, band * (1.0 - pillars.min(1.0)));
            }
            let len = if face < 2 { 2.0 * h.y } else { 2.0 * h.x };
            // Bumper strip and sill.
            let mut c = mix3(body, [0.04, 0.04, 0.04], box_coverage(v, 0.0, 0.18 * hh, r));
            match face {
                0 => {
                    // Front: headlights and grille.
                    let lights = box_coverage(v, 0.55 * hh, 0.78 * hh, r) * (box_coverage(u, 0.08, 0.38, r) + box_coverage(u, len - 0.38, len - 0.08, r));
                    c = mix3(c, [0.95, 0.95, 0.9], lights.min(1.0));
                    let grille = box_coverage(v, 0.3 * hh, 0.55 * hh, r) * box_coverage(u, 0.45, len - 0.45, r);
                    let slats = periodic_coverage(v, 0.05, 0.5, r);
                    c = mix3(c, scale3([0.08, 0.08, 0.08], 0.6 + 0.8 * slats), grille);
                }
                1 => {
                    // Rear: tail lights and a licence plate.
                    let lights = box_coverage(v, 0.55 * hh, 0.8 * hh, r) * (box_coverage(u, 0.05, 0.3, r) + box_coverage(u, len - 0.3, len - 0.05, r));
                    c = mix3(c, [0.7, 0.03, 0.02], lights.min(1.0));
                    let plate = box_coverage(v, 0.3 * hh, 0.5 * hh, r) * box_coverage(u, 0.5 * len - 0.26, 0.5 * len + 0.26, r);
                    let chars = periodic_coverage(u, 0.09, 0.45, r) * box_coverage(v, 0.34 * hh, 0.46 * hh, r);
                    c = mix3(c, mix3([0.9, 0.9, 0.85], [0.05, 0.05, 0.05], chars * 0.8), plate);
                }
                _ => {
                    // Sides: door seams and handles.
                    let seams = box_coverage(u, 0.35 * len - 0.015, 0.35 * len + 0.015, r) + box_coverage(u, 0.62 * len - 0.015, 0.62 * len + 0.015, r);
                    c = mix3(c, scale3(*paint, 0.3), seams.min(1.0) * box_coverage(v, 0.18 * hh, hh, r));
                    let handles = box_coverage(v, 0.7 * hh, 0.78 * hh, r) * (box_coverage(u, 0.4 * len, 0.4 * len + 0.18, r) + box_coverage(u, 0.67 * len, 0.67 * len + 0.18, r));
                    c = mix3(c, [0.6, 0.6, 0.6], handles.min(1.0));
                }
            }
            c
        }
        Material::Tyre => {
            if n.y.abs() > 0.5 {
                let Shape::Wheel { radius_m, .. } = s.shape else { return [0.03; 3] };
                let rr = (p.x * p.x + p.z * p.z).sqrt() / radius_m as f32;
                let hub = box_coverage(rr, 0.0, 0.62, r / radius_m as f32);
                let ang = p.z.atan2(p.x);
                let spokes = periodic_coverage(ang * radius_m as f32 * 0.6, 0.35, 0.5, r);
                mix3([0.03, 0.03, 0.03], scale3([0.55, 0.55, 0.57], 0.5 + 0.5 * spokes), hub)
            } else {
                [0.03, 0.03, 0.035]
            }
        }
        Material::Foliage { base, seed } => {
            // World-anchored leafy noise on the sphere surface.
            let a = fbm_filtered(p.x * 1.3 + p.z, p.y * 1.3 - p.z * 0.5, 0.9, 5, fp * 1.3, *seed);
            let b = value_noise(p.x * 4.0 + 7.0, p.y * 4.0 + p.z * 4.0, seed.wrapping_add(5));
            scale3(*base, 0.45 + 0.9 * a * (0.8 + 0.4 * b))
        }
        Material::Bark { base } => {
            let ang = p.y.atan2(p.x);
            let v = fbm_filtered(ang * 2.0, p.z * 6.0, 0.7, 4, fp * 6.0, 23);
            scale3(*base, 0.6 + 0.8 * v)
        }
        Material::Sign { face, border, seed } => {
            let Shape::Box { half_extents_m } = s.shape else { return *face };
            let h: Vector3<f32> = half_extents_m.cast();
            // The sign face is the box's largest face: normal along its thinnest axis.
            let thin = if h.x <= h.y && h.x <= h.z { 0 } else if h.y <= h.z { 1 } else { 2 };
            if n[thin].abs() < 0.5 {
                return [0.35, 0.35, 0.36];
            }
            let (a, b, ha, hb) = match thin {
                0 => (p.y, p.z, h.y, h.z),
                1 => (p.x, p.z, h.x, h.z),
                _ => (p.x, p.y, h.x, h.y),
            };
            if n[thin] < 0.0 {
                return [0.4, 0.4, 0.42]; // back of the sign
            }
            let edge = 1.0 - box_coverage(a, -ha * 0.86, ha * 0.86, r) * box_coverage(b, -hb * 0.86, hb * 0.86, r);
            let rr = (a * a + b * b).sqrt() / ha.min(hb);
            let symbol = match seed % 3 {
                0 => box_coverage(rr, 0.35, 0.55, r / ha.min(hb)),
                1 => box_coverage(a, -0.1 * ha, 0.1 * ha, r) * box_coverage(b, -0.5 * hb, 0.5 * hb, r),
                _ => box_coverage(b, -0.12 * hb, 0.12 * hb, r) * box_coverage(a, -0.55 * ha, 0.55 * ha, r),
            };
            let c = mix3(*face, [0.05, 0.05, 0.05], symbol);
            mix3(c, *border, edge)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nalgebra::{Translation3, UnitQuaternion};
    use worldrig_scene::Pinhole;

    fn env() -> Environment {
        Environment {
            time_of_day: crate::TimeOfDay::Noon,
            weather: crate::Weather::Clear,
            sun_dir: Vector3::new(0.3, 0.2, 0.9).normalize(),
            sun_colour: [1.0; 3],
            ambient_colour: [0.3; 3],
            sky_zenith: [0.2, 0.4, 0.8],
            sky_horizon: [0.7, 0.8, 0.9],
            fog_density_per_m: 0.0,
            fog_colour: [0.7; 3],
            tint: [1.0; 3],
        }
    }

    struct Checker;
    impl Ground for Checker {
        fn albedo(&self, x: f64, y: f64, _fp: f64) -> [f32; 3] {
            if (x.floor() as i64 + y.floor() as i64) % 2 == 0 {
                [0.8; 3]
            } else {
                [0.1; 3]
            }
        }
    }

    #[test]
    fn interpolated_sub_pixel_rays_match_the_camera_model() {
        let rig = worldrig_scene::Rig::from_json(include_str!("../../../configs/rigs/cosmos-6cam-448x256.json")).unwrap();
        let pinhole = Camera::Pinhole(Pinhole::new(64, 48, 40.0, 40.0, 32.0, 24.0));
        for cam in rig.cameras.iter().map(|c| &c.model).chain([&pinhole]) {
            let rays = CameraRays::new(cam);
            let (w, h) = (rays.width, rays.height);
            let mut worst = 0.0f64;
            for j in 0..h {
                for i in 0..w {
                    for (sx, sy) in [(-1.0f32 / 3.0, 1.0f32 / 3.0), (1.0 / 3.0, -1.0 / 3.0), (-0.125, -0.375), (0.375, -0.125)] {
                        let Some(exact) = cam.unproject(&Point2::new(i as f64 + 0.5 + sx as f64, j as f64 + 0.5 + sy as f64)) else { continue };
                        let Some(d) = sub_pixel_ray(&rays.dirs, w, h, i, j, sx, sy) else { continue };
                        let err = d.cast::<f64>().cross(&exact).norm();
                        worst = worst.max(err / rays.pixel_angle[j * w + i] as f64);
                    }
                }
            }
            eprintln!("worst sub-pixel ray error {worst:.2e} px");
            assert!(worst < 1e-2, "sub-pixel rays off by {worst} px");
        }
    }

    #[test]
    fn box_in_front_occludes_ground_and_depth_is_exact() {
        let cam = Camera::Pinhole(Pinhole::new(64, 48, 40.0, 40.0, 32.0, 24.0));
        let rays = CameraRays::new(&cam);
        let solid = Solid {
            pose: Isometry3::from_parts(Translation3::new(10.0, 0.0, 1.5), UnitQuaternion::identity()),
            shape: Shape::Box { half_extents_m: Vector3::new(1.0, 1.0, 1.5) },
            material: Material::Plain { albedo: [0.9, 0.1, 0.1] },
        };
        let e = env();
        let view = SceneView { ground: &Checker, env: &e, solids: vec![Placed::new(&solid, &Pose3::identity(), 0)] };
        // Camera at 1.5 m looking along +x.
        let world_from_camera = Isometry3::from_parts(Translation3::new(0.0, 0.0, 1.5), worldrig_scene::pose::flu_from_rdf());
        let f = render(&rays, &world_from_camera, &view);
        // Centre pixel hits the box front face at x = 9: depth 9 along the ray.
        let centre = 24 * 64 + 32;
        let d = f.depth_m[centre];
        let ray = cam.unproject(&Point2::new(32.5, 24.5)).unwrap();
        assert!((d * ray.z as f32 - 9.0).abs() < 1e-3, "depth {d}");
        let px = f.image.get_pixel(32, 24).0;
        assert!(px[0] > 2 * px[1], "box should be red: {px:?}");
        // Top rows see sky (blue-ish), bottom rows ground.
        let sky = f.image.get_pixel(5, 0).0;
        assert!(sky[2] > sky[0]);
        assert!(f.depth_m[47 * 64 + 5].is_finite());
    }
}
