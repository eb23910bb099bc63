//! The HTML page: one self-contained document (inline CSS, inline SVG plots, base64 PNG match
//! previews, no scripts, no external resources).
//!
//! Every figure is `<figure class="wr-fig" id="...">` holding one `<svg>` or `<img>`; ids are
//! `summary-ref`, and per clip (numbered from 0, with a slug of the clip id) `tse-<n>-<slug>`,
//! `cse-<n>-<slug>`, `traj-<n>-<slug>` and `match-<n>-<slug>-<k>`. `<body data-figures="N">` is the
//! number of such figures. All text from the report (log path, clip and camera names, notes, the
//! configuration) is HTML-escaped.

use std::fmt::Write as _;

use crate::error::CheckError;
use crate::metrics::median;
use crate::result::{CheckReport, ClipReport, PairKind, PoseOutcome};

use super::plots::{self, Bar, RefLine};

/// A published reference for the summary (DESIGN.md section 6, from the Cosmos report).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Reference {
    pub name: &'static str,
    pub tse_px: f64,
    pub cse_px: f64,
    /// Pose-estimation success on videos of this kind (RealEstate10K protocol), as a fraction.
    pub pose_success: f64,
}

/// The reference figures shown beside this report's numbers.
pub const REFERENCES: [Reference; 3] = [
    Reference { name: "Real videos", tse_px: 0.69, cse_px: 1.71, pose_success: 0.564 },
    Reference { name: "Cosmos", tse_px: 0.68, cse_px: 2.11, pose_success: 0.626 },
    Reference { name: "VideoLDM-MultiView", tse_px: 1.24, cse_px: 6.48, pose_success: 0.044 },
];

