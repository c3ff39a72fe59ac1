//! A small hand-written SVG line chart for the host examples (loss curves and the like).
//!
//! Examples include it as a module, `#[path = "common/plot.rs"] mod plot;`, like
//! `common/digits.rs`. It has no dependencies: the chart is a string of SVG that any browser
//! shows, written with [`write_svg`].
//!
//! ```ignore
//! let train: Vec<(f32, f32)> = losses.iter().enumerate().map(|(e, &l)| (e as f32, l)).collect();
//! let svg = plot::line_chart_svg(
//!     "Training loss",
//!     "epoch",
//!     "loss",
//!     &[plot::Series { name: "train", points: &train }],
//!     true,
//! );
//! plot::write_svg("loss.svg", &svg)?;
//! ```

// Each example uses only part of this module (one may never call `write_svg`, another never
// build more than one series); the unused parts must not fail `clippy -D warnings`.
#![allow(dead_code)]

use std::fmt::Write as _;

/// One line of a chart: its legend name and its `(x, y)` points, drawn in the given order.
///
/// Points whose coordinates are not finite (or, on a logarithmic y axis, whose `y ≤ 0`) cannot
/// be placed: the line is interrupted there instead.
pub struct Series<'a> {
    /// The name shown in the legend.
    pub name: &'a str,
    /// The points, joined in this order.
    pub points: &'a [(f32, f32)],
}

/// Width and height of the chart, in pixels.
const WIDTH: f64 = 720.0;
const HEIGHT: f64 = 420.0;
/// The plot area: room on the left for the y tick labels and the rotated y label, at the
/// bottom for the x tick labels and the x label, at the top for the title.
const LEFT: f64 = 78.0;
const RIGHT: f64 = WIDTH - 22.0;
const TOP: f64 = 42.0;
const BOTTOM: f64 = HEIGHT - 58.0;

/// Line colours (the "Tableau 10" palette: distinct hues that stay distinguishable for the
/// common colour-vision deficiencies).
const COLOURS: [&str; 10] = [
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
    "#bcbd22", "#17becf",
];

/// Dash patterns: past ten series the colours come round again, so each round of the palette
/// gets its own pattern to keep the lines apart.
const DASHES: [&str; 3] = ["none", "7 4", "2 3"];

/// The colour and the dash pattern of series `i`.
fn style(i: usize) -> (&'static str, &'static str) {
    (
        COLOURS[i % COLOURS.len()],
        DASHES[(i / COLOURS.len()) % DASHES.len()],
    )
}

/// How many intervals a linear axis aims for; the nice step makes it 4 to 10.
const TARGET_TICKS: f64 = 6.0;

