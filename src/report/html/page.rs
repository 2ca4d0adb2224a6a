//! The page around the timelines: the title and summary, the legend and controls, the
//! table of every violation (each a link to its flag on the timeline), then a section
//! per scenario with a timeline per run, each followed by its history and receiver log
//! as JSON for the script to show on hover. A run whose host fell behind past the
//! bound gets a banner saying its verdicts may reflect the host.

use std::fmt::Write;

use serde::Serialize;

use super::escape::{html, script_json};
use super::frame::Divergence;
use super::layout::{LEFT, Scale, time_label};
use super::model::{self, LaneKind, Timeline};
use super::svg;
use super::{Section, divergence};
use crate::history::Entry;
use crate::runner::ScenarioRun;
use crate::webhook::ReceivedRequest;

/// The page's style.
const STYLE: &str = include_str!("assets/report.css");
/// The page's script: details on hover, witness focus, filter, folding, zoom.
const SCRIPT: &str = include_str!("assets/report.js");
/// The marks every plot draws with `<use>`, and the hatch patterns.
const SYMBOLS: &str = include_str!("assets/symbols.svg");
/// Timelines with more replica lanes than this start folded.
const FOLD_ABOVE: usize = 8;

/// What the script reads about one run.
#[derive(Serialize)]
struct Data<'a> {
    /// The history: what items' `data-seq` name.
    entries: &'a [Entry],
    /// The receiver's log: what deliveries' `data-request` name.
    requests: &'a [ReceivedRequest],
    /// Plan names: what `data-plan` indexes.
    plans: &'a [String],
    /// Each violation's witness, one line.
    violations: Vec<&'a str>,
}

