//! The shared database failing over: the scenarios of `scenarios/ha/` run on a real
//! primary-standby pair that hasim makes for each run, and on the memory store's
//! model of one. An asynchronous failover after a claim committed loses it (and the
//! history says which acknowledged writes it lost, the same on both stores); a
//! synchronous one loses no acknowledged write; every pair is gone after its run.

mod common;

use std::path::Path;

use hasim::history::Event;
use hasim::runner::{RunOptions, ScenarioRun, run_scenario};
use hasim::sim::Database;
use hasim::strategy::StrategyKind;

fn postgres() -> Database {
    Database::Postgres { url: common::database_url(), keep_schema: false }
}

/// Runs of the real clock, two servers each: one at a time.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// How often a run that failed while its host lagged is run again.
const LAGGED_RETRIES: usize = 3;

#[track_caller]
fn run_file(name: &str, strategy: StrategyKind, database: Database) -> hasim::Result<ScenarioRun> {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/ha").join(name);
    let scenario = hasim::scenario::load(&path).unwrap_or_else(|e| panic!("{e}"));
    run_scenario(&scenario, &RunOptions { database, strategy: Some(strategy), seed: None })
}

/// `name` under `strategy` on Postgres, run again while a failure may be the host's.
#[track_caller]
fn judged(name: &str, strategy: StrategyKind) -> ScenarioRun {
    let mut run = run_file(name, strategy, postgres()).unwrap_or_else(|e| panic!("{name}: {e}"));
    for _ in 0..LAGGED_RETRIES {
        if run.ok || run.result.host_lag.as_ref().is_none_or(|l| !l.passed()) {
            break;
        }
        run = run_file(name, strategy, postgres()).unwrap_or_else(|e| panic!("{name}: {e}"));
    }
    run
}

/// The operations of the writes the history says a failover lost.
fn lost(run: &ScenarioRun) -> Vec<&str> {
    let entries = run.result.history.iter();
    entries
        .filter_map(|e| match &e.event {
            Event::CommitLost { op, .. } => Some(op.as_str()),
            _ => None,
        })
        .collect()
}

/// The pairs of this process still on disk, while no test of this file runs one.
fn pairs_left() -> Vec<String> {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    let prefix = format!("hasim-pair-{}-", std::process::id());
    std::fs::read_dir(std::env::temp_dir())
        .map(|d| {
            d.filter_map(|e| e.ok()?.file_name().into_string().ok())
                .filter(|n| n.starts_with(&prefix))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn an_async_failover_after_a_claim_loses_it_and_the_designs_that_remember_in_the_database_send_twice() {
    for strategy in StrategyKind::all() {
        let run = judged("failover-after-claim-async.toml", strategy);
        assert!(run.ok, "{}", hasim::report::text::scenario(&run));
        // The history names the acknowledged writes the failover lost: the run's
        // failure, and the claim (or outbox row) written with it.
        let lost = lost(&run);
        assert!(lost.iter().any(|op| op.starts_with("FinishRun")), "{strategy}: {lost:?}");
        if matches!(strategy, StrategyKind::SEED_CLAIM | StrategyKind::SHIPPED_CLAIM) {
            assert!(lost.contains(&"ClaimEvent"), "{strategy}: {lost:?}");
            let duplicate = run.result.report.violations().next().expect("the duplicate");
            assert!(
                duplicate.witness.summary.contains("then lost in a failover"),
                "{}",
                duplicate.witness.summary
            );
        }
        // The memory model of the pair loses the same writes and judges the same.
        let model =
            run_file("failover-after-claim-async.toml", strategy, Database::Memory).expect("the model runs");
        assert!(model.ok, "{}", hasim::report::text::scenario(&model));
        assert_eq!(self::lost(&model), lost, "{strategy}: the model loses what the pair lost");
    }
    assert_eq!(pairs_left(), Vec::<String>::new(), "every pair is deleted after its run");
}

#[test]
fn a_sync_failover_loses_no_acknowledged_write_and_every_design_announces_once() {
    for strategy in StrategyKind::all() {
        let run = judged("failover-after-claim-sync.toml", strategy);
        assert!(run.ok, "{}", hasim::report::text::scenario(&run));
        assert_eq!(lost(&run), Vec::<&str>::new(), "{strategy}: nothing acknowledged is lost");
        assert!(run.result.report.pass, "{}", hasim::report::text::scenario(&run));
        let failover = run.result.history.iter().any(|e| {
            matches!(&e.event, Event::FaultStarted { description, .. } if description.starts_with("db-failover"))
        });
        assert!(failover, "{strategy}: the failover happened");
        let model =
            run_file("failover-after-claim-sync.toml", strategy, Database::Memory).expect("the model runs");
        assert!(model.ok && model.result.report.pass, "{}", hasim::report::text::scenario(&model));
        assert_eq!(lost(&model), Vec::<&str>::new(), "{strategy}: the model loses nothing acknowledged");
    }
    assert_eq!(pairs_left(), Vec::<String>::new(), "every pair is deleted after its run");
}

#[test]
fn a_restart_of_the_primary_breaks_connections_and_loses_nothing_on_both_stores() {
    for strategy in StrategyKind::all() {
        let run = judged("db-restart-while-tasks-run.toml", strategy);
        assert!(run.ok && run.result.report.pass, "{}", hasim::report::text::scenario(&run));
        assert_eq!(lost(&run), Vec::<&str>::new(), "{strategy}: a restart loses no commit");
        let broke = run.result.history.iter().any(|e| matches!(e.event, Event::StoreFailed { .. }));
        assert!(broke, "{strategy}: the restart broke the replicas' connections");
        let model =
            run_file("db-restart-while-tasks-run.toml", strategy, Database::Memory).expect("the model runs");
        assert!(model.ok && model.result.report.pass, "{}", hasim::report::text::scenario(&model));
        assert_eq!(lost(&model), Vec::<&str>::new(), "{strategy}: the model loses nothing either");
    }
    assert_eq!(pairs_left(), Vec::<String>::new(), "every pair is deleted after its run");
}

#[test]
fn a_failover_trace_matches_the_published_schema() {
    let run = judged("failover-after-claim-async.toml", StrategyKind::SEED_CLAIM);
    assert!(!lost(&run).is_empty());
    let trace = serde_json::to_value(hasim::results::TraceFile::new("run", [&run])).unwrap();
    let schema: serde_json::Value =
        serde_json::from_str(include_str!("../docs/trace.schema.json")).expect("the schema is JSON");
    let validator = jsonschema::draft202012::new(&schema).expect("the schema compiles");
    let errors: Vec<String> =
        validator.iter_errors(&trace).take(10).map(|e| format!("at {}: {e}", e.instance_path())).collect();
    assert!(errors.is_empty(), "{}", errors.join("\n"));
}
