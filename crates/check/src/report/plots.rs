//! The page's plots, drawn with `plotters`' SVG backend into strings.
//!
//! Text is emitted as SVG `<text>` elements rendered by the browser; with neither of `plotters`'
//! font features enabled its layout uses a width estimate (no font file, no system font library),
//! so label areas are sized explicitly here rather than measured. Nothing here draws text on a
//! bitmap backend (that path needs a real font backend).
//!
//! Every function returns the `<svg>` element (without the `xmlns` attribute, which inline SVG in
//! HTML does not need) or a message saying what failed.

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::result::{CameraPairCse, CameraTrajectory, CameraTse};

/// Font family of every label; the browser picks the face.
const FONT: &str = "sans-serif";
/// Plotters writes `size / 1.24` into the SVG, so these give roughly 12, 13 and 15 px text.
const TICK_SIZE: f64 = 15.0;
const DESC_SIZE: f64 = 16.0;
const LEGEND_SIZE: f64 = 15.5;
const GRID: RGBColor = RGBColor(232, 234, 238);
const AXIS: RGBColor = RGBColor(90, 96, 110);
const TEXT: RGBColor = RGBColor(33, 37, 41);
const MUTED: RGBColor = RGBColor(120, 126, 138);
/// Tableau 10: one colour per camera, cycled.
const PALETTE: [RGBColor; 10] = [
    RGBColor(78, 121, 167),
    RGBColor(242, 142, 43),
    RGBColor(225, 87, 89),
    RGBColor(118, 183, 178),
    RGBColor(89, 161, 79),
    RGBColor(237, 201, 72),
    RGBColor(176, 122, 161),
    RGBColor(255, 157, 167),
    RGBColor(156, 117, 95),
    RGBColor(186, 176, 172),
];
/// Longest label drawn inside a plot; longer names are shortened with an ellipsis (tables in the
/// page give them in full).
const MAX_LABEL_CHARS: usize = 26;
/// Longest legend entry.
const MAX_LEGEND_CHARS: usize = 34;

/// Colour of the `i`-th camera series.
pub(crate) fn series_colour(i: usize) -> RGBColor {
    PALETTE[i % PALETTE.len()]
}

/// The colour of `i` as CSS `#rrggbb`.
pub(crate) fn series_css(i: usize) -> String {
    let RGBColor(r, g, b) = series_colour(i);
    format!("#{r:02x}{g:02x}{b:02x}")
}

fn short(name: &str) -> String {
    shorten(name, MAX_LABEL_CHARS)
}

fn shorten(name: &str, max: usize) -> String {
    if name.chars().count() <= max {
        name.to_string()
    } else {
        let mut s: String = name.chars().take(max.saturating_sub(1)).collect();
        s.push('…');
        s
    }
}

fn msg<E: std::fmt::Display>(what: &'static str) -> impl Fn(E) -> String {
    move |e| format!("{what}: {e}")
}

fn text_style(size: f64, colour: RGBColor, h: HPos, v: VPos) -> TextStyle<'static> {
    (FONT, size).into_font().color(&colour).pos(Pos::new(h, v))
}

/// Removes the `xmlns` attribute from the root element (HTML's parser puts inline `<svg>` in the
/// SVG namespace by itself) and adds `role="img"`.
fn finish_svg(svg: String) -> String {
    svg.replacen(" xmlns=\"http://www.w3.org/2000/svg\"", " role=\"img\"", 1)
}

/// How a legend entry is drawn.
#[derive(Clone, Copy)]
pub(crate) enum Mark {
    Line,
    Dashed,
    Bar,
}

/// Draws a vertical legend into `area` (its own panel beside the plot).
fn draw_legend<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    title: &str,
    entries: &[(String, RGBColor, Mark)],
) -> Result<(), String> {
    let e = msg::<DrawingAreaErrorKind<DB::ErrorType>>("drawing the legend");
    let mut y = 28;
    if !title.is_empty() {
        area.draw(&Text::new(title.to_string(), (8, y), text_style(LEGEND_SIZE, TEXT, HPos::Left, VPos::Center)))
            .map_err(&e)?;
        y += 24;
    }
    for (label, colour, mark) in entries {
        match mark {
            Mark::Line => area.draw(&PathElement::new(vec![(10, y), (34, y)], colour.stroke_width(3))).map_err(&e)?,
            Mark::Dashed => {
                for x in [10, 20, 30] {
                    area.draw(&PathElement::new(vec![(x, y), (x + 6, y)], colour.stroke_width(2))).map_err(&e)?;
                }
            }
            Mark::Bar => area.draw(&Rectangle::new([(12, y - 6), (32, y + 6)], colour.filled())).map_err(&e)?,
        }
        area.draw(&Text::new(shorten(label, MAX_LEGEND_CHARS), (42, y), text_style(LEGEND_SIZE, TEXT, HPos::Left, VPos::Center)))
            .map_err(&e)?;
        y += 22;
    }
    Ok(())
}

