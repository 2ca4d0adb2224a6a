//! A user's request that no live replica can serve is not dropped silently: it is a
//! history entry, drawn in the HTML report, listed in the scenario's report and
//! counted in the summary and the compare matrix.

mod common;

use std::path::PathBuf;

use common::hasim;

/// One replica, crashed at 0 ms for good; the plan's run comes at 10 ms and finds no
/// replica to serve it.
const ALONE_AND_DOWN: &str = r#"
name = "alone-and-down"
description = "The only replica crashes at 0 ms and never comes back; the user's run is dropped."
seed = 3

[cluster]
replicas = 1

[[plans]]
name = "add-index"
  [[plans.tasks]]
  name = "db-eu"
  duration = "40ms"

[[timeline]]
at = "10ms"
plan = "add-index"
action = "run"

[[faults]]
kind = "crash"
at = "0ms"
replica = "r1"
"#;

/// Two replicas; r2 is down when a request names it, r1 serves the other plan.
const NAMED_REPLICA_DOWN: &str = r#"
name = "named-replica-down"
description = "r2 crashes at 0 ms; a run sent to it is dropped, the other plan completes on r1."
seed = 4

[cluster]
replicas = 2

[[plans]]
name = "add-index"
  [[plans.tasks]]
  name = "db-eu"
  duration = "40ms"

[[plans]]
name = "drop-column"
  [[plans.tasks]]
  name = "db-eu"
  duration = "40ms"

[[timeline]]
at = "10ms"
plan = "add-index"
action = "run"
via = "r2"

[[timeline]]
at = "20ms"
plan = "drop-column"
action = "run"

[[faults]]
kind = "crash"
at = "0ms"
replica = "r2"

[[expect]]
plan = "drop-column"
deliveries = [{ event = "PIPELINE_COMPLETED", episode = 1 }]
"#;

struct Temp(PathBuf);

impl Temp {
    fn file(name: &str, text: &str) -> Temp {
        let path = std::env::temp_dir().join(format!("hasim-dropped-{}-{name}", std::process::id()));
        std::fs::write(&path, text).unwrap();
        Temp(path)
    }

    fn path(&self) -> &str {
        self.0.to_str().unwrap()
    }
}

impl Drop for Temp {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn a_run_whose_only_replica_is_down_says_its_request_was_dropped() {
    let scenario = Temp::file("alone.toml", ALONE_AND_DOWN);
    let (json, html) = (Temp::file("alone.json", ""), Temp::file("alone.html", ""));
    let out =
        hasim(&["run", scenario.path(), "--store", "memory", "--json", json.path(), "--html", html.path()]);
    let stdout = text(&out.stdout);
    // Nothing reached the cluster, so nothing was owed: the contract holds, and the
    // report says why rather than a bare ok.
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{}", text(&out.stderr));
    let header = stdout.lines().next().unwrap();
    assert!(header.ends_with("ok (1 request dropped)"), "{header}");
    assert!(
        stdout.contains("1 request dropped, no live replica to serve it: run add-index at 10ms"),
        "{stdout}"
    );
    assert!(stdout.contains("requests never reached the cluster"), "{stdout}");
    assert!(stdout.contains("1 user request dropped (no live replica)"), "{stdout}");

    let runs = common::trace_runs(&std::fs::read(&json.0).unwrap());
    let history = runs[0]["result"]["history"].as_array().unwrap();
    let dropped: Vec<&serde_json::Value> =
        history.iter().filter(|e| e["kind"] == "request_dropped").collect();
    assert_eq!(dropped.len(), 1, "{history:?}");
    assert_eq!(dropped[0]["action"], "run");
    assert_eq!(dropped[0]["name"], "add-index");
    assert_eq!(dropped[0]["plan_index"], 0);
    assert_eq!(dropped[0]["at_us"], 10_000, "at 10 ms");
    assert!(dropped[0].get("plan").is_none(), "a dropped first run never creates the plan");

    let page = std::fs::read_to_string(&html.0).unwrap();
    assert!(page.contains(r#"data-kind="dropped""#), "the page draws the dropped request");
    assert!(page.contains("run add-index dropped"), "and labels it");
}

#[test]
fn a_request_to_a_named_replica_that_is_down_is_dropped_and_counted_in_compare() {
    let scenario = Temp::file("named.toml", NAMED_REPLICA_DOWN);
    let json = Temp::file("named.json", "");
    let out = hasim(&["run", scenario.path(), "--store", "memory", "--json", json.path()]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(stdout.contains("run add-index at 10ms (via r2)"), "{stdout}");
    let runs = common::trace_runs(&std::fs::read(&json.0).unwrap());
    let history = runs[0]["result"]["history"].as_array().unwrap();
    let dropped: Vec<&serde_json::Value> =
        history.iter().filter(|e| e["kind"] == "request_dropped").collect();
    assert_eq!(dropped.len(), 1);
    assert_eq!(dropped[0]["via"], "r2");

    let out = hasim(&["compare", scenario.path(), "--store", "memory", "--quiet"]);
    let stdout = text(&out.stdout);
    let row = stdout.lines().find(|l| l.starts_with("named-replica-down")).expect("a row");
    assert_eq!(row.matches("ok, dropped 1").count(), 4, "every strategy's cell counts it: {row}");
}

#[test]
fn warnings_show_by_default_and_logs_are_coloured_only_on_a_terminal_without_no_color() {
    let scenario = Temp::file("log.toml", ALONE_AND_DOWN);
    // stderr is a pipe here: the warning shows, without colour.
    let out = hasim(&["run", scenario.path(), "--store", "memory"]);
    let stderr = text(&out.stderr);
    assert!(stderr.contains("WARN") && stderr.contains("no live replica to serve the request"), "{stderr}");
    assert!(!stderr.contains('\x1b'), "escape codes off a terminal: {stderr:?}");
    // On a terminal (script(1) gives it one) the log is coloured, unless NO_COLOR says no.
    let on_terminal = |no_color: Option<&str>| {
        let line = format!("{} run {} --store memory", env!("CARGO_BIN_EXE_hasim"), scenario.path());
        let mut script = std::process::Command::new("script");
        script.args(["-qec", &line, "/dev/null"]).env_remove("DATABASE_URL").env_remove("RUST_LOG");
        script.env("HASIM_RESULTS", common::results_root());
        match no_color {
            Some(value) => script.env("NO_COLOR", value),
            None => script.env_remove("NO_COLOR"),
        };
        let out = script.output().expect("script(1) runs (util-linux)");
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
        text(&out.stdout)
    };
    let coloured = on_terminal(None);
    assert!(coloured.contains("no live replica") && coloured.contains("\x1b["), "{coloured:?}");
    let plain = on_terminal(Some("1"));
    assert!(plain.contains("no live replica") && !plain.contains('\x1b'), "{plain:?}");
}
