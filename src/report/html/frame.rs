//! The frame of a timeline: the lane of violations above its lanes, each flagged
//! where the checker placed it and labelled, and the time axis below them, noting
//! where a compared run first did something the run above it did not.

use std::fmt::Write;
use std::time::Duration;

use super::escape::html;
use super::layout::{Scale, pack, time_label};
use super::model::{Timeline, Violation};
use super::svg::{CHAR, MARK, MARK_ROW, PAD, f, seqs};

/// How a run of a compared section stands to the run drawn above it (`from`, its
/// strategy).
#[derive(Debug, Clone, PartialEq)]
pub enum Divergence {
    /// It first did something the other did not at `at`; `seq` is its first entry
    /// there that the other lacks, unless it only lacks some of the other's.
    At {
        /// The strategy above.
        from: String,
        /// When.
        at: Duration,
        /// Its entry there.
        seq: Option<u64>,
    },
    /// It did the same things at the same times throughout.
    Never {
        /// The strategy above.
        from: String,
    },
    /// One of the two ran in real time (on Postgres), where no two runs keep the same
    /// times, so they are not compared entry by entry.
    RealTime {
        /// The strategy above.
        from: String,
    },
}

impl Divergence {
    /// When the run diverges, if it is known to.
    pub fn at(&self) -> Option<Duration> {
        match self {
            Divergence::At { at, .. } => Some(*at),
            _ => None,
        }
    }
}

/// The lane that lists the violations where they happened.
pub(super) fn violations_lane(
    out: &mut String,
    id: &str,
    timeline: &Timeline,
    scale: &Scale,
    diverge_line: &str,
) {
    let labels: Vec<String> = timeline.violations.iter().map(|v| label(v, timeline)).collect();
    // A label reads to the right of its flag, or to the left where it would run off
    // the plot.
    let leftward: Vec<bool> = timeline
        .violations
        .iter()
        .zip(&labels)
        .map(|(v, l)| scale.x(v.at) + 2.0 * MARK + width(l) > scale.width())
        .collect();
    let spans: Vec<(f64, f64)> = timeline
        .violations
        .iter()
        .zip(&labels)
        .zip(&leftward)
        .map(|((v, l), left)| {
            let x = scale.x(v.at);
            if *left { (x - 2.0 * MARK - width(l), x + MARK) } else { (x - MARK, x + 2.0 * MARK + width(l)) }
        })
        .collect();
    let (rows, count) = pack(&spans, MARK);
    let height = PAD * 2.0 + MARK_ROW * count.max(1) as f64;
    let _ = write!(
        out,
        r#"<div class="lane vlane" data-lane="violations"><div class="name">violations</div><svg class="plot" width="{}" height="{h}" data-h="{h}" data-hc="{h}">"#,
        f(scale.width()),
        h = f(height)
    );
    if timeline.violations.is_empty() {
        let _ = write!(
            out,
            r#"<text class="none" x="{}" y="{}">none: the run keeps the contract</text>"#,
            f(scale.x(Duration::ZERO)),
            f(PAD + 10.0)
        );
    }
    for (i, (v, text)) in timeline.violations.iter().zip(&labels).enumerate() {
        let (x, y) = (scale.x(v.at), PAD + MARK_ROW * rows[i] as f64 + MARK_ROW / 2.0);
        let plan = v.plan.map_or_else(String::new, |p| format!(r#" data-plan="{p}""#));
        let _ = write!(
            out,
            r##"<g data-kind="violation" id="{id}-v{i}" data-violation="{i}" data-verdict="{}" data-plan-id="{}"{plan} data-event="{}" data-episode="{}" data-at="{}" data-seq="{}" data-witness="{i}"><use href="#m-flag" x="{}" y="{}"/><text x="{}" y="{}" {}>{}</text></g>"##,
            v.verdict,
            v.plan_id,
            v.event,
            v.episode,
            v.at.as_micros(),
            seqs(&v.entries),
            f(x),
            f(y),
            f(x),
            f(y + 3.5),
            if leftward[i] { r#"dx="-8" text-anchor="end""# } else { r#"dx="8""# },
            html(text)
        );
    }
    out.push_str(diverge_line);
    out.push_str("</svg></div>");
}

/// About how wide `label` is drawn.
fn width(label: &str) -> f64 {
    label.chars().count() as f64 * CHAR
}

/// `lost PIPELINE_FAILED#1 add-constraint`.
fn label(v: &Violation, timeline: &Timeline) -> String {
    format!("{} {}#{} {}", v.verdict, v.event, v.episode, timeline.plan_name(v))
}

/// The time axis, with the divergence noted.
pub(super) fn axis(out: &mut String, scale: &Scale, diverge: Option<&Divergence>) {
    let _ = write!(
        out,
        r#"<div class="lane axis"><div class="name">time</div><svg class="plot" width="{}" height="30" data-h="30" data-hc="30">"#,
        f(scale.width())
    );
    for tick in scale.ticks() {
        let x = f(scale.x(tick));
        let _ = write!(
            out,
            r#"<line x1="{x}" x2="{x}" y1="0" y2="6"/><text x="{x}" y="16" dx="2">{}</text>"#,
            time_label(tick)
        );
    }
    let note = |out: &mut String, kind: &str, text: String| {
        let x = f(scale.x(Duration::ZERO));
        let _ =
            write!(out, r#"<text class="diverge" data-kind="{kind}" x="{x}" y="27">{}</text>"#, html(&text));
    };
    match diverge {
        Some(Divergence::At { from, at, seq }) => {
            let x = f(scale.x(*at));
            let (entry, seq) = match seq {
                Some(seq) => (format!(" (#{seq})"), format!(r#" data-seq="{seq}""#)),
                None => (String::new(), String::new()),
            };
            let text = format!("differs from {from} from here: {}{entry}", time_label(*at));
            let _ = write!(
                out,
                r#"<g data-kind="diverge" data-at="{}"{seq}><line class="diverge" x1="{x}" x2="{x}" y1="0" y2="30"/><text class="diverge" x="{x}" y="27" dx="3">{}</text></g>"#,
                at.as_micros(),
                html(&text)
            );
        }
        Some(Divergence::Never { from }) => note(out, "same", format!("did the same as {from} throughout")),
        Some(Divergence::RealTime { from }) => note(
            out,
            "real-time",
            format!("ran in real time: its moments are not compared with {from}'s one by one"),
        ),
        None => {}
    }
    out.push_str("</svg></div>");
}