/// An SVG document of a line chart of `series`, 720×420 px: a title, axes with tick labels at
/// round values and light grid lines, one coloured polyline per series and a legend.
///
/// `log_y` draws the y axis logarithmically, the usual scale for losses, ticked at the powers
/// of ten (with 2 and 5 between them over at most three decades, every digit within one, plain
/// round values within a narrower range); points with `y ≤ 0` are then left out.
/// The axes cover all the drawable points; with none, they show `0..1`.
pub fn line_chart_svg(
    title: &str,
    x_label: &str,
    y_label: &str,
    series: &[Series],
    log_y: bool,
) -> String {
    let drawable = |&(x, y): &(f32, f32)| x.is_finite() && y.is_finite() && (!log_y || y > 0.0);
    let (mut x_min, mut x_max) = (f64::INFINITY, f64::NEG_INFINITY);
    let (mut y_min, mut y_max) = (f64::INFINITY, f64::NEG_INFINITY);
    for p in series.iter().flat_map(|s| s.points).filter(|p| drawable(p)) {
        x_min = x_min.min(f64::from(p.0));
        x_max = x_max.max(f64::from(p.0));
        y_min = y_min.min(f64::from(p.1));
        y_max = y_max.max(f64::from(p.1));
    }
    let x_axis = Axis::linear(x_min, x_max);
    let y_axis = if log_y {
        Axis::log(y_min, y_max)
    } else {
        Axis::linear(y_min, y_max)
    };
    let px = |x: f64| LEFT + x_axis.fraction(x) * (RIGHT - LEFT);
    let py = |y: f64| BOTTOM - y_axis.fraction(y) * (BOTTOM - TOP);

    let mut svg = String::new();
    // `write!` to a `String` cannot fail: its results are ignored throughout.
    let _ = writeln!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" font-family="DejaVu Sans, Verdana, Arial, sans-serif">"#
    );
    let _ = writeln!(svg, r#"<rect width="100%" height="100%" fill="white"/>"#);

    // Grid lines and tick labels first, so that the data is drawn over them.
    for tick in &x_axis.ticks {
        let x = px(tick.value);
        let _ = writeln!(
            svg,
            r##"<line x1="{x:.1}" y1="{TOP}" x2="{x:.1}" y2="{BOTTOM}" stroke="#e4e4e4"/>"##
        );
        let _ = writeln!(
            svg,
            r##"<line x1="{x:.1}" y1="{BOTTOM}" x2="{x:.1}" y2="{:.1}" stroke="#333"/>"##,
            BOTTOM + 5.0
        );
        let _ = writeln!(
            svg,
            r##"<text x="{x:.1}" y="{:.1}" font-size="12" text-anchor="middle" fill="#333">{}</text>"##,
            BOTTOM + 19.0,
            escape(&tick.label)
        );
    }
    for tick in &y_axis.ticks {
        let y = py(tick.value);
        let _ = writeln!(
            svg,
            r##"<line x1="{LEFT}" y1="{y:.1}" x2="{RIGHT}" y2="{y:.1}" stroke="#e4e4e4"/>"##
        );
        let _ = writeln!(
            svg,
            r##"<line x1="{:.1}" y1="{y:.1}" x2="{LEFT}" y2="{y:.1}" stroke="#333"/>"##,
            LEFT - 5.0
        );
        let _ = writeln!(
            svg,
            r##"<text x="{:.1}" y="{:.1}" font-size="12" text-anchor="end" fill="#333">{}</text>"##,
            LEFT - 8.0,
            y + 4.0,
            escape(&tick.label)
        );
    }
    let _ = writeln!(
        svg,
        r##"<rect x="{LEFT}" y="{TOP}" width="{}" height="{}" fill="none" stroke="#333"/>"##,
        RIGHT - LEFT,
        BOTTOM - TOP
    );

    // The lines, clipped to the plot area, each split where a point cannot be drawn.
    let _ = writeln!(
        svg,
        r#"<clipPath id="plot-area"><rect x="{LEFT}" y="{TOP}" width="{}" height="{}"/></clipPath>"#,
        RIGHT - LEFT,
        BOTTOM - TOP
    );
    let _ = writeln!(
        svg,
        r#"<g clip-path="url(#plot-area)" fill="none" stroke-width="2" stroke-linejoin="round" stroke-linecap="round">"#
    );
    let mut placed = Vec::new();
    for (i, s) in series.iter().enumerate() {
        let (colour, dash) = style(i);
        for run in s.points.split(|p| !drawable(p)).filter(|r| !r.is_empty()) {
            let mut coords = String::new();
            for &(x, y) in run {
                let (cx, cy) = (px(f64::from(x)), py(f64::from(y)));
                placed.push((cx, cy));
                let _ = write!(coords, "{cx:.2},{cy:.2} ");
            }
            if run.len() == 1 {
                // A lone point has no segment to stroke: mark it with a dot.
                let (cx, cy) = placed[placed.len() - 1];
                let _ = writeln!(
                    svg,
                    r#"<circle cx="{cx:.2}" cy="{cy:.2}" r="2.5" fill="{colour}" stroke="none"/>"#
                );
            } else {
                let _ = writeln!(
                    svg,
                    r#"<polyline stroke="{colour}" stroke-dasharray="{dash}" points="{}"/>"#,
                    coords.trim_end()
                );
            }
        }
    }
    let _ = writeln!(svg, "</g>");

    legend(&mut svg, series, &placed);

    let _ = writeln!(
        svg,
        r##"<text x="{:.1}" y="26" font-size="16" font-weight="bold" text-anchor="middle" fill="#111">{}</text>"##,
        WIDTH / 2.0,
        escape(title)
    );
    let _ = writeln!(
        svg,
        r##"<text x="{:.1}" y="{:.1}" font-size="13" text-anchor="middle" fill="#111">{}</text>"##,
        (LEFT + RIGHT) / 2.0,
        HEIGHT - 14.0,
        escape(x_label)
    );
    // Left of the widest y tick label (no font metrics: ~7 px per character at 12 px).
    let widest = y_axis
        .ticks
        .iter()
        .map(|t| t.label.len())
        .max()
        .unwrap_or(0);
    let lx = (LEFT - 8.0 - 7.0 * widest as f64 - 12.0).max(14.0);
    let ly = (TOP + BOTTOM) / 2.0;
    let _ = writeln!(
        svg,
        r##"<text x="{lx}" y="{ly:.1}" font-size="13" text-anchor="middle" fill="#111" transform="rotate(-90 {lx} {ly:.1})">{}</text>"##,
        escape(y_label)
    );
    svg.push_str("</svg>\n");
    svg
}

