//! The terminal report: per scenario, a compact table of the checker's verdicts and
//! the expectations that did not hold; then a one-line summary.

use std::fmt::Write;
use std::time::Duration;

use crate::check::{EventReport, Verdict};
use crate::model::PlanId;
use crate::runner::ScenarioRun;

/// The table of one scenario run.
pub fn scenario(run: &ScenarioRun) -> String {
    let mut out = String::new();
    let status = if run.ok { "ok" } else { "NOT AS EXPECTED" };
    let _ = writeln!(
        out,
        "{}  [{} on {}, seed {}, {} of run time]  {status}",
        run.name,
        run.strategy,
        run.store,
        run.seed,
        millis(run.result.elapsed)
    );
    let rows: Vec<&EventReport> = run.result.report.events.iter().chain(&run.result.report.stray).collect();
    if rows.is_empty() {
        let _ = writeln!(out, "  (no event owed, nothing delivered)");
    } else {
        let names = |id: PlanId| {
            run.result
                .final_state
                .iter()
                .find(|(p, _)| *p == id)
                .map_or_else(|| format!("plan {id}"), |(_, s)| s.title.clone())
        };
        let plan_width = rows.iter().map(|e| names(e.plan).len()).max().unwrap_or(4).max(4);
        let _ = writeln!(
            out,
            "  {:<plan_width$}  {:<18}  {:>2}  {:<13}  {:>5}  {:>8}  witness",
            "plan", "event", "ep", "verdict", "tries", "latency"
        );
        for e in rows {
            let latency = e.latency.map_or_else(|| "-".to_owned(), millis);
            let witness = match e.verdict {
                Verdict::Delivered | Verdict::Retried => "",
                _ => e.witness.summary.as_str(),
            };
            let _ = writeln!(
                out,
                "  {:<plan_width$}  {:<18}  {:>2}  {:<13}  {:>5}  {:>8}  {witness}",
                names(e.plan),
                e.event.as_str(),
                e.episode,
                e.verdict.as_str(),
                e.attempts,
                latency
            );
        }
    }
    for check in run.checks.iter().filter(|c| !c.ok) {
        let _ = writeln!(out, "  expected: {}; {}", check.what, check.detail);
    }
    out
}

/// The one-line summary of a batch of runs.
pub fn summary(runs: &[ScenarioRun]) -> String {
    let held = runs.iter().filter(|r| r.ok).count();
    let violations: usize = runs.iter().map(|r| r.result.report.violations().count()).sum();
    format!(
        "{} scenario run{}: {held} as expected, {} not; {violations} contract violation{} found in all",
        runs.len(),
        if runs.len() == 1 { "" } else { "s" },
        runs.len() - held,
        if violations == 1 { "" } else { "s" },
    )
}

fn millis(d: Duration) -> String {
    if d >= Duration::from_secs(1) {
        format!("{:.2}s", d.as_secs_f64())
    } else {
        format!("{}ms", d.as_millis())
    }
}
