//! The renderer's geometry is exact: world points are drawn where each camera model projects
//! them (pinhole and f-theta, every camera of the real rig), the same point is consistent across
//! cameras, rendered map lane lines are drawn on the painted lines, and frames carry hundreds of
//! repeatable corners.

use image::RgbImage;
use nalgebra::{Point2, Point3, Vector3};
use worldrig_scene::{Camera, CameraModel, MapElementKind, MapGeometry, Pinhole, Pose3, Rig};
use worldrig_sim::generate::{generate, WorldParams};
use worldrig_sim::render::{render, CameraRays, SceneView};
use worldrig_sim::simulate::scene_at;
use worldrig_sim::{Environment, Ground, Manoeuvre, RoadLayout, TimeOfDay, Weather};

fn rig() -> Rig {
    Rig::from_json(include_str!("../../../configs/rigs/cosmos-6cam-448x256.json")).unwrap()
}

fn flat_env() -> Environment {
    Environment {
        time_of_day: TimeOfDay::Noon,
        weather: Weather::Clear,
        sun_dir: Vector3::z(),
        sun_colour: [0.0; 3],
        ambient_colour: [1.0; 3],
        sky_zenith: [0.0; 3],
        sky_horizon: [0.0; 3],
        fog_density_per_m: 0.0,
        fog_colour: [0.0; 3],
        tint: [1.0; 3],
    }
}

/// Black ground with bright Gaussian blobs (centre, sigma in metres).
struct Blobs(Vec<(Point2<f64>, f64)>);

impl Ground for Blobs {
    fn albedo(&self, x: f64, y: f64, _fp: f64) -> [f32; 3] {
        let mut v = 0.0;
        for (p, s) in &self.0 {
            let d2 = (x - p.x).powi(2) + (y - p.y).powi(2);
            v += (-d2 / (2.0 * s * s)).exp();
        }
        [v.min(1.0) as f32; 3]
    }
}

/// Intensity-weighted centroid of the pixels within `r` px of `guess`.
fn centroid(img: &RgbImage, guess: Point2<f64>, r: i64) -> Option<Point2<f64>> {
    let (mut sx, mut sy, mut sw) = (0.0, 0.0, 0.0);
    for y in (guess.y as i64 - r).max(0)..=(guess.y as i64 + r).min(img.height() as i64 - 1) {
        for x in (guess.x as i64 - r).max(0)..=(guess.x as i64 + r).min(img.width() as i64 - 1) {
            // Undo the sRGB encoding to weight by linear intensity.
            let c = img.get_pixel(x as u32, y as u32).0[0] as f64 / 255.0;
            let w = if c <= 0.04045 { c / 12.92 } else { ((c + 0.055) / 1.055).powf(2.4) };
            sx += w * (x as f64 + 0.5);
            sy += w * (y as f64 + 0.5);
            sw += w;
        }
    }
    (sw > 1e-3).then(|| Point2::new(sx / sw, sy / sw))
}

/// Renders blobs that are ~2 px wide on screen and returns, per visible blob, the distance
/// between its intensity centroid and the camera model's projection of its centre.
fn blob_errors(cam: &Camera, world_from_camera: &Pose3, points: &[Point2<f64>]) -> Vec<f64> {
    let rays = CameraRays::new(cam);
    let sized: Vec<(Point2<f64>, f64)> = points
        .iter()
        .filter_map(|p| {
            let pc = world_from_camera.inverse() * Point3::new(p.x, p.y, 0.0);
            let px = cam.project(&pc.coords)?;
            // Angular size of one pixel there, times distance, over the grazing factor.
            let d = pc.coords.norm();
            let down = (world_from_camera.translation.vector.z / d).max(0.05);
            let ang = cam.unproject(&px).zip(cam.unproject(&(px + nalgebra::Vector2::new(1.0, 0.0)))).map(|(a, b)| a.angle(&b))?;
            Some((*p, 2.0 * ang * d / down.sqrt()))
        })
        .collect();
    let ground = Blobs(sized);
    let env = flat_env();
    let view = SceneView { ground: &ground, env: &env, solids: vec![] };
    let frame = render(&rays, world_from_camera, &view);
    let mut errs = Vec::new();
    for p in points {
        let pc = world_from_camera.inverse() * Point3::new(p.x, p.y, 0.0);
        let Some(px) = cam.project(&pc.coords) else { continue };
        if px.x < 8.0 || px.y < 8.0 || px.x > cam.width() as f64 - 8.0 || px.y > cam.height() as f64 - 8.0 {
            continue;
        }
        let c = centroid(&frame.image, px, 8).expect("blob drawn");
        errs.push((c - px).norm());
    }
    errs
}

