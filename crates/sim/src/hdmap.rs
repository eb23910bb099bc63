//! HD-map condition frames: the lanes, lane lines, road boundaries, crosswalks, wait lines, road
//! markings, poles, signs and lights of a log drawn through any camera model, on black, in the
//! colour scheme of the RDS-HQ rendering toolkit (Cosmos-Drive-Dreams' `hdmap_color_config.json`).
//!
//! Lines are subdivided in 3D (every 0.25 m) before projection, so they bend correctly under
//! f-theta distortion, and drawn with anti-aliased, constant-pixel-width strokes. Filled shapes on
//! the road (crosswalks, road markings) are ray-cast per pixel against each polygon's plane, which
//! is exact for any camera model.

use image::RgbImage;
use nalgebra::{Point2, Point3, Vector3};
use worldrig_scene::{Camera, CameraModel, MapElement, MapElementKind, MapGeometry, Pose3};

/// RGB colour of each kind (the RDS-HQ toolkit's palette).
pub fn kind_colour(kind: MapElementKind) -> [u8; 3] {
    match kind {
        MapElementKind::LaneLine => [98, 183, 249],
        MapElementKind::Lane => [56, 103, 221],
        MapElementKind::Pole => [66, 40, 144],
        MapElementKind::RoadBoundary => [200, 36, 35],
        MapElementKind::WaitLine => [185, 63, 34],
        MapElementKind::Crosswalk => [206, 131, 63],
        MapElementKind::RoadMarking => [126, 204, 205],
        MapElementKind::Sign => [131, 175, 155],
        MapElementKind::Light => [252, 157, 155],
    }
}

/// Draws map elements within `max_dist_m` of the camera.
pub fn render_hdmap(cam: &Camera, world_from_camera: &Pose3, elements: &[MapElement], max_dist_m: f64) -> RgbImage {
    let (w, h) = (cam.width(), cam.height());
    let mut img = RgbImage::new(w, h);
    let camera_from_world = world_from_camera.inverse();
    let centre = Point3::from(world_from_camera.translation.vector);
    let near = |e: &MapElement| e.geometry.vertices().iter().any(|p| (p - centre).norm() < max_dist_m);
    let stroke = (w as f64 / 300.0).max(1.2);
    // Filled ground shapes first, then lane outlines, then lines, then solids on top.
    for e in elements.iter().filter(|e| near(e)) {
        if let (MapGeometry::Polygon(v), MapElementKind::Crosswalk | MapElementKind::RoadMarking) = (&e.geometry, e.kind) {
            fill_polygon(&mut img, cam, &camera_from_world, v, kind_colour(e.kind));
        }
    }
    let order = [
        MapElementKind::Lane,
        MapElementKind::RoadBoundary,
        MapElementKind::LaneLine,
        MapElementKind::WaitLine,
        MapElementKind::Crosswalk,
        MapElementKind::RoadMarking,
        MapElementKind::Pole,
    ];
    for kind in order {
        for e in elements.iter().filter(|e| e.kind == kind && near(e)) {
            let colour = kind_colour(kind);
            match &e.geometry {
                MapGeometry::Polyline(v) => draw_polyline(&mut img, cam, &camera_from_world, v, false, colour, stroke),
                MapGeometry::Polygon(v) => draw_polyline(&mut img, cam, &camera_from_world, v, true, colour, stroke),
                MapGeometry::Cuboid(_) => {}
            }
        }
    }
    for e in elements.iter().filter(|e| near(e)) {
        if let MapGeometry::Cuboid(v) = &e.geometry {
            fill_cuboid(&mut img, cam, &camera_from_world, v, kind_colour(e.kind));
        }
    }
    img
}

fn blend(img: &mut RgbImage, x: i64, y: i64, colour: [u8; 3], a: f64) {
    if x < 0 || y < 0 || x >= img.width() as i64 || y >= img.height() as i64 || a <= 0.0 {
        return;
    }
    let px = img.get_pixel_mut(x as u32, y as u32);
    for k in 0..3 {
        let v = px.0[k] as f64 * (1.0 - a) + colour[k] as f64 * a;
        px.0[k] = v.round().clamp(0.0, 255.0) as u8;
    }
}

