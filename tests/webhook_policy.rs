//! How replicas send, end to end on both stores: an endpoint that accepts late (the
//! receiver takes the request and answers after the sender's timeout), requests with a
//! stable `webhook-id` or none, and a policy of its own per strategy.

mod common;

use hasim::check::{EventReport, Verdict};
use hasim::history::Event;
use hasim::model::EventType;
use hasim::runner::{RunOptions, ScenarioRun, run_scenario};
use hasim::scenario::Scenario;
use hasim::sim::Database;
use hasim::strategy::StrategyKind;

/// One plan whose task completes at 40 ms; the endpoint accepts the first request but
/// answers 300 ms late, past the 100 ms timeout; two tries; `webhook` adds to
/// `[webhook]`.
fn late_accept(webhook: &str) -> Scenario {
    let text = format!(
        r#"
name = "late-accept"
description = "The endpoint accepts the first request and answers after the timeout."
seed = 5
strategy = "seed-claim"

[cluster]
replicas = 1

[webhook]
timeout = "100ms"
attempts = 2
backoff = "50ms"
{webhook}

[[plans]]
name = "release"
  [[plans.tasks]]
  name = "migrate"
  duration = "40ms"

[[timeline]]
at = "0ms"
plan = "release"
action = "run"

[[faults]]
kind = "endpoint"
status = 200
delay = "300ms"
requests = 1
"#
    );
    hasim::scenario::parse("late-accept.toml", &text).unwrap_or_else(|e| panic!("{e}"))
}

/// One plan whose task completes; the endpoint refuses every request with 503;
/// `[webhook]` gives three tries, `tables` more.
fn refused(tables: &str) -> Scenario {
    let text = format!(
        r#"
name = "refused"
description = "The endpoint refuses every request."
seed = 6
strategy = "shipped-claim"

[cluster]
replicas = 1

[webhook]
attempts = 3
backoff = "10ms"
{tables}

[[plans]]
name = "release"
  [[plans.tasks]]
  name = "migrate"
  duration = "40ms"

[[timeline]]
at = "0ms"
plan = "release"
action = "run"

[[faults]]
kind = "endpoint"
status = 503
at = "0ms"
"#
    );
    hasim::scenario::parse("refused.toml", &text).unwrap_or_else(|e| panic!("{e}"))
}

#[track_caller]
fn run(scenario: &Scenario, strategy: Option<StrategyKind>, database: Database) -> ScenarioRun {
    let options = RunOptions { database, strategy, seed: None };
    run_scenario(scenario, &options).unwrap_or_else(|e| panic!("{}: {e}", scenario.name))
}

fn postgres() -> Database {
    Database::Postgres { url: common::database_url(), keep_schema: false }
}

#[track_caller]
fn completed(run: &ScenarioRun) -> &EventReport {
    let events = &run.result.report.events;
    let [event] = &events[..] else { panic!("one event: {:#?}", run.result.report) };
    assert_eq!(event.event, EventType::PipelineCompleted);
    event
}

/// The outcome the sender logged for each of its tries, in order.
fn outcomes(run: &ScenarioRun) -> Vec<String> {
    run.result
        .history
        .iter()
        .filter_map(|e| match &e.event {
            Event::SendFinished { outcome, .. } => Some(outcome.clone()),
            _ => None,
        })
        .collect()
}

/// The receiver took both tries and accepted both; the sender heard no answer to the
/// first; whether the two are one delivery depends on the id they carry.
#[track_caller]
fn assert_late_accept(run: &ScenarioRun, stable: bool) {
    let requests = &run.result.requests;
    assert_eq!(requests.len(), 2, "{requests:#?}");
    assert!(requests.iter().all(|r| r.answer.is_accepted() && r.signature_ok), "{requests:#?}");
    assert!(requests[0].answer.delay().is_some() && requests[1].answer.delay().is_none());
    assert_eq!(outcomes(run).first().map(String::as_str), Some("timed out"));
    let ids: Vec<Option<&str>> = requests.iter().map(|r| r.webhook_id.as_deref()).collect();
    let event = completed(run);
    if stable {
        assert_eq!(ids, [Some("msg_plan1_completed_ep1"); 2]);
        assert_eq!((event.verdict, event.deliveries, event.attempts), (Verdict::Retried, 1, 2));
        assert!(run.result.report.pass);
    } else {
        assert_eq!(ids, [None, None]);
        assert_eq!((event.verdict, event.deliveries, event.attempts), (Verdict::Duplicate, 2, 2));
        assert!(!run.result.report.pass);
    }
}

