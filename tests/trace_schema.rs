//! The trace (`--json`, a results folder's `trace.json`) against its published JSON
//! Schema, `docs/trace.schema.json`: real traces of the binary validate, on both
//! stores and from every command that writes one, and the schema refuses what the
//! format does not allow, so it is not a schema that accepts anything.

mod common;

use common::{hasim, hasim_on_postgres};
use serde_json::{Value, json};

/// The schema, checked against the JSON Schema meta-schema, compiled.
fn validator() -> jsonschema::Validator {
    let schema: Value =
        serde_json::from_str(include_str!("../docs/trace.schema.json")).expect("the schema is JSON");
    assert!(jsonschema::meta::is_valid(&schema), "docs/trace.schema.json is not a valid JSON Schema");
    assert_eq!(schema["$schema"], "https://json-schema.org/draft/2020-12/schema");
    jsonschema::draft202012::new(&schema).expect("the schema compiles")
}

/// What the schema finds wrong with `trace` (the first few).
fn errors(validator: &jsonschema::Validator, trace: &Value) -> Vec<String> {
    validator.iter_errors(trace).take(12).map(|e| format!("at {}: {e}", e.instance_path())).collect()
}

#[track_caller]
fn assert_valid(validator: &jsonschema::Validator, trace: &Value, what: &str) {
    let found = errors(validator, trace);
    assert!(found.is_empty(), "{what} does not match docs/trace.schema.json:\n{}", found.join("\n"));
}

/// The JSON `hasim args --json -` prints.
#[track_caller]
fn trace_of(out: std::process::Output) -> Value {
    assert!(matches!(out.status.code(), Some(0 | 1)), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("the trace on stdout")
}

/// Every kind of history entry in `trace`.
fn kinds(trace: &Value) -> std::collections::BTreeSet<String> {
    let runs = trace["runs"].as_array().into_iter().flatten();
    let entries = runs.flat_map(|r| r["result"]["history"].as_array().into_iter().flatten());
    entries.filter_map(|e| e["kind"].as_str().map(str::to_owned)).collect()
}

#[test]
fn a_compare_of_every_shipped_scenario_on_the_memory_store_matches_the_schema() {
    let validator = validator();
    let trace = trace_of(hasim(&[
        "compare",
        "scenarios/",
        "--store",
        "memory",
        "--quiet",
        "--no-results",
        "--json",
        "-",
    ]));
    assert_eq!(trace["command"], "compare");
    // Enough of the format to say something: most kinds of entry are in it.
    assert!(kinds(&trace).len() >= 20, "{:?}", kinds(&trace));
    assert_valid(&validator, &trace, "hasim compare scenarios/");
}

#[test]
fn a_postgres_run_and_a_results_folder_match_the_schema() {
    let validator = validator();
    let root = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("trace-schema-{}", std::process::id()));
    let files = ["scenarios/crash-after-claim.toml", "scenarios/endpoint-accepts-late.toml"];
    let out = hasim_on_postgres(&["run", files[0], files[1], "--quiet", "--results", root.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stdout));
    let trace: Value =
        serde_json::from_slice(&std::fs::read(root.join("latest/trace.json")).unwrap()).unwrap();
    std::fs::remove_dir_all(&root).ok();
    assert_eq!(trace["runs"][0]["store"], "postgres");
    assert!(trace["runs"][0]["result"]["host_lag"].is_object(), "a real-time run measures its host");
    assert_valid(&validator, &trace, "a Postgres run's trace.json");
}

#[test]
fn the_replays_explore_keeps_match_the_schema() {
    let validator = validator();
    let out_dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("trace-explore-{}", std::process::id()));
    let root = out_dir.join("results");
    let out = common::explore_seed_claim(&out_dir, &root);
    assert_eq!(out.status.code(), Some(1), "a counterexample: {}", String::from_utf8_lossy(&out.stdout));
    let trace: Value =
        serde_json::from_slice(&std::fs::read(root.join("latest/trace.json")).unwrap()).unwrap();
    std::fs::remove_dir_all(&out_dir).ok();
    assert_eq!(trace["command"], "explore");
    assert!(!trace["runs"].as_array().unwrap().is_empty());
    assert_valid(&validator, &trace, "explore's trace.json");
}

/// A change that makes a valid trace invalid.
type Breaking = fn(&mut Value);

#[test]
fn the_schema_refuses_what_the_format_does_not_allow() {
    let validator = validator();
    let trace = trace_of(hasim(&[
        "run",
        "scenarios/crash-after-claim.toml",
        "--store",
        "memory",
        "--no-results",
        "--json",
        "-",
    ]));
    assert_valid(&validator, &trace, "crash-after-claim");
    let broken: [(&str, Breaking); 8] = [
        ("an unknown top-level field", |t| t["extra"] = json!(1)),
        ("another format", |t| t["format"] = json!("hasim-bench")),
        ("a run without its result", |t| {
            t["runs"][0].as_object_mut().unwrap().remove("result");
        }),
        ("an entry of an unknown kind", |t| {
            t["runs"][0]["result"]["history"][0]["kind"] = json!("teleported")
        }),
        ("a negative time", |t| t["runs"][0]["result"]["history"][0]["at_us"] = json!(-1)),
        ("a time in seconds and nanoseconds", |t| {
            t["runs"][0]["result"]["elapsed_us"] = json!({"secs": 1, "nanos": 0})
        }),
        ("a verdict the contract does not have", |t| {
            t["runs"][0]["result"]["report"]["events"][0]["verdict"] = json!("mostly-delivered")
        }),
        ("an entry missing a field of its kind", |t| {
            let entry = t["runs"][0]["result"]["history"]
                .as_array_mut()
                .unwrap()
                .iter_mut()
                .find(|e| e["kind"] == "claim_attempted")
                .expect("a claim in crash-after-claim");
            entry.as_object_mut().unwrap().remove("plan");
        }),
    ];
    for (what, break_it) in broken {
        let mut bad = trace.clone();
        break_it(&mut bad);
        assert!(!errors(&validator, &bad).is_empty(), "the schema accepts {what}");
    }
}
