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

// The judge's negative cases. `twice` runs under in-memory: both replicas announce
// its failure, each afresh, with the stable id that names the event, so the checker
// says `duplicate` for PIPELINE_FAILED#1 (a first try after a recorded success) while
// the receiver, deduping on the id, counts one delivery of it; `once` completes on
// one replica: PIPELINE_COMPLETED#1 delivered once.

/// The check named `what`, or a panic listing the checks there are.
#[track_caller]
fn check_named<'a>(checks: &'a [Check], what: &str) -> &'a Check {
    checks.iter().find(|c| c.what == what).unwrap_or_else(|| panic!("no check {what:?} in {checks:#?}"))
}

#[test]
fn a_verdict_the_checker_did_not_give_does_not_hold_and_says_what_it_found() {
    let scenario = two_plans(
        "[[expect]]\nplan = \"twice\"\npass = false\nverdicts = [\
         { event = \"PIPELINE_FAILED\", episode = 1, verdict = \"delivered\" },\
         { event = \"PIPELINE_FAILED\", episode = 2, verdict = \"duplicate\" },\
         { event = \"PIPELINE_FAILED\", verdict = \"duplicate\" }]\n",
    );
    let run = common::run_on_memory(&scenario, None);
    let wrong = check_named(&run.checks, "twice: PIPELINE_FAILED#1 is delivered");
    assert!(!wrong.ok);
    assert_eq!(wrong.detail, "found PIPELINE_FAILED#1 duplicate");
    // No second episode: nothing found, so nothing can have the verdict.
    let absent = check_named(&run.checks, "twice: PIPELINE_FAILED#2 is duplicate");
    assert_eq!((absent.ok, absent.detail.as_str()), (false, "found none"));
    // Any episode: the first one's duplicate.
    assert!(check_named(&run.checks, "twice: PIPELINE_FAILED is duplicate").ok);
    assert!(!run.ok);
}

#[test]
fn deliveries_must_match_exactly_no_more_and_no_fewer() {
    // What the receiver accepted, one id each: twice, PIPELINE_FAILED#1; once,
    // PIPELINE_COMPLETED#1.
    let cases: [(&str, &str, bool); 7] = [
        ("once", "[{ event = \"PIPELINE_COMPLETED\", episode = 1 }]", true),
        ("once", "[{ event = \"PIPELINE_COMPLETED\" }]", true),
        ("once", "[]", false),
        ("once", "[{ event = \"PIPELINE_COMPLETED\", episode = 2 }]", false),
        ("once", "[{ event = \"PIPELINE_COMPLETED\" }, { event = \"PIPELINE_FAILED\" }]", false),
        ("twice", "[{ event = \"PIPELINE_FAILED\", episode = 1 }]", true),
        ("twice", "[{ event = \"PIPELINE_FAILED\", episode = 1 }, { event = \"PIPELINE_FAILED\" }]", false),
    ];
    // One run: the judge reads the same result under each file's expectations.
    let run = common::run_on_memory(&two_plans("[[expect]]\npass = false\n"), None);
    for (plan, deliveries, holds) in cases {
        let scenario = two_plans(&format!(
            "[[expect]]\npass = false\n\n[[expect]]\nplan = \"{plan}\"\ndeliveries = {deliveries}\n"
        ));
        let checks = judge(&scenario, run.strategy, &run.result);
        let check = checks.iter().find(|c| c.what.starts_with(&format!("{plan} receives exactly"))).unwrap();
        assert_eq!(check.ok, holds, "{plan} {deliveries}: {check:?}");
        let got = if plan == "once" { "PIPELINE_COMPLETED#1" } else { "PIPELINE_FAILED#1" };
        if !holds {
            assert_eq!(check.detail, format!("got [{got}]"), "{plan} {deliveries}");
        }
    }
}

#[test]
fn an_expectation_naming_the_strategy_replaces_the_general_ones_about_the_same_plan_for_it_only() {
    let scenario = two_plans(
        "[[expect]]\nplan = \"twice\"\npass = true\n\n\
         [[expect]]\nstrategy = \"in-memory\"\nplan = \"twice\"\npass = false\n\n\
         [[expect]]\nplan = \"once\"\npass = true\n",
    );
    let run = common::run_on_memory(&scenario, None);
    // Under in-memory the named one stands for `twice`; `once`'s general one still
    // applies; `pass = false` allows the run's violation, so no whole-run check.
    assert_eq!(
        held(&run.checks),
        owned(&[("twice breaks the contract", true), ("once keeps the contract", true)])
    );
    assert!(run.ok);
    // Judged as another strategy (the same verdicts), the named one does not apply:
    // the general ones do, and the run is expected to keep the contract.
    let checks = judge(&scenario, hasim::strategy::StrategyKind::OUTBOX, &run.result);
    assert_eq!(
        held(&checks),
        owned(&[
            ("the run keeps the contract", false),
            ("twice keeps the contract", false),
            ("once keeps the contract", true),
        ])
    );
}

#[test]
fn a_whole_run_expectation_naming_the_strategy_replaces_the_general_whole_run_one() {
    let scenario = two_plans(
        "[[expect]]\npass = true\n\n[[expect]]\nstrategies = [\"seed-claim\", \"in-memory\"]\npass = false\n",
    );
    let run = common::run_on_memory(&scenario, None);
    assert_eq!(held(&run.checks), owned(&[("the run breaks the contract", true)]));
    let checks = judge(&scenario, hasim::strategy::StrategyKind::SHIPPED_CLAIM, &run.result);
    assert_eq!(held(&checks), owned(&[("the run keeps the contract", false)]));
}

#[test]
fn a_run_that_never_went_quiet_fails_its_first_check() {
    let scenario = two_plans("[[expect]]\npass = false\n");
    let mut run = common::run_on_memory(&scenario, None);
    assert!(run.checks[0].ok && run.checks[0].what == "the cluster went quiet");
    run.result.trace.quiesced = false;
    let checks = judge(&scenario, run.strategy, &run.result);
    assert_eq!((checks[0].ok, checks[0].detail.as_str()), (false, "stopped at max_duration"));
}

#[test]
fn a_claim_check_holds_only_for_the_exact_rows_read_at_its_moment() {
    use hasim::model::EventType;
    use hasim::store::ClaimRow;
    let scenario = two_plans("[[expect]]\npass = false\n\n[[claims]]\nat = \"1s\"\nrows = []\n");
    let mut run = common::run_on_memory(&scenario, None);
    // In-memory claims nothing: the table is empty when read.
    let what = "claim rows at 1s are []";
    assert!(check_named(&run.checks, what).ok, "{:#?}", run.checks);
    let twice = plan_id(&run, "twice");
    let at = std::time::Duration::from_secs(1);
    let read = run.result.trace.claim_snapshots.iter_mut().find(|s| s.at == at).expect("read at 1s");
    read.rows.push(ClaimRow { plan: twice, event: EventType::PipelineFailed });
    let checks = judge(&scenario, run.strategy, &run.result);
    let check = check_named(&checks, what);
    assert_eq!((check.ok, check.detail.as_str()), (false, "found [twice PIPELINE_FAILED]"));
    run.result.trace.claim_snapshots.retain(|s| s.at != at);
    let checks = judge(&scenario, run.strategy, &run.result);
    let check = check_named(&checks, what);
    assert_eq!((check.ok, check.detail.as_str()), (false, "the table was not read at that moment"));
}
