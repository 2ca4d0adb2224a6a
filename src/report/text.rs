//! The terminal report: per scenario, a compact table of the checker's verdicts and
//! the expectations that did not hold; then a one-line summary, and a line more when
//! the host fell behind in a run on the real clock.

use std::fmt::Write;
use std::time::Duration;

use crate::check::{DeliveryView, EventReport, Verdict};
use crate::history::Event;
use crate::lag::HostLag;
use crate::model::PlanId;
use crate::runner::ScenarioRun;
use crate::store::plan_titles;

/// The table of one scenario run.
pub fn scenario(run: &ScenarioRun) -> String {
    let mut out = String::new();
    let status = if run.ok { "ok" } else { "NOT AS EXPECTED" };
    let drops = dropped(run);
    let dropped_note = match drops.len() {
        0 => String::new(),
        n => format!(" ({n} request{} dropped)", if n == 1 { "" } else { "s" }),
    };
    let _ = writeln!(
        out,
        "{}  [{} on {}, {} status writes, seed {}, {} of run time]  {status}{dropped_note}",
        run.name,
        run.strategy,
        run.store,
        run.status_write,
        run.seed,
        millis(run.result.elapsed)
    );
    dropped_lines(&mut out, &drops);
    if let Some(warning) = run.result.host_lag.and_then(|lag| lag.warning()) {
        let _ = writeln!(out, "  {warning}");
    }
    if run.result.judged_from == DeliveryView::Senders {
        let _ = writeln!(
            out,
            "  outside endpoint: judged from what the senders saw accepted; the receiver's side is unknown"
        );
    }
    let report = &run.result.report;
    let rows: Vec<&EventReport> = report.events.iter().chain(&report.stray).chain(&report.payloads).collect();
    if rows.is_empty() && !drops.is_empty() {
        let _ = writeln!(
            out,
            "  (no event owed, nothing delivered: the contract held only because requests never reached the cluster)"
        );
    } else if rows.is_empty() {
        let _ = writeln!(out, "  (no event owed, nothing delivered)");
    } else {
        let titles = plan_titles(&run.result.final_state);
        let names = |id: PlanId| titles.get(&id).map_or_else(|| format!("plan {id}"), |t| (*t).to_owned());
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

/// A user's request that no live replica served: (when, what, plan name, via).
struct DroppedRequest<'a> {
    at: Duration,
    action: &'a str,
    name: &'a str,
    via: Option<&'a str>,
}

/// The requests of `run` that no live replica served, in order.
fn dropped(run: &ScenarioRun) -> Vec<DroppedRequest<'_>> {
    run.result
        .history
        .iter()
        .filter_map(|e| match &e.event {
            Event::RequestDropped { action, name, via, .. } => {
                Some(DroppedRequest { at: e.at, action, name, via: via.as_ref().map(|v| v.0.as_str()) })
            }
            _ => None,
        })
        .collect()
}

/// Requests listed on a dropped line, at most.
const DROPS_LISTED: usize = 5;

/// `  2 requests dropped, no live replica to serve them: run add-index at 0ms (via
/// r1), ...`.
fn dropped_lines(out: &mut String, drops: &[DroppedRequest<'_>]) {
    if drops.is_empty() {
        return;
    }
    let listed: Vec<String> = drops
        .iter()
        .take(DROPS_LISTED)
        .map(|d| {
            let via = d.via.map_or_else(String::new, |v| format!(" (via {v})"));
            format!("{} {} at {}{via}", d.action, d.name, millis(d.at))
        })
        .collect();
    let more = drops.len().saturating_sub(DROPS_LISTED);
    let more = if more > 0 { format!(", and {more} more") } else { String::new() };
    let (s, them) = if drops.len() == 1 { ("", "it") } else { ("s", "them") };
    let _ = writeln!(
        out,
        "  {} request{s} dropped, no live replica to serve {them}: {}{more}",
        drops.len(),
        listed.join(", ")
    );
}

/// The one-line summary of a batch of runs, and [`host_lag`]'s line when the host
/// fell behind in any.
pub fn summary(runs: &[ScenarioRun]) -> String {
    let held = runs.iter().filter(|r| r.ok).count();
    let violations: usize = runs.iter().map(|r| r.result.report.violations().count()).sum();
    let mut out = format!(
        "{} scenario run{}: {held} as expected, {} not; {violations} contract violation{} found in all",
        runs.len(),
        if runs.len() == 1 { "" } else { "s" },
        runs.len() - held,
        if violations == 1 { "" } else { "s" },
    );
    let drops: usize = runs.iter().map(|r| dropped(r).len()).sum();
    if drops > 0 {
        let _ = write!(
            out,
            "; {drops} user request{} dropped (no live replica)",
            if drops == 1 { "" } else { "s" }
        );
    }
    if let Some(lag) = host_lag(runs) {
        out.push('\n');
        out.push_str(&lag);
    }
    out
}

/// The runs whose host fell behind past the bound, counted, with the worst of them:
/// `the host lagged past its bound in 2 of 5 runs (up to 2.3 s, in crash-after-claim
/// under seed-claim); their verdicts may reflect the host, not the design`. `None`
/// when it never did (always on the memory store, whose clock is virtual).
pub fn host_lag<'a>(runs: impl IntoIterator<Item = &'a ScenarioRun>) -> Option<String> {
    let mut all = 0;
    let mut lagged = Vec::new();
    for run in runs {
        all += 1;
        if let Some(lag) = run.result.host_lag.filter(HostLag::passed) {
            lagged.push((run, lag));
        }
    }
    let (worst, lag) = lagged.iter().max_by_key(|(_, lag)| lag.max)?;
    Some(format!(
        "the host lagged past its bound in {} of {all} run{} (up to {}, in {} under {}); their verdicts may reflect the host, not the design",
        lagged.len(),
        if all == 1 { "" } else { "s" },
        crate::lag::human(lag.max),
        worst.name,
        worst.strategy
    ))
}