/// Writes `svg` to the file `path` (replacing it).
pub fn write_svg(path: &str, svg: &str) -> std::io::Result<()> {
    std::fs::write(path, svg)
}

/// The legend box, in the corner of the plot area that hides the fewest drawn points.
fn legend(svg: &mut String, series: &[Series], placed: &[(f64, f64)]) {
    if series.is_empty() {
        return;
    }
    const ROW: f64 = 18.0;
    const PAD: f64 = 8.0;
    const SWATCH: f64 = 22.0;
    // No font metrics here: 7 px per character is a safe average at 12 px.
    let longest = series
        .iter()
        .map(|s| s.name.chars().count())
        .max()
        .unwrap_or(0);
    let width = PAD + SWATCH + 6.0 + 7.0 * longest as f64 + PAD;
    let height = 2.0 * PAD + ROW * series.len() as f64 - 4.0;
    let corners = [
        (RIGHT - 10.0 - width, TOP + 10.0),
        (LEFT + 10.0, TOP + 10.0),
        (RIGHT - 10.0 - width, BOTTOM - 10.0 - height),
        (LEFT + 10.0, BOTTOM - 10.0 - height),
    ];
    let hidden = |&(x, y): &(f64, f64)| {
        placed
            .iter()
            .filter(|&&(px, py)| px >= x && px <= x + width && py >= y && py <= y + height)
            .count()
    };
    // `min_by_key` keeps the first of equal corners: top right, the usual place, wins ties.
    let (x, y) = corners.into_iter().min_by_key(hidden).unwrap_or(corners[0]);
    let _ = writeln!(
        svg,
        r##"<rect x="{x:.1}" y="{y:.1}" width="{width:.1}" height="{height:.1}" rx="3" fill="white" fill-opacity="0.9" stroke="#bbb"/>"##
    );
    for (i, s) in series.iter().enumerate() {
        let (colour, dash) = style(i);
        let row_y = y + PAD + ROW * i as f64 + ROW / 2.0 - 2.0;
        let _ = writeln!(
            svg,
            r#"<line x1="{:.1}" y1="{row_y:.1}" x2="{:.1}" y2="{row_y:.1}" stroke="{colour}" stroke-dasharray="{dash}" stroke-width="2.5"/>"#,
            x + PAD,
            x + PAD + SWATCH
        );
        let _ = writeln!(
            svg,
            r##"<text x="{:.1}" y="{:.1}" font-size="12" fill="#111">{}</text>"##,
            x + PAD + SWATCH + 6.0,
            row_y + 4.0,
            escape(s.name)
        );
    }
}

/// A tick: its data value and its label.
struct Tick {
    value: f64,
    label: String,
}

/// The mapping of one axis from data values to `0..=1`, and its ticks.
struct Axis {
    /// The data values at the two ends (their `log10` on a logarithmic axis).
    lo: f64,
    hi: f64,
    log: bool,
    ticks: Vec<Tick>,
}

impl Axis {
    /// A linear axis over `min..=max` plus a margin, ticked at the multiples of a 1, 2 or 5 ×
    /// 10^k step that fall inside.
    fn linear(min: f64, max: f64) -> Self {
        let (lo, hi) = padded(min, max, |v| if v == 0.0 { 1.0 } else { v.abs() * 0.1 });
        Self {
            lo,
            hi,
            log: false,
            ticks: linear_ticks(lo, hi),
        }
    }

