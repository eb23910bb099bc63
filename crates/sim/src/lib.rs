//! Procedural driving world and CPU multi-camera renderer with exact ground truth.
//!
//! A world (roads, buildings, vehicles, the ego drive) is generated from a seed
//! ([`generate::generate`]); the renderer casts one exact ray per pixel through each camera's
//! `CameraModel` (pinhole or f-theta), so every drawn point projects exactly where the camera
//! model says; frames, ego poses, objects, map elements and captions are written as a scene log.
//!
//! ```
//! use worldrig_sim::generate::{generate, WorldParams};
//! use worldrig_sim::{Manoeuvre, RoadLayout};
//!
//! let params = WorldParams { seed: 3, duration_s: 2.0, layout: Some(RoadLayout::Straight), manoeuvre: Some(Manoeuvre::Cruise), ..Default::default() };
//! let world = generate(&params);
//! // The world frame is the ego's first pose; the same seed gives the same world.
//! assert_eq!(world.ego.poses()[0], worldrig_scene::Pose3::identity());
//! assert_eq!(generate(&params).captions, world.captions);
//! ```

pub mod caption;
pub mod error;
pub mod fromlog;
pub mod generate;
pub mod geom;
pub mod groundtex;
pub mod hdmap;
pub mod motion;
pub mod render;
pub mod rng;
pub mod road;
pub mod scenery;
pub mod simulate;
pub mod texture;
pub mod traffic;
pub mod world;

pub use world::{Agent, Environment, Ground, Manoeuvre, Material, RoadLayout, Shape, Solid, TimeOfDay, Weather, World};
