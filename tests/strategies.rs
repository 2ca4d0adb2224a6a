//! Each documented weakness of the weaker designs, shown in its own scenario with the
//! checker's witness naming the cause; `outbox` keeping the contract everywhere; and
//! the late status write under each status write mode.

mod common;

use std::path::Path;

use hasim::check::{EventReport, Verdict};
use hasim::history::Event;
use hasim::model::{EventType, RunStatus};
use hasim::runner::{RunOptions, ScenarioRun, run_scenario};
use hasim::sim::Database;
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
    let run = run("skip-failed-task.toml", StrategyKind::SEED_CLAIM, Database::Memory);
    assert_witnessed(
        &run,
        EventType::PipelineCompleted,
        Verdict::Lost,
        &["skipped", "no completion check ran"],
    );
}

#[test]
fn seed_claim_loses_completed_when_the_last_open_tasks_are_skipped() {
    let run = run("skip-last-open-tasks.toml", StrategyKind::SEED_CLAIM, Database::Memory);
    assert_witnessed(
        &run,
        EventType::PipelineCompleted,
        Verdict::Lost,
        &["skipped", "no completion check ran"],
    );
}

#[test]
fn both_claim_designs_lose_the_event_on_a_crash_after_the_claim() {
    for strategy in [StrategyKind::SEED_CLAIM, StrategyKind::SHIPPED_CLAIM] {
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
    for strategy in [StrategyKind::SEED_CLAIM, StrategyKind::SHIPPED_CLAIM] {
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
    let run = run("skip-on-completed-plan.toml", StrategyKind::SHIPPED_CLAIM, Database::Memory);
    assert_witnessed(
        &run,
        EventType::PipelineCompleted,
        Verdict::Duplicate,
        &["reset the claim", "won the claim"],
    );
}

#[test]
fn in_memory_duplicates_with_two_replicas() {
    let run = run("concurrent-failures.toml", StrategyKind::IN_MEMORY, Database::Memory);
    assert_witnessed(&run, EventType::PipelineFailed, Verdict::Duplicate, &["r1 sent", "r2 sent"]);
}

/// Without faults every design keeps the contract: each event the plans owe (a
/// failure, then the completion after the retry) is delivered once, by whichever path
/// the design announces it.
#[test]
fn every_design_delivers_every_event_of_a_run_without_faults() {
    for strategy in StrategyKind::all() {
        for name in ["happy-path.toml", "fail-retry-complete.toml"] {
            let run = run(name, strategy, Database::Memory);
            let report = &run.result.report;
            assert!(report.pass && !report.events.is_empty(), "{}", hasim::report::text::scenario(&run));
            for e in &report.events {
                assert_eq!(e.verdict, Verdict::Delivered, "{name} under {strategy}: {}", e.witness.summary);
            }
        }
    }
}

/// The claim design as shipped resets the plan's claims when a retry starts runs, so
/// each failed episode of the design plan's manual test (fail, retry, fail again,
/// retry, complete) is announced, and the completion too.
#[test]
fn shipped_claim_announces_every_failed_episode_of_the_manual_test() {
    let run = run("design-plan-manual-test.toml", StrategyKind::SHIPPED_CLAIM, Database::Memory);
    let report = &run.result.report;
    let failed = report.events.iter().filter(|e| e.event == EventType::PipelineFailed).count();
    assert!(failed >= 2, "{}", hasim::report::text::scenario(&run));
    for e in &report.events {
        assert_eq!(e.verdict, Verdict::Delivered, "{} ep {}: {}", e.event, e.episode, e.witness.summary);
    }
}

#[track_caller]
fn assert_outbox_keeps_the_contract(database: Database) {
    for name in common::shipped_scenarios() {
        let run = run(&name, StrategyKind::OUTBOX, database.clone());
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

/// `unfenced-status-write.toml` with `[cluster] status_write = mode`, which applies to
/// every strategy, run under `strategy`.
#[track_caller]
fn late_done(mode: &str, strategy: StrategyKind, database: Database) -> ScenarioRun {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/unfenced-status-write.toml");
    let text = std::fs::read_to_string(path).unwrap();
    let text = text.replacen("[cluster]\n", &format!("[cluster]\nstatus_write = \"{mode}\"\n"), 1);
    let scenario =
        hasim::scenario::parse("unfenced-status-write.toml", &text).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(scenario.spec.config.status_write.map(|m| m.to_string()).as_deref(), Some(mode));
    let options = RunOptions { database, strategy: Some(strategy), seed: None };
    let run = run_scenario(&scenario, &options).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(run.status_write.as_str(), mode, "the file's mode, whatever the strategy");
    run
}

/// The (event, verdict) pairs of a run, in report order.
fn verdicts(run: &ScenarioRun) -> Vec<(EventType, Verdict)> {
    run.result.report.events.iter().map(|e| (e.event, e.verdict)).collect()
}

#[test]
fn an_unfenced_done_over_the_cleaners_failed_owes_both_events_and_the_outbox_delivers_both() {
    let both =
        [(EventType::PipelineFailed, Verdict::Delivered), (EventType::PipelineCompleted, Verdict::Delivered)];
    let runs = [
        late_done("unfenced", StrategyKind::OUTBOX, Database::Memory),
        late_done(
            "unfenced",
            StrategyKind::OUTBOX,
            Database::Postgres { url: common::database_url(), keep_schema: false },
        ),
    ];
    for run in runs {
        let table = hasim::report::text::scenario(&run);
        assert_eq!(verdicts(&run), both, "{table}");
        let overwrite = run.result.history.iter().any(|e| {
            matches!(
                e.event,
                Event::RunEnded { status: RunStatus::Done, overwrote: Some(RunStatus::Failed), .. }
            )
        });
        assert!(overwrite, "the history shows the run going FAILED -> DONE:\n{table}");
    }
    // The claim designs, unfenced by default, lose the failure and announce the completion.
    let run = late_done("unfenced", StrategyKind::SHIPPED_CLAIM, Database::Memory);
    let lost =
        [(EventType::PipelineFailed, Verdict::Lost), (EventType::PipelineCompleted, Verdict::Delivered)];
    assert_eq!(verdicts(&run), lost, "{}", hasim::report::text::scenario(&run));
    assert_witnessed(&run, EventType::PipelineFailed, Verdict::Lost, &["cleaner on r2", "DONE over FAILED"]);
}

#[test]
fn a_fenced_or_status_guarded_write_leaves_the_cleaners_failure_standing_under_every_strategy() {
    for mode in ["fenced", "status-guarded"] {
        for strategy in StrategyKind::all() {
            let run = late_done(mode, strategy, Database::Memory);
            let table = hasim::report::text::scenario(&run);
            let want = match strategy {
                StrategyKind::OUTBOX => Verdict::Delivered,
                _ => Verdict::Lost,
            };
            assert_eq!(
                verdicts(&run),
                [(EventType::PipelineFailed, want)],
                "{mode}, nothing else owed:\n{table}"
            );
            assert!(run.result.requests.is_empty() == (want == Verdict::Lost), "{table}");
            let refused = !run
                .result
                .history
                .iter()
                .any(|e| matches!(e.event, Event::RunEnded { overwrote: Some(_), .. }));
            assert!(refused, "{mode}: the late DONE is refused:\n{table}");
        }
    }
}
