//! A run on the memory store is a function of its scenario and seed across
//! processes, as users rely on: two `hasim` processes write the same JSON (history,
//! receiver log, verdicts, checks) and the same HTML page (`tests/cli.rs` shows the
//! library in the test's process giving the run the binary wrote). In-process
//! repeats cannot show this: a hash seeded per process, an address or a clock would
//! differ only between processes.

mod common;

use common::hasim;
use serde_json::Value;

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A file of this test's own in the temp directory.
fn temp(name: &str) -> std::path::PathBuf {
    std::env::temp_dir().join(format!("hasim-determinism-{}-{name}", std::process::id()))
}

/// The JSON with the runs' wall-clock times taken out: the one thing that differs.
fn without_wall(mut json: Value) -> Value {
    for run in json.as_array_mut().expect("an array of runs") {
        run.as_object_mut().expect("a run").remove("wall_us").expect("a run has its wall time");
    }
    json
}

/// Runs `hasim run FILE --json --html` in a process of its own; returns the JSON
/// (without wall times) and the page.
#[track_caller]
fn run_process(file: &str, tag: &str) -> (Value, String) {
    let (json, html) = (temp(&format!("{tag}.json")), temp(&format!("{tag}.html")));
    let out =
        hasim(&["run", file, "--json", json.to_str().unwrap(), "--html", html.to_str().unwrap(), "--quiet"]);
    assert_eq!(out.status.code(), Some(0), "{}\n{}", text(&out.stdout), text(&out.stderr));
    let value = common::trace_runs(&std::fs::read(&json).unwrap());
    let page = std::fs::read_to_string(&html).expect("the page");
    std::fs::remove_file(json).ok();
    std::fs::remove_file(html).ok();
    (without_wall(value), page)
}

#[test]
fn two_processes_write_the_same_json_and_page_for_a_scenario_with_random_draws() {
    // Its tasks draw outcomes and durations from the seed, over many plans.
    let file = "scenarios/many-plans-under-load.toml";
    let (json_a, page_a) = run_process(file, "a");
    let (json_b, page_b) = run_process(file, "b");
    assert!(json_a == json_b, "two processes wrote different runs of {file}");
    assert!(page_a == page_b, "two processes drew different pages of {file}");
    // The draws did something: the runs did not all end alike.
    let history = json_a[0]["result"]["history"].as_array().expect("a history");
    let ended: Vec<&str> =
        history.iter().filter(|e| e["kind"] == "run_ended").filter_map(|e| e["status"].as_str()).collect();
    assert!(ended.contains(&"DONE") && ended.contains(&"FAILED"), "{ended:?}");
}

#[test]
fn the_determinism_check_runs_on_the_memory_store_whatever_database_the_options_name() {
    // A server nobody listens on: a run that went to it would fail to connect.
    let options = hasim::runner::RunOptions {
        database: hasim::sim::Database::Postgres {
            url: "postgres://nobody@127.0.0.1:1/nothing".into(),
            keep_schema: false,
        },
        strategy: None,
        seed: None,
    };
    let scenario = common::shipped("happy-path.toml");
    let differs = hasim::runner::check_determinism(&scenario, &options).expect("runs on the memory store");
    assert_eq!(differs, None, "the memory store replays the seed");
}
