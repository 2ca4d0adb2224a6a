//! The last link of a run's chain: its checked verdicts judged against what the
//! scenario file expects ([`judge`]). A run's [`RunResult`] is its trace and the
//! checker's report on it; [`Expected`] is what the file expects, kept beside each
//! run in the trace JSON so that a saved run can be judged again (`crate::recheck`).

use std::collections::HashMap;
use std::ops::Deref;

use serde::{Deserialize, Serialize};

use crate::check::{EventReport, Report};
use crate::model::{EventType, PlanId};
use crate::scenario::{ClaimCheck, EventRef, Expectation, Scenario};
use crate::strategy::StrategyKind;
use crate::trace::Trace;
use crate::webhook::ReceivedRequest;

/// A run's trace and the checker's verdicts on it: the `result` of a run in the trace
/// JSON, the trace's fields and `report` side by side. It reads as its trace
/// (`result.history`, `result.quiesced`, ...).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunResult {
    /// What the run produced.
    #[serde(flatten)]
    pub trace: Trace,
    /// The checker's verdicts on it.
    pub report: Report,
}

impl RunResult {
    /// `trace` judged by the checker.
    pub fn checked(trace: Trace) -> RunResult {
        let report = crate::check::check_trace(&trace);
        RunResult { trace, report }
    }
}

impl Deref for RunResult {
    type Target = Trace;

    fn deref(&self) -> &Trace {
        &self.trace
    }
}

/// What a scenario file expects of its runs: its expectations and claim checks, and
/// the names of its plans they refer to by index.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Expected {
    /// The scenario's plan names, in file order.
    pub plans: Vec<String>,
    /// The file's expectations.
    pub expectations: Vec<Expectation>,
    /// The file's checks of the claim table.
    pub claim_checks: Vec<ClaimCheck>,
}

/// One expectation of the file, checked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Check {
    /// What was expected, for people.
    pub what: String,
    /// Whether it held.
    pub ok: bool,
    /// What was found instead, when it did not.
    pub detail: String,
}

/// Checks every expectation and claim check of `scenario` that applies to `strategy`
/// against a run's trace and verdicts (`result`).
pub fn judge(scenario: &Scenario, strategy: StrategyKind, result: &RunResult) -> Vec<Check> {
    Expected::of(scenario).judge(strategy, result)
}

impl Expected {
    /// What `scenario` expects of its runs.
    pub fn of(scenario: &Scenario) -> Expected {
        Expected {
            plans: scenario.spec.plans.iter().map(|p| p.name.clone()).collect(),
            expectations: scenario.expectations.clone(),
            claim_checks: scenario.claim_checks.clone(),
        }
    }

    /// Checks every expectation and claim check that applies to `strategy` against a
    /// run's trace and verdicts (`result`).
    pub fn judge(&self, strategy: StrategyKind, result: &RunResult) -> Vec<Check> {
        judge_expected(self, strategy, result)
    }
}

fn judge_expected(scenario: &Expected, strategy: StrategyKind, result: &RunResult) -> Vec<Check> {
    let applies = |strategies: &[StrategyKind]| strategies.is_empty() || strategies.contains(&strategy);
    let plans = PlanNames::new(scenario, result);
    let by_plan = ByPlan::new(result);
    let mut checks = vec![Check::new("the cluster went quiet", result.quiesced, "stopped at max_duration")];
    // An expectation naming this strategy replaces, for it, the general ones about the
    // same plan (or the whole run): the general ones say what the contract demands,
    // the named ones a design's known weakness.
    let specific = |plan: Option<usize>| {
        scenario.expectations.iter().any(|e| e.plan == plan && e.strategies.contains(&strategy))
    };
    let expectations: Vec<&Expectation> = scenario
        .expectations
        .iter()
        .filter(
            |e| if e.strategies.is_empty() { !specific(e.plan) } else { e.strategies.contains(&strategy) },
        )
        .collect();
    // The run must keep the contract unless an expectation allows a violation
    // (`pass = false`, a violating verdict) or says `pass` of the whole run itself: a
    // plan's `pass = true` says nothing of the other plans.
    let says_pass = expectations.iter().any(|e| {
        e.pass == Some(false)
            || (e.plan.is_none() && e.pass.is_some())
            || e.verdicts.iter().any(|(_, v)| v.is_violation())
    });
    if !says_pass {
        checks.push(pass_check(None, true, &by_plan));
    }
    for expectation in expectations {
        if let Some(pass) = expectation.pass {
            let plan = expectation.plan.map(|p| (plans.name(p), plans.id(p)));
            checks.push(pass_check(plan, pass, &by_plan));
        }
        let Some(plan) = expectation.plan else { continue };
        let id = plans.id(plan);
        if let Some(expected) = &expectation.deliveries {
            checks.push(deliveries_check(plans.name(plan), id, expected, &by_plan));
        }
        for (event, verdict) in &expectation.verdicts {
            let found: Vec<&EventReport> =
                by_plan.reports(id).iter().copied().filter(|e| event.matches(e.event, e.episode)).collect();
            let ok = found.iter().any(|e| e.verdict == *verdict);
            let seen: Vec<String> =
                found.iter().map(|e| format!("{}#{} {}", e.event, e.episode, e.verdict)).collect();
            let what = format!("{}: {} is {verdict}", plans.name(plan), event.describe());
            checks.push(Check::new(what, ok, &format!("found {}", list_or_none(&seen))));
        }
    }
    for claim in scenario.claim_checks.iter().filter(|c| applies(&c.strategies)) {
        checks.push(claim_check(claim, &plans, result));
    }
    checks
}

