//! The PNG chart of the summary: one panel per workload, a horizontal bar
//! per client and broker regime of its headline figure (median, min-max
//! whiskers). A client's bars are next to each other, one per regime on the
//! same axis: the `nodelay` bar in the client's colour, the `coalesced` bar
//! in a lighter tint of it; the label names the regime.
//!
//! Drawn with plotters' bitmap backend; text is rasterized by `ab_glyph`
//! (pure Rust) from a TrueType font read at run time, so building needs no
//! fontconfig or freetype. The font is `$SANSMQTT_BENCH_FONT` when set,
//! else DejaVu Sans (Debian's `fonts-dejavu-core`, which `scripts/bench`
//! installs) or another common sans font. Without any font the chart is
//! still drawn, without text, and a note says so on stderr.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::register_font;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::broker::Regime;
use crate::report::Row;

/// Width of the picture, pixels.
const WIDTH: u32 = 1200;
/// Height of one client's bar, pixels.
const BAR: u32 = 34;
/// Height of a panel beyond its bars (caption, axis), pixels.
const PANEL_EXTRA: u32 = 90;
/// Where fonts are looked for when `$SANSMQTT_BENCH_FONT` is not set.
const FONTS: [&str; 5] = [
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
    "/usr/share/fonts/truetype/freefont/FreeSans.ttf",
];

/// Clients in a fixed order, so that each keeps its colour in every panel.
const CLIENTS: [&str; 7] = [
    "sansmqtt-tokio",
    "sansmqtt-async-std",
    "sansmqtt-smol",
    "sansmqtt-tokio+file",
    "rumqttc",
    "paho",
    "mosquitto-c",
];

/// A client's colour; lighter under mosquitto's default regime.
fn colour(peer: &str, regime: Regime) -> RGBColor {
    let RGBColor(r, g, b) = base_colour(peer);
    match regime {
        Regime::Nodelay => RGBColor(r, g, b),
        // Halfway to white.
        Regime::Coalesced => {
            let light = |c: u8| c + (255 - c) / 2;
            RGBColor(light(r), light(g), light(b))
        }
    }
}

fn base_colour(peer: &str) -> RGBColor {
    match CLIENTS.iter().position(|c| *c == peer) {
        Some(0) => RGBColor(31, 119, 180),
        Some(1) => RGBColor(86, 160, 211),
        Some(2) => RGBColor(150, 196, 230),
        Some(3) => RGBColor(23, 190, 207),
        Some(4) => RGBColor(255, 127, 14),
        Some(5) => RGBColor(44, 160, 44),
        Some(6) => RGBColor(148, 103, 189),
        _ => RGBColor(127, 127, 127),
    }
}

/// Registers a font as "sans-serif" once; whether text can be drawn.
fn font() -> bool {
    static LOADED: OnceLock<Option<PathBuf>> = OnceLock::new();
    let loaded = LOADED.get_or_init(|| {
        let candidates: Vec<PathBuf> = match std::env::var_os("SANSMQTT_BENCH_FONT") {
            Some(p) => vec![PathBuf::from(p)],
            None => FONTS.iter().map(PathBuf::from).collect(),
        };
        candidates.into_iter().find(|path| {
            std::fs::read(path).is_ok_and(|bytes| {
                // Registered fonts live as long as the process: leaked once.
                let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
                register_font("sans-serif", FontStyle::Normal, bytes).is_ok()
            })
        })
    });
    if loaded.is_none() {
        eprintln!(
            "chart: no TrueType font found (apt-get install fonts-dejavu-core, or set SANSMQTT_BENCH_FONT); drawing it without text"
        );
    }
    loaded.is_some()
}

/// A usable figure: finite, not negative.
fn finite(v: f64) -> Option<f64> {
    (v.is_finite() && v >= 0.0).then_some(v)
}

/// Median, min and max of a row, if it has a usable figure.
fn figures(r: &Row) -> Option<(f64, f64, f64)> {
    let s = r.metric?;
    let median = finite(s.median)?;
    let min = finite(s.min).unwrap_or(median).min(median);
    let max = finite(s.max).unwrap_or(median).max(median);
    Some((median, min, max))
}

fn format_value(v: f64, unit: &str) -> String {
    if v == 0.0 {
        "0".into()
    } else if unit == "MB/s" || v < 10.0 {
        format!("{v:.1}")
    } else if v >= 10_000.0 {
        let s = format!("{:.0}", v);
        // Thousands separated by a thin space, easier to read.
        let mut out = String::new();
        for (i, c) in s.chars().enumerate() {
            if i > 0 && (s.len() - i) % 3 == 0 {
                out.push('\u{2009}');
            }
            out.push(c);
        }
        out
    } else {
        format!("{v:.0}")
    }
}