#[test]
fn pinhole_projection_is_sub_pixel() {
    let cam = Camera::Pinhole(Pinhole::new(448, 256, 300.0, 300.0, 224.0, 128.0));
    let world_from_camera = Pose3::from_parts(nalgebra::Translation3::new(0.0, 0.0, 1.5), worldrig_scene::pose::flu_from_rdf());
    // Blobs 6-15 m ahead on the ground, far enough apart not to overlap on screen.
    let pts: Vec<Point2<f64>> = (0..2).flat_map(|i| (0..3).map(move |j| Point2::new(6.0 + 3.0 * i as f64, -4.0 + 4.0 * j as f64))).collect();
    let errs = blob_errors(&cam, &world_from_camera, &pts);
    assert!(errs.len() >= 5);
    let worst = errs.iter().cloned().fold(0.0, f64::max);
    assert!(worst < 0.25, "pinhole blob centroid off by {worst:.3} px ({errs:?})");
}

#[test]
fn every_ftheta_camera_of_the_real_rig_is_exact_and_cameras_agree() {
    let rig = rig();
    let ego = Pose3::identity();
    // A ring of blobs around the car: each camera sees some, neighbouring cameras share some.
    let pts: Vec<Point2<f64>> = (0..72)
        .flat_map(|k| {
            let a = k as f64 * 5f64.to_radians();
            [9.0, 16.0].map(move |r| Point2::new(r * a.cos(), r * a.sin()))
        })
        .collect();
    let mut seen_by: std::collections::BTreeMap<usize, usize> = Default::default();
    for cam in &rig.cameras {
        let world_from_camera = ego * cam.rig_from_camera;
        let errs = blob_errors(&cam.model, &world_from_camera, &pts);
        assert!(errs.len() >= 3, "{} sees only {} blobs", cam.name, errs.len());
        let worst = errs.iter().cloned().fold(0.0, f64::max);
        // Perspective and the f-theta distortion bias an intensity centroid slightly; the exact
        // per-pixel check is `depth_buffer_reprojects_to_pixel_centres`.
        assert!(worst < 0.75, "{}: blob centroid off by {worst:.3} px ({errs:?})", cam.name);
        for (i, p) in pts.iter().enumerate() {
            let pc = world_from_camera.inverse() * Point3::new(p.x, p.y, 0.0);
            if cam.model.project(&pc.coords).is_some_and(|px| cam.model.in_image(&px)) {
                *seen_by.entry(i).or_default() += 1;
            }
        }
    }
    // The same ground points are drawn, exactly, by more than one camera.
    let shared = seen_by.values().filter(|&&n| n >= 2).count();
    assert!(shared >= 4, "only {shared} points seen by two cameras");
}

