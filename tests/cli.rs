//! The `hasim` binary as a user meets it: exit codes, positioned errors, help.

mod common;

use std::path::Path;

use common::hasim;

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn every_malformed_file_is_a_positioned_error_with_exit_status_2() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/malformed");
    let mut files: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    assert!(files.len() >= 20);
    for file in files {
        let out = hasim(&["check", file.to_str().unwrap()]);
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{}: {stderr}", file.display());
        let name = file.file_name().unwrap().to_string_lossy().into_owned();
        assert!(
            stderr.contains(&format!("{name}:")),
            "{}: the error names the file: {stderr}",
            file.display()
        );
        assert!(!stderr.contains("panicked"), "{}: {stderr}", file.display());
    }
}

#[test]
fn check_accepts_the_shipped_scenarios() {
    let out = hasim(&["check", "scenarios"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).lines().count() >= 12);
}

#[test]
fn check_json_gives_each_files_name_or_its_positioned_error() {
    // A shipped file, and a malformed one whose header says where its error is.
    let good = "scenarios/happy-path.toml";
    let bad = "tests/malformed/url_not_http.toml";
    let out = hasim(&["check", good, bad, "--json", "-"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON on stdout");
    assert_eq!(json["version"], 1);
    let files = json["files"].as_array().expect("files");
    assert_eq!(files.len(), 2, "{json:#}");
    assert_eq!(files[0]["path"], good);
    assert_eq!((files[0]["ok"].as_bool(), files[0]["name"].as_str()), (Some(true), Some("happy-path")));
    assert!(files[0].get("error").is_none(), "{json:#}");
    let error = &files[1]["error"];
    assert_eq!((files[1]["path"].as_str(), files[1]["ok"].as_bool()), (Some(bad), Some(false)));
    // The file's header: `# expect: 6:webhook.url: is not an http:// or https:// URL`.
    assert_eq!((error["line"].as_u64(), error["key"].as_str()), (Some(6), Some("webhook.url")), "{json:#}");
    assert!(error["message"].as_str().unwrap().contains("is not an http:// or https:// URL"), "{json:#}");
    // The text report still names the error, on stderr.
    assert!(text(&out.stderr).contains("url_not_http.toml:6:"), "{}", text(&out.stderr));
}

#[test]
fn bench_says_each_point_as_it_is_measured_before_the_table() {
    let out = hasim(&["bench", "hot", "--store", "memory", "--replicas", "1,2", "--duration", "100ms"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let progress: Vec<String> =
        text(&out.stderr).lines().filter(|l| l.starts_with("measured ")).map(str::to_owned).collect();
    assert_eq!(progress.len(), 2, "{progress:?}");
    assert!(progress[0].starts_with("measured 1 replica (1 of 2): "), "{progress:?}");
    assert!(progress[1].starts_with("measured 2 replicas (2 of 2): "), "{progress:?}");
    assert!(progress.iter().all(|l| l.ends_with(" 0 duplicates")), "{progress:?}");
    // The table itself is on stdout, once the sweep is done.
    assert!(text(&out.stdout).contains("claims/s"), "{}", text(&out.stdout));
}

#[test]
fn run_without_a_database_url_uses_the_memory_store_and_says_so() {
    let out = hasim(&["run", "scenarios/happy-path.toml"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("memory store"), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("PIPELINE_COMPLETED") && stdout.contains("delivered"), "{stdout}");
    assert!(stdout.contains("1 scenario run: 1 as expected"), "{stdout}");
}

#[test]
fn run_exits_1_when_an_expectation_does_not_hold() {
    // A file that wrongly expects the happy path to announce nothing.
    let text_of =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/happy-path.toml"));
    let wrong = text_of
        .unwrap()
        .replace("deliveries = [{ event = \"PIPELINE_COMPLETED\", episode = 1 }]", "deliveries = []");
    let path = std::env::temp_dir().join(format!("hasim-cli-wrong-{}.toml", std::process::id()));
    std::fs::write(&path, wrong).unwrap();
    let out = hasim(&["run", path.to_str().unwrap()]);
    std::fs::remove_file(&path).ok();
    assert_eq!(out.status.code(), Some(1), "{}\n{}", text(&out.stdout), text(&out.stderr));
    assert!(text(&out.stdout).contains("expected: add-index receives exactly []"), "{}", text(&out.stdout));
}

#[test]
fn the_determinism_check_passes_for_a_shipped_scenario() {
    let out = hasim(&["run", "--check-determinism", "scenarios/many-plans-under-load.toml"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
    assert!(text(&out.stdout).contains("deterministic"));
}

/// The JSON is the whole run: every field the library's run has, with the same values
/// (the memory store replays the seed in any process), wall time aside.
#[test]
fn run_writes_complete_json() {
    let path = std::env::temp_dir().join(format!("hasim-cli-{}.json", std::process::id()));
    let out =
        hasim(&["run", "scenarios/fail-retry-complete.toml", "--json", path.to_str().unwrap(), "--quiet"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let mut json = common::trace_runs(&std::fs::read(&path).unwrap());
    std::fs::remove_file(path).ok();
    let run = common::run_on_memory(&common::shipped("fail-retry-complete.toml"), None);
    let mut mine = serde_json::to_value(vec![&run]).expect("a run serializes");
    for runs in [&mut json, &mut mine] {
        let [run] = &mut runs.as_array_mut().expect("an array")[..] else { panic!("one run: {runs}") };
        assert!(run.as_object_mut().and_then(|r| r.remove("wall_us")).is_some(), "a wall time: {run}");
    }
    assert!(json == mine, "the JSON differs from the run:\n{json:#}\n---\n{mine:#}");
    // A run that says something: events judged and a history.
    assert!(!json[0]["result"]["report"]["events"].as_array().unwrap().is_empty());
}

/// `compare` runs the file under each strategy with that strategy's `[webhook.<s>]`
/// table: one try and no id for seed-claim, the file's three tries for shipped-claim.
#[test]
fn compare_runs_each_strategy_with_its_own_webhook_policy() {
    let scenario = r#"
name = "refused"
description = "The endpoint refuses every request."
[webhook]
attempts = 3
backoff = "10ms"
id = "stable"
[webhook.seed-claim]
attempts = 1
id = "none"
[[plans]]
name = "release"
  [[plans.tasks]]
  name = "migrate"
[[timeline]]
at = "0ms"
plan = "release"
action = "run"
[[faults]]
kind = "endpoint"
status = 503
at = "0ms"
"#;
    let id = std::process::id();
    let file = std::env::temp_dir().join(format!("hasim-cli-policies-{id}.toml"));
    let json = std::env::temp_dir().join(format!("hasim-cli-policies-{id}.json"));
    std::fs::write(&file, scenario).unwrap();
    let (file_arg, json_arg) = (file.to_str().unwrap(), json.to_str().unwrap());
    let out = hasim(&[
        "compare",
        file_arg,
        "--strategies",
        "seed-claim,shipped-claim",
        "--json",
        json_arg,
        "--quiet",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}\n{}", text(&out.stdout), text(&out.stderr));
    let runs = common::trace_runs(&std::fs::read(&json).unwrap());
    std::fs::remove_file(&file).ok();
    std::fs::remove_file(&json).ok();
    let requests = |strategy: &str| -> Vec<serde_json::Value> {
        let run = runs.as_array().unwrap().iter().find(|r| r["strategy"] == strategy).unwrap();
        run["result"]["requests"].as_array().unwrap().iter().map(|r| r["webhook_id"].clone()).collect()
    };
    assert_eq!(requests("seed-claim"), [serde_json::Value::Null]);
    assert_eq!(requests("shipped-claim"), vec![serde_json::json!("msg_plan1_completed_ep1"); 3]);
}

/// `hasim compare` and `--strategy` run each strategy with its own status write when
/// the file does not say, and with the file's when it does; the JSON and the report
/// name it.
#[test]
fn the_status_write_follows_the_strategy_run_unless_the_file_sets_it() {
    let id = std::process::id();
    let json = std::env::temp_dir().join(format!("hasim-cli-status-write-{id}.json"));
    let (json_arg, file) = (json.to_str().unwrap(), "scenarios/unfenced-status-write.toml");
    let out = hasim(&["compare", file, "--store", "memory", "--json", json_arg, "--quiet"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}
{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    let runs = common::trace_runs(&std::fs::read(&json).unwrap());
    let modes: Vec<(String, String)> = runs
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["strategy"].as_str().unwrap().into(), r["status_write"].as_str().unwrap().into()))
        .collect();
    let want = [
        ("in-memory", "unfenced"),
        ("seed-claim", "unfenced"),
        ("shipped-claim", "unfenced"),
        ("outbox", "fenced"),
    ];
    assert_eq!(modes, want.map(|(s, m)| (s.to_owned(), m.to_owned())));

    // A file that sets it: every strategy writes as it says.
    let pinned = "scenarios/db-partition-of-the-sender.toml";
    let out = hasim(&["run", pinned, "--store", "memory", "--strategy", "shipped-claim", "--json", json_arg]);
    let stdout = text(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}
{}",
        text(&out.stderr)
    );
    assert!(stdout.contains("[shipped-claim on memory, fenced status writes,"), "{stdout}");
    let runs = common::trace_runs(&std::fs::read(&json).unwrap());
    std::fs::remove_file(&json).ok();
    assert_eq!(runs[0]["status_write"], "fenced");
}

#[test]
fn run_judges_an_outside_endpoint_from_what_the_senders_saw_and_exits_0() {
    let endpoint = common::OutsideEndpoint::start(200, "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
    let happy =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/happy-path.toml"))
            .unwrap();
    // The same file, sending to the outside endpoint; `deliveries` needs hasim's receiver.
    let (head, _) = happy.split_once("[[expect]]").expect("happy-path expects something");
    let file = format!("{head}[[expect]]\npass = true\n").replacen(
        "[cluster]",
        &format!("[webhook]\nurl = \"{}\"\n\n[cluster]", endpoint.url()),
        1,
    );
    let id = std::process::id();
    let (path, json) = (
        std::env::temp_dir().join(format!("hasim-cli-outside-{id}.toml")),
        std::env::temp_dir().join(format!("hasim-cli-outside-{id}.json")),
    );
    std::fs::write(&path, file).unwrap();
    let out = hasim(&["run", path.to_str().unwrap(), "--json", json.to_str().unwrap()]);
    let written = std::fs::read(&json);
    std::fs::remove_file(&path).ok();
    std::fs::remove_file(&json).ok();
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{}", text(&out.stderr));
    assert!(
        stdout.contains(
            "outside endpoint: judged from what the senders saw accepted; the receiver's side is unknown"
        ),
        "{stdout}"
    );
    assert_eq!(stdout.matches(" delivered ").count(), 2, "{stdout}");
    let json = common::trace_runs(&written.unwrap());
    assert_eq!(json[0]["result"]["judged_from"], "senders");
    assert_eq!(endpoint.requests().len(), 2, "the endpoint got both announcements");
}

#[test]
fn bad_arguments_are_usage_errors() {
    assert_eq!(hasim(&["run"]).status.code(), Some(2));
    assert_eq!(hasim(&["run", "scenarios", "--strategy", "nope"]).status.code(), Some(2));
    let missing = hasim(&["run", "no/such/file.toml"]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(text(&missing.stderr).contains("no/such/file.toml"), "{}", text(&missing.stderr));
}

/// `hasim bench` refuses what it cannot measure before measuring, saying why, with
/// exit status 2, from the binary as a user runs it.
#[test]
fn bench_refuses_impossible_runs_with_a_clear_error_and_exit_status_2() {
    let unreachable = "postgres://postgres@127.0.0.1:1/postgres";
    for (args, says) in [
        (&["bench", "hot", "--replicas", "0"][..], "at least 1 replica"),
        (&["bench", "lukewarm"], "lukewarm"),
        (&["bench", "hot", "--replicas", "1", "--database-url", unreachable], "cannot connect to Postgres"),
        (
            &["bench", "hot", "--replicas", "1", "--pgbench", "--pgbench-bin", "/nonexistent/pgbench"],
            "pgbench",
        ),
        (&["bench", "outbox", "--memory"], "needs Postgres"),
    ] {
        let out = hasim(args);
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(says), "{args:?}: expected {says:?} in {stderr}");
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    }
}
