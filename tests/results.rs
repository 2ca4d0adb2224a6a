//! The results folder: `run`, `compare` and `explore` keep what they ran and found in
//! `<root>/<time>-<label>/` and point `<root>/latest` at it; `--no-results` keeps
//! nothing; a root that cannot be written is a clear error.

mod common;

use std::path::{Path, PathBuf};

use common::hasim;

/// A fresh, empty results root under the test target directory, removed when dropped.
struct Root(PathBuf);

impl Root {
    fn new(name: &str) -> Root {
        let dir =
            Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("results-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        Root(dir)
    }

    fn arg(&self) -> &str {
        self.0.to_str().unwrap()
    }

    /// The folders made under the root (not `latest`).
    fn folders(&self) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(&self.0)
            .map(|d| d.filter_map(|e| e.ok()?.file_name().into_string().ok()).collect())
            .unwrap_or_default();
        names.retain(|n| n != "latest");
        names.sort();
        names
    }
}

impl Drop for Root {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The folder named on the report's last line, `results: DIR`.
#[track_caller]
fn announced(stdout: &str) -> PathBuf {
    let line = stdout.lines().last().unwrap_or_default();
    PathBuf::from(line.strip_prefix("results: ").unwrap_or_else(|| panic!("no results line last: {stdout}")))
}

#[track_caller]
fn json(path: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())))
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn run_keeps_the_scenario_trace_verdicts_report_and_summary_and_latest_points_at_them() {
    let root = Root::new("run");
    let out =
        hasim(&["run", "scenarios/crash-after-claim.toml", "--store", "memory", "--results", root.arg()]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}{}", text(&out.stderr));
    let folder = announced(&stdout);
    let name = folder.file_name().unwrap().to_str().unwrap().to_owned();
    assert_eq!(folder.parent(), Some(root.0.as_path()), "{stdout}");
    // 20261201T132508Z-crash-after-claim: the UTC second the command started, then
    // what it ran.
    let (time, label) = name.split_once('-').unwrap();
    assert!(time.len() == 16 && time.ends_with('Z') && time.as_bytes()[8] == b'T', "{name}");
    assert_eq!(label, "crash-after-claim", "{name}");
    assert_eq!(root.folders(), std::slice::from_ref(&name));

    let source = std::fs::read_to_string("scenarios/crash-after-claim.toml").unwrap();
    assert_eq!(std::fs::read_to_string(folder.join("scenarios/crash-after-claim.toml")).unwrap(), source);
    let runs = common::trace_runs(&std::fs::read(folder.join("trace.json")).unwrap());
    assert_eq!((&runs[0]["name"], &runs[0]["store"]), (&"crash-after-claim".into(), &"memory".into()));
    assert!(!runs[0]["result"]["history"].as_array().unwrap().is_empty(), "the whole history is kept");
    let verdicts = json(&folder.join("verdicts.json"));
    assert_eq!((&verdicts["format"], &verdicts["version"]), (&"hasim-verdicts".into(), &1.into()));
    assert_eq!(verdicts["runs"][0]["ok"], true);
    assert_eq!(verdicts["runs"][0]["report"], runs[0]["result"]["report"], "the trace's verdicts");
    assert!(verdicts["runs"][0].get("history").is_none(), "verdicts without the history");
    let page = std::fs::read_to_string(folder.join("report.html")).unwrap();
    assert!(page.starts_with("<!DOCTYPE html>") && page.contains("crash-after-claim"), "the report");
    // The summary is the report as printed, up to the line that names the folder.
    let summary = std::fs::read_to_string(folder.join("summary.txt")).unwrap();
    assert_eq!(format!("{summary}results: {}\n", folder.display()), stdout);

    assert_eq!(std::fs::read_link(root.0.join("latest")).unwrap(), Path::new(&name));
    let again = hasim(&["run", "scenarios/happy-path.toml", "--store", "memory", "--results", root.arg()]);
    let second = announced(&text(&again.stdout));
    assert_eq!(root.folders().len(), 2, "a folder per command");
    assert_eq!(std::fs::read_link(root.0.join("latest")).unwrap(), second.file_name().unwrap());
    assert!(root.0.join("latest/scenarios/happy-path.toml").exists());
}

#[test]
fn compare_keeps_every_strategys_runs_in_one_folder() {
    let root = Root::new("compare");
    let files = ["scenarios/happy-path.toml", "scenarios/crash-after-claim.toml"];
    let out =
        hasim(&["compare", files[0], files[1], "--store", "memory", "--quiet", "--results", root.arg()]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}{}", text(&out.stderr));
    let folder = announced(&stdout);
    assert!(folder.to_str().unwrap().ends_with("Z-compare-2-scenarios"), "{}", folder.display());
    let runs = common::trace_runs(&std::fs::read(folder.join("trace.json")).unwrap());
    assert_eq!(runs.as_array().unwrap().len(), 8, "two scenarios under four strategies");
    let trace = json(&folder.join("trace.json"));
    assert_eq!(trace["command"], "compare");
    for file in ["happy-path.toml", "crash-after-claim.toml"] {
        assert!(folder.join("scenarios").join(file).exists(), "{file} kept");
    }
}

#[test]
fn explore_keeps_its_counterexamples_and_search_beside_the_out_folder() {
    let root = Root::new("explore");
    let out_dir = root.0.join("out");
    let out = common::explore_seed_claim(&out_dir, &root.0);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "a counterexample: {stdout}{}", text(&out.stderr));
    let folder = announced(&stdout);
    assert!(folder.to_str().unwrap().ends_with("Z-explore-seed-claim"), "{}", folder.display());
    let search = json(&folder.join("explore.json"));
    let found = search["counterexamples"].as_array().expect("counterexamples");
    assert!(!found.is_empty(), "{search:#}");
    for c in found {
        let written = PathBuf::from(c["path"].as_str().unwrap());
        let kept = folder.join("counterexamples").join(written.file_name().unwrap());
        assert_eq!(std::fs::read_to_string(kept).unwrap(), std::fs::read_to_string(&written).unwrap());
    }
    let replays = common::trace_runs(&std::fs::read(folder.join("trace.json")).unwrap());
    assert_eq!(replays.as_array().unwrap().len(), found.len(), "each counterexample's replay");
    let summary = std::fs::read_to_string(folder.join("summary.txt")).unwrap();
    assert!(summary.contains("counterexample: case"), "{summary}");
}

#[test]
fn no_results_keeps_nothing_and_an_unwritable_root_is_an_error_naming_it() {
    let root = Root::new("none");
    let out = hasim(&[
        "run",
        "scenarios/happy-path.toml",
        "--store",
        "memory",
        "--no-results",
        "--results",
        root.arg(),
    ]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(!stdout.contains("results:"), "{stdout}");
    assert!(!root.0.exists(), "--no-results made {}", root.0.display());

    std::fs::write(&root.0, "a file where the root would be").unwrap();
    let out = hasim(&["run", "scenarios/happy-path.toml", "--store", "memory", "--results", root.arg()]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains(&format!("cannot write the results at {}", root.0.display())), "{stderr}");
    std::fs::remove_file(&root.0).unwrap();
}
