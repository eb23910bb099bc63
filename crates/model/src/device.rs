//! Run-time backend selection.

use burn::prelude::Device;

use crate::ModelError;

/// The backends compiled into this build, by the names `--device` accepts.
pub fn available() -> Vec<&'static str> {
    let mut v = vec!["cpu"];
    if cfg!(feature = "wgpu") {
        v.push("wgpu");
    }
    if cfg!(feature = "vulkan") {
        v.push("vulkan");
    }
    if cfg!(feature = "cuda") {
        v.push("cuda");
    }
    v
}

/// `cpu` (burn's flex backend), or `wgpu` / `vulkan` / `cuda` when built with that cargo feature.
pub fn select(name: &str) -> Result<Device, ModelError> {
    match name {
        "cpu" | "flex" => Ok(Device::flex()),
        #[cfg(feature = "wgpu")]
        "wgpu" => Ok(Device::wgpu(Default::default())),
        #[cfg(feature = "vulkan")]
        "vulkan" => Ok(Device::vulkan(Default::default())),
        #[cfg(feature = "cuda")]
        "cuda" => Ok(Device::cuda(0)),
        other => Err(ModelError::Config(format!(
            "device `{other}` is not available in this build (available: {}; GPU backends need `cargo build --features wgpu|vulkan|cuda`)",
            available().join(", ")
        ))),
    }
}
