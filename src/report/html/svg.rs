//! Drawing one timeline: its frame (`super::frame`) around a row per lane, each a name
//! and an SVG plot. Runs are bars packed into rows; claims, resets, sends,
//! actions and deliveries are marks packed into rows below them; other store writes
//! are thin ticks on a row of their own; crashes and restarts cross the whole lane;
//! fault bands and down time shade it. Every drawn item carries `data-*` attributes
//! that name what it is and the history entries it draws, which the page's script
//! (and a test) read.

use std::fmt::Write;
use std::time::Duration;

use super::escape::html;
use super::frame::{Divergence, axis, violations_lane};
use super::layout::{Scale, pack};
use super::model::{Item, ItemKind, Lane, LaneKind, Timeline};
use crate::model::EventType;

/// Padding above and below the rows of a lane.
pub(super) const PAD: f64 = 4.0;
/// Height of a row of runs.
const BAR_ROW: f64 = 10.0;
/// Height of a run bar.
const BAR: f64 = 7.0;
/// Height of a row of marks; marks are centred on its middle.
pub(super) const MARK_ROW: f64 = 14.0;
/// Height of the row of write ticks.
const NOTE_ROW: f64 = 8.0;
/// Half the width of a mark, and the gap kept between marks.
pub(super) const MARK: f64 = 5.0;
/// Approximate width of one character of a label (10 px sans-serif).
pub(super) const CHAR: f64 = 5.6;
/// Above this many user actions, they are drawn without labels.
const MAX_LABELLED_ACTIONS: usize = 60;