    /// A logarithmic axis over `min..=max` (both `> 0`) plus a margin, ticked at the powers of
    /// ten inside, with 2 and 5 (or every digit) between them when few decades are shown.
    fn log(min: f64, max: f64) -> Self {
        // The range is in decades; with nothing to draw, 1 to 10.
        let (lo, hi) = if min > max {
            (0.0, 1.0)
        } else {
            padded(min.log10(), max.log10(), |_| 0.5)
        };
        let decades = hi - lo;
        // With few decades the decade lines alone are too sparse to read values from.
        let mantissas: &[f64] = if decades < 1.0 {
            &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0]
        } else if decades <= 3.0 {
            &[1.0, 2.0, 5.0]
        } else {
            &[1.0]
        };
        // With many decades their labels would collide: label every `stride`-th one.
        let stride = (decades / 8.0).ceil().max(1.0) as i64;
        // One notation for the whole axis: plain decimals unless some label would need many
        // zeros.
        let (first, last) = (lo.floor() as i64, hi.ceil() as i64);
        let plain = first >= -3 && last <= 4;
        let mut ticks = Vec::new();
        for e in first..=last {
            if e.rem_euclid(stride) != 0 {
                continue;
            }
            for &m in mantissas {
                let value = m * 10f64.powi(e as i32);
                let at = value.log10();
                if at >= lo - 1e-9 && at <= hi + 1e-9 {
                    ticks.push(Tick {
                        value,
                        label: log_label(m, e, plain),
                    });
                }
            }
        }
        if ticks.len() < 3 {
            // A range within one decade's digits (0.31 to 0.34, say): plain linear ticks,
            // placed on the logarithmic scale.
            ticks = linear_ticks(10f64.powf(lo), 10f64.powf(hi));
        }
        Self {
            lo,
            hi,
            log: true,
            ticks,
        }
    }

    /// Where `value` lies between the ends of the axis, as a fraction.
    fn fraction(&self, value: f64) -> f64 {
        let v = if self.log { value.log10() } else { value };
        (v - self.lo) / (self.hi - self.lo)
    }
}

/// Fraction of the data range added at each end, so that no line runs along the frame.
const MARGIN: f64 = 0.04;

/// The axis range for data in `min..=max`: `0..1` when there is no data (`min > max`), a range
/// of half-width `half(min)` around a single value, each widened by [`MARGIN`].
fn padded(min: f64, max: f64, half: impl Fn(f64) -> f64) -> (f64, f64) {
    let (min, max) = if min > max {
        return (0.0, 1.0);
    } else if min == max {
        (min - half(min), max + half(max))
    } else {
        (min, max)
    };
    let pad = (max - min) * MARGIN;
    (min - pad, max + pad)
}

/// The multiples of a nice step inside `lo..=hi`, about [`TARGET_TICKS`] intervals apart.
fn linear_ticks(lo: f64, hi: f64) -> Vec<Tick> {
    let step = nice_step((hi - lo) / TARGET_TICKS);
    // Ticks are `k·step` for integers `k`, not a running sum, so no error accumulates.
    let (first, last) = (
        (lo / step - 1e-9).ceil() as i64,
        (hi / step + 1e-9).floor() as i64,
    );
    (first..=last)
        .map(|k| {
            let value = k as f64 * step;
            Tick {
                value,
                label: linear_label(value, step),
            }
        })
        .collect()
}

/// The 1, 2 or 5 × 10^k nearest to `raw` on a logarithmic scale, so that the number of
/// intervals stays within about 2/3 and 3/2 of the target.
fn nice_step(raw: f64) -> f64 {
    let magnitude = 10f64.powf(raw.log10().floor());
    let fraction = raw / magnitude;
    // The thresholds are the geometric means of neighbouring steps: √2, √10, √50.
    let nice = if fraction < std::f64::consts::SQRT_2 {
        1.0
    } else if fraction < 10f64.sqrt() {
        2.0
    } else if fraction < 50f64.sqrt() {
        5.0
    } else {
        10.0
    };
    nice * magnitude
}

/// `value`, a multiple of `step`, with just the decimals that `step` needs.
fn linear_label(value: f64, step: f64) -> String {
    if value.abs() < step * 1e-6 {
        return "0".to_string(); // not "-0" or "1e-17" for a rounding residue
    }
    let largest = value.abs().max(step);
    if !(1e-4..1e6).contains(&largest) || step < 1e-4 {
        // Too many zeros for plain decimals: scientific notation with the step's digits.
        let digits = (value.abs().log10().floor() - step.log10().floor()).max(0.0) as usize;
        let text = format!("{value:.digits$e}");
        // `1.0e7` → `1e7`: the step's resolution needs no trailing zeros.
        return match text.split_once('e') {
            Some((mantissa, exponent)) if mantissa.contains('.') => {
                let mantissa = mantissa.trim_end_matches('0').trim_end_matches('.');
                format!("{mantissa}e{exponent}")
            }
            _ => text,
        };
    }
    let decimals = (-step.log10().floor()).max(0.0) as usize;
    format!("{value:.decimals$}")
}

/// `m·10^e` as plain decimals (`0.01`, `200`) or in scientific notation (`1e-2`, `2e2`).
fn log_label(m: f64, e: i64, plain: bool) -> String {
    if plain {
        let decimals = (-e).max(0) as usize;
        format!("{:.decimals$}", m * 10f64.powi(e as i32))
    } else {
        format!("{m}e{e}")
    }
}

/// `text` with the characters that XML gives a meaning escaped.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            _ => out.push(c),
        }
    }
    out
}
