//! Map elements: lanes, lane lines, road boundaries, crosswalks, wait lines, poles, signs, lights.

use nalgebra::Point3;
use serde::{Deserialize, Serialize};

/// What a map element is. Stored in scene logs as the snake_case name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MapElementKind {
    Lane,
    LaneLine,
    RoadBoundary,
    Crosswalk,
    WaitLine,
    RoadMarking,
    Pole,
    Sign,
    Light,
}

impl MapElementKind {
    pub const ALL: [MapElementKind; 9] = [
        Self::Lane,
        Self::LaneLine,
        Self::RoadBoundary,
        Self::Crosswalk,
        Self::WaitLine,
        Self::RoadMarking,
        Self::Pole,
        Self::Sign,
        Self::Light,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Lane => "lane",
            Self::LaneLine => "lane_line",
            Self::RoadBoundary => "road_boundary",
            Self::Crosswalk => "crosswalk",
            Self::WaitLine => "wait_line",
            Self::RoadMarking => "road_marking",
            Self::Pole => "pole",
            Self::Sign => "sign",
            Self::Light => "light",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// Shape of a map element; vertices are in the world frame, metres.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "vertices", rename_all = "snake_case")]
pub enum MapGeometry {
    /// An open polyline (lane lines, boundaries, wait lines, poles from base to top).
    Polyline(Vec<Point3<f64>>),
    /// A closed polygon (crosswalks, road markings); the last vertex is not repeated.
    Polygon(Vec<Point3<f64>>),
    /// The eight corners of a box (signs, lights), in [`crate::Cuboid::corners`] order where known.
    Cuboid(Vec<Point3<f64>>),
}

impl MapGeometry {
    pub fn type_name(&self) -> &'static str {
        match self {
            Self::Polyline(_) => "polyline",
            Self::Polygon(_) => "polygon",
            Self::Cuboid(_) => "cuboid",
        }
    }
    pub fn vertices(&self) -> &[Point3<f64>] {
        match self {
            Self::Polyline(v) | Self::Polygon(v) | Self::Cuboid(v) => v,
        }
    }
    pub fn from_parts(type_name: &str, vertices: Vec<Point3<f64>>) -> Option<Self> {
        match type_name {
            "polyline" => Some(Self::Polyline(vertices)),
            "polygon" => Some(Self::Polygon(vertices)),
            "cuboid" => Some(Self::Cuboid(vertices)),
            _ => None,
        }
    }
    /// Length of the polyline (or polygon perimeter) in metres.
    pub fn length_m(&self) -> f64 {
        let v = self.vertices();
        let open: f64 = v.windows(2).map(|w| (w[1] - w[0]).norm()).sum();
        match self {
            Self::Polygon(_) if v.len() > 2 => open + (v[0] - v[v.len() - 1]).norm(),
            _ => open,
        }
    }
}

/// One map element with free-form attributes (kept as a JSON object).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MapElement {
    pub element_id: String,
    pub kind: MapElementKind,
    pub geometry: MapGeometry,
    #[serde(default)]
    pub attributes: serde_json::Map<String, serde_json::Value>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_round_trip_and_lengths() {
        for k in MapElementKind::ALL {
            assert_eq!(MapElementKind::parse(k.as_str()), Some(k));
        }
        let sq = vec![Point3::new(0.0, 0.0, 0.0), Point3::new(1.0, 0.0, 0.0), Point3::new(1.0, 1.0, 0.0), Point3::new(0.0, 1.0, 0.0)];
        assert!((MapGeometry::Polygon(sq.clone()).length_m() - 4.0).abs() < 1e-12);
        assert!((MapGeometry::Polyline(sq).length_m() - 3.0).abs() < 1e-12);
    }
}