/// Appends the lanes of `timeline` (id `id`, drawn on `scale`) to `out`.
pub fn timeline(
    out: &mut String,
    id: &str,
    timeline: &Timeline,
    scale: &Scale,
    diverge: Option<&Divergence>,
) {
    let width = scale.width();
    let diverge_line = diverge.and_then(Divergence::at).map_or_else(String::new, |at| {
        let x = f(scale.x(at));
        format!(r#"<line data-kind="diverge" class="diverge" x1="{x}" x2="{x}" y1="0" y2="100%"/>"#)
    });
    violations_lane(out, id, timeline, scale, &diverge_line);
    let actions = timeline
        .lanes
        .iter()
        .flat_map(|l| &l.items)
        .filter(|i| matches!(i.kind, ItemKind::Action | ItemKind::Dropped))
        .count();
    let labels = actions <= MAX_LABELLED_ACTIONS;
    for lane in &timeline.lanes {
        let plot = Plot::lay_out(lane, scale, timeline, labels);
        let _ = write!(
            out,
            r#"<div class="lane" data-lane="{}" data-lane-kind="{}"><div class="name" title="click: fold or unfold">{}</div><svg class="plot" width="{}" height="{}" data-h="{}" data-hc="{}">"#,
            html(&lane.id),
            lane.kind.as_str(),
            html(&lane.id),
            f(width),
            f(plot.height),
            f(plot.height),
            f(plot.folded)
        );
        for band in timeline.bands.iter().filter(|b| b.lanes.contains(&lane.id)) {
            let (x, w, fixed) = span(scale, band.from, band.until);
            let _ = write!(
                out,
                r#"<rect data-kind="band" class="f-{}{fixed}" data-fault="{}" data-lane="{}" data-seq="{}"{} x="{}" y="0" width="{}" height="100%"/>"#,
                band.kind,
                band.fault,
                html(&lane.id),
                seqs(&band.entries),
                witness(&band.violations),
                f(x),
                f(w)
            );
        }
        for (from, to) in &lane.down {
            let (x, w, _) = span(scale, *from, to.unwrap_or(timeline.end));
            let _ = write!(out, r#"<rect class="down" x="{}" y="0" width="{}" height="100%"/>"#, f(x), f(w));
        }
        out.push_str(&plot.body);
        if lane.kind == LaneKind::Receiver && lane.items.is_empty() {
            let _ = write!(
                out,
                r#"<text class="quiet" x="{}" y="15">no request arrived</text>"#,
                f(scale.x(Duration::ZERO))
            );
        }
        out.push_str(&diverge_line);
        out.push_str("</svg></div>");
    }
    axis(out, scale, diverge);
}

/// One lane's rows, drawn.
struct Plot {
    /// The rows, as SVG.
    body: String,
    /// The lane's height.
    height: f64,
    /// Its height folded, every row drawn over the first of its kind.
    folded: f64,
}

impl Plot {
    /// Packs `lane`'s items into rows and draws them; `labels`: whether actions get one.
    fn lay_out(lane: &Lane, scale: &Scale, timeline: &Timeline, labels: bool) -> Plot {
        let of = |pred: fn(ItemKind) -> bool| -> Vec<&Item> {
            lane.items.iter().filter(|i| pred(i.kind)).collect()
        };
        let bars = of(|k| k == ItemKind::Run);
        let marks =
            of(|k| !matches!(k, ItemKind::Run | ItemKind::Write | ItemKind::Crash | ItemKind::Restart));
        let notes = of(|k| k == ItemKind::Write);
        let crossings = of(|k| matches!(k, ItemKind::Crash | ItemKind::Restart));
        let end = |i: &Item| i.until.unwrap_or(timeline.end);
        let bar_spans: Vec<(f64, f64)> = bars.iter().map(|i| (scale.x(i.at), scale.x(end(i)))).collect();
        let (bar_rows, bar_count) = pack(&bar_spans, 1.0);
        let mark_spans: Vec<(f64, f64)> = marks
            .iter()
            .map(|i| {
                let x = scale.x(i.at);
                let text = action_text(i, timeline)
                    .filter(|_| labels)
                    .map_or(0.0, |t| 8.0 + t.chars().count() as f64 * CHAR);
                let reach = i.until.map_or(x, |u| scale.x(u));
                (x - MARK, (x + MARK + text).max(reach))
            })
            .collect();
        let (mark_rows, mark_count) = pack(&mark_spans, MARK);

        let mut body = String::new();
        let mut y = PAD;
        let mut folded_y = PAD;
        for row in 0..bar_count {
            open_row(&mut body, y, folded_y);
            for (item, _) in bars.iter().zip(&bar_rows).filter(|(_, r)| **r == row) {
                let (x, w, _) = span(scale, item.at, end(item));
                let _ = write!(
                    body,
                    r#"<rect{} x="{}" y="0" width="{}" height="{BAR}"/>"#,
                    attrs(item),
                    f(x),
                    f(w)
                );
            }
            body.push_str("</g>");
            y += BAR_ROW;
        }
        folded_y += if bar_count > 0 { BAR_ROW } else { 0.0 };
        for row in 0..mark_count {
            open_row(&mut body, y, folded_y);
            for (item, _) in marks.iter().zip(&mark_rows).filter(|(_, r)| **r == row) {
                mark(&mut body, item, scale, action_text(item, timeline).filter(|_| labels));
            }
            body.push_str("</g>");
            y += MARK_ROW;
        }
        folded_y += if mark_count > 0 { MARK_ROW } else { 0.0 };
        if !notes.is_empty() {
            open_row(&mut body, y, folded_y);
            for item in notes {
                let x = scale.x(item.at);
                let _ = write!(
                    body,
                    r#"<rect{} x="{}" y="1" width="1.5" height="6"/>"#,
                    attrs(item),
                    f(x - 0.75)
                );
            }
            body.push_str("</g>");
            y += NOTE_ROW;
            folded_y += NOTE_ROW;
        }
        for item in crossings {
            let x = f(scale.x(item.at));
            let _ = write!(
                body,
                r##"<g{}><line x1="{x}" x2="{x}" y1="0" y2="100%"/><use href="#m-{}" x="{x}" y="6"/></g>"##,
                attrs(item),
                item.kind.as_str()
            );
        }
        Plot { body, height: (y + PAD).max(22.0), folded: (folded_y + PAD).max(22.0) }
    }
}

/// Opens a row drawn at `y`, and at `folded` when its lane is folded.
fn open_row(out: &mut String, y: f64, folded: f64) {
    let _ = write!(
        out,
        r#"<g class="row" transform="translate(0,{})" data-y="{}" data-yc="{}">"#,
        f(y),
        f(y),
        f(folded)
    );
}

/// A mark centred on its row: a send with a line to its answer, an action with its
/// label, anything else a symbol.
fn mark(out: &mut String, item: &Item, scale: &Scale, text: Option<String>) {
    let x = f(scale.x(item.at));
    let half = f(MARK_ROW / 2.0);
    let symbol = match item.kind {
        ItemKind::Action => format!("a-{}", item.outcome),
        kind => kind.as_str().to_owned(),
    };
    let _ = write!(out, "<g{}>", attrs(item));
    if let Some(until) = item.until.filter(|_| matches!(item.kind, ItemKind::Send | ItemKind::Retry)) {
        let _ = write!(out, r#"<line x1="{x}" x2="{}" y1="{half}" y2="{half}"/>"#, f(scale.x(until)));
    }
    let _ = write!(out, r##"<use href="#m-{symbol}" x="{x}" y="{half}"/>"##);
    if let Some(text) = text {
        let _ = write!(out, r#"<text x="{x}" y="{}" dx="8">{}</text>"#, f(MARK_ROW / 2.0 + 3.5), html(&text));
    }
    out.push_str("</g>");
}

/// `run add-constraint`, for actions; `run add-constraint dropped` for one no replica
/// served.
fn action_text(item: &Item, timeline: &Timeline) -> Option<String> {
    matches!(item.kind, ItemKind::Action | ItemKind::Dropped).then(|| {
        let plan = item.plan.and_then(|p| timeline.plans.get(p)).map_or("?", String::as_str);
        let dropped = if item.kind == ItemKind::Dropped { " dropped" } else { "" };
        format!("{} {plan}{dropped}", item.outcome)
    })
}

/// The attributes every item carries: kind, outcome (and event) as classes, entries,
/// plan, request and the violations it witnesses.
fn attrs(item: &Item) -> String {
    let mut out = format!(r#" data-kind="{}" class="{}"#, item.kind.as_str(), item.outcome);
    match item.event {
        Some(EventType::PipelineFailed) => out.push_str(" ev-failed"),
        Some(EventType::PipelineCompleted) => out.push_str(" ev-completed"),
        None => {}
    }
    out.push('"');
    if !item.entries.is_empty() {
        let _ = write!(out, r#" data-seq="{}""#, seqs(&item.entries));
    }
    if let Some(plan) = item.plan {
        let _ = write!(out, r#" data-plan="{plan}""#);
    }
    if let Some(request) = item.request {
        let _ = write!(out, r#" data-request="{request}""#);
    }
    out.push_str(&witness(&item.violations));
    out
}

/// The `data-witness` attribute for `violations`, if any.
fn witness(violations: &[usize]) -> String {
    if violations.is_empty() { String::new() } else { format!(r#" data-witness="{}""#, seqs(violations)) }
}

/// Numbers as an attribute value: `7 9 11`.
pub(super) fn seqs<T: ToString>(values: &[T]) -> String {
    values.iter().map(T::to_string).collect::<Vec<_>>().join(" ")
}

/// A span's left edge and width, at least a pixel; an instant is a 3 px mark centred
/// on it that keeps its width when zoomed (`fx` class).
fn span(scale: &Scale, from: Duration, to: Duration) -> (f64, f64, &'static str) {
    let (x0, x1) = (scale.x(from), scale.x(to));
    if to <= from { (x0 - 1.5, 3.0, " fx") } else { (x0, (x1 - x0).max(1.0), "") }
}

/// A coordinate, to a tenth of a pixel.
pub(super) fn f(v: f64) -> String {
    let s = format!("{v:.1}");
    match s.strip_suffix(".0") {
        Some(whole) => whole.to_owned(),
        None => s,
    }
}
