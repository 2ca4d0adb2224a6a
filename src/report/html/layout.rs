//! Geometry of the page: the time scale shared by the timelines of a section, the
//! ticks of its axis, and the packing of items into rows so that none hides another.

use std::time::Duration;

/// Pixels left of time zero in every plot.
pub const LEFT: f64 = 10.0;
/// Pixels right of the end in every plot.
const RIGHT: f64 = 60.0;
/// A timeline is drawn about this wide at first...
const FIT: f64 = 1100.0;
/// ...unless that would squeeze a millisecond below this many pixels.
const MIN_PX_PER_MS: f64 = 0.4;
/// Nor stretch one beyond this many.
const MAX_PX_PER_MS: f64 = 20.0;
/// Axis ticks are at least this far apart.
const MIN_TICK_PX: f64 = 70.0;

/// Maps run time to pixels; the timelines of one section share one.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Scale {
    /// Pixels per millisecond.
    pub px_per_ms: f64,
    /// The latest end of the runs drawn.
    pub end: Duration,
}

impl Scale {
    /// A scale that draws runs ending at `end` about [`FIT`] pixels wide, within bounds.
    pub fn fit(end: Duration) -> Scale {
        let ms = (end.as_secs_f64() * 1000.0).max(1.0);
        Scale { px_per_ms: (FIT / ms).clamp(MIN_PX_PER_MS, MAX_PX_PER_MS), end }
    }

    /// Where `t` is drawn.
    pub fn x(&self, t: Duration) -> f64 {
        LEFT + t.as_secs_f64() * 1000.0 * self.px_per_ms
    }

    /// The width of every plot.
    pub fn width(&self) -> f64 {
        self.x(self.end) + RIGHT
    }

    /// The axis ticks: every multiple of a 1, 2 or 5 step (in microseconds) up to the
    /// end, the step the smallest that keeps ticks [`MIN_TICK_PX`] apart.
    pub fn ticks(&self) -> Vec<Duration> {
        let px_per_us = self.px_per_ms / 1000.0;
        let mut step: u64 = 1;
        'search: for power in 0..12 {
            for m in [1, 2, 5] {
                step = m * 10u64.pow(power);
                if step as f64 * px_per_us >= MIN_TICK_PX {
                    break 'search;
                }
            }
        }
        let end = self.end.as_micros() as u64;
        (0..=end / step).map(|i| Duration::from_micros(i * step)).collect()
    }
}

/// A run time for people, short: `0`, `250µs`, `130ms`, `1.25s`.
pub fn time_label(t: Duration) -> String {
    let us = t.as_micros();
    if us == 0 {
        "0".to_owned()
    } else if us < 1000 {
        format!("{us}µs")
    } else if us < 1_000_000 {
        trim(format!("{:.3}", us as f64 / 1000.0)) + "ms"
    } else {
        trim(format!("{:.3}", us as f64 / 1_000_000.0)) + "s"
    }
}

/// `1.250` as `1.25`, `2.000` as `2`.
fn trim(number: String) -> String {
    number.trim_end_matches('0').trim_end_matches('.').to_owned()
}

/// Puts each of `spans` (pixel extents, in drawing order) on the first row where it
/// keeps `gap` pixels from everything before it, trying them by their left edge.
/// Returns each span's row and the number of rows.
pub fn pack(spans: &[(f64, f64)], gap: f64) -> (Vec<usize>, usize) {
    let mut order: Vec<usize> = (0..spans.len()).collect();
    order.sort_by(|&a, &b| spans[a].0.total_cmp(&spans[b].0).then(a.cmp(&b)));
    let mut ends: Vec<f64> = Vec::new();
    let mut rows = vec![0; spans.len()];
    for i in order {
        let (left, right) = spans[i];
        let row = match ends.iter().position(|&end| end + gap <= left) {
            Some(row) => row,
            None => {
                ends.push(f64::NEG_INFINITY);
                ends.len() - 1
            }
        };
        ends[row] = right.max(left);
        rows[i] = row;
    }
    (rows, ends.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn a_short_run_fills_the_fit_width_and_a_long_one_keeps_a_readable_scale() {
        let short = Scale::fit(400 * MS);
        assert!((short.x(400 * MS) - (LEFT + FIT)).abs() < 1e-9);
        assert_eq!(short.x(Duration::ZERO), LEFT);
        let long = Scale::fit(60_000 * MS);
        assert_eq!(long.px_per_ms, MIN_PX_PER_MS);
        assert_eq!(Scale::fit(Duration::ZERO).px_per_ms, MAX_PX_PER_MS);
    }

    #[test]
    fn ticks_step_by_one_two_or_five_and_stay_apart() {
        let scale = Scale::fit(450 * MS);
        let ticks = scale.ticks();
        let step = ticks[1] - ticks[0];
        assert_eq!(step, 50 * MS, "{ticks:?}");
        assert!(scale.x(step) - scale.x(Duration::ZERO) >= MIN_TICK_PX);
        assert_eq!((ticks[0], *ticks.last().unwrap()), (Duration::ZERO, 450 * MS));
    }

    #[test]
    fn times_read_in_the_largest_fitting_unit() {
        assert_eq!(time_label(Duration::ZERO), "0");
        assert_eq!(time_label(Duration::from_micros(250)), "250µs");
        assert_eq!(time_label(130 * MS), "130ms");
        assert_eq!(time_label(Duration::from_micros(1500)), "1.5ms");
        assert_eq!(time_label(1250 * MS), "1.25s");
        assert_eq!(time_label(2000 * MS), "2s");
    }

    #[test]
    fn overlapping_spans_go_to_new_rows_and_free_rows_are_reused() {
        let spans = [(0.0, 10.0), (5.0, 20.0), (12.0, 30.0), (22.0, 25.0), (5.0, 5.0)];
        let (rows, count) = pack(&spans, 1.0);
        assert_eq!(rows, [0, 1, 0, 1, 2]);
        assert_eq!(count, 3);
        assert_eq!(pack(&[], 1.0), (vec![], 0));
    }
}
