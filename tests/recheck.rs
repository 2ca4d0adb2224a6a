//! `hasim check-trace`'s library side (`hasim::recheck`): a run saved as the CLI
//! saves it is judged again from the file alone, to the same verdicts and checks; a
//! saved trace edited to lose a delivery is judged again to a different verdict.

mod common;

use std::path::PathBuf;

use hasim::check::Verdict;
use hasim::recheck::recheck_file;
use hasim::results::TraceFile;
use hasim::runner::ScenarioRun;

/// A file of its own under the test target directory.
fn temp_file(name: &str) -> PathBuf {
    let dir =
        std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("recheck-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a temp folder");
    dir.join(name)
}

/// Writes `runs` as `hasim run --json PATH` does.
fn save(runs: &[ScenarioRun], name: &str) -> PathBuf {
    let path = temp_file(name);
    let file = std::io::BufWriter::new(std::fs::File::create(&path).expect("the file"));
    serde_json::to_writer_pretty(file, &TraceFile::new("run", runs)).expect("the trace as JSON");
    path
}

#[test]
fn every_shipped_scenario_saved_and_checked_again_gets_the_same_verdicts_and_checks() {
    let runs: Vec<ScenarioRun> = common::shipped_scenarios()
        .iter()
        .map(|name| common::run_on_memory(&common::shipped(name), None))
        .collect();
    let path = save(&runs, "shipped.json");
    let again = recheck_file(&path).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(again.len(), runs.len());
    for (run, again) in runs.iter().zip(&again) {
        assert_eq!(again.name, run.name);
        assert_eq!((again.strategy, again.seed, again.store), (run.strategy, run.seed, run.store));
        assert_eq!(again.result.trace, run.result.trace, "{}: the trace reads back as written", run.name);
        assert_eq!(again.result.report, run.result.report, "{}: the same verdicts", run.name);
        assert_eq!(again.checks, run.checks, "{}: the same checks", run.name);
        assert_eq!(again.ok, run.ok, "{}", run.name);
    }
    std::fs::remove_file(path).unwrap();
}

#[test]
fn a_saved_trace_that_lost_its_webhook_request_is_judged_lost_again() {
    let run = common::run_on_memory(&common::shipped("happy-path.toml"), None);
    assert!(run.ok, "{:#?}", run.checks);
    let delivered =
        |run: &ScenarioRun| run.result.report.events.iter().map(|e| e.verdict).collect::<Vec<_>>();
    assert!(delivered(&run).contains(&Verdict::Delivered), "{:#?}", run.result.report);
    // The receiver's log, edited: every request it got is gone.
    let mut json = serde_json::to_value(TraceFile::new("run", [&run])).unwrap();
    let requests = json["runs"][0]["result"]["requests"].as_array_mut().expect("the receiver's log");
    assert!(!requests.is_empty(), "the run delivered something");
    requests.clear();
    let path = temp_file("lost.json");
    std::fs::write(&path, serde_json::to_vec_pretty(&json).unwrap()).unwrap();
    let again = recheck_file(&path).unwrap_or_else(|e| panic!("{e}"));
    let verdicts = delivered(&again[0]);
    assert!(verdicts.contains(&Verdict::Lost), "{verdicts:?}");
    assert!(!verdicts.contains(&Verdict::Delivered), "{verdicts:?}");
    assert!(!again[0].result.report.pass && !again[0].ok, "the run no longer keeps the contract");
    assert_ne!(again[0].result.report, run.result.report);
    std::fs::remove_file(path).unwrap();
}

#[test]
fn a_file_that_is_not_a_trace_is_an_error_naming_it() {
    let path = temp_file("not-a-trace.json");
    std::fs::write(&path, r#"{"format": "hasim-explore", "version": 1, "runs": []}"#).unwrap();
    let err = recheck_file(&path).unwrap_err().to_string();
    assert!(err.contains(&path.display().to_string()) && err.contains("hasim-explore"), "{err}");
    let missing = temp_file("missing.json");
    let err = recheck_file(&missing).unwrap_err().to_string();
    assert!(err.contains(&missing.display().to_string()) && err.contains("cannot read"), "{err}");
    std::fs::remove_file(path).unwrap();
}

/// `hasim check-trace` on what `hasim run --json` wrote: the same report, the same
/// exit status; a file that is no trace exits 2 and names it.
#[test]
fn check_trace_reports_a_saved_run_as_run_did_and_refuses_a_file_that_is_no_trace() {
    let saved = temp_file("cli-saved.json");
    let file = saved.to_str().unwrap();
    let ran =
        common::hasim(&["run", "scenarios/crash-after-claim.toml", "--store", "memory", "--json", file]);
    // seed-claim loses the event there, as the file expects: exit 0.
    assert_eq!(ran.status.code(), Some(0), "{}", String::from_utf8_lossy(&ran.stderr));
    let checked = common::hasim(&["check-trace", file]);
    assert_eq!(checked.status.code(), Some(0), "{}", String::from_utf8_lossy(&checked.stderr));
    let (ran, checked) = (String::from_utf8_lossy(&ran.stdout), String::from_utf8_lossy(&checked.stdout));
    let report =
        |out: &str| out.lines().filter(|l| !l.starts_with("results:")).collect::<Vec<_>>().join("\n");
    assert_eq!(report(&checked), report(&ran), "the same report, line for line");
    assert!(checked.contains("lost"), "{checked}");

    let bogus = temp_file("cli-bogus.json");
    std::fs::write(&bogus, "{\"format\": \"something-else\"}").unwrap();
    let refused = common::hasim(&["check-trace", bogus.to_str().unwrap()]);
    assert_eq!(refused.status.code(), Some(2));
    let said = String::from_utf8_lossy(&refused.stderr);
    assert!(said.contains("cannot check the trace") && said.contains("cli-bogus.json"), "{said}");
    let _ = std::fs::remove_file(&saved);
    let _ = std::fs::remove_file(&bogus);
}
