//! The shipped scenarios, run as `hasim run` runs them: every file's expectations
//! hold on both stores, the memory store replays a seed exactly, and each fault kind
//! visibly strikes.

mod common;

use std::path::Path;

use hasim::cluster::Database;
use hasim::history::Event;
use hasim::runner::{RunOptions, ScenarioRun, run_scenario};
use hasim::webhook::Answer;

fn options(database: Database) -> RunOptions {
    RunOptions { database, strategy: None, seed: None }
}

fn postgres() -> Database {
    Database::Postgres { url: common::database_url(), keep_schema: false }
}

/// Postgres runs are timed in real milliseconds: run them one at a time, so tests
/// of this file do not starve each other's replicas of the machine's two cores.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

#[track_caller]
fn run_file(name: &str, database: Database) -> ScenarioRun {
    let _turn = match database {
        Database::Postgres { .. } => Some(ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner())),
        Database::Memory => None,
    };
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios").join(name);
    let scenario = hasim::scenario::load(&path).unwrap_or_else(|e| panic!("{e}"));
    run_scenario(&scenario, &options(database)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

#[track_caller]
fn assert_expectations_hold(database: Database) {
    let names = common::shipped_scenarios();
    assert!(names.len() >= 12, "at least twelve shipped scenarios");
    let failed: Vec<String> = names
        .iter()
        .map(|name| run_file(name, database.clone()))
        .filter(|run| !run.ok)
        .map(|run| hasim::report::text::scenario(&run))
        .collect();
    assert!(failed.is_empty(), "scenarios not as expected:\n{}", failed.join("\n"));
}

#[test]
fn every_shipped_scenario_holds_its_expectations_on_postgres() {
    assert_expectations_hold(postgres());
}

#[test]
fn every_shipped_scenario_holds_its_expectations_on_the_memory_store() {
    assert_expectations_hold(Database::Memory);
}

#[test]
fn the_memory_store_replays_every_scenario_exactly() {
    for name in common::shipped_scenarios() {
        let (a, b) = (run_file(&name, Database::Memory), run_file(&name, Database::Memory));
        assert_eq!(a.result.history, b.result.history, "{name}: histories differ");
        assert_eq!(hasim::report::text::scenario(&a), hasim::report::text::scenario(&b), "{name}");
    }
}

fn entries(run: &ScenarioRun) -> std::slice::Iter<'_, hasim::history::Entry> {
    run.result.history.iter()
}

#[test]
fn a_crash_at_a_crash_point_stops_the_replica_there_and_a_new_incarnation_starts() {
    for database in [Database::Memory, postgres()] {
        let run = run_file("crash-after-claim.toml", database);
        let crash = entries(&run)
            .find(|e| matches!(&e.event, Event::Crashed { point: Some(p), .. } if p == "after-claim"))
            .expect("a crash at after-claim");
        let winner = entries(&run)
            .filter(|e| e.seq < crash.seq)
            .rfind(|e| matches!(e.event, Event::ClaimAttempted { claim: hasim::store::Claim::Won, .. }))
            .expect("a won claim before it");
        assert_eq!(winner.by, crash.by, "the winner is the one that crashed");
        assert!(entries(&run).any(|e| matches!(&e.event, Event::Restarted { .. })), "{}", run.store);
        assert!(!entries(&run).any(|e| matches!(e.event, Event::SendStarted { .. })), "nothing was sent");
    }
}

#[test]
fn a_partitioned_replica_goes_silent_while_the_other_fails_its_runs() {
    for database in [Database::Memory, postgres()] {
        let run = run_file("db-partition-of-the-sender.toml", database);
        let started = |fault| {
            entries(&run)
                .find(|e| matches!(e.event, Event::FaultStarted { fault: f, .. } if f == fault))
                .unwrap()
                .at
        };
        let ended = |fault| {
            entries(&run)
                .find(|e| matches!(e.event, Event::FaultEnded { fault: f } if f == fault))
                .unwrap()
                .at
        };
        let (from, until) = (started(1), ended(1));
        let r1_writes_inside = entries(&run)
            .filter(|e| e.by.as_ref().is_some_and(|r| r.0 == "r1") && e.event.invoked().is_some())
            .filter(|e| e.at > from + std::time::Duration::from_millis(100) && e.at < until)
            .count();
        assert_eq!(r1_writes_inside, 0, "{}: r1 wrote nothing while cut off", run.store);
        let cleaned = entries(&run)
            .filter(|e| e.at < until)
            .filter(|e| matches!(e.event, Event::RunEnded { by_cleaner: true, .. }))
            .filter(|e| e.by.as_ref().is_some_and(|r| r.0 == "r2"))
            .count();
        assert!(cleaned > 0, "{}: r2's cleaner failed r1's runs during the partition", run.store);
    }
}