/// Every drawn pixel's 3D point (camera centre + depth along the pixel's ray) projects back onto
/// that pixel's centre: the renderer and `CameraModel::project` agree exactly, for every camera.
#[test]
fn depth_buffer_reprojects_to_pixel_centres() {
    let rig = rig();
    let w = world(11, RoadLayout::Intersection);
    let view = scene_at(&w, 300_000);
    let ego = w.ego.pose_at(300_000);
    let mut cams: Vec<(String, Camera)> = rig.cameras.iter().map(|c| (c.name.clone(), c.model.clone())).collect();
    cams.push(("pinhole".into(), Camera::Pinhole(Pinhole { distortion: Some([-0.1, 0.01, 0.0, 0.0, 0.0]), ..Pinhole::new(448, 256, 250.0, 250.0, 224.0, 128.0) })));
    for (k, (name, cam)) in cams.iter().enumerate() {
        let rig_from_camera = rig.cameras[k.min(rig.cameras.len() - 1)].rig_from_camera;
        let world_from_camera = ego * rig_from_camera;
        let frame = render(&CameraRays::new(cam), &world_from_camera, &view);
        let (mut worst, mut n) = (0.0f64, 0usize);
        for j in (0..cam.height()).step_by(3) {
            for i in (0..cam.width()).step_by(3) {
                let d = frame.depth_m[(j * cam.width() + i) as usize] as f64;
                if !d.is_finite() || d > 150.0 {
                    continue;
                }
                let centre = Point2::new(i as f64 + 0.5, j as f64 + 0.5);
                let ray = cam.unproject(&centre).unwrap();
                let p_world = world_from_camera * Point3::from(ray.into_inner() * d);
                let back = cam.project(&(world_from_camera.inverse() * p_world).coords).unwrap();
                worst = worst.max((back - centre).norm());
                n += 1;
            }
        }
        assert!(n > 1000, "{name}: {n} pixels");
        assert!(worst < 0.01, "{name}: reprojection error {worst} px");
    }
}

fn world(seed: u64, layout: RoadLayout) -> worldrig_sim::World {
    generate(&WorldParams {
        seed,
        duration_s: 2.0,
        layout: Some(layout),
        lanes_each_way: Some(2),
        manoeuvre: Some(Manoeuvre::Cruise),
        time_of_day: Some(TimeOfDay::Noon),
        weather: Some(Weather::Clear),
        pedestrians: false,
    })
}

#[test]
fn map_lane_lines_are_drawn_on_painted_markings() {
    let rig = rig();
    for (seed, layout) in [(1, RoadLayout::Straight), (2, RoadLayout::Curved), (3, RoadLayout::Intersection)] {
        let w = world(seed, layout);
        let view = scene_at(&w, 0);
        let ego = w.ego.pose_at(0);
        let (mut bright, mut total) = (0usize, 0usize);
        for cam in &rig.cameras {
            let world_from_camera = ego * cam.rig_from_camera;
            let frame = render(&CameraRays::new(&cam.model), &world_from_camera, &view);
            for e in w.map.iter().filter(|e| e.kind == MapElementKind::LaneLine) {
                let MapGeometry::Polyline(v) = &e.geometry else { continue };
                for seg in v.windows(2) {
                    for k in 0..8 {
                        let p = seg[0] + (seg[1] - seg[0]) * (k as f64 / 8.0);
                        let pc = world_from_camera.inverse() * p;
                        let dist = pc.coords.norm();
                        if !(3.0..25.0).contains(&dist) {
                            continue;
                        }
                        let Some(px) = cam.model.project(&pc.coords) else { continue };
                        if !cam.model.in_image(&px) || px.x < 1.0 || px.y < 1.0 {
                            continue;
                        }
                        let (i, j) = (px.x as u32, px.y as u32);
                        let idx = (j * cam.model.width() + i) as usize;
                        // Visible (not behind a car or building): the drawn depth is the point's.
                        if (frame.depth_m[idx] as f64 - dist).abs() > 0.05 * dist {
                            continue;
                        }
                        // Dashed lines have gaps: a dash covers the point or it is a gap; accept
                        // only points the ground itself marks as painted.
                        let painted = view.ground.albedo(p.x, p.y, 0.005);
                        if painted.iter().sum::<f32>() / 3.0 < 0.4 {
                            continue;
                        }
                        total += 1;
                        let c = frame.image.get_pixel(i, j).0;
                        if (c[0] as u32 + c[1] as u32 + c[2] as u32) / 3 > 120 {
                            bright += 1;
                        }
                    }
                }
            }
        }
        assert!(total > 50, "{layout:?}: only {total} visible lane-line samples");
        assert!(bright as f64 >= 0.9 * total as f64, "{layout:?}: {bright}/{total} lane-line samples drawn bright");
    }
}

