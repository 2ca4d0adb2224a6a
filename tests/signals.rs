//! Ctrl-C and SIGTERM as a user and a CI runner send them: the first stops `run`,
//! `compare`, `explore` and `bench` cleanly (nothing of the run left on the server,
//! no port listening, a summary of what finished), exit 130 or 143; a second exits at
//! once.

mod common;

use std::time::Duration;

use common::database_url;
use common::process::{Ended, Running, logged};

/// Long enough for a clean stop on a busy host, far shorter than the work stopped.
const STOP_WITHIN: Duration = Duration::from_secs(60);
/// How long a run may take to get going.
const START_WITHIN: Duration = Duration::from_secs(60);

/// The run schemas and listening addresses a process named on stderr, then checks that
/// none of them is left: no schema, no backend of it, nothing listening.
#[track_caller]
fn assert_nothing_left(ended: &Ended) {
    let schemas = logged(&ended.stderr, "schema");
    assert!(!schemas.is_empty(), "the run named no schema:\n{}", ended.stderr);
    common::run(async {
        use sqlx::Connection;
        let mut conn = sqlx::PgConnection::connect(&database_url()).await.expect("Postgres");
        let (left,): (i64,) = sqlx::query_as("SELECT count(*) FROM pg_namespace WHERE nspname = ANY($1)")
            .bind(&schemas)
            .fetch_one(&mut conn)
            .await
            .unwrap();
        assert_eq!(left, 0, "schemas left of {schemas:?}:\n{}", ended.stderr);
        let patterns: Vec<String> = schemas.iter().map(|s| format!("{s}/%")).collect();
        let (backends,): (i64,) =
            sqlx::query_as("SELECT count(*) FROM pg_stat_activity WHERE application_name LIKE ANY($1)")
                .bind(&patterns)
                .fetch_one(&mut conn)
                .await
                .unwrap();
        assert_eq!(backends, 0, "backends of {schemas:?} left:\n{}", ended.stderr);
    });
    for addr in logged(&ended.stderr, "listening") {
        let addr: std::net::SocketAddr = addr.parse().expect("a socket address");
        assert!(
            std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(500)).is_err(),
            "{addr} still accepts connections"
        );
    }
}

#[track_caller]
fn assert_stopped(ended: &Ended, code: i32, signal: &str) {
    assert_eq!(ended.code, Some(code), "stdout:\n{}\nstderr:\n{}", ended.stdout, ended.stderr);
    assert!(ended.stderr.contains(&format!("stopped by {signal}")), "{}", ended.stderr);
    assert!(!ended.stderr.contains("panicked"), "{}", ended.stderr);
}

/// A run on a primary-standby pair, stopped under way: both servers are stopped and
/// their directory deleted before hasim exits.
#[test]
fn ctrl_c_during_a_run_on_a_pair_leaves_no_server_and_no_directory() {
    let mut hasim = Running::start(
        &["run", "scenarios/ha/failover-after-claim-async.toml", "--store", "postgres", "--no-results"],
        &[],
    );
    hasim.wait_for("link proxy started", START_WITHIN);
    let prefix = format!("hasim-pair-{}-", hasim.pid());
    let dirs: Vec<std::path::PathBuf> = std::fs::read_dir(std::env::temp_dir())
        .expect("the temporary directory")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.file_name().is_some_and(|n| n.to_string_lossy().starts_with(&prefix)))
        .collect();
    let [dir] = dirs.as_slice() else { panic!("one pair of {prefix}*: {dirs:?}") };
    assert_eq!(common::postmasters_under(dir), 2, "a primary and a standby run");
    hasim.signal("INT");
    let ended = hasim.finish(STOP_WITHIN);
    assert_stopped(&ended, 130, "SIGINT");
    assert_eq!(common::postmasters_under(dir), 0, "both servers stopped:\n{}", ended.stderr);
    assert!(!dir.exists(), "{} deleted", dir.display());
}

/// `hasim run` of every shipped scenario on Postgres, stopped by `signal` once the
/// first run is under way.
fn stop_a_postgres_run(signal: &str, code: i32) {
    let url = database_url();
    let mut hasim =
        Running::start(&["run", "scenarios/", "--store", "postgres", "--database-url", &url], &[]);
    hasim.wait_for("webhook receiver started", START_WITHIN);
    hasim.signal(signal);
    let ended = hasim.finish(STOP_WITHIN);
    assert_stopped(&ended, code, &format!("SIG{signal}"));
    assert!(ended.stdout.contains("scenarios run; the rest were not"), "{}", ended.stdout);
    assert_nothing_left(&ended);
}

#[test]
fn sigint_stops_a_postgres_run_cleanly_with_status_130() {
    stop_a_postgres_run("INT", 130);
}

#[test]
fn sigterm_stops_a_postgres_run_cleanly_with_status_143() {
    stop_a_postgres_run("TERM", 143);
}