/// Splits a sequence of optional values into runs of consecutive `Some`, as `(index, value)`.
fn runs(values: &[Option<f64>]) -> Vec<Vec<(f64, f64)>> {
    let mut out = Vec::new();
    let mut cur = Vec::new();
    for (i, v) in values.iter().enumerate() {
        match v.filter(|v| v.is_finite()) {
            Some(v) => cur.push((i as f64, v)),
            None => {
                if !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
            }
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// A horizontal reference line drawn behind a line plot.
pub(crate) struct RefLine {
    pub label: String,
    pub value: f64,
}

/// Per-frame Sampson error of each camera: one line per camera (gaps where a pair was not
/// measurable), dashed horizontal reference lines.
pub(crate) fn tse_plot(tse: &[CameraTse], refs: &[RefLine]) -> Result<String, String> {
    let (w, h) = (1000u32, 360u32);
    let legend_w = 280u32;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (w, h)).into_drawing_area();
        let e = msg::<DrawingAreaErrorKind<std::io::Error>>("drawing the TSE plot");
        root.fill(&WHITE).map_err(&e)?;
        let (plot, legend) = root.split_horizontally(w - legend_w);

        let n = tse.iter().map(|c| c.per_frame_px.len()).max().unwrap_or(0);
        let x_max = (n.max(2) - 1) as f64;
        let y_data = tse.iter().flat_map(|c| c.per_frame_px.iter().flatten()).copied().filter(|v| v.is_finite());
        let y_top = y_data.chain(refs.iter().map(|r| r.value)).fold(0.0f64, f64::max);
        let y_max = nice_ceiling((y_top * 1.1).max(1.0));

        let mut chart = ChartBuilder::on(&plot)
            .margin_top(16)
            .margin_right(16)
            .margin_left(8)
            .x_label_area_size(52)
            .y_label_area_size(64)
            .build_cartesian_2d(0f64..x_max, 0f64..y_max)
            .map_err(&e)?;
        chart
            .configure_mesh()
            .x_desc("frame pair index t (frames t → t+1)")
            .y_desc("Sampson error (px)")
            .x_labels((x_max as usize + 1).min(12))
            .y_labels(8)
            // Frame indices: whole numbers only.
            .x_label_formatter(&|v| if (v - v.round()).abs() < 1e-6 { tick(*v, 0) } else { String::new() })
            .y_label_formatter(&|v| tick(*v, 2))
            .label_style((FONT, TICK_SIZE).into_font().color(&AXIS))
            .axis_desc_style((FONT, DESC_SIZE).into_font().color(&TEXT))
            .axis_style(AXIS)
            .bold_line_style(GRID)
            .light_line_style(TRANSPARENT)
            .draw()
            .map_err(&e)?;

        for r in refs {
            chart
                .draw_series(DashedLineSeries::new(vec![(0.0, r.value), (x_max, r.value)], 6, 5, MUTED.stroke_width(1)))
                .map_err(&e)?;
        }
        for (i, cam) in tse.iter().enumerate() {
            let colour = series_colour(i);
            for run in runs(&cam.per_frame_px) {
                if run.len() > 1 {
                    chart.draw_series(LineSeries::new(run.clone(), colour.stroke_width(2))).map_err(&e)?;
                }
                // Markers only where there are few points or a run is a single point.
                if n <= 60 || run.len() == 1 {
                    chart.draw_series(run.iter().map(|&p| Circle::new(p, 3, colour.filled()))).map_err(&e)?;
                }
            }
        }
        if tse.iter().all(|c| c.per_frame_px.iter().flatten().next().is_none()) {
            plot.draw(&Text::new(
                "no measurable temporal pairs",
                (((w - legend_w) / 2) as i32, (h / 2) as i32),
                text_style(DESC_SIZE, MUTED, HPos::Center, VPos::Center),
            ))
            .map_err(&e)?;
        }

        let mut entries: Vec<(String, RGBColor, Mark)> =
            tse.iter().enumerate().map(|(i, c)| (c.camera.clone(), series_colour(i), Mark::Line)).collect();
        entries.extend(refs.iter().map(|r| (r.label.clone(), MUTED, Mark::Dashed)));
        draw_legend(&legend, "camera", &entries)?;
        root.present().map_err(&e)?;
    }
    Ok(finish_svg(svg))
}

/// A tick label with `prec` decimals, never "-0".
fn tick(v: f64, prec: usize) -> String {
    let s = format!("{v:.prec$}");
    if s.starts_with('-') && s[1..].chars().all(|c| c == '0' || c == '.') {
        s[1..].to_string()
    } else {
        s
    }
}

/// Decimals needed to write multiples of `step` distinctly (0 for steps of 1 and more, at most 4).
fn decimals(step: f64) -> usize {
    if !(step.is_finite() && step > 0.0) || step >= 1.0 {
        0
    } else {
        ((-step.log10()).ceil() as usize).min(4)
    }
}

/// Rounds `v > 0` up to 1, 2, 2.5 or 5 times a power of ten.
fn nice_ceiling(v: f64) -> f64 {
    if !(v.is_finite() && v > 0.0) {
        return 1.0;
    }
    let p = 10f64.powf(v.log10().floor());
    for m in [1.0, 2.0, 2.5, 5.0, 10.0] {
        if m * p >= v * (1.0 - 1e-12) {
            return m * p;
        }
    }
    10.0 * p
}

/// The value in the CSE matrix cell (row camera `a`, column camera `b`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Cell {
    /// The same camera.
    Diagonal,
    /// No overlapping field of view (not measured).
    NoOverlap,
    /// Overlapping, but no measurable frame.
    Unmeasured,
    Value(f64),
}

