//! Each documented weakness of the weaker designs, shown in its own scenario with the
//! checker's witness naming the cause; and `outbox` keeping the contract everywhere.

mod common;

use std::path::Path;

use hasim::check::{EventReport, Verdict};
use hasim::cluster::Database;
use hasim::model::EventType;
use hasim::runner::{RunOptions, ScenarioRun, run_scenario};
use hasim::strategy::StrategyKind;

#[track_caller]
fn run(name: &str, strategy: StrategyKind, database: Database) -> ScenarioRun {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios").join(name);
    let scenario = hasim::scenario::load(&path).unwrap_or_else(|e| panic!("{e}"));
    let options = RunOptions { database, strategy: Some(strategy), seed: None };
    run_scenario(&scenario, &options).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// The event of `event` type with `verdict`, and its witness containing every phrase.
#[track_caller]
fn assert_witnessed(run: &ScenarioRun, event: EventType, verdict: Verdict, phrases: &[&str]) {
    let found: Vec<&EventReport> =
        run.result.report.events.iter().filter(|e| e.event == event && e.verdict == verdict).collect();
    let table = hasim::report::text::scenario(run);
    let e = found.first().unwrap_or_else(|| panic!("no {event} {verdict} under {}:\n{table}", run.strategy));
    for phrase in phrases {
        assert!(e.witness.summary.contains(phrase), "witness lacks {phrase:?}: {}", e.witness.summary);
    }
}

#[test]
fn seed_claim_loses_completed_when_the_failed_task_is_skipped() {
    let run = run("skip-failed-task.toml", StrategyKind::SeedClaim, Database::Memory);
    assert_witnessed(
        &run,
        EventType::PipelineCompleted,
        Verdict::Lost,
        &["skipped", "no completion check ran"],
    );
}

#[test]
fn seed_claim_loses_completed_when_the_last_open_tasks_are_skipped() {
    let run = run("skip-last-open-tasks.toml", StrategyKind::SeedClaim, Database::Memory);
    assert_witnessed(
        &run,
        EventType::PipelineCompleted,
        Verdict::Lost,
        &["skipped", "no completion check ran"],
    );
}

#[test]
fn both_claim_designs_lose_the_event_on_a_crash_after_the_claim() {
    for strategy in [StrategyKind::SeedClaim, StrategyKind::ShippedClaim] {
        let run = run("crash-after-claim.toml", strategy, Database::Memory);
        assert_witnessed(
            &run,
            EventType::PipelineFailed,
            Verdict::Lost,
            &["won the claim", "crashed", "after-claim"],
        );
    }
}

#[test]
fn both_claim_designs_lose_completed_on_a_crash_after_done_before_the_check() {
    for strategy in [StrategyKind::SeedClaim, StrategyKind::ShippedClaim] {
        let run = run("crash-before-completion-check.toml", strategy, Database::Memory);
        assert_witnessed(
            &run,
            EventType::PipelineCompleted,
            Verdict::Lost,
            &["crashed", "after-status-write"],
        );
    }
}

#[test]
fn shipped_claim_announces_completed_twice_when_run_and_skip_hit_a_complete_plan() {
    let run = run("skip-on-completed-plan.toml", StrategyKind::ShippedClaim, Database::Memory);
    assert_witnessed(
        &run,
        EventType::PipelineCompleted,
        Verdict::Duplicate,
        &["reset the claim", "won the claim"],
    );
}

#[test]
fn in_memory_duplicates_with_two_replicas() {
    let run = run("concurrent-failures.toml", StrategyKind::InMemory, Database::Memory);
    assert_witnessed(&run, EventType::PipelineFailed, Verdict::Duplicate, &["r1 sent", "r2 sent"]);
}

#[track_caller]
fn assert_outbox_keeps_the_contract(database: Database) {
    for name in common::shipped_scenarios() {
        let run = run(&name, StrategyKind::Outbox, database.clone());
        assert!(run.result.report.pass && run.ok, "{}", hasim::report::text::scenario(&run));
    }
}

#[test]
fn outbox_keeps_the_contract_on_every_shipped_scenario_in_memory() {
    assert_outbox_keeps_the_contract(Database::Memory);
}

#[test]
fn outbox_keeps_the_contract_on_every_shipped_scenario_on_postgres() {
    assert_outbox_keeps_the_contract(Database::Postgres { url: common::database_url(), keep_schema: false });
}
