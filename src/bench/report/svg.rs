//! The SVG chart of a [`BenchReport`]: throughput and p99 latency against replicas,
//! drawn by hand (axes, ticks, polylines), so it needs no plotting library.

use std::fmt::Write as _;

use super::Labels;
use crate::bench::{BenchReport, PointResult};

/// A round step for about five ticks up to `max`.
fn tick_step(max: f64) -> f64 {
    if max <= 0.0 || !max.is_finite() {
        return 1.0;
    }
    let raw = max / 5.0;
    let mag = 10f64.powf(raw.log10().floor());
    let norm = raw / mag;
    let nice = if norm <= 1.0 {
        1.0
    } else if norm <= 2.0 {
        2.0
    } else if norm <= 5.0 {
        5.0
    } else {
        10.0
    };
    nice * mag
}

/// A tick label with as many decimals as the step needs.
fn fmt_tick(v: f64, step: f64) -> String {
    if step >= 1000.0 && v >= 1000.0 {
        return format!("{}k", v / 1000.0);
    }
    let decimals = if step >= 1.0 { 0 } else { (-step.log10().floor()) as usize };
    format!("{v:.decimals$}")
}

struct Series<'a> {
    label: &'a str,
    color: &'a str,
    dashed: bool,
    points: Vec<(f64, f64)>,
}

const PANEL_W: f64 = 460.0;
const PANEL_H: f64 = 300.0;
const LEFT: f64 = 64.0;
const RIGHT: f64 = 16.0;
const TOP: f64 = 36.0;
const BOTTOM: f64 = 64.0;

