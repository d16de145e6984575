//! The study's charts, drawn with `plotters` as SVG and PNG.
//!
//! Every chart has the number of instances N on a logarithmic x axis (ticks at the measured N),
//! a linear y axis from 0 with ticks on round numbers, and a legend; one series per window mode
//! and PCID setting: the colour says the mode, a dashed line says PCID off, the point marker
//! the build or page size (a circle the workload's default build, a triangle its other build, a
//! cross 2 MiB window pages, a square a Linux baseline). A chart may hold
//! several panels side by side that share the x axis (cold walks: flushed and shared-warm).
//!
//! The SVG is written as text (its labels are `<text>` elements, rendered by whatever shows
//! it); the PNG's text is drawn from DejaVu Sans embedded in the binary (the `dejavu` crate,
//! through plotters' `ab_glyph` feature), so no system font library is needed at run time.

use std::path::Path;
use std::sync::Once;

use plotters::coord::Shift;
use plotters::prelude::*;

/// Width of a panel in pixels.
const PANEL_WIDTH: u32 = 760;
/// Height of a chart in pixels.
const HEIGHT: u32 = 480;
/// Font family the charts use (registered for the PNG backend from the embedded font).
const FONT: &str = "sans-serif";

/// Colours by window mode, in the order of [`kernel_args::WindowMode::ALL`], then by Linux
/// baseline, in the order of [`super::linux::BASELINES`] (black, purple, brown, teal).
const MODE_COLOURS: [RGBColor; 8] = [
    RGBColor(0x1b, 0x6c, 0xa8),
    RGBColor(0xd1, 0x49, 0x5b),
    RGBColor(0x2e, 0x93, 0x3c),
    RGBColor(0xed, 0xae, 0x49),
    RGBColor(0x10, 0x10, 0x10),
    RGBColor(0x7b, 0x3f, 0x9e),
    RGBColor(0x8c, 0x56, 0x2b),
    RGBColor(0x1a, 0x8a, 0x8a),
];
/// Colour of a series whose mode is unknown.
const OTHER_COLOUR: RGBColor = RGBColor(0x3d, 0x3d, 0x3d);

/// A line of a chart.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Series {
    /// The legend text.
    pub(crate) label: String,
    /// Points (instances, value), instances ascending.
    pub(crate) points: Vec<(f64, f64)>,
    /// Index into the mode colours: a window mode's, or 4 + a Linux baseline's index (`None`:
    /// grey).
    pub(crate) colour: Option<usize>,
    /// Drawn dashed (PCID off).
    pub(crate) dashed: bool,
    /// The point marker: 0 a filled circle (shoal, the workload's default build), 1 a triangle
    /// (shoal, another build of the workload), 2 a square (a Linux baseline), 3 a cross (shoal
    /// with 2 MiB window pages, `large_pages=on`).
    pub(crate) marker: usize,
}

/// One plot area of a chart.
pub(crate) struct Panel {
    /// The panel's title.
    pub(crate) title: String,
    /// The y axis label.
    pub(crate) y_label: String,
    /// The lines.
    pub(crate) series: Vec<Series>,
}

/// Registers the embedded font for the PNG backend (once per process).
fn register_font() {
    static REGISTER: Once = Once::new();
    REGISTER.call_once(|| {
        // The embedded font is a valid TrueType file; should it ever fail to parse, the PNG's
        // text is missing but the chart is still drawn.
        let _ = plotters::style::register_font(FONT, FontStyle::Normal, dejavu::sans::regular());
    });
}

/// Returns the x range: the measured instance counts (`measured` and every point's) with a
/// margin on the log scale, and the ticks.
fn x_range(panels: &[Panel], measured: &[f64]) -> (f64, f64, Vec<f64>) {
    let points = panels.iter().flat_map(|panel| panel.series.iter()).flat_map(|series| series.points.iter().map(|point| point.0));
    let mut ticks: Vec<f64> = measured.iter().copied().chain(points).collect();
    ticks.sort_by(f64::total_cmp);
    ticks.dedup();
    let low = ticks.first().copied().unwrap_or(1.0).max(1.0);
    let high = ticks.last().copied().unwrap_or(1.0).max(low);
    (low / 1.5, high * 1.5, ticks)
}

/// Returns the top of the y axis: above the largest value, leaving room for the legend, at
/// least 1.
fn y_top(panel: &Panel) -> f64 {
    let largest = panel.series.iter().flat_map(|series| series.points.iter().map(|point| point.1)).fold(0.0, f64::max);
    if largest > 0.0 { largest * 1.3 } else { 1.0 }
}

/// Formats a tick value: whole numbers without decimals, others with up to three.
pub(crate) fn tick_label(value: f64) -> String {
    if (value - value.round()).abs() < 1e-9 {
        format!("{value:.0}")
    } else {
        let text = format!("{value:.3}");
        text.trim_end_matches('0').trim_end_matches('.').to_owned()
    }
}