/// The CSE matrix over `cameras` (row = camera a, column = camera b). A pair listed in one order
/// fills both cells unless the other order is listed too. Cameras named by a pair but missing from
/// `cameras` are ignored.
pub(crate) fn cse_matrix(cameras: &[String], cse: &[CameraPairCse]) -> Vec<Vec<Cell>> {
    let n = cameras.len();
    let mut m = vec![vec![Cell::NoOverlap; n]; n];
    for (i, row) in m.iter_mut().enumerate() {
        row[i] = Cell::Diagonal;
    }
    let idx = |name: &str| cameras.iter().position(|c| c == name);
    let cell = |p: &CameraPairCse| match p.median_px.filter(|v| v.is_finite()) {
        Some(v) => Cell::Value(v),
        None => Cell::Unmeasured,
    };
    // Mirrored entries first, so an explicitly listed order wins.
    for p in cse {
        if let (Some(a), Some(b)) = (idx(&p.camera_a), idx(&p.camera_b)) {
            if a != b {
                m[b][a] = cell(p);
            }
        }
    }
    for p in cse {
        if let (Some(a), Some(b)) = (idx(&p.camera_a), idx(&p.camera_b)) {
            if a != b {
                m[a][b] = cell(p);
            }
        }
    }
    m
}

/// Heatmap of the CSE matrix with the value in each cell; cells of non-overlapping pairs are left
/// empty, the diagonal is grey. A colour bar on the right gives the scale.
pub(crate) fn cse_heatmap(cameras: &[String], cse: &[CameraPairCse]) -> Result<String, String> {
    let n = cameras.len().max(1);
    let matrix = cse_matrix(cameras, cse);
    let cell_px = if n <= 4 { 84 } else if n <= 8 { 64 } else { 44 };
    // Label areas sized to the longest (shortened) name: about 6.6 px a character at 12 px.
    let longest = cameras.iter().map(|c| short(c).chars().count()).max().unwrap_or(1) as f64;
    let label_px = (longest * 6.6).ceil() as u32;
    let label_w = label_px + 52;
    let x_label_h = label_px + 50;
    let bar_w = 110u32;
    let w = label_w + (n as u32) * cell_px + bar_w + 20;
    let h = 20 + (n as u32) * cell_px + x_label_h;
    let vmax = nice_ceiling(
        matrix
            .iter()
            .flatten()
            .filter_map(|c| if let Cell::Value(v) = c { Some(*v) } else { None })
            .fold(0.0f64, f64::max)
            .max(1.0),
    );
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (w, h)).into_drawing_area();
        let e = msg::<DrawingAreaErrorKind<std::io::Error>>("drawing the CSE heatmap");
        root.fill(&WHITE).map_err(&e)?;
        let (plot, bar) = root.split_horizontally(w - bar_w);

        let names: Vec<String> = cameras.iter().map(|c| short(c)).collect();
        let y_names = names.clone();
        let y_fmt = move |v: &SegmentValue<i32>| match v {
            // Row 0 at the top.
            SegmentValue::CenterOf(i) => {
                y_names.get(n.saturating_sub(1 + *i as usize)).cloned().unwrap_or_default()
            }
            _ => String::new(),
        };
        let mut chart = ChartBuilder::on(&plot)
            .margin_top(20)
            .margin_right(12)
            .x_label_area_size(x_label_h)
            .y_label_area_size(label_w)
            // Integer ranges are inclusive: n segments.
            .build_cartesian_2d((0..n as i32 - 1).into_segmented(), (0..n as i32 - 1).into_segmented())
            .map_err(&e)?;
        chart
            .configure_mesh()
            .disable_mesh()
            .x_labels(n)
            .y_labels(n)
            // Column names are drawn below, rotated and anchored at their end.
            .x_label_formatter(&|_| String::new())
            .y_label_formatter(&y_fmt)
            .x_desc("camera b")
            .y_desc("camera a")
            .label_style((FONT, TICK_SIZE).into_font().color(&TEXT))
            .axis_desc_style((FONT, DESC_SIZE).into_font().color(&TEXT))
            .axis_style(AXIS)
            .draw()
            .map_err(&e)?;

        for (a, row) in matrix.iter().enumerate() {
            for (b, cell) in row.iter().enumerate() {
                let y = (n - 1 - a) as i32;
                let x = b as i32;
                let corners = [
                    (SegmentValue::Exact(x), SegmentValue::Exact(y + 1)),
                    (SegmentValue::Exact(x + 1), SegmentValue::Exact(y)),
                ];
                let centre = (SegmentValue::CenterOf(x), SegmentValue::CenterOf(y));
                let (fill, label, label_colour) = match cell {
                    Cell::Diagonal => (RGBColor(214, 217, 224), "—".to_string(), MUTED),
                    Cell::NoOverlap => (WHITE, String::new(), MUTED),
                    Cell::Unmeasured => (RGBColor(241, 242, 245), "n/a".to_string(), MUTED),
                    Cell::Value(v) => {
                        let c = ViridisRGB.get_color_normalized(*v as f32, 0.0, vmax as f32);
                        let lum = 0.299 * f64::from(c.0) + 0.587 * f64::from(c.1) + 0.114 * f64::from(c.2);
                        (c, format!("{v:.2}"), if lum > 140.0 { TEXT } else { WHITE })
                    }
                };
                chart.draw_series(std::iter::once(Rectangle::new(corners.clone(), fill.filled()))).map_err(&e)?;
                chart
                    .draw_series(std::iter::once(Rectangle::new(corners, RGBColor(200, 204, 212).stroke_width(1))))
                    .map_err(&e)?;
                if !label.is_empty() {
                    chart
                        .draw_series(std::iter::once(Text::new(
                            label,
                            centre,
                            text_style(LEGEND_SIZE, label_colour, HPos::Center, VPos::Center),
                        )))
                        .map_err(&e)?;
                }
            }
        }

        for (b, name) in names.iter().enumerate() {
            let (x, y) = chart.backend_coord(&(SegmentValue::CenterOf(b as i32), SegmentValue::Exact(0)));
            root.draw(&Text::new(
                name.clone(),
                (x, y + 8),
                (FONT, TICK_SIZE)
                    .into_font()
                    .color(&TEXT)
                    .transform(FontTransform::Rotate270)
                    .pos(Pos::new(HPos::Right, VPos::Center)),
            ))
            .map_err(&e)?;
        }

        // Colour bar.
        let mut cb = ChartBuilder::on(&bar)
            .margin_top(20)
            .margin_left(14)
            .margin_right(44)
            .x_label_area_size(x_label_h)
            .y_label_area_size(0)
            .right_y_label_area_size(40)
            .build_cartesian_2d(0f64..1.0, 0f64..vmax)
            .map_err(&e)?;
        let steps = 64;
        cb.draw_series((0..steps).map(|k| {
            let lo = vmax * k as f64 / steps as f64;
            let hi = vmax * (k + 1) as f64 / steps as f64;
            let c = ViridisRGB.get_color_normalized(((lo + hi) / 2.0) as f32, 0.0, vmax as f32);
            Rectangle::new([(0.0, lo), (1.0, hi)], c.filled())
        }))
        .map_err(&e)?;
        cb.configure_mesh()
            .disable_mesh()
            .disable_x_axis()
            .y_labels(6)
            .y_label_formatter(&|v| format!("{v:.1}"))
            .label_style((FONT, TICK_SIZE).into_font().color(&AXIS))
            .axis_style(AXIS)
            .draw()
            .map_err(&e)?;
        let (bw, bh) = bar.dim_in_pixel();
        bar.draw(&Text::new(
            "px",
            ((bw as i32) - 30, bh.saturating_sub(x_label_h) as i32 + 14),
            text_style(TICK_SIZE, AXIS, HPos::Center, VPos::Center),
        ))
        .map_err(&e)?;
        root.present().map_err(&e)?;
    }
    Ok(finish_svg(svg))
}