/// Whether the contract holds (`pass`) for the whole run, or for one plan (its name
/// and id, `None` when the run never created it): that plan's events and the strays
/// naming it.
fn pass_check(plan: Option<(&str, Option<PlanId>)>, pass: bool, by_plan: &ByPlan<'_>) -> Check {
    let reports = match plan {
        None => by_plan.all.as_slice(),
        Some((_, id)) => by_plan.reports(id),
    };
    let violations: Vec<String> = reports
        .iter()
        .filter(|e| e.verdict.is_violation())
        .map(|e| format!("{} plan {} {}#{}", e.verdict, e.plan, e.event, e.episode))
        .collect();
    let what = match (plan, pass) {
        (None, true) => "the run keeps the contract".to_owned(),
        (None, false) => "the run breaks the contract".to_owned(),
        (Some((name, _)), true) => format!("{name} keeps the contract"),
        (Some((name, _)), false) => format!("{name} breaks the contract"),
    };
    Check::new(what, violations.is_empty() == pass, &format!("violations: {}", list_or_none(&violations)))
}

fn deliveries_check(name: &str, id: Option<PlanId>, expected: &[EventRef], by_plan: &ByPlan<'_>) -> Check {
    let mut distinct: Vec<(EventType, u32)> = Vec::new();
    let mut ids = std::collections::HashSet::new();
    for request in by_plan.accepted(id) {
        let Some(payload) = request.payload.as_ref() else { continue };
        // Requests with one id are one delivery retried; a request without an id is a
        // delivery of its own.
        if request.webhook_id.as_ref().is_none_or(|webhook_id| ids.insert(webhook_id)) {
            distinct.push((payload.event, payload.episode));
        }
    }
    let mut unmatched = distinct.clone();
    let mut missing = Vec::new();
    // Exact episodes first, so an "any episode" entry cannot take another's delivery.
    let mut wanted: Vec<&EventRef> = expected.iter().collect();
    wanted.sort_by_key(|e| e.episode.is_none());
    for want in wanted {
        match unmatched.iter().position(|&(event, episode)| want.matches(event, episode)) {
            Some(i) => drop(unmatched.remove(i)),
            None => missing.push(want.describe()),
        }
    }
    let got: Vec<String> = distinct.iter().map(|(e, ep)| format!("{e}#{ep}")).collect();
    let want: Vec<String> = expected.iter().map(EventRef::describe).collect();
    let ok = missing.is_empty() && unmatched.is_empty();
    Check::new(
        format!("{name} receives exactly [{}]", want.join(", ")),
        ok,
        &format!("got [{}]", got.join(", ")),
    )
}

