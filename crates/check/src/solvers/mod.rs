//! Pure minimal and linear two-view solvers: deterministic, no randomness, no I/O.
//!
//! Conventions shared by every module here:
//! - Pixel points are `nalgebra::Point2<f64>` (x right, y down); the fundamental matrix satisfies
//!   `x2^T F x1 = 0` with `x = (u, v, 1)`.
//! - Bearing rays are unit `Vector3<f64>` in camera coordinates (OpenCV "RDF": x right, y down,
//!   z forward). Rays may point sideways or backwards (`z <= 0`, wide f-theta cameras): nothing here
//!   divides by `z`.
//! - The relative pose maps camera-1 coordinates to camera-2 coordinates, `X2 = R X1 + t`; then
//!   `E = [t]x R` and `b2^T E b1 = 0`. The translation is known only up to scale (a unit direction).
//! - Residuals: [`fundamental::sampson_error_px`] (pixels, not squared),
//!   [`essential::sampson_error_rad`] (radians, not squared; a pixel threshold converts by dividing
//!   by the focal length in pixels), [`rotation::angle_residual_rad`] (radians, not squared).
//! - Minimal solvers return every real solution (possibly none for a degenerate sample); linear
//!   solvers return `None` for degenerate input.

// Negated comparisons (`!(x > tol)`) are deliberate throughout: they also reject NaN.
#![allow(clippy::neg_cmp_op_on_partial_ord)]
// Fixed-size numerical kernels read best with explicit indices.
#![allow(clippy::needless_range_loop)]

mod five_point;
mod linalg;

pub mod essential;
pub mod fundamental;
pub mod pose;
pub mod rotation;
pub mod triangulate;

#[cfg(test)]
pub(crate) mod synth;

pub use linalg::{project_to_essential, skew};