fn millis(d: Duration) -> String {
    if d >= Duration::from_secs(1) {
        format!("{:.2}s", d.as_secs_f64())
    } else {
        format!("{}ms", d.as_millis())
    }
}

/// One cell of the compare matrix: the run's violations (`lost 1, dup 2`, `payload 1`
/// for a wrong payload) or `ok`, then the user requests no live replica served
/// (`dropped 1`), with `!` when the file's expectations for that strategy did not hold.
pub fn cell(run: &ScenarioRun) -> String {
    let mut counts: Vec<(&str, usize)> = Vec::new();
    for e in run.result.report.violations() {
        let word = match e.verdict {
            Verdict::Duplicate => "dup",
            Verdict::Unexpected => "unexp",
            Verdict::WrongPayload => "payload",
            other => other.as_str(),
        };
        match counts.iter_mut().find(|(w, _)| *w == word) {
            Some((_, n)) => *n += 1,
            None => counts.push((word, 1)),
        }
    }
    let drops = dropped(run).len();
    if drops > 0 {
        counts.push(("dropped", drops));
    }
    let text = if counts.iter().all(|(w, _)| *w == "dropped") {
        let dropped = counts.first().map_or_else(String::new, |(w, n)| format!(", {w} {n}"));
        format!("ok{dropped}")
    } else {
        counts.iter().map(|(w, n)| format!("{w} {n}")).collect::<Vec<_>>().join(", ")
    };
    if run.ok { text } else { format!("{text} !") }
}

/// The compare matrix: a row per scenario, a column per strategy, then totals.
pub fn matrix(rows: &[(String, Vec<ScenarioRun>)]) -> String {
    let Some((_, first)) = rows.first() else { return String::new() };
    let strategies: Vec<String> = first.iter().map(|r| r.strategy.to_string()).collect();
    let name_width = rows.iter().map(|(n, _)| n.len()).max().unwrap_or(8).max(8);
    let cells: Vec<Vec<String>> = rows.iter().map(|(_, runs)| runs.iter().map(cell).collect()).collect();
    let width =
        |i: usize| cells.iter().map(|row| row[i].len()).chain([strategies[i].len()]).max().unwrap_or(4);
    let widths: Vec<usize> = (0..strategies.len()).map(width).collect();
    let mut out = String::new();
    let _ = write!(out, "{:<name_width$}", "scenario");
    for (s, w) in strategies.iter().zip(&widths) {
        let _ = write!(out, "  {s:<w$}");
    }
    out.push('\n');
    for ((name, _), row) in rows.iter().zip(&cells) {
        let _ = write!(out, "{name:<name_width$}");
        for (c, w) in row.iter().zip(&widths) {
            let _ = write!(out, "  {c:<w$}");
        }
        out.push('\n');
    }
    let _ = write!(out, "{:<name_width$}", "violations");
    for (i, w) in widths.iter().enumerate() {
        let total: usize = rows.iter().map(|(_, runs)| runs[i].result.report.violations().count()).sum();
        let _ = write!(out, "  {total:<w$}");
    }
    out.push('\n');
    out.push_str("(! marks a run whose file expected otherwise)\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::html::fixtures::{Log, result, scenario_run};
    use crate::strategy::StrategyKind;

    const WARNING: &str =
        "the host lagged up to 2.3 s (bound 250 ms); verdicts may reflect the host, not the design";

    fn lagged(name: &str, max: Duration) -> ScenarioRun {
        let mut run = scenario_run(name, StrategyKind::SEED_CLAIM, result(Log::default(), vec![], 100));
        run.result.trace.host_lag = Some(HostLag {
            period: crate::lag::PERIOD,
            bound: Duration::from_millis(250),
            max,
            late: 1,
            wakeups: 100,
            db_max: None,
            db_probes: 0,
        });
        run
    }

    #[test]
    fn a_run_whose_host_lagged_past_the_bound_says_so() {
        let run = lagged("slow", Duration::from_millis(2_300));
        let table = scenario(&run);
        assert_eq!(table.lines().nth(1), Some(format!("  {WARNING}").as_str()), "{table}");
        let summary = summary(std::slice::from_ref(&run));
        assert_eq!(
            summary.lines().nth(1),
            Some(
                "the host lagged past its bound in 1 of 1 run (up to 2.3 s, in slow under seed-claim); their verdicts may reflect the host, not the design"
            ),
            "{summary}"
        );
    }

    #[test]
    fn a_run_within_the_bound_or_unmeasured_says_nothing_of_the_host() {
        let within = lagged("fine", Duration::from_millis(250));
        let mut unmeasured = lagged("memory", Duration::ZERO);
        unmeasured.result.trace.host_lag = None;
        for run in [within, unmeasured] {
            assert!(!scenario(&run).contains("host"), "{}", scenario(&run));
            let summary = summary(std::slice::from_ref(&run));
            assert_eq!(summary.lines().count(), 1, "{summary}");
        }
    }

    #[test]
    fn the_summary_counts_the_lagged_runs_and_names_the_worst() {
        let runs = [
            lagged("a", Duration::from_millis(300)),
            lagged("b", Duration::from_millis(10)),
            lagged("c", Duration::from_millis(900)),
        ];
        let line = host_lag(&runs).expect("two runs lagged");
        assert!(
            line.starts_with("the host lagged past its bound in 2 of 3 runs (up to 900 ms, in c under"),
            "{line}"
        );
    }
}