/// Top-down (x, y) view of the given rig trajectory and each camera's estimated one, on equal axis
/// scales. The legend gives each camera's ATE.
pub(crate) fn trajectory_plot(trajs: &[CameraTrajectory]) -> Result<String, String> {
    let (w, h) = (1000u32, 500u32);
    let legend_w = 300u32;
    let plot_w = w - legend_w;

    // Distinct given trajectories (normally one: the rig's).
    let mut givens: Vec<&Vec<[f64; 3]>> = Vec::new();
    for t in trajs {
        if !t.given_m.is_empty() && !givens.iter().any(|g| **g == t.given_m) {
            givens.push(&t.given_m);
        }
    }
    let pts = givens
        .iter()
        .flat_map(|g| g.iter().copied())
        .chain(trajs.iter().flat_map(|t| t.estimated_m.iter().flatten().copied()))
        .filter(|p| p[0].is_finite() && p[1].is_finite());
    let (mut x0, mut x1, mut y0, mut y1) = (f64::INFINITY, f64::NEG_INFINITY, f64::INFINITY, f64::NEG_INFINITY);
    for p in pts {
        x0 = x0.min(p[0]);
        x1 = x1.max(p[0]);
        y0 = y0.min(p[1]);
        y1 = y1.max(p[1]);
    }
    if !(x0.is_finite() && y0.is_finite()) {
        (x0, x1, y0, y1) = (-1.0, 1.0, -1.0, 1.0);
    }
    // Equal scales: widen the narrower extent to the plot area's aspect ratio.
    let (area_w, area_h) = (f64::from(plot_w - 70 - 16), f64::from(h - 52 - 16));
    let span = ((x1 - x0) / area_w).max((y1 - y0) / area_h).max(2.0 / area_h) * 1.08;
    let (cx, cy) = ((x0 + x1) / 2.0, (y0 + y1) / 2.0);
    let (hx, hy) = (span * area_w / 2.0, span * area_h / 2.0);
    // Enough decimals to tell ~8 ticks apart.
    let prec = decimals(2.0 * hx.min(hy) / 8.0);

    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (w, h)).into_drawing_area();
        let e = msg::<DrawingAreaErrorKind<std::io::Error>>("drawing the trajectory plot");
        root.fill(&WHITE).map_err(&e)?;
        let (plot, legend) = root.split_horizontally(plot_w);
        let mut chart = ChartBuilder::on(&plot)
            .margin_top(16)
            .margin_right(16)
            .x_label_area_size(52)
            .y_label_area_size(70)
            .build_cartesian_2d(cx - hx..cx + hx, cy - hy..cy + hy)
            .map_err(&e)?;
        chart
            .configure_mesh()
            .x_desc("x (m)")
            .y_desc("y (m)")
            .x_labels(8)
            .y_labels(8)
            .x_label_formatter(&|v| tick(*v, prec))
            .y_label_formatter(&|v| tick(*v, prec))
            .label_style((FONT, TICK_SIZE).into_font().color(&AXIS))
            .axis_desc_style((FONT, DESC_SIZE).into_font().color(&TEXT))
            .axis_style(AXIS)
            .bold_line_style(GRID)
            .light_line_style(TRANSPARENT)
            .draw()
            .map_err(&e)?;

        let given_colour = RGBColor(40, 44, 52);
        for g in &givens {
            let line: Vec<(f64, f64)> = g.iter().map(|p| (p[0], p[1])).collect();
            chart.draw_series(LineSeries::new(line.clone(), given_colour.stroke_width(4))).map_err(&e)?;
            if let Some(&start) = line.first() {
                chart
                    .draw_series(std::iter::once(TriangleMarker::new(start, 7, given_colour.filled())))
                    .map_err(&e)?;
            }
        }
        let mut entries: Vec<(String, RGBColor, Mark)> = Vec::new();
        if !givens.is_empty() {
            entries.push(("given (log)".to_string(), given_colour, Mark::Line));
        }
        for (i, t) in trajs.iter().enumerate() {
            let colour = series_colour(i);
            let seq: Vec<Option<f64>> = t.estimated_m.iter().map(|p| p.map(|p| p[0])).collect();
            for run in runs(&seq) {
                let line: Vec<(f64, f64)> = run
                    .iter()
                    .filter_map(|&(k, _)| t.estimated_m.get(k as usize).copied().flatten())
                    .map(|p| (p[0], p[1]))
                    .collect();
                chart.draw_series(LineSeries::new(line.clone(), colour.mix(0.9).stroke_width(2))).map_err(&e)?;
                if line.len() == 1 {
                    chart.draw_series(line.iter().map(|&p| Circle::new(p, 3, colour.filled()))).map_err(&e)?;
                }
            }
            let ate = t.ate_m.map_or("n/a".to_string(), |a| format!("{a:.2} m"));
            entries.push((format!("{} · {ate}", shorten(&t.camera, MAX_LEGEND_CHARS - 9)), colour, Mark::Line));
        }
        if givens.is_empty() && trajs.iter().all(|t| t.estimated_m.iter().flatten().next().is_none()) {
            plot.draw(&Text::new(
                "no trajectory",
                ((plot_w / 2) as i32, (h / 2) as i32),
                text_style(DESC_SIZE, MUTED, HPos::Center, VPos::Center),
            ))
            .map_err(&e)?;
        }
        draw_legend(&legend, "camera · ATE", &entries)?;
        root.present().map_err(&e)?;
    }
    Ok(finish_svg(svg))
}

