//! `hasim gc`: the run schemas left on a server, listed with their age, dropped with
//! `--drop`, never while young (`--older-than`) or in use; and the primary-standby
//! pairs a killed process left running, stopped and deleted.

mod common;

use std::time::Duration;

use common::process::{Running, logged};
use common::{database_url, hasim};

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Whether schema `name` exists on the test server.
fn exists(name: &str) -> bool {
    common::run(common::schema_exists(name))
}

#[test]
fn gc_lists_a_kept_schema_with_its_age_and_drops_it_only_when_old_enough() {
    let url = database_url();
    let run = Running::start(
        &["run", "scenarios/happy-path.toml", "--store", "postgres", "--database-url", &url, "--keep-schema"],
        &[],
    )
    .finish(Duration::from_secs(120));
    assert_eq!(run.code, Some(0), "{}\n{}", run.stdout, run.stderr);
    let schemas = logged(&run.stderr, "schema");
    let [schema] = schemas.as_slice() else { panic!("one schema created: {schemas:?}\n{}", run.stderr) };
    assert!(exists(schema), "--keep-schema keeps {schema}");

    let listed = hasim(&["gc", "--database-url", &url]);
    let stdout = text(&listed.stdout);
    assert_eq!(listed.status.code(), Some(0), "{}", text(&listed.stderr));
    let line = stdout.lines().find(|l| l.starts_with(schema.as_str())).unwrap_or_else(|| panic!("{stdout}"));
    assert!(line.contains("s old") && line.ends_with("left"), "its age, and nothing uses it: {line}");
    assert!(exists(schema), "listing drops nothing");

    let young = hasim(&["gc", "--database-url", &url, "--drop", "--older-than", "1h", schema]);
    let stdout = text(&young.stdout);
    assert!(
        stdout.contains(&format!("{schema}  ")) && stdout.contains("kept: younger than --older-than"),
        "{stdout}"
    );
    assert!(stdout.contains("1 run schema, 0 dropped"), "{stdout}");
    assert!(exists(schema), "a schema younger than --older-than stays");

    let dropped = hasim(&["gc", "--database-url", &url, "--drop", schema]);
    let stdout = text(&dropped.stdout);
    assert_eq!(dropped.status.code(), Some(0), "{}", text(&dropped.stderr));
    assert!(stdout.contains("dropped") && stdout.contains("1 run schema, 1 dropped"), "{stdout}");
    assert!(!exists(schema), "gc --drop dropped {schema}");
}

#[test]
fn gc_never_drops_a_schema_a_run_is_using() {
    let url = database_url();
    // The day in the life runs for many seconds on Postgres: long enough to look at.
    let mut run = Running::start(
        &["run", "scenarios/load/day-in-the-life.toml", "--store", "postgres", "--database-url", &url],
        &[],
    );
    run.wait_for("webhook receiver started", Duration::from_secs(60));
    let schemas = logged(&run.stderr(), "schema");
    let [schema] = schemas.as_slice() else { panic!("one schema: {schemas:?}") };
    let gc = hasim(&["gc", "--database-url", &url, "--drop", schema]);
    let stdout = text(&gc.stdout);
    run.signal("INT");
    let ended = run.finish(Duration::from_secs(60));
    assert!(stdout.contains("kept: in use ("), "{stdout}");
    assert!(stdout.contains("1 run schema, 0 dropped"), "{stdout}");
    assert_eq!(ended.code, Some(130), "{}", ended.stderr);
    assert!(!exists(schema), "the run dropped its own schema when stopped");
}

#[test]
fn gc_without_a_server_is_a_clear_error_with_status_2() {
    let out = hasim(&["gc", "--database-url", "postgres://postgres@127.0.0.1:1/postgres"]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("cannot connect to Postgres at postgres://postgres@127.0.0.1:1/postgres"),
        "{stderr}"
    );
}

#[test]
fn gc_stops_and_deletes_the_pair_of_a_killed_run_and_keeps_a_running_ones() {
    let mut run = Running::start(
        &["run", "scenarios/ha/failover-after-claim-async.toml", "--store", "postgres", "--no-results"],
        &[],
    );
    run.wait_for("link proxy started", Duration::from_secs(60));
    let name = format!("hasim-pair-{}-0", run.pid());
    let dir = std::env::temp_dir().join(&name);
    let kept = hasim(&["gc", "--drop", &name]);
    let stdout = text(&kept.stdout);
    assert!(stdout.contains(&format!("kept: in use (process {} runs)", run.pid())), "{stdout}");
    assert!(dir.exists(), "a pair in use stays");

    // Killed outright, hasim cannot stop its servers: they run on.
    run.signal("KILL");
    let ended = run.finish(Duration::from_secs(60));
    assert_eq!(ended.code, None, "killed: {}", ended.stderr);
    assert_eq!(common::postmasters_under(&dir), 2, "the pair outlives its process");
    let listed = hasim(&["gc", &name]);
    assert!(text(&listed.stdout).contains("left (process"), "{}", text(&listed.stdout));
    let dropped = hasim(&["gc", "--drop", &name]);
    let stdout = text(&dropped.stdout);
    assert_eq!(dropped.status.code(), Some(0), "{}", text(&dropped.stderr));
    assert!(
        stdout.contains("stopped and deleted") && stdout.contains("1 primary-standby pair, 1 stopped"),
        "{stdout}"
    );
    assert_eq!(common::postmasters_under(&dir), 0, "both servers stopped");
    assert!(!dir.exists(), "{} deleted", dir.display());
}