/// Draws one panel at x offset `x0`: log2 replicas on x, a linear y from 0.
fn panel(out: &mut String, x0: f64, title: &str, y_label: &str, xs: &[usize], series: &[Series<'_>]) {
    let x_min = xs.iter().copied().min().unwrap_or(1).max(1) as f64;
    let x_max = xs.iter().copied().max().unwrap_or(1).max(1) as f64;
    let y_max_data = series.iter().flat_map(|s| s.points.iter().map(|p| p.1)).fold(0.0, f64::max);
    let step = tick_step(y_max_data);
    let y_max = ((y_max_data / step).ceil() * step).max(step);
    let (w, h) = (PANEL_W - LEFT - RIGHT, PANEL_H - TOP - BOTTOM);
    let px = |x: f64| {
        let span = (x_max.log2() - x_min.log2()).max(1e-9);
        let frac = if x_max > x_min { (x.log2() - x_min.log2()) / span } else { 0.5 };
        x0 + LEFT + frac * w
    };
    let py = |y: f64| TOP + h - (y / y_max) * h;
    let _ = writeln!(
        out,
        r#"<text x="{:.1}" y="20" font-size="14" font-weight="bold" text-anchor="middle">{title}</text>"#,
        x0 + LEFT + w / 2.0
    );
    // Grid and y ticks.
    let mut y = 0.0;
    while y <= y_max + step / 2.0 {
        let _ = writeln!(
            out,
            r##"<line x1="{:.1}" y1="{:.1}" x2="{:.1}" y2="{:.1}" stroke="#ddd"/><text x="{:.1}" y="{:.1}" font-size="11" text-anchor="end">{}</text>"##,
            x0 + LEFT,
            py(y),
            x0 + LEFT + w,
            py(y),
            x0 + LEFT - 6.0,
            py(y) + 4.0,
            fmt_tick(y, step)
        );
        y += step;
    }
    for &x in xs {
        let _ = writeln!(
            out,
            r##"<line x1="{0:.1}" y1="{1:.1}" x2="{0:.1}" y2="{2:.1}" stroke="#eee"/><text x="{0:.1}" y="{3:.1}" font-size="11" text-anchor="middle">{4}</text>"##,
            px(x as f64),
            TOP,
            TOP + h,
            TOP + h + 16.0,
            x
        );
    }
    let _ = writeln!(
        out,
        r##"<rect x="{:.1}" y="{TOP}" width="{w:.1}" height="{h:.1}" fill="none" stroke="#333"/>"##,
        x0 + LEFT
    );
    let _ = writeln!(
        out,
        r#"<text x="{:.1}" y="{:.1}" font-size="12" text-anchor="middle">replicas (log scale)</text>"#,
        x0 + LEFT + w / 2.0,
        TOP + h + 34.0
    );
    let _ = writeln!(
        out,
        r#"<text x="{0:.1}" y="{1:.1}" font-size="12" text-anchor="middle" transform="rotate(-90 {0:.1} {1:.1})">{y_label}</text>"#,
        x0 + 16.0,
        TOP + h / 2.0
    );
    for (i, s) in series.iter().enumerate() {
        if s.points.is_empty() {
            continue;
        }
        let pts: Vec<String> = s.points.iter().map(|&(x, y)| format!("{:.1},{:.1}", px(x), py(y))).collect();
        let dash = if s.dashed { r#" stroke-dasharray="6 4""# } else { "" };
        let _ = writeln!(
            out,
            r#"<polyline points="{}" fill="none" stroke="{}" stroke-width="2"{dash}/>"#,
            pts.join(" "),
            s.color
        );
        for &(x, y) in &s.points {
            let _ =
                writeln!(out, r#"<circle cx="{:.1}" cy="{:.1}" r="3" fill="{}"/>"#, px(x), py(y), s.color);
        }
        let lx = x0 + LEFT + (i as f64) * (w / 3.0);
        let ly = TOP + h + 52.0;
        let _ = writeln!(
            out,
            r#"<line x1="{lx:.1}" y1="{:.1}" x2="{:.1}" y2="{:.1}" stroke="{}" stroke-width="2"{dash}/><text x="{:.1}" y="{ly:.1}" font-size="11">{}</text>"#,
            ly - 4.0,
            lx + 18.0,
            ly - 4.0,
            s.color,
            lx + 22.0,
            s.label
        );
    }
}

/// Throughput (claims/s, winners/s, pgbench tps) and latency (p50, p99) against
/// replicas, as a standalone SVG document.
pub fn svg(report: &BenchReport) -> String {
    let names = Labels::of(report.workload);
    let xs: Vec<usize> = report.points.iter().map(|p| p.replicas).collect();
    let line = |f: &dyn Fn(&PointResult) -> Option<f64>| -> Vec<(f64, f64)> {
        report.points.iter().filter_map(|p| f(p).map(|v| (p.replicas as f64, v))).collect()
    };
    let mut out = String::new();
    let width = 2.0 * PANEL_W;
    let _ = writeln!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{}" viewBox="0 0 {width} {}" font-family="sans-serif">"#,
        PANEL_H + 24.0,
        PANEL_H + 24.0
    );
    let _ = writeln!(out, r#"<rect width="100%" height="100%" fill="white"/>"#);
    let _ = writeln!(
        out,
        r##"<text x="{:.1}" y="{:.1}" font-size="11" text-anchor="middle" fill="#555">hasim bench {}{} / {} on {}</text>"##,
        width / 2.0,
        PANEL_H + 16.0,
        report.workload,
        report.shape.map(|s| format!(" {s}")).unwrap_or_default(),
        report.mechanism,
        report.backend
    );
    let throughput = [
        Series {
            label: &format!("hasim {}", names.ops),
            color: "#1f77b4",
            dashed: false,
            points: line(&|p| Some(p.claims_per_s)),
        },
        Series {
            label: &format!("hasim {}", names.wins),
            color: "#2ca02c",
            dashed: false,
            points: line(&|p| Some(p.winners_per_s)),
        },
        Series {
            label: "pgbench tps",
            color: "#d62728",
            dashed: true,
            points: line(&|p| p.pgbench.as_ref().map(|pg| pg.tps)),
        },
    ];
    panel(&mut out, 0.0, "Throughput", "per second", &xs, &throughput);
    let latency = [
        Series {
            label: "p99",
            color: "#9467bd",
            dashed: false,
            points: line(&|p| Some(p.latency.p99_us / 1e3)),
        },
        Series {
            label: "p50",
            color: "#8c564b",
            dashed: true,
            points: line(&|p| Some(p.latency.p50_us / 1e3)),
        },
    ];
    panel(&mut out, PANEL_W, names.latency, "milliseconds", &xs, &latency);
    out.push_str("</svg>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_round() {
        assert_eq!(tick_step(45_000.0), 10_000.0);
        assert_eq!(tick_step(8.0), 2.0);
        assert_eq!(tick_step(0.0), 1.0);
        assert_eq!(fmt_tick(20_000.0, 10_000.0), "20k");
        assert_eq!(fmt_tick(0.25, 0.05), "0.25");
        assert_eq!(fmt_tick(0.005, 0.005), "0.005");
        assert_eq!(fmt_tick(500.0, 100.0), "500");
    }
}