fn claim_check(claim: &ClaimCheck, plans: &PlanNames, result: &RunResult) -> Check {
    let snapshot = result.claim_snapshots.iter().find(|s| s.at == claim.at).map(|s| &s.rows);
    let mut want: Vec<String> = claim.rows.iter().map(|(p, e)| format!("{} {e}", plans.name(*p))).collect();
    want.sort();
    let what = format!("claim rows at {:?} are [{}]", claim.at, want.join(", "));
    let Some(rows) = snapshot else {
        return Check::new(&what, false, "the table was not read at that moment");
    };
    let mut got: Vec<String> =
        rows.iter().map(|r| format!("{} {}", plans.name_of(r.plan), r.event)).collect();
    got.sort();
    Check::new(&what, got == want, &format!("found [{}]", got.join(", ")))
}

/// The checker's reports and the accepted requests of a run, grouped by plan once, so
/// that each expectation reads its own plan's.
struct ByPlan<'a> {
    /// Events, strays and wrong payloads, in that order (as `Report::violations`).
    all: Vec<&'a EventReport>,
    /// The same, by plan, in the same order.
    reports: HashMap<PlanId, Vec<&'a EventReport>>,
    /// Accepted requests whose payload names the plan, in arrival order.
    accepted: HashMap<PlanId, Vec<&'a ReceivedRequest>>,
}

impl<'a> ByPlan<'a> {
    fn new(result: &'a RunResult) -> Self {
        let report = &result.report;
        let all: Vec<&EventReport> =
            report.events.iter().chain(&report.stray).chain(&report.payloads).collect();
        let mut reports: HashMap<PlanId, Vec<&EventReport>> = HashMap::new();
        all.iter().for_each(|e| reports.entry(e.plan).or_default().push(e));
        let mut accepted: HashMap<PlanId, Vec<&ReceivedRequest>> = HashMap::new();
        for request in result.requests.iter().filter(|r| r.answer.is_accepted()) {
            if let Some(payload) = &request.payload {
                accepted.entry(payload.plan).or_default().push(request);
            }
        }
        ByPlan { all, reports, accepted }
    }

    /// The reports naming `plan` (none for a plan the run never created).
    fn reports(&self, plan: Option<PlanId>) -> &[&'a EventReport] {
        plan.and_then(|p| self.reports.get(&p)).map_or(&[], Vec::as_slice)
    }

    /// The accepted requests whose payload names `plan`.
    fn accepted(&self, plan: Option<PlanId>) -> impl Iterator<Item = &'a ReceivedRequest> + '_ {
        plan.and_then(|p| self.accepted.get(&p)).into_iter().flatten().copied()
    }
}

/// Scenario plan indices, their names and the ids the run gave them.
struct PlanNames<'a> {
    names: Vec<&'a str>,
    ids: HashMap<&'a str, PlanId>,
    titles: HashMap<PlanId, &'a str>,
}

impl<'a> PlanNames<'a> {
    fn new(scenario: &'a Expected, result: &'a RunResult) -> Self {
        let names = scenario.plans.iter().map(String::as_str).collect();
        let ids: HashMap<&str, PlanId> =
            result.final_state.iter().map(|(id, state)| (state.title.as_str(), *id)).collect();
        let titles = crate::store::plan_titles(&result.final_state);
        PlanNames { names, ids, titles }
    }

    fn name(&self, index: usize) -> &'a str {
        self.names.get(index).copied().unwrap_or("?")
    }

    fn id(&self, index: usize) -> Option<PlanId> {
        self.ids.get(self.name(index)).copied()
    }

    fn name_of(&self, id: PlanId) -> String {
        self.titles.get(&id).map_or_else(|| format!("plan {id}"), |n| (*n).to_owned())
    }
}

impl Check {
    fn new(what: impl AsRef<str>, ok: bool, detail: &str) -> Check {
        Check {
            what: what.as_ref().to_owned(),
            ok,
            detail: if ok { String::new() } else { detail.to_owned() },
        }
    }
}

impl EventRef {
    /// Whether an event of type `event` in `episode` is this one.
    pub fn matches(&self, event: EventType, episode: u32) -> bool {
        self.event == event && self.episode.is_none_or(|e| e == episode)
    }

    /// `PIPELINE_FAILED#1`, or `PIPELINE_COMPLETED` for any episode.
    pub fn describe(&self) -> String {
        match self.episode {
            Some(e) => format!("{}#{e}", self.event),
            None => self.event.to_string(),
        }
    }
}

fn list_or_none(items: &[String]) -> String {
    if items.is_empty() { "none".to_owned() } else { items.join(", ") }
}
