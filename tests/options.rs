//! One way to choose: `--store memory|postgres` on every command with one default
//! rule, `DATABASE_URL` read as the `--database-url` default (empty means unset),
//! every enumerated option's values listed in `--help`, and `--json -` for stdout.

mod common;

use std::process::{Command, Output};

use common::{database_url, hasim};

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// `hasim args` with `DATABASE_URL` set to `url`.
fn hasim_with_url(url: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_hasim"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("DATABASE_URL", url)
        .env("HASIM_RESULTS", common::results_root())
        .output()
        .expect("the hasim binary runs")
}

#[test]
fn every_command_that_runs_takes_store_and_lists_the_values_of_its_enumerated_options() {
    let values = |command: &[&str]| {
        let mut args = command.to_vec();
        args.push("--help");
        let out = hasim(&args);
        assert_eq!(out.status.code(), Some(0), "{command:?}");
        text(&out.stdout)
    };
    for command in [&["run"][..], &["compare"], &["explore"], &["bench"]] {
        let help = values(command);
        assert!(help.contains("--store <STORE>"), "{command:?}: {help}");
        assert!(help.contains("memory") && help.contains("postgres"), "{command:?} lists the stores: {help}");
        assert!(help.contains("DATABASE_URL"), "{command:?} names the variable: {help}");
    }
    for command in [&["run"][..], &["explore"]] {
        let help = values(command);
        for strategy in ["in-memory", "seed-claim", "shipped-claim", "outbox"] {
            assert!(help.contains(strategy), "{command:?} lists {strategy}: {help}");
        }
    }
    let bench = values(&["bench"]);
    for value in ["on-conflict", "advisory", "for-update", "actor-pool", "connection"] {
        assert!(bench.contains(value), "bench lists {value}: {bench}");
    }
    let bad = hasim(&["run", "scenarios/happy-path.toml", "--strategy", "optimistic"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(text(&bad.stderr).contains("possible values: in-memory, seed-claim"), "{}", text(&bad.stderr));
}

#[test]
fn an_empty_database_url_is_unset_for_every_command() {
    let run = hasim_with_url("", &["run", "scenarios/happy-path.toml"]);
    assert_eq!(run.status.code(), Some(0), "{}", text(&run.stderr));
    assert!(text(&run.stderr).contains("running on the memory store"), "{}", text(&run.stderr));
    assert!(text(&run.stdout).contains("on memory"), "{}", text(&run.stdout));

    let bench = hasim_with_url("", &["bench", "hot", "--replicas", "1", "--duration", "200ms"]);
    assert_eq!(bench.status.code(), Some(0), "{}", text(&bench.stderr));
    assert!(
        text(&bench.stdout).contains("memory"),
        "bench runs on the memory store: {}",
        text(&bench.stdout)
    );

    let explore = hasim_with_url("", &["explore", "--strategy", "outbox", "--cases", "2", "--seed", "1"]);
    assert!(text(&explore.stderr).contains("on the memory store"), "{}", text(&explore.stderr));
}

#[test]
fn a_database_url_in_the_environment_means_postgres_for_every_command() {
    let url = database_url();
    let run = hasim_with_url(&url, &["run", "scenarios/happy-path.toml", "--quiet"]);
    assert_eq!(run.status.code(), Some(0), "{}", text(&run.stderr));
    assert!(!text(&run.stderr).contains("memory store"), "{}", text(&run.stderr));

    let json = std::env::temp_dir().join(format!("hasim-options-{}.json", std::process::id()));
    let bench = hasim_with_url(
        &url,
        &["bench", "hot", "--replicas", "1", "--duration", "200ms", "--json", json.to_str().unwrap()],
    );
    assert_eq!(bench.status.code(), Some(0), "{}", text(&bench.stderr));
    let report: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    let _ = std::fs::remove_file(&json);
    assert_eq!(report["backend"], "postgres");

    let explore = hasim_with_url(&url, &["explore", "--strategy", "outbox", "--cases", "1", "--seed", "1"]);
    assert!(text(&explore.stderr).contains("on the postgres store"), "{}", text(&explore.stderr));

    // --store memory wins over the variable.
    let memory = hasim_with_url(&url, &["run", "scenarios/happy-path.toml", "--store", "memory"]);
    assert!(text(&memory.stdout).contains("on memory"), "{}", text(&memory.stdout));
}

#[test]
fn json_dash_writes_the_results_to_stdout_and_the_report_to_stderr() {
    let out = hasim(&["run", "scenarios/happy-path.toml", "--store", "memory", "--json", "-"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let runs = common::trace_runs(&out.stdout);
    assert_eq!(runs[0]["name"], "happy-path");
    assert!(text(&out.stderr).contains("1 scenario run: 1 as expected"), "{}", text(&out.stderr));
    assert!(!std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("-").exists(), "no file named -");

    let bench = hasim(&[
        "bench",
        "hot",
        "--store",
        "memory",
        "--replicas",
        "1",
        "--duration",
        "200ms",
        "--json",
        "-",
    ]);
    assert_eq!(bench.status.code(), Some(0), "{}", text(&bench.stderr));
    let report: serde_json::Value = serde_json::from_slice(&bench.stdout).expect("stdout is the JSON alone");
    assert_eq!(report["points"].as_array().map(Vec::len), Some(1));
}
