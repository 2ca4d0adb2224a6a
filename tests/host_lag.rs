//! A run on the real clock measures how far its host fell behind; a run on the paused
//! clock measures nothing, and its JSON is as it was.

mod common;

use std::path::Path;
use std::time::Duration;

use hasim::judge::RunResult;
use hasim::lag::{DB_PERIOD, HostLag, PERIOD};
use hasim::runner::{RunOptions, ScenarioRun, run_scenario};
use hasim::sim::Database;

/// The shipped happy path run on `database`, and its heartbeat interval.
#[track_caller]
fn happy_path(database: Database) -> (ScenarioRun, Duration) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/happy-path.toml");
    let scenario = hasim::scenario::load(&path).unwrap_or_else(|e| panic!("{e}"));
    let run = run_scenario(&scenario, &RunOptions { database, strategy: None, seed: None }).expect("the run");
    (run, scenario.spec.config.heartbeat)
}

#[test]
fn a_run_on_the_paused_clock_measures_no_lag_and_its_json_says_nothing_of_it() {
    let (run, _) = happy_path(Database::Memory);
    assert_eq!(run.result.host_lag, None);
    let json = serde_json::to_value(&run.result).expect("JSON");
    assert!(json.get("host_lag").is_none(), "no host_lag key on the memory store");
    // JSON written before runs measured their host still reads.
    let back: RunResult = serde_json::from_value(json).expect("reads back");
    assert_eq!(back.host_lag, None);
}

#[test]
fn a_run_on_postgres_measures_its_hosts_lag_against_a_quarter_of_the_heartbeat() {
    let (run, heartbeat) = happy_path(Database::Postgres { url: common::database_url(), keep_schema: false });
    let lag: HostLag = run.result.host_lag.expect("a run on the real clock measures its host");
    assert_eq!(lag.bound, heartbeat / 4);
    assert_eq!(lag.period, PERIOD);
    // The probe woke while the run lasted (every 10 ms, later on a busy host).
    assert!(lag.wakeups >= 1, "{lag:?} over {:?}", run.result.elapsed);
    assert!(lag.late <= lag.wakeups, "{lag:?}");
    assert_eq!(lag.warning().is_some(), lag.passed());
    // The server was asked every 100 ms on the connection that holds the schema (from
    // the cluster's start to the run's last look at the store, a little longer than
    // the run's own clock), and answered.
    assert!(run.result.elapsed >= DB_PERIOD * 2, "long enough to ask: {:?}", run.result.elapsed);
    assert!(lag.db_probes >= 1, "{lag:?} over {:?}", run.result.elapsed);
    let db = lag.db_max.expect("the database's slowest answer");
    assert!(db > Duration::ZERO && db < Duration::from_secs(60), "{lag:?}");
    let json = serde_json::to_value(&run.result).expect("JSON");
    assert_eq!(json["host_lag"]["max_us"], serde_json::json!(lag.max.as_micros() as u64));
    assert_eq!(json["host_lag"]["bound_us"], serde_json::json!(lag.bound.as_micros() as u64));
    assert_eq!(json["host_lag"]["db_max_us"], serde_json::json!(db.as_micros() as u64));
    assert!(lag.max < Duration::from_secs(60), "{lag:?}");
}
