//! Writing a [`CheckReport`]: `report.json` and a self-contained HTML page.
//!
//! - [`write_json`]: the report as pretty-printed JSON (match previews are not part of it).
//! - [`write_html`]: one HTML file with no external resources: CSS inline, plots as inline SVG drawn
//!   with `plotters` (text left to the browser as SVG `<text>`, so no font is needed to render),
//!   match visualisations as base64 PNG. Every figure is a `<figure class="wr-fig" id="...">` with
//!   an `<svg>` or `<img>` child and `<body data-figures="N">` counts them, so a browser check can
//!   verify that the page loaded whole (`tools/check_report_browser.sh`).
//! - [`render_html`]: the page as a string.
//! - [`match_preview`]: draws two frames side by side with their matches (green inliers, red
//!   outliers) into a PNG for the page.
//!
//! Both writers are atomic: they write a temporary sibling file and rename it into place, so an
//! interrupted write leaves either the old file or none at the destination, never half a file.

mod html;
mod plots;
mod preview;

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::CheckError;
use crate::result::CheckReport;

pub use html::{render_html, Reference, REFERENCES};
pub use preview::{match_preview, MAX_PREVIEW_LINES, MAX_PREVIEW_WIDTH};

/// Writes `report` as pretty-printed JSON to `path`, atomically.
pub fn write_json(report: &CheckReport, path: &Path) -> Result<(), CheckError> {
    let mut bytes = serde_json::to_vec_pretty(report)
        .map_err(|e| CheckError::Invalid(format!("serialising the report for {}: {e}", path.display())))?;
    bytes.push(b'\n');
    write_atomic(path, &bytes)
}

/// Renders `report` as a self-contained HTML page and writes it to `path`, atomically.
pub fn write_html(report: &CheckReport, path: &Path) -> Result<(), CheckError> {
    let page = render_html(report)?;
    write_atomic(path, page.as_bytes())
}

fn io_error(path: &Path, source: std::io::Error) -> CheckError {
    CheckError::Io { path: path.display().to_string(), source }
}

/// Writes `bytes` to a temporary file next to `path` (same directory, so the rename stays on one
/// file system), flushes it to disk and renames it over `path`. The temporary file is removed when
/// anything fails.
fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), CheckError> {
    let name = path
        .file_name()
        .ok_or_else(|| CheckError::Invalid(format!("{}: not a file path", path.display())))?
        .to_string_lossy()
        .into_owned();
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    // Errors name the destination, which is what the user asked for.
    let result = (|| {
        let mut file = std::fs::File::create(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        drop(file);
        std::fs::rename(&tmp, path)
    })()
    .map_err(|e| io_error(path, e));
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

#[cfg(test)]
mod tests;