/// Anti-aliased segment of width `width` px (coverage from the distance to the segment).
fn draw_segment(img: &mut RgbImage, a: Point2<f64>, b: Point2<f64>, colour: [u8; 3], width: f64) {
    let r = width * 0.5;
    let (x0, x1) = ((a.x.min(b.x) - r - 1.0).floor() as i64, (a.x.max(b.x) + r + 1.0).ceil() as i64);
    let (y0, y1) = ((a.y.min(b.y) - r - 1.0).floor() as i64, (a.y.max(b.y) + r + 1.0).ceil() as i64);
    let (w, h) = (img.width() as i64, img.height() as i64);
    let ab = b - a;
    let len2 = ab.norm_squared().max(1e-12);
    for y in y0.max(0)..=y1.min(h - 1) {
        for x in x0.max(0)..=x1.min(w - 1) {
            let p = Point2::new(x as f64 + 0.5, y as f64 + 0.5);
            let t = ((p - a).dot(&ab) / len2).clamp(0.0, 1.0);
            let d = (p - (a + ab * t)).norm();
            let cov = (r + 0.5 - d).clamp(0.0, 1.0);
            if cov > 0.0 {
                let px = img.get_pixel(x as u32, y as u32).0;
                // Never lighten a pixel already more covered by this colour.
                if px != colour {
                    blend(img, x, y, colour, cov);
                }
            }
        }
    }
}

fn project(cam: &Camera, camera_from_world: &Pose3, p: &Point3<f64>) -> Option<Point2<f64>> {
    let pc = camera_from_world * p;
    cam.project(&pc.coords)
}

fn draw_polyline(img: &mut RgbImage, cam: &Camera, cfw: &Pose3, v: &[Point3<f64>], closed: bool, colour: [u8; 3], width: f64) {
    let n = v.len();
    let segs = if closed && n > 2 { n } else { n.saturating_sub(1) };
    for s in 0..segs {
        let (a, b) = (v[s], v[(s + 1) % n]);
        let steps = (((b - a).norm() / 0.25).ceil() as usize).clamp(1, 4000);
        let mut prev = project(cam, cfw, &a);
        for k in 1..=steps {
            let p = a + (b - a) * (k as f64 / steps as f64);
            let cur = project(cam, cfw, &p);
            if let (Some(p0), Some(p1)) = (prev, cur) {
                // Skip pieces that jump across the image (wrap-around at the field-of-view edge).
                if (p1 - p0).norm() < img.width() as f64 * 0.5 && (cam.in_image(&p0) || cam.in_image(&p1)) {
                    draw_segment(img, p0, p1, colour, width);
                }
            }
            prev = cur;
        }
    }
}

/// Fills a (near-)planar polygon by casting each pixel's ray onto its best-fit plane.
fn fill_polygon(img: &mut RgbImage, cam: &Camera, cfw: &Pose3, v: &[Point3<f64>], colour: [u8; 3]) {
    if v.len() < 3 {
        return;
    }
    let pts: Vec<Point3<f64>> = v.iter().map(|p| cfw * p).collect();
    let c = pts.iter().fold(Vector3::zeros(), |acc, p| acc + p.coords) / pts.len() as f64;
    // Newell's method for the plane normal.
    let mut nrm = Vector3::zeros();
    for i in 0..pts.len() {
        let (a, b) = (pts[i].coords, pts[(i + 1) % pts.len()].coords);
        nrm += Vector3::new((a.y - b.y) * (a.z + b.z), (a.z - b.z) * (a.x + b.x), (a.x - b.x) * (a.y + b.y));
    }
    if nrm.norm() < 1e-9 {
        return;
    }
    let nrm = nrm.normalize();
    // 2D basis in the plane.
    let e1 = (pts[1].coords - pts[0].coords).normalize();
    let e2 = nrm.cross(&e1);
    let poly2: Vec<(f64, f64)> = pts.iter().map(|p| ((p.coords - c).dot(&e1), (p.coords - c).dot(&e2))).collect();
    // Image bounding box from projectable vertices (whole image when any vertex is not).
    let (w, h) = (img.width() as i64, img.height() as i64);
    let mut bb = (w, h, -1i64, -1i64);
    let mut all = true;
    for p in &pts {
        match cam.project(&p.coords) {
            Some(q) => {
                bb = (bb.0.min(q.x.floor() as i64 - 1), bb.1.min(q.y.floor() as i64 - 1), bb.2.max(q.x.ceil() as i64 + 1), bb.3.max(q.y.ceil() as i64 + 1));
            }
            None => all = false,
        }
    }
    if !all {
        bb = (0, 0, w - 1, h - 1);
    }
    for y in bb.1.max(0)..=bb.3.min(h - 1) {
        for x in bb.0.max(0)..=bb.2.min(w - 1) {
            let Some(ray) = cam.unproject(&Point2::new(x as f64 + 0.5, y as f64 + 0.5)) else { continue };
            let denom = ray.dot(&nrm);
            if denom.abs() < 1e-9 {
                continue;
            }
            let t = c.dot(&nrm) / denom;
            if t <= 0.0 {
                continue;
            }
            let hit = ray.into_inner() * t - c;
            let (u, v2) = (hit.dot(&e1), hit.dot(&e2));
            if point_in_polygon(u, v2, &poly2) {
                blend(img, x, y, colour, 1.0);
            }
        }
    }
}