/// Writes the chart of `rows` to `path` (PNG).
pub(crate) fn render(path: &Path, rows: &[Row]) -> Result<(), String> {
    let text = font();
    // The panels, in the order of the rows (workload order).
    let mut panels: Vec<Vec<&Row>> = Vec::new();
    for r in rows {
        match panels.last_mut() {
            Some(p) if p.first().is_some_and(|f| f.workload == r.workload) => p.push(r),
            _ => panels.push(vec![r]),
        }
    }
    // Within a panel, a client's regimes next to each other (clients in
    // the order they first appear, regimes in report order).
    for panel in &mut panels {
        let mut order: Vec<&str> = Vec::new();
        for r in panel.iter() {
            if !order.contains(&r.peer) {
                order.push(r.peer);
            }
        }
        panel.sort_by_key(|r| {
            (
                order.iter().position(|p| *p == r.peer),
                Regime::ALL.iter().position(|g| *g == r.regime),
            )
        });
    }
    // The regime is named in the labels when there is more than one.
    let several = rows.iter().any(|r| r.regime != rows[0].regime);
    let heights: Vec<u32> = panels
        .iter()
        .map(|p| PANEL_EXTRA + BAR * p.len() as u32)
        .collect();
    let total = heights.iter().sum::<u32>().max(PANEL_EXTRA);
    let root = BitMapBackend::new(path, (WIDTH, total)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| e.to_string())?;
    if panels.is_empty() && text {
        root.draw_text(
            "no results",
            &("sans-serif", 24).into_text_style(&root),
            (20, 20),
        )
        .map_err(|e| e.to_string())?;
    }
    let mut rest = root.clone();
    for (panel, height) in panels.iter().zip(&heights) {
        let (area, below) = rest.split_vertically(*height);
        draw_panel(&area, panel, text, several).map_err(|e| format!("chart: {e}"))?;
        rest = below;
    }
    root.present()
        .map_err(|e| format!("chart {}: {e}", path.display()))
}

type Area<'a> = DrawingArea<BitMapBackend<'a>, Shift>;

fn draw_panel(
    area: &Area<'_>,
    rows: &[&Row],
    text: bool,
    several: bool,
) -> Result<(), DrawingAreaErrorKind<<BitMapBackend<'static> as DrawingBackend>::ErrorType>> {
    let Some(first) = rows.first() else {
        return Ok(());
    };
    let n = rows.len();
    let unit = first.metric_name;
    let top = rows
        .iter()
        .filter_map(|r| figures(r))
        .map(|(_, _, max)| max)
        .fold(0.0_f64, f64::max);
    let x_max = if top > 0.0 { top * 1.18 } else { 1.0 };

    let caption = format!(
        "{} — {} ({} is better){}",
        first.title,
        unit,
        if first.higher_is_better {
            "higher"
        } else {
            "lower"
        },
        if several {
            String::new()
        } else {
            format!(", broker {}", first.regime.name())
        }
    );
    let mut builder = ChartBuilder::on(area);
    builder.margin(10).margin_right(30);
    if text {
        builder
            .caption(caption, ("sans-serif", 20))
            .x_label_area_size(28)
            .y_label_area_size(if several { 330 } else { 230 });
    } else {
        builder.x_label_area_size(0).y_label_area_size(0);
    }
    let mut chart = builder.build_cartesian_2d(0.0..x_max, (0..n - 1).into_segmented())?;

    // Row i is drawn top-down: the segment n-1-i.
    let names: Vec<String> = rows
        .iter()
        .map(|r| {
            let mut name = r.peer.to_string();
            if several {
                name = format!("{name} · {}", r.regime.name());
            }
            if r.runs_failed > 0 {
                name = format!("{name} ({} failed)", r.runs_failed);
            }
            name
        })
        .collect();
    let label = |v: &SegmentValue<usize>| match v {
        SegmentValue::CenterOf(s) if *s < n => names[n - 1 - s].clone(),
        _ => String::new(),
    };
    let value_label = |v: &f64| format_value(*v, unit);
    if text {
        chart
            .configure_mesh()
            .disable_y_mesh()
            .light_line_style(WHITE.mix(0.0))
            .bold_line_style(BLACK.mix(0.12))
            .y_labels(n)
            .y_label_formatter(&label)
            .x_labels(8)
            .x_label_formatter(&value_label)
            .label_style(("sans-serif", 15))
            .draw()?;
    } else {
        // The mesh draws labels, so only the zero line.
        chart.draw_series(std::iter::once(PathElement::new(
            vec![(0.0, SegmentValue::Exact(0)), (0.0, SegmentValue::Exact(n))],
            BLACK,
        )))?;
    }

    for (i, r) in rows.iter().enumerate() {
        let seg = n - 1 - i;
        let Some((median, min, max)) = figures(r) else {
            if text {
                chart.draw_series(std::iter::once(Text::new(
                    "no data (every run failed)",
                    (x_max * 0.01, SegmentValue::CenterOf(seg)),
                    ("sans-serif", 15)
                        .into_font()
                        .color(&RED)
                        .pos(Pos::new(HPos::Left, VPos::Center)),
                )))?;
            }
            continue;
        };
        let c = colour(r.peer, r.regime);
        let mut bar = Rectangle::new(
            [
                (0.0, SegmentValue::Exact(seg)),
                (median, SegmentValue::Exact(seg + 1)),
            ],
            c.filled(),
        );
        bar.set_margin(6, 6, 0, 0);
        chart.draw_series(std::iter::once(bar))?;
        // The min-max whisker, with caps.
        let centre = || SegmentValue::CenterOf(seg);
        let ink = BLACK.stroke_width(2);
        chart.draw_series(std::iter::once(PathElement::new(
            vec![(min, centre()), (max, centre())],
            ink,
        )))?;
        chart.draw_series([min, max].into_iter().map(|x| {
            EmptyElement::at((x, centre())) + PathElement::new(vec![(0, -7), (0, 7)], ink)
        }))?;
        if text {
            chart.draw_series(std::iter::once(
                EmptyElement::at((max, centre()))
                    + Text::new(
                        format_value(median, unit),
                        (8, 0),
                        ("sans-serif", 15)
                            .into_font()
                            .color(&BLACK)
                            .pos(Pos::new(HPos::Left, VPos::Center)),
                    ),
            ))?;
        }
    }
    Ok(())
}