/// Draws the panels side by side on `root`.
fn draw_on<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, title: &str, panels: &[Panel], measured: &[f64]) -> Result<(), String> {
    let fail = |error: DrawingAreaErrorKind<DB::ErrorType>| format!("drawing \"{title}\": {error}");
    root.fill(&WHITE).map_err(fail)?;
    let root = root.titled(title, (FONT, 20)).map_err(fail)?;
    let areas = root.split_evenly((1, panels.len().max(1)));
    let (x_low, x_high, ticks) = x_range(panels, measured);
    for (area, panel) in areas.iter().zip(panels) {
        let mut chart = ChartBuilder::on(area)
            .caption(&panel.title, (FONT, 15))
            .margin(10)
            .x_label_area_size(40)
            .y_label_area_size(60)
            .build_cartesian_2d((x_low..x_high).log_scale().with_key_points(ticks.clone()), 0.0..y_top(panel))
            .map_err(fail)?;
        chart
            .configure_mesh()
            .x_desc("function instances N (log scale)")
            .y_desc(panel.y_label.as_str())
            .x_label_formatter(&|value| tick_label(*value))
            .y_label_formatter(&|value| tick_label(*value))
            .light_line_style(RGBColor(0xf2, 0xf2, 0xf2))
            .label_style((FONT, 12))
            .axis_desc_style((FONT, 13))
            .draw()
            .map_err(fail)?;
        for series in &panel.series {
            let colour = series.colour.and_then(|index| MODE_COLOURS.get(index)).copied().unwrap_or(OTHER_COLOUR);
            let style = colour.stroke_width(2);
            let points = series.points.clone();
            let drawn = if series.dashed {
                chart.draw_series(DashedLineSeries::new(points.clone(), 8, 5, style)).map_err(fail)?
            } else {
                chart.draw_series(LineSeries::new(points.clone(), style)).map_err(fail)?
            };
            let dashed = series.dashed;
            drawn.label(series.label.as_str()).legend(move |(x, y)| {
                let gap = if dashed { 4 } else { 0 };
                EmptyElement::at((x, y)) + PathElement::new(vec![(0, 0), (8, 0)], style) + PathElement::new(vec![(8 + gap, 0), (20, 0)], style)
            });
            match series.marker {
                0 => chart.draw_series(points.iter().map(|&point| Circle::new(point, 3, colour.filled()))).map_err(fail)?,
                1 => chart.draw_series(points.iter().map(|&point| TriangleMarker::new(point, 5, colour.filled()))).map_err(fail)?,
                3 => chart.draw_series(points.iter().map(|&point| Cross::new(point, 4, colour.stroke_width(2)))).map_err(fail)?,
                _ => chart.draw_series(points.iter().map(|&point| EmptyElement::at(point) + Rectangle::new([(-3, -3), (3, 3)], colour.filled()))).map_err(fail)?,
            };
        }
        if panel.series.iter().any(|series| !series.label.is_empty()) {
            chart
                .configure_series_labels()
                .position(SeriesLabelPosition::UpperLeft)
                .label_font((FONT, 12))
                .background_style(WHITE.mix(0.85))
                .border_style(BLACK)
                .draw()
                .map_err(fail)?;
        }
    }
    root.present().map_err(fail)
}

/// Draws a chart into `<stem>.svg` and `<stem>.png`; `measured` are the instance counts the x
/// axis shows even where a panel has no point.
///
/// # Errors
/// Returns a message naming the chart and the file that could not be drawn or written.
pub(crate) fn draw(stem: &Path, title: &str, panels: &[Panel], measured: &[f64]) -> Result<(), String> {
    register_font();
    let size = (PANEL_WIDTH * panels.len().max(1) as u32, HEIGHT);
    let svg_path = stem.with_extension("svg");
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, size).into_drawing_area();
        draw_on(&root, title, panels, measured)?;
    }
    std::fs::write(&svg_path, svg).map_err(|error| format!("writing {}: {error}", svg_path.display()))?;
    let png_path = stem.with_extension("png");
    let root = BitMapBackend::new(&png_path, size).into_drawing_area();
    draw_on(&root, title, panels, measured).map_err(|error| format!("{error} (writing {})", png_path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn panel(series: Vec<Series>) -> Panel {
        Panel { title: "warm".into(), y_label: "walks per invocation".into(), series }
    }

    #[test]
    fn ticks_are_round_numbers_and_the_x_axis_spans_the_measured_counts() {
        assert_eq!(tick_label(64.0), "64");
        assert_eq!(tick_label(0.25), "0.25");
        assert_eq!(tick_label(1.5000001), "1.5");
        let series = Series { label: "a".into(), points: vec![(1.0, 2.0), (16.0, 4.0), (64.0, 8.0)], colour: Some(0), dashed: false, marker: 0 };
        let (low, high, ticks) = x_range(&[panel(vec![series])], &[16.0]);
        assert_eq!((low, high, ticks), (1.0 / 1.5, 96.0, vec![1.0, 16.0, 64.0]));
        assert_eq!(x_range(&[panel(Vec::new())], &[2.0, 8.0]), (2.0 / 1.5, 12.0, vec![2.0, 8.0]), "an empty panel still shows the measured N");
        assert_eq!(y_top(&panel(Vec::new())), 1.0, "an empty or all-zero chart still has an axis");
    }

    #[test]
    fn a_chart_is_written_as_svg_and_png_with_a_legend() {
        let dir = std::env::temp_dir().join(format!("shoal-charts-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let series = vec![
            Series { label: "global-shared pcid=simulated".into(), points: vec![(1.0, 0.0), (16.0, 1.14), (64.0, 1.41)], colour: Some(0), dashed: false, marker: 0 },
            Series { label: "local-private pcid=off".into(), points: vec![(1.0, 64.2), (16.0, 64.2), (64.0, 64.2)], colour: Some(3), dashed: true, marker: 0 },
        ];
        draw(&dir.join("chart"), "Warm walks: synth-small", &[panel(series.clone()), panel(series)], &[]).unwrap();
        let svg = std::fs::read_to_string(dir.join("chart.svg")).unwrap();
        assert!(svg.starts_with("<svg"), "{svg}");
        assert!(svg.contains("local-private pcid=off") && svg.contains("Warm walks: synth-small"));
        assert!(svg.contains(">\n16\n</text>") && svg.contains(">\n64\n</text>"), "x ticks at the measured N");
        let png = std::fs::read(dir.join("chart.png")).unwrap();
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