const CSS: &str = r#"
:root { --fg:#1f2430; --muted:#6b7280; --line:#e3e6eb; --bg:#f6f7f9; --card:#fff; --ok:#15803d; --bad:#b91c1c; --accent:#2563eb; }
* { box-sizing: border-box; }
body { margin:0; background:var(--bg); color:var(--fg); font:14px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif; }
main { max-width:1120px; margin:0 auto; padding:24px 28px 48px; }
header.top { background:#111827; color:#f9fafb; padding:22px 28px; }
header.top .inner { max-width:1120px; margin:0 auto; padding:0 28px; }
header.top h1 { margin:0 0 4px; font-size:22px; font-weight:600; letter-spacing:.2px; }
header.top p { margin:0; color:#cbd5e1; font-size:13px; }
header.top code { color:#e5e7eb; }
h2 { font-size:19px; margin:0 0 12px; font-weight:600; }
h3 { font-size:15px; margin:18px 0 8px; font-weight:600; }
section.card { background:var(--card); border:1px solid var(--line); border-radius:10px; padding:20px 22px; margin:20px 0; box-shadow:0 1px 2px rgba(16,24,40,.04); }
nav.toc { font-size:13px; color:var(--muted); margin-top:14px; }
nav.toc a { color:var(--accent); text-decoration:none; margin-right:12px; }
table { border-collapse:collapse; width:100%; font-size:13px; font-variant-numeric:tabular-nums; }
th, td { text-align:left; padding:6px 10px; border-bottom:1px solid var(--line); vertical-align:top; }
th { color:var(--muted); font-weight:600; font-size:12px; text-transform:uppercase; letter-spacing:.3px; }
td.num, th.num { text-align:right; }
table.summary td.num:not(.ref) { font-weight:600; }
td.ref { color:var(--muted); }
.na { color:#9ca3af; }
.badge { display:inline-block; padding:1px 9px; border-radius:999px; font-size:12px; font-weight:600; vertical-align:middle; margin-left:8px; }
.badge.ok { background:#dcfce7; color:var(--ok); }
.badge.bad { background:#fee2e2; color:var(--bad); }
.stats { display:grid; grid-template-columns:repeat(auto-fill,minmax(150px,1fr)); gap:10px; margin:6px 0 14px; }
.stat { border:1px solid var(--line); border-radius:8px; padding:8px 12px; background:#fbfcfd; }
.stat .k { color:var(--muted); font-size:11.5px; text-transform:uppercase; letter-spacing:.3px; }
.stat .v { font-size:18px; font-weight:600; font-variant-numeric:tabular-nums; }
figure.wr-fig { margin:14px 0; padding:10px; border:1px solid var(--line); border-radius:8px; background:#fff; }
figure.wr-fig svg, figure.wr-fig img { display:block; max-width:100%; height:auto; margin:0 auto; }
figcaption { color:var(--muted); font-size:12.5px; margin-top:6px; }
.note { color:var(--muted); font-size:12.5px; }
.missing { border:1px dashed var(--line); border-radius:8px; padding:12px; color:var(--muted); margin:10px 0; }
details { margin-top:12px; }
summary { cursor:pointer; color:var(--accent); font-size:13px; }
pre { background:#0f172a; color:#e2e8f0; padding:12px 14px; border-radius:8px; overflow:auto; font-size:12px; }
footer { color:var(--muted); font-size:12px; text-align:center; margin-top:28px; }
"#;

/// Escapes text for HTML element content and (double- or single-quoted) attribute values.
pub(crate) fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// An id fragment from arbitrary text: ASCII letters, digits, `-` and `_` kept, runs of anything
/// else become one `-`, at most 48 characters; `x` when nothing is left. Uniqueness comes from the
/// clip number placed before it.
pub(crate) fn slug(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') {
            out.push('-');
        }
        if out.len() >= 48 {
            break;
        }
    }
    let trimmed = out.trim_matches('-');
    if trimmed.is_empty() {
        "x".to_string()
    } else {
        trimmed.to_string()
    }
}

/// A number with `prec` decimals and a unit, or a muted dash when not measurable.
fn num(v: Option<f64>, prec: usize, unit: &str) -> String {
    match v.filter(|v| v.is_finite()) {
        Some(v) if unit.is_empty() => format!("{v:.prec$}"),
        Some(v) => format!("{v:.prec$} {unit}"),
        None => "<span class=\"na\" title=\"not measurable\">—</span>".to_string(),
    }
}

fn pct(v: Option<f64>) -> String {
    match v.filter(|v| v.is_finite()) {
        Some(v) => format!("{:.1} %", v * 100.0),
        None => "<span class=\"na\" title=\"not measurable\">—</span>".to_string(),
    }
}

/// Collects the page body and counts its figures.
struct Page {
    body: String,
    figures: usize,
}

impl Page {
    /// Emits a figure holding an inline SVG.
    fn svg_figure(&mut self, id: &str, svg: &str, caption: &str) {
        self.figures += 1;
        let _ = write!(
            self.body,
            "<figure class=\"wr-fig\" id=\"{}\">\n{svg}<figcaption>{caption}</figcaption>\n</figure>\n",
            escape(id)
        );
    }

    /// Emits a figure holding a base64 PNG.
    fn img_figure(&mut self, id: &str, png_base64: &str, title: &str) {
        self.figures += 1;
        let _ = write!(
            self.body,
            "<figure class=\"wr-fig\" id=\"{}\">\n<img alt=\"{t}\" src=\"data:image/png;base64,{png_base64}\">\n<figcaption>{t}</figcaption>\n</figure>\n",
            escape(id),
            t = escape(title)
        );
    }
}

fn render_error(id: &str) -> impl Fn(String) -> CheckError + '_ {
    move |m| CheckError::Invalid(format!("rendering figure {id}: {m}"))
}

/// Renders the whole page.
pub fn render_html(report: &CheckReport) -> Result<String, CheckError> {
    let mut page = Page { body: String::new(), figures: 0 };
    let s = &report.summary;

    // Header.
    let _ = write!(
        page.body,
        "<header class=\"top\"><div class=\"inner\"><h1>Geometric consistency report</h1>\
         <p>log <code>{}</code> · {} · {} clip{} · {} pair{} · {:.1} s</p></div></header>\n<main>\n",
        escape(&report.log),
        escape(&report.tool),
        s.clips,
        if s.clips == 1 { "" } else { "s" },
        s.pairs,
        if s.pairs == 1 { "" } else { "s" },
        s.elapsed_s,
    );

    summary_section(&mut page, report)?;
    for (i, clip) in report.clips.iter().enumerate() {
        clip_section(&mut page, i, clip)?;
    }
    let _ = write!(
        page.body,
        "<footer>{} · Sampson errors are sqrt(Sampson distance) in pixels, medians over RANSAC inliers; \
         “—” marks values that could not be measured.</footer>\n</main>\n",
        escape(&report.tool)
    );

    let mut html = String::with_capacity(page.body.len() + CSS.len() + 512);
    let _ = write!(
        html,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>worldrig check · {}</title>\n<style>{CSS}</style>\n</head>\n<body data-figures=\"{}\">\n{}</body>\n</html>\n",
        escape(&report.log),
        page.figures,
        page.body
    );
    Ok(html)
}

fn summary_section(page: &mut Page, report: &CheckReport) -> Result<(), CheckError> {
    let s = &report.summary;
    let t = &report.thresholds;
    let b = &mut page.body;
    b.push_str("<section class=\"card\" id=\"summary\">\n<h2>Summary</h2>\n");
    if !report.clips.is_empty() {
        b.push_str("<nav class=\"toc\">Clips: ");
        for (i, c) in report.clips.iter().enumerate() {
            let _ = write!(
                b,
                "<a href=\"#clip-{i}-{}\">{}</a>",
                escape(&slug(&c.clip_id)),
                escape(&c.clip_id)
            );
        }
        b.push_str("</nav>\n");
    }

    // Metric table with the published references beside it.
    b.push_str("<h3>Metrics</h3>\n<table class=\"summary\">\n<tr><th>Metric</th><th class=\"num\">This report</th>");
    for r in &REFERENCES {
        let _ = write!(b, "<th class=\"num\">{}</th>", escape(r.name));
    }
    b.push_str("</tr>\n");
    let dash = "<span class=\"na\">—</span>";
    let refs_for = |f: &dyn Fn(&Reference) -> String| -> String {
        REFERENCES.iter().map(|r| format!("<td class=\"num ref\">{}</td>", f(r))).collect()
    };
    let no_refs: String = REFERENCES.iter().map(|_| format!("<td class=\"num ref\">{dash}</td>")).collect();
    let rows: Vec<(&str, String, String)> = vec![
        ("TSE, temporal Sampson error (median over clips)", num(s.tse_px, 2, "px"), refs_for(&|r| format!("{:.2} px", r.tse_px))),
        ("CSE, cross-view Sampson error (median over clips)", num(s.cse_px, 2, "px"), refs_for(&|r| format!("{:.2} px", r.cse_px))),
        ("TSE against the logged poses", num(s.tse_logged_px, 2, "px"), no_refs.clone()),
        ("CSE against the logged calibration", num(s.cse_logged_px, 2, "px"), no_refs.clone()),
        ("Pose-estimation success, temporal pairs", pct(s.pose_success_pairs), no_refs.clone()),
        ("Pose-estimation success, cross-camera pairs", pct(s.cross_pose_success_pairs), no_refs.clone()),
        ("Pose-estimation success, clips", pct(s.pose_success_clips), refs_for(&|r| format!("{:.1} %", r.pose_success * 100.0))),
        ("Median rotation error", num(s.median_rotation_error_deg, 2, "°"), no_refs.clone()),
        ("Median translation-direction error", num(s.median_translation_error_deg, 2, "°"), no_refs.clone()),
        ("ATE, absolute trajectory error", num(s.ate_m, 3, "m"), no_refs.clone()),
        ("RPE translation (one frame step)", num(s.rpe_translation_m, 3, "m"), no_refs.clone()),
        ("RPE rotation (one frame step)", num(s.rpe_rotation_deg, 3, "°"), no_refs.clone()),
        ("Throughput", format!("{:.1} pairs/s", s.pairs_per_s), no_refs.clone()),
    ];
    for (name, ours, refs) in rows {
        let _ = writeln!(b, "<tr><td>{name}</td><td class=\"num\">{ours}</td>{refs}</tr>");
    }
    b.push_str(
        "</table>\n<p class=\"note\">References: Cosmos world-foundation-model report (multi-view driving). \
         Their pose-estimation success rates (real videos 56.4 %, Cosmos 7B 62.6 %, VideoLDM 4.4 %) follow the \
         RealEstate10K protocol and are a guide, not a like-for-like comparison.</p>\n",
    );

    let mut bars = vec![Bar { label: "TSE · this report".into(), value: s.tse_px, ours: true }];
    bars.extend(REFERENCES.iter().map(|r| Bar { label: format!("TSE · {}", r.name), value: Some(r.tse_px), ours: false }));
    bars.push(Bar { label: "CSE · this report".into(), value: s.cse_px, ours: true });
    bars.extend(REFERENCES.iter().map(|r| Bar { label: format!("CSE · {}", r.name), value: Some(r.cse_px), ours: false }));
    let id = "summary-ref";
    let svg = plots::reference_bars(&bars, "median Sampson error (px)").map_err(render_error(id))?;
    page.svg_figure(id, &svg, "TSE and CSE of this report against the published reference figures (lower is better).");

    let b = &mut page.body;
    let _ = write!(
        b,
        "<h3>Pose-estimation success thresholds</h3>\n<table class=\"thresholds\">\n\
         <tr><td>Maximum rotation error</td><td class=\"num\">{:.2} °</td></tr>\n\
         <tr><td>Maximum translation-direction error</td><td class=\"num\">{:.2} °</td></tr>\n\
         <tr><td>Minimum essential-matrix inliers</td><td class=\"num\">{}</td></tr>\n\
         <tr><td>Zero-baseline limit (logged baseline below counts as stationary)</td><td class=\"num\">{:.3} m</td></tr>\n\
         <tr><td>Clip succeeds when at least this fraction of its pairs succeed</td><td class=\"num\">{:.1} %</td></tr>\n\
         </table>\n",
        t.max_rotation_error_deg,
        t.max_translation_error_deg,
        t.min_inliers,
        t.zero_baseline_m,
        t.clip_min_pair_success * 100.0
    );
    let config = serde_json::to_string_pretty(&report.config).unwrap_or_else(|_| report.config.to_string());
    let _ = write!(b, "<details><summary>Configuration</summary><pre>{}</pre></details>\n</section>\n", escape(&config));
    Ok(())
}

/// Non-empty and only base64 characters (so it can go into an attribute as it is).
fn is_base64(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|c| c.is_ascii_alphanumeric() || matches!(c, b'+' | b'/' | b'='))
}

fn outcome_name(o: PoseOutcome) -> &'static str {
    match o {
        PoseOutcome::Estimated => "estimated",
        PoseOutcome::ZeroBaseline => "zero baseline",
        PoseOutcome::TooFewMatches => "too few matches",
        PoseOutcome::Degenerate => "degenerate",
    }
}


fn clip_section(page: &mut Page, index: usize, clip: &ClipReport) -> Result<(), CheckError> {
    let key = format!("{index}-{}", slug(&clip.clip_id));
    let b = &mut page.body;
    let badge = if clip.clip_success {
        "<span class=\"badge ok\">pose check passed</span>"
    } else {
        "<span class=\"badge bad\">pose check failed</span>"
    };
    let _ = write!(
        b,
        "<section class=\"card clip\" id=\"clip-{}\">\n<h2>Clip <code>{}</code>{badge}</h2>\n\
         <p class=\"note\">{} frames · cameras: {}</p>\n<div class=\"stats\">",
        escape(&key),
        escape(&clip.clip_id),
        clip.frames,
        clip.cameras.iter().map(|c| escape(c)).collect::<Vec<_>>().join(", ")
    );
    for (k, v) in [
        ("TSE", num(clip.tse_px, 2, "px")),
        ("CSE", num(clip.cse_px, 2, "px")),
        ("Pose success", pct(clip.pose_success_rate)),
        ("temporal pairs", pct(clip.temporal_success_rate)),
        ("cross pairs", pct(clip.cross_success_rate)),
        ("Median rot. error", num(clip.median_rotation_error_deg, 2, "°")),
        ("Median transl. error", num(clip.median_translation_error_deg, 2, "°")),
    ] {
        let _ = write!(b, "<div class=\"stat\"><div class=\"k\">{k}</div><div class=\"v\">{v}</div></div>");
    }
    b.push_str("</div>\n");

    // TSE per frame.
    b.push_str("<h3>Temporal Sampson error per frame</h3>\n");
    let real = REFERENCES[0];
    let id = format!("tse-{key}");
    let svg = plots::tse_plot(
        &clip.tse,
        &[RefLine { label: format!("real videos {:.2} px", real.tse_px), value: real.tse_px }],
    )
    .map_err(render_error(&id))?;
    page.svg_figure(
        &id,
        &svg,
        "Per consecutive frame pair (t, t+1) of each camera: median sqrt(Sampson error) of the fundamental-matrix \
         inliers. Gaps: pair not measurable. Dashed: TSE of real driving videos (reference).",
    );
    let b = &mut page.body;
    if !clip.tse.is_empty() {
        b.push_str("<table><tr><th>Camera</th><th class=\"num\">Median TSE</th><th class=\"num\">Measured pairs</th></tr>\n");
        for (i, c) in clip.tse.iter().enumerate() {
            let measured = c.per_frame_px.iter().flatten().count();
            let _ = writeln!(
                b,
                "<tr><td><span style=\"color:{}\">■</span> {}</td><td class=\"num\">{}</td><td class=\"num\">{measured} / {}</td></tr>",
                plots::series_css(i),
                escape(&c.camera),
                num(c.median_px, 2, "px"),
                c.per_frame_px.len()
            );
        }
        b.push_str("</table>\n");
    }

    // CSE matrix and trajectories side by side.
    b.push_str("<h3>Cross-view Sampson error</h3>\n");
    let id = format!("cse-{key}");
    let svg = plots::cse_heatmap(&clip.cameras, &clip.cse).map_err(render_error(&id))?;
    page.svg_figure(
        &id,
        &svg,
        "Median CSE (px) of each overlapping camera pair over the clip. Empty cells: fields of view do not \
         overlap; n/a: overlapping but not measurable.",
    );
    page.body.push_str("<h3>Trajectory, top-down</h3>\n");
    let id = format!("traj-{key}");
    let svg = plots::trajectory_plot(&clip.trajectories).map_err(render_error(&id))?;
    page.svg_figure(
        &id,
        &svg,
        "Rig positions given by the log (black, triangle at the start) and recovered from each camera's video \
         after similarity alignment.",
    );
    let b = &mut page.body;

    if !clip.trajectories.is_empty() {
        b.push_str(
            "<h3>Trajectory agreement</h3>\n<table><tr><th>Camera</th><th class=\"num\">ATE</th>\
             <th class=\"num\">RPE translation</th><th class=\"num\">RPE rotation</th><th class=\"num\">Scale</th><th>Note</th></tr>\n",
        );
        for (i, t) in clip.trajectories.iter().enumerate() {
            let _ = writeln!(
                b,
                "<tr><td><span style=\"color:{}\">■</span> {}</td><td class=\"num\">{}</td><td class=\"num\">{}</td>\
                 <td class=\"num\">{}</td><td class=\"num\">{}</td><td>{}</td></tr>",
                plots::series_css(i),
                escape(&t.camera),
                num(t.ate_m, 3, "m"),
                num(t.rpe_translation_m, 3, "m"),
                num(t.rpe_rotation_deg, 3, "°"),
                num(t.alignment_scale, 3, ""),
                t.note.as_deref().map(escape).unwrap_or_default()
            );
        }
        b.push_str("</table>\n");
    }

    // Pair outcomes.
    if !clip.pairs.is_empty() {
        b.push_str(
            "<h3>Pose estimation by pair kind</h3>\n<table><tr><th>Pairs</th><th class=\"num\">Count</th>\
             <th class=\"num\">Success</th><th class=\"num\">Estimated</th><th class=\"num\">Zero baseline</th>\
             <th class=\"num\">Too few matches</th><th class=\"num\">Degenerate</th><th class=\"num\">Median matches</th>\
             <th class=\"num\">Median F inliers</th></tr>\n",
        );
        for (kind, name) in [(PairKind::Temporal, "temporal"), (PairKind::Cross, "cross")] {
            let pairs: Vec<_> = clip.pairs.iter().filter(|p| p.kind == kind).collect();
            if pairs.is_empty() {
                continue;
            }
            let count = |o: PoseOutcome| pairs.iter().filter(|p| p.pose == o).count();
            let success = pairs.iter().filter(|p| p.success).count();
            let _ = write!(
                b,
                "<tr><td>{name}</td><td class=\"num\">{}</td><td class=\"num\">{success} ({:.1} %)</td>",
                pairs.len(),
                100.0 * success as f64 / pairs.len() as f64
            );
            for o in [PoseOutcome::Estimated, PoseOutcome::ZeroBaseline, PoseOutcome::TooFewMatches, PoseOutcome::Degenerate] {
                let _ = write!(b, "<td class=\"num\" title=\"{}\">{}</td>", outcome_name(o), count(o));
            }
            let _ = writeln!(
                b,
                "<td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
                num(median(pairs.iter().map(|p| p.matches as f64).collect()), 0, ""),
                num(median(pairs.iter().map(|p| p.f_inliers as f64).collect()), 0, "")
            );
        }
        b.push_str("</table>\n");
    }

    // Match previews.
    if !clip.previews.is_empty() {
        page.body.push_str(
            "<h3>Matches</h3>\n<p class=\"note\">Green: inliers of the fundamental matrix; red: outliers \
             (at most 60 lines drawn).</p>\n",
        );
        for (k, p) in clip.previews.iter().enumerate() {
            if !is_base64(&p.png_base64) {
                let _ = writeln!(page.body, "<div class=\"missing\">{}: no image</div>", escape(&p.title));
            } else {
                page.img_figure(&format!("match-{key}-{k}"), &p.png_base64, &p.title);
            }
        }
    }
    page.body.push_str("</section>\n");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_covers_markup_and_quotes() {
        assert_eq!(escape("<script>&\"'"), "&lt;script&gt;&amp;&quot;&#39;");
    }

    #[test]
    fn slug_keeps_safe_characters() {
        assert_eq!(slug("Clip 0001/front"), "clip-0001-front");
        assert_eq!(slug("<script>"), "script");
        assert_eq!(slug("!!!"), "x");
        assert_eq!(median(vec![3.0, 1.0, 2.0, 10.0]), Some(2.5));
    }
}
