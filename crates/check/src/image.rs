//! Grayscale 8-bit images, row-major, the input of feature detection.

use crate::error::CheckError;

/// An 8-bit grayscale image, row-major, `data.len() == width * height`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrayImage {
    pub width: usize,
    pub height: usize,
    pub data: Vec<u8>,
}

impl GrayImage {
    /// A black image.
    pub fn new(width: usize, height: usize) -> Self {
        Self { width, height, data: vec![0; width * height] }
    }

    /// Wraps a buffer; `None` when its length is not `width * height`.
    pub fn from_vec(width: usize, height: usize, data: Vec<u8>) -> Option<Self> {
        (data.len() == width * height).then_some(Self { width, height, data })
    }

    #[inline]
    pub fn get(&self, x: usize, y: usize) -> u8 {
        self.data[y * self.width + x]
    }

    /// Row `y` as a slice.
    #[inline]
    pub fn row(&self, y: usize) -> &[u8] {
        &self.data[y * self.width..(y + 1) * self.width]
    }

    /// Converts any `image` crate image to luma (ITU-R BT.601 weights, as `image` does).
    pub fn from_dynamic(img: &image::DynamicImage) -> Self {
        let luma = img.to_luma8();
        let (w, h) = luma.dimensions();
        Self { width: w as usize, height: h as usize, data: luma.into_raw() }
    }

    /// Decodes PNG or JPEG bytes; `what` names the frame in the error.
    pub fn decode(bytes: &[u8], what: &str) -> Result<Self, CheckError> {
        let img = image::load_from_memory(bytes).map_err(|e| CheckError::Decode { what: what.to_string(), message: e.to_string() })?;
        Ok(Self::from_dynamic(&img))
    }

    /// Reads an image file (PNG or JPEG).
    pub fn open(path: &std::path::Path) -> Result<Self, CheckError> {
        let bytes = std::fs::read(path).map_err(|e| CheckError::Io { path: path.display().to_string(), source: e })?;
        Self::decode(&bytes, &path.display().to_string())
    }
}
