//! The data a simulated world is made of. Everything is in the world frame (FLU, metres, z up,
//! origin at the ego rear-axle centre on the ground at the first timestamp) and is generated
//! deterministically from a seed by [`crate::generate`].

use nalgebra::Vector3;
use worldrig_scene::{MapElement, Pose3, Trajectory};

/// Road layout of a clip.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RoadLayout {
    Straight,
    Curved,
    Intersection,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TimeOfDay {
    Morning,
    Noon,
    Afternoon,
    Dusk,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Weather {
    Clear,
    Overcast,
    Fog,
    Rain,
}

/// What the ego car does over the clip (drives the caption).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Manoeuvre {
    Cruise,
    TurnLeft,
    TurnRight,
    LaneChangeLeft,
    LaneChangeRight,
    StopAndGo,
}

/// Sky, sun and atmosphere. Colours are linear RGB in [0, 1].
#[derive(Debug, Clone, PartialEq)]
pub struct Environment {
    pub time_of_day: TimeOfDay,
    pub weather: Weather,
    /// Unit vector towards the sun (world frame).
    pub sun_dir: Vector3<f64>,
    pub sun_colour: [f32; 3],
    pub ambient_colour: [f32; 3],
    pub sky_zenith: [f32; 3],
    pub sky_horizon: [f32; 3],
    /// Extinction per metre for exponential fog (0 = none).
    pub fog_density_per_m: f32,
    pub fog_colour: [f32; 3],
    /// Multiplied into the final colour (rain tint, dusk warmth).
    pub tint: [f32; 3],
}

/// Surface appearance of a solid; the renderer turns it into texture.
#[derive(Debug, Clone, PartialEq)]
pub enum Material {
    /// Uniform colour.
    Plain { albedo: [f32; 3] },
    /// Building facade: wall colour, a grid of windows (`window_w_m` x `window_h_m` every
    /// `spacing_m` horizontally and `floor_h_m` vertically), window colour, and a seed for
    /// per-window variation (lit / curtains / frames).
    Facade { wall: [f32; 3], window: [f32; 3], spacing_m: f32, floor_h_m: f32, window_w_m: f32, window_h_m: f32, seed: u32 },
    /// Car body paint; the renderer adds a darker window band on the upper part of the box.
    VehicleBody { paint: [f32; 3], seed: u32 },
    /// Tyre rubber.
    Tyre,
    /// Tree foliage: base colour with leafy noise.
    Foliage { base: [f32; 3], seed: u32 },
    /// Bark / pole metal with fine vertical noise.
    Bark { base: [f32; 3] },
    /// A traffic sign face: border colour and face colour with a simple pictogram.
    Sign { face: [f32; 3], border: [f32; 3], seed: u32 },
}

/// Shape of a solid in its own frame.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Shape {
    /// Box centred at the origin with these half extents (x length, y width, z height).
    Box { half_extents_m: Vector3<f64> },
    /// Vertical cylinder from z = 0 to z = height around the z axis.
    Cylinder { radius_m: f64, height_m: f64 },
    /// Sphere centred at the origin.
    Sphere { radius_m: f64 },
    /// Cylinder lying along the local y axis (a wheel), centred at the origin.
    Wheel { radius_m: f64, half_width_m: f64 },
}

/// One solid: a shape placed by `pose` (`parent_from_solid`: world for statics, the object frame
/// for agent parts).
#[derive(Debug, Clone, PartialEq)]
pub struct Solid {
    pub pose: Pose3,
    pub shape: Shape,
    pub material: Material,
}

/// A road user: parts in its own frame (origin at the bounding-box centre, x forward, z up) and
/// `world_from_object` over time. Parked vehicles are agents whose pose does not change.
#[derive(Debug, Clone)]
pub struct Agent {
    pub track_id: String,
    /// `car`, `truck`, `bus`, `pedestrian`, `cyclist`.
    pub category: String,
    /// Bounding box size (length, width, height), for the `objects` table.
    pub size_lwh_m: Vector3<f64>,
    pub parts: Vec<Solid>,
    /// Pose of the bounding-box centre over the clip (covers every frame timestamp).
    pub trajectory: Trajectory,
}

/// A generated world and the ego drive through it.
#[derive(Debug, Clone)]
pub struct World {
    pub seed: u64,
    pub layout: RoadLayout,
    pub lanes_each_way: u32,
    pub manoeuvre: Manoeuvre,
    pub env: Environment,
    /// The flat ground (z = 0): road surface, markings, sidewalks, grass (see [`Ground`]).
    /// Curbs, buildings and everything with height are solids.
    pub ground: crate::road::RoadNetwork,
    /// Buildings, trees, poles, signs: never move.
    pub statics: Vec<Solid>,
    /// Vehicles (moving and parked) and pedestrians.
    pub agents: Vec<Agent>,
    /// `world_from_rig` of the ego car; covers every frame timestamp.
    pub ego: Trajectory,
    /// Lanes, lane lines, road boundaries, crosswalks, wait lines, poles, signs (world frame).
    pub map: Vec<MapElement>,
    /// Several differently-worded captions of the same clip.
    pub captions: Vec<String>,
}

/// The ground (z = 0 plane) appearance, implemented by the road network.
pub trait Ground: Sync {
    /// Linear-RGB albedo of the ground at `(x, y)`, box-filtered over a footprint of radius
    /// `footprint_m` (the size of one pixel on the ground) so that fine patterns (asphalt grain,
    /// dashes, crosswalk stripes) fade to their average instead of aliasing.
    fn albedo(&self, x: f64, y: f64, footprint_m: f64) -> [f32; 3];
}
