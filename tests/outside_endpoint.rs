//! Runs whose webhooks go to an outside endpoint (`[webhook] url`): hasim keeps no
//! receiver log, so the checker judges them from what the senders saw accepted and
//! says so. The endpoint here is a real HTTP server on 127.0.0.1 that the run does
//! not know, on the memory store and on Postgres.

mod common;

use std::collections::BTreeSet;

use common::OutsideEndpoint;
use hasim::check::{DeliveryView, Verdict};
use hasim::model::EventType;
use hasim::runner::{RunOptions, ScenarioRun, run_scenario};
use hasim::sim::Database;

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

/// Postgres runs are timed in real milliseconds: one at a time in this file.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// A task fails, the user retries it, the plan completes: a PIPELINE_FAILED in
/// episode 1 and a PIPELINE_COMPLETED in episode 2, sent to `url`.
fn fail_then_retry(url: &str) -> hasim::scenario::Scenario {
    let text = format!(
        r#"
name = "outside-endpoint"
description = "A failure and a completion announced to an endpoint hasim does not run."

[webhook]
url = "{url}"
secret = "{SECRET}"

[[plans]]
name = "deploy"
  [[plans.tasks]]
  name = "migrate"
  attempts = [
    {{ outcome = "failed", error = "syntax error", after = "80ms" }},
    {{ outcome = "done", after = "40ms" }},
  ]

[[timeline]]
at = "0ms"
plan = "deploy"
action = "run"

[[timeline]]
at = "1s"
plan = "deploy"
action = "retry"

[[expect]]
pass = true
"#
    );
    hasim::scenario::parse("outside-endpoint.toml", &text).unwrap_or_else(|e| panic!("{e}"))
}

fn run(url: &str, database: Database) -> ScenarioRun {
    let _turn = match database {
        Database::Postgres { .. } => Some(ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner())),
        Database::Memory => None,
    };
    let options = RunOptions { database, strategy: None, seed: None };
    run_scenario(&fail_then_retry(url), &options).unwrap_or_else(|e| panic!("{e}"))
}

fn postgres() -> Database {
    Database::Postgres { url: common::database_url(), keep_schema: false }
}

/// (event, episode, verdict) of every event the checker judged.
fn verdicts(run: &ScenarioRun) -> Vec<(EventType, u32, Verdict)> {
    run.result.report.events.iter().map(|e| (e.event, e.episode, e.verdict)).collect()
}

#[track_caller]
fn assert_delivered_as_the_endpoint_saw(database: Database) {
    let endpoint = OutsideEndpoint::start(200, SECRET);
    let run = run(endpoint.url(), database);
    let report = hasim::report::text::scenario(&run);
    assert_eq!(
        verdicts(&run),
        [
            (EventType::PipelineFailed, 1, Verdict::Delivered),
            (EventType::PipelineCompleted, 2, Verdict::Delivered)
        ],
        "{report}"
    );
    assert!(run.result.report.stray.is_empty(), "{report}");
    assert!(run.result.report.pass && run.ok, "{report}");
    assert_eq!(run.result.judged_from, DeliveryView::Senders);
    assert!(run.result.requests.is_empty(), "hasim kept no receiver log");
    assert!(
        report.contains(
            "outside endpoint: judged from what the senders saw accepted; the receiver's side is unknown"
        ),
        "{report}"
    );
    // The endpoint itself got exactly those two announcements, signed, and accepted them.
    let got = endpoint.requests();
    assert!(got.iter().all(|r| r.signature_ok && r.answer.is_accepted()), "{got:?}");
    let ids: BTreeSet<&str> = got.iter().filter_map(|r| r.webhook_id.as_deref()).collect();
    let plan = run.result.plans[0];
    let failed = hasim::webhook::webhook_id(plan, EventType::PipelineFailed, 1);
    let completed = hasim::webhook::webhook_id(plan, EventType::PipelineCompleted, 2);
    assert_eq!(ids, BTreeSet::from([failed.as_str(), completed.as_str()]), "{got:?}");
    assert_eq!(got.len(), 2, "{got:?}");
}

#[track_caller]
fn assert_refused_is_undeliverable(database: Database) {
    let endpoint = OutsideEndpoint::start(500, SECRET);
    let run = run(endpoint.url(), database);
    let report = hasim::report::text::scenario(&run);
    assert_eq!(
        verdicts(&run),
        [
            (EventType::PipelineFailed, 1, Verdict::Undeliverable),
            (EventType::PipelineCompleted, 2, Verdict::Undeliverable)
        ],
        "{report}"
    );
    assert!(run.ok, "undeliverable is not a violation: {report}");
    assert_eq!(run.result.judged_from, DeliveryView::Senders);
    // Every try reached the endpoint and was refused: 3 tries per event.
    let got = endpoint.requests();
    assert_eq!(got.len(), 6, "{got:?}");
    assert!(got.iter().all(|r| !r.answer.is_accepted()), "{got:?}");
}

#[test]
fn an_outside_endpoint_that_accepts_gets_every_event_delivered_on_the_memory_store() {
    assert_delivered_as_the_endpoint_saw(Database::Memory);
}

#[test]
fn an_outside_endpoint_that_accepts_gets_every_event_delivered_on_postgres() {
    assert_delivered_as_the_endpoint_saw(postgres());
}

#[test]
fn an_outside_endpoint_that_refuses_every_try_leaves_events_undeliverable_on_the_memory_store() {
    assert_refused_is_undeliverable(Database::Memory);
}

#[test]
fn an_outside_endpoint_that_refuses_every_try_leaves_events_undeliverable_on_postgres() {
    assert_refused_is_undeliverable(postgres());
}

#[test]
fn a_run_with_the_builtin_receiver_is_judged_from_its_log() {
    let scenario = common::shipped("happy-path.toml");
    let run = common::run_on_memory(&scenario, None);
    assert_eq!(run.result.judged_from, DeliveryView::Receiver);
    assert!(!hasim::report::text::scenario(&run).contains("outside endpoint"));
}