/// The whole page.
pub fn render(title: &str, sections: &[Section<'_>]) -> String {
    let laid: Vec<Vec<Timeline>> =
        sections.iter().map(|s| s.runs.iter().map(|r| model::build(s.scenario, r)).collect()).collect();
    let runs = sections.iter().map(|s| s.runs.len()).sum::<usize>();
    let violations: usize = laid.iter().flatten().map(|t| t.violations.len()).sum();
    let mut out = String::with_capacity(64 * 1024);
    let _ = write!(
        out,
        r#"<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>{t}</title><style>{STYLE}</style></head><body data-left="{left}"><div class="symbols">{SYMBOLS}</div>{TOOLBAR}<header><h1>{t}</h1><p>{runs} run{} of {} scenario{}; {violations} contract violation{} found. Hover or click anything drawn to read its history entries; click a violation to outline its witness.</p>"#,
        plural(runs),
        sections.len(),
        plural(sections.len()),
        plural(violations),
        t = html(title),
        left = LEFT,
    );
    if let Some(lag) = crate::report::text::host_lag(sections.iter().flat_map(|s| s.runs)) {
        let _ = write!(out, r#"<p class="lag">{}</p>"#, html(&lag));
    }
    out.push_str(LEGEND);
    violation_table(&mut out, sections, &laid);
    out.push_str("</header><main>");
    let mut n = 0;
    for (s, (section, timelines)) in sections.iter().zip(&laid).enumerate() {
        section_html(&mut out, s, &mut n, section, timelines);
    }
    let _ =
        write!(out, r#"</main><aside id="detail" hidden></aside><script>{SCRIPT}</script></body></html>"#);
    out
}

/// `s` unless `n` is 1.
fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// The table of every violation, linked to its flag.
fn violation_table(out: &mut String, sections: &[Section<'_>], laid: &[Vec<Timeline>]) {
    if laid.iter().flatten().all(|t| t.violations.is_empty()) {
        out.push_str(r#"<p class="clean">No run broke the contract.</p>"#);
        return;
    }
    out.push_str(r#"<table class="violations"><thead><tr><th>scenario</th><th>strategy</th><th>verdict</th><th>event</th><th>plan</th><th>witness</th></tr></thead><tbody>"#);
    let mut n = 0;
    for (section, timelines) in sections.iter().zip(laid) {
        for (run, timeline) in section.runs.iter().zip(timelines) {
            for (i, v) in timeline.violations.iter().enumerate() {
                let plan = timeline.plan_name(v);
                let _ = write!(
                    out,
                    r##"<tr data-goto="t{n}-v{i}"><td>{}</td><td>{}</td><td class="{}">{}</td><td>{}#{}</td><td>{}</td><td><a href="#t{n}-v{i}">{}</a></td></tr>"##,
                    html(&section.scenario.name),
                    run.strategy,
                    v.verdict,
                    v.verdict,
                    v.event,
                    v.episode,
                    html(&plan),
                    html(&v.summary)
                );
            }
            n += 1;
        }
    }
    out.push_str("</tbody></table>");
}

/// One scenario: its story, its faults, a plan filter, and a timeline per run.
fn section_html(out: &mut String, s: usize, n: &mut usize, section: &Section<'_>, timelines: &[Timeline]) {
    let scenario = section.scenario;
    let end = timelines.iter().map(|t| t.end).max().unwrap_or_default();
    let scale = Scale::fit(end);
    let _ = write!(
        out,
        r#"<section class="scenario" id="s{s}" data-scenario="{}"><h2>{}</h2><p class="desc">{}</p>"#,
        html(&scenario.name),
        html(&scenario.name),
        html(&scenario.description)
    );
    if !scenario.spec.faults.is_empty() {
        out.push_str(r#"<ul class="faults">"#);
        for fault in &scenario.spec.faults {
            let _ = write!(out, "<li>fault {}: {}</li>", fault.index, html(&fault.describe()));
        }
        out.push_str("</ul>");
    }
    out.push_str(r#"<label class="filter">plan <select><option value="">all plans</option>"#);
    for (i, plan) in scenario.spec.plans.iter().enumerate() {
        let _ = write!(out, r#"<option value="{i}">{}</option>"#, html(&plan.name));
    }
    out.push_str(r#"</select></label><div class="scroll">"#);
    for (i, (run, timeline)) in section.runs.iter().zip(timelines).enumerate() {
        let diverge = i.checked_sub(1).map(|above| {
            let above = &section.runs[above];
            let from = above.strategy.to_string();
            if above.store != "memory" || run.store != "memory" {
                return Divergence::RealTime { from };
            }
            match divergence(&above.result.history, &run.result.history) {
                Some((at, seq)) => Divergence::At { from, at, seq },
                None => Divergence::Never { from },
            }
        });
        timeline_html(out, *n, run, timeline, &scale, diverge.as_ref());
        *n += 1;
    }
    out.push_str("</div></section>");
}

/// One run's timeline, headed by what it was and how it was judged.
fn timeline_html(
    out: &mut String,
    n: usize,
    run: &ScenarioRun,
    timeline: &Timeline,
    scale: &Scale,
    diverge: Option<&Divergence>,
) {
    let replicas = timeline.lanes.iter().filter(|l| l.kind == LaneKind::Replica).count();
    let fold = if replicas > FOLD_ABOVE { r#" data-fold="1""# } else { "" };
    let count = timeline.violations.len();
    let judged = if run.ok { "expectations hold" } else { "expectations DO NOT hold" };
    let _ = write!(
        out,
        r#"<div class="timeline" id="t{n}" data-timeline="{n}" data-strategy="{}" data-violations="{count}" data-end="{}" data-px-per-ms="{}"{fold}><h3>{} <span>seed {} · {} store · {} status writes · {} of run time · {count} violation{} · <b class="{}">{judged}</b></span></h3>"#,
        run.strategy,
        timeline.end.as_micros(),
        scale.px_per_ms,
        run.strategy,
        run.seed,
        run.store,
        run.status_write,
        time_label(timeline.end),
        plural(count),
        if run.ok { "ok" } else { "bad" },
    );
    if let Some(warning) = run.result.host_lag.and_then(|lag| lag.warning()) {
        let _ = write!(out, r#"<p class="lag">{}</p>"#, html(&warning));
    }
    let failed: Vec<_> = run.checks.iter().filter(|c| !c.ok).collect();
    if !failed.is_empty() {
        out.push_str(r#"<ul class="checks">"#);
        for check in failed {
            let _ = write!(out, "<li>expected {}; {}</li>", html(&check.what), html(&check.detail));
        }
        out.push_str("</ul>");
    }
    out.push_str(r#"<div class="lanes">"#);
    svg::timeline(out, &format!("t{n}"), timeline, scale, diverge);
    let data = Data {
        entries: &run.result.history,
        requests: &run.result.requests,
        plans: &timeline.plans,
        violations: timeline.violations.iter().map(|v| v.summary.as_str()).collect(),
    };
    let _ = write!(
        out,
        r#"</div><script type="application/json" class="data">{}</script></div>"#,
        script_json(&data)
    );
}

/// Zoom and folding, for every timeline of the page.
const TOOLBAR: &str = concat!(
    r#"<div class="toolbar">time <button data-act="out" title="zoom out">&minus;</button><span id="zoom">1&times;</span>"#,
    r#"<button data-act="in" title="zoom in">+</button><button data-act="reset">reset</button>"#,
    r#" lanes <button data-act="fold">fold all</button><button data-act="unfold">unfold all</button></div>"#,
);

/// What the marks mean.
const LEGEND: &str = concat!(
    r#"<div class="legend"><span><svg width="22" height="10"><rect class="done" width="22" height="7"/></svg>run done</span>"#,
    r#"<span><svg width="22" height="10"><rect class="failed" width="22" height="7"/></svg>run failed</span>"#,
    r#"<span><svg width="22" height="10"><rect class="abandoned" width="22" height="7"/></svg>failed by the cleaner</span>"#,
    r#"<span><svg width="22" height="10"><rect class="canceled" width="22" height="7"/></svg>canceled</span>"#,
    r##"<span><svg width="14" height="14"><use class="won" href="#m-claim" x="7" y="7"/></svg>claim won</span>"##,
    r##"<span><svg width="14" height="14"><use class="lost" href="#m-claim" x="7" y="7"/></svg>claim lost</span>"##,
    r##"<span><svg width="14" height="14"><use class="deleted" href="#m-reset" x="7" y="7"/></svg>claim reset</span>"##,
    r##"<span><svg width="14" height="14"><use class="accepted" href="#m-send" x="7" y="7"/></svg>send (2xx)</span>"##,
    r##"<span><svg width="14" height="14"><use class="refused" href="#m-retry" x="7" y="7"/></svg>retry (refused)</span>"##,
    r##"<span><svg width="14" height="14"><use class="gave-up" href="#m-abandon" x="7" y="7"/></svg>gave up</span>"##,
    r##"<span><svg width="14" height="14"><use class="accepted" href="#m-delivery" x="7" y="7"/></svg>request received</span>"##,
    r##"<span><svg width="14" height="14"><use class="crashed" href="#m-crash" x="7" y="7"/></svg>crash</span>"##,
    r##"<span><svg width="14" height="14"><use class="restarted" href="#m-restart" x="7" y="7"/></svg>restart</span>"##,
    r##"<span><svg width="14" height="14"><use class="store-error" href="#m-store-failed" x="7" y="7"/></svg>store error</span>"##,
    r##"<span><svg width="14" height="14"><use class="dropped-mark" href="#m-dropped" x="7" y="7"/></svg>request dropped (no live replica)</span>"##,
    r#"<span><svg width="22" height="10"><rect class="f-db-partition" width="22" height="10"/></svg>fault window</span>"#,
    r##"<span><svg width="14" height="14"><use class="flag" href="#m-flag" x="7" y="7"/></svg>violation</span></div>"##,
);

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::lag::HostLag;
    use crate::report::html::fixtures::{Log, result, scenario_run};
    use crate::strategy::StrategyKind;

    const SCENARIO: &str = r#"
name = "slow"
description = "A run on a busy host."
[[plans]]
name = "deploy"
  [[plans.tasks]]
  name = "migrate"
[[timeline]]
at = "0ms"
plan = "deploy"
action = "run"
"#;

    fn page(max_ms: u64) -> String {
        let scenario = crate::scenario::parse("slow.toml", SCENARIO).expect("a scenario");
        let mut run = scenario_run("slow", StrategyKind::SEED_CLAIM, result(Log::default(), vec![], 100));
        run.result.trace.host_lag = Some(HostLag {
            period: crate::lag::PERIOD,
            bound: Duration::from_millis(25),
            max: Duration::from_millis(max_ms),
            late: 1,
            wakeups: 10,
            db_max: None,
            db_probes: 0,
        });
        render("hasim run", &[Section { scenario: &scenario, runs: std::slice::from_ref(&run) }])
    }

    #[test]
    fn a_run_whose_host_lagged_has_a_banner() {
        let lagged = page(2_300);
        assert!(
            lagged.contains(r#"<p class="lag">the host lagged up to 2.3 s (bound 25 ms); verdicts may reflect the host, not the design</p>"#),
            "the run's banner"
        );
        assert!(
            lagged.contains(r#"<p class="lag">the host lagged past its bound in 1 of 1 run"#),
            "the page's"
        );
        assert!(!page(20).contains(r#"class="lag""#), "no banner within the bound");
    }
}