#[test]
fn a_late_accept_with_a_stable_id_is_one_delivery_retried_on_the_memory_store() {
    let run = run(&late_accept("id = \"stable\""), None, Database::Memory);
    assert_late_accept(&run, true);
    assert_eq!(outcomes(&run), ["timed out", "200"], "virtual time answers the retry at once");
}

#[test]
fn a_late_accept_without_id_is_a_duplicate_on_the_memory_store() {
    let run = run(&late_accept("id = \"none\""), None, Database::Memory);
    assert_late_accept(&run, false);
}

#[test]
fn a_late_accept_with_a_stable_id_is_one_delivery_retried_on_postgres() {
    assert_late_accept(&run(&late_accept("id = \"stable\""), None, postgres()), true);
}

#[test]
fn a_late_accept_without_id_is_a_duplicate_on_postgres() {
    assert_late_accept(&run(&late_accept("id = \"none\""), None, postgres()), false);
}

#[test]
fn shipped_claim_sends_no_id_unless_the_file_says_so_and_the_others_a_stable_one() {
    let silent = late_accept("");
    for strategy in StrategyKind::all() {
        let run = run(&silent, Some(strategy), Database::Memory);
        assert_late_accept(&run, strategy != StrategyKind::SHIPPED_CLAIM);
        let omitted: Vec<bool> = run
            .result
            .history
            .iter()
            .filter_map(|e| match e.event {
                Event::SendStarted { id_omitted, .. } => Some(id_omitted),
                _ => None,
            })
            .collect();
        assert_eq!(omitted, [strategy == StrategyKind::SHIPPED_CLAIM; 2], "{strategy}");
    }
}

#[test]
fn an_id_in_webhook_applies_to_every_strategy() {
    for (id, stable) in [("stable", true), ("none", false)] {
        let scenario = late_accept(&format!("id = \"{id}\""));
        for strategy in StrategyKind::all() {
            assert_late_accept(&run(&scenario, Some(strategy), Database::Memory), stable);
        }
    }
}

#[test]
fn a_strategy_table_sets_the_policy_of_the_strategy_run_on_the_memory_store() {
    let scenario = refused("[webhook.seed-claim]\nattempts = 1\n\n[webhook.in-memory]\nid = \"none\"\n");
    let tries = |strategy| {
        let run = run(&scenario, strategy, Database::Memory);
        assert_eq!(completed(&run).verdict, Verdict::Undeliverable);
        let requests = &run.result.requests;
        (requests.len(), requests.iter().all(|r| r.webhook_id.is_some()))
    };
    // The file's strategy (shipped-claim) sends without id; --strategy picks the table.
    assert_eq!(tries(None), (3, false));
    assert_eq!(tries(Some(StrategyKind::SEED_CLAIM)), (1, true));
    assert_eq!(tries(Some(StrategyKind::IN_MEMORY)), (3, false));
    assert_eq!(tries(Some(StrategyKind::SHIPPED_CLAIM)), (3, false));
}

#[test]
fn a_strategy_table_sets_the_policy_of_the_strategy_run_on_postgres() {
    let scenario = refused("[webhook.seed-claim]\nattempts = 1\nid = \"none\"\n");
    let run = run(&scenario, Some(StrategyKind::SEED_CLAIM), postgres());
    assert_eq!(completed(&run).verdict, Verdict::Undeliverable);
    let requests = &run.result.requests;
    assert_eq!(requests.len(), 1, "{requests:#?}");
    assert_eq!(requests[0].webhook_id, None);
    assert_eq!(outcomes(&run), ["503"]);
}
