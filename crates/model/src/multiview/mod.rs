//! The multi-view, trajectory-conditioned model (DESIGN section 5, Cosmos' multi-view recipe): the
//! Text2World DiT with views attending jointly across cameras at each latent time step, a per-view
//! embedding computed from the camera's calibration, and the ego trajectory as a condition. Every
//! new parameter path ends in a zero-initialised layer, so at step 0 each view's output is exactly
//! the loaded Text2World model's.

pub mod data;
pub mod generate;
pub mod model;
pub mod train;
pub mod views;

pub use model::{MultiViewDit, MvInputs, MvMode};
pub use train::{MvCard, MvFile, MvOptions};
pub use views::{camera_features, frame_poses, trajectory_features, trajectory_from_waypoints, CAMERA_FEATURES, POSE_FEATURES};