fn point_in_polygon(x: f64, y: f64, poly: &[(f64, f64)]) -> bool {
    let mut inside = false;
    let n = poly.len();
    let mut j = n - 1;
    for i in 0..n {
        let (xi, yi) = poly[i];
        let (xj, yj) = poly[j];
        if (yi > y) != (yj > y) && x < (xj - xi) * (y - yi) / (yj - yi) + xi {
            inside = !inside;
        }
        j = i;
    }
    inside
}

/// Fills the projected faces of a cuboid given by its 8 corners (bottom face then top face).
fn fill_cuboid(img: &mut RgbImage, cam: &Camera, cfw: &Pose3, v: &[Point3<f64>], colour: [u8; 3]) {
    if v.len() != 8 {
        return;
    }
    let Some(q): Option<Vec<Point2<f64>>> = v.iter().map(|p| project(cam, cfw, p)).collect() else { return };
    const FACES: [[usize; 4]; 6] = [[0, 1, 2, 3], [4, 5, 6, 7], [0, 1, 5, 4], [1, 2, 6, 5], [2, 3, 7, 6], [3, 0, 4, 7]];
    for f in FACES {
        let poly: Vec<(f64, f64)> = f.iter().map(|&i| (q[i].x, q[i].y)).collect();
        let (x0, x1) = (poly.iter().map(|p| p.0).fold(f64::MAX, f64::min), poly.iter().map(|p| p.0).fold(f64::MIN, f64::max));
        let (y0, y1) = (poly.iter().map(|p| p.1).fold(f64::MAX, f64::min), poly.iter().map(|p| p.1).fold(f64::MIN, f64::max));
        if x1 - x0 > img.width() as f64 || y1 - y0 > img.height() as f64 {
            continue;
        }
        for y in (y0.floor() as i64).max(0)..=(y1.ceil() as i64).min(img.height() as i64 - 1) {
            for x in (x0.floor() as i64).max(0)..=(x1.ceil() as i64).min(img.width() as i64 - 1) {
                if point_in_polygon(x as f64 + 0.5, y as f64 + 0.5, &poly) {
                    blend(img, x, y, colour, 1.0);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nalgebra::{Isometry3, Translation3};
    use worldrig_scene::Pinhole;

    #[test]
    fn lane_line_lands_where_the_camera_projects_it() {
        let cam = Camera::Pinhole(Pinhole::new(200, 100, 100.0, 100.0, 100.0, 50.0));
        let world_from_camera = Isometry3::from_parts(Translation3::new(0.0, 0.0, 1.5), worldrig_scene::pose::flu_from_rdf());
        let line = MapElement {
            element_id: "l".into(),
            kind: MapElementKind::LaneLine,
            geometry: MapGeometry::Polyline(vec![Point3::new(5.0, 1.0, 0.0), Point3::new(40.0, 1.0, 0.0)]),
            attributes: Default::default(),
        };
        let img = render_hdmap(&cam, &world_from_camera, &[line], 100.0);
        let probe = Point3::new(10.0, 1.0, 0.0);
        let px = cam.project(&(world_from_camera.inverse() * probe).coords).unwrap();
        let c = img.get_pixel(px.x as u32, px.y as u32).0;
        // Anti-aliased: the lane-line colour at more than half coverage.
        let want = kind_colour(MapElementKind::LaneLine);
        for k in 0..3 {
            assert!(c[k] as f64 >= 0.5 * want[k] as f64 && c[k] <= want[k], "{c:?} vs {want:?}");
        }
        // Far from the line: black.
        assert_eq!(img.get_pixel(10, 90).0, [0, 0, 0]);
    }
}