/// One bar of the reference chart.
pub(crate) struct Bar {
    pub label: String,
    pub value: Option<f64>,
    /// This report's value (highlighted) rather than a published reference.
    pub ours: bool,
}

/// Horizontal bar chart of this report's TSE/CSE against the published reference figures.
pub(crate) fn reference_bars(bars: &[Bar], x_desc: &str) -> Result<String, String> {
    let n = bars.len().max(1);
    let (w, h) = (1000u32, 60 + 34 * n as u32 + 50);
    let label_w = 300u32;
    let x_max = nice_ceiling(bars.iter().filter_map(|b| b.value).fold(0.0f64, f64::max).max(1.0) * 1.12);
    let ours_colour = RGBColor(37, 99, 235);
    let ref_colour = RGBColor(170, 177, 190);
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (w, h)).into_drawing_area();
        let e = msg::<DrawingAreaErrorKind<std::io::Error>>("drawing the reference chart");
        root.fill(&WHITE).map_err(&e)?;
        let (plot, legend) = root.split_horizontally(w - 220);
        let names: Vec<String> = bars.iter().map(|b| b.label.clone()).collect();
        let y_fmt = move |v: &SegmentValue<i32>| match v {
            SegmentValue::CenterOf(i) => names.get(n.saturating_sub(1 + *i as usize)).cloned().unwrap_or_default(),
            _ => String::new(),
        };
        let mut chart = ChartBuilder::on(&plot)
            .margin_top(16)
            .margin_right(24)
            .x_label_area_size(52)
            .y_label_area_size(label_w)
            .build_cartesian_2d(0f64..x_max, (0..n as i32 - 1).into_segmented())
            .map_err(&e)?;
        chart
            .configure_mesh()
            .disable_y_mesh()
            .x_desc(x_desc)
            .y_labels(n)
            .x_labels(10)
            .x_label_formatter(&|v| format!("{v:.1}"))
            .y_label_formatter(&y_fmt)
            .label_style((FONT, TICK_SIZE).into_font().color(&TEXT))
            .axis_desc_style((FONT, DESC_SIZE).into_font().color(&TEXT))
            .axis_style(AXIS)
            .bold_line_style(GRID)
            .light_line_style(TRANSPARENT)
            .draw()
            .map_err(&e)?;
        for (k, b) in bars.iter().enumerate() {
            let y = (n - 1 - k) as i32;
            let colour = if b.ours { ours_colour } else { ref_colour };
            match b.value {
                Some(v) if v.is_finite() => {
                    let v = v.min(x_max);
                    // A bar is the middle 64 % of its row, drawn in pixels from the row's ends.
                    let (px0, py0) = chart.backend_coord(&(0.0, SegmentValue::Exact(y + 1)));
                    let (px1, py1) = chart.backend_coord(&(v, SegmentValue::Exact(y)));
                    let inset = ((py1 - py0).abs() as f64 * 0.18).round() as i32;
                    root.draw(&Rectangle::new(
                        [(px0, py0.min(py1) + inset), (px1.max(px0 + 1), py0.max(py1) - inset)],
                        colour.filled(),
                    ))
                    .map_err(&e)?;
                    chart
                        .draw_series(std::iter::once(Text::new(
                            format!("{v:.2}"),
                            (v, SegmentValue::CenterOf(y)),
                            text_style(LEGEND_SIZE, TEXT, HPos::Left, VPos::Center),
                        )))
                        .map_err(&e)?;
                }
                _ => {
                    chart
                        .draw_series(std::iter::once(Text::new(
                            "not measurable",
                            (0.0, SegmentValue::CenterOf(y)),
                            text_style(LEGEND_SIZE, MUTED, HPos::Left, VPos::Center),
                        )))
                        .map_err(&e)?;
                }
            }
        }
        draw_legend(
            &legend,
            "",
            &[("this report".to_string(), ours_colour, Mark::Bar), ("published reference".to_string(), ref_colour, Mark::Bar)],
        )?;
        root.present().map_err(&e)?;
    }
    Ok(finish_svg(svg))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nice_ceiling_rounds_up() {
        assert_eq!(nice_ceiling(0.7), 1.0);
        assert_eq!(nice_ceiling(1.3), 2.0);
        assert_eq!(nice_ceiling(2.2), 2.5);
        assert_eq!(nice_ceiling(7.0), 10.0);
        assert_eq!(nice_ceiling(10.0), 10.0);
        assert_eq!(nice_ceiling(f64::NAN), 1.0);
    }

    #[test]
    fn ticks_have_no_negative_zero() {
        assert_eq!(tick(-0.001, 0), "0");
        assert_eq!(tick(-0.001, 2), "0.00");
        assert_eq!(tick(-1.5, 1), "-1.5");
        assert_eq!(decimals(5.0), 0);
        assert_eq!(decimals(0.5), 1);
        assert_eq!(decimals(0.25), 1);
        assert_eq!(decimals(0.05), 2);
    }

    #[test]
    fn runs_split_at_gaps() {
        let r = runs(&[Some(1.0), Some(2.0), None, Some(3.0), Some(f64::NAN), Some(4.0)]);
        assert_eq!(r, vec![vec![(0.0, 1.0), (1.0, 2.0)], vec![(3.0, 3.0)], vec![(5.0, 4.0)]]);
    }

    #[test]
    fn cse_matrix_mirrors_and_marks_missing() {
        let cams: Vec<String> = ["front", "left", "right"].iter().map(|s| s.to_string()).collect();
        let pair = |a: &str, b: &str, v: Option<f64>| CameraPairCse {
            camera_a: a.into(),
            camera_b: b.into(),
            overlap_fraction: 0.2,
            per_frame_px: vec![],
            median_px: v,
        };
        let m = cse_matrix(&cams, &[pair("front", "left", Some(1.5)), pair("front", "right", None), pair("right", "front", Some(2.0))]);
        assert_eq!(m[0][0], Cell::Diagonal);
        assert_eq!(m[0][1], Cell::Value(1.5));
        assert_eq!(m[1][0], Cell::Value(1.5));
        assert_eq!(m[0][2], Cell::Unmeasured);
        assert_eq!(m[2][0], Cell::Value(2.0));
        assert_eq!(m[1][2], Cell::NoOverlap);
    }
}