#[test]
fn sigint_stops_a_postgres_compare_cleanly() {
    let url = database_url();
    let mut hasim =
        Running::start(&["compare", "scenarios/", "--store", "postgres", "--database-url", &url], &[]);
    hasim.wait_for("run schema dropped", START_WITHIN);
    hasim.signal("INT");
    let ended = hasim.finish(STOP_WITHIN);
    assert_stopped(&ended, 130, "SIGINT");
    assert!(ended.stdout.contains("stopped by SIGINT"), "{}", ended.stdout);
    assert_nothing_left(&ended);
}

#[test]
fn sigint_stops_a_memory_run_between_scenarios_and_reports_those_finished() {
    // The load scenarios are the longest on the memory store: seconds each.
    let mut hasim = Running::start(&["run", "scenarios/", "scenarios/load/", "--store", "memory"], &[]);
    hasim.wait_for("[2/", START_WITHIN);
    hasim.signal("INT");
    let ended = hasim.finish(STOP_WITHIN);
    assert_stopped(&ended, 130, "SIGINT");
    let summary = ended.stdout.lines().find(|l| l.contains("scenario run")).expect("a summary");
    assert!(!summary.starts_with("0 "), "at least the first scenario finished: {summary}");
    assert!(ended.stdout.contains("stopped by SIGINT: "), "{}", ended.stdout);
}

#[test]
fn sigterm_stops_a_memory_explore_with_what_it_found_so_far() {
    let out = std::env::temp_dir().join(format!("hasim-signals-explore-{}", std::process::id()));
    let out_arg = out.to_str().unwrap();
    let mut hasim = Running::start(
        &[
            "explore",
            "--strategy",
            "outbox",
            "--cases",
            "1000000",
            "--seed",
            "5",
            "--jobs",
            "1",
            "--out",
            out_arg,
        ],
        &[],
    );
    hasim.wait_for("exploring outbox", START_WITHIN);
    std::thread::sleep(Duration::from_secs(2));
    hasim.signal("TERM");
    let ended = hasim.finish(STOP_WITHIN);
    let _ = std::fs::remove_dir_all(&out);
    assert_stopped(&ended, 143, "SIGTERM");
    let summary = ended.stdout.lines().find(|l| l.starts_with("explored ")).expect("a summary");
    assert!(summary.contains("stopped by SIGTERM after"), "{summary}");
    assert!(summary.contains("of 1000000 cases"), "{summary}");
}

#[test]
fn sigint_stops_a_bench_and_writes_the_points_measured() {
    let json = std::env::temp_dir().join(format!("hasim-signals-bench-{}.json", std::process::id()));
    let mut hasim = Running::start(
        &[
            "bench",
            "hot",
            "--store",
            "memory",
            "--replicas",
            "1,2,4,8",
            "--duration",
            "1s",
            "--json",
            json.to_str().unwrap(),
        ],
        &[],
    );
    hasim.wait_for("bench point done", START_WITHIN);
    hasim.signal("INT");
    let ended = hasim.finish(STOP_WITHIN);
    assert_stopped(&ended, 130, "SIGINT");
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&json).expect("the JSON is written")).expect("JSON");
    let _ = std::fs::remove_file(&json);
    assert_eq!(report["interrupted"], "SIGINT");
    let points = report["points"].as_array().expect("points").len();
    assert!((1..4).contains(&points), "the points measured before the signal: {points}");
    assert!(ended.stdout.contains(&format!("stopped by SIGINT after {points} of 4")), "{}", ended.stdout);
}

#[test]
fn a_second_sigint_exits_at_once_and_gc_drops_what_it_left() {
    let url = database_url();
    let mut hasim =
        Running::start(&["run", "scenarios/", "--store", "postgres", "--database-url", &url], &[]);
    hasim.wait_for("webhook receiver started", START_WITHIN);
    hasim.signal("INT");
    // Two signals sent together may arrive as one: send the second once the first
    // has been heard.
    hasim.wait_for("stopping cleanly", START_WITHIN);
    hasim.signal("INT");
    let ended = hasim.finish(Duration::from_secs(5));
    assert_eq!(ended.code, Some(130), "{}", ended.stderr);
    assert!(!ended.stderr.contains("panicked"), "{}", ended.stderr);
    // Whatever it left is the business of `hasim gc`, once the server has seen the
    // dead process's connections close (until then the schema is in use).
    for schema in logged(&ended.stderr, "schema") {
        for _ in 0..40 {
            let out = common::hasim(&["gc", "--drop", "--database-url", &url, &schema]);
            assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
            if !String::from_utf8_lossy(&out.stdout).contains("kept: in use") {
                break;
            }
            std::thread::sleep(Duration::from_millis(250));
        }
    }
    assert_nothing_left(&ended);
}