/// FAST-9 corners (Rosten & Drummond 2006) with 3x3 non-maximum suppression, on luminance.
fn fast9(img: &RgbImage, threshold: i32) -> Vec<(i32, i32)> {
    const CIRCLE: [(i32, i32); 16] = [(0, -3), (1, -3), (2, -2), (3, -1), (3, 0), (3, 1), (2, 2), (1, 3), (0, 3), (-1, 3), (-2, 2), (-3, 1), (-3, 0), (-3, -1), (-2, -2), (-1, -3)];
    let (w, h) = (img.width() as i32, img.height() as i32);
    let lum = |x: i32, y: i32| {
        let p = img.get_pixel(x as u32, y as u32).0;
        (p[0] as i32 * 77 + p[1] as i32 * 150 + p[2] as i32 * 29) >> 8
    };
    let mut score = vec![0i32; (w * h) as usize];
    for y in 3..h - 3 {
        for x in 3..w - 3 {
            let c = lum(x, y);
            let ring: Vec<i32> = CIRCLE.iter().map(|(dx, dy)| lum(x + dx, y + dy)).collect();
            let mut best = 0;
            for sign in [1, -1] {
                let mut run = 0;
                let mut s = i32::MAX;
                for k in 0..25 {
                    let d = sign * (ring[k % 16] - c);
                    if d > threshold {
                        run += 1;
                        s = s.min(d);
                        if run >= 9 {
                            best = best.max(s);
                        }
                    } else {
                        run = 0;
                        s = i32::MAX;
                    }
                }
            }
            score[(y * w + x) as usize] = best;
        }
    }
    let mut out = Vec::new();
    for y in 4..h - 4 {
        for x in 4..w - 4 {
            let s = score[(y * w + x) as usize];
            if s > 0 && (-1..=1).all(|dy| (-1..=1).all(|dx| (dx == 0 && dy == 0) || score[((y + dy) * w + x + dx) as usize] < s || (score[((y + dy) * w + x + dx) as usize] == s && (dy, dx) < (0, 0)))) {
                out.push((x, y));
            }
        }
    }
    out
}

#[test]
fn frames_have_hundreds_of_repeatable_corners() {
    let rig = rig();
    let w = world(5, RoadLayout::Straight);
    let (t0, t1) = (0i64, 100_000i64);
    let (v0, v1) = (scene_at(&w, t0), scene_at(&w, t1));
    let (e0, e1) = (w.ego.pose_at(t0), w.ego.pose_at(t1));
    let mut counts = Vec::new();
    for cam in &rig.cameras {
        let rays = CameraRays::new(&cam.model);
        let (c0, c1) = (e0 * cam.rig_from_camera, e1 * cam.rig_from_camera);
        let f0 = render(&rays, &c0, &v0);
        let f1 = render(&rays, &c1, &v1);
        let k0 = fast9(&f0.image, 20);
        let k1 = fast9(&f1.image, 20);
        let set1: std::collections::HashSet<(i32, i32)> = k1.iter().cloned().collect();
        // Warp frame-0 corners into frame 1 through their rendered depth and the known poses.
        let (mut tested, mut repeated) = (0usize, 0usize);
        for &(x, y) in &k0 {
            let idx = (y as u32 * cam.model.width() + x as u32) as usize;
            let d = f0.depth_m[idx] as f64;
            if !d.is_finite() || d > 60.0 {
                continue;
            }
            let Some(ray) = cam.model.unproject(&Point2::new(x as f64 + 0.5, y as f64 + 0.5)) else { continue };
            let pw = c0 * Point3::from(ray.into_inner() * d);
            let pc1 = c1.inverse() * pw;
            let Some(px) = cam.model.project(&pc1.coords) else { continue };
            if px.x < 5.0 || px.y < 5.0 || px.x > cam.model.width() as f64 - 5.0 || px.y > cam.model.height() as f64 - 5.0 {
                continue;
            }
            tested += 1;
            let (u, v) = (px.x as i32, px.y as i32);
            if (-2..=2).any(|dy| (-2..=2).any(|dx| set1.contains(&(u + dx, v + dy)))) {
                repeated += 1;
            }
        }
        let rep = repeated as f64 / tested.max(1) as f64;
        counts.push((cam.name.clone(), k0.len(), rep));
        assert!(k0.len() >= 200, "{}: only {} corners ({counts:?})", cam.name, k0.len());
        assert!(rep >= 0.5, "{}: repeatability {rep:.2} ({counts:?})", cam.name);
    }
    eprintln!("corners and repeatability per camera: {counts:?}");
}
