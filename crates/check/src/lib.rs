//! Geometric consistency checker: is a (real, simulated or generated) multi-camera video
//! geometrically trustworthy?
//!
//! Definitions follow the multi-view evaluation of NVIDIA's Cosmos world-foundation-model report
//! (Sampson error of matched keypoints under a RANSAC fundamental matrix; pose-estimation success;
//! trajectory agreement), with classical features and estimators written here:
//!
//! - [`image`]: the grayscale image type everything below works on.
//! - [`features`]: multi-scale oriented binary features and mutual / ratio-test matching.
//! - [`solvers`]: pure minimal and linear solvers (7- and 8-point fundamental, 5-point essential on
//!   bearing rays, pose decomposition, triangulation), no randomness.
//! - [`ransac`]: one generic robust loop over an [`ransac::Estimator`] trait with local
//!   optimisation, adaptive iteration count, a seed and a report.
//! - [`twoview`]: the two-view pipelines built from those: fundamental matrix in pixels, relative
//!   pose on rays (with zero-baseline and degeneracy detection).
//! - [`metrics`]: TSE, CSE, pose-estimation success and TAE over a scene log.
//! - [`report`]: JSON and a self-contained HTML page.

pub mod align;
pub mod error;
pub mod features;
pub mod image;
pub mod metrics;
pub mod overlap;
pub mod result;
pub mod rng;
pub mod ransac;
pub mod report;
pub mod solvers;
pub mod twoview;

pub use error::CheckError;
pub use image::GrayImage;
