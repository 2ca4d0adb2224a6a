//! What a file expects, judged: a plan's `pass` is about that plan's events and the
//! unexpected deliveries naming it, the whole run's `pass` about all of them.

mod common;

use hasim::check::{EventReport, Verdict};
use hasim::model::PlanId;
use hasim::runner::{Check, ScenarioRun, judge};
use hasim::scenario::Scenario;

/// Two replicas both announce `twice`'s failure (the in-memory design): a duplicate.
/// `once` runs later, on one replica, and completes: delivered once.
const TWO_PLANS: &str = r#"
name = "one-plan-breaks"
description = "Two replicas both announce one plan's failure; another plan completes once."
seed = 2
strategy = "in-memory"

[cluster]
replicas = 2
runs_per_tick = 1

[[plans]]
name = "twice"
  [[plans.tasks]]
  name = "shard-1"
  attempts = [{ outcome = "failed", error = "lock timeout", after = "120ms" }]
  [[plans.tasks]]
  name = "shard-2"
  attempts = [{ outcome = "failed", error = "lock timeout", after = "120ms" }]

[[plans]]
name = "once"
  [[plans.tasks]]
  name = "only"
  attempts = [{ outcome = "done", after = "40ms" }]

[[timeline]]
at = "0ms"
plan = "twice"
action = "run"

[[timeline]]
at = "500ms"
plan = "once"
action = "run"
"#;

/// The two-plan scenario with `expectations` (TOML `[[expect]]` tables) appended.
fn two_plans(expectations: &str) -> Scenario {
    let text = format!("{TWO_PLANS}\n{expectations}");
    hasim::scenario::parse("two-plans.toml", &text).unwrap_or_else(|e| panic!("{e}"))
}

fn plan_id(run: &ScenarioRun, title: &str) -> PlanId {
    run.result.final_state.iter().find(|(_, s)| s.title == title).map(|(id, _)| *id).expect(title)
}

fn verdicts_of(run: &ScenarioRun, title: &str) -> Vec<Verdict> {
    let id = plan_id(run, title);
    run.result
        .report
        .events
        .iter()
        .chain(&run.result.report.stray)
        .filter(|e| e.plan == id)
        .map(|e| e.verdict)
        .collect()
}

/// The checks of `run` other than "the cluster went quiet", as (what, held).
fn held(checks: &[Check]) -> Vec<(String, bool)> {
    checks.iter().skip(1).map(|c| (c.what.clone(), c.ok)).collect()
}

fn owned(checks: &[(&str, bool)]) -> Vec<(String, bool)> {
    checks.iter().map(|(what, ok)| ((*what).to_owned(), *ok)).collect()
}

#[test]
fn a_plan_pass_is_judged_on_that_plans_events_and_the_whole_run_on_all() {
    let scenario = two_plans(
        "[[expect]]\nplan = \"once\"\npass = true\n\n[[expect]]\nplan = \"twice\"\npass = false\n\n\
         [[expect]]\npass = false\n",
    );
    let run = common::run_on_memory(&scenario, None);
    assert_eq!(verdicts_of(&run, "twice"), [Verdict::Duplicate]);
    assert_eq!(verdicts_of(&run, "once"), [Verdict::Delivered]);
    assert_eq!(
        held(&run.checks),
        owned(&[
            ("once keeps the contract", true),
            ("twice breaks the contract", true),
            ("the run breaks the contract", true),
        ])
    );
    assert!(run.ok, "{}", hasim::report::text::scenario(&run));
}

#[test]
fn a_plan_pass_that_is_wrong_about_its_plan_does_not_hold() {
    let scenario =
        two_plans("[[expect]]\nplan = \"once\"\npass = false\n\n[[expect]]\nplan = \"twice\"\npass = true\n");
    let run = common::run_on_memory(&scenario, None);
    assert_eq!(
        held(&run.checks),
        owned(&[("once breaks the contract", false), ("twice keeps the contract", false)])
    );
    let twice = run.checks.iter().find(|c| c.what == "twice keeps the contract").expect("the check");
    let id = plan_id(&run, "twice");
    assert_eq!(twice.detail, format!("violations: duplicate plan {id} PIPELINE_FAILED#1"));
    assert!(!run.ok);
}

#[test]
fn a_plan_that_keeps_the_contract_leaves_the_whole_run_expected_to_pass() {
    let run = common::run_on_memory(&two_plans("[[expect]]\nplan = \"once\"\npass = true\n"), None);
    assert_eq!(
        held(&run.checks),
        owned(&[("the run keeps the contract", false), ("once keeps the contract", true)])
    );
    assert!(!run.ok);
}

#[test]
fn an_unexpected_delivery_counts_against_the_plan_it_names_and_no_other() {
    let scenario = two_plans(
        "[[expect]]\nplan = \"once\"\npass = true\n\n[[expect]]\nplan = \"twice\"\npass = false\n\n\
         [[expect]]\npass = false\n",
    );
    let mut run = common::run_on_memory(&scenario, None);
    let (twice, once) = (plan_id(&run, "twice"), plan_id(&run, "once"));
    // Keep only `once`'s delivery, and add a stray that names `twice`: the only
    // violation left is an unexpected delivery of `twice`.
    let report = &mut run.result.report;
    report.events.retain(|e| e.plan == once);
    let stray = EventReport { plan: twice, verdict: Verdict::Unexpected, ..report.events[0].clone() };
    report.stray.push(stray);
    report.pass = false;
    let checks = judge(&scenario, run.strategy, &run.result);
    assert_eq!(
        held(&checks),
        owned(&[
            ("once keeps the contract", true),
            ("twice breaks the contract", true),
            ("the run breaks the contract", true),
        ])
    );
    // A stray naming no plan breaks the whole run's contract, and neither plan's.
    let report = &mut run.result.report;
    report.stray[0].plan = PlanId(0);
    let checks = judge(&scenario, run.strategy, &run.result);
    assert_eq!(
        held(&checks),
        owned(&[
            ("once keeps the contract", true),
            ("twice breaks the contract", false),
            ("the run breaks the contract", true),
        ])
    );
}