#[test]
fn db_latency_slows_only_the_slow_replicas_writes() {
    for database in [Database::Memory, postgres()] {
        let run = run_file("slow-db-link.toml", database);
        let h = &run.result.history;
        // How long each write took: from the last entry before its invocation to its return.
        let took = |replica: &str| {
            h.iter()
                .filter(|e| e.by.as_ref().is_some_and(|r| r.0 == replica))
                .filter_map(|e| {
                    let invoked = e.event.invoked()? as usize;
                    let before = h[..invoked.min(h.len())].last().map_or(e.at, |b| b.at);
                    Some(e.at.saturating_sub(before))
                })
                .max()
                .unwrap_or_default()
        };
        assert!(
            took("r1") >= std::time::Duration::from_millis(20),
            "{}: r1's slowest write {:?}",
            run.store,
            took("r1")
        );
    }
}

#[test]
fn a_connection_reset_fails_writes_in_flight_and_the_replica_recovers() {
    for database in [Database::Memory, postgres()] {
        let run = run_file("db-connection-reset.toml", database);
        let failed = entries(&run)
            .filter(|e| matches!(e.event, Event::StoreFailed { .. }))
            .filter(|e| e.by.as_ref().is_some_and(|r| r.0 == "r1"))
            .count();
        assert!(failed > 0, "{}: some r1 write failed with the reset", run.store);
        assert!(run.ok, "{}", hasim::report::text::scenario(&run));
    }
}

#[test]
fn endpoint_faults_appear_in_the_receiver_log() {
    for database in [Database::Memory, postgres()] {
        let down = run_file("endpoint-down-then-back.toml", database.clone());
        let refused = down
            .result
            .requests
            .iter()
            .filter(|r| matches!(r.answer, Answer::Status { code: 503, .. }))
            .count();
        assert!(refused >= 3, "{}: the 503s are in the receiver log", down.store);

        let slow = run_file("endpoint-slower-than-timeout.toml", database);
        let answers: Vec<&Answer> = slow.result.requests.iter().map(|r| &r.answer).collect();
        assert!(
            matches!(answers[..], [Answer::Hang, Answer::Reset, Answer::Status { code: 200, .. }]),
            "{answers:?}"
        );
        let outcomes: Vec<String> = entries(&slow)
            .filter_map(|e| match &e.event {
                Event::SendFinished { outcome, .. } => Some(outcome.clone()),
                _ => None,
            })
            .collect();
        assert_eq!(outcomes[0], "timed out", "{}: {outcomes:?}", slow.store);
        assert!(outcomes[1].starts_with("failed"), "{}: {outcomes:?}", slow.store);
    }
}

/// The load scenarios of `scenarios/load/` are too big to run on Postgres in a debug
/// build beside the rest of the suite; on the memory store they run here, and their
/// expectations hold.
#[test]
fn the_day_in_the_life_holds_its_expectations_on_the_memory_store() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/load/day-in-the-life.toml");
    let scenario = hasim::scenario::load(&path).unwrap_or_else(|e| panic!("{e}"));
    assert!(scenario.spec.plans.len() >= 1_000, "a thousand plans at least");
    let run = run_scenario(&scenario, &options(Database::Memory)).expect("runs");
    assert!(run.ok, "{}", hasim::report::text::scenario(&run));
    let crashes = entries(&run).filter(|e| matches!(e.event, Event::Crashed { .. })).count();
    assert_eq!(crashes, 16, "every replica crashes once");
}
